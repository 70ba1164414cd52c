//! Precompiled string patterns: IAM's wildcards (`*` any run of characters, `?` one
//! character) and policy variables (`${aws:username}`, `${key, 'default'}`, and the
//! escapes `${*}`, `${?}`, `${$}`), matched without allocating.

use crate::context::ContextKeys;

/// One piece of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// Literal text (already lowercased when the pattern ignores case).
    Lit(String),
    /// `*`: any run of characters, possibly empty.
    Star,
    /// `?`: exactly one character.
    One,
    /// `${key}` or `${key, 'default'}`: the key's value, compared literally.
    Var { key: String, default: Option<String> },
}

/// How a pattern's text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Syntax {
    /// `*` and `?` are wildcards (otherwise literal characters).
    pub wildcards: bool,
    /// `${…}` is a policy variable (Version 2012-10-17 only).
    pub variables: bool,
    /// Compare ignoring ASCII case.
    pub ignore_case: bool,
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// `*` alone.
    Any,
    /// No wildcards and no variables.
    Exact { text: String, ignore_case: bool },
    /// Anything else.
    Tokens { tokens: Vec<Token>, ignore_case: bool },
}

/// Why a pattern's text cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadVariable(pub String);

impl Pattern {
    pub fn compile(text: &str, syntax: Syntax) -> Result<Pattern, BadVariable> {
        let tokens = tokenize(text, syntax)?;
        Ok(Pattern::from_tokens(tokens, syntax.ignore_case))
    }

    pub fn from_tokens(mut tokens: Vec<Token>, ignore_case: bool) -> Pattern {
        match tokens.as_slice() {
            [Token::Star] => Pattern::Any,
            [] => Pattern::Exact { text: String::new(), ignore_case },
            [Token::Lit(_)] => {
                let Some(Token::Lit(text)) = tokens.pop() else { unreachable!() };
                Pattern::Exact { text, ignore_case }
            }
            _ => Pattern::Tokens { tokens, ignore_case },
        }
    }

    /// Whether `text` matches; variables are read from `keys` (a missing one matches nothing).
    pub fn matches(&self, text: &str, keys: &ContextKeys) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Exact { text: lit, ignore_case } => eq(lit, text, *ignore_case),
            Pattern::Tokens { tokens, ignore_case } => glob(tokens, text, keys, *ignore_case),
        }
    }
}

/// Splits `text` into tokens under `syntax`.
pub(crate) fn tokenize(text: &str, syntax: Syntax) -> Result<Vec<Token>, BadVariable> {
    let mut tokens = Vec::new();
    let mut lit = String::new();
    let push_lit = |lit: &mut String, tokens: &mut Vec<Token>| {
        if !lit.is_empty() {
            let text = std::mem::take(lit);
            tokens.push(Token::Lit(if syntax.ignore_case { text.to_ascii_lowercase() } else { text }));
        }
    };
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if syntax.variables && rest.starts_with("${") {
            let end = rest.find('}').ok_or_else(|| BadVariable(text.to_string()))?;
            let inner = rest[2..end].trim();
            rest = &rest[end + 1..];
            match inner {
                "*" | "?" | "$" => lit.push_str(inner),
                _ => {
                    push_lit(&mut lit, &mut tokens);
                    tokens.push(variable(inner).ok_or_else(|| BadVariable(text.to_string()))?);
                }
            }
            continue;
        }
        rest = &rest[c.len_utf8()..];
        match c {
            '*' if syntax.wildcards => {
                push_lit(&mut lit, &mut tokens);
                if tokens.last() != Some(&Token::Star) {
                    tokens.push(Token::Star);
                }
            }
            '?' if syntax.wildcards => {
                push_lit(&mut lit, &mut tokens);
                tokens.push(Token::One);
            }
            _ => lit.push(c),
        }
    }
    push_lit(&mut lit, &mut tokens);
    Ok(tokens)
}

/// `key` or `key, 'default'` (the inside of `${…}`).
fn variable(inner: &str) -> Option<Token> {
    let (key, default) = match inner.split_once(',') {
        None => (inner, None),
        Some((key, default)) => {
            let default = default.trim().strip_prefix('\'')?.strip_suffix('\'')?;
            (key.trim(), Some(default.to_string()))
        }
    };
    let valid =
        !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '-' | '_' | '.'));
    valid.then(|| Token::Var { key: key.to_ascii_lowercase(), default })
}

fn eq(lit: &str, text: &str, ignore_case: bool) -> bool {
    if ignore_case { lit.eq_ignore_ascii_case(text) } else { lit == text }
}

/// The value a variable takes, if any.
pub(crate) fn resolve<'a>(key: &str, default: &'a Option<String>, keys: &'a ContextKeys) -> Option<&'a str> {
    match keys.get_lower(key) {
        Some([value]) => Some(value.as_str()),
        _ => default.as_deref(),
    }
}

