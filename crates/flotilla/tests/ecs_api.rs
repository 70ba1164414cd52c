//! The control plane in-process: signed ECS calls through the real router and a
//! real SQLite file.

mod common;

use common::{call, plane};
use http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn task_definition_round_trip_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let definition = json!({
        "family": "web",
        "containerDefinitions": [{
            "name": "app", "image": "busybox", "memory": 64, "cpu": 128,
            "portMappings": [{"containerPort": 80}],
            "environment": [{"name": "MODE", "value": "test"}],
            "dockerLabels": {"team": "core"}
        }],
        "tags": [{"key": "owner", "value": "me"}]
    });
    {
        let p = plane(&dir).await;
        let (status, out) = call(&p, "RegisterTaskDefinition", definition.clone()).await;
        assert_eq!(status, StatusCode::OK, "{out}");
        assert_eq!(out["taskDefinition"]["revision"], 1);
        assert_eq!(
            out["taskDefinition"]["taskDefinitionArn"],
            "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1"
        );
        let (_, out) = call(&p, "RegisterTaskDefinition", definition).await;
        assert_eq!(out["taskDefinition"]["revision"], 2);
        p.store.close().await;
    }
    let p = plane(&dir).await;
    let (status, out) =
        call(&p, "DescribeTaskDefinition", json!({"taskDefinition": "web:1", "include": ["TAGS"]})).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let c = &out["taskDefinition"]["containerDefinitions"][0];
    assert_eq!(c["portMappings"][0], json!({"containerPort": 80, "protocol": "tcp"}));
    assert_eq!(c["essential"], true);
    assert_eq!(c["dockerLabels"]["team"], "core");
    assert_eq!(out["taskDefinition"]["status"], "ACTIVE");
    assert!(out["taskDefinition"]["registeredAt"].as_f64().unwrap() > 1.7e9);
    assert_eq!(out["tags"], json!([{"key": "owner", "value": "me"}]));
    let (_, out) = call(&p, "DescribeTaskDefinition", json!({"taskDefinition": "web"})).await;
    assert_eq!(out["taskDefinition"]["revision"], 2);
}

