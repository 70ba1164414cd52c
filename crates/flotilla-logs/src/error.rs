//! The Logs service's errors: store failures, and the AWS error each refusal is.

use flotilla_db::DbError;
use flotilla_protocol::AwsError;

pub type Result<T> = std::result::Result<T, LogsError>;

#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("corrupt data while reading {what}: {reason}")]
    Corrupt { what: String, reason: String },
    /// `InvalidParameterException`.
    #[error("{0}")]
    Invalid(String),
    /// `ResourceNotFoundException`.
    #[error("{0}")]
    NotFound(String),
    /// `ResourceAlreadyExistsException`.
    #[error("{0}")]
    AlreadyExists(String),
    /// `MalformedQueryException`.
    #[error("{0}")]
    MalformedQuery(String),
    /// `LimitExceededException`.
    #[error("{0}")]
    LimitExceeded(String),
}

impl From<sqlx::Error> for LogsError {
    fn from(e: sqlx::Error) -> Self {
        LogsError::Db(DbError::Query { doing: "reading or writing the logs store".into(), source: e })
    }
}

impl LogsError {
    pub fn corrupt(what: &str, reason: impl ToString) -> Self {
        LogsError::Corrupt { what: what.to_string(), reason: reason.to_string() }
    }

    pub fn group_not_found() -> Self {
        LogsError::NotFound("The specified log group does not exist.".into())
    }

    pub fn stream_not_found() -> Self {
        LogsError::NotFound("The specified log stream does not exist.".into())
    }
}

impl From<LogsError> for AwsError {
    fn from(e: LogsError) -> Self {
        match e {
            LogsError::Invalid(m) => AwsError::client("InvalidParameterException", m),
            LogsError::NotFound(m) => AwsError::client("ResourceNotFoundException", m),
            LogsError::AlreadyExists(m) => AwsError::client("ResourceAlreadyExistsException", m),
            LogsError::MalformedQuery(m) => AwsError::client("MalformedQueryException", m),
            LogsError::LimitExceeded(m) => AwsError::client("LimitExceededException", m),
            other => {
                tracing::error!(error = %other, "logs store failure");
                AwsError::internal("ServiceUnavailableException", other.to_string())
            }
        }
    }
}
