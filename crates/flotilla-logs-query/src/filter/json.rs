//! JSON patterns: `{ $.eventType = "UpdateTrail" && ($.latency > 500 || $.error IS TRUE) }`.
//!
//! A selector picks values from the message parsed as JSON: `.key`, `['key']`, `[0]`,
//! and the wildcards `.*` and `[*]` (one per selector, three per pattern). A condition
//! holds when any picked value satisfies it; comparisons only look at strings, numbers
//! and booleans, never at arrays, objects or null. `NOT EXISTS` holds when the
//! selector picks nothing; `IS NULL`, `IS TRUE` and `IS FALSE` test for those values.

use serde_json::Value;

use super::FilterError;
use super::expr::{self, Expr, TokenStream};
use super::lexer::{self, Token};
use super::value::{Comparison, Scalar};

/// CloudWatch Logs' quotas on a JSON pattern.
const MAX_WILDCARDS_PER_SELECTOR: usize = 1;
const MAX_WILDCARDS_PER_PATTERN: usize = 3;
const MAX_REGEXES_PER_PATTERN: usize = 2;

/// A parsed JSON pattern.
#[derive(Debug, Clone)]
pub(super) struct JsonPattern {
    expr: Expr<Condition>,
}

#[derive(Debug, Clone)]
struct Condition {
    selector: Selector,
    test: Test,
}

#[derive(Debug, Clone)]
enum Test {
    Compare(Comparison),
    IsTrue,
    IsFalse,
    IsNull,
    NotExists,
}

#[derive(Debug, Clone)]
struct Selector {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
    Wildcard,
}

impl JsonPattern {
    /// Parses the text between the braces.
    pub(super) fn parse(body: &str) -> Result<JsonPattern, FilterError> {
        let tokens = lexer::tokenize(body)?;
        if tokens.is_empty() {
            return Err(FilterError::Syntax("a JSON pattern needs at least one condition".to_owned()));
        }
        let expr = expr::parse(&tokens, &mut parse_condition)?;
        check_quotas(&expr)?;
        Ok(JsonPattern { expr })
    }

    /// Whether the message is JSON satisfying the pattern.
    pub(super) fn matches(&self, message: &str) -> bool {
        match serde_json::from_str::<Value>(message) {
            Ok(root) => self.expr.eval(&|condition: &Condition| condition.holds(&root)),
            Err(_) => false,
        }
    }
}

fn check_quotas(expr: &Expr<Condition>) -> Result<(), FilterError> {
    let atoms = expr.atoms();
    let wildcards: usize = atoms.iter().map(|c| c.selector.wildcards()).sum();
    if wildcards > MAX_WILDCARDS_PER_PATTERN {
        return Err(FilterError::LimitExceeded(format!(
            "at most {MAX_WILDCARDS_PER_PATTERN} wildcard selectors are allowed in a pattern"
        )));
    }
    let regexes = atoms.iter().filter(|c| matches!(&c.test, Test::Compare(cmp) if cmp.is_regex())).count();
    if regexes > MAX_REGEXES_PER_PATTERN {
        return Err(FilterError::LimitExceeded(format!(
            "at most {MAX_REGEXES_PER_PATTERN} regular expressions are allowed in a pattern"
        )));
    }
    Ok(())
}

fn parse_condition(stream: &mut TokenStream<'_>) -> Result<Condition, FilterError> {
    let selector = match stream.next() {
        Some(Token::Word(word)) if word.starts_with('$') => Selector::parse(word)?,
        Some(other) => {
            return Err(FilterError::Syntax(format!("expected a property selector starting with '$.', found {other}")));
        }
        None => return Err(FilterError::Syntax("expected a property selector starting with '$.'".to_owned())),
    };
    let test = parse_test(stream)?;
    Ok(Condition { selector, test })
}

fn parse_test(stream: &mut TokenStream<'_>) -> Result<Test, FilterError> {
    match stream.next() {
        Some(Token::Op(op)) => Comparison::parse(*op, stream.next()).map(Test::Compare),
        Some(Token::Word(word)) if word.eq_ignore_ascii_case("IS") => parse_is(stream),
        Some(Token::Word(word)) if word.eq_ignore_ascii_case("NOT") => parse_not(stream),
        Some(Token::Word(word)) if word.eq_ignore_ascii_case("EXISTS") => {
            Err(FilterError::Unsupported("EXISTS".to_owned()))
        }
        Some(Token::Word(word)) => Err(FilterError::UnknownOperator(word.clone())),
        Some(other) => Err(FilterError::Syntax(format!("expected an operator after the selector, found {other}"))),
        None => Err(FilterError::Syntax("expected an operator after the selector".to_owned())),
    }
}

/// `IS TRUE`, `IS FALSE` or `IS NULL`, after `IS`.
fn parse_is(stream: &mut TokenStream<'_>) -> Result<Test, FilterError> {
    let keyword = match stream.next() {
        Some(Token::Word(word)) => word.to_ascii_uppercase(),
        _ => String::new(),
    };
    match keyword.as_str() {
        "TRUE" => Ok(Test::IsTrue),
        "FALSE" => Ok(Test::IsFalse),
        "NULL" => Ok(Test::IsNull),
        "NOT" => Err(FilterError::Unsupported("IS NOT".to_owned())),
        _ => Err(FilterError::Syntax("expected TRUE, FALSE or NULL after IS".to_owned())),
    }
}

