use super::*;
use flotilla_domain::task_definition::{TaskDefinitionSpec, normalize_and_validate};
use std::sync::Arc;

async fn open(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(&dir.path().join("state.db"), AccountContext::default()).await.unwrap()
}

fn definition(family: &str) -> ValidatedTaskDefinition {
    let spec: TaskDefinitionSpec = serde_json::from_value(serde_json::json!({
        "family": family, "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 32}]
    }))
    .unwrap();
    normalize_and_validate(spec).unwrap()
}

fn tag(k: &str, v: &str) -> Tag {
    Tag { key: k.into(), value: v.into() }
}

#[tokio::test]
async fn create_cluster_is_idempotent_and_reactivates() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let first = store.create_cluster("demo", &ClusterSpec::default(), &[tag("a", "1")], Timestamp(1)).await.unwrap();
    assert!(first.created);
    let again = store.create_cluster("demo", &ClusterSpec::default(), &[tag("b", "2")], Timestamp(2)).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.cluster, first.cluster);
    let arn = AccountContext::default().cluster_arn("demo");
    assert_eq!(store.list_tags(&arn).await.unwrap(), vec![tag("a", "1")]);

    let inactive = Cluster { status: ClusterStatus::Inactive, ..again.cluster };
    let stored = store.update_cluster(&inactive).await.unwrap();
    assert_eq!(stored.version, 2);
    assert!(store.list_cluster_names(Page { after: None, limit: 10 }).await.unwrap().is_empty());
    let back = store.create_cluster("demo", &ClusterSpec::default(), &[tag("b", "2")], Timestamp(3)).await.unwrap();
    assert!(back.created);
    assert_eq!(back.cluster.status, ClusterStatus::Active);
    assert_eq!(store.list_tags(&arn).await.unwrap(), vec![tag("b", "2")]);
}

#[tokio::test]
async fn stale_cluster_update_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let c = store.create_cluster("x", &ClusterSpec::default(), &[], Timestamp(1)).await.unwrap().cluster;
    store.update_cluster(&c).await.unwrap();
    assert!(matches!(store.update_cluster(&c).await, Err(StoreError::Conflict { .. })));
}

#[tokio::test]
async fn cluster_pages() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    for n in ["c", "a", "b", "d"] {
        store.create_cluster(n, &ClusterSpec::default(), &[], Timestamp(1)).await.unwrap();
    }
    let p1 = store.list_cluster_names(Page { after: None, limit: 3 }).await.unwrap();
    assert_eq!(p1, ["a", "b", "c"]);
    let p2 = store.list_cluster_names(Page { after: Some("c".into()), limit: 3 }).await.unwrap();
    assert_eq!(p2, ["d"]);
}

#[tokio::test]
async fn concurrent_registrations_get_consecutive_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(&dir).await);
    let mut handles = Vec::new();
    for _ in 0..40 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            store.register_task_definition(&definition("web"), &[], "me", Timestamp(1)).await.unwrap().revision
        }));
    }
    let mut revisions = Vec::new();
    for h in handles {
        revisions.push(h.await.unwrap());
    }
    revisions.sort();
    assert_eq!(revisions, (1..=40).collect::<Vec<_>>());
}

