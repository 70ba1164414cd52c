//! Wire helpers shared by the ECS operations: timestamps, failures, pagination
//! (tokens from `flotilla_core::paging`).

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

pub(crate) use flotilla_domain::flotilla_core::paging::finish_page;

/// Reads a `nextToken` (`flotilla_core::paging`).
pub(crate) fn decode_token(token: &str) -> Result<String, EcsError> {
    flotilla_domain::flotilla_core::paging::decode_token(token).map_err(|e| EcsError::invalid(e.to_string()))
}

/// Requires a member the model marks required.
pub(crate) fn required<T>(value: Option<T>, field: &str) -> Result<T, EcsError> {
    value.ok_or_else(|| EcsError::invalid(format!("{field} is required")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_tokens_are_invalid_parameters() {
        let e = decode_token("zz").unwrap_err();
        assert_eq!(e.to_string(), "nextToken is not a token this API returned");
    }

    #[test]
    fn max_results_bounds() {
        assert_eq!(max_results(None, 100).unwrap(), 100);
        assert_eq!(max_results(Some(5), 100).unwrap(), 5);
        assert!(max_results(Some(0), 100).is_err());
        assert!(max_results(Some(101), 100).is_err());
    }
}