#[tokio::test]
async fn refusals_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = plane(&dir).await;
    let bad = json!({"family": "web", "containerDefinitions": [{"name": "app", "image": "busybox"}]});
    let (status, out) = call(&p, "RegisterTaskDefinition", bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(out["__type"], "ClientException");
    assert!(out["message"].as_str().unwrap().contains("memoryReservation"), "{out}");
    let (_, out) = call(&p, "ListTaskDefinitionFamilies", json!({"status": "ALL"})).await;
    assert_eq!(out["families"], json!([]));

    let (status, out) = call(
        &p,
        "RegisterTaskDefinition",
        json!({"family": "web", "networkMode": "bogus",
        "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 8}]}),
    )
    .await;
    assert_eq!((status, out["__type"].as_str().unwrap()), (StatusCode::BAD_REQUEST, "InvalidParameterException"));
    assert!(out["message"].as_str().unwrap().starts_with("networkMode"), "{out}");

    let (_, out) = call(&p, "CreateCluster", json!({"clusterName": "bad name"})).await;
    assert_eq!(out["__type"], "InvalidParameterException");
    let (_, out) = call(&p, "ListClusters", json!({})).await;
    assert_eq!(out["clusterArns"], json!([]));
}

#[tokio::test]
async fn cluster_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let p = plane(&dir).await;
    let (_, out) = call(&p, "CreateCluster", json!({})).await;
    assert_eq!(out["cluster"]["clusterName"], "default");
    let (_, out) = call(
        &p,
        "UpdateClusterSettings",
        json!({"cluster": "default",
        "settings": [{"name": "containerInsights", "value": "enabled"}]}),
    )
    .await;
    assert_eq!(out["cluster"]["settings"], json!([{"name": "containerInsights", "value": "enabled"}]));
    let (_, out) =
        call(&p, "DeleteCluster", json!({"cluster": "arn:aws:ecs:us-east-1:000000000000:cluster/default"})).await;
    assert_eq!(out["cluster"]["status"], "INACTIVE");
    let (_, out) = call(&p, "DescribeClusters", json!({})).await;
    assert_eq!(out["clusters"][0]["status"], "INACTIVE");
    let (status, out) = call(
        &p,
        "UpdateClusterSettings",
        json!({"cluster": "default",
        "settings": [{"name": "containerInsights", "value": "enabled"}]}),
    )
    .await;
    assert_eq!((status, out["__type"].as_str().unwrap()), (StatusCode::BAD_REQUEST, "ClusterNotFoundException"));
}

#[tokio::test]
async fn made_up_operations_never_grow_the_metrics() {
    use tower::ServiceExt;
    let dir = tempfile::tempdir().unwrap();
    let p = plane(&dir).await;
    let metrics = |p: &flotilla::server::ControlPlane| {
        let router = p.router();
        async move {
            let request = axum::http::Request::builder().uri("/metrics").body(axum::body::Body::empty()).unwrap();
            let body = router.oneshot(request).await.unwrap().into_body();
            String::from_utf8(axum::body::to_bytes(body, usize::MAX).await.unwrap().to_vec()).unwrap()
        }
    };
    call(&p, "ListClusters", json!({})).await;
    for i in 0..50 {
        let (status, _) = call(&p, &format!("MadeUpOperation{i}"), json!({})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let text = metrics(&p).await;
    assert!(!text.contains("MadeUpOperation"), "made-up names became labels:\n{text}");
    assert!(text.contains("operation=\"ListClusters\""), "{text}");
    assert!(text.contains("operation=\"unknown\",status=\"400\""), "{text}");
}

#[tokio::test]
async fn sizes_aws_limits_are_limited_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let p = plane(&dir).await;
    call(&p, "CreateCluster", json!({"clusterName": "default"})).await;
    let arn = "arn:aws:ecs:us-east-1:000000000000:cluster/default";
    // A task definition is at most 64 KiB, however its size is reached.
    let env: Vec<_> = (0..10_000).map(|i| json!({"name": format!("V{i}"), "value": "x"})).collect();
    let big = json!({"family": "big", "containerDefinitions": [
        {"name": "app", "image": "busybox", "memory": 64, "environment": env}]});
    let (status, out) = call(&p, "RegisterTaskDefinition", big).await;
    assert_eq!((status, out["__type"].as_str()), (StatusCode::BAD_REQUEST, Some("ClientException")), "{out}");
    let huge_value = json!({"family": "big", "containerDefinitions": [{"name": "app", "image": "busybox",
        "memory": 64, "environment": [{"name": "V", "value": "x".repeat(3 << 20)}]}]});
    let (status, _) = call(&p, "RegisterTaskDefinition", huge_value).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, families) = call(&p, "ListTaskDefinitionFamilies", json!({})).await;
    assert_eq!(families["families"], json!([]), "nothing registered");
    // At most 50 tag keys per UntagResource, 10 instances per UpdateContainerInstancesState.
    let keys: Vec<String> = (0..10_000).map(|i| format!("k{i}")).collect();
    let (status, out) = call(&p, "UntagResource", json!({"resourceArn": arn, "tagKeys": keys})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{out}");
    let ids: Vec<String> = (0..10_000).map(|i| format!("{i:032}")).collect();
    let (status, out) =
        call(&p, "UpdateContainerInstancesState", json!({"containerInstances": ids, "status": "DRAINING"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{out}");
    // A cluster setting is given once.
    let settings: Vec<_> = (0..10_000).map(|_| json!({"name": "containerInsights", "value": "enabled"})).collect();
    let (status, out) = call(&p, "CreateCluster", json!({"clusterName": "many", "settings": settings})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{out}");
    let (_, clusters) = call(&p, "ListClusters", json!({})).await;
    assert_eq!(clusters["clusterArns"], json!([arn]), "nothing created");
    // A secret has at most 50 tags.
    let tags: Vec<_> = (0..10_000).map(|i| json!({"Key": format!("k{i}"), "Value": "v"})).collect();
    let (status, out) =
        call(&p, "secretsmanager.CreateSecret", json!({"Name": "s", "SecretString": "v", "Tags": tags})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{out}");
    let (_, listed) = call(&p, "secretsmanager.ListSecrets", json!({})).await;
    assert_eq!(listed["SecretList"], json!([]), "nothing stored");
}
