//! The conditions one value of a pattern's array puts on one leaf of an event.
//!
//! A leaf is a string, number, boolean or null (objects and arrays are not leaves).
//! String conditions (prefix, suffix, wildcard, equals-ignore-case, cidr) only match
//! strings; `numeric` only numbers; `anything-but` matches every leaf its positive
//! form would not, whatever its type (as event-ruler does: `{"anything-but": "x"}`
//! matches `5` and `null`). Case is ignored by comparing Unicode lowercase forms.

use std::net::IpAddr;

use serde_json::Value;

use super::ip::{Cidr, parse_ip};
use super::number::{NumericRange, PatternNumber};
use super::wildcard::Wildcard;

/// One condition on a leaf.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Matcher {
    /// A plain string, equal character for character.
    Exact(String),
    /// A plain string that is an IP address: equal as written or as an address.
    ExactAddress {
        text: String,
        address: IpAddr,
    },
    Number(PatternNumber),
    Null,
    Bool(bool),
    Prefix(String),
    /// Stored lowercased.
    PrefixIgnoreCase(String),
    Suffix(String),
    /// Stored lowercased.
    SuffixIgnoreCase(String),
    /// Stored lowercased.
    EqualsIgnoreCase(String),
    Wildcard(Wildcard),
    Numeric(NumericRange),
    Cidr(Cidr),
    AnythingBut(Excluded),
}

/// What an `anything-but` excludes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Excluded {
    Strings(Vec<String>),
    Numbers(Vec<f64>),
    Prefixes(Vec<String>),
    Suffixes(Vec<String>),
    /// Stored lowercased.
    IgnoringCase(Vec<String>),
    Wildcards(Vec<Wildcard>),
}

impl Matcher {
    /// Whether a leaf (never an object or array) meets the condition.
    pub fn matches(&self, leaf: &Value) -> bool {
        match (self, leaf) {
            (Matcher::Exact(expected), Value::String(s)) => s == expected,
            (Matcher::ExactAddress { text, address }, Value::String(s)) => {
                s == text || parse_ip(s).is_some_and(|ip| ip == *address)
            }
            (Matcher::Number(expected), Value::Number(n)) => expected.equals(n),
            (Matcher::Null, Value::Null) => true,
            (Matcher::Bool(expected), Value::Bool(b)) => b == expected,
            (Matcher::Prefix(prefix), Value::String(s)) => s.starts_with(prefix.as_str()),
            (Matcher::PrefixIgnoreCase(prefix), Value::String(s)) => starts_with_ignoring_case(s, prefix),
            (Matcher::Suffix(suffix), Value::String(s)) => s.ends_with(suffix.as_str()),
            (Matcher::SuffixIgnoreCase(suffix), Value::String(s)) => ends_with_ignoring_case(s, suffix),
            (Matcher::EqualsIgnoreCase(expected), Value::String(s)) => equals_ignoring_case(s, expected),
            (Matcher::Wildcard(wildcard), Value::String(s)) => wildcard.matches(s),
            (Matcher::Numeric(range), Value::Number(n)) => range.contains(n),
            (Matcher::Cidr(cidr), Value::String(s)) => parse_ip(s).is_some_and(|ip| cidr.contains(ip)),
            (Matcher::AnythingBut(excluded), leaf) => !excluded.contains(leaf),
            _ => false,
        }
    }
}

impl Excluded {
    fn contains(&self, leaf: &Value) -> bool {
        match (self, leaf) {
            (Excluded::Strings(values), Value::String(s)) => values.iter().any(|v| v == s),
            (Excluded::Numbers(values), Value::Number(n)) => n.as_f64().is_some_and(|n| values.contains(&n)),
            (Excluded::Prefixes(values), Value::String(s)) => values.iter().any(|v| s.starts_with(v.as_str())),
            (Excluded::Suffixes(values), Value::String(s)) => values.iter().any(|v| s.ends_with(v.as_str())),
            (Excluded::IgnoringCase(values), Value::String(s)) => values.iter().any(|v| equals_ignoring_case(s, v)),
            (Excluded::Wildcards(values), Value::String(s)) => values.iter().any(|w| w.matches(s)),
            _ => false,
        }
    }
}

/// Compares with a lowercased expectation; ASCII texts without allocating.
fn equals_ignoring_case(text: &str, lowercase: &str) -> bool {
    if text.is_ascii() && lowercase.is_ascii() {
        text.eq_ignore_ascii_case(lowercase)
    } else {
        text.to_lowercase() == lowercase
    }
}

fn starts_with_ignoring_case(text: &str, lowercase: &str) -> bool {
    if text.is_ascii() && lowercase.is_ascii() {
        text.len() >= lowercase.len() && text.as_bytes()[..lowercase.len()].eq_ignore_ascii_case(lowercase.as_bytes())
    } else {
        text.to_lowercase().starts_with(lowercase)
    }
}

fn ends_with_ignoring_case(text: &str, lowercase: &str) -> bool {
    if text.is_ascii() && lowercase.is_ascii() {
        text.len() >= lowercase.len()
            && text.as_bytes()[text.len() - lowercase.len()..].eq_ignore_ascii_case(lowercase.as_bytes())
    } else {
        text.to_lowercase().ends_with(lowercase)
    }
}
