//! The one place EventBridge Scheduler's error codes are chosen.

use axum::http::StatusCode;
use flotilla_protocol::AwsError;

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Db(#[from] flotilla_db::DbError),
}

impl From<SchedulerError> for AwsError {
    fn from(e: SchedulerError) -> Self {
        match e {
            SchedulerError::Validation(m) => AwsError::new(StatusCode::BAD_REQUEST, "ValidationException", m),
            SchedulerError::NotFound(m) => AwsError::new(StatusCode::NOT_FOUND, "ResourceNotFoundException", m),
            SchedulerError::Conflict(m) => AwsError::new(StatusCode::CONFLICT, "ConflictException", m),
            SchedulerError::Db(e) => {
                tracing::error!(error = %e, "scheduler store failure");
                AwsError::internal("InternalServerException", "the scheduler's store failed; try again")
            }
        }
    }
}
