use super::*;
use serde_json::json;

fn spec(v: serde_json::Value) -> TaskDefinitionSpec {
    serde_json::from_value(v).expect("test document parses")
}

fn base() -> serde_json::Value {
    json!({"family": "web", "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 64}]})
}

fn with(mut doc: serde_json::Value, patch: impl FnOnce(&mut serde_json::Value)) -> serde_json::Value {
    patch(&mut doc);
    doc
}

#[test]
fn minimal_definition_gets_defaults() {
    let v = normalize_and_validate(spec(base())).unwrap();
    let c = &v.spec.container_definitions[0];
    assert_eq!(c.essential, Some(true));
    assert_eq!(v.compatibilities, vec!["EC2"]);
}

#[test]
fn fargate_definition_is_normalised() {
    let doc = json!({
        "family": "api", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
        "cpu": "0.25 vCPU", "memory": "0.5 GB",
        "containerDefinitions": [{"name": "app", "image": "busybox",
            "portMappings": [{"containerPort": 80}],
            "healthCheck": {"command": ["CMD-SHELL", "true"]}}]
    });
    let v = normalize_and_validate(spec(doc)).unwrap();
    assert_eq!(v.spec.cpu.as_deref(), Some("256"));
    assert_eq!(v.spec.memory.as_deref(), Some("512"));
    let pm = &v.spec.container_definitions[0].port_mappings[0];
    assert_eq!(pm.host_port, Some(80));
    assert_eq!(pm.protocol, Some(TransportProtocol::Tcp));
    let hc = v.spec.container_definitions[0].health_check.as_ref().unwrap();
    assert_eq!((hc.interval, hc.timeout, hc.retries), (Some(30), Some(5), Some(3)));
    assert_eq!(v.compatibilities, vec!["EC2", "FARGATE"]);
    assert!(v.requires_attributes.contains(&"ecs.capability.task-eni".to_string()));
}

/// Each case breaks one rule; the refusal must name the field it is about.
#[test]
fn refusals_name_the_field() {
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        ("bad family", with(base(), |d| d["family"] = json!("a b")), "family"),
        ("no containers", with(base(), |d| d["containerDefinitions"] = json!([])), "containerDefinitions"),
        (
            "eleven containers",
            with(base(), |d| {
                d["containerDefinitions"] = json!(
                    (0..11).map(|i| json!({"name": format!("c{i}"), "image": "x", "memory": 8})).collect::<Vec<_>>()
                )
            }),
            "containerDefinitions",
        ),
        (
            "duplicate names",
            with(base(), |d| {
                d["containerDefinitions"] =
                    json!([{"name": "a", "image": "x", "memory": 8}, {"name": "a", "image": "y", "memory": 8}])
            }),
            "used more than once",
        ),
        ("no image", with(base(), |d| d["containerDefinitions"][0]["image"] = json!("")), "image"),
        (
            "no memory",
            with(base(), |d| {
                d["containerDefinitions"][0].as_object_mut().unwrap().remove("memory");
            }),
            "memoryReservation",
        ),
        ("tiny memory", with(base(), |d| d["containerDefinitions"][0]["memory"] = json!(4)), "memory"),
        (
            "reservation above memory",
            with(base(), |d| d["containerDefinitions"][0]["memoryReservation"] = json!(128)),
            "memoryReservation",
        ),
        ("bad task cpu", with(base(), |d| d["cpu"] = json!("lots")), "cpu"),
        ("task cpu too small", with(base(), |d| d["cpu"] = json!("64")), "cpu"),
        ("containers exceed task memory", with(base(), |d| d["memory"] = json!("32")), "task-level memory"),
        (
            "bad port",
            with(base(), |d| d["containerDefinitions"][0]["portMappings"] = json!([{"containerPort": 70000}])),
            "containerPort",
        ),
        (
            "duplicate host port",
            with(base(), |d| {
                d["containerDefinitions"][0]["portMappings"] =
                    json!([{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81, "hostPort": 8080}])
            }),
            "host port 8080",
        ),
        (
            "awsvpc host port differs",
            with(base(), |d| {
                d["networkMode"] = json!("awsvpc");
                d["containerDefinitions"][0]["portMappings"] = json!([{"containerPort": 80, "hostPort": 8080}]);
            }),
            "hostPort",
        ),
        ("no essential", with(base(), |d| d["containerDefinitions"][0]["essential"] = json!(false)), "essential"),
        (
            "unknown volume",
            with(base(), |d| {
                d["containerDefinitions"][0]["mountPoints"] =
                    json!([{"sourceVolume": "data", "containerPath": "/data"}])
            }),
            "sourceVolume",
        ),
        (
            "volumesFrom itself",
            with(base(), |d| d["containerDefinitions"][0]["volumesFrom"] = json!([{"sourceContainer": "app"}])),
            "sourceContainer",
        ),
        (
            "depends on unknown",
            with(base(), |d| {
                d["containerDefinitions"][0]["dependsOn"] = json!([{"containerName": "db", "condition": "START"}])
            }),
            "dependsOn",
        ),
        (
            "dependency cycle",
            with(base(), |d| {
                d["containerDefinitions"] = json!([
                {"name": "a", "image": "x", "memory": 8, "dependsOn": [{"containerName": "b", "condition": "START"}]},
                {"name": "b", "image": "x", "memory": 8, "dependsOn": [{"containerName": "a", "condition": "START"}]}])
            }),
            "cycle",
        ),
        (
            "healthy needs health check",
            with(base(), |d| {
                d["containerDefinitions"] = json!([
                {"name": "a", "image": "x", "memory": 8, "dependsOn": [{"containerName": "b", "condition": "HEALTHY"}]},
                {"name": "b", "image": "x", "memory": 8}])
            }),
            "healthCheck",
        ),
        (
            "health check interval",
            with(base(), |d| {
                d["containerDefinitions"][0]["healthCheck"] = json!({"command": ["CMD", "true"], "interval": 1})
            }),
            "interval",
        ),
        (
            "ulimit soft above hard",
            with(base(), |d| {
                d["containerDefinitions"][0]["ulimits"] = json!([{"name": "nofile", "softLimit": 10, "hardLimit": 5}])
            }),
            "softLimit",
        ),
        (
            "links outside bridge",
            with(base(), |d| {
                d["networkMode"] = json!("host");
                d["containerDefinitions"][0]["links"] = json!(["x"]);
            }),
            "links",
        ),
        (
            "fargate needs awsvpc",
            with(base(), |d| {
                d["requiresCompatibilities"] = json!(["FARGATE"]);
                d["cpu"] = json!("256");
                d["memory"] = json!("512");
            }),
            "awsvpc",
        ),
        (
            "fargate size",
            with(base(), |d| {
                d["requiresCompatibilities"] = json!(["FARGATE"]);
                d["networkMode"] = json!("awsvpc");
                d["cpu"] = json!("256");
                d["memory"] = json!("4096");
            }),
            "No Fargate configuration",
        ),
        (
            "fargate needs cpu",
            with(base(), |d| {
                d["requiresCompatibilities"] = json!(["FARGATE"]);
                d["networkMode"] = json!("awsvpc");
            }),
            "Fargate requires that 'cpu' be defined at the task level.",
        ),
        ("ephemeral storage", with(base(), |d| d["ephemeralStorage"] = json!({"sizeInGiB": 10})), "ephemeralStorage"),
        (
            "too many constraints",
            with(base(), |d| {
                d["placementConstraints"] = json!(
                    (0..11).map(|_| json!({"type": "memberOf", "expression": "attribute:x == y"})).collect::<Vec<_>>()
                )
            }),
            "placementConstraints",
        ),
        (
            "long expression",
            with(base(), |d| d["placementConstraints"] = json!([{"type": "memberOf", "expression": "x".repeat(2001)}])),
            "expression",
        ),
        ("bad role", with(base(), |d| d["taskRoleArn"] = json!("admin")), "taskRoleArn"),
        ("duplicate volume", with(base(), |d| d["volumes"] = json!([{"name": "v"}, {"name": "v"}])), "volume name"),
    ];
    for (what, doc, needle) in cases {
        let err = normalize_and_validate(spec(doc)).expect_err(what);
        assert!(err.message.contains(needle), "{what}: message {:?} should mention {needle:?}", err.message);
    }
}

#[test]
fn memory_beyond_an_ecs_integer_is_refused() {
    for (container, task) in
        [(json!(2_147_483_648_i64), None), (json!(64), Some("2147483648")), (json!(64), Some("99999999999 GB"))]
    {
        let mut doc =
            json!({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "memory": container}]});
        if let Some(t) = task {
            doc["memory"] = json!(t);
        }
        let spec = serde_json::from_value(doc).unwrap();
        assert!(normalize_and_validate(spec).is_err(), "{container} / {task:?}");
    }
    let spec = serde_json::from_value(json!({"family": "f", "containerDefinitions": [
        {"name": "a", "image": "i", "memory": 2_147_483_647_i64},
        {"name": "b", "image": "i", "memory": 2_147_483_647_i64}
    ]}))
    .unwrap();
    assert!(normalize_and_validate(spec).is_ok(), "the largest values add up without overflow");
}
