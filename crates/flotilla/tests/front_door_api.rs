//! The assembled front door: every module's operation table matches what the module
//! serves, and the protocols other than JSON 1.1 reach it.

mod common;

use axum::body::Body;
use flotilla_protocol::Wire;
use flotilla_sigv4::{Credentials, Payload, SignableRequest, SigningParams, sign};
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use std::time::SystemTime;
use tower::ServiceExt;

struct Answer {
    status: StatusCode,
    content_type: String,
    body: String,
}

async fn send(
    plane: &flotilla::server::ControlPlane,
    service: &str,
    headers: &[(&'static str, &str)],
    body: &[u8],
) -> Answer {
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("localhost"));
    for (k, v) in headers {
        h.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    let creds = Credentials::new(common::KEY, common::SECRET);
    let params = SigningParams { credentials: &creds, region: "us-east-1", service, time: SystemTime::now() };
    let signed = sign(&SignableRequest::new("POST", "/", "", &h), Payload::Bytes(body), &params).unwrap();
    h.extend(signed);
    let mut request = Request::builder().method("POST").uri("/").body(Body::from(body.to_vec())).unwrap();
    *request.headers_mut() = h;
    let response = plane.router().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    Answer { status, content_type, body: String::from_utf8_lossy(&bytes).into_owned() }
}

#[tokio::test]
async fn every_tabled_operation_is_served_by_its_module() {
    let dir = tempfile::tempdir().unwrap();
    let plane = common::plane(&dir).await;
    let mut checked = 0;
    for module in plane.modules() {
        let Wire::Json { target_prefix, .. } = module.wire() else { continue };
        for op in module.operations() {
            let target = format!("{target_prefix}.{}", op.name);
            let headers = [("x-amz-target", target.as_str()), ("content-type", "application/x-amz-json-1.1")];
            let a = send(&plane, module.signing_name(), &headers, b"{}").await;
            let body: serde_json::Value = serde_json::from_str(&a.body).unwrap();
            assert_ne!(body["__type"], "UnknownOperationException", "{target}: {body}");
            assert!(!a.status.is_server_error(), "{target}: {body}");
            checked += 1;
        }
        let target = format!("{target_prefix}.NoSuchOperation");
        let a = send(&plane, module.signing_name(), &[("x-amz-target", target.as_str())], b"{}").await;
        assert!(a.body.contains("UnknownOperationException"), "{target}: {}", a.body);
    }
    assert!(checked > 60, "only {checked} operations are tabled");
}

#[tokio::test]
async fn json_1_0_requests_are_answered_in_json_1_0() {
    let dir = tempfile::tempdir().unwrap();
    let plane = common::plane(&dir).await;
    let headers = [
        ("x-amz-target", "AmazonEC2ContainerServiceV20141113.ListClusters"),
        ("content-type", "application/x-amz-json-1.0"),
    ];
    let a = send(&plane, "ecs", &headers, b"{}").await;
    assert_eq!((a.status, a.content_type.as_str()), (StatusCode::OK, "application/x-amz-json-1.0"), "{}", a.body);
    let in_1_0: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    let (status, in_1_1) = common::call(&plane, "ListClusters", serde_json::json!({})).await;
    assert_eq!((status, in_1_0), (StatusCode::OK, in_1_1));
}

#[tokio::test]
async fn query_requests_for_services_not_served_get_xml_errors() {
    let dir = tempfile::tempdir().unwrap();
    let plane = common::plane(&dir).await;
    let form = [("content-type", "application/x-www-form-urlencoded; charset=utf-8")];
    let a = send(&plane, "ec2", &form, b"Action=DescribeInstances&Version=2016-11-15").await;
    assert_eq!((a.status, a.content_type.as_str()), (StatusCode::BAD_REQUEST, "text/xml"));
    assert!(a.body.contains("<Code>InvalidAction</Code>") && a.body.contains("DescribeInstances"), "{}", a.body);
    // A form-encoded request signed for a JSON service is not routed to it either.
    let a = send(&plane, "ecs", &form, b"Action=ListClusters&Version=2014-11-13").await;
    assert!(a.body.contains("<Code>InvalidAction</Code>"), "{}", a.body);
}