#[tokio::test]
async fn task_definitions_survive_reopen_and_transition() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(&dir).await;
        store.register_task_definition(&definition("web"), &[tag("k", "v")], "me", Timestamp(5)).await.unwrap();
        store.register_task_definition(&definition("web"), &[], "me", Timestamp(6)).await.unwrap();
        store.register_task_definition(&definition("worker"), &[], "me", Timestamp(7)).await.unwrap();
        store.close().await;
    }
    let store = open(&dir).await;
    let latest = store.latest_active_task_definition("web").await.unwrap().unwrap();
    assert_eq!(latest.revision, 2);
    let arn = AccountContext::default().task_definition_arn("web", 1);
    assert_eq!(store.list_tags(&arn).await.unwrap(), vec![tag("k", "v")]);

    let t = store
        .transition_task_definition(
            "web",
            2,
            TaskDefinitionStatus::Active,
            TaskDefinitionStatus::Inactive,
            Timestamp(9),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.status, TaskDefinitionStatus::Inactive);
    assert_eq!(t.deregistered_at, Some(Timestamp(9)));
    assert_eq!(store.latest_active_task_definition("web").await.unwrap().unwrap().revision, 1);
    // Not in the expected state: returned unchanged.
    let same = store
        .transition_task_definition(
            "web",
            1,
            TaskDefinitionStatus::Inactive,
            TaskDefinitionStatus::DeleteInProgress,
            Timestamp(10),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(same.status, TaskDefinitionStatus::Active);
    assert!(
        store
            .transition_task_definition(
                "nope",
                1,
                TaskDefinitionStatus::Active,
                TaskDefinitionStatus::Inactive,
                Timestamp(1)
            )
            .await
            .unwrap()
            .is_none()
    );

    let all =
        |desc| store.list_task_definitions(None, TaskDefinitionStatus::Active, desc, Page { after: None, limit: 10 });
    assert_eq!(all(false).await.unwrap(), vec![("web".into(), 1), ("worker".into(), 1)]);
    assert_eq!(all(true).await.unwrap(), vec![("worker".into(), 1), ("web".into(), 1)]);
    let after = store
        .list_task_definitions(
            None,
            TaskDefinitionStatus::Active,
            false,
            Page { after: Some(("web".into(), 1)), limit: 10 },
        )
        .await
        .unwrap();
    assert_eq!(after, vec![("worker".into(), 1)]);
    let family =
        |f| store.list_task_definitions(Some(f), TaskDefinitionStatus::Active, false, Page { after: None, limit: 10 });
    assert_eq!(family("worker").await.unwrap(), vec![("worker".into(), 1)]);
    assert!(family("wor").await.unwrap().is_empty(), "familyPrefix is a whole family name");

    store
        .transition_task_definition(
            "worker",
            1,
            TaskDefinitionStatus::Active,
            TaskDefinitionStatus::Inactive,
            Timestamp(11),
        )
        .await
        .unwrap();
    let fams = |s| store.list_task_definition_families(None, s, Page { after: None, limit: 10 });
    assert_eq!(fams(FamilyStatusFilter::Active).await.unwrap(), ["web"]);
    assert_eq!(fams(FamilyStatusFilter::Inactive).await.unwrap(), ["worker"]);
    assert_eq!(fams(FamilyStatusFilter::All).await.unwrap(), ["web", "worker"]);
}

#[tokio::test]
async fn like_prefix_is_literal() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    store.register_task_definition(&definition("a_b"), &[], "me", Timestamp(1)).await.unwrap();
    store.register_task_definition(&definition("axb"), &[], "me", Timestamp(1)).await.unwrap();
    let got = store
        .list_task_definition_families(Some("a_"), FamilyStatusFilter::All, Page { after: None, limit: 10 })
        .await
        .unwrap();
    assert_eq!(got, ["a_b"]);
}

#[tokio::test]
async fn tag_limit_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let tags: Vec<Tag> = (0..3).map(|i| tag(&format!("k{i}"), "v")).collect();
    store.tag_resource("arn:x", &tags, 3).await.unwrap();
    assert!(matches!(store.tag_resource("arn:x", &[tag("k9", "v")], 3).await, Err(StoreError::Limit(_))));
    assert_eq!(store.list_tags("arn:x").await.unwrap().len(), 3);
    store.tag_resource("arn:x", &[tag("k0", "new")], 3).await.unwrap();
    store.untag_resource("arn:x", &["k1".into(), "absent".into()]).await.unwrap();
    assert_eq!(store.list_tags("arn:x").await.unwrap(), vec![tag("k0", "new"), tag("k2", "v")]);
}

mod placement {
    use super::*;
    use flotilla_domain::container_instance::{ContainerInstance, InstanceStatus, Resources, VersionInfo};
    use flotilla_domain::task::{Task, TaskOverride, TaskStatus};

    fn instance(id: &str, now: Timestamp) -> ContainerInstance {
        ContainerInstance {
            id: id.into(),
            cluster: "default".into(),
            ec2_instance_id: format!("i-{id}"),
            status: InstanceStatus::Active,
            registered: Resources { cpu: 1024, memory: 1000, ports_tcp: vec![22], ports_udp: vec![] },
            attributes: vec![],
            version_info: VersionInfo::default(),
            registered_at: now,
            last_heartbeat: now,
            version: 0,
        }
    }

