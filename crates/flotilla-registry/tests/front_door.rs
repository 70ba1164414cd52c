//! The ECR service behind the real SigV4 front door, sharing one router with `/v2/`,
//! as the server mounts them.

use axum::Router;
use axum::body::Body;
use flotilla_domain::AccountContext;
use flotilla_protocol::{FrontDoor, FrontDoorConfig, request_id_layer};
use flotilla_registry::{Registry, RegistryConfig};
use flotilla_sigv4::{Credentials, Payload, SignableRequest, SigningParams, sign};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::SystemTime;
use tower::ServiceExt;

const KEY: &str = "AKIAREGISTRYTEST0001";
const SECRET: &str = "registry-test-secret-key-0123456789abcdef";

async fn app(dir: &std::path::Path) -> Router {
    let config = RegistryConfig { endpoint: "http://localhost:4566".into(), create_on_push: false };
    let registry =
        Registry::open(dir, &flotilla_db::testing::location(dir), AccountContext::default(), b"k".to_vec(), config)
            .await
            .unwrap();
    let config =
        FrontDoorConfig { region: "us-east-1".into(), account_id: "000000000000".into(), max_body_bytes: 1 << 20 };
    let front_door =
        FrontDoor::new(Arc::new(Credentials::new(KEY, SECRET)), config).with_module(registry.ecr_service());
    Arc::new(front_door).router().layer(axum::middleware::from_fn(request_id_layer))
}

async fn call(app: &Router, service: &str, operation: &str, input: Value) -> (StatusCode, Value) {
    let body = serde_json::to_vec(&input).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("localhost"));
    headers.insert("content-type", HeaderValue::from_static("application/x-amz-json-1.1"));
    let target = format!("AmazonEC2ContainerRegistry_V20150921.{operation}");
    headers.insert("x-amz-target", HeaderValue::from_str(&target).unwrap());
    let creds = Credentials::new(KEY, SECRET);
    let params = SigningParams { credentials: &creds, region: "us-east-1", service, time: SystemTime::now() };
    let signed = sign(&SignableRequest::new("POST", "/", "", &headers), Payload::Bytes(&body), &params).unwrap();
    headers.extend(signed);
    let mut request = http::Request::builder().method("POST").uri("/").body(Body::from(body)).unwrap();
    *request.headers_mut() = headers;
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn signed_ecr_calls_and_docker_login_share_one_router() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let (status, out) = call(&app, "ecr", "CreateRepository", json!({"repositoryName": "web"})).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(out["repository"]["repositoryUri"], "localhost:4566/web");
    let (status, out) = call(&app, "ecs", "DescribeRepositories", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(out["__type"], "InvalidSignatureException");
    let (status, out) = call(&app, "ecr", "DescribeRepositories", json!({"repositoryNames": ["nope"]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(out["__type"], "RepositoryNotFoundException");
    let (_, out) = call(&app, "ecr", "GetAuthorizationToken", json!({})).await;
    assert_eq!(out["authorizationData"][0]["proxyEndpoint"], "http://localhost:4566");
    let token = out["authorizationData"][0]["authorizationToken"].as_str().unwrap();
    let request = http::Request::builder()
        .uri("/v2/web/tags/list")
        .header("authorization", format!("Basic {token}"))
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let unsigned = http::Request::builder().uri("/v2/").body(Body::empty()).unwrap();
    assert_eq!(app.clone().oneshot(unsigned).await.unwrap().status(), StatusCode::UNAUTHORIZED);
}
