//! The SQS service's errors, and the one place its error codes are chosen.
//!
//! SQS is `awsQueryCompatible`: an error answers with its modelled shape in `__type`
//! (`QueueDoesNotExist`) and the query protocol's code in the `x-amzn-query-error`
//! header (`AWS.SimpleQueueService.NonExistentQueue;Sender`); botocore reports the
//! query code as the error's code and raises the modelled exception class.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use flotilla_db::DbError;
use flotilla_protocol::AwsError;

pub type Result<T, E = SqsError> = std::result::Result<T, E>;

/// Every refusal SQS answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    QueueDoesNotExist,
    QueueNameExists,
    InvalidParameterValue,
    MissingParameter,
    InvalidAttributeName,
    InvalidAttributeValue,
    InvalidAddress,
    ReceiptHandleIsInvalid,
    MessageNotInflight,
    BatchEntryIdsNotDistinct,
    TooManyEntriesInBatchRequest,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    BatchRequestTooLong,
    InvalidMessageContents,
    OverLimit,
    PurgeQueueInProgress,
}

impl Code {
    /// The error shape of botocore's model (`__type`); for errors the model does not
    /// list, the query code.
    pub fn shape(self) -> &'static str {
        match self {
            Code::QueueDoesNotExist => "QueueDoesNotExist",
            Code::QueueNameExists => "QueueNameExists",
            Code::InvalidParameterValue => "InvalidParameterValue",
            Code::MissingParameter => "MissingParameter",
            Code::InvalidAttributeName => "InvalidAttributeName",
            Code::InvalidAttributeValue => "InvalidAttributeValue",
            Code::InvalidAddress => "InvalidAddress",
            Code::ReceiptHandleIsInvalid => "ReceiptHandleIsInvalid",
            Code::MessageNotInflight => "MessageNotInflight",
            Code::BatchEntryIdsNotDistinct => "BatchEntryIdsNotDistinct",
            Code::TooManyEntriesInBatchRequest => "TooManyEntriesInBatchRequest",
            Code::EmptyBatchRequest => "EmptyBatchRequest",
            Code::InvalidBatchEntryId => "InvalidBatchEntryId",
            Code::BatchRequestTooLong => "BatchRequestTooLong",
            Code::InvalidMessageContents => "InvalidMessageContents",
            Code::OverLimit => "OverLimit",
            Code::PurgeQueueInProgress => "PurgeQueueInProgress",
        }
    }

    /// The query protocol's code, as SQS has always answered it (and as batch
    /// results' `Code` carries it).
    pub fn query_code(self) -> &'static str {
        match self {
            Code::QueueDoesNotExist => "AWS.SimpleQueueService.NonExistentQueue",
            Code::QueueNameExists => "QueueAlreadyExists",
            Code::MessageNotInflight => "AWS.SimpleQueueService.MessageNotInflight",
            Code::BatchEntryIdsNotDistinct => "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
            Code::TooManyEntriesInBatchRequest => "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            Code::EmptyBatchRequest => "AWS.SimpleQueueService.EmptyBatchRequest",
            Code::InvalidBatchEntryId => "AWS.SimpleQueueService.InvalidBatchEntryId",
            Code::BatchRequestTooLong => "AWS.SimpleQueueService.BatchRequestTooLong",
            Code::PurgeQueueInProgress => "AWS.SimpleQueueService.PurgeQueueInProgress",
            other => other.shape(),
        }
    }

    /// OverLimit is a 403 in SQS, like the query protocol answered it.
    fn status(self) -> StatusCode {
        match self {
            Code::OverLimit => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SqsError {
    /// The SQS store's database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("stored data is corrupt while reading {what}: {reason}")]
    Corrupt { what: String, reason: String },
    /// A refusal of the request, answered as AWS does.
    #[error("{code:?}: {message}")]
    Refused { code: Code, message: String },
    /// A body that is not the operation's JSON (the front door's own error shape).
    #[error("{0}")]
    Request(AwsError),
}

impl From<sqlx::Error> for SqsError {
    fn from(e: sqlx::Error) -> Self {
        SqsError::Db(DbError::Query { doing: "reading or writing the SQS store".into(), source: e })
    }
}

impl From<AwsError> for SqsError {
    fn from(e: AwsError) -> Self {
        SqsError::Request(e)
    }
}

impl SqsError {
    pub fn refused(code: Code, message: impl Into<String>) -> Self {
        SqsError::Refused { code, message: message.into() }
    }

    pub fn corrupt(what: &str, reason: impl ToString) -> Self {
        SqsError::Corrupt { what: what.to_string(), reason: reason.to_string() }
    }

    pub fn no_queue() -> Self {
        Self::refused(Code::QueueDoesNotExist, "The specified queue does not exist.")
    }

    /// `The request must contain the parameter NAME.`
    pub fn missing(name: &str) -> Self {
        Self::refused(Code::MissingParameter, format!("The request must contain the parameter {name}."))
    }

    /// `Value VALUE for parameter NAME is invalid. Reason: WHY.`
    pub fn invalid(name: &str, value: impl std::fmt::Display, why: &str) -> Self {
        Self::refused(
            Code::InvalidParameterValue,
            format!("Value {value} for parameter {name} is invalid. Reason: {why}."),
        )
    }

    /// A value the attribute `name` cannot take.
    pub fn attribute_value(name: &str, why: &str) -> Self {
        Self::refused(Code::InvalidAttributeValue, format!("Invalid value for the parameter {name}. Reason: {why}."))
    }

    pub fn attribute_name(name: &str) -> Self {
        Self::refused(Code::InvalidAttributeName, format!("Unknown Attribute {name}."))
    }

    pub fn receipt_invalid(why: &str) -> Self {
        Self::refused(Code::ReceiptHandleIsInvalid, why.to_string())
    }

    /// The code a refusal answers with, if it is one.
    pub fn code(&self) -> Option<Code> {
        match self {
            SqsError::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The message a client sees (a failure of the store is not described to it).
    pub fn public_message(&self) -> String {
        match self {
            SqsError::Refused { message, .. } => message.clone(),
            SqsError::Request(e) => e.message.clone(),
            _ => "SQS failed to complete the request; the server's log says why.".to_string(),
        }
    }

    /// The error as answered: `{"__type", "message"}` with the query code in
    /// `x-amzn-query-error`.
    pub fn into_response(self) -> Response {
        let (error, query) = match self {
            SqsError::Refused { code, message } => {
                (AwsError::new(code.status(), code.shape(), message), Some(format!("{};Sender", code.query_code())))
            }
            SqsError::Request(e) => (e, None),
            other => {
                tracing::error!(error = %other, "SQS request failed");
                (
                    AwsError::internal("InternalError", other.public_message()),
                    Some("InternalError;Receiver".to_string()),
                )
            }
        };
        let mut response = error.into_response();
        if let Some(v) = query.and_then(|q| HeaderValue::from_str(&q).ok()) {
            response.headers_mut().insert("x-amzn-query-error", v);
        }
        response
    }
}
