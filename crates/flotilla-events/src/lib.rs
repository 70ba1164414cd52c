//! Amazon EventBridge (AWS JSON 1.1, target prefix `AWSEvents`, signing name `events`,
//! shapes as in botocore's `events` 2015-10-07 model).
//!
//! Event buses ([`buses`]: `default` always exists), rules ([`rules`]: event patterns
//! from `flotilla-event-pattern`, schedules from `flotilla-schedule`, tags,
//! TestEventPattern), targets ([`targets`]: ECS tasks, SQS queues, API destinations,
//! with input transformation, retry policies and dead-letter queues), connections and
//! API destinations ([`connections`]), and PutEvents ([`put_events`]), which stores each
//! matched event with one delivery per matched target in the durable **outbox** before
//! it answers. The default bus is also the control plane's [`EventSink`]: ECS puts its
//! state changes there.
//!
//! Two controllers, each under the Runner's lease: `events-delivery` ([`delivery`])
//! sends pending deliveries to their targets ([`invoke`]) at least once, retrying with
//! backoff and dead-lettering as AWS does; `events-schedules` ([`schedules`]) fires
//! scheduled rules through the same outbox. Targets in other modules are reached
//! through traits the server wires in ([`EcsLauncher`], [`QueueSender`]), so this
//! crate depends on neither ECS nor SQS. Everything is kept in an [`EventStore`]
//! (`events.db`, or the `events` schema on PostgreSQL).

mod buses;
mod check;
mod connections;
pub mod delivery;
mod error;
mod invoke;
mod put_events;
mod rules;
mod schedules;
mod store;
mod targets;
#[cfg(test)]
mod tests;

pub use delivery::{EcsLauncher, EcsRunRequest, QueueMessage, QueueSender, TargetError};
pub use error::{DeliveryCode, EventsError, Result};
pub use flotilla_core::events::{BusEvent, EventSink};
pub use store::{DEFAULT_BUS, EventStore, STORE_NAME};

use async_trait::async_trait;
use axum::response::Response;
use bytes::Bytes;
use flotilla_controller::Controller;
use flotilla_core::AccountContext;
pub use flotilla_db::StoreLocation;
use flotilla_protocol::{
    ArnScope, AwsError, Caller, Operation, OperationInput, Resources, ServiceModule, Wire, json_response, parse_request,
};
use std::sync::Arc;
use tokio::sync::Notify;

const TARGET_PREFIX: &str = "AWSEvents";
const VALIDATION: &str = "ValidationException";

/// The EventBridge JSON service. Cheap to clone: its controllers hold clones.
#[derive(Clone)]
pub struct EventsService {
    store: EventStore,
    account: AccountContext,
    /// Rung when deliveries are put in the outbox, so `events-delivery` runs at once.
    wakeup: Arc<Notify>,
    /// Each bus's enabled pattern rules, compiled, as of a bus generation.
    rules: Arc<put_events::RuleCache>,
    ecs: Option<Arc<dyn EcsLauncher>>,
    queues: Option<Arc<dyn QueueSender>>,
    http: invoke::HttpClient,
    limiter: Arc<invoke::RateLimiter>,
}

impl EventsService {
    /// Opens (creating if needed) the events store at `location`.
    pub async fn open(location: &StoreLocation, account: AccountContext) -> Result<Self> {
        Ok(Self {
            store: EventStore::open(location).await?,
            account,
            wakeup: Arc::default(),
            rules: Arc::default(),
            ecs: None,
            queues: None,
            http: invoke::http_client(),
            limiter: Arc::default(),
        })
    }

    /// Runs ECS targets' tasks through `launcher`.
    pub fn with_ecs(mut self, launcher: Arc<dyn EcsLauncher>) -> Self {
        self.ecs = Some(launcher);
        self
    }

    /// Sends SQS targets' and dead-letter queues' messages through `sender`.
    pub fn with_queues(mut self, sender: Arc<dyn QueueSender>) -> Self {
        self.queues = Some(sender);
        self
    }

    /// The store, for tests and diagnostics.
    pub fn store(&self) -> &EventStore {
        &self.store
    }

