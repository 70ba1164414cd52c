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
    fn broken_tag_rules_are_invalid_parameters() {
        // The rules themselves are flotilla_core::tag's; ECS answers each with InvalidParameter.
        let e = validate_tags(&[tag("aws:owner", "x")]).unwrap_err();
        assert_eq!(e, ValidationError::invalid_parameter(TagError::ReservedPrefix("aws:owner".into()).to_string()));
        assert!(validate_tag_key("").is_err());
        assert!(validate_tags(&[tag("team", "core")]).is_ok());
    }
}
