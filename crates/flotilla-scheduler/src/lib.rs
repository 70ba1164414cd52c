//! Amazon EventBridge Scheduler (REST-JSON, signing name `scheduler`): schedule groups
//! and schedules with `at(…)`, `rate(…)` and `cron(…)` in a time zone, start and end
//! dates, flexible time windows and ActionAfterCompletion; fired by the
//! `scheduler-fire` controller into ECS RunTask or an SQS queue through a
//! [`TargetInvoker`] the server wires in, with the target's retry policy and
//! dead-letter queue. A schedule missed while the control plane was down fires once
//! when it returns.

mod api;
mod controller;
mod error;
mod model;
mod store;

#[cfg(test)]
mod tests;

pub use controller::{TargetInvoker, retry_delay_ms};
pub use error::SchedulerError;
pub use model::{Invocation, Schedule, ScheduleGroup, Target};
pub use store::{STORE_NAME, SchedulerStore};

use async_trait::async_trait;
use axum::response::Response;
use bytes::Bytes;
use flotilla_core::AccountContext;
use flotilla_db::StoreLocation;
use flotilla_protocol::{
    AwsError, Caller, Controller, Operation, Resources, RestRoute, ServiceModule, Wire, json_response, parse_request,
};
use std::sync::Arc;
use tokio::sync::Notify;

/// EventBridge Scheduler as a service module.
pub struct SchedulerService {
    store: SchedulerStore,
    account: AccountContext,
    invoker: Arc<dyn TargetInvoker>,
    /// Rung when a schedule changes, so the controller looks at once.
    changed: Arc<Notify>,
}

impl SchedulerService {
    pub async fn open(
        location: &StoreLocation,
        account: AccountContext,
        invoker: Arc<dyn TargetInvoker>,
    ) -> Result<Self, SchedulerError> {
        let now = flotilla_core::Timestamp::now().0 / 1000;
        let store = SchedulerStore::open(location, now).await?;
        Ok(Self { store, account, invoker, changed: Arc::default() })
    }

    pub(crate) fn schedule_arn(&self, group: &str, name: &str) -> String {
        self.account.arn("scheduler", &format!("schedule/{group}/{name}")).to_string()
    }

    pub(crate) fn group_arn(&self, name: &str) -> String {
        self.account.arn("scheduler", &format!("schedule-group/{name}")).to_string()
    }
}

static ROUTES: &[RestRoute] = &[
    RestRoute { method: "POST", path: "/schedules/{Name}", operation: "CreateSchedule" },
    RestRoute { method: "GET", path: "/schedules/{Name}", operation: "GetSchedule" },
    RestRoute { method: "PUT", path: "/schedules/{Name}", operation: "UpdateSchedule" },
    RestRoute { method: "DELETE", path: "/schedules/{Name}", operation: "DeleteSchedule" },
    RestRoute { method: "GET", path: "/schedules", operation: "ListSchedules" },
    RestRoute { method: "POST", path: "/schedule-groups/{Name}", operation: "CreateScheduleGroup" },
    RestRoute { method: "GET", path: "/schedule-groups/{Name}", operation: "GetScheduleGroup" },
    RestRoute { method: "DELETE", path: "/schedule-groups/{Name}", operation: "DeleteScheduleGroup" },
    RestRoute { method: "GET", path: "/schedule-groups", operation: "ListScheduleGroups" },
    RestRoute { method: "POST", path: "/tags/{ResourceArn}", operation: "TagResource" },
    RestRoute { method: "DELETE", path: "/tags/{ResourceArn}", operation: "UntagResource" },
    RestRoute { method: "GET", path: "/tags/{ResourceArn}", operation: "ListTagsForResource" },
];

