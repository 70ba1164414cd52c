//! The metrics service's errors: store failures, and the AWS error each refusal is.
//!
//! CloudWatch is `awsQueryCompatible`: over JSON and CBOR it answers with its query
//! protocol's codes (`InvalidParameterValue`, not `InvalidParameterValueException`),
//! which botocore maps to the modelled exceptions.

use axum::http::StatusCode;
use flotilla_db::DbError;
use flotilla_protocol::AwsError;

pub type Result<T> = std::result::Result<T, MetricsError>;

/// The query code of a refused value (also what `parse_request` answers for an
/// unknown enumeration value).
pub(crate) const INVALID_PARAMETER_VALUE: &str = "InvalidParameterValue";

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("corrupt data while reading {what}: {reason}")]
    Corrupt { what: String, reason: String },
    /// `InvalidParameterValue`.
    #[error("{0}")]
    InvalidValue(String),
    /// `MissingParameter`.
    #[error("{0}")]
    Missing(String),
    /// `InvalidParameterCombination`.
    #[error("{0}")]
    Combination(String),
    /// `InvalidNextToken`.
    #[error("{0}")]
    InvalidNextToken(String),
    /// `ResourceNotFound` (HTTP 404): an alarm named by DeleteAlarms or SetAlarmState.
    #[error("{0}")]
    NotFound(String),
    /// `ResourceNotFoundException` (HTTP 404): a resource named by ARN to the tagging calls.
    #[error("{0}")]
    ArnNotFound(String),
    /// `LimitExceeded`.
    #[error("{0}")]
    LimitExceeded(String),
    /// `InvalidFormat`: `StateReasonData` that is not JSON.
    #[error("{0}")]
    InvalidFormat(String),
}

impl From<sqlx::Error> for MetricsError {
    fn from(e: sqlx::Error) -> Self {
        MetricsError::Db(DbError::Query { doing: "reading or writing the metrics store".into(), source: e })
    }
}

impl MetricsError {
    pub fn corrupt(what: &str, reason: impl ToString) -> Self {
        MetricsError::Corrupt { what: what.to_string(), reason: reason.to_string() }
    }

    /// `The parameter NAME is required.`
    pub fn missing(name: &str) -> Self {
        MetricsError::Missing(format!("The parameter {name} is required."))
    }

    /// `The value VALUE for parameter NAME is not valid: WHY`.
    pub fn invalid(name: &str, value: impl std::fmt::Display, why: &str) -> Self {
        MetricsError::InvalidValue(format!("The value {value} for parameter {name} is not valid: {why}"))
    }
}

impl From<MetricsError> for AwsError {
    fn from(e: MetricsError) -> Self {
        match e {
            MetricsError::InvalidValue(m) => AwsError::client(INVALID_PARAMETER_VALUE, m),
            MetricsError::Missing(m) => AwsError::client("MissingParameter", m),
            MetricsError::Combination(m) => AwsError::client("InvalidParameterCombination", m),
            MetricsError::InvalidNextToken(m) => AwsError::client("InvalidNextToken", m),
            MetricsError::NotFound(m) => AwsError::new(StatusCode::NOT_FOUND, "ResourceNotFound", m),
            MetricsError::ArnNotFound(m) => AwsError::new(StatusCode::NOT_FOUND, "ResourceNotFoundException", m),
            MetricsError::LimitExceeded(m) => AwsError::client("LimitExceeded", m),
            MetricsError::InvalidFormat(m) => AwsError::client("InvalidFormat", m),
            other => {
                tracing::error!(error = %other, "metrics store failure");
                AwsError::internal("InternalServiceError", "the metrics store failed; the server's log says why")
            }
        }
    }
}
