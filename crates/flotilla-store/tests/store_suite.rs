//! The ECS store's suite, run on every backend (SQLite always; PostgreSQL when
//! `FLOTILLA_TEST_POSTGRES_URL` is set, and always under `CI=true`).

use flotilla_db::testing::backends;
use flotilla_domain::cluster::{ClusterSpec, ClusterStatus};
use flotilla_domain::container_instance::{ContainerInstance, InstanceStatus, NodeCapacity, Resources, VersionInfo};
use flotilla_domain::service::{Revision, SchedulingStrategy, Service, ServiceSpec, ServiceStatus};
use flotilla_domain::tag::Tag;
use flotilla_domain::task::{Task, TaskStatus};
use flotilla_domain::task_definition::{TaskDefinitionStatus, normalize_and_validate};
use flotilla_domain::{AccountContext, EcsArns, Timestamp};
use flotilla_store::{
    FamilyStatusFilter, InstanceLoad, Page, PlacementScratch, Placer, Pool, SqlStore, Store, StoreError, TaskFilter,
};
use std::sync::Arc;

fn page<K>(limit: u32) -> Page<K> {
    Page { after: None, limit }
}

fn tag(k: &str, v: &str) -> Tag {
    Tag { key: k.into(), value: v.into() }
}

fn instance(id: &str, cluster: &str, cpu: i64, memory: i64) -> ContainerInstance {
    ContainerInstance {
        id: id.into(),
        cluster: cluster.into(),
        ec2_instance_id: format!("i-{id}"),
        status: InstanceStatus::Active,
        registered: Resources { cpu, memory, ..Resources::default() },
        attributes: Vec::new(),
        version_info: VersionInfo::default(),
        registered_at: Timestamp(1),
        last_heartbeat: Timestamp(1),
        agent_lost_at: None,
        capacity: Default::default(),
        version: 1,
    }
}

fn task(id: &str, cluster: &str, memory: i64, token: Option<&str>) -> Task {
    Task {
        reservation: Resources { cpu: 0, memory, ..Resources::default() },
        client_token: token.map(str::to_string),
        ..Task::provisioning(id.into(), cluster.into(), "web".into(), 1, Timestamp(2))
    }
}

/// Places each task on the first instance with the memory left, counting earlier tasks of the call.
fn first_fit() -> Placer {
    std::sync::Arc::new(first_fit_placement)
}

fn first_fit_placement(loads: &[InstanceLoad], tasks: &[Task], _: &mut PlacementScratch) -> Vec<Result<usize, String>> {
    let mut left: Vec<i64> = loads.iter().map(|l| l.remaining.memory).collect();
    tasks
        .iter()
        .map(|t| {
            let i = left.iter().position(|m| *m >= t.reservation.memory).ok_or("RESOURCE:MEMORY".to_string())?;
            left[i] -= t.reservation.memory;
            Ok(i)
        })
        .collect()
}

async fn open(location: &flotilla_db::StoreLocation) -> SqlStore {
    SqlStore::open(location, AccountContext::default()).await.expect("opening the ECS store")
}

#[tokio::test]
async fn clusters_are_created_once_updated_optimistically_and_survive_reopening() {
    for b in backends() {
        let store = open(&b.location).await;
        let made =
            store.create_cluster("prod", &ClusterSpec::default(), &[tag("team", "a")], Timestamp(5)).await.unwrap();
        assert!(made.created, "{}", b.label);
        let again = store.create_cluster("prod", &ClusterSpec::default(), &[], Timestamp(6)).await.unwrap();
        assert!(!again.created && again.cluster.created_at == Timestamp(5), "{}", b.label);
        let arn = AccountContext::default().cluster_arn("prod");
        assert_eq!(store.list_tags(&arn).await.unwrap(), vec![tag("team", "a")]);

        let mut inactive = made.cluster.clone();
        inactive.status = ClusterStatus::Inactive;
        let stored = store.update_cluster(&inactive).await.unwrap();
        assert_eq!(stored.version, made.cluster.version + 1);
        let stale = store.update_cluster(&inactive).await.unwrap_err();
        assert!(matches!(stale, StoreError::Conflict { .. }), "{}: {stale}", b.label);
        assert!(store.list_cluster_names(page(10)).await.unwrap().is_empty());
        store.close().await;

        let store = open(&b.location).await;
        assert_eq!(store.get_cluster("prod").await.unwrap().unwrap().status, ClusterStatus::Inactive);
        let back = store.create_cluster("prod", &ClusterSpec::default(), &[], Timestamp(7)).await.unwrap();
        assert!(back.created, "an INACTIVE cluster is reactivated");
        assert!(store.list_tags(&arn).await.unwrap().is_empty(), "{}: old tags go with the old cluster", b.label);
        store.close().await;
    }
}

