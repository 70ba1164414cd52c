//! Compiles the regular expressions of queries.
//!
//! This crate's `regex` is built without Unicode case tables, so `(?i)` — which AWS
//! documents (`filter f1 like /(?i)Exception/`) — does not compile as written. When a
//! pattern fails for that reason it is rewritten to fold ASCII letters instead: every
//! letter under an `i` flag becomes `(?i-u:x)` and every plain ASCII character class
//! `(?i-u:[…])`, and the `i` flags are dropped. Non-ASCII letters and negated classes
//! under `(?i)` then match case-sensitively.

use regex::{Regex, RegexBuilder};

use super::QueryError;

/// Compiled programs beyond this many bytes are refused (the crate default is 10 MiB).
const SIZE_LIMIT: usize = 4 << 20;

/// Compiles `pattern` (unanchored, as Insights matches).
pub(super) fn compile(pattern: &str) -> Result<Regex, QueryError> {
    let build = |p: &str| RegexBuilder::new(p).size_limit(SIZE_LIMIT).build();
    match build(pattern) {
        Ok(re) => Ok(re),
        Err(first) => {
            let reason = first_error_line(&first.to_string());
            if reason.contains("case insensitiv") {
                build(&fold_ascii_case(pattern)).map_err(|e| QueryError::InvalidRegex {
                    pattern: pattern.to_string(),
                    reason: first_error_line(&e.to_string()),
                })
            } else {
                Err(QueryError::InvalidRegex { pattern: pattern.to_string(), reason })
            }
        }
    }
}

/// The `error: …` line of a regex error (they come with a caret diagram).
fn first_error_line(message: &str) -> String {
    let line = message.lines().find_map(|l| l.trim().strip_prefix("error:")).unwrap_or(message);
    line.trim().to_string()
}

/// Rewrites case-insensitive parts of a pattern to ASCII folding (see the module doc).
pub(super) fn fold_ascii_case(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() * 2);
    // The case-insensitivity in force, saved at each open group.
    let mut saved: Vec<bool> = Vec::new();
    let mut ci = false;
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            '\\' => {
                let end = escape_end(&chars, i);
                out.extend(chars.get(i..end).unwrap_or_default());
                i = end;
            }
            '[' => {
                let end = class_end(&chars, i);
                let class: String = chars.get(i..end).unwrap_or_default().iter().collect();
                let foldable = class.is_ascii()
                    && !class.contains('^')
                    && !["\\p", "\\P", "\\W", "\\S", "\\D"].iter().any(|e| class.contains(e));
                if ci && foldable {
                    out.push_str("(?i-u:");
                    out.push_str(&class);
                    out.push(')');
                } else {
                    out.push_str(&class);
                }
                i = end;
            }
            '(' if chars.get(i + 1) == Some(&'?') => {
                let named = match (chars.get(i + 2), chars.get(i + 3)) {
                    (Some('P'), Some('<')) => true,
                    (Some('<'), Some(n)) => *n != '=' && *n != '!',
                    _ => false,
                };
                if named {
                    let close = (i..chars.len()).find(|&j| chars.get(j) == Some(&'>')).map_or(chars.len(), |j| j + 1);
                    out.extend(chars.get(i..close).unwrap_or_default());
                    saved.push(ci);
                    i = close;
                    continue;
                }
                let Some(stop) = (i + 2..chars.len()).find(|&j| matches!(chars.get(j), Some(':' | ')'))) else {
                    out.extend(chars.get(i..).unwrap_or_default());
                    break;
                };
                let flags: String = chars.get(i + 2..stop).unwrap_or_default().iter().collect();
                let mut new_ci = ci;
                let mut negate = false;
                for f in flags.chars() {
                    match f {
                        '-' => negate = true,
                        'i' => new_ci = !negate,
                        _ => {}
                    }
                }
                let mut kept: String = flags.chars().filter(|&f| f != 'i').collect();
                if kept.ends_with('-') {
                    kept.pop();
                }
                if chars.get(stop) == Some(&':') {
                    saved.push(ci);
                    ci = new_ci;
                    out.push_str("(?");
                    out.push_str(&kept);
                    out.push(':');
                } else {
                    ci = new_ci;
                    if !kept.is_empty() {
                        out.push_str("(?");
                        out.push_str(&kept);
                        out.push(')');
                    }
                }
                i = stop + 1;
            }
            '(' => {
                saved.push(ci);
                out.push('(');
                i += 1;
            }
            ')' => {
                ci = saved.pop().unwrap_or(false);
                out.push(')');
                i += 1;
            }
            c if ci && c.is_ascii_alphabetic() => {
                out.push_str("(?i-u:");
                out.push(c);
                out.push(')');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Index just past the escape sequence starting at `i` (a backslash).
fn escape_end(chars: &[char], i: usize) -> usize {
    let Some(&kind) = chars.get(i + 1) else { return chars.len() };
    if matches!(kind, 'p' | 'P' | 'x' | 'u' | 'U') && chars.get(i + 2) == Some(&'{') {
        return (i + 3..chars.len()).find(|&j| chars.get(j) == Some(&'}')).map_or(chars.len(), |j| j + 1);
    }
    let end = match kind {
        'p' | 'P' => i + 3,
        'x' => i + 4,
        _ => i + 2,
    };
    end.min(chars.len())
}

/// Index just past the character class starting at `i` (a `[`).
fn class_end(chars: &[char], i: usize) -> usize {
    let mut j = i + 1;
    if chars.get(j) == Some(&'^') {
        j += 1;
    }
    if chars.get(j) == Some(&']') {
        j += 1;
    }
    let mut depth = 1usize;
    while let Some(&c) = chars.get(j) {
        match c {
            '\\' => {
                j = escape_end(chars, j);
                continue;
            }
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    chars.len()
}
