//! Resource tags ([`flotilla_core::tag`]) and ECS's answer to broken tag rules.

use crate::error::{Validated, ValidationError};

pub use flotilla_core::tag::{MAX_TAGS_PER_RESOURCE, Tag, TagError};

/// Checks keys and values of tags being added, as ECS does.
pub fn validate_tags(tags: &[Tag]) -> Validated {
    flotilla_core::tag::validate_tags(tags).map_err(invalid)
}

pub fn validate_tag_key(key: &str) -> Validated {
    flotilla_core::tag::validate_tag_key(key).map_err(invalid)
}

/// ECS answers every tag rule violation with `InvalidParameterException`.
fn invalid(e: TagError) -> ValidationError {
    ValidationError::invalid_parameter(e.to_string())
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
