use super::*;
use crate::auth::{CredentialLookupError, Principal};
use crate::module::Operation;
use async_trait::async_trait;
use flotilla_sigv4::{Credentials, Payload, SigningParams, sign};
use http::StatusCode;
use std::sync::Mutex;
use tower::ServiceExt;

/// Counts the calls that reached it; `Mirror` answers the JSON it was given.
struct Echo {
    calls: Mutex<Vec<String>>,
    bodies: Mutex<Vec<serde_json::Value>>,
    wire: Wire,
}

impl Default for Echo {
    fn default() -> Self {
        Echo::with_wire(Wire::Json { target_prefix: "Echo_20200101", cbor_service: Some("EchoService") })
    }
}

impl Echo {
    fn with_wire(wire: Wire) -> Self {
        Echo { calls: Mutex::default(), bodies: Mutex::default(), wire }
    }
}

fn thing_arn(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    input.str("thing").map(|t| scope.arn("echo", &format!("thing/{t}"))).into_iter().collect()
}

static ECHO_OPERATIONS: &[Operation] = &[
    Operation::new("Ping", "echo:Ping", Resources::From(thing_arn)),
    Operation::new("Fail", "echo:Fail", Resources::Any),
    Operation::new("Mirror", "echo:Mirror", Resources::From(thing_arn)).timestamps(&["At", "Times"]).blobs(&["Data"]),
];

#[async_trait]
impl ServiceModule for Echo {
    fn wire(&self) -> Wire {
        self.wire
    }
    fn signing_name(&self) -> &'static str {
        "echo"
    }
    fn operations(&self) -> &'static [Operation] {
        ECHO_OPERATIONS
    }
    async fn call(&self, operation: &str, body: Bytes, caller: &Caller) -> Result<Response, AwsError> {
        self.calls.lock().unwrap().push(operation.to_string());
        if operation == "Fail" {
            return Err(AwsError::client("ClientException", "failed on purpose"));
        }
        if operation == "Mirror" {
            let input: serde_json::Map<String, serde_json::Value> = crate::parse_request(&body, "ValidationException")?;
            let value = serde_json::Value::Object(input);
            self.bodies.lock().unwrap().push(value.clone());
            return Ok(crate::json_response(&value));
        }
        let value = serde_json::json!({"op": operation, "len": body.len(), "key": caller.access_key_id});
        Ok(crate::json_response(&value))
    }
}

#[derive(Default)]
struct Hello {
    calls: Mutex<Vec<String>>,
}

fn names(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    input.strs("Names").into_iter().map(|n| scope.arn("hello", &format!("name/{n}"))).collect()
}

static HELLO_OPERATIONS: &[Operation] = &[Operation::new("Greet", "hello:Greet", Resources::From(names))];

#[async_trait]
impl ServiceModule for Hello {
    fn wire(&self) -> Wire {
        Wire::Query { version: "2020-01-01", xmlns: "https://hello.example/doc/2020-01-01/" }
    }
    fn signing_name(&self) -> &'static str {
        "hello"
    }
    fn operations(&self) -> &'static [Operation] {
        HELLO_OPERATIONS
    }
    async fn call(&self, operation: &str, body: Bytes, caller: &Caller) -> Result<Response, AwsError> {
        self.calls.lock().unwrap().push(operation.to_string());
        let q = QueryRequest::parse(&body)?;
        let names = q.list("Names").join(",");
        Ok(crate::query_response(operation, "https://hello.example/doc/2020-01-01/", &caller.request_id, |w| {
            w.element("Names", &names);
        }))
    }
}

/// What an authorizer was asked: service, action, resources and principal.
type Asked = (String, String, Vec<String>, Option<String>);

/// Denies everything, recording what it was asked.
#[derive(Default)]
struct DenyAll {
    asked: Mutex<Vec<Asked>>,
}

#[async_trait]
impl Authorizer for DenyAll {
    async fn authorize(&self, r: &AuthorizationRequest<'_>) -> Decision {
        self.asked.lock().unwrap().push((
            r.service.to_string(),
            r.action.to_string(),
            r.resources.to_vec(),
            r.caller.principal_arn.clone(),
        ));
        Decision::Deny { resource: r.resources[0].clone() }
    }
}

/// A credential source whose store is down.
struct Broken;

#[async_trait]
impl CredentialSource for Broken {
    async fn lookup(&self, access_key_id: &str) -> Result<Option<Principal>, CredentialLookupError> {
        Err(CredentialLookupError { access_key_id: access_key_id.into(), reason: "the store is closed".into() })
    }
}

