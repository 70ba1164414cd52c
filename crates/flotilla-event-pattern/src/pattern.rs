//! Event patterns: parsed and checked once into an [`EventPattern`], then matched
//! against many events with [`EventPattern::matches`].
//!
//! The grammar is AWS's ("Event patterns" and "Content filtering in Amazon EventBridge
//! event patterns"); refusals carry EventBridge's `InvalidEventPatternException`
//! wording with the line and column, as Jackson prints them. Design: `json` reads the
//! text keeping positions; `compile` checks the grammar and builds the `tree`; the
//! tree matches with `matcher`'s conditions, which use `number`, `ip` and `wildcard`;
//! `set` matches many patterns at once, indexed by `source`. Matching one pattern
//! allocates nothing for ASCII events and never panics.
//!
//! Limits (see [`PatternLimits`]): 2048 characters, EventBridge's default "Event pattern
//! size" quota (raisable to 4096, PutRule's own ceiling); at most 1000 rule
//! combinations from `$or`, as AWS documents; at most 100 levels of nesting (AWS
//! documents none; no real pattern comes near it, and it keeps the stack bounded).

mod compile;
mod ip;
mod json;
mod matcher;
mod number;
mod set;
mod tree;
mod wildcard;

#[cfg(test)]
mod tests;

use std::str::FromStr;

use serde_json::Value;

pub use set::PatternSet;
use tree::ObjectPattern;

/// Size limits applied when a pattern is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatternLimits {
    /// Most characters a pattern may have (EventBridge's quota: 2048 by default).
    pub max_chars: usize,
    /// Most rule combinations `$or` may expand to (AWS: 1000).
    pub max_combinations: usize,
    /// Most nested objects and arrays.
    pub max_depth: usize,
}

impl PatternLimits {
    /// PutRule's ceiling for the "Event pattern size" quota, whatever it is raised to.
    pub const MAX_CHARS_CEILING: usize = 4096;
}

impl Default for PatternLimits {
    fn default() -> Self {
        PatternLimits { max_chars: 2048, max_combinations: 1000, max_depth: 100 }
    }
}

/// A refused pattern, worded as EventBridge's `InvalidEventPatternException`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Event pattern is not valid. Reason: {reason}{}", location_suffix(.location))]
pub struct PatternError {
    /// What is wrong, in event-ruler's words.
    pub reason: String,
    /// Where, when the mistake is at a place in the text.
    pub location: Option<Location>,
}

impl PatternError {
    /// The AWS error code EventBridge answers this with.
    pub const AWS_CODE: &'static str = "InvalidEventPatternException";
}

/// Where in a pattern a mistake is, as Jackson reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column of the character after the token being read.
    pub column: usize,
    /// The pattern as Jackson quotes it: at most 500 characters, then a count of the rest.
    pub source: String,
}

fn location_suffix(location: &Option<Location>) -> String {
    match location {
        Some(l) => format!("\n at [Source: (String)\"{}; line: {}, column: {}]", l.source, l.line, l.column),
        None => String::new(),
    }
}

impl Location {
    fn at(text: &str, offset: usize) -> Location {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |at| at + 1);
        let column = before[line_start..].chars().count() + 1;
        const SHOWN: usize = 500;
        let total = text.chars().count();
        let source = if total > SHOWN {
            let shown: String = text.chars().take(SHOWN).collect();
            format!("{shown}\"[truncated {} chars]", total - SHOWN)
        } else {
            format!("{text}\"")
        };
        Location { line, column, source }
    }
}

/// A parsed, checked pattern, ready to match events.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPattern {
    root: ObjectPattern,
}

impl EventPattern {
    /// Parses and checks a pattern with the default [`PatternLimits`].
    pub fn parse(text: &str) -> Result<EventPattern, PatternError> {
        EventPattern::parse_with_limits(text, &PatternLimits::default())
    }

    /// Parses and checks a pattern with the given limits.
    pub fn parse_with_limits(text: &str, limits: &PatternLimits) -> Result<EventPattern, PatternError> {
        let chars = text.chars().count();
        if chars > limits.max_chars {
            return Err(PatternError {
                reason: format!("Event pattern is {chars} characters long; the limit is {}", limits.max_chars),
                location: None,
            });
        }
        let refused =
            |reason: String, offset: usize| PatternError { reason, location: Some(Location::at(text, offset)) };
        let document = json::parse(text, limits.max_depth).map_err(|e| refused(e.message, e.offset))?;
        let root = compile::compile(&document).map_err(|r| refused(r.reason, r.offset))?;
        let combinations = root.combinations();
        if combinations > limits.max_combinations {
            return Err(PatternError {
                reason: format!(
                    "The use of $or results in {combinations} rule combinations, more than the limit of {}",
                    limits.max_combinations
                ),
                location: None,
            });
        }
        Ok(EventPattern { root })
    }

    /// Whether the event matches. An event that is not a JSON object matches nothing.
    pub fn matches(&self, event: &Value) -> bool {
        match event {
            Value::Object(object) => self.root.matches_object(object),
            _ => false,
        }
    }

    /// The number of rule combinations the pattern's `$or` groups expand to.
    pub fn combinations(&self) -> usize {
        self.root.combinations()
    }
}

/// Whether the event matches the pattern (the same as [`EventPattern::matches`]).
pub fn matches(pattern: &EventPattern, event: &Value) -> bool {
    pattern.matches(event)
}

impl FromStr for EventPattern {
    type Err = PatternError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        EventPattern::parse(text)
    }
}
