//! The service document: deployments started, superseded and remembered.

use super::*;

fn spec() -> ServiceSpec {
    ServiceSpec::new(SchedulingStrategy::Replica, 2)
}

fn revision(n: i64) -> Revision {
    Revision { family: "web".into(), revision: n, images: Vec::new() }
}

#[test]
fn a_new_deployment_supersedes_one_in_progress() {
    let mut s = Service::new("c".into(), "web".into(), spec(), revision(1), "ecs-svc/1".into(), Timestamp(0));
    assert_eq!(s.group(), "service:web");
    assert_eq!(s.primary().unwrap().status, DeploymentStatus::Primary);
    s.start_deployment(revision(2), "ecs-svc/2".into(), Timestamp(5));
    assert_eq!(s.deployments.len(), 2);
    assert_eq!(s.deployments[0].id, "ecs-svc/2");
    assert_eq!(s.deployments[0].sources, vec!["ecs-svc/1".to_string()]);
    let old = &s.deployments[1];
    assert_eq!((old.status, old.outcome), (DeploymentStatus::Active, ServiceDeploymentStatus::Stopped));
    assert_eq!(old.finished_at, Some(Timestamp(5)));
    assert_eq!(s.deployments[0].number(), "2");
}

#[test]
fn history_keeps_the_newest_finished_deployments() {
    let mut s = Service::new("c".into(), "web".into(), spec(), revision(1), "ecs-svc/0".into(), Timestamp(0));
    for i in 1..=40 {
        s.start_deployment(revision(i), format!("ecs-svc/{i}"), Timestamp(i));
        let old: Vec<String> = s.deployments.iter().skip(1).map(|d| d.id.clone()).collect();
        s.retire(&old, Timestamp(i));
    }
    assert_eq!(s.deployments.len(), 1);
    assert_eq!(s.history.len(), MAX_HISTORY);
    assert_eq!(s.history[0].id, "ecs-svc/39");
    assert!(s.history.iter().all(|d| d.status == DeploymentStatus::Inactive));
    assert_eq!(s.find_deployment("ecs-svc/40").map(|d| d.revision.revision), Some(40));
}

#[test]
fn documents_round_trip_through_json() {
    let s = Service::new("c".into(), "web".into(), spec(), revision(1), "ecs-svc/1".into(), Timestamp(0));
    let json = serde_json::to_string(&s).unwrap();
    assert!(json.contains("\"schedulingStrategy\":\"REPLICA\""));
    assert_eq!(serde_json::from_str::<Service>(&json).unwrap(), s);
}
