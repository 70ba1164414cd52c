//! Log groups: create, describe, delete; retention policies; tags (the old
//! `TagLogGroup` family by name and the newer `TagResource` family by ARN).

use crate::error::{LogsError, Result};
use crate::store::{GroupRecord, Outcome};
use crate::{Empty, LogsService};
use flotilla_domain::flotilla_core::paging;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The retention periods Logs accepts, in days.
pub(crate) const RETENTION_DAYS: &[i64] =
    &[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];
const MAX_TAGS: usize = 50;

/// A log group name: 1 to 512 of letters, digits, `_ - / . #`.
pub(crate) fn check_group_name(name: &str) -> Result<()> {
    let ok = (1..=512).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '/' | '.' | '#'));
    if ok {
        Ok(())
    } else {
        Err(LogsError::Invalid(format!(
            "1 validation error detected: Value '{name}' at 'logGroupName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+ and have length 1 to 512"
        )))
    }
}

/// The group named by `logGroupName` or `logGroupIdentifier` (a name or an ARN).
pub(crate) fn group_name(name: Option<String>, identifier: Option<String>) -> Result<String> {
    match (name, identifier) {
        (Some(_), Some(_)) => {
            Err(LogsError::Invalid("logGroupName and logGroupIdentifier are mutually exclusive".into()))
        }
        (Some(n), None) => Ok(n),
        (None, Some(id)) => Ok(name_of_arn(&id).unwrap_or(id)),
        (None, None) => Err(LogsError::Invalid("logGroupName or logGroupIdentifier is required".into())),
    }
}

/// The group name in `arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]`.
fn name_of_arn(arn: &str) -> Option<String> {
    let rest = arn.strip_prefix("arn:")?;
    let (_, name) = rest.split_once(":log-group:")?;
    Some(name.trim_end_matches(":*").to_string())
}

