//! The JSONPath subset EventBridge evaluates: `$`, dot-separated names, array indices
//! and `*` (as `.*` or `[*]`).
//!
//! A name is any run of characters but `.`, `[`, `]` and whitespace, so dashes,
//! underscores and slashes need no quoting (`$.detail.instance-id`); bracketed names
//! (`['a.b']`) and negative indices are refused. A path without `*` selects at most one
//! value; with `*` it selects a JSON array of every match, in document order.

use std::borrow::Cow;

use serde_json::Value;

/// Longest path AWS accepts (InputPath and InputPathsMap values).
pub const MAX_PATH_CHARS: usize = 256;

/// A parsed JSONPath.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    text: String,
    steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Field(String),
    Index(usize),
    /// `.*` or `[*]`: every member of an object or element of an array.
    Every,
}

impl JsonPath {
    /// Parses a path; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let chars = text.chars().count();
        if chars > MAX_PATH_CHARS {
            return Err(format!("it is {chars} characters long; the limit is {MAX_PATH_CHARS}"));
        }
        let Some(mut rest) = text.strip_prefix('$') else {
            return Err("it must start with '$'".into());
        };
        let mut steps = Vec::new();
        while !rest.is_empty() {
            if let Some(after_dot) = rest.strip_prefix('.') {
                let end = after_dot.find(|c: char| c == '.' || c == '[' || c == ']' || c.is_whitespace());
                let (name, next) = after_dot.split_at(end.unwrap_or(after_dot.len()));
                steps.push(match name {
                    "" => return Err("a '.' must be followed by a field name or '*'".into()),
                    "*" => Step::Every,
                    _ => Step::Field(name.to_string()),
                });
                rest = next;
            } else if let Some(after_bracket) = rest.strip_prefix('[') {
                let Some((inside, next)) = after_bracket.split_once(']') else {
                    return Err("a '[' has no closing ']'".into());
                };
                steps.push(match inside {
                    "*" => Step::Every,
                    _ if !inside.is_empty() && inside.bytes().all(|b| b.is_ascii_digit()) => {
                        Step::Index(inside.parse().map_err(|_| format!("index [{inside}] is too large"))?)
                    }
                    _ => return Err(format!("[{inside}] is not an array index (use dot notation for names)")),
                });
                rest = next;
            } else {
                return Err(format!("unexpected text {rest:?}: steps start with '.' or '['"));
            }
        }
        Ok(JsonPath { text: text.to_string(), steps })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value the path selects: `None` when a path without `*` finds nothing; a
    /// path with `*` always selects an array (empty when nothing matches).
    pub fn select<'a>(&self, root: &'a Value) -> Option<Cow<'a, Value>> {
        if !self.steps.contains(&Step::Every) {
            let mut value = root;
            for step in &self.steps {
                value = match (step, value) {
                    (Step::Field(name), Value::Object(object)) => object.get(name)?,
                    (Step::Index(index), Value::Array(items)) => items.get(*index)?,
                    _ => return None,
                };
            }
            return Some(Cow::Borrowed(value));
        }
        let mut current = vec![root];
        for step in &self.steps {
            let mut next = Vec::new();
            for value in current {
                match (step, value) {
                    (Step::Field(name), Value::Object(object)) => next.extend(object.get(name)),
                    (Step::Index(index), Value::Array(items)) => next.extend(items.get(*index)),
                    (Step::Every, Value::Object(object)) => next.extend(object.values()),
                    (Step::Every, Value::Array(items)) => next.extend(items.iter()),
                    _ => {}
                }
            }
            current = next;
        }
        Some(Cow::Owned(Value::Array(current.into_iter().cloned().collect())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selects_like_eventbridge() {
        let event = json!({
            "detail": {"instance-id": "i-1", "tags": [{"k": "a"}, {"k": "b"}], "path/x": 1, "n": null},
            "resources": ["arn:1", "arn:2"]
        });
        let rows: &[(&str, Option<Value>)] = &[
            ("$", Some(event.clone())),
            ("$.detail.instance-id", Some(json!("i-1"))),
            ("$.resources[1]", Some(json!("arn:2"))),
            ("$.resources[2]", None),
            ("$.detail.tags[0].k", Some(json!("a"))),
            ("$.detail.tags[*].k", Some(json!(["a", "b"]))),
            ("$.detail.tags.*.k", Some(json!(["a", "b"]))),
            ("$.detail.missing[*]", Some(json!([]))),
            ("$.detail.path/x", Some(json!(1))),
            ("$.detail.n", Some(Value::Null)),
            ("$.detail.missing", None),
            ("$.resources.x", None),
        ];
        for (path, expected) in rows {
            let selected = JsonPath::parse(path).unwrap().select(&event).map(Cow::into_owned);
            assert_eq!(&selected, expected, "{path}");
        }
    }

    #[test]
    fn refuses_what_aws_does_not_evaluate() {
        for path in [
            "",
            "detail",
            "$.",
            "$..a",
            "$['a']",
            "$.a[-1]",
            "$.a[",
            "$ .a",
            "$.a b",
            &format!("$.{}", "a".repeat(256)),
        ] {
            assert!(JsonPath::parse(path).is_err(), "{path:?}");
        }
    }
}
