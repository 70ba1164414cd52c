//! Scaling activities: the texts AWS writes for them (descriptions, causes, details),
//! and DescribeScalingActivities.

use crate::error::{AsgError, Result};
use crate::model::{Activity, ActivityStatus, CapacityChange, Group};
use crate::params::{boolean, page, strings};
use crate::{Answer, AsgService, xml};
use flotilla_core::time::Timestamp;
use flotilla_protocol::QueryRequest;
use std::collections::HashMap;

/// `At 2024-05-01T12:00:00Z`: AWS's causes name times to the second.
fn at(t: Timestamp) -> String {
    let iso = t.to_iso8601();
    // `…T12:00:00.123Z` → `…T12:00:00Z`.
    match iso.split_once('.') {
        Some((seconds, _)) => format!("At {seconds}Z"),
        None => format!("At {iso}"),
    }
}

pub(crate) fn created(desired: i64) -> String {
    format!("a user request created an AutoScalingGroup changing the desired capacity from 0 to {desired}")
}

pub(crate) fn updated(group: &Group, from: i64) -> String {
    format!(
        "a user request update of AutoScalingGroup constraints to min: {}, max: {}, desired: {} changing the desired capacity from {from} to {}",
        group.min_size, group.max_size, group.desired_capacity, group.desired_capacity
    )
}

pub(crate) fn set_desired(from: i64, to: i64) -> String {
    format!("a user request explicitly set group desired capacity changing the desired capacity from {from} to {to}")
}

pub(crate) fn force_deleted(from: i64) -> String {
    format!("a user request to force delete AutoScalingGroup changing the desired capacity from {from} to 0")
}

pub(crate) fn terminated_by_user(id: &str, from: i64, to: i64) -> String {
    format!("a user request terminated instance {id} changing the desired capacity from {from} to {to}")
}

/// The start of a cause: the capacity change that led to it, if known.
fn because(change: Option<&CapacityChange>) -> String {
    match change {
        Some(c) => format!("{} {}.  ", at(c.at), c.what),
        None => String::new(),
    }
}

/// Why an instance is launched: the group has fewer than it wants.
pub(crate) fn launch_cause(change: Option<&CapacityChange>, now: Timestamp, from: usize, to: usize) -> String {
    format!(
        "{}{} an instance was started in response to a difference between desired and actual capacity, increasing the capacity from {from} to {to}.",
        because(change),
        at(now)
    )
}

/// Why an instance is terminated in a scale in.
pub(crate) fn scale_in_cause(change: Option<&CapacityChange>, now: Timestamp, from: usize, to: usize) -> String {
    format!(
        "{}{} an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from {from} to {to}.",
        because(change),
        at(now)
    )
}

/// Why an unhealthy instance is terminated.
pub(crate) fn unhealthy_cause(now: Timestamp) -> String {
    format!(
        "{} an instance was taken out of service in response to an EC2 health check indicating it has been terminated or stopped.",
        at(now)
    )
}

/// Why an instance is terminated at TerminateInstanceInAutoScalingGroup.
pub(crate) fn user_terminate_cause(now: Timestamp, id: &str, shrinking: Option<(i64, i64)>) -> String {
    match shrinking {
        Some((from, to)) => format!(
            "{} instance {id} was taken out of service in response to a user request, shrinking the capacity from {from} to {to}.",
            at(now)
        ),
        None => format!("{} instance {id} was taken out of service in response to a user request.", at(now)),
    }
}

pub(crate) fn launch_description(id: &str) -> String {
    format!("Launching a new EC2 instance: {id}")
}

/// A launch that failed names no instance, as on AWS.
pub(crate) fn failed_launch_description(reason: &str) -> String {
    format!("Launching a new EC2 instance.  Status Reason: {reason}. Launching EC2 instance failed.")
}

pub(crate) fn terminate_description(id: &str) -> String {
    format!("Terminating EC2 instance: {id}")
}

/// `{"Subnet ID":"subnet-1","Availability Zone":"us-east-1a"}`.
pub(crate) fn details(zone: &str, subnet: Option<&str>) -> String {
    let quoted = |s: &str| serde_json::Value::from(s).to_string();
    match subnet {
        Some(s) => format!("{{\"Subnet ID\":{},\"Availability Zone\":{}}}", quoted(s), quoted(zone)),
        None => format!("{{\"Availability Zone\":{}}}", quoted(zone)),
    }
}

