//! `InputTransformer`: variables taken from the event by JSONPath (`InputPathsMap`) and
//! put into an `InputTemplate` where it says `<name>`.
//!
//! AWS's rules, as its user guide and API reference state them:
//! * A `<name>` is a placeholder only when `name` is a variable of the map or a reserved
//!   one (`aws.events.rule-arn`, `aws.events.rule-name`,
//!   `aws.events.event.ingestion-time`, `aws.events.event` — the event without its
//!   `detail` — and `aws.events.event.json`); any other `<…>` is text.
//! * A template that is JSON once each placeholder outside a string stands for a value
//!   is a JSON template: there a placeholder outside a string becomes the variable's
//!   JSON (a string quoted and escaped, `null` for a variable whose path found nothing),
//!   and one inside a string becomes its raw text — not escaped, as AWS documents.
//! * Any other template is text: each placeholder becomes the raw text of its value
//!   (a string without quotes, anything else as JSON, nothing for a missing variable).
//! * A placeholder may not be an object key. At most 100 variables, named with letters,
//!   digits, `_` and `-` (1 to 256), each a path of at most 256 characters; a template
//!   has 1 to 8192 characters.
//!
//! Objects are written with their keys in sorted order (`serde_json`'s map).

use std::borrow::Cow;

use serde_json::Value;

use super::path::JsonPath;
use super::{RuleContext, TargetInputError};

/// Most variables an `InputPathsMap` may define.
pub const MAX_VARIABLES: usize = 100;
/// Longest `InputTemplate`.
pub const MAX_TEMPLATE_CHARS: usize = 8192;

const RULE_ARN: &str = "aws.events.rule-arn";
const RULE_NAME: &str = "aws.events.rule-name";
const INGESTION_TIME: &str = "aws.events.event.ingestion-time";
const EVENT_WITHOUT_DETAIL: &str = "aws.events.event";
const EVENT_JSON: &str = "aws.events.event.json";
const RESERVED: [&str; 5] = [RULE_ARN, RULE_NAME, INGESTION_TIME, EVENT_WITHOUT_DETAIL, EVENT_JSON];

/// A checked `InputTransformer`, ready to render bodies.
#[derive(Debug, Clone, PartialEq)]
pub struct InputTransformer {
    variables: Vec<(String, JsonPath)>,
    pieces: Vec<Piece>,
    is_json: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Placeholder { name: String, in_string: bool },
}

impl InputTransformer {
    /// Checks an `InputPathsMap` and `InputTemplate` as PutTargets does.
    pub fn new<'a>(
        paths: impl IntoIterator<Item = (&'a str, &'a str)>,
        template: &str,
    ) -> Result<InputTransformer, TargetInputError> {
        let mut variables = Vec::new();
        for (name, path) in paths {
            let valid_name = (1..=256).contains(&name.len())
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !valid_name {
                return Err(TargetInputError::InvalidVariableName(name.to_string()));
            }
            let path = JsonPath::parse(path).map_err(|reason| TargetInputError::InvalidPath {
                field: format!("InputPathsMap[{name}]"),
                path: path.to_string(),
                reason,
            })?;
            variables.push((name.to_string(), path));
        }
        if variables.len() > MAX_VARIABLES {
            return Err(TargetInputError::TooManyVariables(variables.len()));
        }
        let chars = template.chars().count();
        if chars == 0 || chars > MAX_TEMPLATE_CHARS {
            return Err(TargetInputError::Length { field: "InputTemplate", chars, min: 1, max: MAX_TEMPLATE_CHARS });
        }
        let known = |name: &str| RESERVED.contains(&name) || variables.iter().any(|(n, _)| n == name);
        let pieces = split_template(template, known);
        let is_json = parses_as_json(&pieces, "null");
        if !is_json && template.trim_start().starts_with('{') && parses_as_json(&pieces, "\"\"") {
            return Err(TargetInputError::InvalidTemplate("a placeholder cannot be used as an object key".into()));
        }
        Ok(InputTransformer { variables, pieces, is_json })
    }

    /// Whether the template is a JSON template (its placeholders are JSON values).
    pub fn is_json(&self) -> bool {
        self.is_json
    }

    /// Renders the body for one event.
    pub fn render(&self, event: &Value, context: &RuleContext<'_>) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Placeholder { name, in_string } => {
                    let value = self.value_of(name, event, context);
                    match (value, self.is_json && !in_string) {
                        (Some(value), true) => out.push_str(&value.to_string()),
                        (None, true) => out.push_str("null"),
                        (Some(value), false) => match value.as_ref() {
                            Value::String(s) => out.push_str(s),
                            other => out.push_str(&other.to_string()),
                        },
                        (None, false) => {}
                    }
                }
            }
        }
        out
    }

    fn value_of<'a>(&self, name: &str, event: &'a Value, context: &RuleContext<'_>) -> Option<Cow<'a, Value>> {
        match name {
            RULE_ARN => Some(Cow::Owned(Value::String(context.rule_arn.to_string()))),
            RULE_NAME => Some(Cow::Owned(Value::String(context.rule_name.to_string()))),
            INGESTION_TIME => Some(Cow::Owned(Value::String(context.ingestion_time.to_string()))),
            EVENT_JSON => Some(Cow::Borrowed(event)),
            EVENT_WITHOUT_DETAIL => {
                let mut copy = event.clone();
                if let Value::Object(object) = &mut copy {
                    object.remove("detail");
                }
                Some(Cow::Owned(copy))
            }
            _ => self.variables.iter().find(|(n, _)| n == name).and_then(|(_, path)| path.select(event)),
        }
    }
}

/// Cuts a template into text and placeholders, noting which are inside a JSON string.
fn split_template(template: &str, known: impl Fn(&str) -> bool) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if c == '<'
            && let Some(end) = rest.find('>')
            && known(&rest[1..end])
        {
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(Piece::Placeholder { name: rest[1..end].to_string(), in_string });
            rest = &rest[end + 1..];
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_string => escaped = !escaped,
            '"' if !escaped => in_string = !in_string,
            _ => escaped = false,
        }
        if c == '"' {
            escaped = false;
        }
        text.push(c);
        rest = &rest[c.len_utf8()..];
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    pieces
}

/// Whether the template is JSON with each placeholder outside a string read as `stand_in`.
fn parses_as_json(pieces: &[Piece], stand_in: &str) -> bool {
    let mut probe = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(text) => probe.push_str(text),
            Piece::Placeholder { in_string: true, .. } => {}
            Piece::Placeholder { in_string: false, .. } => {
                probe.push(' ');
                probe.push_str(stand_in);
                probe.push(' ');
            }
        }
    }
    serde_json::from_str::<Value>(&probe).is_ok()
}
