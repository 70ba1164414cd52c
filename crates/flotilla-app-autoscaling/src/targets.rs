//! Scalable targets: RegisterScalableTarget (create, or update what is given; the
//! desired count is brought into the bounds, as AWS does when they change),
//! DescribeScalableTargets, DeregisterScalableTarget (its policies, their alarms and
//! its scheduled actions go too), and TagResource, UntagResource and
//! ListTagsForResource by scalable target ARN.

use crate::activities::{desired_count_activity, failed_desired_count_activity};
use crate::decide::into_bounds;
use crate::error::{Result, ScalingError};
use crate::model::{
    check_capacity, check_namespace, decode_token, encode_token, epoch, filters, max_results, required,
    service_linked_role, target_arn, target_key,
};
use crate::store::{Registration, ScalingMark, TargetRow};
use crate::{AppAutoScalingService, Empty, TargetKey};
use flotilla_core::tag::{MAX_TAGS_PER_RESOURCE, Tag, validate_tag_key, validate_tags};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const MAX_TARGETS_PAGE: i64 = 50;

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct SuspendedStateWire {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamic_scaling_in_suspended: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamic_scaling_out_suspended: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_scaling_suspended: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RegisterInput {
    service_namespace: Option<String>,
    resource_id: Option<String>,
    scalable_dimension: Option<String>,
    min_capacity: Option<i64>,
    max_capacity: Option<i64>,
    #[serde(rename = "RoleARN")]
    role_arn: Option<String>,
    suspended_state: Option<SuspendedStateWire>,
    tags: Option<BTreeMap<String, String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RegisterOutput {
    #[serde(rename = "ScalableTargetARN")]
    scalable_target_arn: String,
}

/// Checked tags (at most 50, AWS's rules for keys and values).
fn checked_tags(tags: &BTreeMap<String, String>) -> Result<()> {
    let list: Vec<Tag> = tags.iter().map(|(k, v)| Tag { key: k.clone(), value: v.clone() }).collect();
    validate_tags(&list).map_err(|e| ScalingError::validation(e.to_string()))
}

/// Checks that `key` names an existing ECS service; its current desired count.
pub(crate) async fn current_desired(svc: &AppAutoScalingService, key: &TargetKey) -> Result<i64> {
    let (cluster, service) = key.service();
    match svc.capacity.desired(&cluster, &service).await {
        Ok(Some(n)) => Ok(n),
        Ok(None) => Err(ScalingError::validation(format!("ECS service doesn't exist: {}", key.resource_id))),
        Err(e) => Err(ScalingError::FailedResourceAccess(format!("reading ECS service {}: {e}", key.resource_id))),
    }
}

/// Brings target `t`'s desired count (now `current`) into its bounds, recording the
/// activity; called with the target's lock held.
pub(crate) async fn enforce_bounds(svc: &AppAutoScalingService, t: &TargetRow, current: i64) -> Result<()> {
    let Some((to, cause)) = into_bounds(t.bounds, current) else { return Ok(()) };
    let (cluster, service) = t.key.service();
    let now = svc.store.now_ms().await?;
    match svc.capacity.set_desired(&cluster, &service, to).await {
        Ok(_) => {
            let mark =
                if to > current { ScalingMark::Out { at: now, from: current } } else { ScalingMark::In { at: now } };
            let activity = desired_count_activity(&t.key, to, &cause, now, svc.store.now_ms().await?);
            svc.store.record_scaling(&t.key, Some(mark), &[activity]).await
        }
        Err(e) => {
            let activity = failed_desired_count_activity(&t.key, to, &cause, now, &e);
            svc.store.add_activities(&[activity]).await?;
            Err(ScalingError::FailedResourceAccess(format!("setting the desired count of {}: {e}", t.key.resource_id)))
        }
    }
}

pub(crate) async fn register(svc: &AppAutoScalingService, input: RegisterInput) -> Result<RegisterOutput> {
    let key = target_key(
        input.service_namespace.as_deref(),
        input.resource_id.as_deref(),
        input.scalable_dimension.as_deref(),
    )?;
    let min = input.min_capacity.map(|m| check_capacity(m, "MinCapacity")).transpose()?;
    let max = input.max_capacity.map(|m| check_capacity(m, "MaxCapacity")).transpose()?;
    let tags = input.tags.unwrap_or_default();
    checked_tags(&tags)?;
    let suspended = input.suspended_state.unwrap_or_default();
    let change = Registration {
        min,
        max,
        role_arn: input.role_arn,
        suspended_in: suspended.dynamic_scaling_in_suspended,
        suspended_out: suspended.dynamic_scaling_out_suspended,
        suspended_scheduled: suspended.scheduled_scaling_suspended,
        tags,
    };
    let guard = svc.target_lock(&key).await?;
    let result = async {
        let current = current_desired(svc, &key).await?;
        let now = svc.store.now_ms().await?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (stored, _created) =
            svc.store.register(&key, &change, &id, &service_linked_role(&svc.account), now).await?;
        enforce_bounds(svc, &stored, current).await?;
        Ok(RegisterOutput { scalable_target_arn: target_arn(&svc.account, &stored.target_id) })
    }
    .await;
    guard.release().await;
    result
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeInput {
    service_namespace: Option<String>,
    resource_ids: Option<Vec<String>>,
    scalable_dimension: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TargetOut {
    service_namespace: String,
    resource_id: String,
    scalable_dimension: String,
    min_capacity: i64,
    max_capacity: i64,
    #[serde(rename = "RoleARN")]
    role_arn: String,
    creation_time: f64,
    suspended_state: SuspendedStateWire,
    #[serde(rename = "ScalableTargetARN")]
    scalable_target_arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeOutput {
    scalable_targets: Vec<TargetOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

fn target_out(svc: &AppAutoScalingService, t: TargetRow) -> TargetOut {
    TargetOut {
        scalable_target_arn: target_arn(&svc.account, &t.target_id),
        service_namespace: t.key.namespace,
        resource_id: t.key.resource_id,
        scalable_dimension: t.key.dimension,
        min_capacity: t.bounds.min,
        max_capacity: t.bounds.max,
        role_arn: t.role_arn,
        creation_time: epoch(t.created_at),
        suspended_state: SuspendedStateWire {
            dynamic_scaling_in_suspended: Some(t.suspended.dynamic_in),
            dynamic_scaling_out_suspended: Some(t.suspended.dynamic_out),
            scheduled_scaling_suspended: Some(t.suspended.scheduled),
        },
    }
}

pub(crate) async fn describe(svc: &AppAutoScalingService, input: DescribeInput) -> Result<DescribeOutput> {
    let namespace = check_namespace(input.service_namespace.as_deref())?;
    let ids = input.resource_ids.unwrap_or_default();
    if ids.len() > 50 {
        return Err(ScalingError::validation("ResourceIds may name at most 50 resources."));
    }
    for id in &ids {
        crate::model::check_resource_id(Some(id))?;
    }
    let (_, dimension) = filters(None, input.scalable_dimension.as_deref(), false)?;
    let limit = max_results(input.max_results, MAX_TARGETS_PAGE)?;
    let after = decode_token(input.next_token.as_deref(), 2)?;
    let after_ref = after.as_ref().map(|a| (a[0].as_str(), a[1].as_str()));
    let mut rows = svc.store.targets(&namespace, &ids, dimension.as_deref(), after_ref, limit + 1).await?;
    let next_token = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|t| encode_token(&[&t.key.resource_id, &t.key.dimension]))
    } else {
        None
    };
    Ok(DescribeOutput { scalable_targets: rows.into_iter().map(|t| target_out(svc, t)).collect(), next_token })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeregisterInput {
    service_namespace: Option<String>,
    resource_id: Option<String>,
    scalable_dimension: Option<String>,
}

pub(crate) async fn deregister(svc: &AppAutoScalingService, input: DeregisterInput) -> Result<Empty> {
    let key = target_key(
        input.service_namespace.as_deref(),
        input.resource_id.as_deref(),
        input.scalable_dimension.as_deref(),
    )?;
    let guard = svc.target_lock(&key).await?;
    let result = async {
        let now = svc.store.now_ms().await?;
        svc.store
            .deregister(&key, now)
            .await?
            .ok_or_else(|| ScalingError::ObjectNotFound(format!("No scalable target found for {}", key.describe())))
    }
    .await;
    guard.release().await;
    svc.delete_alarms(&result?).await;
    Ok(Empty {})
}

/// The target a `ResourceARN` names (its id), or ResourceNotFoundException.
fn target_id_of(svc: &AppAutoScalingService, arn: Option<&str>) -> Result<String> {
    let arn = required(arn, "ResourceARN")?;
    let prefix = target_arn(&svc.account, "");
    arn.strip_prefix(&prefix)
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(str::to_string)
        .ok_or_else(|| {
            ScalingError::validation(format!(
                "Invalid ResourceARN: {arn} is not a scalable target ARN of this region and account."
            ))
        })
}

fn not_found(arn: &str) -> ScalingError {
    ScalingError::ResourceNotFound(format!("Scalable target with ARN {arn} not found."))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    tags: Option<BTreeMap<String, String>>,
}

pub(crate) async fn tag(svc: &AppAutoScalingService, input: TagInput) -> Result<Empty> {
    let id = target_id_of(svc, input.resource_arn.as_deref())?;
    let arn = input.resource_arn.unwrap_or_default();
    let tags = required(input.tags, "Tags")?;
    checked_tags(&tags)?;
    let changed = svc
        .store
        .change_tags(&id, |stored| {
            stored.extend(tags.clone());
            if stored.len() > MAX_TAGS_PER_RESOURCE {
                return Err(ScalingError::TooManyTags(format!(
                    "The scalable target {arn} would have {} tags; the limit is {MAX_TAGS_PER_RESOURCE}.",
                    stored.len()
                )));
            }
            Ok(())
        })
        .await?;
    changed.map(|_| Empty {}).ok_or_else(|| not_found(&arn))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UntagInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    tag_keys: Option<Vec<String>>,
}

pub(crate) async fn untag(svc: &AppAutoScalingService, input: UntagInput) -> Result<Empty> {
    let id = target_id_of(svc, input.resource_arn.as_deref())?;
    let arn = input.resource_arn.unwrap_or_default();
    let keys = required(input.tag_keys, "TagKeys")?;
    for k in &keys {
        validate_tag_key(k).map_err(|e| ScalingError::validation(e.to_string()))?;
    }
    let changed = svc
        .store
        .change_tags(&id, |stored| {
            for k in &keys {
                stored.remove(k);
            }
            Ok(())
        })
        .await?;
    changed.map(|_| Empty {}).ok_or_else(|| not_found(&arn))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListTagsInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListTagsOutput {
    tags: BTreeMap<String, String>,
}

pub(crate) async fn list_tags(svc: &AppAutoScalingService, input: ListTagsInput) -> Result<ListTagsOutput> {
    let id = target_id_of(svc, input.resource_arn.as_deref())?;
    let arn = input.resource_arn.unwrap_or_default();
    let target = svc.store.target_by_id(&id).await?.ok_or_else(|| not_found(&arn))?;
    Ok(ListTagsOutput { tags: target.tags })
}
