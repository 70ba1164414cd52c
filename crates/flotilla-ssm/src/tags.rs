//! AddTagsToResource, RemoveTagsFromResource and ListTagsForResource for parameters.

use crate::SsmService;
use crate::error::{Code, Result, SsmError};
use crate::store::{Tag, TagOutcome};
use flotilla_core::tag::{self, MAX_TAGS_PER_RESOURCE};
use flotilla_protocol::Caller;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddTagsInput {
    resource_type: String,
    resource_id: String,
    tags: Vec<Tag>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveTagsInput {
    resource_type: String,
    resource_id: String,
    tag_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsInput {
    resource_type: String,
    resource_id: String,
}

/// The model's characters for keys and values: letters, spaces, digits and `_.:/=+-@`.
fn chars_ok(s: &str) -> bool {
    s.chars().all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
}

/// Tags' rules: keys 1–128 characters not starting `aws:`, values up to 256, at most 50.
pub(crate) fn validate(tags: &[Tag]) -> Result<()> {
    let core: Vec<tag::Tag> = tags.iter().map(|t| tag::Tag { key: t.key.clone(), value: t.value.clone() }).collect();
    tag::validate_tags(&core).map_err(|e| SsmError::validation(e.to_string()))?;
    if let Some(bad) = tags.iter().find(|t| !chars_ok(&t.key) || !chars_ok(&t.value)) {
        return Err(SsmError::validation(format!(
            "The tag {} uses characters that are not allowed: letters, digits, spaces and _.:/=+-@ only.",
            bad.key
        )));
    }
    Ok(())
}

impl SsmService {
    /// The parameter a tagging request names; only parameters are served.
    async fn tagged_parameter(&self, resource_type: &str, resource_id: &str) -> Result<String> {
        if resource_type != "Parameter" {
            return Err(SsmError::refused(
                Code::InvalidResourceType,
                format!("The resource type {resource_type} is not supported here: only Parameter."),
            ));
        }
        let invalid_id =
            || SsmError::refused(Code::InvalidResourceId, format!("The resource ID {resource_id} is not valid."));
        let r = self.parse_ref(resource_id).map_err(|_| invalid_id())?;
        if r.selector.is_some() {
            return Err(invalid_id());
        }
        self.existing_name(&r).await?.ok_or_else(invalid_id)
    }

    pub(crate) async fn add_tags_to_resource(&self, input: AddTagsInput, _caller: &Caller) -> Result<Value> {
        validate(&input.tags)?;
        let name = self.tagged_parameter(&input.resource_type, &input.resource_id).await?;
        match self.store.change_tags(&name, &input.tags, &[], MAX_TAGS_PER_RESOURCE).await? {
            TagOutcome::Changed => Ok(json!({})),
            TagOutcome::NotFound => Err(SsmError::refused(
                Code::InvalidResourceId,
                format!("The resource ID {} is not valid.", input.resource_id),
            )),
            TagOutcome::TooMany => Err(SsmError::refused(
                Code::TooManyTags,
                format!("A parameter can have at most {MAX_TAGS_PER_RESOURCE} tags."),
            )),
        }
    }

    pub(crate) async fn remove_tags_from_resource(&self, input: RemoveTagsInput, _caller: &Caller) -> Result<Value> {
        let name = self.tagged_parameter(&input.resource_type, &input.resource_id).await?;
        match self.store.change_tags(&name, &[], &input.tag_keys, MAX_TAGS_PER_RESOURCE).await? {
            TagOutcome::Changed | TagOutcome::TooMany => Ok(json!({})),
            TagOutcome::NotFound => Err(SsmError::refused(
                Code::InvalidResourceId,
                format!("The resource ID {} is not valid.", input.resource_id),
            )),
        }
    }

    pub(crate) async fn list_tags_for_resource(&self, input: ListTagsInput, _caller: &Caller) -> Result<Value> {
        let name = self.tagged_parameter(&input.resource_type, &input.resource_id).await?;
        let tags = self.store.tags(&name).await?.ok_or_else(|| {
            SsmError::refused(Code::InvalidResourceId, format!("The resource ID {} is not valid.", input.resource_id))
        })?;
        Ok(json!({"TagList": tags}))
    }
}
