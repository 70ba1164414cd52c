//! Filter patterns: the pattern language of FilterLogEvents, metric filters,
//! subscription filters and Live Tail.
//!
//! A pattern is parsed once into a [`FilterPattern`] and then matched against
//! many messages. Its kind is decided by its first character once trimmed:
//!
//! * empty (or only whitespace): every message matches;
//! * `{ … }`: a JSON pattern. The message must parse as JSON; property selectors
//!   (`$.a.b`, `$.list[0]`, `$.*`, `$.list[*]`, `$.['dotted.key']`) are compared with
//!   `=`, `!=`, `<`, `<=`, `>`, `>=` or tested with `IS TRUE`, `IS FALSE`, `IS NULL`
//!   and `NOT EXISTS`, combined with `&&`, `||` and parentheses;
//! * `[ … ]`: a space-delimited pattern. The message is split into fields at
//!   whitespace (a `"…"` or `[…]` run is one field), the pattern names one column per
//!   field (`...` stands for any number of fields) and may put conditions on them;
//! * `%…%`: a regular expression, matched anywhere in the message unless anchored;
//! * anything else: terms. All plain terms must appear and no `-term` may appear;
//!   a pattern made only of `?term`s matches when any of them appears. Terms are
//!   case-sensitive substrings; `"quoted phrases"` are one term.
//!
//! Values in comparisons are numbers (`-1.5e3`), bare or quoted strings in which a
//! leading and/or trailing `*` is a wildcard, or `%regex%`.
//!
//! Design: `lexer` turns the body of a JSON or space-delimited pattern into tokens;
//! `expr` parses the `&&`/`||`/`()` structure shared by both, generic over the
//! condition it is made of; `value` holds the literals, comparisons and numbers
//! they share; `regexp` checks and translates AWS's regular expression subset for
//! the `regex` crate. Each kind then has one small parser and evaluator: `terms`,
//! `json` and `delimited`. Nothing panics on any input: every malformed pattern
//! is a [`FilterError`], and a message a pattern cannot read simply does not match.

mod delimited;
mod expr;
mod json;
mod lexer;
mod regexp;
mod terms;
mod value;

#[cfg(test)]
mod tests;

use delimited::DelimitedPattern;
use json::JsonPattern;
use terms::TermsPattern;

/// Why a filter pattern was rejected, worded as CloudWatch Logs' `InvalidParameterException` would.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FilterError {
    /// A `"` without its closing `"`.
    #[error("Invalid filter pattern: unterminated quoted string")]
    UnterminatedQuote,
    /// An opening `{`, `[`, `(` or `%` without its closing partner, or a stray `)`.
    #[error("Invalid filter pattern: unbalanced '{0}'")]
    Unbalanced(char),
    /// A comparison operator that is not one of `=`, `!=`, `<`, `<=`, `>`, `>=`
    /// (or a logical operator that is not `&&` or `||`).
    #[error("Invalid filter pattern: unknown operator '{0}'")]
    UnknownOperator(String),
    /// A term holding characters the pattern language does not allow there.
    #[error("Invalid character(s) in term '{0}'")]
    InvalidCharacter(String),
    /// A `%regex%` the regular expression engine does not accept.
    #[error("Invalid filter pattern: invalid regular expression '%{regex}%': {reason}")]
    InvalidRegex {
        /// The regular expression, without its `%` delimiters.
        regex: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A JSON property selector with nothing after `$`.
    #[error("Invalid filter pattern: empty property selector")]
    EmptySelector,
    /// A JSON property selector that cannot be read.
    #[error("Invalid filter pattern: invalid property selector '{0}'")]
    InvalidSelector(String),
    /// Syntax CloudWatch Logs documents as unsupported (`IS NOT`, `EXISTS`, …).
    #[error("Invalid filter pattern: {0} is not supported")]
    Unsupported(String),
    /// More regular expressions or wildcard selectors than CloudWatch Logs allows.
    #[error("Invalid filter pattern: {0}")]
    LimitExceeded(String),
    /// Any other malformed pattern.
    #[error("Invalid filter pattern: {0}")]
    Syntax(String),
}

/// A parsed filter pattern, ready to be matched against log event messages.
#[derive(Debug, Clone)]
pub struct FilterPattern {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Everything,
    Terms(TermsPattern),
    Regex(regex::Regex),
    Json(JsonPattern),
    Delimited(DelimitedPattern),
}

impl FilterPattern {
    /// Parses a filter pattern; an empty or all-whitespace pattern matches everything.
    pub fn parse(pattern: &str) -> Result<FilterPattern, FilterError> {
        let pattern = pattern.trim();
        let kind = if pattern.is_empty() {
            Kind::Everything
        } else if let Some(rest) = pattern.strip_prefix('{') {
            Kind::Json(JsonPattern::parse(enclosed_body(rest, '{', '}')?)?)
        } else if let Some(rest) = pattern.strip_prefix('[') {
            Kind::Delimited(DelimitedPattern::parse(enclosed_body(rest, '[', ']')?)?)
        } else if let Some(body) = standalone_regex(pattern) {
            Kind::Regex(regexp::compile(body)?)
        } else {
            Kind::Terms(TermsPattern::parse(pattern)?)
        };
        Ok(FilterPattern { kind })
    }

    /// Whether a log event with this message matches the pattern.
    pub fn matches(&self, message: &str) -> bool {
        match &self.kind {
            Kind::Everything => true,
            Kind::Terms(terms) => terms.matches(message),
            Kind::Regex(regex) => regex.is_match(message),
            Kind::Json(json) => json.matches(message),
            Kind::Delimited(delimited) => delimited.matches(message),
        }
    }
}

/// The text between an opening delimiter (already stripped) and the closing one ending the pattern.
fn enclosed_body(rest: &str, open: char, close: char) -> Result<&str, FilterError> {
    rest.strip_suffix(close).ok_or(FilterError::Unbalanced(open))
}

/// The body of a pattern that is a single `%regex%`.
fn standalone_regex(pattern: &str) -> Option<&str> {
    pattern.strip_prefix('%')?.strip_suffix('%')
}
