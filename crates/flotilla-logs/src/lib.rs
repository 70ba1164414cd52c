//! CloudWatch Logs (AWS JSON 1.1, target prefix `Logs_20140328`, signing name `logs`,
//! shapes as in botocore's `logs` 2014-03-28 model).
//!
//! Log groups ([`groups`]: retention, tags), log streams ([`streams`]), events
//! ([`events`]: PutLogEvents with AWS's batch limits, GetLogEvents with forward and
//! backward tokens, FilterLogEvents with filter patterns) and Logs Insights queries
//! ([`queries`]). Everything is kept in a [`LogStore`] (`logs.db` or the `logs`
//! schema on PostgreSQL); the `logs-retention` controller ([`retention`]) deletes
//! events older than their group's retention. The query languages themselves are
//! `flotilla-logs-query`'s.

mod error;
mod events;
mod groups;
mod queries;
mod retention;
mod store;
mod streams;
#[cfg(test)]
mod tests;

pub use error::{LogsError, Result};
pub use store::{LogStore, STORE_NAME};

use async_trait::async_trait;
use axum::response::Response;
use bytes::Bytes;
use flotilla_controller::Controller;
pub use flotilla_db::StoreLocation;
use flotilla_domain::AccountContext;
use flotilla_protocol::{
    ArnScope, AwsError, Caller, Operation, OperationInput, Resources, ServiceModule, Wire, json_response, parse_request,
};
use std::sync::Arc;

const TARGET_PREFIX: &str = "Logs_20140328";
const INVALID_PARAMETER: &str = "InvalidParameterException";

/// The CloudWatch Logs JSON service.
#[derive(Clone)]
pub struct LogsService {
    store: LogStore,
    account: AccountContext,
}

impl LogsService {
    /// Opens (creating if needed) the logs store at `location`.
    pub async fn open(location: &StoreLocation, account: AccountContext) -> Result<Self> {
        Ok(Self { store: LogStore::open(location).await?, account })
    }

    /// `arn:aws:logs:REGION:ACCOUNT:log-group:NAME`.
    fn group_arn(&self, name: &str) -> String {
        format!("arn:aws:logs:{}:{}:log-group:{name}", self.account.region, self.account.account_id)
    }
}

/// The log group a request names (`logGroupName`, or `logGroupIdentifier`: a name or ARN).
fn named_group(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    let given = input.str("logGroupName").or_else(|| input.str("logGroupIdentifier"));
    given
        .map(|g| {
            if g.starts_with("arn:") {
                g.trim_end_matches(":*").to_string()
            } else {
                scope.arn("logs", &format!("log-group:{g}"))
            }
        })
        .into_iter()
        .collect()
}

/// Every operation served, with its IAM action and the log group it touches.
static OPERATIONS: &[Operation] = &[
    Operation::new("CreateLogGroup", "logs:CreateLogGroup", Resources::From(named_group)),
    Operation::new("DescribeLogGroups", "logs:DescribeLogGroups", Resources::Any),
    Operation::new("DeleteLogGroup", "logs:DeleteLogGroup", Resources::From(named_group)),
    Operation::new("PutRetentionPolicy", "logs:PutRetentionPolicy", Resources::From(named_group)),
    Operation::new("DeleteRetentionPolicy", "logs:DeleteRetentionPolicy", Resources::From(named_group)),
    Operation::new("TagLogGroup", "logs:TagLogGroup", Resources::From(named_group)),
    Operation::new("UntagLogGroup", "logs:UntagLogGroup", Resources::From(named_group)),
    Operation::new("ListTagsLogGroup", "logs:ListTagsLogGroup", Resources::From(named_group)),
    Operation::new("TagResource", "logs:TagResource", Resources::Any),
    Operation::new("UntagResource", "logs:UntagResource", Resources::Any),
    Operation::new("ListTagsForResource", "logs:ListTagsForResource", Resources::Any),
    Operation::new("CreateLogStream", "logs:CreateLogStream", Resources::From(named_group)),
    Operation::new("DescribeLogStreams", "logs:DescribeLogStreams", Resources::From(named_group)),
    Operation::new("DeleteLogStream", "logs:DeleteLogStream", Resources::From(named_group)),
    Operation::new("PutLogEvents", "logs:PutLogEvents", Resources::From(named_group)),
    Operation::new("GetLogEvents", "logs:GetLogEvents", Resources::From(named_group)),
    Operation::new("FilterLogEvents", "logs:FilterLogEvents", Resources::From(named_group)),
    Operation::new("StartQuery", "logs:StartQuery", Resources::Any),
    Operation::new("GetQueryResults", "logs:GetQueryResults", Resources::Any),
    Operation::new("StopQuery", "logs:StopQuery", Resources::Any),
];

macro_rules! run {
    ($module:ident :: $op:ident, $self:expr, $body:expr) => {{
        let input = parse_request($body, INVALID_PARAMETER)?;
        Ok(json_response(&$module::$op($self, input).await?))
    }};
}

#[async_trait]
impl ServiceModule for LogsService {
    fn wire(&self) -> Wire {
        Wire::Json { target_prefix: TARGET_PREFIX, cbor_service: None }
    }

    fn signing_name(&self) -> &'static str {
        "logs"
    }

    fn operations(&self) -> &'static [Operation] {
        OPERATIONS
    }

    fn controllers(&self) -> Vec<Arc<dyn Controller>> {
        vec![Arc::new(retention::Retention { store: self.store.clone() })]
    }

    async fn close(&self) {
        self.store.close().await;
    }

    async fn call(&self, operation: &str, body: Bytes, _caller: &Caller) -> std::result::Result<Response, AwsError> {
        let b = body.as_ref();
        match operation {
            "CreateLogGroup" => run!(groups::create, self, b),
            "DescribeLogGroups" => run!(groups::describe, self, b),
            "DeleteLogGroup" => run!(groups::delete, self, b),
            "PutRetentionPolicy" => run!(groups::put_retention, self, b),
            "DeleteRetentionPolicy" => run!(groups::delete_retention, self, b),
            "TagLogGroup" => run!(groups::tag_group, self, b),
            "UntagLogGroup" => run!(groups::untag_group, self, b),
            "ListTagsLogGroup" => run!(groups::list_group_tags, self, b),
            "TagResource" => run!(groups::tag_resource, self, b),
            "UntagResource" => run!(groups::untag_resource, self, b),
            "ListTagsForResource" => run!(groups::list_resource_tags, self, b),
            "CreateLogStream" => run!(streams::create, self, b),
            "DescribeLogStreams" => run!(streams::describe, self, b),
            "DeleteLogStream" => run!(streams::delete, self, b),
            "PutLogEvents" => run!(events::put, self, b),
            "GetLogEvents" => run!(events::get, self, b),
            "FilterLogEvents" => run!(events::filter, self, b),
            "StartQuery" => run!(queries::start, self, b),
            "GetQueryResults" => run!(queries::results, self, b),
            "StopQuery" => run!(queries::stop, self, b),
            other => Err(AwsError::client(
                "UnknownOperationException",
                format!("unknown operation: {TARGET_PREFIX}.{other}"),
            )),
        }
    }
}

/// An empty JSON answer (`{}`).
#[derive(serde::Serialize)]
pub(crate) struct Empty {}
