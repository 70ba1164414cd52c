//! Which wire protocol a request speaks, and answering errors in it.
//!
//! The protocol is read from the request head alone, before the body or the signature
//! is looked at, so that every refusal — even of an unsigned or oversized request —
//! comes back in the shape the client parses. Answers are fitted to it too: smithy RPC
//! v2 CBOR callers get the module's JSON answer written as CBOR ([`crate::cbor`]).

use crate::cbor;
use crate::error::AwsError;
use crate::json::{AWS_JSON_1_0, AWS_JSON_1_1};
use crate::module::CborOutput;
use crate::query::{FORM_CONTENT_TYPE, query_error_body, xml_response};
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use flotilla_sigv4::SigV4Error;
use http::StatusCode;
use http::request::Parts;

/// The content type of smithy RPC v2 CBOR requests and answers.
pub const CBOR_CONTENT_TYPE: &str = "application/cbor";
/// The header (and its value) that marks smithy RPC v2 CBOR.
pub const SMITHY_PROTOCOL_HEADER: &str = "smithy-protocol";
const RPC_V2_CBOR: &str = "rpc-v2-cbor";

/// The wire protocol of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protocol {
    /// AWS JSON 1.0 or 1.1 on `POST /`, the operation in `X-Amz-Target` (`Prefix.Operation`).
    Json { version: JsonVersion, target: String },
    /// The AWS query protocol on `POST /`: a form-encoded body, routed by the SigV4
    /// credential scope's service and the body's `Action`.
    Query,
    /// Smithy RPC v2 CBOR on `POST /service/{service}/operation/{operation}`, served by
    /// the JSON module whose wire names `service` (see [`crate::Wire::Json`]).
    RpcV2Cbor { service: String, operation: String },
    /// AWS REST-JSON on a module's own paths (see [`crate::Wire::RestJson`]); errors
    /// are JSON with the code in `__type` and in `x-amzn-ErrorType`.
    RestJson,
}

/// The AWS JSON protocol version, from the request's content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonVersion {
    V1_0,
    V1_1,
}

impl JsonVersion {
    pub fn content_type(self) -> &'static str {
        match self {
            JsonVersion::V1_0 => AWS_JSON_1_0,
            JsonVersion::V1_1 => AWS_JSON_1_1,
        }
    }
}

impl Protocol {
    /// Reads the protocol from a request head. A request that names none (no target, no
    /// form body) is taken as AWS JSON 1.1, the protocol of most services here.
    pub fn detect(parts: &Parts) -> Self {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let path = parts.uri.path();
        if let Some(rest) = path.strip_prefix("/service/") {
            let (service, operation) = match rest.split_once("/operation/") {
                Some((s, o)) => (s.to_string(), o.to_string()),
                None => (rest.to_string(), String::new()),
            };
            return Protocol::RpcV2Cbor { service, operation };
        }
        if header(SMITHY_PROTOCOL_HEADER).is_some_and(|v| v.eq_ignore_ascii_case(RPC_V2_CBOR)) {
            return Protocol::RpcV2Cbor { service: String::new(), operation: String::new() };
        }
        let content_type = header(http::header::CONTENT_TYPE.as_str()).unwrap_or("");
        let media_type = content_type.split(';').next().unwrap_or("").trim();
        let version = if media_type.eq_ignore_ascii_case(AWS_JSON_1_0) { JsonVersion::V1_0 } else { JsonVersion::V1_1 };
        match header("x-amz-target") {
            Some(target) => Protocol::Json { version, target: target.to_string() },
            None if media_type.eq_ignore_ascii_case(FORM_CONTENT_TYPE) => Protocol::Query,
            None => Protocol::Json { version, target: String::new() },
        }
    }

    /// `error` in this protocol's error shape. `error.code` is used as given; pick codes
    /// per protocol with the helpers below. `xmlns` is the namespace of the query
    /// service that was reached, if one was.
    pub fn error_response(&self, error: &AwsError, request_id: &str, xmlns: Option<&str>) -> Response {
        match self {
            Protocol::Json { version, .. } => {
                let mut response = error.clone().into_response();
                set_content_type(&mut response, version.content_type());
                response
            }
            Protocol::Query => xml_response(error.status, query_error_body(error, request_id, xmlns)),
            Protocol::RestJson => {
                let mut response = error.clone().into_response();
                set_content_type(&mut response, "application/json");
                if let Ok(code) = http::HeaderValue::from_str(&error.code) {
                    response.headers_mut().insert("x-amzn-ErrorType", code);
                }
                response
            }
            Protocol::RpcV2Cbor { .. } => {
                let body = serde_json::json!({ "__type": error.code, "message": error.message });
                let mut response =
                    (error.status, cbor::encode(&body, &CborOutput::NONE).unwrap_or_default()).into_response();
                set_cbor_headers(&mut response);
                response
            }
        }
    }

