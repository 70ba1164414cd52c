//! The model's constraints on request members (lengths, patterns, ranges), refused in
//! AWS's `1 validation error detected: …` words, and the shapes several operations share
//! (tags, paging).

use crate::error::{EventsError, Result};
use crate::store::Tags;
use flotilla_core::paging;
use flotilla_core::tag::{Tag, validate_tags};
use serde::{Deserialize, Serialize};

/// A name of a rule, target, connection or API destination: 1 to `max` of letters,
/// digits, `.`, `-`, `_`.
pub(crate) fn name(value: &str, at: &str, max: usize) -> Result<()> {
    length(value, at, 1, max)?;
    if !value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')) {
        return Err(EventsError::constraint(
            value,
            at,
            "Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+",
        ));
    }
    Ok(())
}

/// A text's length in characters within `min..=max`.
pub(crate) fn length(value: &str, at: &str, min: usize, max: usize) -> Result<()> {
    let chars = value.chars().count();
    if chars < min {
        return Err(EventsError::constraint(
            value,
            at,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if chars > max {
        return Err(EventsError::constraint(
            value,
            at,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// An optional text's length.
pub(crate) fn optional_length(value: Option<&str>, at: &str, max: usize) -> Result<()> {
    value.map_or(Ok(()), |v| length(v, at, 0, max))
}

/// A number within `min..=max`.
pub(crate) fn range(value: i64, at: &str, min: i64, max: i64) -> Result<()> {
    if value < min {
        return Err(EventsError::constraint(
            &value.to_string(),
            at,
            &format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if value > max {
        return Err(EventsError::constraint(
            &value.to_string(),
            at,
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// A tag as EventBridge spells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagShape {
    pub key: String,
    pub value: String,
}

/// Tags as given, checked (AWS's tag rules; a key at most once).
pub(crate) fn tags(given: &[TagShape]) -> Result<Tags> {
    let list: Vec<Tag> = given.iter().map(|t| Tag { key: t.key.clone(), value: t.value.clone() }).collect();
    validate_tags(&list).map_err(|e| EventsError::Validation(e.to_string()))?;
    let mut out = Tags::new();
    for t in given {
        if out.insert(t.key.clone(), t.value.clone()).is_some() {
            return Err(EventsError::Validation("Invalid parameter: Duplicated keys are not allowed.".into()));
        }
    }
    Ok(out)
}

pub(crate) fn tag_list(tags: &Tags) -> Vec<TagShape> {
    tags.iter().map(|(k, v)| TagShape { key: k.clone(), value: v.clone() }).collect()
}

/// A List call's `Limit` (1 to 100; 100 when absent).
pub(crate) fn limit(given: Option<i64>) -> Result<i64> {
    let limit = given.unwrap_or(100);
    range(limit, "limit", 1, 100)?;
    Ok(limit)
}

/// The key a `NextToken` resumes after.
pub(crate) fn after(token: Option<&str>) -> Result<Option<String>> {
    token
        .map(|t| paging::decode_token(t).map_err(|_| EventsError::Validation("The NextToken is not valid.".into())))
        .transpose()
}

/// Cuts a page fetched with one more item than `limit`.
pub(crate) fn page<T>(items: Vec<T>, limit: i64, key: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
    paging::finish_page(items, limit as usize, key)
}
