//! Message attributes: the wire shape, AWS's rules for names, types and values, the
//! bytes they count against the maximum message size, which of them a receive returns,
//! and their digests ([`crate::md5`]).

use crate::error::{Code, Result, SqsError};
use crate::md5::{self, AttributeParts};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How many message attributes a message may carry.
const MAX_ATTRIBUTES: usize = 10;
const MAX_NAME_LEN: usize = 256;
const MAX_TYPE_LEN: usize = 256;
/// The one message system attribute a sender may set.
pub const AWS_TRACE_HEADER: &str = "AWSTraceHeader";

/// One attribute value as on the wire (binary values base64-encoded, as AWS JSON has blobs).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeValue {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_list_values: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_list_values: Option<Vec<String>>,
}

pub type Attributes = BTreeMap<String, AttributeValue>;

fn invalid(message: String) -> SqsError {
    SqsError::refused(Code::InvalidParameterValue, message)
}

/// Whether every character is one SQS accepts in a message: #x9, #xA, #xD, #x20 to
/// #xD7FF, #xE000 to #xFFFD and #x10000 to #x10FFFF.
pub fn valid_text(text: &str) -> bool {
    text.chars().all(
        |c| matches!(c, '\u{9}' | '\u{a}' | '\u{d}' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..),
    )
}

fn valid_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && !lower.starts_with("aws.")
        && !lower.starts_with("amazon.")
}

/// A number as SQS takes it: decimal, optionally signed, with a fraction and an
/// exponent, at most 38 significant digits.
fn valid_number(text: &str) -> bool {
    let t = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match t.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (t, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return false;
    }
    if let Some(e) = exponent {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        if e.is_empty() || e.len() > 3 || !digits(e) {
            return false;
        }
    }
    let significant = format!("{whole}{fraction}");
    significant.trim_start_matches('0').trim_end_matches('0').len() <= 38
}

/// Checks a message's attributes; returns the bytes they count (name, type and value
/// of each) and keeps only the value fields that apply (as stored and answered).
pub fn validate(attributes: &mut Attributes) -> Result<usize> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(invalid(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [{MAX_ATTRIBUTES}].",
            attributes.len()
        )));
    }
    let mut size = 0;
    for (name, value) in attributes.iter_mut() {
        if !valid_name(name) {
            return Err(invalid(format!(
                "Message (user) attribute name '{name}' is invalid. The attribute name can contain A-Z, a-z, 0-9, \
                 underscore (_), hyphen (-) and period (.); it must not start or end with a period, hold two \
                 periods in a row, or start with AWS. or Amazon., and is at most {MAX_NAME_LEN} characters long."
            )));
        }
        size += name.len() + validate_value(name, value)?;
    }
    Ok(size)
}

fn validate_value(name: &str, value: &mut AttributeValue) -> Result<usize> {
    let data_type = value.data_type.clone().unwrap_or_default();
    if data_type.is_empty() {
        return Err(SqsError::refused(
            Code::MissingParameter,
            format!("The message attribute '{name}' must contain non-empty message attribute type."),
        ));
    }
    let base = data_type.split('.').next().unwrap_or_default();
    if data_type.len() > MAX_TYPE_LEN || !["String", "Number", "Binary"].contains(&base) || !valid_text(&data_type) {
        return Err(invalid(format!(
            "The type of message (user) attribute '{name}' is invalid. You must use only the following supported \
             type prefixes: Binary, Number, String."
        )));
    }
    if value.string_list_values.as_ref().is_some_and(|l| !l.is_empty())
        || value.binary_list_values.as_ref().is_some_and(|l| !l.is_empty())
    {
        return Err(invalid("Message attribute list values in SendMessage operation are not supported.".into()));
    }
    value.string_list_values = None;
    value.binary_list_values = None;
    let bytes = if base == "Binary" {
        let encoded = value.binary_value.as_deref().unwrap_or_default();
        let decoded = STANDARD.decode(encoded.as_bytes()).map_err(|_| {
            invalid(format!("The message attribute '{name}' has a BinaryValue that is not valid base64."))
        })?;
        if decoded.is_empty() || value.string_value.is_some() {
            return Err(invalid(format!(
                "The message attribute '{name}' with type 'Binary' must use field 'Binary' with a non-empty value."
            )));
        }
        decoded.len()
    } else {
        let text = value.string_value.as_deref().unwrap_or_default();
        if text.is_empty() || value.binary_value.is_some() {
            return Err(invalid(format!(
                "The message attribute '{name}' with type '{base}' must use field 'String' with a non-empty value."
            )));
        }
        if !valid_text(text) {
            return Err(SqsError::refused(
                Code::InvalidMessageContents,
                format!("The message attribute '{name}' holds characters outside those SQS allows."),
            ));
        }
        if base == "Number" && !valid_number(text) {
            return Err(invalid(format!("Can't convert '{text}' to a Number for the message attribute '{name}'.")));
        }
        text.len()
    };
    Ok(data_type.len() + bytes)
}

/// Checks a message's system attributes: only `AWSTraceHeader`, a String. Returns
/// its value and the bytes it counts.
pub fn validate_system(attributes: &mut Attributes) -> Result<(Option<String>, usize)> {
    let mut size = 0;
    let mut trace = None;
    for (name, value) in attributes.iter_mut() {
        if name != AWS_TRACE_HEADER {
            return Err(invalid(format!("Message system attribute name '{name}' is invalid.")));
        }
        if value.data_type.as_deref() != Some("String") {
            return Err(invalid(format!("The message system attribute '{name}' must be of type String.")));
        }
        size += name.len() + validate_value(name, value)?;
        trace = value.string_value.clone();
    }
    Ok((trace, size))
}