struct App {
    router: axum::Router,
    echo: Arc<Echo>,
    hello: Arc<Hello>,
}

fn config(limit: usize) -> FrontDoorConfig {
    FrontDoorConfig { region: "us-east-1".into(), account_id: "000000000000".into(), max_body_bytes: limit }
}

fn app_with(limit: usize, credentials: Arc<dyn CredentialSource>, authorizer: Option<Arc<dyn Authorizer>>) -> App {
    let echo = Arc::new(Echo::default());
    let hello = Arc::new(Hello::default());
    let mut door = FrontDoor::new(credentials, config(limit)).with_module(echo.clone()).with_module(hello.clone());
    if let Some(a) = authorizer {
        door = door.with_authorizer(a);
    }
    let router = Arc::new(door).router().layer(axum::middleware::from_fn(request_id_layer));
    App { router, echo, hello }
}

fn app(limit: usize) -> App {
    app_with(limit, Arc::new(Credentials::new("AKIDTEST", "secret")), None)
}

struct Req<'a> {
    path: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    body: &'a [u8],
    secret: &'a str,
    service: &'a str,
    region: &'a str,
}

impl<'a> Req<'a> {
    fn json(target: &'a str, body: &'a [u8]) -> Self {
        let headers = vec![("x-amz-target", target), ("content-type", "application/x-amz-json-1.1")];
        Req { path: "/", headers, body, secret: "secret", service: "echo", region: "us-east-1" }
    }
    /// An RPC v2 CBOR request to `path`, with the headers botocore sends.
    fn cbor(path: &'a str, body: &'a [u8]) -> Self {
        let headers = vec![
            ("smithy-protocol", "rpc-v2-cbor"),
            ("content-type", "application/cbor"),
            ("accept", "application/cbor"),
        ];
        Req { path, headers, body, secret: "secret", service: "echo", region: "us-east-1" }
    }
    fn query(body: &'a [u8]) -> Self {
        let headers = vec![("content-type", "application/x-www-form-urlencoded; charset=utf-8")];
        Req { path: "/", headers, body, secret: "secret", service: "hello", region: "us-east-1" }
    }
    fn signed(self) -> Request {
        let mut headers = http::HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("localhost"));
        for (k, v) in &self.headers {
            headers.insert(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        let creds = Credentials::new("AKIDTEST", self.secret);
        let params =
            SigningParams { credentials: &creds, region: self.region, service: self.service, time: SystemTime::now() };
        let added =
            sign(&SignableRequest::new("POST", self.path, "", &headers), Payload::Bytes(self.body), &params).unwrap();
        headers.extend(added);
        self.unsigned_with(headers)
    }
    fn unsigned(self) -> Request {
        let mut headers = http::HeaderMap::new();
        for (k, v) in &self.headers {
            headers.insert(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        self.unsigned_with(headers)
    }
    fn unsigned_with(self, headers: http::HeaderMap) -> Request {
        let mut req = Request::builder().method("POST").uri(self.path).body(Body::from(self.body.to_vec())).unwrap();
        *req.headers_mut() = headers;
        req
    }
}

struct Answer {
    status: StatusCode,
    content_type: String,
    smithy_protocol: Option<String>,
    body: String,
    bytes: Vec<u8>,
    has_id: bool,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    fn cbor(&self) -> serde_json::Value {
        crate::cbor::decode(&self.bytes).unwrap_or_else(|e| panic!("{e}: {:02x?}", self.bytes))
    }
    /// The text of the first `<name>` element.
    fn xml(&self, name: &str) -> &str {
        let start = self.body.find(&format!("<{name}>")).unwrap_or_else(|| panic!("no <{name}> in {}", self.body));
        let rest = &self.body[start + name.len() + 2..];
        &rest[..rest.find('<').unwrap()]
    }
}

async fn answer(router: &axum::Router, req: Request) -> Answer {
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let has_id = res.headers().contains_key(REQUEST_ID_HEADER);
    let header = |name: &str| res.headers().get(name).map(|v| v.to_str().unwrap().to_string());
    let content_type = header("content-type").unwrap_or_default();
    let smithy_protocol = header("smithy-protocol");
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    let body = String::from_utf8_lossy(&bytes).into_owned();
    Answer { status, content_type, smithy_protocol, body, bytes: bytes.to_vec(), has_id }
}

#[tokio::test]
async fn routes_signed_json_requests_in_the_version_they_came_in() {
    let app = app(1024);
    let a = answer(&app.router, Req::json("Echo_20200101.Ping", b"{}").signed()).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.content_type, "application/x-amz-json-1.1");
    assert_eq!(a.json()["op"], "Ping");
    assert_eq!(a.json()["key"], "AKIDTEST");
    assert!(a.has_id);

    let mut req = Req::json("Echo_20200101.Ping", b"{}");
    req.headers[1].1 = "application/x-amz-json-1.0";
    let a = answer(&app.router, req.signed()).await;
    assert_eq!((a.status, a.content_type.as_str()), (StatusCode::OK, "application/x-amz-json-1.0"));
    let mut req = Req::json("Echo_20200101.Nope", b"{}");
    req.headers[1].1 = "application/x-amz-json-1.0";
    let a = answer(&app.router, req.signed()).await;
    assert_eq!((a.status, a.content_type.as_str()), (StatusCode::BAD_REQUEST, "application/x-amz-json-1.0"));
    assert_eq!(a.json()["__type"], "UnknownOperationException");
    assert_eq!(*app.echo.calls.lock().unwrap(), vec!["Ping", "Ping"]);
}

#[tokio::test]
async fn json_refusals_have_the_aws_shape() {
    let wrong_service = Req { service: "other", ..Req::json("Echo_20200101.Ping", b"{}") };
    let wrong_region = Req { region: "eu-west-1", ..Req::json("Echo_20200101.Ping", b"{}") };
    let cases: Vec<(Request, StatusCode, &str)> = vec![
        (
            Req::json("Echo_20200101.Ping", b"{}").unsigned(),
            StatusCode::BAD_REQUEST,
            "MissingAuthenticationTokenException",
        ),
        (
            Req { secret: "wrong", ..Req::json("Echo_20200101.Ping", b"{}") }.signed(),
            StatusCode::BAD_REQUEST,
            "InvalidSignatureException",
        ),
        (wrong_service.signed(), StatusCode::BAD_REQUEST, "InvalidSignatureException"),
        (wrong_region.signed(), StatusCode::BAD_REQUEST, "InvalidSignatureException"),
        (Req::json("Other.Ping", b"{}").signed(), StatusCode::BAD_REQUEST, "UnknownOperationException"),
        (Req::json("Echo_20200101.", b"{}").signed(), StatusCode::BAD_REQUEST, "UnknownOperationException"),
        (Req::json("Echo_20200101.Nope", b"{}").signed(), StatusCode::BAD_REQUEST, "UnknownOperationException"),
        (Req::json("Echo_20200101.Fail", b"{}").signed(), StatusCode::BAD_REQUEST, "ClientException"),
        (
            Req::json("Echo_20200101.Ping", &[b' '; 2048]).signed(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLargeException",
        ),
    ];
    let app = app(1024);
    for (req, want_status, want_code) in cases {
        let a = answer(&app.router, req).await;
        let body = a.json();
        assert_eq!((a.status, body["__type"].as_str().unwrap()), (want_status, want_code), "{body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(a.has_id);
    }
    assert_eq!(*app.echo.calls.lock().unwrap(), vec!["Fail"]);
}

#[tokio::test]
async fn routes_query_requests_by_signing_name_and_action() {
    let app = app(1024);
    let a = answer(
        &app.router,
        Req::query(b"Action=Greet&Version=2020-01-01&Names.member.2=b&Names.member.1=a%26z").signed(),
    )
    .await;
    assert_eq!((a.status, a.content_type.as_str()), (StatusCode::OK, "text/xml"), "{}", a.body);
    assert!(a.body.starts_with("<GreetResponse xmlns=\"https://hello.example/doc/2020-01-01/\"><GreetResult>"));
    assert_eq!(a.xml("Names"), "a&amp;z,b");
    assert!(!a.xml("RequestId").is_empty());
    assert_eq!(*app.hello.calls.lock().unwrap(), vec!["Greet"]);

    // Errors of a module that was reached carry its namespace.
    let a = answer(&app.router, Req::query(b"Action=Shout&Version=2020-01-01").signed()).await;
    assert!(a.body.starts_with("<ErrorResponse xmlns=\"https://hello.example/doc/2020-01-01/\"><Error>"), "{}", a.body);
}

#[tokio::test]
async fn query_refusals_are_xml_in_the_query_shape() {
    let cases: Vec<(Request, StatusCode, &str)> = vec![
        (
            Req::query(b"Action=Greet&Version=2020-01-01").unsigned(),
            StatusCode::FORBIDDEN,
            "MissingAuthenticationToken",
        ),
        (
            Req { secret: "wrong", ..Req::query(b"Action=Greet&Version=2020-01-01") }.signed(),
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
        ),
        (
            Req { region: "eu-west-1", ..Req::query(b"Action=Greet&Version=2020-01-01") }.signed(),
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
        ),
        (Req::query(b"Action=Shout&Version=2020-01-01").signed(), StatusCode::BAD_REQUEST, "InvalidAction"),
        (Req::query(b"Action=Greet&Version=1999-01-01").signed(), StatusCode::BAD_REQUEST, "InvalidAction"),
        (
            Req { service: "sts", ..Req::query(b"Action=GetCallerIdentity&Version=2011-06-15") }.signed(),
            StatusCode::BAD_REQUEST,
            "InvalidAction",
        ),
        (Req::query(b"Version=2020-01-01").signed(), StatusCode::BAD_REQUEST, "MissingAction"),
        (Req::query(&[b'x'; 2048]).signed(), StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge"),
    ];
    let app = app(1024);
    for (req, want_status, want_code) in cases {
        let a = answer(&app.router, req).await;
        assert_eq!((a.status, a.xml("Code")), (want_status, want_code), "{}", a.body);
        assert_eq!(a.content_type, "text/xml");
        assert!(a.body.starts_with("<ErrorResponse"), "{}", a.body);
        assert_eq!(a.xml("Type"), "Sender");
        assert!(!a.xml("Message").is_empty());
        assert!(!a.xml("RequestId").is_empty() && a.has_id);
    }
    assert!(app.hello.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_denying_authorizer_refuses_in_each_protocol_before_the_service() {
    let deny = Arc::new(DenyAll::default());
    let root = Principal::new(Credentials::new("AKIDTEST", "secret"), Some("arn:aws:iam::000000000000:root".into()));
    let app = app_with(1024, Arc::new(crate::StaticCredentials(root)), Some(deny.clone()));

    let a = answer(&app.router, Req::json("Echo_20200101.Ping", br#"{"thing":"t1"}"#).signed()).await;
    assert_eq!((a.status, a.json()["__type"].as_str()), (StatusCode::BAD_REQUEST, Some("AccessDeniedException")));
    assert_eq!(
        a.json()["message"],
        "User: arn:aws:iam::000000000000:root is not authorized to perform: echo:Ping on resource: \
         arn:aws:echo:us-east-1:000000000000:thing/t1"
    );
    let a = answer(&app.router, Req::json("Echo_20200101.Fail", b"{}").signed()).await;
    assert!(a.json()["message"].as_str().unwrap().ends_with("echo:Fail on resource: *"), "{}", a.body);

    let a = answer(&app.router, Req::query(b"Action=Greet&Version=2020-01-01&Names.member.1=n").signed()).await;
    assert_eq!((a.status, a.xml("Code")), (StatusCode::FORBIDDEN, "AccessDenied"), "{}", a.body);
    assert!(a.xml("Message").ends_with("hello:Greet on resource: arn:aws:hello:us-east-1:000000000000:name/n"));

    assert!(app.echo.calls.lock().unwrap().is_empty());
    assert!(app.hello.calls.lock().unwrap().is_empty());
    let asked = deny.asked.lock().unwrap();
    let root = Some("arn:aws:iam::000000000000:root".to_string());
    assert_eq!(
        asked[0],
        ("echo".into(), "echo:Ping".into(), vec!["arn:aws:echo:us-east-1:000000000000:thing/t1".into()], root.clone())
    );
    assert_eq!(asked[1], ("echo".into(), "echo:Fail".into(), vec!["*".into()], root));
    assert_eq!(asked.len(), 3);
}

#[tokio::test]
async fn credentials_are_looked_up_asynchronously() {
    // An unknown key is refused by the verifier as AWS refuses it.
    let app = app(1024);
    let mut req = Req::json("Echo_20200101.Ping", b"{}").signed();
    let auth = req.headers()["authorization"].to_str().unwrap().replace("AKIDTEST", "AKIDOTHER");
    req.headers_mut().insert("authorization", HeaderValue::from_str(&auth).unwrap());
    let a = answer(&app.router, req).await;
    assert_eq!(a.json()["__type"], "UnrecognizedClientException");

    // A failing source is a server error, not a refusal of the caller.
    let app = app_with(1024, Arc::new(Broken), None);
    let a = answer(&app.router, Req::json("Echo_20200101.Ping", b"{}").signed()).await;
    assert_eq!((a.status, a.json()["__type"].as_str()), (StatusCode::INTERNAL_SERVER_ERROR, Some("InternalFailure")));
    assert!(app.echo.calls.lock().unwrap().is_empty());
}

const MIRROR: &str = "/service/EchoService/operation/Mirror";

/// `{"thing": "t1", "At": 1(1700000000), "Times": [1(1.5 as a half float)], "Data": h'0102ff',
/// "n": -5, "list": [_ "a", 2]}`, the list of indefinite length.
const MIRROR_REQUEST: &[u8] = &[
    0xa6, 0x65, b't', b'h', b'i', b'n', b'g', 0x62, b't', b'1', 0x62, b'A', b't', 0xc1, 0x1a, 0x65, 0x53, 0xf1, 0x00,
    0x65, b'T', b'i', b'm', b'e', b's', 0x81, 0xc1, 0xf9, 0x3e, 0x00, 0x64, b'D', b'a', b't', b'a', 0x43, 0x01, 0x02,
    0xff, 0x61, b'n', 0x24, 0x64, b'l', b'i', b's', b't', 0x9f, 0x61, b'a', 0x02, 0xff,
];

#[tokio::test]
async fn rpc_v2_cbor_requests_reach_the_operation_as_json_and_are_answered_in_cbor() {
    let app = app(1024);
    let a = answer(&app.router, Req::cbor(MIRROR, MIRROR_REQUEST).signed()).await;
    assert_eq!((a.status, a.content_type.as_str()), (StatusCode::OK, "application/cbor"), "{:02x?}", a.bytes);
    assert_eq!(a.smithy_protocol.as_deref(), Some("rpc-v2-cbor"));
    assert!(a.has_id);
    // The module read the JSON AWS JSON would have carried: epoch seconds, base64 blobs.
    let as_json = serde_json::json!({
        "thing": "t1", "At": 1_700_000_000, "Times": [1.5], "Data": "AQL/", "n": -5, "list": ["a", 2]
    });
    assert_eq!(*app.echo.bodies.lock().unwrap(), vec![as_json.clone()]);
    // Its answer comes back as CBOR, the marked members typed: tag 1 and a byte string.
    assert_eq!(a.cbor(), as_json);
    let has = |needle: &[u8]| a.bytes.windows(needle.len()).any(|w| w == needle);
    assert!(has(&[b'A', b't', 0xc1, 0x1a, 0x65, 0x53, 0xf1, 0x00]), "{:02x?}", a.bytes);
    assert!(has(&[b'T', b'i', b'm', b'e', b's', 0x81, 0xc1, 0xfb, 0x3f, 0xf8]), "{:02x?}", a.bytes);
    assert!(has(&[b'D', b'a', b't', b'a', 0x43, 0x01, 0x02, 0xff]), "{:02x?}", a.bytes);
    assert!(has(&[b't', b'h', b'i', b'n', b'g', 0x62, b't', b'1']), "{:02x?}", a.bytes);

    // An empty body is an empty input, as in AWS JSON; unmarked answers are plain CBOR.
    let a = answer(&app.router, Req::cbor("/service/EchoService/operation/Ping", b"").signed()).await;
    assert_eq!(a.status, StatusCode::OK, "{:02x?}", a.bytes);
    assert_eq!(a.cbor(), serde_json::json!({"op": "Ping", "len": 0, "key": "AKIDTEST"}));
    let a = answer(&app.router, Req::cbor("/service/EchoService/operation/Ping", &[0xa0]).signed()).await;
    assert_eq!(a.cbor(), serde_json::json!({"op": "Ping", "len": 2, "key": "AKIDTEST"}));
    assert_eq!(*app.echo.calls.lock().unwrap(), vec!["Mirror", "Ping", "Ping"]);

    // The same module still answers AWS JSON.
    let a = answer(&app.router, Req::json("Echo_20200101.Mirror", br#"{"At": 1}"#).signed()).await;
    assert_eq!((a.status, a.content_type.as_str()), (StatusCode::OK, "application/x-amz-json-1.1"));
    assert_eq!(a.json(), serde_json::json!({"At": 1}));
}

#[tokio::test]
async fn rpc_v2_cbor_refusals_are_cbor_maps_botocore_reads() {
    let ping = "/service/EchoService/operation/Ping";
    let cases: Vec<(Request, StatusCode, &str)> = vec![
        (Req::cbor(MIRROR, &[0xa1, 0x61]).signed(), StatusCode::BAD_REQUEST, "SerializationException"),
        (Req::cbor(MIRROR, &[0xa1, 0x01, 0x02]).signed(), StatusCode::BAD_REQUEST, "SerializationException"),
        (Req::cbor(MIRROR, &[0xa0, 0xa0]).signed(), StatusCode::BAD_REQUEST, "SerializationException"),
        // Well-formed CBOR of the wrong shape is the operation's to refuse, as in JSON.
        (Req::cbor(MIRROR, &[0x01]).signed(), StatusCode::BAD_REQUEST, "SerializationException"),
        (
            Req::cbor("/service/Other/operation/Ping", &[0xa0]).signed(),
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
        ),
        (
            Req::cbor("/service/EchoService/operation/Nope", &[0xa0]).signed(),
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
        ),
        (Req::cbor("/service/EchoService", &[0xa0]).signed(), StatusCode::BAD_REQUEST, "UnknownOperationException"),
        (
            Req::cbor("/service/EchoService/operation/", &[0xa0]).signed(),
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
        ),
        (Req::cbor(ping, &[0xa0]).unsigned(), StatusCode::BAD_REQUEST, "MissingAuthenticationTokenException"),
        (
            Req { secret: "wrong", ..Req::cbor(ping, &[0xa0]) }.signed(),
            StatusCode::BAD_REQUEST,
            "InvalidSignatureException",
        ),
        (
            Req { service: "monitoring", ..Req::cbor(ping, &[0xa0]) }.signed(),
            StatusCode::BAD_REQUEST,
            "InvalidSignatureException",
        ),
        (
            Req { region: "eu-west-1", ..Req::cbor(ping, &[0xa0]) }.signed(),
            StatusCode::BAD_REQUEST,
            "InvalidSignatureException",
        ),
        (
            Req::cbor("/service/EchoService/operation/Fail", &[0xa0]).signed(),
            StatusCode::BAD_REQUEST,
            "ClientException",
        ),
        (Req::cbor(ping, &[0x80; 2048]).signed(), StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLargeException"),
    ];
    let app = app(1024);
    for (req, want_status, want_code) in cases {
        let a = answer(&app.router, req).await;
        assert_eq!(a.content_type, "application/cbor", "{want_code}: {}", a.body);
        assert_eq!(a.smithy_protocol.as_deref(), Some("rpc-v2-cbor"));
        let body = a.cbor();
        assert_eq!((a.status, body["__type"].as_str().unwrap()), (want_status, want_code), "{body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
        assert!(a.has_id);
    }
    assert_eq!(*app.echo.calls.lock().unwrap(), vec!["Mirror", "Fail"]);
}

#[tokio::test]
async fn rpc_v2_cbor_requests_must_sign_their_body_and_content_type() {
    let app = app(1024);
    let send = |sign_content_type: bool, payload: Payload<'static>| {
        let mut headers = http::HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("localhost"));
        headers.insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
        if sign_content_type {
            headers.insert("content-type", HeaderValue::from_static("application/cbor"));
        }
        let creds = Credentials::new("AKIDTEST", "secret");
        let params =
            SigningParams { credentials: &creds, region: "us-east-1", service: "echo", time: SystemTime::now() };
        let added = sign(&SignableRequest::new("POST", MIRROR, "", &headers), payload, &params).unwrap();
        headers.extend(added);
        headers.insert("content-type", HeaderValue::from_static("application/cbor"));
        let mut req = Request::builder().method("POST").uri(MIRROR).body(Body::from(vec![0xa0])).unwrap();
        *req.headers_mut() = headers;
        req
    };
    for (req, needle) in
        [(send(true, Payload::Unsigned), "UNSIGNED-PAYLOAD"), (send(false, Payload::Bytes(&[0xa0])), "content-type")]
    {
        let a = answer(&app.router, req).await;
        let body = a.cbor();
        assert_eq!(
            (a.status, body["__type"].as_str()),
            (StatusCode::BAD_REQUEST, Some("IncompleteSignatureException"))
        );
        assert!(body["message"].as_str().unwrap().contains(needle), "{body}");
    }
    assert!(app.echo.calls.lock().unwrap().is_empty(), "nothing reached the service");
    let a = answer(&app.router, send(true, Payload::Bytes(&[0xa0]))).await;
    assert_eq!(a.status, StatusCode::OK, "{:02x?}", a.bytes);
}

#[tokio::test]
async fn rpc_v2_cbor_requests_are_authorized_on_what_their_body_names() {
    let deny = Arc::new(DenyAll::default());
    let app = app_with(1024, Arc::new(Credentials::new("AKIDTEST", "secret")), Some(deny.clone()));
    let a = answer(&app.router, Req::cbor(MIRROR, MIRROR_REQUEST).signed()).await;
    assert_eq!((a.status, a.cbor()["__type"].as_str()), (StatusCode::BAD_REQUEST, Some("AccessDeniedException")));
    let asked = deny.asked.lock().unwrap();
    assert_eq!(asked[0].1, "echo:Mirror");
    assert_eq!(asked[0].2, vec!["arn:aws:echo:us-east-1:000000000000:thing/t1".to_string()]);
    assert!(app.echo.calls.lock().unwrap().is_empty());
}

#[test]
fn a_module_replaced_by_json_target_or_cbor_service_is_replaced_entirely() {
    let door = |second: Wire| {
        let first = Arc::new(Echo::default());
        let door = FrontDoor::new(Arc::new(Credentials::new("AKIDTEST", "secret")), config(1024))
            .with_module(first.clone())
            .with_module(Arc::new(Echo::with_wire(second)));
        let first: Arc<dyn ServiceModule> = first;
        let routed = |m: Option<&Arc<dyn ServiceModule>>| m.is_some_and(|m| Arc::ptr_eq(m, &first));
        (door.modules().len(), routed(door.json.get("Echo_20200101")) || routed(door.cbor.get("EchoService")))
    };
    assert_eq!(door(Wire::Json { target_prefix: "Other", cbor_service: Some("EchoService") }), (1, false));
    assert_eq!(door(Wire::Json { target_prefix: "Echo_20200101", cbor_service: None }), (1, false));
    assert_eq!(door(Wire::Json { target_prefix: "Other", cbor_service: Some("Other") }), (2, true));
}

#[test]
fn claimed_access_key_from_header_or_query() {
    let parts = |uri: &str, auth: Option<&str>| {
        let mut b = Request::builder().uri(uri);
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b.body(()).unwrap().into_parts().0
    };
    let auth =
        "AWS4-HMAC-SHA256 Credential=AKID1/20200101/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=00";
    assert_eq!(claimed_access_key(&parts("/", Some(auth))).as_deref(), Some("AKID1"));
    let uri = "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID2%2F20200101%2Fus-east-1%2Fecs%2Faws4_request";
    assert_eq!(claimed_access_key(&parts(uri, None)).as_deref(), Some("AKID2"));
    assert_eq!(claimed_access_key(&parts("/", None)), None);
    assert_eq!(claimed_access_key(&parts("/", Some("AWS4-HMAC-SHA256 Credential=/x"))), None);
}

/// Signs a JSON request over `signed_body` (or UNSIGNED-PAYLOAD), with only the headers
/// named in `sign` covered, then sends `sent_body` with every header.
fn partly_signed(sign_headers: &[&str], payload: Payload<'_>, sent_body: &[u8]) -> Request {
    let all = [("x-amz-target", "Echo_20200101.Ping"), ("content-type", "application/x-amz-json-1.1")];
    let mut headers = http::HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("localhost"));
    for (k, v) in all.iter().filter(|(k, _)| sign_headers.contains(k)) {
        headers.insert(*k, HeaderValue::from_static(v));
    }
    let creds = Credentials::new("AKIDTEST", "secret");
    let params = SigningParams { credentials: &creds, region: "us-east-1", service: "echo", time: SystemTime::now() };
    let added = sign(&SignableRequest::new("POST", "/", "", &headers), payload, &params).unwrap();
    headers.extend(added);
    for (k, v) in all {
        headers.insert(k, HeaderValue::from_static(v));
    }
    let mut req = Request::builder().method("POST").uri("/").body(Body::from(sent_body.to_vec())).unwrap();
    *req.headers_mut() = headers;
    req
}

#[tokio::test]
async fn a_signature_must_cover_the_body_and_the_headers_that_choose_the_operation() {
    let app = app(1024);
    let both = ["x-amz-target", "content-type"];
    // A body swapped under UNSIGNED-PAYLOAD is refused.
    let a = answer(&app.router, partly_signed(&both, Payload::Unsigned, br#"{"swapped":true}"#)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert_eq!(a.json()["__type"], "IncompleteSignatureException", "{}", a.body);
    // The target and content type must be signed: otherwise a signed ListClusters could run as CreateCluster.
    for unsigned in ["x-amz-target", "content-type"] {
        let signed: Vec<&str> = both.iter().copied().filter(|h| *h != unsigned).collect();
        let a = answer(&app.router, partly_signed(&signed, Payload::Bytes(b"{}"), b"{}")).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{unsigned}: {}", a.body);
        assert!(a.body.contains(unsigned), "{}", a.body);
    }
    assert!(app.echo.calls.lock().unwrap().is_empty(), "nothing reached the service");
    // Signed over the body and both headers, it goes through.
    let a = answer(&app.router, partly_signed(&both, Payload::Bytes(b"{}"), b"{}")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

static REST_ROUTES: &[crate::module::RestRoute] = &[
    crate::module::RestRoute { method: "PUT", path: "/things/{thing}", operation: "Mirror" },
    crate::module::RestRoute { method: "GET", path: "/things", operation: "Mirror" },
    crate::module::RestRoute { method: "POST", path: "/things/{thing}/fail", operation: "Fail" },
];

/// A signed REST-JSON request.
fn rest(method: &str, path: &str, query: &str, body: &[u8]) -> Request {
    let mut headers = http::HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("localhost"));
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let creds = Credentials::new("AKIDTEST", "secret");
    let params = SigningParams { credentials: &creds, region: "us-east-1", service: "echo", time: SystemTime::now() };
    let added = sign(&SignableRequest::new(method, path, query, &headers), Payload::Bytes(body), &params).unwrap();
    headers.extend(added);
    let uri = if query.is_empty() { path.to_string() } else { format!("{path}?{query}") };
    let mut req = Request::builder().method(method).uri(uri).body(Body::from(body.to_vec())).unwrap();
    *req.headers_mut() = headers;
    req
}

#[tokio::test]
async fn rest_json_routes_by_method_and_path_and_reads_labels_and_query_into_the_body() {
    let echo = Arc::new(Echo::with_wire(Wire::RestJson { routes: REST_ROUTES }));
    let door = FrontDoor::new(Arc::new(Credentials::new("AKIDTEST", "secret")), config(1024)).with_module(echo.clone());
    let router = Arc::new(door).router().layer(axum::middleware::from_fn(request_id_layer));

    let a = answer(&router, rest("PUT", "/things/a%2Fb", "Max=5&Next=tok&K=a&K=b", br#"{"x":1}"#)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let expected = serde_json::json!({"x": 1, "thing": "a/b", "Max": 5, "Next": "tok", "K": ["a", "b"]});
    assert_eq!(echo.bodies.lock().unwrap()[0], expected, "a repeated parameter is a list");
    let listed = answer(&router, rest("GET", "/things", "", b"")).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);

    let failed = answer(&router, rest("POST", "/things/t/fail", "", b"")).await;
    assert_eq!(failed.status, StatusCode::BAD_REQUEST);
    assert_eq!(failed.json()["__type"], "ClientException");
    let unknown = answer(&router, rest("DELETE", "/things", "", b"")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    let not_json = answer(&router, rest("PUT", "/things/a", "", b"[1]")).await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST, "{}", not_json.body);
    assert_eq!(echo.calls.lock().unwrap().as_slice(), ["Mirror", "Mirror", "Fail"]);
}

#[test]
fn rest_routes_match_labels_segment_by_segment() {
    let r = crate::module::RestRoute { method: "GET", path: "/schedules/{Name}", operation: "GetSchedule" };
    assert_eq!(r.matches("GET", "/schedules/nightly"), Some(vec![("Name", "nightly".to_string())]));
    assert_eq!(r.matches("get", "/schedules/a%20b"), Some(vec![("Name", "a b".to_string())]));
    assert_eq!(r.matches("PUT", "/schedules/nightly"), None);
    assert_eq!(r.matches("GET", "/schedules"), None);
    assert_eq!(r.matches("GET", "/schedules/a/b"), None);
    assert_eq!(r.matches("GET", "/schedules/%zz"), None, "a broken escape");
}