/// `NOT EXISTS`, after `NOT`.
fn parse_not(stream: &mut TokenStream<'_>) -> Result<Test, FilterError> {
    match stream.next() {
        Some(Token::Word(word)) if word.eq_ignore_ascii_case("EXISTS") => Ok(Test::NotExists),
        _ => Err(FilterError::Syntax("expected EXISTS after NOT".to_owned())),
    }
}

impl Condition {
    fn holds(&self, root: &Value) -> bool {
        let values = self.selector.select(root);
        match &self.test {
            Test::NotExists => values.is_empty(),
            Test::IsNull => values.iter().any(|value| value.is_null()),
            Test::IsTrue => values.iter().any(|value| value.as_bool() == Some(true)),
            Test::IsFalse => values.iter().any(|value| value.as_bool() == Some(false)),
            Test::Compare(comparison) => {
                values.iter().any(|value| scalar(value).is_some_and(|scalar| comparison.matches(&scalar)))
            }
        }
    }
}

/// A JSON value as comparisons see it; arrays, objects and null are not compared.
fn scalar(value: &Value) -> Option<Scalar<'_>> {
    match value {
        Value::String(text) => Some(Scalar::from_text(text.as_str())),
        Value::Number(number) => Some(Scalar::new(number.to_string(), number.as_f64())),
        Value::Bool(flag) => Some(Scalar::new(flag.to_string(), None)),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

impl Selector {
    /// Parses `$.a.b[0]['c.d'].*`.
    fn parse(text: &str) -> Result<Selector, FilterError> {
        let path = text.strip_prefix('$').unwrap_or(text);
        if path.is_empty() || path == "." {
            return Err(FilterError::EmptySelector);
        }
        let invalid = || FilterError::InvalidSelector(text.to_owned());
        let mut segments = Vec::new();
        let mut rest = path;
        while !rest.is_empty() {
            let (segment, after) = next_segment(rest).ok_or_else(invalid)?;
            segments.push(segment);
            rest = after;
        }
        let selector = Selector { segments };
        if selector.wildcards() > MAX_WILDCARDS_PER_SELECTOR {
            return Err(FilterError::LimitExceeded(format!(
                "at most {MAX_WILDCARDS_PER_SELECTOR} wildcard is allowed in the property selector '{text}'"
            )));
        }
        Ok(selector)
    }

    fn wildcards(&self) -> usize {
        self.segments.iter().filter(|segment| **segment == Segment::Wildcard).count()
    }

    /// The values the selector picks from `root`.
    fn select<'v>(&self, root: &'v Value) -> Vec<&'v Value> {
        let mut current = vec![root];
        for segment in &self.segments {
            let mut next = Vec::new();
            for value in current {
                segment.step(value, &mut next);
            }
            current = next;
        }
        current
    }
}

/// Reads the segment at the start of `rest`: `.name`, `.*`, `.[…]` or `[…]`.
fn next_segment(rest: &str) -> Option<(Segment, &str)> {
    if let Some(bracketed) = rest.strip_prefix(".[").or_else(|| rest.strip_prefix('[')) {
        return bracket_segment(bracketed);
    }
    let after_dot = rest.strip_prefix('.')?;
    let end = after_dot.find(['.', '[']).unwrap_or(after_dot.len());
    let (name, after) = after_dot.split_at(end);
    match name {
        "" => None,
        "*" => Some((Segment::Wildcard, after)),
        _ => Some((Segment::Key(name.to_owned()), after)),
    }
}

/// Reads `*]`, `0]`, `'key']` or `"key"]`, after the `[`.
fn bracket_segment(text: &str) -> Option<(Segment, &str)> {
    if let Some(after) = text.strip_prefix("*]") {
        return Some((Segment::Wildcard, after));
    }
    if let Some(quote) = text.chars().next().filter(|c| matches!(c, '\'' | '"')) {
        let quoted = text.get(quote.len_utf8()..)?;
        let (key, after) = quoted.split_once(quote)?;
        return Some((Segment::Key(key.to_owned()), after.strip_prefix(']')?));
    }
    let (index, after) = text.split_once(']')?;
    let valid = !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit());
    let index = if valid { index.parse().ok()? } else { return None };
    Some((Segment::Index(index), after))
}

impl Segment {
    fn step<'v>(&self, value: &'v Value, out: &mut Vec<&'v Value>) {
        match (self, value) {
            (Segment::Key(key), Value::Object(map)) => out.extend(map.get(key)),
            (Segment::Index(index), Value::Array(items)) => out.extend(items.get(*index)),
            (Segment::Wildcard, Value::Object(map)) => out.extend(map.values()),
            (Segment::Wildcard, Value::Array(items)) => out.extend(items.iter()),
            _ => {}
        }
    }
}
