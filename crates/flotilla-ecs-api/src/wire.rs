//! Wire helpers shared by the ECS operations: timestamps, failures, pagination.

use crate::error::EcsError;
use flotilla_domain::Timestamp;
use serde::Serialize;

/// A `failures[]` entry.
#[derive(Debug, Serialize)]
pub(crate) struct Failure {
    pub arn: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A `{"name": ...}` entry as in `requiresAttributes`.
#[derive(Debug, Serialize)]
pub(crate) struct NamedAttribute {
    pub name: String,
}

/// AWS JSON timestamps: epoch seconds.
pub(crate) fn epoch(t: Timestamp) -> f64 {
    t.as_epoch_seconds()
}

/// Reads `maxResults` (1 to `max`, default `max`).
pub(crate) fn max_results(value: Option<i64>, max: u32) -> Result<u32, EcsError> {
    match value {
        None => Ok(max),
        Some(n) if (1..=max as i64).contains(&n) => Ok(n as u32),
        Some(n) => Err(EcsError::invalid(format!("maxResults {n} must be between 1 and {max}"))),
    }
}

/// Pagination tokens are opaque to clients: the hex of the last key returned.
pub(crate) fn encode_token(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn decode_token(token: &str) -> Result<String, EcsError> {
    let invalid = || EcsError::invalid("nextToken is not a token this API returned");
    if !token.len().is_multiple_of(2) {
        return Err(invalid());
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| token.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(invalid)?;
    String::from_utf8(bytes).map_err(|_| invalid())
}

/// Cuts a page fetched with one item more than `limit` down to `limit`, and gives
/// the token of its last item when more remain.
pub(crate) fn finish_page<T>(mut items: Vec<T>, limit: usize, key: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
    if items.len() <= limit {
        return (items, None);
    }
    items.truncate(limit);
    let token = items.last().map(|item| encode_token(&key(item)));
    (items, token)
}

/// Requires a member the model marks required.
pub(crate) fn required<T>(value: Option<T>, field: &str) -> Result<T, EcsError> {
    value.ok_or_else(|| EcsError::invalid(format!("{field} is required")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_garbage() {
        assert_eq!(decode_token(&encode_token("web:12")).unwrap(), "web:12");
        assert!(decode_token("zz").is_err());
        assert!(decode_token("abc").is_err());
    }

    #[test]
    fn max_results_bounds() {
        assert_eq!(max_results(None, 100).unwrap(), 100);
        assert_eq!(max_results(Some(5), 100).unwrap(), 5);
        assert!(max_results(Some(0), 100).is_err());
        assert!(max_results(Some(101), 100).is_err());
    }
}
