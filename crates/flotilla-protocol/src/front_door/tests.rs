use super::*;
use axum::Router;
use axum::routing::post;
use flotilla_sigv4::{Credentials, Payload, SigningParams, sign};
use tower::ServiceExt;

struct Echo;

#[async_trait]
impl JsonService for Echo {
    fn target_prefix(&self) -> &'static str {
        "Echo_20200101"
    }
    fn signing_name(&self) -> &'static str {
        "echo"
    }
    async fn call(&self, operation: &str, body: Bytes, caller: &Caller) -> Result<Response, AwsError> {
        if operation == "Fail" {
            return Err(AwsError::client("ClientException", "failed on purpose"));
        }
        let value = serde_json::json!({"op": operation, "len": body.len(), "key": caller.access_key_id});
        Ok(crate::json_response(&value))
    }
}

fn app(limit: usize) -> Router {
    let creds = Arc::new(Credentials::new("AKIDTEST", "secret"));
    let door = Arc::new(FrontDoor::new(creds, "us-east-1", limit).with_service(Arc::new(Echo)));
    Router::new()
        .route("/", post(move |req: Request| async move { door.handle(req).await }))
        .layer(axum::middleware::from_fn(request_id_layer))
}

fn signed(target: &str, body: &'static [u8], secret: &str, service: &str, region: &str) -> Request {
    let mut headers = http::HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("localhost"));
    headers.insert("x-amz-target", HeaderValue::from_str(target).unwrap());
    let creds = Credentials::new("AKIDTEST", secret);
    let params = SigningParams { credentials: &creds, region, service, time: SystemTime::now() };
    let added = sign(&SignableRequest::new("POST", "/", "", &headers), Payload::Bytes(body), &params).unwrap();
    headers.extend(added);
    let mut req = Request::builder().method("POST").uri("/").body(Body::from(body)).unwrap();
    *req.headers_mut() = headers;
    req
}

async fn answer(app: Router, req: Request) -> (StatusCode, serde_json::Value, bool) {
    let res = app.oneshot(req).await.unwrap();
    let status = res.status();
    let has_id = res.headers().contains_key(REQUEST_ID_HEADER);
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap(), has_id)
}

#[tokio::test]
async fn routes_signed_requests() {
    let (status, body, has_id) =
        answer(app(1024), signed("Echo_20200101.Ping", b"{}", "secret", "echo", "us-east-1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["op"], "Ping");
    assert_eq!(body["key"], "AKIDTEST");
    assert!(has_id);
}

#[tokio::test]
async fn refusals_have_the_aws_shape() {
    let cases: Vec<(Request, StatusCode, &str)> = vec![
        (
            Request::builder()
                .method("POST")
                .uri("/")
                .header("x-amz-target", "Echo_20200101.Ping")
                .body(Body::from("{}"))
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "MissingAuthenticationTokenException",
        ),
        (
            signed("Echo_20200101.Ping", b"{}", "wrong", "echo", "us-east-1"),
            StatusCode::BAD_REQUEST,
            "InvalidSignatureException",
        ),
        (
            signed("Echo_20200101.Nope.", b"{}", "secret", "other", "us-east-1"),
            StatusCode::BAD_REQUEST,
            "InvalidSignatureException",
        ),
        (
            signed("Echo_20200101.Ping", b"{}", "secret", "echo", "eu-west-1"),
            StatusCode::BAD_REQUEST,
            "InvalidSignatureException",
        ),
        (
            signed("Other.Ping", b"{}", "secret", "echo", "us-east-1"),
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
        ),
        (
            signed("Echo_20200101.Fail", b"{}", "secret", "echo", "us-east-1"),
            StatusCode::BAD_REQUEST,
            "ClientException",
        ),
        (
            signed("Echo_20200101.Ping", &[b' '; 2048], "secret", "echo", "us-east-1"),
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLargeException",
        ),
    ];
    for (req, want_status, want_code) in cases {
        let (status, body, has_id) = answer(app(1024), req).await;
        assert_eq!((status, body["__type"].as_str().unwrap()), (want_status, want_code), "{body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(has_id);
    }
}