#[tokio::test]
async fn concurrent_registrations_get_every_revision_exactly_once() {
    for b in backends() {
        let store = Arc::new(open(&b.location).await);
        let spec = serde_json::from_value(serde_json::json!({
            "family": "web",
            "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 64}]
        }))
        .unwrap();
        let definition = Arc::new(normalize_and_validate(spec).unwrap());
        let mut workers = Vec::new();
        for _ in 0..6 {
            let (store, definition) = (store.clone(), definition.clone());
            workers.push(tokio::spawn(async move {
                for _ in 0..5 {
                    store.register_task_definition(&definition, &[], "me", Timestamp(1)).await.unwrap();
                }
            }));
        }
        for w in workers {
            w.await.unwrap();
        }
        let all =
            store.list_task_definitions(Some("web"), TaskDefinitionStatus::Active, false, page(100)).await.unwrap();
        let revisions: Vec<i64> = all.iter().map(|(_, r)| *r).collect();
        assert_eq!(revisions, (1..=30).collect::<Vec<_>>(), "{}", b.label);
        let later = Page { after: Some(("web".to_string(), 28)), limit: 10 };
        let rest = store.list_task_definitions(None, TaskDefinitionStatus::Active, false, later).await.unwrap();
        assert_eq!(rest, vec![("web".to_string(), 29), ("web".to_string(), 30)]);

        for revision in 1..=30 {
            store
                .transition_task_definition(
                    "web",
                    revision,
                    TaskDefinitionStatus::Active,
                    TaskDefinitionStatus::Inactive,
                    Timestamp(9),
                )
                .await
                .unwrap();
        }
        let families = |status| store.list_task_definition_families(Some("we"), status, page(10));
        assert!(families(FamilyStatusFilter::Active).await.unwrap().is_empty(), "{}", b.label);
        assert_eq!(families(FamilyStatusFilter::Inactive).await.unwrap(), vec!["web".to_string()]);
        assert_eq!(families(FamilyStatusFilter::All).await.unwrap(), vec!["web".to_string()]);
        let none = store.list_task_definition_families(Some("w_"), FamilyStatusFilter::All, page(10)).await.unwrap();
        assert!(none.is_empty(), "{}: `_` in a prefix is literal", b.label);
        let upper = store.list_task_definition_families(Some("WE"), FamilyStatusFilter::All, page(10)).await.unwrap();
        assert!(upper.is_empty(), "{}: prefixes are case-sensitive", b.label);
        let td = store.get_task_definition("web", 3).await.unwrap().unwrap();
        assert_eq!((td.status, td.deregistered_at), (TaskDefinitionStatus::Inactive, Some(Timestamp(9))));
    }
}

#[tokio::test]
async fn placed_tasks_carry_their_tags_from_the_same_transaction() {
    for b in backends() {
        let store = open(&b.location).await;
        store.put_container_instance(&instance("ci-1", "default", 1024, 1024)).await.unwrap();
        let tags = [tag("env", "prod"), tag("owner", "ops")];
        let placed = store
            .place_tasks(
                &Pool::Cluster("default".into()),
                vec![task("t1", "default", 256, None), task("t2", "default", 256, None)],
                &tags,
                first_fit(),
            )
            .await
            .unwrap();
        assert!(placed.iter().all(Result::is_ok), "{}", b.label);
        let account = AccountContext::default();
        for id in ["t1", "t2"] {
            assert_eq!(store.list_tags(&account.task_arn("default", id)).await.unwrap(), tags.to_vec(), "{}", b.label);
            assert_eq!(store.get_task(id).await.unwrap().unwrap().container_instance_id.as_deref(), Some("ci-1"));
        }
        let load = store.instance_load("ci-1").await.unwrap().unwrap();
        assert_eq!(load.remaining.memory, 512, "{}", b.label);
        assert_eq!(load.groups.get("family:web"), Some(&2));
        store.close().await;
    }
}