fn schedule_arn(input: &flotilla_protocol::OperationInput<'_>, scope: &flotilla_protocol::ArnScope<'_>) -> Vec<String> {
    let group = input.str("GroupName").or(input.str("groupName")).unwrap_or(model::DEFAULT_GROUP);
    input.str("Name").map(|n| scope.arn("scheduler", &format!("schedule/{group}/{n}"))).into_iter().collect()
}

fn group_arn(input: &flotilla_protocol::OperationInput<'_>, scope: &flotilla_protocol::ArnScope<'_>) -> Vec<String> {
    input.str("Name").map(|n| scope.arn("scheduler", &format!("schedule-group/{n}"))).into_iter().collect()
}

fn resource_arn(input: &flotilla_protocol::OperationInput<'_>, _: &flotilla_protocol::ArnScope<'_>) -> Vec<String> {
    input.str("ResourceArn").map(str::to_string).into_iter().collect()
}

static OPERATIONS: &[Operation] = &[
    Operation::new("CreateSchedule", "scheduler:CreateSchedule", Resources::From(schedule_arn)),
    Operation::new("GetSchedule", "scheduler:GetSchedule", Resources::From(schedule_arn)),
    Operation::new("UpdateSchedule", "scheduler:UpdateSchedule", Resources::From(schedule_arn)),
    Operation::new("DeleteSchedule", "scheduler:DeleteSchedule", Resources::From(schedule_arn)),
    Operation::new("ListSchedules", "scheduler:ListSchedules", Resources::Any),
    Operation::new("CreateScheduleGroup", "scheduler:CreateScheduleGroup", Resources::From(group_arn)),
    Operation::new("GetScheduleGroup", "scheduler:GetScheduleGroup", Resources::From(group_arn)),
    Operation::new("DeleteScheduleGroup", "scheduler:DeleteScheduleGroup", Resources::From(group_arn)),
    Operation::new("ListScheduleGroups", "scheduler:ListScheduleGroups", Resources::Any),
    Operation::new("TagResource", "scheduler:TagResource", Resources::From(resource_arn)),
    Operation::new("UntagResource", "scheduler:UntagResource", Resources::From(resource_arn)),
    Operation::new("ListTagsForResource", "scheduler:ListTagsForResource", Resources::From(resource_arn)),
];

#[async_trait]
impl ServiceModule for SchedulerService {
    fn wire(&self) -> Wire {
        Wire::RestJson { routes: ROUTES }
    }

    fn signing_name(&self) -> &'static str {
        "scheduler"
    }

    fn operations(&self) -> &'static [Operation] {
        OPERATIONS
    }

    fn controllers(&self) -> Vec<Arc<dyn Controller>> {
        vec![Arc::new(controller::Fire {
            store: self.store.clone(),
            account: self.account.clone(),
            invoker: self.invoker.clone(),
            changed: self.changed.clone(),
        })]
    }

    async fn call(&self, operation: &str, body: Bytes, _caller: &Caller) -> Result<Response, AwsError> {
        macro_rules! op {
            ($handler:path) => {{
                let input = parse_request(&body, "ValidationException")?;
                let output = $handler(self, input).await?;
                Ok(json_response(&output))
            }};
        }
        match operation {
            "CreateSchedule" => op!(api::create_schedule),
            "GetSchedule" => op!(api::get_schedule),
            "UpdateSchedule" => op!(api::update_schedule),
            "DeleteSchedule" => op!(api::delete_schedule),
            "ListSchedules" => op!(api::list_schedules),
            "CreateScheduleGroup" => op!(api::create_group),
            "GetScheduleGroup" => op!(api::get_group),
            "DeleteScheduleGroup" => op!(api::delete_group),
            "ListScheduleGroups" => op!(api::list_groups),
            "TagResource" => op!(api::tag_resource),
            "UntagResource" => op!(api::untag_resource),
            "ListTagsForResource" => op!(api::list_tags),
            other => Err(AwsError::client("UnknownOperationException", format!("unknown operation {other}"))),
        }
    }

    async fn close(&self) {
        self.store.close().await;
    }
}
