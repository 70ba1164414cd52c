//! What a request is judged by: its action, resource, principal and condition keys.

use std::collections::HashMap;

/// Everything a request is judged by.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    /// The IAM action, e.g. `ecs:RunTask`.
    pub action: &'a str,
    /// One ARN, or `*` for actions without resource-level permissions.
    pub resource: &'a str,
    /// Who asks; read by `Principal`/`NotPrincipal` (resource-based policies).
    pub principal: Option<&'a PrincipalRef<'a>>,
    /// Condition keys and policy variables.
    pub keys: &'a ContextKeys,
}

/// The principal making a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrincipalRef<'a> {
    /// `arn:aws:iam::123456789012:user/alice`, `arn:aws:sts::…:assumed-role/NAME/SESSION`, …
    pub arn: &'a str,
    pub account_id: &'a str,
    /// `ecs-tasks.amazonaws.com` when a service asks.
    pub service: Option<&'a str>,
}

/// Condition keys: case-insensitive names, each with one or more values.
#[derive(Default, Clone, Debug)]
pub struct ContextKeys {
    /// Names lowercased.
    values: HashMap<String, Vec<String>>,
}

impl ContextKeys {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one value to `key` (a key may hold several).
    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        self.values.entry(key.to_ascii_lowercase()).or_default().push(value.into());
    }

    /// Sets every value of `key`, replacing any it had.
    pub fn insert_all(&mut self, key: &str, values: Vec<String>) {
        self.values.insert(key.to_ascii_lowercase(), values);
    }

    /// The values of `key`, whatever its case.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        if key.bytes().any(|b| b.is_ascii_uppercase()) {
            self.get_lower(&key.to_ascii_lowercase())
        } else {
            self.get_lower(key)
        }
    }

    /// Removes `key`, returning its values.
    pub fn remove(&mut self, key: &str) -> Option<Vec<String>> {
        self.values.remove(&key.to_ascii_lowercase())
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Lookup by a name already lowercased (as compiled policies hold them): no allocation.
    pub(crate) fn get_lower(&self, key: &str) -> Option<&[String]> {
        self.values.get(key).map(Vec::as_slice)
    }
}
