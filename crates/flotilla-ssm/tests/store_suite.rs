//! The Parameter Store's store suite, run on every backend (SQLite always; PostgreSQL
//! when `FLOTILLA_TEST_POSTGRES_URL` is set, and always under `CI=true`): versions,
//! labels, tags and listing, and concurrent puts from two stores sharing one database
//! never losing or repeating a version.

use flotilla_core::Timestamp;
use flotilla_db::testing::backends;
use flotilla_ssm::store::{
    LabelOutcome, MAX_VERSIONS, ParameterType, PutOutcome, SsmStore, StoredValue, Tag, TagOutcome, VersionRecord,
};

fn record(name: &str, version: i64, value: StoredValue) -> VersionRecord {
    VersionRecord {
        name: name.to_string(),
        version,
        kind: match value {
            StoredValue::Plain(_) => ParameterType::String,
            StoredValue::Sealed(_) => ParameterType::SecureString,
        },
        value,
        key_id: None,
        description: Some("d".into()),
        allowed_pattern: None,
        tier: "Standard".into(),
        data_type: "text".into(),
        modified_at: Timestamp(1_700_000_000_000 + version),
        modified_user: "arn:aws:iam::000000000000:root".into(),
        labels: Vec::new(),
    }
}

fn plain(v: &str) -> StoredValue {
    StoredValue::Plain(v.to_string())
}

fn tag(k: &str, v: &str) -> Tag {
    Tag { key: k.into(), value: v.into() }
}

/// Reads the latest version and writes the next, again while another writer wins.
async fn put_next(store: &SsmStore, name: &str, value: &str) -> i64 {
    for _ in 0..200 {
        let latest = store.latest(name).await.unwrap().map(|r| r.version);
        let next = latest.unwrap_or(0) + 1;
        match store.put(&record(name, next, plain(value)), latest, &[]).await {
            Ok(PutOutcome::Stored) => return next,
            Ok(other) => panic!("{other:?}"),
            Err(e) if e.is_conflict() => tokio::task::yield_now().await,
            Err(e) => panic!("{e}"),
        }
    }
    panic!("{name}: never won a write in 200 attempts")
}

#[tokio::test]
async fn versions_labels_and_history_round_trip() {
    for b in backends() {
        let store = SsmStore::open(&b.location).await.unwrap();
        let sealed = StoredValue::Sealed(vec![1, 0, 255, 7]);
        assert_eq!(
            store.put(&record("/p", 1, plain("one")), None, &[tag("k", "v")]).await.unwrap(),
            PutOutcome::Stored
        );
        assert_eq!(store.put(&record("/p", 2, sealed.clone()), Some(1), &[]).await.unwrap(), PutOutcome::Stored);
        // A stale writer (it read version 1) loses.
        let stale = store.put(&record("/p", 2, plain("late")), Some(1), &[]).await.unwrap_err();
        assert!(stale.is_conflict(), "{}: {stale}", b.label);
        let created_again = store.put(&record("/p", 1, plain("again")), None, &[]).await.unwrap_err();
        assert!(created_again.is_conflict(), "{}", b.label);

        let latest = store.latest("/p").await.unwrap().unwrap();
        assert_eq!(
            (latest.version, latest.kind, &latest.value),
            (2, ParameterType::SecureString, &sealed),
            "{}",
            b.label
        );
        assert_eq!(latest.description.as_deref(), Some("d"));
        assert_eq!(store.version("/p", 1).await.unwrap().unwrap().value, plain("one"));
        assert!(store.version("/p", 3).await.unwrap().is_none());

        let labels = vec!["prod".to_string(), "blue".to_string()];
        assert_eq!(store.label("/p", Some(1), &labels).await.unwrap(), LabelOutcome::Labelled { version: 1 });
        assert_eq!(store.labelled("/p", "prod").await.unwrap().unwrap().version, 1);
        // A label moves to the version it is put on.
        assert_eq!(
            store.label("/p", None, &["prod".to_string()]).await.unwrap(),
            LabelOutcome::Labelled { version: 2 }
        );
        let history = store.history("/p").await.unwrap();
        assert_eq!(
            history.iter().map(|v| v.labels.clone()).collect::<Vec<_>>(),
            [vec!["blue".to_string()], vec!["prod".to_string()]]
        );
        assert_eq!(store.label("/p", Some(9), &labels).await.unwrap(), LabelOutcome::VersionNotFound);
        assert_eq!(store.label("/none", None, &labels).await.unwrap(), LabelOutcome::NotFound);
        let ten: Vec<String> = (0..10).map(|i| format!("l{i}")).collect();
        assert_eq!(store.label("/p", Some(1), &ten).await.unwrap(), LabelOutcome::LimitExceeded, "{}", b.label);
        assert_eq!(store.label("/p", Some(1), &ten[..9]).await.unwrap(), LabelOutcome::Labelled { version: 1 });

        assert_eq!(store.tags("/p").await.unwrap().unwrap(), [tag("k", "v")]);
        assert_eq!(
            store.change_tags("/p", &[tag("a", "1")], &["k".to_string()], 50).await.unwrap(),
            TagOutcome::Changed
        );
        assert_eq!(store.tags("/p").await.unwrap().unwrap(), [tag("a", "1")]);
        assert_eq!(store.change_tags("/p", &[tag("b", "1")], &[], 1).await.unwrap(), TagOutcome::TooMany);
        assert_eq!(store.change_tags("/none", &[], &[], 50).await.unwrap(), TagOutcome::NotFound);

        assert!(store.delete("/p").await.unwrap());
        assert!(!store.delete("/p").await.unwrap());
        assert!(store.latest("/p").await.unwrap().is_none());
        assert!(store.history("/p").await.unwrap().is_empty());
        assert!(store.labelled("/p", "prod").await.unwrap().is_none());
        // Recreated, it starts at version 1 with no labels left over.
        store.put(&record("/p", 1, plain("new")), None, &[]).await.unwrap();
        assert!(store.labelled("/p", "blue").await.unwrap().is_none(), "{}", b.label);
        store.close().await;
    }
}

