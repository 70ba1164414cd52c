//! Shared by the in-process API tests: a control plane on a temporary directory
//! and signed calls through its router.

use axum::body::Body;
use flotilla::credentials::RootCredentials;
use flotilla::server::{ControlPlane, ServerConfig};
use flotilla_domain::AccountContext;
use flotilla_sigv4::{Credentials, Payload, SignableRequest, SigningParams, sign};
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use serde_json::Value;
use std::time::SystemTime;
use tower::ServiceExt;

pub const KEY: &str = "AKIAINTEGRATIONTEST1";
pub const SECRET: &str = "integration-test-secret-key-0123456789abc";

pub async fn plane(dir: &tempfile::TempDir) -> ControlPlane {
    let config = ServerConfig {
        data_dir: dir.path().to_path_buf(),
        store: flotilla_db::testing::location(dir.path()),
        account: AccountContext::default(),
        credentials: RootCredentials { access_key_id: KEY.into(), secret_access_key: SECRET.into() },
        endpoint: "http://localhost".into(),
        load_balancer_addresses: Default::default(),
    };
    ControlPlane::open(&config).await.unwrap()
}

pub async fn call(plane: &ControlPlane, operation: &str, input: Value) -> (StatusCode, Value) {
    let body = serde_json::to_vec(&input).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("localhost"));
    headers.insert("content-type", HeaderValue::from_static("application/x-amz-json-1.1"));
    let target = if operation.contains('.') {
        operation.to_string()
    } else {
        format!("AmazonEC2ContainerServiceV20141113.{operation}")
    };
    headers.insert("x-amz-target", HeaderValue::from_str(&target).unwrap());
    // Each service checks that the signature is scoped to its own signing name.
    let service = match target.split_once('.').map(|(prefix, _)| prefix) {
        Some("secretsmanager") => "secretsmanager",
        Some("AmazonEC2ContainerRegistry_V20150921") => "ecr",
        _ => "ecs",
    };
    let creds = Credentials::new(KEY, SECRET);
    let params = SigningParams { credentials: &creds, region: "us-east-1", service, time: SystemTime::now() };
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
