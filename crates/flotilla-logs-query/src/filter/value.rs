//! Comparisons shared by JSON and space-delimited patterns: an operator, a literal
//! (number, string with `*` wildcards, or `%regex%`) and the scalar it is tested on.

use std::borrow::Cow;
use std::cmp::Ordering;

use regex::Regex;

use super::FilterError;
use super::lexer::Token;
use super::regexp;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub(super) fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    fn is_equality(self) -> bool {
        matches!(self, CmpOp::Eq | CmpOp::Ne)
    }

    /// Whether the operator holds for `actual` ordered this way against the literal
    /// (`None`: not comparable, which only `!=` accepts).
    fn holds(self, ordering: Option<Ordering>) -> bool {
        match (self, ordering) {
            (CmpOp::Ne, ordering) => ordering != Some(Ordering::Equal),
            (_, None) => false,
            (CmpOp::Eq, Some(o)) => o == Ordering::Equal,
            (CmpOp::Lt, Some(o)) => o == Ordering::Less,
            (CmpOp::Le, Some(o)) => o != Ordering::Greater,
            (CmpOp::Gt, Some(o)) => o == Ordering::Greater,
            (CmpOp::Ge, Some(o)) => o != Ordering::Less,
        }
    }

    /// Applies the operator to the outcome of an equality-style match.
    fn apply_match(self, matched: bool) -> bool {
        if self == CmpOp::Ne { !matched } else { matched }
    }
}

/// A value as comparisons see it: its text, and its numeric value when it reads as a number.
pub(super) struct Scalar<'a> {
    text: Cow<'a, str>,
    number: Option<f64>,
}

impl<'a> Scalar<'a> {
    /// A scalar read from text: a number when the whole text is one.
    pub(super) fn from_text(text: impl Into<Cow<'a, str>>) -> Scalar<'a> {
        let text = text.into();
        let number = parse_number(&text);
        Scalar { text, number }
    }

    /// A scalar whose numeric value (if any) is already known.
    pub(super) fn new(text: String, number: Option<f64>) -> Scalar<'a> {
        Scalar { text: Cow::Owned(text), number }
    }
}

/// `<operator> <literal>`, the right-hand side of a condition.
#[derive(Debug, Clone)]
pub(super) struct Comparison {
    op: CmpOp,
    literal: Literal,
}

#[derive(Debug, Clone)]
enum Literal {
    Number { value: f64, text: String },
    Text(Wildcard),
    Regex(Regex),
}

impl Comparison {
    /// Builds the comparison of `op` with the literal token that follows it.
    pub(super) fn parse(op: CmpOp, token: Option<&Token>) -> Result<Comparison, FilterError> {
        let literal = match token {
            Some(Token::Regex(body)) => regex_literal(op, body)?,
            Some(Token::Quoted(text)) => text_literal(op, text, true)?,
            Some(Token::Word(word)) => text_literal(op, word, false)?,
            Some(other) => return Err(missing_value(op, &format!(" but found {other}"))),
            None => return Err(missing_value(op, "")),
        };
        Ok(Comparison { op, literal })
    }

    pub(super) fn is_regex(&self) -> bool {
        matches!(self.literal, Literal::Regex(_))
    }

    /// Whether `actual <op> literal` holds.
    pub(super) fn matches(&self, actual: &Scalar<'_>) -> bool {
        match &self.literal {
            Literal::Number { value, text } => match actual.number {
                Some(number) => self.op.holds(number.partial_cmp(value)),
                None if self.op.is_equality() => self.op.apply_match(actual.text == text.as_str()),
                None => false,
            },
            Literal::Text(wildcard) => self.op.apply_match(wildcard.matches(&actual.text)),
            Literal::Regex(regex) => self.op.apply_match(regex.is_match(&actual.text)),
        }
    }
}

fn missing_value(op: CmpOp, found: &str) -> FilterError {
    FilterError::Syntax(format!("expected a value after '{}'{found}", op.symbol()))
}

fn regex_literal(op: CmpOp, body: &str) -> Result<Literal, FilterError> {
    if !op.is_equality() {
        return Err(FilterError::Syntax(format!(
            "a regular expression can only be compared with '=' or '!=', not '{}'",
            op.symbol()
        )));
    }
    regexp::compile(body).map(Literal::Regex)
}

/// A bare word is a number when it reads as one; a quoted string is text, except where
/// an ordering operator needs a number and the string holds one.
fn text_literal(op: CmpOp, text: &str, quoted: bool) -> Result<Literal, FilterError> {
    match parse_number(text) {
        Some(value) if !quoted || !op.is_equality() => Ok(Literal::Number { value, text: text.to_owned() }),
        _ if op.is_equality() => Ok(Literal::Text(Wildcard::new(text))),
        _ => Err(FilterError::Syntax(format!("'{}' needs a number, found '{text}'", op.symbol()))),
    }
}

/// A string in which a leading and a trailing `*` match any text; a `*` elsewhere is literal.
#[derive(Debug, Clone)]
struct Wildcard {
    text: String,
    any_prefix: bool,
    any_suffix: bool,
}

impl Wildcard {
    fn new(pattern: &str) -> Wildcard {
        let (any_prefix, rest) = match pattern.strip_prefix('*') {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        let (any_suffix, text) = match rest.strip_suffix('*') {
            Some(text) => (true, text),
            None => (false, rest),
        };
        Wildcard { text: text.to_owned(), any_prefix, any_suffix }
    }

    fn matches(&self, actual: &str) -> bool {
        match (self.any_prefix, self.any_suffix) {
            (false, false) => actual == self.text,
            (true, false) => actual.ends_with(&self.text),
            (false, true) => actual.starts_with(&self.text),
            (true, true) => actual.contains(&self.text),
        }
    }
}

/// Reads a whole string as a number: an optional sign, digits with an optional
/// fraction (or a fraction alone), and an optional exponent.
pub(super) fn parse_number(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (unsigned, None),
    };
    let valid = is_mantissa(mantissa) && exponent.is_none_or(is_exponent);
    if valid { text.parse().ok() } else { None }
}

fn is_mantissa(text: &str) -> bool {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    (!whole.is_empty() || !fraction.is_empty()) && digits(whole) && digits(fraction)
}

fn is_exponent(text: &str) -> bool {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}