/// A new activity in progress.
pub(crate) fn begin(group: &Group, description: String, cause: String, details: String, now: Timestamp) -> Activity {
    Activity {
        id: uuid::Uuid::new_v4().to_string(),
        group_name: group.name.clone(),
        group_arn: group.arn.clone(),
        description,
        cause,
        start_time: now,
        end_time: None,
        status_code: ActivityStatus::InProgress,
        status_message: None,
        progress: 0,
        details,
    }
}

/// The paging key of an activity: newest first, by start time then id.
fn key(a: &Activity) -> String {
    format!("{}:{}", a.start_time.0, a.id)
}

pub(crate) async fn describe(svc: &AsgService, q: &QueryRequest) -> Result<Answer> {
    let group = crate::params::string(q, "AutoScalingGroupName", 255)?;
    let ids = strings(q, "ActivityIds", 255, 50, AsgError::Validation)?;
    let include_deleted = boolean(q, "IncludeDeletedGroups")?.unwrap_or(false);
    let (after, size) = page(q, 100, 100)?;
    let after = match &after {
        Some(token) => {
            let (t, id) = token
                .split_once(':')
                .and_then(|(t, id)| Some((t.parse::<i64>().ok()?, id)))
                .ok_or_else(|| AsgError::InvalidNextToken("The token is not one this API returned".into()))?;
            Some((t, id.to_string()))
        }
        None => None,
    };
    let mut found = if ids.is_empty() {
        svc.store.activities(group, after.as_ref().map(|(t, id)| (*t, id.as_str())), size as i64 + 1).await?
    } else {
        let mut found = Vec::new();
        for id in &ids {
            if let Some(a) = svc.store.activity(id).await?
                && group.is_none_or(|g| a.group_name == g)
            {
                found.push(a);
            }
        }
        found.sort_by(|a, b| b.start_time.cmp(&a.start_time).then_with(|| b.id.cmp(&a.id)));
        found.dedup_by(|a, b| a.id == b.id);
        found
    };
    // Activities of deleted groups (a group of that name now is another group) only
    // when asked for.
    let mut live: HashMap<String, Option<String>> = HashMap::new();
    let mut kept = Vec::new();
    for a in found.drain(..) {
        if !live.contains_key(&a.group_name) {
            let arn = svc.store.group(&a.group_name).await?.map(|g| g.arn);
            live.insert(a.group_name.clone(), arn);
        }
        let deleted = live[&a.group_name].as_deref() != Some(a.group_arn.as_str());
        if !deleted || include_deleted {
            kept.push((a, deleted));
        }
    }
    let next = if ids.is_empty() && kept.len() > size {
        kept.truncate(size);
        kept.last().map(|(a, _)| flotilla_core::paging::encode_token(&key(a)))
    } else {
        None
    };
    Ok(Answer::new(move |w| {
        xml::members(w, "Activities", &kept, |w, (a, deleted)| xml::activity(w, a, *deleted));
        if let Some(t) = &next {
            w.element("NextToken", t);
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_read_as_awss() {
        let change = CapacityChange { at: Timestamp(1_700_000_000_123), what: set_desired(0, 2) };
        assert_eq!(
            launch_cause(Some(&change), Timestamp(1_700_000_005_000), 0, 1),
            "At 2023-11-14T22:13:20Z a user request explicitly set group desired capacity changing the desired \
             capacity from 0 to 2.  At 2023-11-14T22:13:25Z an instance was started in response to a difference \
             between desired and actual capacity, increasing the capacity from 0 to 1."
        );
        assert_eq!(
            user_terminate_cause(Timestamp(1_700_000_000_000), "i-1", Some((2, 1))),
            "At 2023-11-14T22:13:20Z instance i-1 was taken out of service in response to a user request, \
             shrinking the capacity from 2 to 1."
        );
        assert!(scale_in_cause(None, Timestamp(0), 2, 1).starts_with("At 1970-01-01T00:00:00Z an instance was taken"));
        assert_eq!(
            failed_launch_description("No launcher"),
            "Launching a new EC2 instance.  Status Reason: No launcher. Launching EC2 instance failed."
        );
        assert_eq!(
            details("us-east-1a", Some("subnet-1")),
            r#"{"Subnet ID":"subnet-1","Availability Zone":"us-east-1a"}"#
        );
        assert_eq!(details("us-east-1a", None), r#"{"Availability Zone":"us-east-1a"}"#);
    }
}