#[tokio::test]
async fn fargate_places_on_the_nodes_serving_it_and_fargate_only_nodes_are_hidden() {
    for b in backends() {
        let store = open(&b.location).await;
        let node =
            |id: &str, cluster: &str, capacity| ContainerInstance { capacity, ..instance(id, cluster, 1024, 1000) };
        store.put_container_instance(&node("ec2", "a", NodeCapacity::Ec2)).await.unwrap();
        store.put_container_instance(&node("both", "b", NodeCapacity::Ec2AndFargate)).await.unwrap();
        store.put_container_instance(&node("managed", "b", NodeCapacity::Fargate)).await.unwrap();
        let fargate = Pool::Fargate { for_cluster: "x".into() };
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let record = move |loads: &[InstanceLoad], tasks: &[Task], scratch: &mut PlacementScratch| {
            // A pool's first batch starts with no scratch; this placer leaves one behind.
            assert!(scratch.is_none());
            *scratch = Some(Box::new(loads.len()));
            log.lock().unwrap().push(loads.iter().map(|l| l.instance.id.clone()).collect::<Vec<_>>());
            tasks.iter().map(|_| Ok(0)).collect()
        };
        let placed = store
            .place_tasks(&fargate, vec![task("f1", "x", 600, None)], &[], std::sync::Arc::new(record))
            .await
            .unwrap();
        assert_eq!(placed[0].as_ref().unwrap().container_instance_id.as_deref(), Some("both"), "{}", b.label);
        assert_eq!(seen.lock().unwrap()[0], ["both", "managed"], "{}: Fargate sees the nodes serving it", b.label);
        // EC2 placement in cluster b sees its EC2 node only, with the Fargate task of cluster x on it.
        let pool_b = Pool::Cluster("b".into());
        let ec2 = store.place_tasks(&pool_b, vec![task("e1", "b", 600, None)], &[], first_fit());
        assert!(ec2.await.unwrap()[0].is_err(), "{}: 1000 MiB less x's 600 leave no room for 600", b.label);
        let listed = store.list_container_instances("b", None, false, page(10)).await.unwrap();
        assert_eq!(listed.iter().map(|l| l.instance.id.as_str()).collect::<Vec<_>>(), ["both"], "{}", b.label);
        assert_eq!(listed[0].remaining.memory, 400, "{}", b.label);
        let all = store.list_container_instances("b", None, true, page(10)).await.unwrap();
        assert_eq!(all.len(), 2, "{}", b.label);
        assert_eq!(store.cluster_counts("b").await.unwrap().registered_container_instances, 1, "{}", b.label);
        let nodes = store.fargate_nodes().await.unwrap();
        assert_eq!(nodes.iter().map(|l| l.instance.id.as_str()).collect::<Vec<_>>(), ["both", "managed"]);
        assert_eq!(nodes[0].remaining.memory, 400, "{}", b.label);
        assert_eq!(store.cluster_counts("x").await.unwrap().pending_tasks, 1, "{}: the task is x's", b.label);
        store.close().await;
    }
}

#[tokio::test]
async fn capacity_providers_and_tasks_waiting_for_capacity() {
    use flotilla_domain::capacity_provider::{AutoScalingGroupProvider, CapacityProvider, ManagedScaling};
    for b in backends() {
        let store = open(&b.location).await;
        let provider = CapacityProvider {
            name: "workers".into(),
            status: "ACTIVE".into(),
            auto_scaling_group_provider: AutoScalingGroupProvider {
                auto_scaling_group_arn: "arn:group".into(),
                managed_scaling: ManagedScaling::default(),
                managed_termination_protection: "DISABLED".into(),
                managed_draining: "ENABLED".into(),
            },
            update_status: "CREATE_COMPLETE".into(),
            version: 0,
        };
        let created = store.create_capacity_provider(&provider, &[tag("k", "v")]).await.unwrap().unwrap();
        assert!(store.create_capacity_provider(&provider, &[]).await.unwrap().is_none(), "{}: taken", b.label);
        let deleted = CapacityProvider { status: "INACTIVE".into(), ..created.clone() };
        store.update_capacity_provider(&deleted).await.unwrap();
        assert!(matches!(store.update_capacity_provider(&deleted).await, Err(StoreError::Conflict { .. })));
        assert!(store.create_capacity_provider(&provider, &[]).await.unwrap().is_some(), "{}: reusable", b.label);
        assert_eq!(store.list_capacity_providers().await.unwrap().len(), 1);

        let mut waiting = task("w1", "default", 600, None);
        waiting.capacity_provider_name = Some("workers".into());
        store.store_waiting_tasks(std::slice::from_ref(&waiting), &[tag("env", "x")]).await.unwrap();
        let listed = store.waiting_tasks().await.unwrap();
        assert_eq!(listed.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["w1"], "{}", b.label);
        store.put_container_instance(&instance("ci-1", "default", 1024, 1000)).await.unwrap();
        let pool = Pool::Cluster("default".into());
        let stale = Task { version: 99, ..listed[0].clone() };
        let placed = store.place_waiting_tasks(&pool, vec![stale, listed[0].clone()], first_fit()).await.unwrap();
        assert!(placed[0].is_err(), "{}: a stale read places nothing", b.label);
        assert_eq!(placed[1].as_ref().unwrap().container_instance_id.as_deref(), Some("ci-1"));
        assert!(store.waiting_tasks().await.unwrap().is_empty(), "{}", b.label);
        assert_eq!(store.instance_load("ci-1").await.unwrap().unwrap().remaining.memory, 400);
        store.close().await;
    }
}

