//! Every ECS error code is chosen here: domain rule violations, store failures and
//! the ECS-specific refusals map to AWS's codes and HTTP statuses in one place.

use flotilla_domain::{ValidationError, ValidationKind};
use flotilla_protocol::AwsError;
use flotilla_store::StoreError;

pub(crate) const INVALID_PARAMETER: &str = "InvalidParameterException";

/// A failed ECS operation.
#[derive(Debug)]
pub enum EcsError {
    Validation(ValidationError),
    Store(StoreError),
    ClusterNotFound,
    /// A named resource other than a cluster does not exist.
    ResourceNotFound(String),
    /// `ClientException`: the request is well-formed but refers to something wrong.
    Client(String),
    InvalidParameter(String),
    LimitExceeded(String),
    ServiceNotFound(String),
    ServiceNotActive(String),
    ServiceDeploymentNotFound(String),
    /// `ConflictException`: the resource is not in a state that allows the request.
    Conflict(String),
    /// A feature of ECS this control plane does not serve yet.
    UnsupportedFeature(String),
    TargetNotFound(String),
    AttributeLimitExceeded(String),
    /// DeleteCluster on a cluster still holding something: (code, message).
    ClusterContains(&'static str, &'static str),
    /// The request body is not JSON of the operation's shape.
    Serialization(String),
}

impl EcsError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidParameter(message.into())
    }

    /// A write lost to another writer; reading again and retrying may succeed.
    pub(crate) fn is_conflict(&self) -> bool {
        matches!(self, Self::Store(StoreError::Conflict { .. }))
    }

    pub(crate) fn client(message: impl Into<String>) -> Self {
        Self::Client(message.into())
    }
}

impl From<ValidationError> for EcsError {
    fn from(e: ValidationError) -> Self {
        Self::Validation(e)
    }
}

impl From<StoreError> for EcsError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl std::fmt::Display for EcsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Validation(v) => write!(f, "{v}"),
            Self::Store(e) => write!(f, "{e}"),
            Self::ClusterNotFound => write!(f, "cluster not found"),
            Self::ClusterContains(_, m) => write!(f, "{m}"),
            Self::ResourceNotFound(m)
            | Self::Client(m)
            | Self::InvalidParameter(m)
            | Self::LimitExceeded(m)
            | Self::Serialization(m)
            | Self::ServiceNotFound(m)
            | Self::ServiceNotActive(m)
            | Self::ServiceDeploymentNotFound(m)
            | Self::Conflict(m)
            | Self::UnsupportedFeature(m)
            | Self::TargetNotFound(m)
            | Self::AttributeLimitExceeded(m) => {
                write!(f, "{m}")
            }
        }
    }
}

impl std::error::Error for EcsError {}

impl From<EcsError> for AwsError {
    fn from(e: EcsError) -> Self {
        match e {
            EcsError::Validation(v) => match v.kind {
                ValidationKind::Client => AwsError::client("ClientException", v.message),
                ValidationKind::InvalidParameter => AwsError::client(INVALID_PARAMETER, v.message),
            },
            EcsError::ClusterNotFound => AwsError::client("ClusterNotFoundException", "Cluster not found."),
            EcsError::ResourceNotFound(m) => AwsError::client("ResourceNotFoundException", m),
            EcsError::Client(m) => AwsError::client("ClientException", m),
            EcsError::InvalidParameter(m) => AwsError::client(INVALID_PARAMETER, m),
            EcsError::LimitExceeded(m) => AwsError::client("LimitExceededException", m),
            EcsError::Serialization(m) => AwsError::serialization(m),
            EcsError::ServiceNotFound(m) => AwsError::client("ServiceNotFoundException", m),
            EcsError::ServiceNotActive(m) => AwsError::client("ServiceNotActiveException", m),
            EcsError::ServiceDeploymentNotFound(m) => AwsError::client("ServiceDeploymentNotFoundException", m),
            EcsError::Conflict(m) => AwsError::client("ConflictException", m),
            EcsError::UnsupportedFeature(m) => AwsError::client("UnsupportedFeatureException", m),
            EcsError::TargetNotFound(m) => AwsError::client("TargetNotFoundException", m),
            EcsError::AttributeLimitExceeded(m) => AwsError::client("AttributeLimitExceededException", m),
            EcsError::ClusterContains(code, m) => AwsError::client(code, m),
            EcsError::Store(StoreError::Limit(m)) => AwsError::client("LimitExceededException", m),
            EcsError::Store(StoreError::Conflict { what }) => AwsError::client(
                "UpdateInProgressException",
                format!("{what} is being changed by other requests; retry"),
            ),
            EcsError::Store(other) => {
                tracing::error!(error = %other, "store failure");
                AwsError::internal("ServerException", "the server could not complete the request; see its log")
            }
        }
    }
}
