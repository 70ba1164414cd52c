//! The load balancing store's suite, run on every backend (SQLite always; PostgreSQL
//! when `FLOTILLA_TEST_POSTGRES_URL` is set, and always under `CI=true`).

use flotilla_core::tag::Tag;
use flotilla_core::time::Timestamp;
use flotilla_db::testing::backends;
use flotilla_elbv2::error::ElbError;
use flotilla_elbv2::model::{
    LoadBalancer, LoadBalancerType, Protocol, Rule, TargetGroup, TargetType, default_health_check,
    default_load_balancer_attributes, default_target_group_attributes,
};
use flotilla_elbv2::store::ElbStore;

fn lb(name: &str) -> LoadBalancer {
    LoadBalancer {
        arn: format!("arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/{name}/0123"),
        name: name.into(),
        kind: LoadBalancerType::Application,
        scheme: "internet-facing".into(),
        ip_address_type: "ipv4".into(),
        dns_name: format!("{name}.elb.flotilla.internal"),
        security_groups: Vec::new(),
        subnets: Vec::new(),
        attributes: default_load_balancer_attributes(LoadBalancerType::Application),
        address: None,
        created_at: Timestamp(1),
        version: 1,
    }
}

fn tg(name: &str) -> TargetGroup {
    TargetGroup {
        arn: format!("arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/{name}/0123"),
        name: name.into(),
        protocol: Protocol::Http,
        port: 80,
        target_type: TargetType::Ip,
        protocol_version: Some("HTTP1".into()),
        vpc_id: None,
        health_check: default_health_check(Protocol::Http),
        attributes: default_target_group_attributes(Protocol::Http),
        targets: Vec::new(),
        created_at: Timestamp(1),
        version: 1,
    }
}

fn tag(k: &str, v: &str) -> Tag {
    Tag { key: k.into(), value: v.into() }
}

#[tokio::test]
async fn documents_are_unique_by_name_updated_optimistically_and_survive_reopening() {
    for b in backends() {
        let store = ElbStore::open(&b.location).await.unwrap();
        assert!(store.create(&lb("web"), &[tag("team", "a")]).await.unwrap(), "{}", b.label);
        assert!(!store.create(&lb("web"), &[]).await.unwrap(), "{}: the name is taken", b.label);
        assert!(store.create(&tg("web"), &[]).await.unwrap(), "{}: kinds have names of their own", b.label);
        assert!(store.create(&lb("api"), &[]).await.unwrap());

        let stored: LoadBalancer = store.named("web").await.unwrap().unwrap();
        let mut changed = stored.clone();
        changed.attributes.insert("idle_timeout.timeout_seconds".into(), "5".into());
        let updated = store.update(&changed).await.unwrap();
        assert_eq!(updated.version, stored.version + 1);
        assert!(matches!(store.update(&changed).await, Err(ElbError::Conflict(_))), "{}", b.label);
        let names: Vec<String> =
            store.list::<LoadBalancer>(None, 10).await.unwrap().into_iter().map(|l| l.name).collect();
        assert_eq!(names, vec!["api", "web"], "{}", b.label);
        let after: Vec<LoadBalancer> = store.list(Some("api"), 10).await.unwrap();
        assert_eq!(after.len(), 1);
        store.close().await;

        let store = ElbStore::open(&b.location).await.unwrap();
        let again: LoadBalancer = store.get(&stored.arn).await.unwrap().unwrap();
        assert_eq!(again.attributes["idle_timeout.timeout_seconds"], "5", "{}", b.label);
        assert_eq!(store.tags(&stored.arn).await.unwrap(), vec![tag("team", "a")]);
        assert!(store.delete::<LoadBalancer>(&stored.arn).await.unwrap());
        assert!(!store.delete::<LoadBalancer>(&stored.arn).await.unwrap());
        assert!(store.tags(&stored.arn).await.unwrap().is_empty(), "{}: tags go with the resource", b.label);
        assert!(store.create(&lb("web"), &[]).await.unwrap(), "{}: the name is free again", b.label);
        store.close().await;
    }
}

#[tokio::test]
async fn a_tagging_past_the_limit_changes_nothing() {
    for b in backends() {
        let store = ElbStore::open(&b.location).await.unwrap();
        store.create(&tg("t1"), &[]).await.unwrap();
        store.create(&tg("t2"), &[]).await.unwrap();
        let (a, c) = (tg("t1").arn, tg("t2").arn);
        store.add_tags(&[a.clone(), c.clone()], &[tag("x", "1"), tag("y", "2")], 3).await.unwrap();
        store.add_tags(std::slice::from_ref(&c), &[tag("z", "3")], 3).await.unwrap();
        let over = store.add_tags(&[a.clone(), c.clone()], &[tag("w", "4")], 3).await;
        assert!(matches!(over, Err(ElbError::TooManyTags(_))), "{}", b.label);
        assert_eq!(store.tags(&a).await.unwrap(), vec![tag("x", "1"), tag("y", "2")], "{}: rolled back", b.label);
        store.remove_tags(std::slice::from_ref(&a), &["x".into()]).await.unwrap();
        assert_eq!(store.tags(&a).await.unwrap(), vec![tag("y", "2")]);
        store.close().await;
    }
}

fn rule(id: &str, priority: i64) -> Rule {
    Rule {
        arn: format!("arn:aws:elasticloadbalancing:us-east-1:000000000000:listener-rule/app/lb/1/2/{id}"),
        listener_arn: "L".into(),
        priority,
        conditions: Vec::new(),
        actions: Vec::new(),
        created_at: Timestamp(priority),
        version: 1,
    }
}

#[tokio::test]
async fn keys_can_move_among_documents_in_one_transaction() {
    for b in backends() {
        let store = ElbStore::open(&b.location).await.unwrap();
        assert!(store.create(&rule("a", 1), &[]).await.unwrap());
        assert!(store.create(&rule("b", 2), &[]).await.unwrap());
        assert!(!store.create(&rule("c", 2), &[]).await.unwrap(), "{}: priority 2 is taken", b.label);
        let mut listed: Vec<Rule> = store.children("L").await.unwrap();
        assert_eq!(listed.len(), 2, "{}", b.label);
        listed[0].priority = 2;
        listed[1].priority = 1;
        let swapped = store.update_all(&listed).await.unwrap();
        assert_eq!(swapped.iter().map(|r| r.version).collect::<Vec<_>>(), vec![2, 2]);
        // A stale one among them stores none of them.
        let mut stale = listed.clone();
        stale[0].priority = 7;
        assert!(matches!(store.update_all(&stale).await, Err(ElbError::Conflict(_))), "{}", b.label);
        let now: Vec<(String, i64)> =
            store.children::<Rule>("L").await.unwrap().into_iter().map(|r| (r.arn, r.priority)).collect();
        assert_eq!(now.iter().map(|(_, p)| *p).collect::<Vec<_>>(), vec![2, 1], "{}", b.label);
        // A key another document holds is refused.
        let mut clash = store.children::<Rule>("L").await.unwrap().remove(0);
        clash.priority = 1;
        assert!(matches!(store.update(&clash).await, Err(ElbError::Conflict(_))), "{}", b.label);
        store.close().await;
    }
}
