//! AWS Signature Version 4 for both ends of a Flotilla connection. Pure: no I/O, no async,
//! the clock is a parameter.
//!
//! * Server side, [`verify()`]: checks the `Authorization` header or presigned query
//!   parameters of a request and returns the [`VerifiedIdentity`] that signed it, or a
//!   [`SigV4Error`] carrying the AWS error code, HTTP status and message to answer with.
//! * Client side, [`sign()`] and [`presign()`]: produce the headers (or the query string) that
//!   make a request verifiable, byte-for-byte as botocore would.
//!
//! The canonical request is the one AWS specifies for services other than S3: path
//! normalised (dot segments removed, `//` collapsed) and URI-encoded twice, query
//! parameters decoded, re-encoded and sorted, header values trimmed with inner whitespace
//! collapsed and repeated headers joined with `,`.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use http::{HeaderMap, HeaderValue};
//! use flotilla_sigv4::{sign, verify, Credentials, Payload, SignableRequest, SigningParams};
//!
//! let creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
//! let body = br#"{"clusters":["default"]}"#;
//!
//! // Agent: sign a call to the control plane.
//! let mut headers = HeaderMap::new();
//! headers.insert("host", HeaderValue::from_static("127.0.0.1:8080"));
//! headers.insert("x-amz-target", HeaderValue::from_static("AmazonEC2ContainerServiceV20141113.DescribeClusters"));
//! headers.insert("content-type", HeaderValue::from_static("application/x-amz-json-1.1"));
//! let req = SignableRequest::new("POST", "/", "", &headers);
//! let params = SigningParams { credentials: &creds, region: "us-east-1", service: "ecs", time: now };
//! let added = sign(&req, Payload::Bytes(body), &params).unwrap();
//! headers.extend(added);
//!
//! // Server: verify it (the root key pair is itself a credential store).
//! let req = SignableRequest::new("POST", "/", "", &headers);
//! let who = verify(&req, Some(body), &creds, now + Duration::from_secs(2)).unwrap();
//! assert_eq!((who.access_key_id.as_str(), who.service.as_str()), ("AKIDEXAMPLE", "ecs"));
//! ```

pub mod canonical;
pub mod credentials;
pub mod encode;
pub mod error;
pub mod sign;
pub mod time;
pub mod verify;

use http::HeaderMap;

pub use credentials::{CredentialStore, Credentials, SecretKey};
pub use error::{SigV4Error, SignError};
pub use sign::{Payload, SigningParams, presign, sign};
pub use time::AmzDate;
pub use verify::{MAX_CLOCK_SKEW_SECS, MAX_PRESIGN_EXPIRES_SECS, VerifiedIdentity, verify};

/// The parts of an HTTP request that SigV4 covers, borrowed from wherever the request
/// lives.
#[derive(Debug, Clone, Copy)]
pub struct SignableRequest<'a> {
    /// Method, upper-case as sent (`GET`, `POST`, ...).
    pub method: &'a str,
    /// The path exactly as sent on the wire, still percent-encoded; `/` at least.
    pub path: &'a str,
    /// The query string exactly as sent, without `?`; empty when there is none.
    pub query: &'a str,
    /// The request headers; `host` among them.
    pub headers: &'a HeaderMap,
}

impl<'a> SignableRequest<'a> {
    /// From its parts.
    pub fn new(method: &'a str, path: &'a str, query: &'a str, headers: &'a HeaderMap) -> Self {
        SignableRequest { method, path, query, headers }
    }

    /// From the head of an `http` request (what a hyper/axum server holds).
    pub fn from_parts(parts: &'a http::request::Parts) -> Self {
        SignableRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
        }
    }
}