fn check_tags(tags: &BTreeMap<String, String>) -> Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(LogsError::Invalid(format!("A log group can have at most {MAX_TAGS} tags")));
    }
    for (k, v) in tags {
        if k.is_empty() || k.len() > 128 || v.len() > 256 || k.starts_with("aws:") {
            return Err(LogsError::Invalid(format!(
                "Invalid tag '{k}': keys are 1 to 128 characters, values up to 256, and keys cannot start with 'aws:'"
            )));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateInput {
    log_group_name: String,
    kms_key_id: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    log_group_class: Option<String>,
}

pub(crate) async fn create(svc: &LogsService, input: CreateInput) -> Result<Empty> {
    check_group_name(&input.log_group_name)?;
    let class = input.log_group_class.unwrap_or_else(|| "STANDARD".into());
    if !matches!(class.as_str(), "STANDARD" | "INFREQUENT_ACCESS" | "DELIVERY") {
        return Err(LogsError::Invalid(format!(
            "logGroupClass '{class}' is not one of STANDARD, INFREQUENT_ACCESS, DELIVERY"
        )));
    }
    let tags = input.tags.unwrap_or_default();
    check_tags(&tags)?;
    let group = GroupRecord {
        name: input.log_group_name,
        created_at: svc.store.now_ms().await?,
        retention_days: None,
        class,
        kms_key_id: input.kms_key_id,
        tags,
        stored_bytes: 0,
    };
    match svc.store.create_group(&group).await? {
        Outcome::Exists => Err(LogsError::AlreadyExists("The specified log group already exists".into())),
        _ => Ok(Empty {}),
    }
}

/// The `LogGroup` shape.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupShape {
    log_group_name: String,
    creation_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    retention_in_days: Option<i64>,
    metric_filter_count: i64,
    arn: String,
    stored_bytes: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key_id: Option<String>,
    log_group_class: String,
    log_group_arn: String,
}

fn shape(svc: &LogsService, g: GroupRecord) -> GroupShape {
    let arn = svc.group_arn(&g.name);
    GroupShape {
        arn: format!("{arn}:*"),
        log_group_arn: arn,
        log_group_name: g.name,
        creation_time: g.created_at,
        retention_in_days: g.retention_days,
        metric_filter_count: 0,
        stored_bytes: g.stored_bytes,
        kms_key_id: g.kms_key_id,
        log_group_class: g.class,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeInput {
    log_group_name_prefix: Option<String>,
    log_group_name_pattern: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
    log_group_class: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeOutput {
    log_groups: Vec<GroupShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn describe(svc: &LogsService, input: DescribeInput) -> Result<DescribeOutput> {
    if input.log_group_name_prefix.is_some() && input.log_group_name_pattern.is_some() {
        return Err(LogsError::Invalid("logGroupNamePrefix and logGroupNamePattern are mutually exclusive".into()));
    }
    let limit = input.limit.unwrap_or(50);
    if !(1..=50).contains(&limit) {
        return Err(LogsError::Invalid("limit must be between 1 and 50".into()));
    }
    let mut after = match &input.next_token {
        Some(t) => Some(
            paging::decode_token(t).map_err(|_| LogsError::Invalid("The specified nextToken is invalid.".into()))?,
        ),
        None => None,
    };
    // A pattern matches anywhere in the name, case-insensitively: filtered here, in pages.
    let pattern = input.log_group_name_pattern.map(|p| p.to_lowercase());
    let mut out = Vec::new();
    loop {
        let batch = svc.store.groups(input.log_group_name_prefix.as_deref(), after.as_deref(), 200).await?;
        let full = batch.len() == 200;
        for g in batch {
            after = Some(g.name.clone());
            let wanted = pattern.as_ref().is_none_or(|p| g.name.to_lowercase().contains(p.as_str()))
                && input.log_group_class.as_ref().is_none_or(|c| *c == g.class);
            if wanted {
                out.push(g);
                if out.len() as i64 == limit {
                    let next = after.as_deref().map(paging::encode_token);
                    return Ok(DescribeOutput {
                        log_groups: out.into_iter().map(|g| shape(svc, g)).collect(),
                        next_token: next,
                    });
                }
            }
        }
        if !full {
            return Ok(DescribeOutput {
                log_groups: out.into_iter().map(|g| shape(svc, g)).collect(),
                next_token: None,
            });
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupInput {
    log_group_name: String,
}

pub(crate) async fn delete(svc: &LogsService, input: GroupInput) -> Result<Empty> {
    if svc.store.delete_group(&input.log_group_name).await? { Ok(Empty {}) } else { Err(LogsError::group_not_found()) }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RetentionInput {
    log_group_name: String,
    retention_in_days: i64,
}

pub(crate) async fn put_retention(svc: &LogsService, input: RetentionInput) -> Result<Empty> {
    if !RETENTION_DAYS.contains(&input.retention_in_days) {
        return Err(LogsError::Invalid(format!(
            "1 validation error detected: Value '{}' at 'retentionInDays' failed to satisfy constraint: \
             Member must satisfy enum value set: {RETENTION_DAYS:?}",
            input.retention_in_days
        )));
    }
    if svc.store.set_retention(&input.log_group_name, Some(input.retention_in_days)).await? {
        Ok(Empty {})
    } else {
        Err(LogsError::group_not_found())
    }
}

pub(crate) async fn delete_retention(svc: &LogsService, input: GroupInput) -> Result<Empty> {
    if svc.store.set_retention(&input.log_group_name, None).await? {
        Ok(Empty {})
    } else {
        Err(LogsError::group_not_found())
    }
}

async fn change_tags(
    svc: &LogsService,
    group: &str,
    change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<()>,
) -> Result<Empty> {
    if svc.store.change_tags(group, change).await? { Ok(Empty {}) } else { Err(LogsError::group_not_found()) }
}

fn add(tags: BTreeMap<String, String>) -> impl FnOnce(&mut BTreeMap<String, String>) -> Result<()> {
    move |current| {
        current.extend(tags);
        check_tags(current)
    }
}

fn remove(keys: Vec<String>) -> impl FnOnce(&mut BTreeMap<String, String>) -> Result<()> {
    move |current| {
        for k in &keys {
            current.remove(k);
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TagGroupInput {
    log_group_name: String,
    tags: BTreeMap<String, String>,
}

pub(crate) async fn tag_group(svc: &LogsService, input: TagGroupInput) -> Result<Empty> {
    change_tags(svc, &input.log_group_name, add(input.tags)).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UntagGroupInput {
    log_group_name: String,
    tags: Vec<String>,
}

pub(crate) async fn untag_group(svc: &LogsService, input: UntagGroupInput) -> Result<Empty> {
    change_tags(svc, &input.log_group_name, remove(input.tags)).await
}

#[derive(Serialize)]
pub(crate) struct TagsOutput {
    tags: BTreeMap<String, String>,
}

pub(crate) async fn list_group_tags(svc: &LogsService, input: GroupInput) -> Result<TagsOutput> {
    let group = svc.store.group(&input.log_group_name).await?.ok_or_else(LogsError::group_not_found)?;
    Ok(TagsOutput { tags: group.tags })
}

/// The log group an ARN given to the `…Resource` operations names.
fn resource_group(arn: &str) -> Result<String> {
    name_of_arn(arn).ok_or_else(|| LogsError::Invalid(format!("'{arn}' is not the ARN of a log group")))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TagResourceInput {
    resource_arn: String,
    tags: BTreeMap<String, String>,
}

pub(crate) async fn tag_resource(svc: &LogsService, input: TagResourceInput) -> Result<Empty> {
    change_tags(svc, &resource_group(&input.resource_arn)?, add(input.tags)).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UntagResourceInput {
    resource_arn: String,
    tag_keys: Vec<String>,
}

pub(crate) async fn untag_resource(svc: &LogsService, input: UntagResourceInput) -> Result<Empty> {
    change_tags(svc, &resource_group(&input.resource_arn)?, remove(input.tag_keys)).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResourceInput {
    resource_arn: String,
}

pub(crate) async fn list_resource_tags(svc: &LogsService, input: ResourceInput) -> Result<TagsOutput> {
    let name = resource_group(&input.resource_arn)?;
    let group = svc.store.group(&name).await?.ok_or_else(LogsError::group_not_found)?;
    Ok(TagsOutput { tags: group.tags })
}
