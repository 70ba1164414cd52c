//! Validation failures of domain rules.

/// Which of ECS's client-error codes a rule violation maps to.
///
/// ECS answers some rule violations with `ClientException` (mostly task definition
/// content) and others with `InvalidParameterException` (mostly request parameters);
/// the domain records which so the wire layer can answer as ECS does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationKind {
    Client,
    InvalidParameter,
}

/// A rule violation, with a message that names the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    pub kind: ValidationKind,
    pub message: String,
}

impl ValidationError {
    pub fn client(message: impl Into<String>) -> Self {
        Self { kind: ValidationKind::Client, message: message.into() }
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self { kind: ValidationKind::InvalidParameter, message: message.into() }
    }
}

pub type Validated<T = ()> = Result<T, ValidationError>;
