//! Every Auto Scaling error code is chosen here (botocore's `autoscaling` model: the
//! exception shapes' `code`s, and the query protocol's generic `ValidationError`), and
//! store failures become `InternalFailure`.

use flotilla_db::DbError;
use flotilla_protocol::AwsError;

#[derive(Debug, thiserror::Error)]
pub enum AsgError {
    /// `ValidationError`: a parameter is malformed, out of range, or names nothing.
    #[error("{0}")]
    Validation(String),
    /// `AlreadyExists`: a launch configuration or group of that name exists.
    #[error("{0}")]
    AlreadyExists(String),
    /// `ResourceInUse`: a launch configuration a group uses, a group with instances.
    #[error("{0}")]
    ResourceInUse(String),
    /// `ScalingActivityInProgress`: a group whose instances are still launching or
    /// terminating.
    #[error("{0}")]
    ScalingActivityInProgress(String),
    /// `LimitExceeded`: a quota (launch configurations, groups, tags, instance ids).
    #[error("{0}")]
    LimitExceeded(String),
    /// `InvalidNextToken`: a `NextToken` this API did not return.
    #[error("{0}")]
    InvalidNextToken(String),
    /// Another request changed the resource first (retried by handlers; answered as
    /// `ResourceContention` when every retry lost).
    #[error("{0} was changed by another request; retry")]
    Conflict(String),
    #[error(transparent)]
    Db(DbError),
}

impl AsgError {
    pub(crate) fn validation(message: impl Into<String>) -> Self {
        Self::Validation(message.into())
    }

    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict(_))
    }

    /// The AWS error code this error is answered with.
    pub fn code(&self) -> &'static str {
        match self {
            AsgError::Validation(_) => "ValidationError",
            AsgError::AlreadyExists(_) => "AlreadyExists",
            AsgError::ResourceInUse(_) => "ResourceInUse",
            AsgError::ScalingActivityInProgress(_) => "ScalingActivityInProgress",
            AsgError::LimitExceeded(_) => "LimitExceeded",
            AsgError::InvalidNextToken(_) => "InvalidNextToken",
            AsgError::Conflict(_) => "ResourceContention",
            AsgError::Db(_) => "InternalFailure",
        }
    }
}

impl From<DbError> for AsgError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Conflict { what } => Self::Conflict(what),
            other => Self::Db(other),
        }
    }
}

impl From<AsgError> for AwsError {
    fn from(e: AsgError) -> Self {
        match &e {
            AsgError::Db(db) => {
                tracing::error!(error = %db, "auto scaling store failure");
                AwsError::internal("InternalFailure", "the server could not complete the request; see its log")
            }
            // botocore's ResourceContentionFault is a 500.
            AsgError::Conflict(_) => AwsError::internal(e.code(), e.to_string()),
            _ => AwsError::client(e.code(), e.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, AsgError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_botocores() {
        let cases = [
            (AsgError::validation("x"), "ValidationError", 400),
            (AsgError::AlreadyExists("x".into()), "AlreadyExists", 400),
            (AsgError::ResourceInUse("x".into()), "ResourceInUse", 400),
            (AsgError::ScalingActivityInProgress("x".into()), "ScalingActivityInProgress", 400),
            (AsgError::LimitExceeded("x".into()), "LimitExceeded", 400),
            (AsgError::InvalidNextToken("x".into()), "InvalidNextToken", 400),
            (AsgError::Conflict("group g".into()), "ResourceContention", 500),
        ];
        for (error, code, status) in cases {
            let aws = AwsError::from(error);
            assert_eq!((aws.code.as_str(), aws.status.as_u16()), (code, status));
        }
    }
}
