//! From a parsed pattern document to an [`ObjectPattern`], checking AWS's grammar.
//!
//! The rules and the refusals' wording follow event-ruler's `JsonRuleCompiler`, the
//! engine EventBridge runs: every field's value is an object (nested) or a non-empty
//! array of values; a value is a string, number, `true`, `false`, `null` or a
//! one-key match expression (`prefix`, `suffix`, `equals-ignore-case`, `wildcard`,
//! `anything-but`, `numeric`, `exists`, `cidr`, `exactly`); `$or` takes an array of at
//! least two objects, inside which the match-expression names may not be field names.
//! Each refusal carries the offset just past the token being read, as Jackson reports.

use super::json::{Kind, Member, Node};
use super::matcher::{Excluded, Matcher};
use super::number::{Bound, NumericRange, PatternNumber, comparable};
use super::tree::{LeafPattern, ObjectPattern};
use super::{ip, wildcard::Wildcard};

/// A refusal: AWS's reason and the byte offset it is reported at.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Refusal {
    pub reason: String,
    pub offset: usize,
}

type Compiled<T> = Result<T, Refusal>;

fn refuse<T>(reason: impl Into<String>, offset: usize) -> Compiled<T> {
    Err(Refusal { reason: reason.into(), offset })
}

/// Field names reserved inside `$or` (event-ruler's list, future operators included).
const RESERVED_IN_OR: &[&str] = &[
    "exactly",
    "equals-ignore-case",
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "wildcard",
    "numeric",
    "cidr",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "regex",
    "not-wildcard",
    "not-equals-ignore-case",
    "date-after",
    "date-on-or-after",
    "date-before",
    "date-on-or-before",
    "in-date-range",
    "ip-address-in-range",
    "ip-address-not-in-range",
];

/// Where Jackson stands after reading a value's first token.
fn after_first_token(node: &Node) -> usize {
    match node.kind {
        Kind::Array(_) | Kind::Object(_) => node.start + 1,
        _ => node.end,
    }
}

/// Compiles the whole document, which must be an object.
pub(crate) fn compile(root: &Node) -> Compiled<ObjectPattern> {
    let Kind::Object(members) = &root.kind else {
        return refuse("Filter is not an object", after_first_token(root));
    };
    let mut pattern = object(root, members, false)?;
    pattern.finish();
    Ok(pattern)
}

fn object(node: &Node, members: &[Member], inside_or: bool) -> Compiled<ObjectPattern> {
    if members.is_empty() {
        return refuse("Empty objects are not allowed", node.end);
    }
    let mut pattern = ObjectPattern::default();
    for member in members {
        if member.key == "$or" {
            pattern.any_of.push(or_group(&member.value)?);
            continue;
        }
        if inside_or && RESERVED_IN_OR.contains(&member.key.as_str()) {
            return refuse(
                format!("{} is Ruler reserved fieldName which cannot be used inside $or.", member.key),
                member.key_end,
            );
        }
        match &member.value.kind {
            Kind::Object(inner) => pattern.add_nested(&member.key, object(&member.value, inner, inside_or)?),
            Kind::Array(values) => pattern.set_leaf(&member.key, leaf(&member.value, values)?),
            _ => return refuse(format!("\"{}\" must be an object or an array", member.key), member.value.end),
        }
    }
    Ok(pattern)
}

fn or_group(node: &Node) -> Compiled<Vec<ObjectPattern>> {
    let Kind::Array(items) = &node.kind else {
        return refuse("It must be an Array followed with $or.", after_first_token(node));
    };
    let mut branches = Vec::with_capacity(items.len());
    for item in items {
        let Kind::Object(members) = &item.kind else {
            return refuse("Only JSON object is allowed in array of $or relationship.", after_first_token(item));
        };
        branches.push(object(item, members, true)?);
    }
    if branches.len() < 2 {
        return refuse("There must have at least 2 Objects in $or relationship.", node.end);
    }
    Ok(branches)
}

fn leaf(node: &Node, values: &[Node]) -> Compiled<LeafPattern> {
    if values.is_empty() {
        return refuse("Empty arrays are not allowed", node.end);
    }
    let mut leaf = LeafPattern::default();
    for value in values {
        match &value.kind {
            Kind::String(s) => leaf.matchers.push(match ip::parse_ip(s) {
                Some(address) => Matcher::ExactAddress { text: s.clone(), address },
                None => Matcher::Exact(s.clone()),
            }),
            Kind::Number(text) => leaf.matchers.push(Matcher::Number(PatternNumber::from_json_text(text))),
            Kind::Null => leaf.matchers.push(Matcher::Null),
            Kind::Bool(b) => leaf.matchers.push(Matcher::Bool(*b)),
            Kind::Object(members) => match match_expression(value, members)? {
                Expression::Exists(true) => leaf.if_present = true,
                Expression::Exists(false) => leaf.if_absent = true,
                Expression::Matcher(matcher) => leaf.matchers.push(matcher),
            },
            Kind::Array(_) => {
                return refuse("Match value must be String, number, true, false, or null", after_first_token(value));
            }
        }
    }
    Ok(leaf)
}

