//! AWS's error answer: an HTTP status and `{"__type": CODE, "message": TEXT}`.

use axum::response::{IntoResponse, Response};
use http::StatusCode;

/// An error answered in AWS's JSON error shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl AwsError {
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { status, code: code.into(), message: message.into() }
    }

    /// A client error (HTTP 400) with the given code.
    pub fn client(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// The request body is not JSON of the shape the operation takes.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::client("SerializationException", message)
    }

    /// The server failed; the message is safe to show (no internals).
    pub fn internal(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, code, message)
    }
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for AwsError {}

impl IntoResponse for AwsError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "__type": self.code, "message": self.message });
        let mut response = crate::json::json_response(&body);
        *response.status_mut() = self.status;
        // botocore reads the code from this header when the body has none.
        if let Ok(v) = http::HeaderValue::from_str(&self.code) {
            response.headers_mut().insert("x-amzn-errortype", v);
        }
        response
    }
}
