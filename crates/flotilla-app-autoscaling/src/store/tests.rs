//! The store suite, on SQLite and (with `FLOTILLA_TEST_POSTGRES_URL`) PostgreSQL.

use super::*;
use serde_json::json;

async fn stores() -> Vec<(flotilla_db::testing::TestBackend, ScalingStore)> {
    let mut out = Vec::new();
    for backend in flotilla_db::testing::backends() {
        let store = ScalingStore::open(&backend.location).await.unwrap();
        out.push((backend, store));
    }
    out
}

fn reg(min: Option<i64>, max: Option<i64>) -> Registration {
    Registration { min, max, ..Registration::default() }
}

fn policy(key: &TargetKey, name: &str, id: &str, alarms: &[&str]) -> PolicyRow {
    PolicyRow {
        key: key.clone(),
        name: name.into(),
        policy_id: id.into(),
        policy_type: "TargetTrackingScaling".into(),
        config: json!({"TargetValue": 50.0}),
        created_at: 1_000,
        alarms: alarms.iter().map(|a| a.to_string()).collect(),
    }
}

fn action(key: &TargetKey, name: &str, next: Option<i64>) -> ActionRow {
    ActionRow {
        key: key.clone(),
        name: name.into(),
        action_id: format!("id-{name}"),
        schedule: "rate(1 minute)".into(),
        timezone: None,
        start_time: None,
        end_time: None,
        min: Some(1),
        max: None,
        created_at: 1_000,
        last_fired: 1_000,
        next_fire: next,
    }
}

fn activity(key: &TargetKey, n: i64, scaled: bool) -> NewActivity {
    NewActivity {
        activity_id: format!("act-{}-{n}", key.resource_id),
        key: key.clone(),
        description: format!("Setting desired count to {n}."),
        cause: "test".into(),
        start_time: n * 1000,
        end_time: Some(n * 1000),
        status_code: if scaled { "Successful" } else { "Failed" }.into(),
        status_message: None,
        details: None,
        not_scaled: (!scaled).then(|| json!([{"Code": "AlreadyAtMaxCapacity"}])),
    }
}

#[tokio::test]
async fn targets_are_created_updated_listed_and_removed_with_what_they_own() {
    for (_b, store) in stores().await {
        let web = TargetKey::ecs("default", "web");
        let api = TargetKey::ecs("default", "api");
        assert!(matches!(
            store.register(&web, &reg(Some(1), None), "t1", "role", 10).await,
            Err(ScalingError::Validation(_))
        ));
        let mut first = reg(Some(1), Some(3));
        first.tags.insert("team".into(), "a".into());
        first.suspended_out = Some(true);
        let (t, created) = store.register(&web, &first, "t1", "role", 10).await.unwrap();
        assert!(created);
        assert_eq!((t.bounds, t.target_id.as_str(), t.created_at), (Bounds { min: 1, max: 3 }, "t1", 10));
        assert!(t.suspended.dynamic_out && !t.suspended.dynamic_in);
        // An update changes what is given; id, tags and creation stay.
        let mut update = reg(None, Some(5));
        update.tags.insert("ignored".into(), "x".into());
        update.suspended_out = Some(false);
        let (t, created) = store.register(&web, &update, "t-other", "role", 20).await.unwrap();
        assert!(!created);
        assert_eq!((t.bounds, t.target_id.as_str(), t.created_at), (Bounds { min: 1, max: 5 }, "t1", 10));
        assert_eq!(t.tags.len(), 1);
        assert!(!t.suspended.dynamic_out);
        assert!(matches!(
            store.register(&web, &reg(Some(9), None), "x", "role", 20).await,
            Err(ScalingError::Validation(_))
        ));
        store.register(&api, &reg(Some(0), Some(2)), "t2", "role", 30).await.unwrap();

        let all = store.targets("ecs", &[], None, None, 10).await.unwrap();
        let ids: Vec<&str> = all.iter().map(|t| t.key.resource_id.as_str()).collect();
        assert_eq!(ids, ["service/default/api", "service/default/web"]);
        let after = store.targets("ecs", &[], None, Some(("service/default/api", DIMENSION_)), 10).await.unwrap();
        assert_eq!(after.len(), 1);
        let only = store.targets("ecs", &["service/default/web".into()], Some(DIMENSION_), None, 10).await.unwrap();
        assert_eq!(only[0].key, web);
        assert_eq!(store.target_by_id("t2").await.unwrap().unwrap().key, api);

        // Cooldown state moves with scalings; a scale-out ends a scale-in cooldown.
        store.record_scaling(&web, Some(ScalingMark::In { at: 100 }), &[]).await.unwrap();
        assert_eq!(
            store.target(&web).await.unwrap().unwrap().last,
            LastScaling { scale_out: None, scale_in_at: Some(100) }
        );
        store
            .record_scaling(&web, Some(ScalingMark::Out { at: 200, from: 2 }), &[activity(&web, 3, true)])
            .await
            .unwrap();
        assert_eq!(
            store.target(&web).await.unwrap().unwrap().last,
            LastScaling { scale_out: Some((200, 2)), scale_in_at: None }
        );
        assert!(store.set_bounds(&web, Bounds { min: 2, max: 4 }).await.unwrap());
        assert_eq!(store.target(&web).await.unwrap().unwrap().bounds, Bounds { min: 2, max: 4 });

        // Tags by target id.
        let tags = store.change_tags("t1", |t| {
            t.insert("env".into(), "prod".into());
            Ok(())
        });
        assert_eq!(tags.await.unwrap().unwrap().len(), 2);
        assert!(store.change_tags("nope", |_| Ok(())).await.unwrap().is_none());

        // Deregistering takes policies, their alarms (to delete) and scheduled actions.
        store.put_policy(&policy(&web, "cpu", "p1", &["hi", "lo"]), &[], 50, 300).await.unwrap();
        store.put_action(&action(&web, "nightly", Some(5_000)), 200).await.unwrap();
        let alarms = store.deregister(&web, 400).await.unwrap().unwrap();
        assert_eq!(alarms, ["hi", "lo"]);
        assert!(store.policy_by_id("p1").await.unwrap().is_none());
        assert!(store.action(&web, "nightly").await.unwrap().is_none());
        let work = store.alarm_work(i64::MAX, 10).await.unwrap();
        assert_eq!(
            work.iter().map(|w| (w.name.as_str(), w.op, w.owned)).collect::<Vec<_>>(),
            [("hi", AlarmOp::Delete, false), ("lo", AlarmOp::Delete, false)]
        );
        store.remove_alarm_work(&["hi".into(), "lo".into()]).await.unwrap();
        assert!(store.alarm_work(i64::MAX, 10).await.unwrap().is_empty());
        assert!(store.deregister(&web, 500).await.unwrap().is_none());
        assert_eq!(
            store
                .activities(&ActivityFilter { namespace: "ecs".into(), ..ActivityFilter::default() }, 10)
                .await
                .unwrap()
                .len(),
            1,
            "activities outlive their target"
        );
    }
}

