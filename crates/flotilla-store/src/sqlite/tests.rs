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
    let prefixed = store
        .list_task_definitions(Some("wor"), TaskDefinitionStatus::Active, false, Page { after: None, limit: 10 })
        .await
        .unwrap();
    assert_eq!(prefixed, vec![("worker".into(), 1)]);

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