    fn task(id: &str, memory: i64, port: Option<u16>, token: Option<&str>) -> Task {
        Task {
            id: id.into(),
            cluster: "default".into(),
            family: "web".into(),
            revision: 1,
            container_instance_id: None,
            last_status: TaskStatus::Provisioning,
            desired_status: TaskStatus::Running,
            started_by: None,
            group: "family:web".into(),
            overrides: TaskOverride::default(),
            reservation: Resources { cpu: 0, memory, ports_tcp: port.into_iter().collect(), ports_udp: vec![] },
            containers: vec![],
            cpu: None,
            memory: None,
            created_at: Timestamp(1),
            pull_started_at: None,
            pull_stopped_at: None,
            started_at: None,
            stopping_at: None,
            execution_stopped_at: None,
            stopped_at: None,
            stop_code: None,
            stopped_reason: None,
            client_token: token.map(String::from),
            version: 1,
        }
    }

    /// First fit on memory and TCP ports among instances with a live agent.
    fn place(loads: &[InstanceLoad], tasks: &[Task]) -> Vec<Result<usize, String>> {
        let now = Timestamp::now();
        let mut remaining: Vec<Resources> = loads.iter().map(|l| l.remaining.clone()).collect();
        tasks
            .iter()
            .map(|t| {
                let fits = |r: &Resources| {
                    r.memory >= t.reservation.memory && !t.reservation.ports_tcp.iter().any(|p| r.ports_tcp.contains(p))
                };
                let i = (0..loads.len())
                    .find(|&i| loads[i].instance.agent_connected(now) && fits(&remaining[i]))
                    .ok_or_else(|| "no fit".to_string())?;
                remaining[i].memory -= t.reservation.memory;
                remaining[i].ports_tcp.extend(&t.reservation.ports_tcp);
                Ok(i)
            })
            .collect()
    }

    #[tokio::test]
    async fn concurrent_placements_never_overcommit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(open(&dir).await);
        let now = Timestamp::now();
        store.put_container_instance(&instance("a", now)).await.unwrap();
        let mut handles = Vec::new();
        for i in 0..30 {
            let store = store.clone();
            handles.push(tokio::spawn(async move {
                let t = task(&format!("t{i:02}"), 100, None, None);
                store.place_tasks("default", vec![t], &place).await.unwrap().remove(0).is_ok()
            }));
        }
        let mut placed = 0;
        for h in handles {
            placed += h.await.unwrap() as i32;
        }
        assert_eq!(placed, 10, "1000 MiB holds exactly ten 100 MiB tasks");
        let load = store.instance_load("a").await.unwrap().unwrap();
        assert_eq!(load.remaining.memory, 0);
        assert_eq!(load.pending_tasks, 10);
        assert_eq!(store.cluster_counts("default").await.unwrap().pending_tasks, 10);
    }

    #[tokio::test]
    async fn ports_tokens_and_stopped_tasks() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir).await;
        let now = Timestamp::now();
        store.put_container_instance(&instance("a", now)).await.unwrap();
        let first = store.place_tasks("default", vec![task("t1", 10, Some(80), Some("tok"))], &place).await.unwrap();
        assert!(first[0].is_ok());
        let again = store.place_tasks("default", vec![task("t9", 10, Some(80), Some("tok"))], &place).await.unwrap();
        assert_eq!(again[0].as_ref().unwrap().id, "t1", "the client token returns the stored task");
        let clash = store.place_tasks("default", vec![task("t2", 10, Some(80), None)], &place).await.unwrap();
        assert!(clash[0].is_err());
        let reserved = store.place_tasks("default", vec![task("t3", 10, Some(22), None)], &place).await.unwrap();
        assert!(reserved[0].is_err(), "port 22 is reserved by the instance");

        let mut t1 = store.get_task("t1").await.unwrap().unwrap();
        t1.last_status = TaskStatus::Stopped;
        let stored = store.update_task(&t1).await.unwrap();
        assert_eq!(stored.version, 2);
        assert!(matches!(store.update_task(&t1).await, Err(StoreError::Conflict { .. })));
        let freed = store.place_tasks("default", vec![task("t2", 10, Some(80), None)], &place).await.unwrap();
        assert!(freed[0].is_ok());
        assert_eq!(store.tasks_for_instance("a").await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn silent_agents_get_no_tasks() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir).await;
        let now = Timestamp::now();
        store.put_container_instance(&instance("a", Timestamp(now.0 - 120_000))).await.unwrap();
        let out = store.place_tasks("default", vec![task("t1", 10, None, None)], &place).await.unwrap();
        assert!(out[0].is_err());
        store.heartbeat("a", now).await.unwrap();
        let out = store.place_tasks("default", vec![task("t1", 10, None, None)], &place).await.unwrap();
        assert!(out[0].is_ok());
    }
}
