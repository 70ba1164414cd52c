//! The `Condition` block: operators (with `IfExists` and the `ForAnyValue:` /
//! `ForAllValues:` qualifiers), their values compiled at parse time, and their
//! evaluation against a request's condition keys.

use std::net::IpAddr;

use flotilla_core::Timestamp;
use serde_json::Value;

use crate::context::ContextKeys;
use crate::pattern::{Pattern, Syntax, Token, resolve, tokenize};

/// One operator applied to one key: `"StringEquals": {"aws:username": ["a", "b"]}`.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    /// Lowercased.
    key: String,
    test: Test,
    qualifier: Qualifier,
    if_exists: bool,
    /// The operator is the negation of `test` (StringNotEquals, NotIpAddress, …).
    negated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qualifier {
    Single,
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }
}

/// The positive form of an operator, with its policy values compiled. A context
/// value passes when it passes against any policy value.
#[derive(Debug, Clone)]
enum Test {
    /// StringEquals, StringEqualsIgnoreCase, StringLike, BinaryEquals.
    String(Vec<Pattern>),
    Numeric(Cmp, Vec<f64>),
    /// Milliseconds since the epoch.
    Date(Cmp, Vec<i64>),
    Bool(Vec<bool>),
    Ip(Vec<Cidr>),
    Arn(Vec<ArnPattern>),
    /// `true`: the key must be absent; `false`: present.
    Null(Vec<bool>),
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

/// Base operator names: (name, kind, negated).
const OPERATORS: &[(&str, Kind, bool)] = &[
    ("StringEquals", Kind::StringEquals, false),
    ("StringNotEquals", Kind::StringEquals, true),
    ("StringEqualsIgnoreCase", Kind::StringEqualsIgnoreCase, false),
    ("StringNotEqualsIgnoreCase", Kind::StringEqualsIgnoreCase, true),
    ("StringLike", Kind::StringLike, false),
    ("StringNotLike", Kind::StringLike, true),
    ("NumericEquals", Kind::Numeric(Cmp::Eq), false),
    ("NumericNotEquals", Kind::Numeric(Cmp::Eq), true),
    ("NumericLessThan", Kind::Numeric(Cmp::Lt), false),
    ("NumericLessThanEquals", Kind::Numeric(Cmp::Le), false),
    ("NumericGreaterThan", Kind::Numeric(Cmp::Gt), false),
    ("NumericGreaterThanEquals", Kind::Numeric(Cmp::Ge), false),
    ("DateEquals", Kind::Date(Cmp::Eq), false),
    ("DateNotEquals", Kind::Date(Cmp::Eq), true),
    ("DateLessThan", Kind::Date(Cmp::Lt), false),
    ("DateLessThanEquals", Kind::Date(Cmp::Le), false),
    ("DateGreaterThan", Kind::Date(Cmp::Gt), false),
    ("DateGreaterThanEquals", Kind::Date(Cmp::Ge), false),
    ("Bool", Kind::Bool, false),
    ("BinaryEquals", Kind::Binary, false),
    ("IpAddress", Kind::Ip, false),
    ("NotIpAddress", Kind::Ip, true),
    ("ArnEquals", Kind::Arn, false),
    ("ArnLike", Kind::Arn, false),
    ("ArnNotEquals", Kind::Arn, true),
    ("ArnNotLike", Kind::Arn, true),
    ("Null", Kind::Null, false),
];

/// Reads a statement's `Condition` value. `variables`: policy variables are substituted
/// in values (Version 2012-10-17). Errors are AWS-like messages.
pub(crate) fn parse_conditions(block: &Value, variables: bool) -> Result<Vec<Condition>, String> {
    let Value::Object(operators) = block else {
        return Err("Syntax errors in policy. Condition must be an object.".into());
    };
    let mut conditions = Vec::new();
    for (operator, keys) in operators {
        let (kind, negated, qualifier, if_exists) =
            parse_operator(operator).ok_or_else(|| format!("Unknown condition operator: {operator}"))?;
        let Value::Object(keys) = keys else {
            return Err(format!("Syntax errors in policy. Condition operator {operator} must map keys to values."));
        };
        if keys.is_empty() {
            return Err(format!("Syntax errors in policy. Condition operator {operator} has no keys."));
        }
        for (key, values) in keys {
            if key.is_empty() || !key.contains(':') {
                return Err(format!(
                    "Invalid condition key '{key}': Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
                ));
            }
            let values = condition_values(values).ok_or_else(|| {
                format!("Syntax errors in policy. Values of condition key {key} must be strings, numbers or booleans.")
            })?;
            let test = compile_test(kind, &values, variables)
                .map_err(|bad| format!("Invalid value for condition operator {operator}, key {key}: '{bad}'"))?;
            conditions.push(Condition { key: key.to_ascii_lowercase(), test, qualifier, if_exists, negated });
        }
    }
    Ok(conditions)
}

/// `[ForAnyValue:|ForAllValues:]Base[IfExists]`, names compared ignoring case.
fn parse_operator(name: &str) -> Option<(Kind, bool, Qualifier, bool)> {
    let (qualifier, rest) = if let Some(rest) = strip_prefix_ci(name, "ForAnyValue:") {
        (Qualifier::ForAnyValue, rest)
    } else if let Some(rest) = strip_prefix_ci(name, "ForAllValues:") {
        (Qualifier::ForAllValues, rest)
    } else {
        (Qualifier::Single, name)
    };
    let suffix = "IfExists";
    let (base, if_exists) = match rest.len().checked_sub(suffix.len()) {
        Some(cut) if rest.is_char_boundary(cut) && rest[cut..].eq_ignore_ascii_case(suffix) => (&rest[..cut], true),
        _ => (rest, false),
    };
    let &(_, kind, negated) = OPERATORS.iter().find(|(n, ..)| n.eq_ignore_ascii_case(base))?;
    if matches!(kind, Kind::Null) && (if_exists || qualifier != Qualifier::Single) {
        return None;
    }
    Some((kind, negated, qualifier, if_exists))
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    s.get(..prefix.len()).filter(|h| h.eq_ignore_ascii_case(prefix)).map(|_| &s[prefix.len()..])
}

/// A value or an array of values, each a string, number or boolean, as strings.
fn condition_values(value: &Value) -> Option<Vec<String>> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match value {
        Value::Array(items) if !items.is_empty() => items.iter().map(one).collect(),
        Value::Array(_) => None,
        other => one(other).map(|v| vec![v]),
    }
}

