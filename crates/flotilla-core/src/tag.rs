//! Resource tags and the tagging rules AWS services share.

use serde::{Deserialize, Serialize};

pub const MAX_TAGS_PER_RESOURCE: usize = 50;
pub const MAX_KEY_CHARS: usize = 128;
pub const MAX_VALUE_CHARS: usize = 256;

/// A tag as ECS, ECR and most JSON services spell it (`key`, `value`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// A tag rule a request broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    #[error("tags: {0} tags given, a resource can have at most {MAX_TAGS_PER_RESOURCE}")]
    TooMany(usize),
    #[error("tags: tag key '{0}' must be 1 to {MAX_KEY_CHARS} characters long")]
    KeyLength(String),
    #[error("tags: tag key '{0}' uses the prefix 'aws:', which is reserved for AWS use")]
    ReservedPrefix(String),
    #[error("tags: the value of tag '{0}' is longer than {MAX_VALUE_CHARS} characters")]
    ValueLength(String),
}

/// Checks keys and values of tags being added.
pub fn validate_tags(tags: &[Tag]) -> Result<(), TagError> {
    if tags.len() > MAX_TAGS_PER_RESOURCE {
        return Err(TagError::TooMany(tags.len()));
    }
    for tag in tags {
        validate_tag_key(&tag.key)?;
        if tag.value.chars().count() > MAX_VALUE_CHARS {
            return Err(TagError::ValueLength(tag.key.clone()));
        }
    }
    Ok(())
}

pub fn validate_tag_key(key: &str) -> Result<(), TagError> {
    let len = key.chars().count();
    if len == 0 || len > MAX_KEY_CHARS {
        return Err(TagError::KeyLength(key.to_string()));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(TagError::ReservedPrefix(key.to_string()));
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
        assert_eq!(validate_tags(&[tag("", "x")]), Err(TagError::KeyLength(String::new())));
        assert_eq!(validate_tags(&[tag("aws:owner", "x")]), Err(TagError::ReservedPrefix("aws:owner".into())));
        assert!(validate_tags(&[tag("AWS:owner", "x")]).is_err());
        assert!(validate_tags(&[tag(&"k".repeat(129), "x")]).is_err());
        assert!(validate_tags(&[tag(&"ü".repeat(128), "x")]).is_ok(), "limits count characters, not bytes");
        assert_eq!(validate_tags(&[tag("k", &"v".repeat(257))]), Err(TagError::ValueLength("k".into())));
        let many: Vec<Tag> = (0..51).map(|i| tag(&format!("k{i}"), "v")).collect();
        assert_eq!(validate_tags(&many), Err(TagError::TooMany(51)));
    }
}
