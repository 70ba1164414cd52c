//! The Auto Scaling store's suite, run on every backend (SQLite always; PostgreSQL
//! when `FLOTILLA_TEST_POSTGRES_URL` is set, and always under `CI=true`).

use flotilla_asg::error::AsgError;
use flotilla_asg::model::{Activity, ActivityStatus, Group, Health, Instance, LaunchConfiguration, Lifecycle};
use flotilla_asg::store::{AsgStore, Changes, Created, Deleted};
use flotilla_core::time::Timestamp;
use flotilla_db::testing::backends;

fn lc(name: &str) -> LaunchConfiguration {
    LaunchConfiguration {
        name: name.into(),
        arn: format!(
            "arn:aws:autoscaling:us-east-1:000000000000:launchConfiguration:u-{name}:launchConfigurationName/{name}"
        ),
        image_id: "flotilla:simulated".into(),
        instance_type: "t3.micro".into(),
        user_data: None,
        key_name: None,
        security_groups: Vec::new(),
        iam_instance_profile: None,
        instance_monitoring: true,
        ebs_optimized: false,
        associate_public_ip_address: None,
        placement_tenancy: None,
        created_at: Timestamp(1),
        version: 1,
    }
}

fn group(name: &str, lc: &str) -> Group {
    Group {
        name: name.into(),
        arn: format!(
            "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:u-{name}:autoScalingGroupName/{name}"
        ),
        launch_configuration_name: lc.into(),
        min_size: 0,
        max_size: 4,
        desired_capacity: 0,
        default_cooldown: 300,
        availability_zones: vec!["us-east-1a".into()],
        vpc_zone_identifier: None,
        health_check_type: "EC2".into(),
        health_check_grace_period: 0,
        termination_policies: vec!["Default".into()],
        new_instances_protected_from_scale_in: false,
        tags: Vec::new(),
        created_at: Timestamp(1),
        deleting: false,
        capacity_change: None,
        launch_failures: 0,
        retry_launch_at: None,
        version: 1,
    }
}

fn instance(id: &str, group: &str) -> Instance {
    Instance {
        id: id.into(),
        group_name: group.into(),
        availability_zone: "us-east-1a".into(),
        subnet_id: None,
        lifecycle_state: Lifecycle::Pending,
        health_status: Health::Healthy,
        protected_from_scale_in: false,
        launch_configuration_name: "lc".into(),
        image_id: "flotilla:simulated".into(),
        instance_type: "t3.micro".into(),
        user_data: None,
        launched_at: Timestamp(5),
        process: None,
        activity_id: None,
        termination_cause: None,
        version: 0,
    }
}

fn activity(id: &str, group: &str, start: i64, done: bool) -> Activity {
    Activity {
        id: id.into(),
        group_name: group.into(),
        group_arn: format!("arn:{group}"),
        description: format!("Launching a new EC2 instance: i-{id}"),
        cause: "c".into(),
        start_time: Timestamp(start),
        end_time: done.then_some(Timestamp(start + 1)),
        status_code: if done { ActivityStatus::Successful } else { ActivityStatus::InProgress },
        status_message: None,
        progress: if done { 100 } else { 0 },
        details: "{}".into(),
    }
}