/// Compiles the policy values for `kind`; the error is the offending value.
fn compile_test(kind: Kind, values: &[String], variables: bool) -> Result<Test, String> {
    let string = |wildcards: bool, ignore_case: bool, variables: bool| {
        each(values, |v| Pattern::compile(v, Syntax { wildcards, variables, ignore_case }).ok()).map(Test::String)
    };
    match kind {
        Kind::StringEquals => string(false, false, variables),
        Kind::StringEqualsIgnoreCase => string(false, true, variables),
        Kind::StringLike => string(true, false, variables),
        Kind::Binary => string(false, false, false),
        Kind::Numeric(cmp) => each(values, parse_number).map(|v| Test::Numeric(cmp, v)),
        Kind::Date(cmp) => each(values, parse_date).map(|v| Test::Date(cmp, v)),
        Kind::Bool => each(values, parse_bool).map(Test::Bool),
        Kind::Null => each(values, parse_bool).map(Test::Null),
        Kind::Ip => each(values, Cidr::parse).map(Test::Ip),
        Kind::Arn => each(values, |v| ArnPattern::compile(v, variables)).map(Test::Arn),
    }
}

/// Compiles every value with `f`; the error is the first value it refuses.
fn each<T>(values: &[String], f: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, String> {
    values.iter().map(|v| f(v).ok_or_else(|| v.clone())).collect()
}

fn parse_bool(v: &str) -> Option<bool> {
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn parse_number(v: &str) -> Option<f64> {
    let v = v.trim();
    let plain = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    plain.then(|| v.parse::<f64>().ok()).flatten().filter(|n| n.is_finite())
}

/// ISO 8601 (`2026-01-01T00:00:00Z`, with fraction or offset, or a bare date
/// `2026-01-01`) or epoch seconds; milliseconds since the epoch.
pub(crate) fn parse_date(v: &str) -> Option<i64> {
    if let Some(seconds) = parse_number(v) {
        return Some(Timestamp::from_epoch_seconds(seconds).0);
    }
    let parsed =
        if v.len() == 10 { Timestamp::parse_iso8601(&format!("{v}T00:00:00Z")) } else { Timestamp::parse_iso8601(v) };
    parsed.ok().map(|t| t.0)
}

impl Condition {
    /// Whether the condition holds for the request's `keys`.
    pub(crate) fn holds(&self, keys: &ContextKeys) -> bool {
        let values = keys.get_lower(&self.key).filter(|v| !v.is_empty());
        if let Test::Null(wanted) = &self.test {
            return wanted.iter().any(|&absent| absent == values.is_none());
        }
        match (self.qualifier, values) {
            (Qualifier::Single, None) => self.if_exists || self.negated,
            (Qualifier::Single, Some(values)) => values.iter().any(|v| self.test.passes(v, keys)) != self.negated,
            (Qualifier::ForAnyValue, None) => self.if_exists,
            (Qualifier::ForAnyValue, Some(values)) => values.iter().any(|v| self.test.passes(v, keys) != self.negated),
            (Qualifier::ForAllValues, None) => true,
            (Qualifier::ForAllValues, Some(values)) => values.iter().all(|v| self.test.passes(v, keys) != self.negated),
        }
    }
}

impl Test {
    /// Whether one context value passes against any policy value.
    fn passes(&self, value: &str, keys: &ContextKeys) -> bool {
        match self {
            Test::String(patterns) => patterns.iter().any(|p| p.matches(value, keys)),
            Test::Numeric(cmp, wanted) => parse_number(value).is_some_and(|n| wanted.iter().any(|&w| cmp.holds(n, w))),
            Test::Date(cmp, wanted) => parse_date(value).is_some_and(|t| wanted.iter().any(|&w| cmp.holds(t, w))),
            Test::Bool(wanted) => parse_bool(value).is_some_and(|b| wanted.contains(&b)),
            Test::Ip(cidrs) => value.trim().parse::<IpAddr>().is_ok_and(|ip| cidrs.iter().any(|c| c.contains(ip))),
            Test::Arn(patterns) => patterns.iter().any(|p| p.matches(value, keys)),
            Test::Null(_) => false,
        }
    }
}

/// An IPv4 or IPv6 network; a single address is a network of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cidr {
    V4 { network: u32, prefix: u8 },
    V6 { network: u128, prefix: u8 },
}

impl Cidr {
    pub(crate) fn parse(text: &str) -> Option<Cidr> {
        let (address, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => {
                let valid = !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit());
                (a, Some(valid.then(|| p.parse::<u8>().ok()).flatten()?))
            }
            None => (text.trim(), None),
        };
        match address.parse::<IpAddr>().ok()? {
            IpAddr::V4(a) => {
                let prefix = prefix.unwrap_or(32);
                (prefix <= 32).then(|| Cidr::V4 { network: u32::from(a) & mask32(prefix), prefix })
            }
            IpAddr::V6(a) => {
                let prefix = prefix.unwrap_or(128);
                (prefix <= 128).then(|| Cidr::V6 { network: u128::from(a) & mask128(prefix), prefix })
            }
        }
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (*self, ip) {
            (Cidr::V4 { network, prefix }, IpAddr::V4(a)) => u32::from(a) & mask32(prefix) == network,
            (Cidr::V6 { network, prefix }, IpAddr::V6(a)) => u128::from(a) & mask128(prefix) == network,
            _ => false,
        }
    }
}