    /// `arn:aws:events:REGION:ACCOUNT:event-bus/NAME`.
    fn bus_arn(&self, bus: &str) -> String {
        format!("arn:aws:events:{}:{}:event-bus/{bus}", self.account.region, self.account.account_id)
    }

    /// `…:rule/NAME` on the default bus, `…:rule/BUS/NAME` on another.
    fn rule_arn(&self, bus: &str, rule: &str) -> String {
        rule_arn(&ArnScope { region: &self.account.region, account_id: &self.account.account_id }, bus, rule)
    }

    fn connection_arn(&self, name: &str, uid: &str) -> String {
        format!("arn:aws:events:{}:{}:connection/{name}/{uid}", self.account.region, self.account.account_id)
    }

    fn api_destination_arn(&self, name: &str, uid: &str) -> String {
        format!("arn:aws:events:{}:{}:api-destination/{name}/{uid}", self.account.region, self.account.account_id)
    }
}

fn rule_arn(scope: &ArnScope<'_>, bus: &str, rule: &str) -> String {
    if bus == DEFAULT_BUS {
        scope.arn("events", &format!("rule/{rule}"))
    } else {
        scope.arn("events", &format!("rule/{bus}/{rule}"))
    }
}

/// The bus name an `EventBusName` member gives (a name or a bus ARN); `default` when absent.
pub(crate) fn bus_name(given: Option<&str>) -> String {
    match given {
        None => DEFAULT_BUS.to_string(),
        Some(g) => match g.split_once(":event-bus/") {
            Some((head, name)) if head.starts_with("arn:") => name.to_string(),
            _ => g.to_string(),
        },
    }
}

/// The rule a request names (`Name` or `Rule`, with `EventBusName`).
fn named_rule(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    let bus = bus_name(input.str("EventBusName"));
    input.str("Name").or_else(|| input.str("Rule")).map(|r| rule_arn(scope, &bus, r)).into_iter().collect()
}

/// The bus a request names (`Name`, or `EventBusName`).
fn named_bus(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    let bus = bus_name(input.str("Name").or_else(|| input.str("EventBusName")));
    vec![scope.arn("events", &format!("event-bus/{bus}"))]
}

/// The resource a tagging call names.
fn named_resource(input: &OperationInput<'_>, _scope: &ArnScope<'_>) -> Vec<String> {
    input.str("ResourceARN").map(str::to_string).into_iter().collect()
}

fn named_connection(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    input.str("Name").map(|n| scope.arn("events", &format!("connection/{n}"))).into_iter().collect()
}

fn named_api_destination(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    input.str("Name").map(|n| scope.arn("events", &format!("api-destination/{n}"))).into_iter().collect()
}

/// Every operation served, with its IAM action and the resource it touches.
static OPERATIONS: &[Operation] = &[
    Operation::new("CreateEventBus", "events:CreateEventBus", Resources::From(named_bus)),
    Operation::new("DescribeEventBus", "events:DescribeEventBus", Resources::From(named_bus)),
    Operation::new("ListEventBuses", "events:ListEventBuses", Resources::Any),
    Operation::new("DeleteEventBus", "events:DeleteEventBus", Resources::From(named_bus)),
    Operation::new("PutRule", "events:PutRule", Resources::From(named_rule)),
    Operation::new("DescribeRule", "events:DescribeRule", Resources::From(named_rule)),
    Operation::new("ListRules", "events:ListRules", Resources::Any),
    Operation::new("EnableRule", "events:EnableRule", Resources::From(named_rule)),
    Operation::new("DisableRule", "events:DisableRule", Resources::From(named_rule)),
    Operation::new("DeleteRule", "events:DeleteRule", Resources::From(named_rule)),
    Operation::new("ListRuleNamesByTarget", "events:ListRuleNamesByTarget", Resources::Any),
    Operation::new("TestEventPattern", "events:TestEventPattern", Resources::Any),
    Operation::new("PutTargets", "events:PutTargets", Resources::From(named_rule)),
    Operation::new("RemoveTargets", "events:RemoveTargets", Resources::From(named_rule)),
    Operation::new("ListTargetsByRule", "events:ListTargetsByRule", Resources::From(named_rule)),
    Operation::new("PutEvents", "events:PutEvents", Resources::Any),
    Operation::new("TagResource", "events:TagResource", Resources::From(named_resource)),
    Operation::new("UntagResource", "events:UntagResource", Resources::From(named_resource)),
    Operation::new("ListTagsForResource", "events:ListTagsForResource", Resources::From(named_resource)),
    Operation::new("CreateConnection", "events:CreateConnection", Resources::From(named_connection)),
    Operation::new("DescribeConnection", "events:DescribeConnection", Resources::From(named_connection)),
    Operation::new("UpdateConnection", "events:UpdateConnection", Resources::From(named_connection)),
    Operation::new("DeleteConnection", "events:DeleteConnection", Resources::From(named_connection)),
    Operation::new("ListConnections", "events:ListConnections", Resources::Any),
    Operation::new("CreateApiDestination", "events:CreateApiDestination", Resources::From(named_api_destination)),
    Operation::new("DescribeApiDestination", "events:DescribeApiDestination", Resources::From(named_api_destination)),
    Operation::new("UpdateApiDestination", "events:UpdateApiDestination", Resources::From(named_api_destination)),
    Operation::new("DeleteApiDestination", "events:DeleteApiDestination", Resources::From(named_api_destination)),
    Operation::new("ListApiDestinations", "events:ListApiDestinations", Resources::Any),
];

