//! EventBridge's errors: store failures, and the AWS error each refusal is. This is
//! the one place error codes are chosen: the request-level exceptions
//! ([`EventsError`] → [`AwsError`]), the per-entry codes of PutEvents, PutTargets and
//! RemoveTargets ([`EntryError`]), and the codes a failed delivery reports in its
//! dead-letter message ([`DeliveryCode`]).

use flotilla_db::DbError;
use flotilla_protocol::AwsError;

pub type Result<T> = std::result::Result<T, EventsError>;

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("corrupt data while reading {what}: {reason}")]
    Corrupt { what: String, reason: String },
    /// `ValidationException`.
    #[error("{0}")]
    Validation(String),
    /// `ResourceNotFoundException`.
    #[error("{0}")]
    NotFound(String),
    /// `ResourceAlreadyExistsException`.
    #[error("{0}")]
    AlreadyExists(String),
    /// `InvalidEventPatternException`, worded by the pattern crate.
    #[error("{0}")]
    InvalidPattern(String),
    /// `LimitExceededException`.
    #[error("{0}")]
    LimitExceeded(String),
    /// `ConcurrentModificationException`: a write lost a race it cannot settle.
    #[error("{0}")]
    ConcurrentModification(String),
}

impl From<sqlx::Error> for EventsError {
    fn from(e: sqlx::Error) -> Self {
        EventsError::Db(DbError::Query { doing: "reading or writing the events store".into(), source: e })
    }
}

impl EventsError {
    pub fn corrupt(what: &str, reason: impl ToString) -> Self {
        EventsError::Corrupt { what: what.to_string(), reason: reason.to_string() }
    }

    pub fn bus_not_found(bus: &str) -> Self {
        EventsError::NotFound(format!("Event bus {bus} does not exist."))
    }

    pub fn rule_not_found(rule: &str, bus: &str) -> Self {
        EventsError::NotFound(format!("Rule {rule} does not exist on EventBus {bus}."))
    }

    pub fn connection_not_found(name: &str) -> Self {
        EventsError::NotFound(format!("Failed to describe the connection(s). Connection '{name}' does not exist."))
    }

    pub fn api_destination_not_found(name: &str) -> Self {
        EventsError::NotFound(format!(
            "Failed to describe the api-destination(s). An api-destination '{name}' does not exist."
        ))
    }

    pub fn limit() -> Self {
        EventsError::LimitExceeded("The requested resource exceeds the maximum number allowed.".into())
    }

    /// AWS's wording for a request member outside its model constraints.
    pub fn constraint(value: &str, at: &str, constraint: &str) -> Self {
        EventsError::Validation(format!(
            "1 validation error detected: Value '{value}' at '{at}' failed to satisfy constraint: {constraint}"
        ))
    }
}

impl From<EventsError> for AwsError {
    fn from(e: EventsError) -> Self {
        match e {
            EventsError::Validation(m) => AwsError::client("ValidationException", m),
            EventsError::NotFound(m) => AwsError::client("ResourceNotFoundException", m),
            EventsError::AlreadyExists(m) => AwsError::client("ResourceAlreadyExistsException", m),
            EventsError::InvalidPattern(m) => AwsError::client("InvalidEventPatternException", m),
            EventsError::LimitExceeded(m) => AwsError::client("LimitExceededException", m),
            EventsError::ConcurrentModification(m) => AwsError::client("ConcurrentModificationException", m),
            other => {
                tracing::error!(error = %other, "events store failure");
                AwsError::internal("InternalException", other.to_string())
            }
        }
    }
}

/// A refused entry of a batch call (PutEvents, PutTargets, RemoveTargets): its
/// `ErrorCode` and `ErrorMessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError {
    pub code: &'static str,
    pub message: String,
}

impl EntryError {
    /// PutEvents: a required member is missing.
    pub fn missing(member: &str) -> Self {
        EntryError {
            code: "InvalidArgument",
            message: format!("Parameter {member} is not valid. Reason: {member} is a required argument."),
        }
    }

