//! TagResource, UntagResource and ListTagsForResource for alarms, named by ARN
//! (`arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME`). A well-formed ARN of anything
//! else (another account or region, a dashboard) names no resource here:
//! `ResourceNotFoundException`.

use super::{Empty, TagIn, check_tags};
use crate::MetricsService;
use crate::error::{MetricsError, Result};
use crate::model::required;
use flotilla_core::arn::Arn;
use flotilla_core::tag::{MAX_TAGS_PER_RESOURCE, validate_tag_key};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    tags: Option<Vec<TagIn>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UntagInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    tag_keys: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagOut {
    key: String,
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListOutput {
    tags: Vec<TagOut>,
}

fn not_found(arn: &str) -> MetricsError {
    MetricsError::ArnNotFound(format!("The resource {arn} does not exist."))
}

/// The alarm name `ResourceARN` names.
fn alarm_name(svc: &MetricsService, arn: Option<&String>) -> Result<(String, String)> {
    let text = required(arn, "ResourceARN")?;
    let parsed: Arn = text.parse().map_err(|e| MetricsError::invalid("ResourceARN", text, &format!("{e}")))?;
    let name = match parsed.resource.split_once(':') {
        Some(("alarm", name)) if parsed.service == "cloudwatch" && svc.account.owns(&parsed) && !name.is_empty() => {
            name.to_string()
        }
        _ => return Err(not_found(text)),
    };
    Ok((name, text.clone()))
}

pub(crate) async fn tag(svc: &MetricsService, input: TagInput) -> Result<Empty> {
    let (name, arn) = alarm_name(svc, input.resource_arn.as_ref())?;
    let tags = check_tags(required(input.tags.as_deref(), "Tags")?, "Tags")?;
    if !svc.store.tag_alarm(&name, &tags, MAX_TAGS_PER_RESOURCE).await? {
        return Err(not_found(&arn));
    }
    Ok(Empty {})
}

pub(crate) async fn untag(svc: &MetricsService, input: UntagInput) -> Result<Empty> {
    let (name, arn) = alarm_name(svc, input.resource_arn.as_ref())?;
    let keys = required(input.tag_keys, "TagKeys")?;
    for key in &keys {
        validate_tag_key(key).map_err(|e| MetricsError::InvalidValue(e.to_string()))?;
    }
    if !svc.store.untag_alarm(&name, &keys).await? {
        return Err(not_found(&arn));
    }
    Ok(Empty {})
}

pub(crate) async fn list(svc: &MetricsService, input: ListInput) -> Result<ListOutput> {
    let (name, arn) = alarm_name(svc, input.resource_arn.as_ref())?;
    let tags = svc.store.alarm_tags(&name).await?.ok_or_else(|| not_found(&arn))?;
    Ok(ListOutput { tags: tags.into_iter().map(|(key, value)| TagOut { key, value }).collect() })
}