/// What one `{ "operator": … }` in a field's array stands for.
enum Expression {
    Exists(bool),
    Matcher(Matcher),
}

fn match_expression(node: &Node, members: &[Member]) -> Compiled<Expression> {
    let Some((first, rest)) = members.split_first() else {
        return refuse("Match expression name not found", node.end);
    };
    let value = &first.value;
    let expression = match first.key.as_str() {
        "exactly" => Expression::Matcher(Matcher::Exact(string(value, "exact match pattern must be a string")?)),
        "prefix" => Expression::Matcher(match &value.kind {
            Kind::Object(inner) => Matcher::PrefixIgnoreCase(ignoring_case(value, inner, "Prefix", "prefix")?),
            _ => Matcher::Prefix(string(value, "prefix match pattern must be a string")?),
        }),
        "suffix" => Expression::Matcher(match &value.kind {
            Kind::Object(inner) => Matcher::SuffixIgnoreCase(ignoring_case(value, inner, "Suffix", "suffix")?),
            _ => Matcher::Suffix(string(value, "suffix match pattern must be a string")?),
        }),
        "equals-ignore-case" => Expression::Matcher(Matcher::EqualsIgnoreCase(
            string(value, "equals-ignore-case match pattern must be a string")?.to_lowercase(),
        )),
        "wildcard" => {
            let text = string(value, "wildcard match pattern must be a string")?;
            Expression::Matcher(Matcher::Wildcard(Wildcard::parse(&text).or_else(|r| refuse(r, value.end))?))
        }
        "cidr" => {
            let text = string(value, "cidr match pattern must be a string")?;
            Expression::Matcher(Matcher::Cidr(ip::Cidr::parse(&text).or_else(|r| refuse(r, value.end))?))
        }
        "exists" => match value.kind {
            Kind::Bool(b) => Expression::Exists(b),
            _ => return refuse("exists match pattern must be either true or false.", after_first_token(value)),
        },
        "numeric" => {
            let Kind::Array(items) = &value.kind else {
                return refuse("Value of numeric must be an array.", after_first_token(value));
            };
            let range = numeric(value, items)?;
            if let Some(extra) = rest.first() {
                return refuse("Too many elements in numeric expression", extra.key_end);
            }
            Expression::Matcher(Matcher::Numeric(range))
        }
        "anything-but" => Expression::Matcher(Matcher::AnythingBut(anything_but(value)?)),
        other => return refuse(format!("Unrecognized match type {other}"), first.key_end),
    };
    if let Some(extra) = rest.first() {
        return refuse("Only one key allowed in match expression", extra.key_end);
    }
    Ok(expression)
}

fn string(node: &Node, refusal: &str) -> Compiled<String> {
    match &node.kind {
        Kind::String(s) => Ok(s.clone()),
        _ => refuse(refusal, after_first_token(node)),
    }
}

/// `{"equals-ignore-case": "…"}` inside `prefix` or `suffix`; returns it lowercased.
fn ignoring_case(node: &Node, members: &[Member], title: &str, operator: &str) -> Compiled<String> {
    let Some((first, rest)) = members.split_first() else {
        return refuse(format!("{title} expression name not found"), node.end);
    };
    if first.key != "equals-ignore-case" {
        return refuse(format!("Unsupported {operator} pattern: {}", first.key), first.key_end);
    }
    let text = string(&first.value, "equals-ignore-case match pattern must be a string")?;
    if let Some(extra) = rest.first() {
        return refuse("Only one key allowed in match expression", extra.key_end);
    }
    Ok(text.to_lowercase())
}

fn numeric(node: &Node, items: &[Node]) -> Compiled<NumericRange> {
    let mut items = items.iter();
    let operator = match items.next() {
        Some(Node { kind: Kind::String(op), .. }) => op.as_str(),
        Some(other) => return refuse(format!("Invalid member in numeric match: {}", other.token_text()), other.end),
        None => return refuse("Invalid member in numeric match: ]", node.end),
    };
    if !matches!(operator, "=" | "<" | "<=" | ">" | ">=") {
        return refuse(format!("Unrecognized numeric range operator: {operator}"), node.end);
    }
    let first = operand(items.next(), operator, node)?;
    let bound = |value, inclusive| Some(Bound { value, inclusive });
    match operator {
        "=" | "<" | "<=" => {
            if let Some(extra) = items.next() {
                return refuse("Too many elements in numeric expression", extra.end);
            }
            Ok(match operator {
                "=" => NumericRange { lower: bound(first, true), upper: bound(first, true) },
                "<" => NumericRange { lower: None, upper: bound(first, false) },
                _ => NumericRange { lower: None, upper: bound(first, true) },
            })
        }
        ">" | ">=" => {
            let lower = bound(first, operator == ">=");
            let upper_operator = match items.next() {
                None => return Ok(NumericRange { lower, upper: None }),
                Some(Node { kind: Kind::String(op), end, .. }) => {
                    if op != "<" && op != "<=" {
                        return refuse(format!("Bad numeric range operator: {op}"), *end);
                    }
                    op.as_str()
                }
                Some(other) => return refuse(format!("Bad value in numeric range: {}", other.token_text()), other.end),
            };
            let top = operand(items.next(), upper_operator, node)?;
            if let Some(extra) = items.next() {
                return refuse("Too many terms in numeric range expression", extra.end);
            }
            if first >= top {
                return refuse("Bottom must be less than top", node.end);
            }
            Ok(NumericRange { lower, upper: bound(top, upper_operator == "<=") })
        }
        _ => refuse(format!("Unrecognized numeric range operator: {operator}"), node.end),
    }
}