    /// PutEvents: `Detail` is not a JSON object.
    pub fn malformed_detail() -> Self {
        EntryError { code: "MalformedDetail", message: "Detail is malformed.".into() }
    }

    /// PutEvents: another member refused (a resource too long, a bad bus name).
    pub fn invalid(message: impl Into<String>) -> Self {
        EntryError { code: "InvalidArgument", message: message.into() }
    }

    /// PutEvents: the entry's bus does not exist.
    pub fn bus_not_found(bus: &str) -> Self {
        EntryError { code: "ResourceNotFoundException", message: format!("Event bus {bus} does not exist.") }
    }

    /// PutTargets: a target refused.
    pub fn target(message: impl Into<String>) -> Self {
        EntryError { code: "ValidationException", message: message.into() }
    }

    /// RemoveTargets: no such target.
    pub fn no_target(rule: &str, id: &str) -> Self {
        EntryError {
            code: "ResourceNotFoundException",
            message: format!("Rule '{rule}' does not have a target with the Id '{id}'."),
        }
    }
}

/// Why a delivery failed, as its dead-letter message's `ERROR_CODE` says it (AWS
/// documents `NO_PERMISSIONS`, `NO_RESOURCE`, `THROTTLING`, `TIMEOUT`, … as samples).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryCode {
    /// The target (cluster, queue, API destination, connection, task definition) does not exist.
    NoResource,
    /// The target answered 429, or a rate limit held the request back.
    Throttling,
    /// No answer in time (API destinations: 5 seconds).
    Timeout,
    /// The target refused the request as invalid (an HTTP 4xx, an ECS client error).
    InvalidParameter,
    /// The target failed (an HTTP 5xx, an ECS server error, no capacity to place a task).
    ServiceError,
    /// The endpoint could not be reached.
    ConnectionFailure,
    /// The target kind or its configuration is not one this server can deliver to
    /// (an `https` endpoint, an OAuth connection).
    Unsupported,
}

impl DeliveryCode {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryCode::NoResource => "NO_RESOURCE",
            DeliveryCode::Throttling => "THROTTLING",
            DeliveryCode::Timeout => "TIMEOUT",
            DeliveryCode::InvalidParameter => "INVALID_PARAMETER",
            DeliveryCode::ServiceError => "SERVICE_ERROR",
            DeliveryCode::ConnectionFailure => "CONNECTION_FAILURE",
            DeliveryCode::Unsupported => "UNSUPPORTED_TARGET",
        }
    }

    /// Whether trying again may help: missing resources, refusals and unsupported
    /// targets go to the dead-letter queue at once, as AWS sends permission and
    /// missing-resource errors there without retrying.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            DeliveryCode::Throttling
                | DeliveryCode::Timeout
                | DeliveryCode::ServiceError
                | DeliveryCode::ConnectionFailure
        )
    }

    /// The code an HTTP status answers (None: success).
    pub fn of_http_status(status: u16) -> Option<DeliveryCode> {
        match status {
            200..=399 => None,
            429 => Some(DeliveryCode::Throttling),
            404 | 410 => Some(DeliveryCode::NoResource),
            400..=499 => Some(DeliveryCode::InvalidParameter),
            _ => Some(DeliveryCode::ServiceError),
        }
    }

    /// The code an AWS error code from another service (ECS, SQS) answers.
    pub fn of_aws_error(code: &str) -> DeliveryCode {
        match code {
            "ClusterNotFoundException"
            | "QueueDoesNotExist"
            | "AWS.SimpleQueueService.NonExistentQueue"
            | "ResourceNotFoundException"
            | "NonExistentQueue" => DeliveryCode::NoResource,
            "ThrottlingException" | "RequestThrottled" | "ThrottlingException.Throttled" => DeliveryCode::Throttling,
            c if c.contains("Server") || c.contains("Internal") || c.contains("Unavailable") => {
                DeliveryCode::ServiceError
            }
            _ => DeliveryCode::InvalidParameter,
        }
    }
}
