//! The service's errors: store failures, and the AWS error each refusal is. This is
//! the one place Application Auto Scaling's error codes are chosen.

use flotilla_db::DbError;
use flotilla_protocol::AwsError;

pub type Result<T> = std::result::Result<T, ScalingError>;

/// The code `parse_request` answers for a value outside an enumeration.
pub(crate) const VALIDATION: &str = "ValidationException";

#[derive(Debug, thiserror::Error)]
pub enum ScalingError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("corrupt data while reading {what}: {reason}")]
    Corrupt { what: String, reason: String },
    /// `ValidationException`.
    #[error("{0}")]
    Validation(String),
    /// `ObjectNotFoundException`: a scalable target, policy or scheduled action named
    /// by its key.
    #[error("{0}")]
    ObjectNotFound(String),
    /// `ResourceNotFoundException`: a scalable target named by ARN (tagging).
    #[error("{0}")]
    ResourceNotFound(String),
    /// `LimitExceededException`.
    #[error("{0}")]
    LimitExceeded(String),
    /// `TooManyTagsException`.
    #[error("{0}")]
    TooManyTags(String),
    /// `InvalidNextTokenException`.
    #[error("{0}")]
    InvalidNextToken(String),
    /// `ConcurrentUpdateException`: another change to the same target won every retry.
    #[error("{0}")]
    ConcurrentUpdate(String),
    /// `FailedResourceAccessException`: CloudWatch or ECS could not be reached or
    /// refused what a policy needs (its alarms).
    #[error("{0}")]
    FailedResourceAccess(String),
}

impl From<sqlx::Error> for ScalingError {
    fn from(e: sqlx::Error) -> Self {
        ScalingError::Db(DbError::Query {
            doing: "reading or writing the application auto scaling store".into(),
            source: e,
        })
    }
}

impl ScalingError {
    pub fn corrupt(what: &str, reason: impl ToString) -> Self {
        ScalingError::Corrupt { what: what.to_string(), reason: reason.to_string() }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        ScalingError::Validation(message.into())
    }

    pub fn is_conflict(&self) -> bool {
        matches!(self, ScalingError::Db(e) if e.is_conflict())
    }
}

impl From<ScalingError> for AwsError {
    fn from(e: ScalingError) -> Self {
        match e {
            ScalingError::Validation(m) => AwsError::client(VALIDATION, m),
            ScalingError::ObjectNotFound(m) => AwsError::client("ObjectNotFoundException", m),
            ScalingError::ResourceNotFound(m) => AwsError::client("ResourceNotFoundException", m),
            ScalingError::LimitExceeded(m) => AwsError::client("LimitExceededException", m),
            ScalingError::TooManyTags(m) => AwsError::client("TooManyTagsException", m),
            ScalingError::InvalidNextToken(m) => AwsError::client("InvalidNextTokenException", m),
            ScalingError::ConcurrentUpdate(m) => AwsError::client("ConcurrentUpdateException", m),
            ScalingError::FailedResourceAccess(m) => AwsError::client("FailedResourceAccessException", m),
            other => {
                tracing::error!(error = %other, "application auto scaling store failure");
                AwsError::internal(
                    "InternalServiceException",
                    "the application auto scaling store failed; the server's log says why",
                )
            }
        }
    }
}
