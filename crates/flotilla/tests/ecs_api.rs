//! The control plane in-process: signed ECS calls through the real router and a
//! real SQLite file.

use axum::body::Body;
use flotilla::credentials::RootCredentials;
use flotilla::server::{ControlPlane, ServerConfig};
use flotilla_domain::AccountContext;
use flotilla_sigv4::{Credentials, Payload, SignableRequest, SigningParams, sign};
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use serde_json::{Value, json};
use std::time::SystemTime;
use tower::ServiceExt;

const KEY: &str = "AKIAINTEGRATIONTEST1";
const SECRET: &str = "integration-test-secret-key-0123456789abc";

async fn plane(dir: &tempfile::TempDir) -> ControlPlane {
    let config = ServerConfig {
        data_dir: dir.path().to_path_buf(),
        account: AccountContext::default(),
        credentials: RootCredentials { access_key_id: KEY.into(), secret_access_key: SECRET.into() },
    };
    ControlPlane::open(&config).await.unwrap()
}

async fn call(plane: &ControlPlane, operation: &str, input: Value) -> (StatusCode, Value) {
    let body = serde_json::to_vec(&input).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("localhost"));
    headers.insert("content-type", HeaderValue::from_static("application/x-amz-json-1.1"));
    let target = format!("AmazonEC2ContainerServiceV20141113.{operation}");
    headers.insert("x-amz-target", HeaderValue::from_str(&target).unwrap());
    let creds = Credentials::new(KEY, SECRET);
    let params = SigningParams { credentials: &creds, region: "us-east-1", service: "ecs", time: SystemTime::now() };
    let signed = sign(&SignableRequest::new("POST", "/", "", &headers), Payload::Bytes(&body), &params).unwrap();
    headers.extend(signed);
    let mut request = Request::builder().method("POST").uri("/").body(Body::from(body)).unwrap();
    *request.headers_mut() = headers;
    let response = plane.router().oneshot(request).await.unwrap();
    let status = response.status();
    assert!(response.headers().contains_key("x-amzn-requestid"));
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

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