fn mask32(prefix: u8) -> u32 {
    if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) }
}

fn mask128(prefix: u8) -> u128 {
    if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) }
}

/// An ARN condition value: compared part by part (partition, service, region,
/// account, resource; wildcards stay within their part, the resource part may hold
/// colons). `*` alone matches any value; any other value with fewer than six parts
/// matches nothing.
#[derive(Debug, Clone)]
enum ArnPattern {
    Parts(Box<[Pattern; 6]>),
    Any,
    Never,
    /// Holds policy variables: substituted, then split, per request.
    Template(Vec<Token>),
}

const ARN_SYNTAX: Syntax = Syntax { wildcards: true, variables: true, ignore_case: false };

impl ArnPattern {
    fn compile(text: &str, variables: bool) -> Option<ArnPattern> {
        let tokens = tokenize(text, Syntax { variables, ..ARN_SYNTAX }).ok()?;
        if tokens.iter().any(|t| matches!(t, Token::Var { .. })) {
            return Some(ArnPattern::Template(tokens));
        }
        Some(Self::from_tokens(tokens))
    }

    fn from_tokens(tokens: Vec<Token>) -> ArnPattern {
        match split_arn(&tokens) {
            Some(parts) => ArnPattern::Parts(Box::new(parts.map(|p| Pattern::from_tokens(p, false)))),
            None if tokens == [Token::Star] => ArnPattern::Any,
            None => ArnPattern::Never,
        }
    }