#[tokio::test]
async fn a_failed_placement_transaction_stores_no_task_and_no_tag() {
    for b in backends() {
        let store = open(&b.location).await;
        store.put_container_instance(&instance("ci-1", "default", 1024, 1024)).await.unwrap();
        store
            .place_tasks(&Pool::Cluster("default".into()), vec![task("dup", "default", 10, None)], &[], first_fit())
            .await
            .unwrap();
        // The second task's id is taken: the insert fails after the first task and its tags were written.
        let failed = store
            .place_tasks(
                &Pool::Cluster("default".into()),
                vec![task("fresh", "default", 10, None), task("dup", "default", 10, None)],
                &[tag("k", "v")],
                first_fit(),
            )
            .await;
        assert!(failed.is_err(), "{}", b.label);
        assert!(store.get_task("fresh").await.unwrap().is_none(), "{}: the whole placement rolled back", b.label);
        let arn = AccountContext::default().task_arn("default", "fresh");
        assert!(store.list_tags(&arn).await.unwrap().is_empty(), "{}: no orphan tags", b.label);
        store.close().await;
    }
}

#[tokio::test]
async fn a_pools_scratch_goes_from_each_committed_batch_to_the_next_and_a_failed_batch_drops_it() {
    for b in backends() {
        let store = open(&b.location).await;
        store.put_container_instance(&instance("ci-1", "default", 1024, 1024)).await.unwrap();
        store.put_container_instance(&instance("ci-2", "other", 1024, 1024)).await.unwrap();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        // Leaves a count of the placements that handed the scratch on.
        let counting: flotilla_store::Placer =
            Arc::new(move |_: &[InstanceLoad], tasks: &[Task], scratch: &mut PlacementScratch| {
                let got = scratch.take().and_then(|s| s.downcast::<u32>().ok()).map(|n| *n);
                log.lock().unwrap().push(got);
                *scratch = Some(Box::new(got.unwrap_or(0) + 1));
                tasks.iter().map(|_| Ok(0)).collect()
            });
        let place = |pool: &str, ids: &[&str]| {
            let tasks = ids.iter().map(|id| task(id, pool, 10, None)).collect();
            let (pool, placer, store) = (Pool::Cluster(pool.into()), counting.clone(), &store);
            async move { store.place_tasks(&pool, tasks, &[], placer).await }
        };
        place("default", &["a"]).await.unwrap();
        place("default", &["b"]).await.unwrap();
        place("other", &["c"]).await.unwrap();
        assert!(place("default", &["d", "a"]).await.is_err(), "{}: a's id is taken", b.label);
        place("default", &["e"]).await.unwrap();
        assert_eq!(*seen.lock().unwrap(), [None, Some(1), None, Some(2), None], "{}", b.label);
        store.close().await;
    }
}

#[tokio::test]
async fn concurrent_placements_never_overcommit_and_client_tokens_are_idempotent() {
    for b in backends() {
        let store = Arc::new(open(&b.location).await);
        for i in 0..2 {
            store.put_container_instance(&instance(&format!("ci-{i}"), "default", 4096, 1000)).await.unwrap();
        }
        let mut racers = Vec::new();
        for r in 0..10 {
            let store = store.clone();
            racers.push(tokio::spawn(async move {
                let tasks = (0..3).map(|i| task(&format!("r{r}-{i}"), "default", 100, None)).collect();
                store.place_tasks(&Pool::Cluster("default".into()), tasks, &[], first_fit()).await.unwrap()
            }));
        }
        let mut placed = 0;
        for r in racers {
            placed += r.await.unwrap().iter().filter(|p| p.is_ok()).count();
        }
        assert_eq!(placed, 20, "{}: 2 instances × 1000 MiB hold exactly 20 tasks of 100 MiB", b.label);
        for i in 0..2 {
            let load = store.instance_load(&format!("ci-{i}")).await.unwrap().unwrap();
            assert_eq!(load.remaining.memory, 0, "{}", b.label);
        }

        store.put_container_instance(&instance("ci-big", "other", 4096, 4096)).await.unwrap();
        let first = store
            .place_tasks(
                &Pool::Cluster("other".into()),
                vec![task("tok-1", "other", 10, Some("abc"))],
                &[],
                first_fit(),
            )
            .await;
        let again = store
            .place_tasks(
                &Pool::Cluster("other".into()),
                vec![task("tok-2", "other", 10, Some("abc"))],
                &[],
                first_fit(),
            )
            .await;
        let id =
            |r: &Result<Vec<Result<Task, String>>, StoreError>| r.as_ref().unwrap()[0].as_ref().unwrap().id.clone();
        assert_eq!((id(&first), id(&again)), ("tok-1".to_string(), "tok-1".to_string()), "{}", b.label);

        // Retries racing each other (they may share one batch) store the launch once.
        let mut retries = Vec::new();
        for r in 0..8 {
            let store = store.clone();
            retries.push(tokio::spawn(async move {
                let tasks = vec![task(&format!("retry-{r}"), "other", 10, Some("same"))];
                store.place_tasks(&Pool::Cluster("other".into()), tasks, &[], first_fit()).await
            }));
        }
        let mut answered = std::collections::BTreeSet::new();
        for r in retries {
            answered.insert(id(&r.await.unwrap()));
        }
        assert_eq!(answered.len(), 1, "{}: every retry is answered with the one stored task", b.label);
        let filter = TaskFilter::default();
        let stored = store.list_task_ids("other", &filter, page(100)).await.unwrap();
        assert_eq!(stored.iter().filter(|t| t.starts_with("retry-")).count(), 1, "{}", b.label);
    }
}

