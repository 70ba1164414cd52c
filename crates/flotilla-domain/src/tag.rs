//! Resource tags and ECS's tagging rules.

use crate::error::{Validated, ValidationError};
use serde::{Deserialize, Serialize};

pub const MAX_TAGS_PER_RESOURCE: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// Checks keys and values of tags being added, as ECS does.
pub fn validate_tags(tags: &[Tag]) -> Validated {
    if tags.len() > MAX_TAGS_PER_RESOURCE {
        return Err(ValidationError::invalid_parameter(format!(
            "tags: {} tags given, a resource can have at most {MAX_TAGS_PER_RESOURCE}",
            tags.len()
        )));
    }
    for tag in tags {
        validate_tag_key(&tag.key)?;
        if tag.value.chars().count() > 256 {
            return Err(ValidationError::invalid_parameter(format!(
                "tags: the value of tag '{}' is longer than 256 characters",
                tag.key
            )));
        }
    }
    Ok(())
}

pub fn validate_tag_key(key: &str) -> Validated {
    let len = key.chars().count();
    if len == 0 || len > 128 {
        return Err(ValidationError::invalid_parameter(format!(
            "tags: tag key '{key}' must be 1 to 128 characters long"
        )));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(ValidationError::invalid_parameter(format!(
            "tags: tag key '{key}' uses the prefix 'aws:', which is reserved for AWS use"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(k: &str, v: &str) -> Tag {
        Tag { key: k.into(), value: v.into() }
    }

    #[test]
    fn tag_rules() {
        assert!(validate_tags(&[tag("team", "core"), tag("empty", "")]).is_ok());
        assert!(validate_tags(&[tag("", "x")]).is_err());
        assert!(validate_tags(&[tag("aws:owner", "x")]).is_err());
        assert!(validate_tags(&[tag("AWS:owner", "x")]).is_err());
        assert!(validate_tags(&[tag(&"k".repeat(129), "x")]).is_err());
        assert!(validate_tags(&[tag("k", &"v".repeat(257))]).is_err());
        let many: Vec<Tag> = (0..51).map(|i| tag(&format!("k{i}"), "v")).collect();
        assert!(validate_tags(&many).is_err());
    }
}
