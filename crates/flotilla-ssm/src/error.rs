//! Parameter Store's errors, and the one place its error codes are chosen.
//!
//! Every refusal answers in the AWS JSON error shape (`{"__type", "message"}`) through
//! the front door's [`AwsError`], with the exception names of botocore's `ssm` model.

use flotilla_db::DbError;
use flotilla_protocol::AwsError;

pub type Result<T, E = SsmError> = std::result::Result<T, E>;

/// Every refusal Parameter Store answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Validation,
    ParameterNotFound,
    ParameterVersionNotFound,
    ParameterAlreadyExists,
    HierarchyLevelLimitExceeded,
    ParameterMaxVersionLimitExceeded,
    ParameterPatternMismatch,
    InvalidAllowedPattern,
    ParameterVersionLabelLimitExceeded,
    InvalidFilterKey,
    InvalidFilterOption,
    InvalidFilterValue,
    InvalidNextToken,
    InvalidKeyId,
    InvalidResourceType,
    InvalidResourceId,
    TooManyTags,
    UnsupportedParameterType,
    InvalidPolicyType,
}

impl Code {
    /// The exception's name in botocore's model (`__type`).
    pub fn shape(self) -> &'static str {
        match self {
            Code::Validation => "ValidationException",
            Code::ParameterNotFound => "ParameterNotFound",
            Code::ParameterVersionNotFound => "ParameterVersionNotFound",
            Code::ParameterAlreadyExists => "ParameterAlreadyExists",
            Code::HierarchyLevelLimitExceeded => "HierarchyLevelLimitExceededException",
            Code::ParameterMaxVersionLimitExceeded => "ParameterMaxVersionLimitExceeded",
            Code::ParameterPatternMismatch => "ParameterPatternMismatchException",
            Code::InvalidAllowedPattern => "InvalidAllowedPatternException",
            Code::ParameterVersionLabelLimitExceeded => "ParameterVersionLabelLimitExceeded",
            Code::InvalidFilterKey => "InvalidFilterKey",
            Code::InvalidFilterOption => "InvalidFilterOption",
            Code::InvalidFilterValue => "InvalidFilterValue",
            Code::InvalidNextToken => "InvalidNextToken",
            Code::InvalidKeyId => "InvalidKeyId",
            Code::InvalidResourceType => "InvalidResourceType",
            Code::InvalidResourceId => "InvalidResourceId",
            Code::TooManyTags => "TooManyTagsError",
            Code::UnsupportedParameterType => "UnsupportedParameterType",
            Code::InvalidPolicyType => "InvalidPolicyTypeException",
        }
    }
}

/// A failure of a Parameter Store call or of its store.
#[derive(Debug, thiserror::Error)]
pub enum SsmError {
    /// The store's database failed (or a write lost a race: [`DbError::Conflict`]).
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("stored data is corrupt while {doing}: {reason}")]
    Corrupt { doing: String, reason: String },
    /// A sealed value that does not open: a changed key file, or altered data.
    #[error("opening the sealed value of {what}: {source}")]
    Seal { what: String, source: flotilla_seal::SealError },
    /// A refusal of the request, answered as AWS does.
    #[error("{code:?}: {message}")]
    Refused { code: Code, message: String },
    /// A body that is not the operation's JSON (the front door's own error shape).
    #[error("{0}")]
    Request(AwsError),
}

impl From<AwsError> for SsmError {
    fn from(e: AwsError) -> Self {
        SsmError::Request(e)
    }
}

impl SsmError {
    pub fn refused(code: Code, message: impl Into<String>) -> Self {
        SsmError::Refused { code, message: message.into() }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::refused(Code::Validation, message)
    }

    pub fn not_found(name: &str) -> Self {
        Self::refused(Code::ParameterNotFound, format!("Parameter {name} not found."))
    }

    pub fn corrupt(doing: impl Into<String>, reason: impl ToString) -> Self {
        SsmError::Corrupt { doing: doing.into(), reason: reason.to_string() }
    }

    /// The code a refusal answers with, if it is one.
    pub fn code(&self) -> Option<Code> {
        match self {
            SsmError::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether another writer won a race (the caller reads again and retries).
    pub fn is_conflict(&self) -> bool {
        matches!(self, SsmError::Db(e) if e.is_conflict())
    }

    /// The error as answered; a failure of the server is logged and not described.
    pub fn into_aws(self) -> AwsError {
        match self {
            SsmError::Refused { code, message } => AwsError::client(code.shape(), message),
            SsmError::Request(e) => e,
            other => {
                tracing::error!(error = %other, "parameter store request failed");
                AwsError::internal("InternalServerError", "Parameter Store failed to complete the request")
            }
        }
    }
}

/// Adds what was being done to a database error.
pub(crate) trait Doing<T> {
    fn doing(self, doing: impl Into<String>) -> Result<T>;
}

impl<T> Doing<T> for std::result::Result<T, sqlx::Error> {
    fn doing(self, doing: impl Into<String>) -> Result<T> {
        self.map_err(|source| DbError::Query { doing: doing.into(), source }.into())
    }
}
