//! AWS's regular expression subset, checked and translated for the `regex` crate.
//!
//! CloudWatch Logs accepts ASCII letters, digits, a few symbols and the operators
//! `^ $ ? [ ] { } | \ * + .`; it rejects parentheses, `!` and multi-byte characters.
//! Its `\d`, `\w` and `\s` are ASCII classes, and `{,n}` and `{m, n}` are valid
//! repetitions, so those are rewritten into the `regex` crate's spelling.

use regex::{Regex, RegexBuilder};

use super::FilterError;

/// The most memory a compiled regular expression may use.
const SIZE_LIMIT: usize = 1 << 20;

/// Characters CloudWatch Logs documents as not allowed in a regular expression.
fn is_forbidden(c: char) -> bool {
    !c.is_ascii() || matches!(c, '(' | ')' | '!' | '%')
}

/// Checks and compiles the body of a `%…%` regular expression.
pub(super) fn compile(body: &str) -> Result<Regex, FilterError> {
    if body.chars().any(is_forbidden) {
        return Err(FilterError::InvalidCharacter(format!("%{body}%")));
    }
    if body.is_empty() {
        return Err(invalid(body, "the regular expression is empty".to_owned()));
    }
    RegexBuilder::new(&translate(body))
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(SIZE_LIMIT)
        .build()
        .map_err(|error| invalid(body, reason(&error)))
}

fn invalid(body: &str, reason: String) -> FilterError {
    FilterError::InvalidRegex { regex: body.to_owned(), reason }
}

/// The last line of the engine's message, which says what is wrong.
fn reason(error: &regex::Error) -> String {
    match error {
        regex::Error::CompiledTooBig(_) => "the regular expression is too large".to_owned(),
        other => {
            let message = other.to_string();
            let last = message.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or("");
            last.trim().trim_start_matches("error: ").to_owned()
        }
    }
}

/// Rewrites AWS's spelling of classes and repetitions into the `regex` crate's.
fn translate(body: &str) -> String {
    let chars: Vec<char> = body.chars().collect();
    let mut out = String::with_capacity(body.len() + 16);
    let mut class_depth = 0usize;
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let rest = chars.get(i..).unwrap_or_default();
        i += match c {
            '\\' => translate_escape(rest, class_depth > 0, &mut out),
            '[' => {
                class_depth += 1;
                open_class(rest, &mut out)
            }
            ']' if class_depth > 0 => {
                class_depth -= 1;
                out.push(']');
                1
            }
            '{' if class_depth == 0 => translate_repetition(rest, &mut out),
            _ => {
                out.push(c);
                1
            }
        };
    }
    out
}

/// Writes the escape at the start of `rest`; returns how many characters it used.
fn translate_escape(rest: &[char], in_class: bool, out: &mut String) -> usize {
    match rest.get(1).copied() {
        Some(letter) => {
            match ascii_class(letter) {
                Some(class) if in_class => out.push_str(class),
                Some(class) => {
                    out.push('[');
                    out.push_str(class);
                    out.push(']');
                }
                None => {
                    out.push('\\');
                    out.push(letter);
                }
            }
            2
        }
        None => {
            out.push('\\');
            1
        }
    }
}

/// The ASCII class an escape letter stands for, as a bracket-class item.
fn ascii_class(letter: char) -> Option<&'static str> {
    match letter {
        'd' => Some("[:digit:]"),
        'D' => Some("[:^digit:]"),
        'w' => Some("[:word:]"),
        'W' => Some("[:^word:]"),
        's' => Some("[:space:]"),
        'S' => Some("[:^space:]"),
        _ => None,
    }
}

/// Writes the `[` (and `^`, and a literal `]`) opening a class; returns how many characters it used.
fn open_class(rest: &[char], out: &mut String) -> usize {
    out.push('[');
    let mut used = 1;
    if rest.get(used) == Some(&'^') {
        out.push('^');
        used += 1;
    }
    if rest.get(used) == Some(&']') {
        out.push(']');
        used += 1;
    }
    used
}

/// Writes a `{…}` repetition normalised to `{m}`, `{m,}` or `{m,n}`, or a lone `{` when
/// it is not one; returns how many characters it used.
fn translate_repetition(rest: &[char], out: &mut String) -> usize {
    let Some(close) = rest.iter().position(|&c| c == '}') else {
        out.push('{');
        return 1;
    };
    let inner: String = rest.get(1..close).unwrap_or_default().iter().collect();
    match normalise_repetition(&inner) {
        Some(normalised) => {
            out.push_str(&normalised);
            close + 1
        }
        None => {
            out.push('{');
            1
        }
    }
}

fn normalise_repetition(inner: &str) -> Option<String> {
    let is_count = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    match inner.split_once(',') {
        None => {
            let count = inner.trim();
            (!count.is_empty() && is_count(count)).then(|| format!("{{{count}}}"))
        }
        Some((min, max)) => {
            let (min, max) = (min.trim(), max.trim());
            let min = if min.is_empty() { "0" } else { min };
            (is_count(min) && is_count(max)).then(|| format!("{{{min},{max}}}"))
        }
    }
}