#[tokio::test]
async fn launch_configurations_are_unique_limited_and_kept_while_used() {
    for b in backends() {
        let store = AsgStore::open(&b.location).await.unwrap();
        assert_eq!(store.create_launch_configuration(&lc("a"), 3).await.unwrap(), Created::Created, "{}", b.label);
        assert_eq!(store.create_launch_configuration(&lc("a"), 3).await.unwrap(), Created::Exists, "{}", b.label);
        store.create_launch_configuration(&lc("c"), 3).await.unwrap();
        store.create_launch_configuration(&lc("b"), 3).await.unwrap();
        assert_eq!(store.create_launch_configuration(&lc("d"), 3).await.unwrap(), Created::LimitReached, "{}", b.label);
        let names = |l: Vec<LaunchConfiguration>| l.into_iter().map(|c| c.name).collect::<Vec<_>>();
        assert_eq!(names(store.launch_configurations(None, 10).await.unwrap()), ["a", "b", "c"], "{}", b.label);
        assert_eq!(names(store.launch_configurations(Some("a"), 1).await.unwrap()), ["b"], "{}", b.label);

        assert_eq!(
            store.create_group(&group("g", "nope"), 10).await.unwrap(),
            Created::NoLaunchConfiguration,
            "{}",
            b.label
        );
        assert_eq!(store.create_group(&group("g", "a"), 10).await.unwrap(), Created::Created, "{}", b.label);
        assert_eq!(store.create_group(&group("g", "b"), 10).await.unwrap(), Created::Exists, "{}", b.label);
        assert_eq!(store.create_group(&group("h", "b"), 1).await.unwrap(), Created::LimitReached, "{}", b.label);
        assert_eq!(store.delete_launch_configuration("a").await.unwrap(), Deleted::InUse("g".into()), "{}", b.label);
        assert_eq!(store.delete_launch_configuration("b").await.unwrap(), Deleted::Deleted, "{}", b.label);
        assert_eq!(store.delete_launch_configuration("b").await.unwrap(), Deleted::NotFound, "{}", b.label);

        // A group cannot be moved to a configuration that does not exist.
        let mut g = store.group("g").await.unwrap().unwrap();
        g.launch_configuration_name = "b".into();
        let moved = store.commit(&mut Changes { group: Some(g.clone()), ..Changes::default() }).await;
        assert!(matches!(moved, Err(AsgError::Validation(_))), "{}: {moved:?}", b.label);
        g.launch_configuration_name = "c".into();
        store.commit(&mut Changes { group: Some(g), ..Changes::default() }).await.unwrap();
        assert_eq!(
            store.delete_launch_configuration("a").await.unwrap(),
            Deleted::Deleted,
            "{}: no longer used",
            b.label
        );
        assert_eq!(store.delete_launch_configuration("c").await.unwrap(), Deleted::InUse("g".into()), "{}", b.label);
        store.close().await;

        let store = AsgStore::open(&b.location).await.unwrap();
        assert_eq!(store.group("g").await.unwrap().unwrap().launch_configuration_name, "c", "{}: kept", b.label);
        store.close().await;
    }
}

