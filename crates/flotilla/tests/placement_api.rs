//! Placement through the API: strategies, constraints, attributes and filters
//! honoured by RunTask and ListContainerInstances, and no overcommit under
//! concurrent RunTask calls.

mod common;

use common::{call, plane};
use flotilla::server::ControlPlane;
use http::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

async fn instance(p: &ControlPlane, n: u32, zone: &str, kind: &str, memory: i64) -> String {
    let (status, out) = call(
        p,
        "RegisterContainerInstance",
        json!({
            "instanceIdentityDocument": json!({"instanceId": format!("i-{n:017}"), "availabilityZone": zone, "instanceType": kind}).to_string(),
            "totalResources": [
                {"name": "CPU", "type": "INTEGER", "integerValue": 4096},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": memory}
            ],
            "attributes": [{"name": "ecs.os-type", "value": "linux"}]
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{out}");
    out["containerInstance"]["containerInstanceArn"].as_str().unwrap().to_string()
}

async fn definition(p: &ControlPlane, family: &str, memory: i64, extra: Value) {
    let mut td =
        json!({"family": family, "containerDefinitions": [{"name": "app", "image": "busybox", "memory": memory}]});
    if let (Some(t), Some(e)) = (td.as_object_mut(), extra.as_object()) {
        t.extend(e.clone());
    }
    let (status, out) = call(p, "RegisterTaskDefinition", td).await;
    assert_eq!(status, StatusCode::OK, "{out}");
}

fn instances_of(out: &Value) -> Vec<String> {
    out["tasks"].as_array().unwrap().iter().map(|t| t["containerInstanceArn"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn strategies_and_constraints_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let p = plane(&dir).await;
    let a = instance(&p, 1, "us-east-1a", "t3.large", 4096).await;
    let b = instance(&p, 2, "us-east-1b", "t3.large", 2048).await;
    let c = instance(&p, 3, "us-east-1c", "m5.large", 8192).await;
    definition(&p, "web", 128, json!({})).await;

    let (_, out) = call(
        &p,
        "RunTask",
        json!({"taskDefinition": "web", "count": 3,
        "placementStrategy": [{"type": "spread", "field": "attribute:ecs.availability-zone"}]}),
    )
    .await;
    let mut got = instances_of(&out);
    got.sort();
    let mut all = vec![a.clone(), b.clone(), c.clone()];
    all.sort();
    assert_eq!(got, all, "one task per zone: {out}");

    let (_, out) = call(
        &p,
        "RunTask",
        json!({"taskDefinition": "web", "count": 2,
        "placementStrategy": [{"type": "binpack", "field": "memory"}]}),
    )
    .await;
    assert_eq!(instances_of(&out), vec![b.clone(), b.clone()], "binpack fills the least memory: {out}");

    let (_, out) = call(
        &p,
        "RunTask",
        json!({"taskDefinition": "web", "count": 4,
        "placementConstraints": [{"type": "memberOf", "expression": "attribute:ecs.instance-type =~ t3.*"}]}),
    )
    .await;
    assert!(instances_of(&out).iter().all(|i| i == &a || i == &b), "{out}");

    definition(&p, "solo", 64, json!({"placementConstraints": [{"type": "memberOf", "expression": "attribute:ecs.availability-zone == us-east-1c"}]})).await;
    let (_, out) = call(&p, "RunTask", json!({"taskDefinition": "solo", "count": 2})).await;
    assert_eq!(instances_of(&out), vec![c.clone(), c.clone()], "{out}");

    let (_, out) = call(
        &p,
        "RunTask",
        json!({"taskDefinition": "web", "count": 5, "group": "one-each",
        "placementConstraints": [{"type": "distinctInstance"}]}),
    )
    .await;
    let mut distinct = instances_of(&out);
    assert_eq!(distinct.len(), 3, "{out}");
    distinct.dedup();
    assert_eq!(distinct.len(), 3);
    assert_eq!(out["failures"][0]["reason"], "DistinctInstance placement constraint unsatisfied.", "{out}");

    let (_, out) = call(
        &p,
        "RunTask",
        json!({"taskDefinition": "web",
        "placementConstraints": [{"type": "memberOf", "expression": "attribute:stack == prod"}]}),
    )
    .await;
    assert_eq!(out["tasks"], json!([]));
    assert_eq!(out["failures"][0]["reason"], "MemberOf placement constraint unsatisfied.", "{out}");
    let (_, out) =
        call(&p, "PutAttributes", json!({"attributes": [{"name": "stack", "value": "prod", "targetId": b}]})).await;
    assert_eq!(out["attributes"][0]["targetType"], "container-instance", "{out}");
    let (_, out) = call(
        &p,
        "RunTask",
        json!({"taskDefinition": "web",
        "placementConstraints": [{"type": "memberOf", "expression": "attribute:stack == prod"}]}),
    )
    .await;
    assert_eq!(instances_of(&out), vec![b.clone()], "{out}");
    let (_, out) =
        call(&p, "ListAttributes", json!({"targetType": "container-instance", "attributeName": "stack"})).await;
    assert_eq!(out["attributes"].as_array().unwrap().len(), 1, "{out}");
    let (_, out) = call(
        &p,
        "ListContainerInstances",
        json!({"filter": "attribute:stack exists or attribute:ecs.availability-zone in [us-east-1c]"}),
    )
    .await;
    let mut listed: Vec<String> =
        out["containerInstanceArns"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    listed.sort();
    let mut want = vec![b.clone(), c.clone()];
    want.sort();
    assert_eq!(listed, want, "{out}");
    call(&p, "DeleteAttributes", json!({"attributes": [{"name": "stack", "targetId": b}]})).await;
    let (_, out) =
        call(&p, "ListAttributes", json!({"targetType": "container-instance", "attributeName": "stack"})).await;
    assert_eq!(out["attributes"], json!([]));
}

#[tokio::test]
async fn bad_placement_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = plane(&dir).await;
    instance(&p, 1, "us-east-1a", "t3.large", 4096).await;
    definition(&p, "web", 64, json!({})).await;
    let cases = [
        json!({"placementConstraints": [{"type": "memberOf", "expression": "attribute:x == "}]}),
        json!({"placementConstraints": [{"type": "sometimes"}]}),
        json!({"placementStrategy": [{"type": "binpack", "field": "disk"}]}),
        json!({"placementStrategy": [{"type": "scatter"}]}),
        json!({"placementStrategy": (0..6).map(|_| json!({"type": "random"})).collect::<Vec<_>>()}),
        json!({"placementConstraints": (0..11).map(|_| json!({"type": "distinctInstance"})).collect::<Vec<_>>()}),
    ];
    for extra in cases {
        let mut input = json!({"taskDefinition": "web"});
        input.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let (status, out) = call(&p, "RunTask", input).await;
        assert_eq!(
            (status, out["__type"].as_str().unwrap()),
            (StatusCode::BAD_REQUEST, "InvalidParameterException"),
            "{out}"
        );
    }
    let (_, out) = call(
        &p,
        "RunTask",
        json!({"taskDefinition": "web",
        "placementConstraints": [{"type": "memberOf", "expression": "attribute:x =="}]}),
    )
    .await;
    assert!(out["message"].as_str().unwrap().contains("column"), "errors say where: {out}");
    let (status, out) = call(
        &p,
        "RegisterTaskDefinition",
        json!({"family": "bad", "containerDefinitions":
        [{"name": "app", "image": "busybox", "memory": 8}],
        "placementConstraints": [{"type": "memberOf", "expression": "runningTasksCount >"}]}),
    )
    .await;
    assert_eq!((status, out["__type"].as_str().unwrap()), (StatusCode::BAD_REQUEST, "ClientException"), "{out}");
    let (_, out) = call(&p, "ListContainerInstances", json!({"filter": "attribute:x in [a,"})).await;
    assert_eq!(out["__type"], "InvalidParameterException");
    let (_, out) =
        call(&p, "PutAttributes", json!({"attributes": [{"name": "x", "value": "y", "targetId": "nope"}]})).await;
    assert_eq!(out["__type"], "TargetNotFoundException");
}

#[tokio::test]
async fn concurrent_run_task_never_overcommits() {
    let dir = tempfile::tempdir().unwrap();
    let p = Arc::new(plane(&dir).await);
    let mut arns = Vec::new();
    for n in 0..3 {
        arns.push(instance(&p, n, "us-east-1a", "t3.large", 1000).await);
    }
    definition(&p, "web", 100, json!({})).await;
    let mut handles = Vec::new();
    for _ in 0..16 {
        let p = p.clone();
        handles.push(tokio::spawn(async move {
            let (_, out) = call(&p, "RunTask", json!({"taskDefinition": "web", "count": 3})).await;
            instances_of(&out)
        }));
    }
    let mut per_instance: HashMap<String, usize> = HashMap::new();
    for h in handles {
        for i in h.await.unwrap() {
            *per_instance.entry(i).or_default() += 1;
        }
    }
    assert_eq!(per_instance.values().sum::<usize>(), 30, "3 × 1000 MiB hold exactly thirty 100 MiB tasks");
    assert!(per_instance.values().all(|n| *n <= 10), "{per_instance:?}");
    for arn in arns {
        let (_, out) = call(&p, "DescribeContainerInstances", json!({"containerInstances": [arn]})).await;
        let memory = out["containerInstances"][0]["remainingResources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "MEMORY")
            .unwrap()["integerValue"]
            .as_i64()
            .unwrap();
        assert!(memory >= 0, "overcommitted: {memory}");
    }
}

#[tokio::test]
async fn resource_sums_never_wrap_and_out_of_range_values_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = plane(&dir).await;
    let arn = instance(&p, 1, "us-east-1a", "t3.nano", 512).await;
    let huge = |memory: Vec<i64>| {
        let containers: Vec<Value> = memory
            .iter()
            .enumerate()
            .map(|(i, m)| json!({"name": format!("c{i}"), "image": "busybox", "memory": m}))
            .collect();
        json!({"family": "huge", "containerDefinitions": containers})
    };
    // Values beyond AWS's Integer range are refused, so no sum of them can wrap.
    let (status, out) = call(&p, "RegisterTaskDefinition", huge(vec![i64::MAX, 9223372036854771809])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{out}");
    let (status, out) = call(&p, "RegisterTaskDefinition", huge(vec![i64::from(i32::MAX) + 1])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{out}");
    // The largest values AWS allows add up without wrapping, and do not fit 512 MiB.
    let (status, out) = call(&p, "RegisterTaskDefinition", huge(vec![i64::from(i32::MAX); 10])).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let (status, out) = call(&p, "RunTask", json!({"taskDefinition": "huge"})).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert!(out["tasks"].as_array().unwrap().is_empty(), "{out}");
    assert_eq!(out["failures"][0]["reason"], "RESOURCE:MEMORY", "{out}");
    // Overrides are held to the same range.
    definition(&p, "small", 64, json!({})).await;
    let (status, out) = call(
        &p,
        "RunTask",
        json!({"taskDefinition": "small", "overrides": {"containerOverrides": [{"name": "app", "memory": i64::MAX}]}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{out}");
    let (_, described) = call(&p, "DescribeContainerInstances", json!({"containerInstances": [arn]})).await;
    let remaining = &described["containerInstances"][0]["remainingResources"];
    let memory = remaining.as_array().unwrap().iter().find(|r| r["name"] == "MEMORY").unwrap();
    assert_eq!(memory["integerValue"], 512, "{described}");
    // Instances cannot claim more than AWS's Integer either.
    let (status, out) = call(
        &p,
        "RegisterContainerInstance",
        json!({"totalResources": [
            {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": i64::MAX}
        ]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{out}");
}