/// Wildcard matching over tokens with single-star backtracking: the segment between
/// two stars has a fixed length once variables are resolved, so taking its earliest
/// occurrence is always safe. A star followed by literal text jumps straight to the
/// text's next occurrence.
fn glob(tokens: &[Token], text: &str, keys: &ContextKeys, ignore_case: bool) -> bool {
    let (mut ti, mut si) = (0usize, 0usize);
    // The last star: its token index and where it stops consuming.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if ti < tokens.len() {
            let advanced = match &tokens[ti] {
                Token::Star => {
                    match tokens.get(ti + 1) {
                        None => return true,
                        Some(Token::Lit(lit)) if !ignore_case => match find(&text.as_bytes()[si..], lit.as_bytes()) {
                            Some(offset) => si += offset,
                            None => return false,
                        },
                        Some(_) => {}
                    }
                    star = Some((ti, si));
                    ti += 1;
                    continue;
                }
                Token::One => text[si..].chars().next().map(char::len_utf8),
                Token::Lit(lit) => prefix_len(&text[si..], lit, ignore_case),
                Token::Var { key, default } => match resolve(key, default, keys) {
                    Some(value) => prefix_len(&text[si..], value, ignore_case),
                    None => return false,
                },
            };
            if let Some(n) = advanced {
                si += n;
                ti += 1;
                continue;
            }
        } else if si == text.len() {
            return true;
        }
        // Mismatch: let the last star consume one more character.
        match star {
            Some((star_ti, from)) if from < text.len() => {
                ti = star_ti;
                si = from + text[from..].chars().next().map_or(1, char::len_utf8);
            }
            _ => return false,
        }
    }
}

/// Where `needle` first occurs in `hay`: a plain scan, cheaper than a searcher's setup
/// for the short texts of ARNs. A match of valid UTF-8 starts on a character boundary.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let last_start = hay.len().checked_sub(needle.len())?;
    let mut at = 0;
    while at <= last_start {
        let offset = hay[at..=last_start].iter().position(|&b| b == first)?;
        at += offset;
        if &hay[at + 1..at + needle.len()] == rest {
            return Some(at);
        }
        at += 1;
    }
    None
}

/// `Some(lit.len())` when `text` starts with `lit`.
fn prefix_len(text: &str, lit: &str, ignore_case: bool) -> Option<usize> {
    let head = text.as_bytes().get(..lit.len())?;
    let same = if ignore_case { head.eq_ignore_ascii_case(lit.as_bytes()) } else { head == lit.as_bytes() };
    same.then_some(lit.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        let keys = ContextKeys::new();
        let cases: &[(&str, bool, &str, bool)] = &[
            ("*", false, "", true),
            ("a*", false, "a", true),
            ("*a", false, "ba", true),
            ("*a", false, "ab", false),
            ("a*b*c", false, "abc", true),
            ("a*b*c", false, "aXbYbZc", true),
            ("a*b*c", false, "aXbYcZ", false),
            ("*ab*ab", false, "xabyabab", true),
            ("*aab", false, "aaab", true),
            ("a?c", false, "abc", true),
            ("a?c", false, "ac", false),
            ("a?c", false, "a\u{1F600}c", true),
            ("*?", false, "", false),
            ("*?", false, "x", true),
            ("a**b", false, "ab", true),
            ("ECS:Run*", true, "ecs:runtask", true),
            ("ecs:run*task", true, "ECS:RunSomeTASK", true),
            ("ecs:run*task", true, "ECS:RunSomeTASKs", false),
            ("Exact", false, "exact", false),
            ("Exact", true, "EXACT", true),
        ];
        for (pattern, ignore_case, text, expected) in cases {
            let p = Pattern::compile(pattern, Syntax { wildcards: true, variables: false, ignore_case: *ignore_case })
                .unwrap();
            assert_eq!(p.matches(text, &keys), *expected, "{pattern} vs {text}");
        }
    }

    #[test]
    fn variables() {
        let syntax = Syntax { wildcards: true, variables: true, ignore_case: false };
        assert_eq!(
            tokenize("a${aws:username}*${*}${ x:y , 'd' }", syntax).unwrap(),
            vec![
                Token::Lit("a".into()),
                Token::Var { key: "aws:username".into(), default: None },
                Token::Star,
                Token::Lit("*".into()),
                Token::Var { key: "x:y".into(), default: Some("d".into()) },
            ]
        );
        for bad in ["${", "${}", "${a b}", "${a, d}", "x${a"] {
            assert!(tokenize(bad, syntax).is_err(), "{bad}");
        }
        let literal = Syntax { variables: false, ..syntax };
        assert_eq!(tokenize("${a}", literal).unwrap(), vec![Token::Lit("${a}".into())]);
    }
}
