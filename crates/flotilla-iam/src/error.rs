//! Every IAM and STS error code is chosen here (botocore's `iam` and `sts` models: the
//! exception shapes' `code`s and HTTP statuses), and store failures become
//! `ServiceFailure`.

use flotilla_db::DbError;
use flotilla_protocol::AwsError;
use http::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum IamError {
    /// `ValidationError`: a parameter is malformed or out of range.
    #[error("{0}")]
    Validation(String),
    /// `InvalidInput`: a parameter names something in a way IAM refuses.
    #[error("{0}")]
    InvalidInput(String),
    /// `NoSuchEntity`: the user, group, role, policy, version or key does not exist.
    #[error("{0}")]
    NoSuchEntity(String),
    /// `EntityAlreadyExists`.
    #[error("{0}")]
    AlreadyExists(String),
    /// `DeleteConflict`: the entity still has attachments, keys or members.
    #[error("{0}")]
    DeleteConflict(String),
    /// `LimitExceeded`: a quota (keys per user, versions per policy, policies per entity).
    #[error("{0}")]
    LimitExceeded(String),
    /// `MalformedPolicyDocument`, with the position of the fault.
    #[error("{0}")]
    MalformedPolicy(String),
    /// STS `AccessDenied`: not allowed to assume the role.
    #[error("{0}")]
    AccessDenied(String),
    /// STS `PackedPolicyTooLarge`: a session policy over its limit.
    #[error("{0}")]
    PackedPolicyTooLarge(String),
    #[error(transparent)]
    Db(DbError),
}

impl IamError {
    pub(crate) fn validation(message: impl Into<String>) -> Self {
        Self::Validation(message.into())
    }

    pub(crate) fn no_such(message: impl Into<String>) -> Self {
        Self::NoSuchEntity(message.into())
    }

    /// The AWS error code and HTTP status this error is answered with.
    pub fn code(&self) -> (&'static str, StatusCode) {
        match self {
            IamError::Validation(_) => ("ValidationError", StatusCode::BAD_REQUEST),
            IamError::InvalidInput(_) => ("InvalidInput", StatusCode::BAD_REQUEST),
            IamError::NoSuchEntity(_) => ("NoSuchEntity", StatusCode::NOT_FOUND),
            IamError::AlreadyExists(_) => ("EntityAlreadyExists", StatusCode::CONFLICT),
            IamError::DeleteConflict(_) => ("DeleteConflict", StatusCode::CONFLICT),
            IamError::LimitExceeded(_) => ("LimitExceeded", StatusCode::CONFLICT),
            IamError::MalformedPolicy(_) => ("MalformedPolicyDocument", StatusCode::BAD_REQUEST),
            IamError::AccessDenied(_) => ("AccessDenied", StatusCode::FORBIDDEN),
            IamError::PackedPolicyTooLarge(_) => ("PackedPolicyTooLarge", StatusCode::BAD_REQUEST),
            IamError::Db(_) => ("ServiceFailure", StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}

impl From<DbError> for IamError {
    fn from(e: DbError) -> Self {
        Self::Db(e)
    }
}

impl From<IamError> for AwsError {
    fn from(e: IamError) -> Self {
        let (code, status) = e.code();
        if let IamError::Db(db) = &e {
            tracing::error!(error = %db, "IAM store failure");
            return AwsError::new(status, code, "the server could not complete the request; see its log");
        }
        AwsError::new(status, code, e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, IamError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_botocores() {
        let cases = [
            (IamError::validation("x"), "ValidationError", 400),
            (IamError::InvalidInput("x".into()), "InvalidInput", 400),
            (IamError::no_such("x"), "NoSuchEntity", 404),
            (IamError::AlreadyExists("x".into()), "EntityAlreadyExists", 409),
            (IamError::DeleteConflict("x".into()), "DeleteConflict", 409),
            (IamError::LimitExceeded("x".into()), "LimitExceeded", 409),
            (IamError::MalformedPolicy("x".into()), "MalformedPolicyDocument", 400),
            (IamError::AccessDenied("x".into()), "AccessDenied", 403),
        ];
        for (error, code, status) in cases {
            let aws = AwsError::from(error);
            assert_eq!((aws.code.as_str(), aws.status.as_u16()), (code, status));
        }
    }
}
