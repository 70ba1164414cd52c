//! SetInstanceProtection, DescribeAutoScalingInstances and
//! TerminateInstanceInAutoScalingGroup.

use crate::activities;
use crate::error::{AsgError, Result};
use crate::model::{CapacityChange, Lifecycle};
use crate::params::{boolean, page, required, strings};
use crate::store::Changes;
use crate::{Answer, AsgService, retrying, xml};
use flotilla_core::time::Timestamp;
use flotilla_protocol::QueryRequest;

/// The most instance ids one call may name.
const MAX_INSTANCE_IDS: usize = 50;

/// SetInstanceProtection's rule, shared with ECS's capacity providers.
pub(crate) async fn set_protection(svc: &AsgService, name_or_arn: &str, ids: &[String], protected: bool) -> Result<()> {
    if ids.is_empty() {
        return Err(AsgError::validation("InstanceIds must name at least one instance"));
    }
    if ids.len() > MAX_INSTANCE_IDS {
        return Err(AsgError::LimitExceeded(format!(
            "SetInstanceProtection may name at most {MAX_INSTANCE_IDS} instances; {} were given",
            ids.len()
        )));
    }
    retrying(|| async {
        let group = svc.find_group(name_or_arn).await?;
        let instances = svc.store.instances_of(&group.name).await?;
        let mut changed = Vec::new();
        for id in ids {
            let Some(instance) = instances.iter().find(|i| &i.id == id) else {
                return Err(AsgError::validation(format!(
                    "The instance {id} is not part of Auto Scaling group {}.",
                    group.name
                )));
            };
            if instance.protected_from_scale_in != protected
                && !changed.iter().any(|c: &crate::model::Instance| &c.id == id)
            {
                let mut i = instance.clone();
                i.protected_from_scale_in = protected;
                changed.push(i);
            }
        }
        if changed.is_empty() {
            return Ok(());
        }
        svc.store.commit(&mut Changes { instances: changed, ..Changes::default() }).await
    })
    .await?;
    svc.changed();
    Ok(())
}

pub(crate) async fn set_instance_protection(svc: &AsgService, q: &QueryRequest) -> Result<Answer> {
    let name = required(q, "AutoScalingGroupName")?;
    let ids = strings(q, "InstanceIds", 19, usize::MAX, AsgError::LimitExceeded)?;
    required(q, "ProtectedFromScaleIn")?;
    let protected = boolean(q, "ProtectedFromScaleIn")?.unwrap_or(false);
    set_protection(svc, name, &ids, protected).await?;
    Ok(Answer::empty())
}

pub(crate) async fn describe(svc: &AsgService, q: &QueryRequest) -> Result<Answer> {
    let ids = strings(q, "InstanceIds", 19, MAX_INSTANCE_IDS, AsgError::Validation)?;
    let (after, size) = page(q, 50, 50)?;
    let mut found = if ids.is_empty() {
        svc.store.instances(after.as_deref(), size as i64 + 1).await?
    } else {
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        let mut found = Vec::new();
        for id in sorted.iter().filter(|i| after.as_ref().is_none_or(|a| i.as_str() > a.as_str())) {
            if let Some(i) = svc.store.instance(id).await? {
                found.push(i);
            }
        }
        found
    };
    let next = if found.len() > size {
        found.truncate(size);
        found.last().map(|i| flotilla_core::paging::encode_token(&i.id))
    } else {
        None
    };
    Ok(Answer::new(move |w| {
        xml::members(w, "AutoScalingInstances", &found, xml::auto_scaling_instance);
        if let Some(t) = &next {
            w.element("NextToken", t);
        }
    }))
}

pub(crate) async fn terminate(svc: &AsgService, q: &QueryRequest) -> Result<Answer> {
    let id = match (q.get("InstanceId"), q.list("InstanceIds").as_slice()) {
        (Some(id), _) if !id.is_empty() => id.to_string(),
        (_, [id]) => id.to_string(),
        (_, []) => return Err(AsgError::validation("InstanceId is required")),
        _ => return Err(AsgError::validation("Terminate one instance at a time: give InstanceId")),
    };
    required(q, "ShouldDecrementDesiredCapacity")?;
    let decrement = boolean(q, "ShouldDecrementDesiredCapacity")?.unwrap_or(false);
    let activity = retrying(|| async {
        let not_found =
            || AsgError::validation(format!("Instance Id not found - No managed instance found for instance ID: {id}"));
        let mut instance = svc.store.instance(&id).await?.ok_or_else(not_found)?;
        let mut group = svc.store.group(&instance.group_name).await?.ok_or_else(not_found)?;
        if instance.lifecycle_state == Lifecycle::Terminating
            && let Some(a) = match &instance.activity_id {
                Some(a) => svc.store.activity(a).await?,
                None => None,
            }
        {
            return Ok(a);
        }
        let now = Timestamp::now();
        let mut changes = Changes::default();
        let shrinking = if decrement {
            let from = group.desired_capacity;
            if from - 1 < group.min_size {
                return Err(AsgError::validation(format!(
                    "Currently, desiredCapacity ({from}) is not greater than minSize ({}): terminating {id} with \
                     ShouldDecrementDesiredCapacity would go below it",
                    group.min_size
                )));
            }
            group.desired_capacity = from - 1;
            group.capacity_change =
                Some(CapacityChange { at: now, what: activities::terminated_by_user(&id, from, from - 1) });
            changes.group = Some(group.clone());
            Some((from, from - 1))
        } else {
            None
        };
        let activity = activities::begin(
            &group,
            activities::terminate_description(&id),
            activities::user_terminate_cause(now, &id, shrinking),
            activities::details(&instance.availability_zone, instance.subnet_id.as_deref()),
            now,
        );
        instance.lifecycle_state = Lifecycle::Terminating;
        instance.activity_id = Some(activity.id.clone());
        changes.instances.push(instance);
        changes.activities.push(activity.clone());
        svc.store.commit(&mut changes).await?;
        Ok(activity)
    })
    .await?;
    svc.changed();
    Ok(Answer::new(move |w| {
        w.open("Activity");
        xml::activity(w, &activity, false);
        w.close();
    }))
}