/// The digest of a set of attributes, or none for no attributes.
pub fn digest(attributes: &Attributes) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    let decoded: Vec<(&str, &str, Vec<u8>, bool)> = attributes
        .iter()
        .map(|(name, v)| {
            let data_type = v.data_type.as_deref().unwrap_or_default();
            let binary = data_type.starts_with("Binary");
            let value = if binary {
                STANDARD.decode(v.binary_value.as_deref().unwrap_or_default()).unwrap_or_default()
            } else {
                v.string_value.clone().unwrap_or_default().into_bytes()
            };
            (name.as_str(), data_type, value, binary)
        })
        .collect();
    let parts: Vec<AttributeParts<'_>> = decoded
        .iter()
        .map(|(name, data_type, value, binary)| AttributeParts { name, data_type, value, binary: *binary })
        .collect();
    Some(md5::of_attributes(&parts))
}

/// The attributes a receive asked for by `MessageAttributeNames`: `All` or `.*`, names,
/// and `prefix.*` for every name under `prefix.`.
pub fn select(attributes: &Attributes, names: &[String]) -> Attributes {
    let wanted = |name: &str| {
        names.iter().any(|n| {
            n == "All"
                || n == ".*"
                || n == name
                || n.strip_suffix('*').is_some_and(|p| p.ends_with('.') && name.starts_with(p))
        })
    };
    attributes.iter().filter(|(name, _)| wanted(name)).map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(v: &str) -> AttributeValue {
        AttributeValue { data_type: Some("String".into()), string_value: Some(v.into()), ..Default::default() }
    }

    #[test]
    fn names_types_and_values_follow_awss_rules() {
        let mut ok: Attributes = [("a.b-c_d".to_string(), string("x"))].into();
        assert_eq!(validate(&mut ok).unwrap(), "a.b-c_d".len() + "String".len() + 1);
        for bad in [".a", "a.", "a..b", "AWS.x", "amazon.y", "sp ace", ""] {
            let mut attrs: Attributes = [(bad.to_string(), string("x"))].into();
            assert_eq!(validate(&mut attrs).unwrap_err().code(), Some(Code::InvalidParameterValue), "{bad}");
        }
        let mut untyped: Attributes = [("a".to_string(), AttributeValue::default())].into();
        assert_eq!(validate(&mut untyped).unwrap_err().code(), Some(Code::MissingParameter));
        let mut wrong_type: Attributes =
            [("a".to_string(), AttributeValue { data_type: Some("Text".into()), ..string("x") })].into();
        assert_eq!(validate(&mut wrong_type).unwrap_err().code(), Some(Code::InvalidParameterValue));
        let mut custom: Attributes =
            [("a".to_string(), AttributeValue { data_type: Some("Number.float".into()), ..string("-1.5e3") })].into();
        validate(&mut custom).unwrap();
        let mut not_a_number: Attributes =
            [("a".to_string(), AttributeValue { data_type: Some("Number".into()), ..string("1.2.3") })].into();
        assert_eq!(validate(&mut not_a_number).unwrap_err().code(), Some(Code::InvalidParameterValue));
        let mut empty: Attributes = [("a".to_string(), string(""))].into();
        assert!(validate(&mut empty).is_err());
        let mut eleven: Attributes = (0..11).map(|i| (format!("a{i}"), string("x"))).collect();
        assert!(validate(&mut eleven).is_err());
        let binary = AttributeValue {
            data_type: Some("Binary".into()),
            binary_value: Some(STANDARD.encode([0u8, 1, 2])),
            ..Default::default()
        };
        let mut binary: Attributes = [("b".to_string(), binary)].into();
        assert_eq!(validate(&mut binary).unwrap(), 1 + 6 + 3);
    }

    #[test]
    fn numbers_are_decimal_with_at_most_38_digits() {
        for ok in ["0", "-1", "+2.5", ".5", "5.", "1e10", "1.5E-3", "0230.01", &"9".repeat(38)] {
            assert!(valid_number(ok), "{ok}");
        }
        for bad in ["", ".", "e5", "1e", "1.2.3", "abc", "1e1234", &"9".repeat(39)] {
            assert!(!valid_number(bad), "{bad}");
        }
    }

    #[test]
    fn text_outside_the_allowed_characters_is_refused() {
        assert!(valid_text("tab\tnewline\n return\r é 😀"));
        assert!(!valid_text("nul\u{0}"));
        assert!(!valid_text("bell\u{7}"));
        assert!(!valid_text("\u{fffe}"));
    }

    #[test]
    fn receives_select_by_name_prefix_or_all() {
        let attrs: Attributes = ["a.one", "a.two", "b", "ab"].iter().map(|n| (n.to_string(), string("x"))).collect();
        let names = |v: &[&str]| -> Vec<String> {
            select(&attrs, &v.iter().map(|s| s.to_string()).collect::<Vec<_>>()).into_keys().collect()
        };
        assert_eq!(names(&["All"]).len(), 4);
        assert_eq!(names(&[".*"]).len(), 4);
        assert_eq!(names(&["a.*"]), vec!["a.one", "a.two"]);
        assert_eq!(names(&["b", "nope"]), vec!["b"]);
        assert!(names(&[]).is_empty());
    }

    #[test]
    fn system_attributes_are_the_trace_header_only() {
        let mut ok: Attributes = [(AWS_TRACE_HEADER.to_string(), string("Root=1-abc"))].into();
        assert_eq!(validate_system(&mut ok).unwrap().0.as_deref(), Some("Root=1-abc"));
        let mut other: Attributes = [("SenderId".to_string(), string("x"))].into();
        assert!(validate_system(&mut other).is_err());
    }
}
