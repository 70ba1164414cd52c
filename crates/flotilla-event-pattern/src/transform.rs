//! What a rule's target receives: the matched event itself, a constant `Input`, the
//! part of the event an `InputPath` selects, or the body an `InputTransformer` builds.
//!
//! A [`TargetInput`] is checked once when a target is put (PutTargets' limits and
//! rules, refused with a [`TargetInputError`]) and rendered for each matched event
//! with [`TargetInput::render`]. Design: `path` is the JSONPath subset EventBridge
//! evaluates; `template` the `InputTemplate` language. Bodies are JSON written compactly
//! (objects with sorted keys), except what a text template or a constant says.

mod path;
mod template;

#[cfg(test)]
mod tests;

use serde_json::Value;

pub use path::{JsonPath, MAX_PATH_CHARS};
pub use template::{InputTransformer, MAX_TEMPLATE_CHARS, MAX_VARIABLES};

/// Longest constant `Input`.
pub const MAX_INPUT_CHARS: usize = 8192;

/// What the reserved template variables stand for, for one rule and event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleContext<'a> {
    /// `<aws.events.rule-arn>`.
    pub rule_arn: &'a str,
    /// `<aws.events.rule-name>`.
    pub rule_name: &'a str,
    /// `<aws.events.event.ingestion-time>`: when EventBridge received the event, ISO 8601.
    pub ingestion_time: &'a str,
}

/// A target's input, as PutTargets sets it.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetInput {
    /// None of `Input`, `InputPath`, `InputTransformer`: the whole event.
    Event,
    /// `Input`: constant JSON text, sent as given.
    Constant(String),
    /// `InputPath`: the part of the event the path selects.
    Path(JsonPath),
    /// `InputTransformer`.
    Transformer(InputTransformer),
}

/// A target input PutTargets refuses (AWS answers `ValidationException`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetInputError {
    /// More than one of `Input`, `InputPath` and `InputTransformer`.
    #[error("Only one of Input, InputPath, or InputTransformer can be provided for a target")]
    MoreThanOneInput,
    /// `Input` is not JSON.
    #[error("Input is not valid JSON: {0}")]
    InputNotJson(String),
    /// A text outside its length limits.
    #[error("{field} must be {min} to {max} characters long; it is {chars}")]
    Length {
        /// `Input` or `InputTemplate`.
        field: &'static str,
        /// Its length in characters.
        chars: usize,
        /// The shortest allowed.
        min: usize,
        /// The longest allowed.
        max: usize,
    },
    /// A JSONPath EventBridge cannot evaluate.
    #[error("{field} {path:?} is not a valid JSON path: {reason}")]
    InvalidPath {
        /// `InputPath` or `InputPathsMap[name]`.
        field: String,
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An `InputPathsMap` key that is not 1 to 256 letters, digits, `_` or `-`.
    #[error("InputPathsMap key {0:?} is not valid: it must be 1 to 256 letters, digits, '_' or '-'")]
    InvalidVariableName(String),
    /// More than 100 variables.
    #[error("InputPathsMap has {0} entries; at most 100 are allowed")]
    TooManyVariables(usize),
    /// An `InputTemplate` AWS refuses.
    #[error("InputTemplate is not valid: {0}")]
    InvalidTemplate(String),
}

/// Why a body could not be rendered for an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    /// The `InputPath` selects nothing in this event.
    #[error("InputPath {0:?} selects nothing in the event")]
    InputPathNotFound(String),
}

impl TargetInput {
    /// Checks a target's `Input`, `InputPath` and `InputTransformer` (at most one given).
    pub fn new(
        input: Option<&str>,
        input_path: Option<&str>,
        transformer: Option<InputTransformer>,
    ) -> Result<TargetInput, TargetInputError> {
        match (input, input_path, transformer) {
            (None, None, None) => Ok(TargetInput::Event),
            (Some(input), None, None) => TargetInput::constant(input),
            (None, Some(path), None) => TargetInput::path(path),
            (None, None, Some(transformer)) => Ok(TargetInput::Transformer(transformer)),
            _ => Err(TargetInputError::MoreThanOneInput),
        }
    }

    /// A constant `Input`: JSON of at most 8192 characters.
    pub fn constant(input: &str) -> Result<TargetInput, TargetInputError> {
        let chars = input.chars().count();
        if chars > MAX_INPUT_CHARS {
            return Err(TargetInputError::Length { field: "Input", chars, min: 0, max: MAX_INPUT_CHARS });
        }
        serde_json::from_str::<Value>(input).map_err(|e| TargetInputError::InputNotJson(e.to_string()))?;
        Ok(TargetInput::Constant(input.to_string()))
    }

    /// An `InputPath`.
    pub fn path(path: &str) -> Result<TargetInput, TargetInputError> {
        JsonPath::parse(path).map(TargetInput::Path).map_err(|reason| TargetInputError::InvalidPath {
            field: "InputPath".into(),
            path: path.to_string(),
            reason,
        })
    }

    /// The body the target receives for this event.
    pub fn render(&self, event: &Value, context: &RuleContext<'_>) -> Result<String, TransformError> {
        match self {
            TargetInput::Event => Ok(event.to_string()),
            TargetInput::Constant(input) => Ok(input.clone()),
            TargetInput::Path(path) => path
                .select(event)
                .map(|value| value.to_string())
                .ok_or_else(|| TransformError::InputPathNotFound(path.as_str().to_string())),
            TargetInput::Transformer(transformer) => Ok(transformer.render(event, context)),
        }
    }
}
