//! The control plane's controllers against a real store: each pass reads the state,
//! decides with its pure reconciler and records the outcome.

mod common;

use flotilla_domain::Timestamp;
use flotilla_domain::container_instance::{
    AGENT_HEARTBEAT_TIMEOUT_MS, ContainerInstance, InstanceStatus, Resources, VersionInfo,
};
use flotilla_protocol::ServiceModule;
use flotilla_store::Store;

#[tokio::test]
async fn the_heartbeat_controller_records_agents_lost_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let plane = common::plane(&dir).await;
    plane.ecs.ensure_default_cluster().await.unwrap();
    let silent_since = Timestamp(Timestamp::now().0 - 2 * AGENT_HEARTBEAT_TIMEOUT_MS);
    let instance = ContainerInstance {
        id: "0123456789abcdef0123456789abcdef".into(),
        cluster: "default".into(),
        ec2_instance_id: "i-0123456789abcdef0".into(),
        status: InstanceStatus::Active,
        registered: Resources { cpu: 1024, memory: 1024, ..Resources::default() },
        attributes: Vec::new(),
        version_info: VersionInfo::default(),
        registered_at: silent_since,
        last_heartbeat: silent_since,
        agent_lost_at: None,
        capacity: Default::default(),
        version: 0,
    };
    plane.store.put_container_instance(&instance).await.unwrap();
    let heartbeat = plane.ecs.controllers().into_iter().find(|c| c.name() == "ecs-agent-heartbeat").unwrap();

    heartbeat.reconcile().await.unwrap();
    let stored = plane.store.get_container_instance(&instance.id).await.unwrap().unwrap();
    assert_eq!(stored.agent_lost_at, Some(Timestamp(silent_since.0 + AGENT_HEARTBEAT_TIMEOUT_MS)));
    heartbeat.reconcile().await.unwrap();
    let again = plane.store.get_container_instance(&instance.id).await.unwrap().unwrap();
    assert_eq!(again.version, stored.version, "a second pass changes nothing");
    let (status, out) = common::call(
        &plane,
        "DescribeContainerInstances",
        serde_json::json!({"containerInstances": [instance.id.clone()]}),
    )
    .await;
    assert_eq!(status, http::StatusCode::OK, "{out}");
    assert_eq!(out["containerInstances"][0]["agentConnected"], false);

    plane.store.heartbeat(&instance.id, Timestamp::now()).await.unwrap();
    heartbeat.reconcile().await.unwrap();
    let back = plane.store.get_container_instance(&instance.id).await.unwrap().unwrap();
    assert_eq!(back.agent_lost_at, None);
}
