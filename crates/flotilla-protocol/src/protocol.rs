//! Which wire protocol a request speaks, and answering errors in it.
//!
//! The protocol is read from the request head alone, before the body or the signature
//! is looked at, so that every refusal — even of an unsigned or oversized request —
//! comes back in the shape the client parses.

use crate::error::AwsError;
use crate::json::{AWS_JSON_1_0, AWS_JSON_1_1};
use crate::query::{FORM_CONTENT_TYPE, query_error_body, xml_response};
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
    /// Smithy RPC v2 CBOR on `POST /service/{service}/operation/{operation}` (no service
    /// speaks it yet; requests are verified and refused).
    RpcV2Cbor { service: String, operation: String },
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
            Protocol::RpcV2Cbor { .. } => {
                let body = cbor_text_map(&[("__type", &error.code), ("message", &error.message)]);
                (
                    error.status,
                    [
                        (http::header::CONTENT_TYPE, CBOR_CONTENT_TYPE),
                        (http::HeaderName::from_static(SMITHY_PROTOCOL_HEADER), RPC_V2_CBOR),
                    ],
                    body,
                )
                    .into_response()
            }
        }
    }

    /// A service's successful answer, fitted to the protocol (AWS JSON 1.0 requests get
    /// the 1.0 content type back).
    pub fn fit_answer(&self, mut response: Response) -> Response {
        if let Protocol::Json { version: JsonVersion::V1_0, .. } = self {
            let is_json_1_1 = response
                .headers()
                .get(http::header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes() == AWS_JSON_1_1.as_bytes());
            if is_json_1_1 {
                set_content_type(&mut response, AWS_JSON_1_0);
            }
        }
        response
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

/// A CBOR map of text keys to text values (RFC 8949 major types 5 and 3), enough for
/// an RPC v2 CBOR error body.
fn cbor_text_map(entries: &[(&str, &str)]) -> Vec<u8> {
    fn head(out: &mut Vec<u8>, major: u8, n: usize) {
        let m = major << 5;
        match n {
            0..=23 => out.push(m | n as u8),
            24..=0xff => out.extend([m | 24, n as u8]),
            0x100..=0xffff => {
                out.push(m | 25);
                out.extend((n as u16).to_be_bytes());
            }
            _ => {
                out.push(m | 26);
                out.extend((n as u32).to_be_bytes());
            }
        }
    }
    let mut out = Vec::new();
    head(&mut out, 5, entries.len());
    for (k, v) in entries {
        for text in [k, v] {
            head(&mut out, 3, text.len());
            out.extend_from_slice(text.as_bytes());
        }
    }
    out
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

    #[test]
    fn cbor_map_encoding() {
        assert_eq!(cbor_text_map(&[("a", "bc")]), vec![0xa1, 0x61, b'a', 0x62, b'b', b'c']);
        let long = "x".repeat(300);
        let encoded = cbor_text_map(&[("m", &long)]);
        assert_eq!(&encoded[..5], &[0xa1, 0x61, b'm', 0x79, 0x01]);
        assert_eq!(encoded.len(), 3 + 3 + 300);
    }
}
