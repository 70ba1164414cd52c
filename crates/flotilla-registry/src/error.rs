//! Errors: [`RegistryError`] for failures inside the registry (storage, database) and
//! [`OciError`], the distribution spec's `{"errors":[{"code","message","detail"}]}` answer.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

/// A failure of the registry's own machinery.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{doing} {path}: {source}")]
    Io { doing: &'static str, path: String, source: std::io::Error },
    /// The registry store's database failed.
    #[error(transparent)]
    Db(#[from] flotilla_db::DbError),
    #[error("stored {what} is corrupt: {reason}")]
    Corrupt { what: String, reason: String },
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

/// Attaches what was being done to a database error.
pub(crate) trait Doing<T> {
    fn doing(self, what: impl Into<String>) -> Result<T>;
}

impl<T> Doing<T> for std::result::Result<T, sqlx::Error> {
    fn doing(self, what: impl Into<String>) -> Result<T> {
        self.map_err(|source| flotilla_db::DbError::Query { doing: what.into(), source }.into())
    }
}

pub(crate) fn io_error(doing: &'static str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> RegistryError {
    let path = path.display().to_string();
    move |source| RegistryError::Io { doing, path, source }
}

/// The distribution spec's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OciCode {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    TagInvalid,
    RangeInvalid,
    Internal,
}

impl OciCode {
    pub fn as_str(self) -> &'static str {
        match self {
            OciCode::BlobUnknown => "BLOB_UNKNOWN",
            OciCode::BlobUploadInvalid | OciCode::RangeInvalid => "BLOB_UPLOAD_INVALID",
            OciCode::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            OciCode::DigestInvalid => "DIGEST_INVALID",
            OciCode::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            OciCode::ManifestInvalid => "MANIFEST_INVALID",
            OciCode::ManifestUnknown => "MANIFEST_UNKNOWN",
            OciCode::NameInvalid => "NAME_INVALID",
            OciCode::NameUnknown => "NAME_UNKNOWN",
            OciCode::SizeInvalid => "SIZE_INVALID",
            OciCode::Unauthorized => "UNAUTHORIZED",
            OciCode::Denied => "DENIED",
            OciCode::Unsupported => "UNSUPPORTED",
            OciCode::TagInvalid => "TAG_INVALID",
            OciCode::Internal => "UNKNOWN",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            OciCode::BlobUnknown | OciCode::BlobUploadUnknown | OciCode::ManifestUnknown | OciCode::NameUnknown => {
                StatusCode::NOT_FOUND
            }
            OciCode::RangeInvalid => StatusCode::RANGE_NOT_SATISFIABLE,
            OciCode::Unauthorized => StatusCode::UNAUTHORIZED,
            OciCode::Denied => StatusCode::FORBIDDEN,
            OciCode::Unsupported => StatusCode::METHOD_NOT_ALLOWED,
            OciCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// An error answered on the `/v2/` API.
#[derive(Debug, Clone)]
pub struct OciError {
    pub status: StatusCode,
    pub code: OciCode,
    pub message: String,
    pub detail: serde_json::Value,
}

impl OciError {
    pub fn new(code: OciCode, message: impl Into<String>) -> Self {
        Self { status: code.status(), code, message: message.into(), detail: serde_json::Value::Null }
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

impl From<RegistryError> for OciError {
    fn from(e: RegistryError) -> Self {
        tracing::error!(error = %e, "registry request failed");
        OciError::new(OciCode::Internal, "internal error")
    }
}

impl IntoResponse for OciError {
    fn into_response(self) -> Response {
        let mut entry = serde_json::json!({ "code": self.code.as_str(), "message": self.message });
        if !self.detail.is_null() {
            entry["detail"] = self.detail;
        }
        let body = serde_json::to_vec(&serde_json::json!({ "errors": [entry] })).unwrap_or_default();
        let mut response = (self.status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
        if self.code == OciCode::Unauthorized {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"flotilla\""));
        }
        response
    }
}