macro_rules! run {
    ($module:ident :: $op:ident, $self:expr, $body:expr) => {{
        let input = parse_request($body, VALIDATION)?;
        Ok(json_response(&$module::$op($self, input).await?))
    }};
}

#[async_trait]
impl ServiceModule for EventsService {
    fn wire(&self) -> Wire {
        Wire::Json { target_prefix: TARGET_PREFIX, cbor_service: None }
    }

    fn signing_name(&self) -> &'static str {
        "events"
    }

    fn operations(&self) -> &'static [Operation] {
        OPERATIONS
    }

    fn controllers(&self) -> Vec<Arc<dyn Controller>> {
        vec![Arc::new(delivery::Delivery { svc: self.clone() }), Arc::new(schedules::Schedules { svc: self.clone() })]
    }

    async fn close(&self) {
        self.store.close().await;
    }

    async fn call(&self, operation: &str, body: Bytes, _caller: &Caller) -> std::result::Result<Response, AwsError> {
        let b = body.as_ref();
        match operation {
            "CreateEventBus" => run!(buses::create, self, b),
            "DescribeEventBus" => run!(buses::describe, self, b),
            "ListEventBuses" => run!(buses::list, self, b),
            "DeleteEventBus" => run!(buses::delete, self, b),
            "PutRule" => run!(rules::put, self, b),
            "DescribeRule" => run!(rules::describe, self, b),
            "ListRules" => run!(rules::list, self, b),
            "EnableRule" => run!(rules::enable, self, b),
            "DisableRule" => run!(rules::disable, self, b),
            "DeleteRule" => run!(rules::delete, self, b),
            "ListRuleNamesByTarget" => run!(targets::rule_names_by_target, self, b),
            "TestEventPattern" => run!(rules::test_pattern, self, b),
            "PutTargets" => run!(targets::put, self, b),
            "RemoveTargets" => run!(targets::remove, self, b),
            "ListTargetsByRule" => run!(targets::list, self, b),
            "PutEvents" => run!(put_events::put, self, b),
            "TagResource" => run!(rules::tag, self, b),
            "UntagResource" => run!(rules::untag, self, b),
            "ListTagsForResource" => run!(rules::list_tags, self, b),
            "CreateConnection" => run!(connections::create, self, b),
            "DescribeConnection" => run!(connections::describe, self, b),
            "UpdateConnection" => run!(connections::update, self, b),
            "DeleteConnection" => run!(connections::delete, self, b),
            "ListConnections" => run!(connections::list, self, b),
            "CreateApiDestination" => run!(connections::create_destination, self, b),
            "DescribeApiDestination" => run!(connections::describe_destination, self, b),
            "UpdateApiDestination" => run!(connections::update_destination, self, b),
            "DeleteApiDestination" => run!(connections::delete_destination, self, b),
            "ListApiDestinations" => run!(connections::list_destinations, self, b),
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

/// Milliseconds as the epoch seconds AWS JSON timestamps are.
pub(crate) fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}
