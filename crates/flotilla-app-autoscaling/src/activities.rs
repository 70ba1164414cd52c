//! Scaling activities: what they say (AWS's descriptions, causes and status messages)
//! and DescribeScalingActivities (newest first, by resource and dimension, with or
//! without the not-scaled ones).

use crate::error::Result;
use crate::model::{check_namespace, decode_token, encode_token, epoch, filters, max_results};
use crate::store::{ActivityFilter, ActivityRow, NewActivity};
use crate::{AppAutoScalingService, TargetKey};
use serde::{Deserialize, Serialize};

const MAX_PAGE: i64 = 50;

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// "Setting desired count to N." that succeeded.
pub(crate) fn desired_count_activity(key: &TargetKey, to: i64, cause: &str, start: i64, end: i64) -> NewActivity {
    NewActivity {
        activity_id: new_id(),
        key: key.clone(),
        description: format!("Setting desired count to {to}."),
        cause: cause.to_string(),
        start_time: start,
        end_time: Some(end),
        status_code: "Successful".into(),
        status_message: Some(format!("Successfully set desired count to {to}. Change successfully fulfilled by ecs.")),
        details: None,
        not_scaled: None,
    }
}

/// "Setting desired count to N." that ECS refused.
pub(crate) fn failed_desired_count_activity(
    key: &TargetKey,
    to: i64,
    cause: &str,
    at: i64,
    error: &str,
) -> NewActivity {
    NewActivity {
        activity_id: new_id(),
        key: key.clone(),
        description: format!("Setting desired count to {to}."),
        cause: cause.to_string(),
        start_time: at,
        end_time: Some(at),
        status_code: "Failed".into(),
        status_message: Some(format!("Failed to set desired count to {to}. Reason: {error}")),
        details: None,
        not_scaled: None,
    }
}

/// A scaling that did not happen, with its reason (`NotScaledReasons`).
pub(crate) fn not_scaled_activity(
    key: &TargetKey,
    proposed: i64,
    cause: &str,
    at: i64,
    reason: serde_json::Value,
) -> NewActivity {
    NewActivity {
        activity_id: new_id(),
        key: key.clone(),
        description: format!("Setting desired count to {proposed}."),
        cause: cause.to_string(),
        start_time: at,
        end_time: Some(at),
        status_code: "Failed".into(),
        status_message: Some(format!("Failed to set desired count to {proposed}")),
        details: None,
        not_scaled: Some(serde_json::Value::Array(vec![reason])),
    }
}

/// A scheduled action's new bounds.
pub(crate) fn bounds_activity(
    key: &TargetKey,
    min: i64,
    max: i64,
    action: &str,
    at: i64,
    failure: Option<&str>,
) -> NewActivity {
    let description = format!("Setting min capacity to {min} and max capacity to {max}");
    NewActivity {
        activity_id: new_id(),
        key: key.clone(),
        description: description.clone(),
        cause: format!("scheduled action name {action} was triggered"),
        start_time: at,
        end_time: Some(at),
        status_code: if failure.is_some() { "Failed" } else { "Successful" }.into(),
        status_message: Some(match failure {
            None => format!("Successfully set min capacity to {min} and max capacity to {max}"),
            Some(why) => format!("Failed to set min capacity to {min} and max capacity to {max}. Reason: {why}"),
        }),
        details: None,
        not_scaled: None,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeInput {
    service_namespace: Option<String>,
    resource_id: Option<String>,
    scalable_dimension: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
    include_not_scaled_activities: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ActivityOut {
    activity_id: String,
    service_namespace: String,
    resource_id: String,
    scalable_dimension: String,
    description: String,
    cause: String,
    start_time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time: Option<f64>,
    status_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_scaled_reasons: Option<serde_json::Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeOutput {
    scaling_activities: Vec<ActivityOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

fn activity_out(row: ActivityRow) -> ActivityOut {
    let a = row.activity;
    ActivityOut {
        activity_id: a.activity_id,
        service_namespace: a.key.namespace,
        resource_id: a.key.resource_id,
        scalable_dimension: a.key.dimension,
        description: a.description,
        cause: a.cause,
        start_time: epoch(a.start_time),
        end_time: a.end_time.map(epoch),
        status_code: a.status_code,
        status_message: a.status_message,
        details: a.details,
        not_scaled_reasons: a.not_scaled,
    }
}

pub(crate) async fn describe(svc: &AppAutoScalingService, input: DescribeInput) -> Result<DescribeOutput> {
    let namespace = check_namespace(input.service_namespace.as_deref())?;
    let (resource_id, dimension) = filters(input.resource_id.as_deref(), input.scalable_dimension.as_deref(), true)?;
    let limit = max_results(input.max_results, MAX_PAGE)?;
    let before_seq = match decode_token(input.next_token.as_deref(), 1)? {
        Some(parts) => {
            Some(parts[0].parse::<i64>().map_err(|_| crate::ScalingError::InvalidNextToken("Invalid token".into()))?)
        }
        None => None,
    };
    let filter = ActivityFilter {
        namespace,
        resource_id,
        dimension,
        include_not_scaled: input.include_not_scaled_activities.unwrap_or(false),
        before_seq,
    };
    let mut rows = svc.store.activities(&filter, limit + 1).await?;
    let next_token = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| encode_token(&[&r.seq.to_string()]))
    } else {
        None
    };
    Ok(DescribeOutput { scaling_activities: rows.into_iter().map(activity_out).collect(), next_token })
}