#[tokio::test]
async fn listing_by_prefix_in_name_order() {
    for b in backends() {
        let store = SsmStore::open(&b.location).await.unwrap();
        for name in ["/a/x", "/a/y/z", "/a0", "/ab", "/a", "b", "/B"] {
            store.put(&record(name, 1, plain(name)), None, &[]).await.unwrap();
        }
        store.put(&record("/a/x", 2, plain("2")), Some(1), &[]).await.unwrap();
        store.label("/a/x", Some(1), &["old".to_string()]).await.unwrap();
        let names = |l: &[flotilla_ssm::store::Listed]| l.iter().map(|p| p.latest.name.clone()).collect::<Vec<_>>();
        let all = store.list(None).await.unwrap();
        assert_eq!(names(&all), ["/B", "/a", "/a/x", "/a/y/z", "/a0", "/ab", "b"], "{}: byte order", b.label);
        let under = store.list(Some("/a/")).await.unwrap();
        assert_eq!(names(&under), ["/a/x", "/a/y/z"], "{}", b.label);
        assert_eq!(under[0].latest.version, 2);
        assert_eq!(under[0].labels.get("old"), Some(&1));
        assert!(under[0].latest.labels.is_empty());
        assert_eq!(names(&store.list(Some("/")).await.unwrap()).len(), 6);
        store.close().await;
    }
}

#[tokio::test]
async fn the_oldest_of_a_hundred_versions_goes_unless_labelled() {
    for b in backends() {
        let store = SsmStore::open(&b.location).await.unwrap();
        for v in 1..=MAX_VERSIONS {
            store.put(&record("v", v, plain("x")), if v == 1 { None } else { Some(v - 1) }, &[]).await.unwrap();
        }
        store.label("v", Some(1), &["pin".to_string()]).await.unwrap();
        assert_eq!(
            store.put(&record("v", 101, plain("x")), Some(100), &[]).await.unwrap(),
            PutOutcome::OldestLabelled { version: 1 },
            "{}",
            b.label
        );
        assert_eq!(store.latest("v").await.unwrap().unwrap().version, 100, "a refused put changes nothing");
        store.label("v", Some(50), &["pin".to_string()]).await.unwrap();
        assert_eq!(store.put(&record("v", 101, plain("x")), Some(100), &[]).await.unwrap(), PutOutcome::Stored);
        let history = store.history("v").await.unwrap();
        assert_eq!(history.len() as i64, MAX_VERSIONS, "{}", b.label);
        assert_eq!((history[0].version, history[99].version), (2, 101));
        store.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_puts_from_two_stores_never_lose_a_version() {
    for b in backends() {
        // Two stores on one database: two replicas' worth of connections.
        let stores = [SsmStore::open(&b.location).await.unwrap(), SsmStore::open(&b.location).await.unwrap()];
        let mut writers = Vec::new();
        for w in 0..12 {
            let store = stores[w % 2].clone();
            writers.push(tokio::spawn(async move {
                let mut got = Vec::new();
                for i in 0..3 {
                    got.push(put_next(&store, "/shared", &format!("w{w}-{i}")).await);
                }
                got
            }));
        }
        let mut versions = Vec::new();
        for w in writers {
            versions.extend(w.await.unwrap());
        }
        versions.sort();
        assert_eq!(versions, (1..=36).collect::<Vec<i64>>(), "{}: every version once", b.label);
        let history = stores[1].history("/shared").await.unwrap();
        assert_eq!(history.iter().map(|v| v.version).collect::<Vec<_>>(), (1..=36).collect::<Vec<i64>>());
        let values: std::collections::HashSet<_> = history.iter().map(|v| format!("{:?}", v.value)).collect();
        assert!(!values.is_empty());
        for s in &stores {
            s.close().await;
        }
    }
}
