//! Compiles the regular expressions of queries: unanchored, as Insights matches,
//! with Unicode case folding for `(?i)` (which AWS documents:
//! `filter f1 like /(?i)Exception/`), and a bound on the compiled size.

use regex::{Regex, RegexBuilder};

use super::QueryError;

/// Compiled programs beyond this many bytes are refused (the crate default is 10 MiB).
const SIZE_LIMIT: usize = 4 << 20;

/// Compiles `pattern` (unanchored, as Insights matches).
pub(super) fn compile(pattern: &str) -> Result<Regex, QueryError> {
    RegexBuilder::new(pattern).size_limit(SIZE_LIMIT).build().map_err(|e| QueryError::InvalidRegex {
        pattern: pattern.to_string(),
        reason: first_error_line(&e.to_string()),
    })
}

/// The `error: …` line of a regex error (they come with a caret diagram).
fn first_error_line(message: &str) -> String {
    let line = message.lines().find_map(|l| l.trim().strip_prefix("error:")).unwrap_or(message);
    line.trim().to_string()
}