const DIMENSION_: &str = crate::model::DIMENSION;

#[tokio::test]
async fn policies_keep_their_id_own_their_alarms_and_respect_the_quota() {
    for (_b, store) in stores().await {
        let web = TargetKey::ecs("default", "web");
        assert!(matches!(
            store.put_policy(&policy(&web, "cpu", "p1", &[]), &[], 50, 1).await,
            Err(ScalingError::ObjectNotFound(_))
        ));
        store.register(&web, &reg(Some(1), Some(3)), "t1", "role", 10).await.unwrap();
        store.add_alarm_work(&["hi".into(), "lo".into()], AlarmOp::Pending, 5).await.unwrap();
        let stored = store.put_policy(&policy(&web, "cpu", "p1", &["hi", "lo"]), &[], 50, 20).await.unwrap();
        assert_eq!(stored.policy_id, "p1");
        assert!(store.alarm_work(i64::MAX, 10).await.unwrap().is_empty(), "the pending work is done once owned");
        // Replaced under another id: the stored id and creation time stay; `lo` is retired.
        let mut replaced = policy(&web, "cpu", "p-new", &["hi"]);
        replaced.created_at = 99;
        replaced.config = json!({"TargetValue": 70.0});
        let stored = store.put_policy(&replaced, &["lo".into()], 50, 30).await.unwrap();
        assert_eq!((stored.policy_id.as_str(), stored.created_at), ("p1", 1_000));
        let read = store.policy(&web, "cpu").await.unwrap().unwrap();
        assert_eq!((read.alarms.clone(), read.config["TargetValue"].as_f64()), (vec!["hi".to_string()], Some(70.0)));
        assert_eq!(store.policy_by_id("p1").await.unwrap().unwrap().name, "cpu");
        let work = store.alarm_work(i64::MAX, 10).await.unwrap();
        assert_eq!((work[0].name.as_str(), work[0].op), ("lo", AlarmOp::Delete));

        for i in 0..3 {
            store.put_policy(&policy(&web, &format!("s{i}"), &format!("ps{i}"), &[]), &[], 4, 40).await.unwrap();
        }
        assert!(matches!(
            store.put_policy(&policy(&web, "s9", "ps9", &[]), &[], 4, 40).await,
            Err(ScalingError::LimitExceeded(_))
        ));
        let names = |ps: Vec<PolicyRow>| ps.into_iter().map(|p| p.name).collect::<Vec<_>>();
        assert_eq!(names(store.policies("ecs", None, None, &[], None, 10).await.unwrap()), ["cpu", "s0", "s1", "s2"]);
        assert_eq!(
            names(
                store
                    .policies(
                        "ecs",
                        Some("service/default/web"),
                        Some(DIMENSION_),
                        &[],
                        Some(("service/default/web", DIMENSION_, "s0")),
                        10
                    )
                    .await
                    .unwrap()
            ),
            ["s1", "s2"]
        );
        assert_eq!(
            names(store.policies("ecs", None, None, &["s2".into(), "cpu".into()], None, 10).await.unwrap()),
            ["cpu", "s2"]
        );
        assert_eq!(store.delete_policy(&web, "cpu", 50).await.unwrap().unwrap(), ["hi"]);
        assert!(store.delete_policy(&web, "cpu", 50).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn scheduled_actions_are_due_in_order_and_firing_is_conditional() {
    for (_b, store) in stores().await {
        let web = TargetKey::ecs("default", "web");
        store.register(&web, &reg(Some(1), Some(3)), "t1", "role", 10).await.unwrap();
        store.put_action(&action(&web, "b", Some(2_000)), 3).await.unwrap();
        store.put_action(&action(&web, "a", Some(3_000)), 3).await.unwrap();
        store.put_action(&action(&web, "c", None), 3).await.unwrap();
        assert!(matches!(store.put_action(&action(&web, "d", None), 3).await, Err(ScalingError::LimitExceeded(_))));
        let mut changed = action(&web, "c", Some(2_500));
        changed.action_id = "ignored".into();
        changed.created_at = 77;
        store.put_action(&changed, 3).await.unwrap();
        let c = store.action(&web, "c").await.unwrap().unwrap();
        assert_eq!((c.action_id.as_str(), c.created_at, c.next_fire), ("id-c", 1_000, Some(2_500)));

        let due: Vec<String> = store.due_actions(2_600, 10).await.unwrap().into_iter().map(|a| a.name).collect();
        assert_eq!(due, ["b", "c"]);
        assert!(store.action_fired(&web, "b", Some(2_000), 2_000, Some(62_000)).await.unwrap());
        assert!(!store.action_fired(&web, "c", Some(1), 2_500, None).await.unwrap(), "moved meanwhile: not written");
        let b = store.action(&web, "b").await.unwrap().unwrap();
        assert_eq!((b.last_fired, b.next_fire), (2_000, Some(62_000)));
        let names: Vec<String> = store
            .actions("ecs", None, None, &[], Some(("service/default/web", DIMENSION_, "a")), 10)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(names, ["b", "c"]);
        assert!(store.delete_action(&web, "a").await.unwrap());
        assert!(!store.delete_action(&web, "a").await.unwrap());
    }
}

#[tokio::test]
async fn activities_are_read_newest_first_filtered_and_expired() {
    for (_b, store) in stores().await {
        let web = TargetKey::ecs("default", "web");
        let api = TargetKey::ecs("default", "api");
        store
            .add_activities(&[
                activity(&web, 1, true),
                activity(&api, 2, true),
                activity(&web, 3, false),
                activity(&web, 4, true),
            ])
            .await
            .unwrap();
        let filter = |resource: Option<&str>, not_scaled: bool, before: Option<i64>| ActivityFilter {
            namespace: "ecs".into(),
            resource_id: resource.map(str::to_string),
            dimension: None,
            include_not_scaled: not_scaled,
            before_seq: before,
        };
        let descs = |rows: Vec<ActivityRow>| rows.into_iter().map(|r| r.activity.start_time / 1000).collect::<Vec<_>>();
        assert_eq!(descs(store.activities(&filter(None, false, None), 10).await.unwrap()), [4, 2, 1]);
        assert_eq!(descs(store.activities(&filter(None, true, None), 10).await.unwrap()), [4, 3, 2, 1]);
        let web_rows = store.activities(&filter(Some("service/default/web"), true, None), 2).await.unwrap();
        assert_eq!(descs(web_rows.clone()), [4, 3]);
        assert_eq!(web_rows[1].activity.not_scaled, Some(json!([{"Code": "AlreadyAtMaxCapacity"}])));
        let rest =
            store.activities(&filter(Some("service/default/web"), true, Some(web_rows[1].seq)), 2).await.unwrap();
        assert_eq!(descs(rest), [1]);
        assert_eq!(store.expire_activities(2_500, 10).await.unwrap(), 2);
        assert_eq!(descs(store.activities(&filter(None, true, None), 10).await.unwrap()), [4, 3]);
    }
}
