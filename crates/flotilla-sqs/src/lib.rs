//! Amazon SQS (AWS JSON 1.0, target prefix `AmazonSQS`, signing name `sqs`, shapes as
//! in botocore's `sqs` 2012-11-05 model; errors query-compatible, see [`error`]).
//!
//! Queues ([`queues`]: standard and FIFO, attributes, tags, purge, dead-letter
//! sources), messages ([`messages`]: send with AWS's limits and digests, receive with
//! long polling, visibility timeouts and redrive; [`settle`]: delete and visibility
//! changes by receipt; [`batch`]: the batch forms' rules). Everything is kept in an
//! [`SqsStore`] (`sqs.db` or the `sqs` schema on PostgreSQL), committed before an
//! answer; the only process-local state is the long polls' wake-ups ([`wait`]). The
//! `sqs-retention` controller ([`retention`]) deletes what retention, purges and
//! deleted queues leave, and `sqs-metrics` ([`metrics`]) publishes `AWS/SQS` every
//! minute.
//!
//! Queue URLs are `ENDPOINT/ACCOUNT/NAME`, ARNs `arn:aws:sqs:REGION:ACCOUNT:NAME`.

mod attributes;
mod batch;
mod error;
mod fifo;
mod md5;
mod message_attributes;
mod messages;
mod metrics;
mod queues;
mod receipt;
mod retention;
mod settle;
pub mod store;
#[cfg(test)]
mod tests;
mod wait;

pub use error::{Code, Result, SqsError};
pub use store::{STORE_NAME, SqsStore};

use async_trait::async_trait;
use axum::response::Response;
use bytes::Bytes;
use flotilla_controller::Controller;
use flotilla_core::AccountContext;
use flotilla_core::metrics::MetricsSink;
pub use flotilla_db::StoreLocation;
use flotilla_protocol::{
    ArnScope, AwsError, Caller, Operation, OperationInput, Resources, ServiceModule, Wire, json_response, parse_request,
};
use std::sync::Arc;
use wait::Waiters;

const TARGET_PREFIX: &str = "AmazonSQS";

/// The SQS JSON service.
#[derive(Clone)]
pub struct SqsService {
    store: SqsStore,
    account: AccountContext,
    /// Where clients reach this endpoint; queue URLs start with it.
    endpoint: String,
    waiters: Arc<Waiters>,
    metrics: Option<Arc<dyn MetricsSink>>,
}

impl SqsService {
    /// Opens (creating if needed) the SQS store at `location`; queue URLs start with
    /// `endpoint`.
    pub async fn open(location: &StoreLocation, account: AccountContext, endpoint: impl Into<String>) -> Result<Self> {
        Ok(Self {
            store: SqsStore::open(location).await?,
            account,
            endpoint: endpoint.into().trim_end_matches('/').to_string(),
            waiters: Arc::default(),
            metrics: None,
        })
    }

    /// Publishes `AWS/SQS` metrics through `sink` (the `sqs-metrics` controller).
    pub fn with_metrics(mut self, sink: Arc<dyn MetricsSink>) -> Self {
        self.metrics = Some(sink);
        self
    }

    /// The store, for tests and the server's wiring.
    pub fn store(&self) -> &SqsStore {
        &self.store
    }

    /// `ENDPOINT/ACCOUNT/NAME`.
    fn queue_url(&self, name: &str) -> String {
        format!("{}/{}/{name}", self.endpoint, self.account.account_id)
    }

    /// `arn:aws:sqs:REGION:ACCOUNT:NAME`.
    fn queue_arn(&self, name: &str) -> String {
        format!("arn:aws:sqs:{}:{}:{name}", self.account.region, self.account.account_id)
    }
}

/// The queue a `QueueUrl` names, as an ARN (nothing when the URL cannot be read: the
/// operation refuses it).
fn queue_of_url(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    input
        .str("QueueUrl")
        .and_then(|url| queues::parse_url(url).ok())
        .map(|(account, name)| format!("arn:aws:sqs:{}:{account}:{name}", scope.region))
        .into_iter()
        .collect()
}

/// The queue a `QueueName` names.
fn queue_of_name(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    let account = input.str("QueueOwnerAWSAccountId").unwrap_or(scope.account_id);
    input.str("QueueName").map(|name| format!("arn:aws:sqs:{}:{account}:{name}", scope.region)).into_iter().collect()
}

