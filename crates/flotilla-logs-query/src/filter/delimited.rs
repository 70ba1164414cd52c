//! Space-delimited patterns: `[ip, user, ..., status_code = 4* && status_code != 403, bytes > 1000]`.
//!
//! The message is split into fields at whitespace, a `"…"` or `[…]` run being one
//! field (without its quotes or brackets). Each comma-separated column of the pattern
//! takes one field and `...` takes any number, so without `...` the field count must
//! equal the column count. A column may be a bare name, empty, or conditions on its
//! own name joined with `&&`, `||` and parentheses; conditions on another column's
//! name are rejected, as CloudWatch Logs does.

use super::FilterError;
use super::expr::{self, Expr, TokenStream};
use super::lexer::{self, Token};
use super::value::{Comparison, Scalar};

/// CloudWatch Logs' quota on regular expressions in one pattern.
const MAX_REGEXES_PER_PATTERN: usize = 2;

/// A parsed space-delimited pattern.
#[derive(Debug, Clone)]
pub(super) struct DelimitedPattern {
    columns: Vec<Column>,
}

#[derive(Debug, Clone)]
enum Column {
    /// `...`: any number of fields, including none.
    Ellipsis,
    /// Exactly one field, which must satisfy the condition if there is one.
    Field(Option<Expr<FieldCondition>>),
}

/// `name <op> value`.
#[derive(Debug, Clone)]
struct FieldCondition {
    name: String,
    comparison: Comparison,
}

impl DelimitedPattern {
    /// Parses the text between the brackets.
    pub(super) fn parse(body: &str) -> Result<DelimitedPattern, FilterError> {
        let tokens = lexer::tokenize(body)?;
        if tokens.is_empty() {
            return Err(FilterError::Syntax("a space-delimited pattern needs at least one field".to_owned()));
        }
        let columns = tokens.split(|token| *token == Token::Comma).map(parse_column).collect::<Result<Vec<_>, _>>()?;
        check_quota(&columns)?;
        Ok(DelimitedPattern { columns })
    }

    /// Whether the message's fields line up with the columns and satisfy their conditions.
    pub(super) fn matches(&self, message: &str) -> bool {
        let fields = split_fields(message);
        // reachable[j]: the columns seen so far can consume exactly the first j fields.
        let mut reachable = vec![false; fields.len() + 1];
        if let Some(start) = reachable.first_mut() {
            *start = true;
        }
        for column in &self.columns {
            reachable = column.advance(&reachable, &fields);
        }
        reachable.last().copied().unwrap_or(false)
    }
}

fn is_ellipsis(word: &str) -> bool {
    word == "..." || word == "…"
}

fn parse_column(tokens: &[Token]) -> Result<Column, FilterError> {
    match tokens {
        [Token::Word(word)] if is_ellipsis(word) => Ok(Column::Ellipsis),
        [] | [Token::Word(_)] => Ok(Column::Field(None)),
        _ => {
            let condition = expr::parse(tokens, &mut parse_field_condition)?;
            check_single_name(&condition)?;
            Ok(Column::Field(Some(condition)))
        }
    }
}

/// Checks that every condition of a column is about one name, the column's own.
fn check_single_name(condition: &Expr<FieldCondition>) -> Result<(), FilterError> {
    let atoms = condition.atoms();
    let name = atoms.first().map(|atom| atom.name.clone()).unwrap_or_default();
    if is_ellipsis(&name) {
        return Err(FilterError::Syntax("'...' cannot have conditions".to_owned()));
    }
    match atoms.iter().find(|atom| atom.name != name) {
        Some(other) => Err(FilterError::Syntax(format!(
            "the field '{name}' has a condition on '{}'; conditions must be on the field they are in",
            other.name
        ))),
        None => Ok(()),
    }
}