#[tokio::test]
async fn changes_are_stored_all_or_nothing_with_optimistic_versions() {
    for b in backends() {
        let store = AsgStore::open(&b.location).await.unwrap();
        store.create_launch_configuration(&lc("lc"), 10).await.unwrap();
        store.create_group(&group("g", "lc"), 10).await.unwrap();
        let g = store.group("g").await.unwrap().unwrap();
        assert_eq!(g.version, 1, "{}", b.label);

        let mut changes = Changes {
            group: Some(Group { desired_capacity: 2, ..g.clone() }),
            instances: vec![instance("i-1", "g"), instance("i-2", "g")],
            activities: vec![activity("a1", "g", 10, false)],
            ..Changes::default()
        };
        store.commit(&mut changes).await.unwrap();
        assert_eq!(changes.group.as_ref().unwrap().version, 2, "{}", b.label);
        assert!(changes.instances.iter().all(|i| i.version == 1), "{}", b.label);
        let stored = store.instances_of("g").await.unwrap();
        assert_eq!(stored.iter().map(|i| (i.id.as_str(), i.version)).collect::<Vec<_>>(), [("i-1", 1), ("i-2", 1)]);

        // A stale group with a fresh instance change: nothing is stored.
        let mut fresh = stored[0].clone();
        fresh.lifecycle_state = Lifecycle::InService;
        let stale = store
            .commit(&mut Changes {
                group: Some(Group { desired_capacity: 3, ..g.clone() }),
                instances: vec![fresh.clone()],
                ..Changes::default()
            })
            .await;
        assert!(matches!(stale, Err(AsgError::Conflict(_))), "{}: {stale:?}", b.label);
        assert_eq!(
            store.instance("i-1").await.unwrap().unwrap().lifecycle_state,
            Lifecycle::Pending,
            "{}: rolled back",
            b.label
        );
        assert_eq!(store.group("g").await.unwrap().unwrap().desired_capacity, 2, "{}", b.label);
        // An instance inserted twice is a conflict too.
        let twice = store.commit(&mut Changes { instances: vec![instance("i-1", "g")], ..Changes::default() }).await;
        assert!(matches!(twice, Err(AsgError::Conflict(_))), "{}", b.label);

        store.commit(&mut Changes { instances: vec![fresh.clone()], ..Changes::default() }).await.unwrap();
        assert!(matches!(
            store.commit(&mut Changes { instances: vec![fresh.clone()], ..Changes::default() }).await,
            Err(AsgError::Conflict(_))
        ));
        let current = store.instance("i-1").await.unwrap().unwrap();
        assert_eq!((current.lifecycle_state, current.version), (Lifecycle::InService, 2), "{}", b.label);
        assert!(
            matches!(
                store.commit(&mut Changes { removed: vec![stored[0].clone()], ..Changes::default() }).await,
                Err(AsgError::Conflict(_))
            ),
            "{}: removing a stale instance",
            b.label
        );
        store.commit(&mut Changes { removed: vec![current], ..Changes::default() }).await.unwrap();
        assert_eq!(store.instances(None, 10).await.unwrap().iter().map(|i| i.id.clone()).collect::<Vec<_>>(), ["i-2"]);
        assert_eq!(store.instances(Some("i-2"), 10).await.unwrap().len(), 0, "{}", b.label);

        // Deleting the group takes its instances; a stale delete is refused.
        let g = store.group("g").await.unwrap().unwrap();
        let stale_delete = store
            .commit(&mut Changes {
                group: Some(Group { version: 1, ..g.clone() }),
                delete_group: true,
                ..Changes::default()
            })
            .await;
        assert!(matches!(stale_delete, Err(AsgError::Conflict(_))), "{}", b.label);
        store.commit(&mut Changes { group: Some(g), delete_group: true, ..Changes::default() }).await.unwrap();
        assert!(store.group("g").await.unwrap().is_none(), "{}", b.label);
        assert!(store.instances_of("g").await.unwrap().is_empty(), "{}", b.label);
        assert!(store.activity("a1").await.unwrap().is_some(), "{}: activities outlive their group", b.label);
        store.close().await;
    }
}

#[tokio::test]
async fn activities_are_listed_newest_first_in_pages_and_pruned_when_done() {
    for b in backends() {
        let store = AsgStore::open(&b.location).await.unwrap();
        let activities = vec![
            activity("a", "g", 100, true),
            activity("b", "g", 200, true),
            activity("c", "h", 200, true),
            activity("d", "g", 300, false),
        ];
        store.commit(&mut Changes { activities, ..Changes::default() }).await.unwrap();
        let ids = |l: Vec<Activity>| l.into_iter().map(|a| a.id).collect::<Vec<_>>();
        assert_eq!(ids(store.activities(None, None, 10).await.unwrap()), ["d", "c", "b", "a"], "{}", b.label);
        assert_eq!(ids(store.activities(Some("g"), None, 10).await.unwrap()), ["d", "b", "a"], "{}", b.label);
        assert_eq!(ids(store.activities(None, Some((200, "c")), 10).await.unwrap()), ["b", "a"], "{}", b.label);
        assert_eq!(ids(store.activities(Some("g"), Some((300, "d")), 1).await.unwrap()), ["b"], "{}", b.label);

        // Replaced by id.
        let mut done = activity("d", "g", 300, true);
        done.status_message = Some("ok".into());
        store.commit(&mut Changes { activities: vec![done], ..Changes::default() }).await.unwrap();
        assert_eq!(store.activity("d").await.unwrap().unwrap().status_code, ActivityStatus::Successful, "{}", b.label);

        store
            .commit(&mut Changes { activities: vec![activity("e", "g", 50, false)], ..Changes::default() })
            .await
            .unwrap();
        assert_eq!(store.prune_activities(250).await.unwrap(), 3, "{}: unfinished ones stay", b.label);
        assert_eq!(ids(store.activities(None, None, 10).await.unwrap()), ["d", "e"], "{}", b.label);
        store.close().await;
    }
}