    /// A service's successful answer, fitted to the protocol: AWS JSON 1.0 requests get
    /// the 1.0 content type back, RPC v2 CBOR requests the module's JSON written as CBOR
    /// (with `output`'s members typed as timestamps and blobs; an empty body is `{}`).
    pub async fn fit_answer(&self, mut response: Response, output: &CborOutput) -> Result<Response, AwsError> {
        match self {
            Protocol::Json { version: JsonVersion::V1_0, .. } => {
                let is_json_1_1 = response
                    .headers()
                    .get(http::header::CONTENT_TYPE)
                    .is_some_and(|v| v.as_bytes() == AWS_JSON_1_1.as_bytes());
                if is_json_1_1 {
                    set_content_type(&mut response, AWS_JSON_1_0);
                }
                Ok(response)
            }
            Protocol::RpcV2Cbor { .. } => json_answer_to_cbor(response, output).await,
            _ => Ok(response),
        }
    }

    /// The refusal of a request whose signature did not verify.
    pub fn auth_error(&self, error: &SigV4Error) -> AwsError {
        let message = error.message();
        if *self != Protocol::Query {
            let status = StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::FORBIDDEN);
            return AwsError::new(status, error.code(), message);
        }
        // The query services (IAM, STS, ELBv2) answer with their own codes, mostly 403.
        let (status, code) = match error {
            SigV4Error::MissingAuthenticationToken => (StatusCode::FORBIDDEN, "MissingAuthenticationToken"),
            SigV4Error::IncompleteSignature { .. } | SigV4Error::PayloadHashUnknown => {
                (StatusCode::BAD_REQUEST, "IncompleteSignature")
            }
            SigV4Error::UnrecognizedClient { .. } | SigV4Error::InvalidSecurityToken { .. } => {
                (StatusCode::FORBIDDEN, "InvalidClientTokenId")
            }
            SigV4Error::SignatureMismatch { .. }
            | SigV4Error::SignatureExpired { .. }
            | SigV4Error::SignatureNotYetCurrent { .. }
            | SigV4Error::InvalidSignature { .. } => (StatusCode::FORBIDDEN, "SignatureDoesNotMatch"),
            SigV4Error::PresignedUrlExpired { .. } => (StatusCode::BAD_REQUEST, "RequestExpired"),
            SigV4Error::ContentSha256Mismatch { .. } => (StatusCode::BAD_REQUEST, "XAmzContentSHA256Mismatch"),
        };
        AwsError::new(status, code, message)
    }

    /// A signature that verified but is scoped wrongly for what it calls (service or region).
    pub fn scope_error(&self, message: impl Into<String>) -> AwsError {
        match self {
            Protocol::Query => AwsError::new(StatusCode::FORBIDDEN, "SignatureDoesNotMatch", message),
            _ => AwsError::client("InvalidSignatureException", message),
        }
    }

    /// An operation (or service) this endpoint does not serve.
    pub fn unknown_operation(&self, message: impl Into<String>) -> AwsError {
        match self {
            Protocol::Query => AwsError::client("InvalidAction", message),
            _ => AwsError::client("UnknownOperationException", message),
        }
    }

    /// The authorizer refused the call.
    pub fn access_denied(&self, message: impl Into<String>) -> AwsError {
        match self {
            Protocol::Query => AwsError::new(StatusCode::FORBIDDEN, "AccessDenied", message),
            _ => AwsError::client("AccessDeniedException", message),
        }
    }

    /// Temporary credentials past their expiry.
    pub fn expired_token(&self) -> AwsError {
        let message = "The security token included in the request is expired";
        match self {
            Protocol::Query => AwsError::new(StatusCode::FORBIDDEN, "ExpiredToken", message),
            _ => AwsError::new(StatusCode::FORBIDDEN, "ExpiredTokenException", message),
        }
    }

    /// The body is larger than the front door accepts.
    pub fn too_large(&self, limit: usize) -> AwsError {
        let code = if *self == Protocol::Query { "RequestEntityTooLarge" } else { "RequestEntityTooLargeException" };
        AwsError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            code,
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    }
}

fn set_content_type(response: &mut Response, content_type: &'static str) {
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
}

fn set_cbor_headers(response: &mut Response) {
    set_content_type(response, CBOR_CONTENT_TYPE);
    response
        .headers_mut()
        .insert(http::HeaderName::from_static(SMITHY_PROTOCOL_HEADER), http::HeaderValue::from_static(RPC_V2_CBOR));
}