fn parse_field_condition(stream: &mut TokenStream<'_>) -> Result<FieldCondition, FilterError> {
    let name = match stream.next() {
        Some(Token::Word(word)) => word.clone(),
        Some(other) => return Err(FilterError::Syntax(format!("expected a field name, found {other}"))),
        None => return Err(FilterError::Syntax("expected a field name".to_owned())),
    };
    match stream.next() {
        Some(Token::Op(op)) => {
            Comparison::parse(*op, stream.next()).map(|comparison| FieldCondition { name, comparison })
        }
        Some(Token::Word(word)) if word.eq_ignore_ascii_case("IS") || word.eq_ignore_ascii_case("NOT") => {
            Err(FilterError::Unsupported(format!("{word} in a space-delimited pattern")))
        }
        Some(Token::Word(word)) => Err(FilterError::UnknownOperator(word.clone())),
        Some(other) => Err(FilterError::Syntax(format!("expected an operator after '{name}', found {other}"))),
        None => Err(FilterError::Syntax(format!("expected an operator after '{name}'"))),
    }
}

fn check_quota(columns: &[Column]) -> Result<(), FilterError> {
    let regexes: usize = columns.iter().map(Column::regexes).sum();
    if regexes > MAX_REGEXES_PER_PATTERN {
        return Err(FilterError::LimitExceeded(format!(
            "at most {MAX_REGEXES_PER_PATTERN} regular expressions are allowed in a pattern"
        )));
    }
    Ok(())
}

impl Column {
    fn regexes(&self) -> usize {
        match self {
            Column::Field(Some(condition)) => {
                condition.atoms().iter().filter(|atom| atom.comparison.is_regex()).count()
            }
            Column::Field(None) | Column::Ellipsis => 0,
        }
    }

    /// Given which field prefixes the previous columns can consume, which ones can be
    /// consumed once this column has taken its share.
    fn advance(&self, reachable: &[bool], fields: &[&str]) -> Vec<bool> {
        match self {
            Column::Ellipsis => {
                let mut seen = false;
                reachable
                    .iter()
                    .map(|&here| {
                        seen |= here;
                        seen
                    })
                    .collect()
            }
            Column::Field(condition) => {
                let mut next = vec![false; reachable.len()];
                let steps = next.iter_mut().skip(1).zip(reachable).zip(fields);
                for ((after, &before), field) in steps {
                    *after = before && accepts(condition.as_ref(), field);
                }
                next
            }
        }
    }
}

fn accepts(condition: Option<&Expr<FieldCondition>>, field: &str) -> bool {
    let Some(condition) = condition else { return true };
    let scalar = Scalar::from_text(field);
    condition.eval(&|atom: &FieldCondition| atom.comparison.matches(&scalar))
}

/// Splits a message into fields at whitespace; a `"…"` or `[…]` run is one field.
pub(super) fn split_fields(message: &str) -> Vec<&str> {
    let mut fields = Vec::new();
    let mut rest = message.trim_start();
    while !rest.is_empty() {
        let (field, after) = take_field(rest);
        fields.push(field);
        rest = after.trim_start();
    }
    fields
}

/// Takes the field at the start of `text`, returning it and what follows it.
fn take_field(text: &str) -> (&str, &str) {
    let enclosed = match text.chars().next() {
        Some('"') => text.get(1..).and_then(|inner| closing_quote(inner).map(|end| (inner, end))),
        Some('[') => text.get(1..).and_then(|inner| inner.find(']').map(|end| (inner, end))),
        _ => None,
    };
    if let Some((inner, end)) = enclosed {
        let (field, closer_and_after) = inner.split_at(end);
        return (field, closer_and_after.get(1..).unwrap_or(""));
    }
    text.split_at(text.find(char::is_whitespace).unwrap_or(text.len()))
}

/// Where the `"` closing a quoted field is, skipping backslash-escaped quotes.
fn closing_quote(inner: &str) -> Option<usize> {
    let mut escaped = false;
    for (index, c) in inner.char_indices() {
        match c {
            '"' if !escaped => return Some(index),
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
    }
    None
}
