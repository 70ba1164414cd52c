//! Every ELBv2 error code is chosen here (botocore's `elbv2` model: the exception
//! shapes' `code`s, all sender faults), and store failures become `InternalFailure`.

use flotilla_db::DbError;
use flotilla_protocol::AwsError;

#[derive(Debug, thiserror::Error)]
pub enum ElbError {
    /// `ValidationError`: a parameter is malformed or out of range.
    #[error("{0}")]
    Validation(String),
    /// `InvalidConfigurationRequest`: well-formed, but not a configuration that works.
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    DuplicateLoadBalancerName(String),
    #[error("{0}")]
    DuplicateTargetGroupName(String),
    #[error("{0}")]
    LoadBalancerNotFound(String),
    #[error("{0}")]
    TargetGroupNotFound(String),
    #[error("{0}")]
    ResourceInUse(String),
    #[error("{0}")]
    TooManyTags(String),
    #[error("{0}")]
    DuplicateTagKeys(String),
    #[error("{0}")]
    OperationNotPermitted(String),
    #[error("{0}")]
    TooManyTargetGroups(String),
    #[error("{0}")]
    InvalidAction(String),
    #[error("{0}")]
    TooManyActions(String),
    #[error("{0}")]
    IncompatibleProtocols(String),
    #[error("{0}")]
    TargetGroupAssociationLimit(String),
    #[error("{0}")]
    UnsupportedProtocol(String),
    #[error("{0}")]
    DuplicateListener(String),
    #[error("{0}")]
    ListenerNotFound(String),
    #[error("{0}")]
    RuleNotFound(String),
    #[error("{0}")]
    PriorityInUse(String),
    #[error("{0}")]
    InvalidTarget(String),
    #[error("{0}")]
    TooManyTargets(String),
    /// Another request changed the resource first.
    #[error("{0} was changed by another request; retry")]
    Conflict(String),
    #[error(transparent)]
    Db(DbError),
}

impl ElbError {
    pub(crate) fn validation(message: impl Into<String>) -> Self {
        Self::Validation(message.into())
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::Config(message.into())
    }

    pub(crate) fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict(_))
    }
}

impl From<DbError> for ElbError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Conflict { what } => Self::Conflict(what),
            other => Self::Db(other),
        }
    }
}

impl From<ElbError> for AwsError {
    fn from(e: ElbError) -> Self {
        let code = match &e {
            ElbError::Validation(_) => "ValidationError",
            ElbError::Config(_) => "InvalidConfigurationRequest",
            ElbError::DuplicateLoadBalancerName(_) => "DuplicateLoadBalancerName",
            ElbError::DuplicateTargetGroupName(_) => "DuplicateTargetGroupName",
            ElbError::LoadBalancerNotFound(_) => "LoadBalancerNotFound",
            ElbError::TargetGroupNotFound(_) => "TargetGroupNotFound",
            ElbError::ResourceInUse(_) => "ResourceInUse",
            ElbError::TooManyTags(_) => "TooManyTags",
            ElbError::DuplicateTagKeys(_) => "DuplicateTagKeys",
            ElbError::OperationNotPermitted(_) => "OperationNotPermitted",
            ElbError::TooManyTargetGroups(_) => "TooManyTargetGroups",
            ElbError::InvalidAction(_) => "InvalidLoadBalancerAction",
            ElbError::TooManyActions(_) => "TooManyActions",
            ElbError::IncompatibleProtocols(_) => "IncompatibleProtocols",
            ElbError::TargetGroupAssociationLimit(_) => "TargetGroupAssociationLimit",
            ElbError::UnsupportedProtocol(_) => "UnsupportedProtocol",
            ElbError::DuplicateListener(_) => "DuplicateListener",
            ElbError::ListenerNotFound(_) => "ListenerNotFound",
            ElbError::RuleNotFound(_) => "RuleNotFound",
            ElbError::PriorityInUse(_) => "PriorityInUse",
            ElbError::InvalidTarget(_) => "InvalidTarget",
            ElbError::TooManyTargets(_) => "TooManyTargets",
            ElbError::Conflict(_) => "Throttling",
            ElbError::Db(db) => {
                tracing::error!(error = %db, "load balancing store failure");
                return AwsError::internal("InternalFailure", "the server could not complete the request; see its log");
            }
        };
        AwsError::client(code, e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, ElbError>;