    fn matches(&self, value: &str, keys: &ContextKeys) -> bool {
        match self {
            ArnPattern::Any => true,
            ArnPattern::Never => false,
            ArnPattern::Parts(parts) => {
                let mut given = value.splitn(6, ':');
                let arn: [Option<&str>; 6] = std::array::from_fn(|_| given.next());
                arn.iter().zip(parts.iter()).all(|(part, p)| part.is_some_and(|part| p.matches(part, keys)))
            }
            ArnPattern::Template(tokens) => {
                let mut resolved = Vec::with_capacity(tokens.len());
                for t in tokens {
                    resolved.push(match t {
                        Token::Var { key, default } => match resolve(key, default, keys) {
                            Some(v) => Token::Lit(v.to_string()),
                            None => return false,
                        },
                        other => other.clone(),
                    });
                }
                ArnPattern::from_tokens(resolved).matches(value, keys)
            }
        }
    }
}

/// Splits tokens at the first five colons of their literal text into six parts.
fn split_arn(tokens: &[Token]) -> Option<[Vec<Token>; 6]> {
    let mut parts: Vec<Vec<Token>> = vec![Vec::new()];
    for token in tokens {
        match token {
            Token::Lit(text) if parts.len() < 6 => {
                let mut rest = text.as_str();
                while parts.len() < 6 {
                    let Some((head, tail)) = rest.split_once(':') else { break };
                    if !head.is_empty() {
                        push_lit(parts.last_mut()?, head);
                    }
                    parts.push(Vec::new());
                    rest = tail;
                }
                if !rest.is_empty() {
                    push_lit(parts.last_mut()?, rest);
                }
            }
            other => parts.last_mut()?.push(other.clone()),
        }
    }
    parts.try_into().ok()
}

fn push_lit(part: &mut Vec<Token>, text: &str) {
    match part.last_mut() {
        Some(Token::Lit(lit)) => lit.push_str(text),
        _ => part.push(Token::Lit(text.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        let cases: &[(&str, &str, bool)] = &[
            ("10.0.0.0/8", "10.255.255.255", true),
            ("10.0.0.0/8", "9.255.255.255", false),
            ("192.168.1.1", "192.168.1.1", true),
            ("192.168.1.1/32", "192.168.1.2", false),
            ("0.0.0.0/0", "255.255.255.255", true),
            ("172.16.0.0/12", "172.31.0.1", true),
            ("172.16.0.0/12", "172.32.0.1", false),
            ("::/0", "2001:db8::1", true),
            ("2001:db8::/127", "2001:db8::1", true),
            ("2001:db8::/128", "2001:db8::1", false),
            ("fe80::1", "fe80::1", true),
            ("10.0.0.0/8", "::ffff:10.1.1.1", true),
        ];
        for (cidr, ip, expected) in cases {
            let c = Cidr::parse(cidr).unwrap_or_else(|| panic!("{cidr}"));
            assert_eq!(c.contains(ip.parse().unwrap()), *expected, "{cidr} ∋ {ip}");
        }
        for bad in ["10.0.0.0/", "10.0.0.0/33", "10.0.0/8", "::/129", "x", "10.0.0.0/+8", ""] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_and_operators() {
        assert_eq!(parse_date("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_date("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_date("1.5"), Some(1500));
        assert_eq!(parse_date("2026-13-01T00:00:00Z"), None);
        assert!(parse_operator("ForAnyValue:StringLikeIfExists").is_some());
        assert!(parse_operator("StringLikeIfExistsIfExists").is_none());
        assert!(parse_operator("ForAllValues:Null").is_none());
        assert!(parse_operator("ForSomeValues:StringLike").is_none());
    }
}