#[tokio::test]
async fn tasks_and_instances_update_optimistically_and_list_by_filter() {
    for b in backends() {
        let store = open(&b.location).await;
        let ci = store.put_container_instance(&instance("ci-1", "default", 1024, 1024)).await.unwrap();
        let re = store.put_container_instance(&ci).await.unwrap();
        assert_eq!(re.version, ci.version + 1, "{}: re-registration bumps the version", b.label);
        let mut draining = re.clone();
        draining.status = InstanceStatus::Draining;
        store.update_container_instance(&draining).await.unwrap();
        assert!(matches!(store.update_container_instance(&draining).await, Err(StoreError::Conflict { .. })));
        store.heartbeat("ci-1", Timestamp(99)).await.unwrap();
        assert_eq!(store.get_container_instance("ci-1").await.unwrap().unwrap().last_heartbeat, Timestamp(99));
        let listed =
            store.list_container_instances("default", Some(InstanceStatus::Draining), false, page(10)).await.unwrap();
        assert_eq!(listed.len(), 1, "{}", b.label);

        let placed = store
            .place_tasks(&Pool::Cluster("default".into()), vec![task("t1", "default", 10, None)], &[], first_fit())
            .await
            .unwrap();
        let mut t = placed.into_iter().next().unwrap().unwrap();
        t.last_status = TaskStatus::Running;
        let running = store.update_task(&t).await.unwrap();
        assert!(matches!(store.update_task(&t).await, Err(StoreError::Conflict { .. })), "{}", b.label);
        let counts = store.cluster_counts("default").await.unwrap();
        assert_eq!((counts.registered_container_instances, counts.running_tasks, counts.pending_tasks), (1, 1, 0));

        let mut stopped = running.clone();
        stopped.desired_status = TaskStatus::Stopped;
        stopped.last_status = TaskStatus::Stopped;
        store.update_task(&stopped).await.unwrap();
        assert!(store.tasks_for_instance("ci-1").await.unwrap().is_empty(), "{}", b.label);
        let filter = TaskFilter { desired_status: Some(TaskStatus::Stopped), ..TaskFilter::default() };
        assert_eq!(store.list_task_ids("default", &filter, page(10)).await.unwrap(), vec!["t1".to_string()]);
        let filter = TaskFilter { desired_status: Some(TaskStatus::Running), ..TaskFilter::default() };
        assert!(store.list_task_ids("default", &filter, page(10)).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn tag_limits_roll_the_whole_call_back() {
    for b in backends() {
        let store = open(&b.location).await;
        let arn = "arn:aws:ecs:us-east-1:000000000000:cluster/x";
        store.tag_resource(arn, &[tag("a", "1"), tag("b", "2")], 3).await.unwrap();
        let over = store.tag_resource(arn, &[tag("c", "3"), tag("d", "4")], 3).await.unwrap_err();
        assert!(matches!(over, StoreError::Limit(_)), "{}", b.label);
        assert_eq!(store.list_tags(arn).await.unwrap(), vec![tag("a", "1"), tag("b", "2")], "{}", b.label);
        store.tag_resource(arn, &[tag("a", "9")], 3).await.unwrap();
        store.untag_resource(arn, &["b".to_string()]).await.unwrap();
        assert_eq!(store.list_tags(arn).await.unwrap(), vec![tag("a", "9")], "{}", b.label);
    }
}

#[tokio::test]
async fn concurrent_taggings_never_pass_the_limit_together() {
    for b in backends() {
        let store = Arc::new(open(&b.location).await);
        let arn = "arn:aws:ecs:us-east-1:000000000000:cluster/limits";
        let mut calls = Vec::new();
        for i in 0..8 {
            let store = store.clone();
            calls.push(tokio::spawn(async move { store.tag_resource(arn, &[tag(&format!("k{i}"), "v")], 5).await }));
        }
        let mut accepted = 0;
        for c in calls {
            match c.await.unwrap() {
                Ok(()) => accepted += 1,
                Err(StoreError::Limit(_)) => {}
                Err(e) => panic!("{}: {e}", b.label),
            }
        }
        assert_eq!(accepted, 5, "{}", b.label);
        assert_eq!(store.list_tags(arn).await.unwrap().len(), 5, "{}", b.label);
    }
}

fn service(name: &str) -> Service {
    let spec = ServiceSpec::new(SchedulingStrategy::Replica, 2);
    let revision = Revision { family: "web".into(), revision: 1, images: Vec::new() };
    Service::new("default".into(), name.into(), spec, revision, "ecs-svc/1".into(), Timestamp(3))
}

#[tokio::test]
async fn services_are_unique_by_name_until_inactive_and_update_optimistically() {
    for b in backends() {
        let store = open(&b.location).await;
        let made = store.create_service(&service("web"), &[tag("team", "a")]).await.unwrap().unwrap();
        assert!(store.create_service(&service("web"), &[]).await.unwrap().is_none(), "{}: the name is taken", b.label);
        store.create_service(&service("api"), &[]).await.unwrap().unwrap();
        let arn = AccountContext::default().service_arn("default", "web");
        assert_eq!(store.list_tags(&arn).await.unwrap(), vec![tag("team", "a")]);
        assert_eq!(store.cluster_counts("default").await.unwrap().active_services, 2, "{}", b.label);

        let mut draining = made.clone();
        draining.status = ServiceStatus::Draining;
        let stored = store.update_service(&draining).await.unwrap();
        assert_eq!(stored.version, made.version + 1);
        assert!(matches!(store.update_service(&draining).await, Err(StoreError::Conflict { .. })), "{}", b.label);
        let names = |v: Vec<Service>| v.into_iter().map(|s| s.name).collect::<Vec<_>>();
        assert_eq!(names(store.list_services("default", false, page(10)).await.unwrap()), vec!["api"]);
        assert_eq!(names(store.list_services("default", true, page(10)).await.unwrap()), vec!["api", "web"]);
        let after = Page { after: Some("api".to_string()), limit: 10 };
        assert_eq!(names(store.list_services("default", true, after).await.unwrap()), vec!["web"]);
        assert!(store.create_service(&service("web"), &[]).await.unwrap().is_none(), "{}: DRAINING holds it", b.label);

        let mut inactive = stored.clone();
        inactive.status = ServiceStatus::Inactive;
        store.update_service(&inactive).await.unwrap();
        store.close().await;

        let store = open(&b.location).await;
        let again = store.create_service(&service("web"), &[]).await.unwrap();
        assert_eq!(again.map(|s| (s.status, s.version)), Some((ServiceStatus::Active, 1)), "{}", b.label);
        assert!(store.list_tags(&arn).await.unwrap().is_empty(), "{}: old tags go with the old service", b.label);
        store.close().await;
    }
}

#[tokio::test]
async fn a_service_sees_its_live_tasks_and_recently_stopped_ones() {
    for b in backends() {
        let store = open(&b.location).await;
        store.put_container_instance(&instance("ci-1", "default", 1024, 1024)).await.unwrap();
        let grouped = |id: &str, created: i64| Task {
            group: "service:web".into(),
            started_by: Some("ecs-svc/1".into()),
            created_at: Timestamp(created),
            ..task(id, "default", 1, None)
        };
        let tasks = vec![
            grouped("old-stopped", 1),
            grouped("new-stopped", 50),
            grouped("live", 1),
            task("other", "default", 1, None),
        ];
        let placed = store.place_tasks(&Pool::Cluster("default".into()), tasks, &[], first_fit()).await.unwrap();
        for t in placed.into_iter().map(Result::unwrap).filter(|t| t.id.ends_with("stopped")) {
            store
                .update_task(&Task { last_status: TaskStatus::Stopped, desired_status: TaskStatus::Stopped, ..t })
                .await
                .unwrap();
        }
        let mut seen: Vec<String> = store
            .group_tasks("default", "service:web", Timestamp(10))
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.id)
            .collect();
        seen.sort();
        assert_eq!(seen, vec!["live", "new-stopped"], "{}", b.label);
        let filter = TaskFilter { group: Some("service:web".into()), ..TaskFilter::default() };
        assert_eq!(store.list_task_ids("default", &filter, page(10)).await.unwrap().len(), 3, "{}", b.label);
        store.close().await;
    }
}

#[tokio::test]
async fn loads_sum_live_tasks_reservations_and_ports_also_for_tasks_stored_before_the_load_columns() {
    for b in backends() {
        let store = open(&b.location).await;
        store.put_container_instance(&instance("ci-1", "default", 1024, 1024)).await.unwrap();
        let reserving = Task {
            reservation: Resources { cpu: 100, memory: 200, ports_tcp: vec![80], ports_udp: vec![] },
            ..task("t1", "default", 0, None)
        };
        let bound = Task {
            reservation: Resources { cpu: 50, memory: 100, ..Resources::default() },
            ..task("t2", "default", 0, None)
        };
        let stopping = task("t3", "default", 300, None);
        let placed = store
            .place_tasks(&Pool::Cluster("default".into()), vec![reserving, bound, stopping], &[], first_fit())
            .await
            .unwrap();
        assert!(placed.iter().all(Result::is_ok), "{}", b.label);
        // t2 runs with a dynamic UDP host port; t3 stops and holds nothing.
        let mut running = store.get_task("t2").await.unwrap().unwrap();
        running.last_status = TaskStatus::Running;
        running.containers = vec![
            serde_json::from_value(serde_json::json!({
                "id": "c", "name": "app", "image": "busybox", "lastStatus": "RUNNING", "cpu": 0,
                "networkBindings": [{"containerPort": 53, "hostPort": 32768, "protocol": "udp"}]
            }))
            .unwrap(),
        ];
        store.update_task(&running).await.unwrap();
        let mut stopped = store.get_task("t3").await.unwrap().unwrap();
        stopped.last_status = TaskStatus::Stopped;
        store.update_task(&stopped).await.unwrap();

        let load = store.instance_load("ci-1").await.unwrap().unwrap();
        assert_eq!((load.remaining.cpu, load.remaining.memory), (874, 724), "{}", b.label);
        assert_eq!((load.remaining.ports_tcp.clone(), load.remaining.ports_udp.clone()), (vec![80], vec![32768]));
        assert_eq!((load.running_tasks, load.pending_tasks), (1, 1), "{}", b.label);
        assert_eq!(load.groups.get("family:web"), Some(&2), "{}", b.label);
        let listed = store.list_container_instances("default", None, false, page(10)).await.unwrap();
        assert_eq!(listed, vec![load.clone()], "{}", b.label);
        let mut reserved = store.task_reservations(&["t2".into(), "t1".into(), "gone".into()]).await.unwrap();
        reserved.sort_by(|a, b| a.id.cmp(&b.id));
        let reserved: Vec<(&str, &str, i64, i64)> =
            reserved.iter().map(|r| (r.id.as_str(), r.group.as_str(), r.cpu, r.memory)).collect();
        assert_eq!(reserved, [("t1", "family:web", 100, 200), ("t2", "family:web", 50, 100)], "{}", b.label);

        // Rows from before migration 0006 have no load columns; opening fills them in.
        sqlx::query("UPDATE tasks SET reserved_cpu = NULL, reserved_memory = NULL, host_ports = NULL")
            .execute(store.db().writer())
            .await
            .unwrap();
        store.close().await;
        let store = open(&b.location).await;
        assert_eq!(store.instance_load("ci-1").await.unwrap().unwrap(), load, "{}", b.label);
        store.close().await;
    }
}

#[tokio::test]
async fn a_placement_sees_an_instance_changed_since_the_last_one() {
    for b in backends() {
        let store = open(&b.location).await;
        let pool = Pool::Cluster("default".into());
        let small = store.put_container_instance(&instance("ci-1", "default", 1024, 100)).await.unwrap();
        let first = store.place_tasks(&pool, vec![task("a", "default", 100, None)], &[], first_fit()).await.unwrap();
        assert!(first[0].is_ok(), "{}", b.label);
        let full = store.place_tasks(&pool, vec![task("b", "default", 100, None)], &[], first_fit()).await.unwrap();
        assert!(full[0].is_err(), "{}: 100 MiB are taken", b.label);
        // Re-registered with more memory: the next placement reads the new document.
        store
            .put_container_instance(&ContainerInstance {
                registered: Resources { cpu: 1024, memory: 200, ..Resources::default() },
                ..small.clone()
            })
            .await
            .unwrap();
        let grown = store.place_tasks(&pool, vec![task("c", "default", 100, None)], &[], first_fit()).await.unwrap();
        assert!(grown[0].is_ok(), "{}: the grown instance takes another task", b.label);
        // Deregistered (INACTIVE): no longer offered.
        let current = store.get_container_instance("ci-1").await.unwrap().unwrap();
        store
            .update_container_instance(&ContainerInstance {
                status: InstanceStatus::Inactive,
                registered: Resources { cpu: 1024, memory: 1000, ..Resources::default() },
                ..current
            })
            .await
            .unwrap();
        let gone = store.place_tasks(&pool, vec![task("d", "default", 100, None)], &[], first_fit()).await.unwrap();
        assert!(gone[0].is_err(), "{}: an inactive instance takes nothing", b.label);
        store.close().await;
    }
}

#[tokio::test]
async fn concurrent_task_updates_each_win_or_conflict_on_their_own() {
    for b in backends() {
        let store = Arc::new(open(&b.location).await);
        store.put_container_instance(&instance("ci-1", "default", 4096, 4096)).await.unwrap();
        let tasks: Vec<Task> = (0..20).map(|i| task(&format!("u{i}"), "default", 10, None)).collect();
        let placed = store.place_tasks(&Pool::Cluster("default".into()), tasks, &[], first_fit()).await.unwrap();
        let mut writers = Vec::new();
        for t in placed.into_iter().map(Result::unwrap) {
            // Two writers per task, both from the same read: one wins, one conflicts.
            for status in [TaskStatus::Running, TaskStatus::Stopped] {
                let (store, read) = (store.clone(), t.clone());
                writers
                    .push(tokio::spawn(async move { store.update_task(&Task { last_status: status, ..read }).await }));
            }
        }
        let (mut won, mut conflicted) = (0, 0);
        for w in writers {
            match w.await.unwrap() {
                Ok(stored) => {
                    won += 1;
                    let read = store.get_task(&stored.id).await.unwrap().unwrap();
                    assert_eq!((read.last_status, read.version), (stored.last_status, stored.version), "{}", b.label);
                }
                Err(StoreError::Conflict { .. }) => conflicted += 1,
                Err(e) => panic!("{}: {e}", b.label),
            }
        }
        assert_eq!((won, conflicted), (20, 20), "{}", b.label);
        store.close().await;
    }
}

/// The `task_load` rows the triggers keep, and the same sums made from the tasks.
async fn task_load_and_its_sum(store: &SqlStore) -> (Vec<String>, Vec<String>) {
    let kept = "SELECT container_instance_id, task_group, last_status, host_ports, tasks, cpu, memory FROM task_load";
    let summed = "SELECT container_instance_id, task_group, last_status, COALESCE(host_ports, '') AS host_ports, \
        COUNT(*) AS tasks, CAST(SUM(reserved_cpu) AS BIGINT) AS cpu, CAST(SUM(reserved_memory) AS BIGINT) AS memory \
        FROM tasks WHERE container_instance_id IS NOT NULL AND last_status <> 'STOPPED' \
        GROUP BY container_instance_id, task_group, last_status, COALESCE(host_ports, '')";
    let mut out = Vec::new();
    for sql in [kept, summed] {
        let rows = sqlx::query(sql).fetch_all(store.db().reader()).await.unwrap();
        let mut lines: Vec<String> = rows
            .iter()
            .map(|r| {
                use sqlx::Row;
                format!(
                    "{} {} {} [{}] {} {} {}",
                    r.get::<String, _>(0),
                    r.get::<String, _>(1),
                    r.get::<String, _>(2),
                    r.get::<String, _>(3),
                    r.get::<i64, _>(4),
                    r.get::<i64, _>(5),
                    r.get::<i64, _>(6)
                )
            })
            .collect();
        lines.sort();
        out.push(lines);
    }
    (out.remove(0), out.remove(0))
}

#[tokio::test]
async fn the_kept_task_load_always_equals_the_sum_of_live_tasks_under_concurrent_writes() {
    for b in backends() {
        let store = Arc::new(open(&b.location).await);
        for i in 0..4 {
            store.put_container_instance(&instance(&format!("ci-{i}"), "default", 100_000, 100_000)).await.unwrap();
        }
        // Placements and updates race (on SQLite the triggers keep task_load; on
        // PostgreSQL it is a view of the same sums).
        let mut workers = Vec::new();
        for w in 0..8 {
            let store = store.clone();
            workers.push(tokio::spawn(async move {
                let tasks: Vec<Task> = (0..10)
                    .map(|i| Task {
                        reservation: Resources { cpu: 10 + i, memory: 100 + w, ..Resources::default() },
                        group: format!("group:{}", i % 3),
                        ..task(&format!("w{w}-{i}"), "default", 0, None)
                    })
                    .collect();
                let spread: Placer = Arc::new(|loads: &[InstanceLoad], tasks: &[Task], _: &mut PlacementScratch| {
                    tasks.iter().enumerate().map(|(i, _)| Ok((i * 7) % loads.len())).collect()
                });
                let placed = store.place_tasks(&Pool::Cluster("default".into()), tasks, &[], spread).await.unwrap();
                let mut updates = Vec::new();
                for (i, t) in placed.into_iter().map(Result::unwrap).enumerate() {
                    let store = store.clone();
                    updates.push(tokio::spawn(async move {
                        let mut t = store.update_task(&Task { last_status: TaskStatus::Running, ..t }).await.unwrap();
                        if i % 2 == 0 {
                            t.reservation.ports_tcp = vec![8000 + i as u16];
                            t = store.update_task(&t).await.unwrap();
                        }
                        if i % 3 == 0 {
                            store.update_task(&Task { last_status: TaskStatus::Stopped, ..t }).await.unwrap();
                        }
                    }));
                }
                for u in updates {
                    u.await.unwrap();
                }
            }));
        }
        for w in workers {
            w.await.unwrap();
        }
        let (kept, summed) = task_load_and_its_sum(&store).await;
        assert_eq!(kept, summed, "{}", b.label);
        assert!(kept.iter().any(|l| l.contains("RUNNING [T8002]")), "{}: {kept:?}", b.label);
        let load = store.instance_load("ci-0").await.unwrap().unwrap();
        assert!(load.running_tasks > 0 && load.remaining.memory < 100_000, "{}", b.label);
        store.close().await;
    }
}
