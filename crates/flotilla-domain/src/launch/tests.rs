use super::*;
use crate::Timestamp;
use crate::task_definition::{TaskDefinitionStatus, normalize_and_validate};
use serde_json::json;

fn td(doc: serde_json::Value) -> TaskDefinition {
    let v = normalize_and_validate(serde_json::from_value(doc).unwrap()).unwrap();
    TaskDefinition {
        family: "web".into(),
        revision: 1,
        status: TaskDefinitionStatus::Active,
        spec: v.spec,
        compatibilities: v.compatibilities,
        requires_attributes: v.requires_attributes,
        registered_at: Timestamp(0),
        registered_by: "test".into(),
        deregistered_at: None,
        delete_requested_at: None,
    }
}

fn fargate_td() -> TaskDefinition {
    td(json!({"family": "web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
        "cpu": "256", "memory": "512",
        "containerDefinitions": [{"name": "app", "image": "busybox"}]}))
}

fn bridge_td() -> TaskDefinition {
    td(json!({"family": "web", "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 64}]}))
}

fn item(p: &str, weight: Option<i64>, base: Option<i64>) -> CapacityProviderStrategyItem {
    CapacityProviderStrategyItem { capacity_provider: p.into(), weight, base }
}

fn network() -> NetworkConfiguration {
    NetworkConfiguration {
        awsvpc_configuration: Some(AwsVpcConfiguration {
            subnets: vec!["subnet-0a1b".into()],
            security_groups: vec!["sg-1".into()],
            assign_public_ip: None,
        }),
    }
}

fn fargate_cluster() -> ClusterSpec {
    ClusterSpec { capacity_providers: vec!["FARGATE".into(), "FARGATE_SPOT".into()], ..ClusterSpec::default() }
}

#[test]
fn launch_requests_resolve_as_ecs_does() {
    let net = network();
    let strategy = [item("FARGATE", Some(1), None)];
    let unknown = [item("FARGATE_SPOT", Some(1), None)];
    let asg = [item("workers", Some(1), None)];
    let mixed = [item("workers", Some(1), None), item("FARGATE", Some(1), None)];
    type Case<'a> = (&'a str, LaunchRequest<'a>, ClusterSpec, TaskDefinition, Result<LaunchType, &'a str>);
    let cases: Vec<Case<'_>> = vec![
        ("nothing asked: EC2", LaunchRequest::default(), ClusterSpec::default(), bridge_td(), Ok(LaunchType::Ec2)),
        (
            "FARGATE launch type",
            LaunchRequest { launch_type: Some("FARGATE"), network_configuration: Some(&net), ..Default::default() },
            ClusterSpec::default(),
            fargate_td(),
            Ok(LaunchType::Fargate),
        ),
        (
            "the cluster's default strategy",
            LaunchRequest { network_configuration: Some(&net), ..Default::default() },
            ClusterSpec { default_capacity_provider_strategy: strategy.to_vec(), ..fargate_cluster() },
            fargate_td(),
            Ok(LaunchType::Fargate),
        ),
        (
            "awsvpc on EC2",
            LaunchRequest { launch_type: Some("EC2"), network_configuration: Some(&net), ..Default::default() },
            ClusterSpec::default(),
            fargate_td(),
            Ok(LaunchType::Ec2),
        ),
        (
            "both",
            LaunchRequest { launch_type: Some("FARGATE"), capacity_provider_strategy: &strategy, ..Default::default() },
            fargate_cluster(),
            fargate_td(),
            Err("Specifying both a launch type and capacity provider strategy"),
        ),
        (
            "provider not in the cluster",
            LaunchRequest {
                capacity_provider_strategy: &unknown,
                network_configuration: Some(&net),
                ..Default::default()
            },
            ClusterSpec { capacity_providers: vec!["FARGATE".into()], ..ClusterSpec::default() },
            fargate_td(),
            Err("not associated with the cluster"),
        ),
        (
            "Auto Scaling group providers launch on EC2",
            LaunchRequest { capacity_provider_strategy: &asg, ..Default::default() },
            ClusterSpec { capacity_providers: vec!["workers".into()], ..ClusterSpec::default() },
            bridge_td(),
            Ok(LaunchType::Ec2),
        ),
        (
            "no mix of Fargate and Auto Scaling group providers",
            LaunchRequest {
                capacity_provider_strategy: &mixed,
                network_configuration: Some(&net),
                ..Default::default()
            },
            ClusterSpec { capacity_providers: vec!["workers".into(), "FARGATE".into()], ..ClusterSpec::default() },
            fargate_td(),
            Err("cannot contain a mix"),
        ),
        (
            "a definition without FARGATE",
            LaunchRequest { launch_type: Some("FARGATE"), ..Default::default() },
            ClusterSpec::default(),
            bridge_td(),
            Err("Task definition does not support launch_type FARGATE."),
        ),
        (
            "awsvpc without a network configuration",
            LaunchRequest { launch_type: Some("FARGATE"), ..Default::default() },
            ClusterSpec::default(),
            fargate_td(),
            Err("Network Configuration must be provided when networkMode 'awsvpc' is specified."),
        ),
        (
            "a network configuration for bridge",
            LaunchRequest { network_configuration: Some(&net), ..Default::default() },
            ClusterSpec::default(),
            bridge_td(),
            Err("Network Configuration is not valid"),
        ),
        (
            "placement on Fargate",
            LaunchRequest {
                launch_type: Some("FARGATE"),
                network_configuration: Some(&net),
                has_placement: true,
                ..Default::default()
            },
            ClusterSpec::default(),
            fargate_td(),
            Err("Task placement is not supported for the FARGATE launch type."),
        ),
        (
            "platform version on EC2",
            LaunchRequest { platform_version: Some("LATEST"), ..Default::default() },
            ClusterSpec::default(),
            bridge_td(),
            Err("The platform version must be null when specifying an EC2 launch type."),
        ),
        (
            "unknown platform version",
            LaunchRequest {
                launch_type: Some("FARGATE"),
                platform_version: Some("9.9.9"),
                network_configuration: Some(&net),
                ..Default::default()
            },
            ClusterSpec::default(),
            fargate_td(),
            Err("The specified platform version '9.9.9' does not exist."),
        ),
        (
            "unknown launch type",
            LaunchRequest { launch_type: Some("MOON"), ..Default::default() },
            ClusterSpec::default(),
            bridge_td(),
            Err("launchType 'MOON' is not one of"),
        ),
    ];
    for (name, request, cluster, td, want) in cases {
        let got = resolve_launch(&request, &cluster, &td);
        match (got, want) {
            (Ok(l), Ok(t)) => assert_eq!(l.launch_type, t, "{name}"),
            (Err(e), Err(m)) => assert!(e.message.contains(m), "{name}: {}", e.message),
            (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn fargate_reports_latest_as_the_newest_platform_version() {
    let net = network();
    let request =
        LaunchRequest { launch_type: Some("FARGATE"), network_configuration: Some(&net), ..Default::default() };
    let launch = resolve_launch(&request, &ClusterSpec::default(), &fargate_td()).unwrap();
    assert_eq!(launch.platform_version.as_deref(), Some("LATEST"));
    assert_eq!(launch.resolved_platform_version().as_deref(), Some("1.4.0"));
    let ec2 = resolve_launch(&LaunchRequest::default(), &ClusterSpec::default(), &bridge_td()).unwrap();
    assert_eq!(ec2.resolved_platform_version(), None);
}

#[test]
fn bad_network_configurations_are_refused() {
    let cases = [
        (json!({}), "awsvpcConfiguration must be provided"),
        (json!({"awsvpcConfiguration": {"subnets": []}}), "subnets can not be empty."),
        (json!({"awsvpcConfiguration": {"subnets": ["nope"]}}), "malformed"),
        (json!({"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["x"]}}), "malformed"),
        (json!({"awsvpcConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": "YES"}}), "assignPublicIp"),
    ];
    for (doc, want) in cases {
        let n: NetworkConfiguration = serde_json::from_value(doc.clone()).unwrap();
        let request =
            LaunchRequest { launch_type: Some("FARGATE"), network_configuration: Some(&n), ..Default::default() };
        let e = resolve_launch(&request, &ClusterSpec::default(), &fargate_td()).unwrap_err();
        assert!(e.message.contains(want), "{doc}: {}", e.message);
    }
}

#[test]
fn providers_fill_the_base_then_follow_the_weights() {
    let none = BTreeMap::new();
    let strategy = [item("FARGATE", Some(1), Some(2)), item("FARGATE_SPOT", Some(3), None)];
    assert_eq!(
        choose_providers(&strategy, &none, 6),
        ["FARGATE", "FARGATE", "FARGATE_SPOT", "FARGATE_SPOT", "FARGATE", "FARGATE_SPOT"]
    );
    let existing = BTreeMap::from([("FARGATE".to_string(), 2), ("FARGATE_SPOT".to_string(), 0)]);
    assert_eq!(choose_providers(&strategy, &existing, 2), ["FARGATE_SPOT", "FARGATE_SPOT"]);
    let only = [item("FARGATE_SPOT", Some(1), None)];
    assert_eq!(choose_providers(&only, &none, 3), ["FARGATE_SPOT"; 3]);
    let base_only = [item("FARGATE", None, Some(1)), item("FARGATE_SPOT", Some(1), None)];
    assert_eq!(choose_providers(&base_only, &none, 3), ["FARGATE", "FARGATE_SPOT", "FARGATE_SPOT"]);
    let even = [item("FARGATE", Some(1), Some(1)), item("FARGATE_SPOT", Some(1), None)];
    assert_eq!(choose_providers(&even, &none, 2), ["FARGATE", "FARGATE_SPOT"], "past the base, evenly");
}