/// A JSON module's answer (status and headers kept) with its body written as CBOR.
async fn json_answer_to_cbor(response: Response, output: &CborOutput) -> Result<Response, AwsError> {
    let failed = |reason: String| {
        tracing::error!(%reason, "writing an answer as CBOR failed");
        AwsError::internal("InternalFailure", "the answer could not be written as CBOR")
    };
    let (mut parts, body) = response.into_parts();
    let already_cbor =
        parts.headers.get(http::header::CONTENT_TYPE).is_some_and(|v| v.as_bytes() == CBOR_CONTENT_TYPE.as_bytes());
    let bytes = axum::body::to_bytes(body, usize::MAX).await.map_err(|e| failed(e.to_string()))?;
    let body = if already_cbor {
        bytes.to_vec()
    } else if bytes.iter().all(u8::is_ascii_whitespace) {
        vec![0xa0]
    } else {
        let json: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| failed(e.to_string()))?;
        cbor::encode(&json, output).map_err(|e| failed(e.to_string()))?
    };
    parts.headers.remove(http::header::CONTENT_LENGTH);
    let mut response = Response::from_parts(parts, Body::from(body));
    set_cbor_headers(&mut response);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(path: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().method("POST").uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn detects_protocols_from_the_head() {
        let json = |v, t: &str| Protocol::Json { version: v, target: t.to_string() };
        let cases = [
            (parts("/", &[("x-amz-target", "A.B"), ("content-type", AWS_JSON_1_0)]), json(JsonVersion::V1_0, "A.B")),
            (parts("/", &[("x-amz-target", "A.B"), ("content-type", AWS_JSON_1_1)]), json(JsonVersion::V1_1, "A.B")),
            (parts("/", &[("x-amz-target", "A.B")]), json(JsonVersion::V1_1, "A.B")),
            (parts("/", &[("content-type", "application/x-www-form-urlencoded; charset=utf-8")]), Protocol::Query),
            (parts("/", &[]), json(JsonVersion::V1_1, "")),
            (parts("/", &[("content-type", AWS_JSON_1_0)]), json(JsonVersion::V1_0, "")),
            (
                parts(
                    "/service/GraniteServiceVersion20100801/operation/GetMetricData",
                    &[("smithy-protocol", "rpc-v2-cbor")],
                ),
                Protocol::RpcV2Cbor {
                    service: "GraniteServiceVersion20100801".into(),
                    operation: "GetMetricData".into(),
                },
            ),
            (
                parts("/", &[("smithy-protocol", "rpc-v2-cbor")]),
                Protocol::RpcV2Cbor { service: String::new(), operation: String::new() },
            ),
        ];
        for (p, want) in cases {
            assert_eq!(Protocol::detect(&p), want);
        }
    }

    #[test]
    fn query_auth_errors_use_query_codes() {
        let e = Protocol::Query.auth_error(&SigV4Error::UnrecognizedClient { access_key_id: "AKID".into() });
        assert_eq!((e.status, e.code.as_str()), (StatusCode::FORBIDDEN, "InvalidClientTokenId"));
        let e = Protocol::Query.auth_error(&SigV4Error::MissingAuthenticationToken);
        assert_eq!((e.status, e.code.as_str()), (StatusCode::FORBIDDEN, "MissingAuthenticationToken"));
        let json = Protocol::Json { version: JsonVersion::V1_1, target: String::new() };
        let e = json.auth_error(&SigV4Error::MissingAuthenticationToken);
        assert_eq!((e.status, e.code.as_str()), (StatusCode::BAD_REQUEST, "MissingAuthenticationTokenException"));
    }

    #[tokio::test]
    async fn cbor_answers_are_transcoded_with_their_marks() {
        let protocol = Protocol::RpcV2Cbor { service: "S".into(), operation: "O".into() };
        let output = CborOutput { timestamps: &["At"], blobs: &[] };
        let answer = crate::json_response(&serde_json::json!({ "At": 1, "n": 1 }));
        let fitted = protocol.fit_answer(answer, &output).await.unwrap();
        assert_eq!(fitted.headers()[http::header::CONTENT_TYPE], CBOR_CONTENT_TYPE);
        assert_eq!(fitted.headers()[SMITHY_PROTOCOL_HEADER], RPC_V2_CBOR);
        let bytes = axum::body::to_bytes(fitted.into_body(), usize::MAX).await.unwrap();
        assert_eq!(&bytes[..], &[0xa2, 0x62, b'A', b't', 0xc1, 0x01, 0x61, b'n', 0x01]);

        // An empty answer is an empty map; an answer that is not JSON is a server error.
        let fitted = protocol.fit_answer(Response::new(Body::empty()), &output).await.unwrap();
        let bytes = axum::body::to_bytes(fitted.into_body(), usize::MAX).await.unwrap();
        assert_eq!(&bytes[..], &[0xa0]);
        let e = protocol.fit_answer(Response::new(Body::from("<x/>")), &output).await.unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure"));
    }

    #[tokio::test]
    async fn cbor_errors_are_a_map_of_type_and_message() {
        let protocol = Protocol::RpcV2Cbor { service: String::new(), operation: String::new() };
        let response = protocol.error_response(&AwsError::client("Bad", "x".repeat(300)), "id", None);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[http::header::CONTENT_TYPE], CBOR_CONTENT_TYPE);
        assert_eq!(response.headers()[SMITHY_PROTOCOL_HEADER], RPC_V2_CBOR);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        // A map of two text pairs, `__type` first.
        assert_eq!(&bytes[..9], &[0xa2, 0x66, b'_', b'_', b't', b'y', b'p', b'e', 0x63]);
        assert_eq!(cbor::decode(&bytes).unwrap(), serde_json::json!({"__type": "Bad", "message": "x".repeat(300)}));
    }
}