/// The number after a numeric operator.
fn operand(item: Option<&Node>, operator: &str, array: &Node) -> Compiled<f64> {
    let name = if operator == "=" { "equals" } else { operator };
    match item {
        Some(Node { kind: Kind::Number(text), end, .. }) => comparable(text).or_else(|r| refuse(r, *end)),
        Some(other) => refuse(format!("Value of {name} must be numeric"), after_first_token(other)),
        None => refuse(format!("Value of {name} must be numeric"), array.end),
    }
}

fn anything_but(node: &Node) -> Compiled<Excluded> {
    match &node.kind {
        Kind::Object(members) => anything_but_operator(node, members),
        Kind::Array(items) => {
            let (mut strings, mut numbers) = (Vec::new(), Vec::new());
            for item in items {
                match &item.kind {
                    Kind::String(s) => strings.push(s.clone()),
                    Kind::Number(text) => numbers.push(comparable(text).or_else(|r| refuse(r, item.end))?),
                    _ => {
                        return refuse(
                            "Inside anything but list, start|null|boolean is not supported.",
                            after_first_token(item),
                        );
                    }
                }
            }
            match (strings.is_empty(), numbers.is_empty()) {
                (false, true) => Ok(Excluded::Strings(strings)),
                (true, false) => Ok(Excluded::Numbers(numbers)),
                _ => refuse(
                    "Inside anything but list, either all values are number or string, mixed type is not supported",
                    node.end,
                ),
            }
        }
        Kind::String(s) => Ok(Excluded::Strings(vec![s.clone()])),
        Kind::Number(text) => Ok(Excluded::Numbers(vec![comparable(text).or_else(|r| refuse(r, node.end))?])),
        _ => refuse("Value of anything-but must be an array or single string/number value.", after_first_token(node)),
    }
}

/// `anything-but` with `prefix`, `suffix`, `equals-ignore-case` or `wildcard`, each
/// taking a string or a list of strings.
fn anything_but_operator(node: &Node, members: &[Member]) -> Compiled<Excluded> {
    let Some((first, rest)) = members.split_first() else {
        return refuse("Anything-But expression name not found", node.end);
    };
    let operator = first.key.as_str();
    let not_a_string = match operator {
        "prefix" | "suffix" => "prefix/suffix match pattern must be a string",
        "equals-ignore-case" => {
            "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."
        }
        "wildcard" => "wildcard match pattern must be a string",
        other => return refuse(format!("Unsupported anything-but pattern: {other}"), first.key_end),
    };
    let value = &first.value;
    let items: Vec<&Node> = match &value.kind {
        Kind::Array(items) => items.iter().collect(),
        Kind::String(_) => vec![value],
        Kind::Number(_) => return refuse(not_a_string, value.end),
        _ => {
            return refuse(
                "Value of anything-but must be an array or single string/number value.",
                after_first_token(value),
            );
        }
    };
    let mut texts = Vec::with_capacity(items.len());
    for item in items {
        let text = string(item, not_a_string)?;
        if text.is_empty() && matches!(operator, "prefix" | "suffix") {
            return refuse("Null prefix/suffix not allowed", item.end);
        }
        texts.push((text, item.end));
    }
    if let Some(extra) = rest.first() {
        return refuse("Only one key allowed in match expression", extra.key_end);
    }
    Ok(match operator {
        "prefix" => Excluded::Prefixes(texts.into_iter().map(|(t, _)| t).collect()),
        "suffix" => Excluded::Suffixes(texts.into_iter().map(|(t, _)| t).collect()),
        "equals-ignore-case" => Excluded::IgnoringCase(texts.into_iter().map(|(t, _)| t.to_lowercase()).collect()),
        _ => Excluded::Wildcards(
            texts
                .into_iter()
                .map(|(text, end)| Wildcard::parse(&text).or_else(|r| refuse(r, end)))
                .collect::<Compiled<_>>()?,
        ),
    })
}