/// Every operation served, with its IAM action (batches are authorized as their single
/// forms, as in IAM) and the queue it touches.
static OPERATIONS: &[Operation] = &[
    Operation::new("CreateQueue", "sqs:CreateQueue", Resources::From(queue_of_name)),
    Operation::new("GetQueueUrl", "sqs:GetQueueUrl", Resources::From(queue_of_name)),
    Operation::new("ListQueues", "sqs:ListQueues", Resources::Any),
    Operation::new("DeleteQueue", "sqs:DeleteQueue", Resources::From(queue_of_url)),
    Operation::new("GetQueueAttributes", "sqs:GetQueueAttributes", Resources::From(queue_of_url)),
    Operation::new("SetQueueAttributes", "sqs:SetQueueAttributes", Resources::From(queue_of_url)),
    Operation::new("PurgeQueue", "sqs:PurgeQueue", Resources::From(queue_of_url)),
    Operation::new("TagQueue", "sqs:TagQueue", Resources::From(queue_of_url)),
    Operation::new("UntagQueue", "sqs:UntagQueue", Resources::From(queue_of_url)),
    Operation::new("ListQueueTags", "sqs:ListQueueTags", Resources::From(queue_of_url)),
    Operation::new("ListDeadLetterSourceQueues", "sqs:ListDeadLetterSourceQueues", Resources::From(queue_of_url)),
    Operation::new("SendMessage", "sqs:SendMessage", Resources::From(queue_of_url)),
    Operation::new("SendMessageBatch", "sqs:SendMessage", Resources::From(queue_of_url)),
    Operation::new("ReceiveMessage", "sqs:ReceiveMessage", Resources::From(queue_of_url)),
    Operation::new("DeleteMessage", "sqs:DeleteMessage", Resources::From(queue_of_url)),
    Operation::new("DeleteMessageBatch", "sqs:DeleteMessage", Resources::From(queue_of_url)),
    Operation::new("ChangeMessageVisibility", "sqs:ChangeMessageVisibility", Resources::From(queue_of_url)),
    Operation::new("ChangeMessageVisibilityBatch", "sqs:ChangeMessageVisibility", Resources::From(queue_of_url)),
];

macro_rules! run {
    ($module:ident :: $op:ident, $self:expr, $body:expr) => {{
        let input = parse_request($body, "InvalidParameterValue")?;
        Ok(json_response(&$module::$op($self, input).await?))
    }};
}

impl SqsService {
    async fn dispatch(&self, operation: &str, b: &[u8]) -> Result<Response> {
        match operation {
            "CreateQueue" => run!(queues::create, self, b),
            "GetQueueUrl" => run!(queues::get_url, self, b),
            "ListQueues" => run!(queues::list, self, b),
            "DeleteQueue" => run!(queues::delete, self, b),
            "GetQueueAttributes" => run!(queues::get_attributes, self, b),
            "SetQueueAttributes" => run!(queues::set_attributes, self, b),
            "PurgeQueue" => run!(queues::purge, self, b),
            "TagQueue" => run!(queues::tag, self, b),
            "UntagQueue" => run!(queues::untag, self, b),
            "ListQueueTags" => run!(queues::list_tags, self, b),
            "ListDeadLetterSourceQueues" => run!(queues::dead_letter_sources, self, b),
            "SendMessage" => run!(messages::send, self, b),
            "SendMessageBatch" => run!(messages::send_batch, self, b),
            "ReceiveMessage" => run!(messages::receive, self, b),
            "DeleteMessage" => run!(settle::delete, self, b),
            "DeleteMessageBatch" => run!(settle::delete_batch, self, b),
            "ChangeMessageVisibility" => run!(settle::change_visibility, self, b),
            "ChangeMessageVisibilityBatch" => run!(settle::change_visibility_batch, self, b),
            other => Err(SqsError::Request(AwsError::client(
                "UnknownOperationException",
                format!("unknown operation: {TARGET_PREFIX}.{other}"),
            ))),
        }
    }
}

#[async_trait]
impl ServiceModule for SqsService {
    fn wire(&self) -> Wire {
        Wire::Json { target_prefix: TARGET_PREFIX, cbor_service: None }
    }

    fn signing_name(&self) -> &'static str {
        "sqs"
    }

    fn operations(&self) -> &'static [Operation] {
        OPERATIONS
    }

    fn controllers(&self) -> Vec<Arc<dyn Controller>> {
        let mut out: Vec<Arc<dyn Controller>> = vec![Arc::new(retention::Retention { store: self.store.clone() })];
        if let Some(sink) = &self.metrics {
            out.push(Arc::new(metrics::Publisher { store: self.store.clone(), sink: sink.clone() }));
        }
        out
    }

    async fn close(&self) {
        self.store.close().await;
    }

    /// Answers refusals itself (rather than through the front door) so they carry
    /// the `x-amzn-query-error` header SQS's clients read their codes from.
    async fn call(&self, operation: &str, body: Bytes, _caller: &Caller) -> std::result::Result<Response, AwsError> {
        Ok(self.dispatch(operation, body.as_ref()).await.unwrap_or_else(SqsError::into_response))
    }
}

/// An empty JSON answer (`{}`).
#[derive(serde::Serialize)]
pub(crate) struct Empty {}
