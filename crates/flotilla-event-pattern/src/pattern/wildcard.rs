//! `wildcard` values: `*` stands for any run of characters (none included).
//!
//! AWS's rules: `\*` is a literal asterisk and `\\` a literal backslash; any other
//! backslash, and two `*` in a row, are refused, with the position counted in UTF-8
//! bytes from the opening quote as event-ruler counts it. Matching is linear in the
//! text for each literal piece found (no backtracking blow-up).

/// A parsed wildcard value: literal pieces with a `*` between each two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wildcard {
    /// Never empty: `pieces.len() - 1` is the number of `*`.
    pieces: Vec<String>,
}

impl Wildcard {
    /// Parses a wildcard value, refusing bad escapes and consecutive `*`.
    pub fn parse(text: &str) -> Result<Wildcard, String> {
        let bytes = text.as_bytes();
        let mut pieces = Vec::new();
        let mut current = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            // event-ruler counts from the opening quote it adds around the value.
            let position = at + 1;
            match c {
                '*' => {
                    if bytes.get(at + 1) == Some(&b'*') {
                        return Err(format!("Consecutive wildcard characters at pos {position}"));
                    }
                    pieces.push(std::mem::take(&mut current));
                }
                '\\' => match chars.peek() {
                    Some(&(_, escaped @ ('*' | '\\'))) => {
                        chars.next();
                        current.push(escaped);
                    }
                    _ => return Err(format!("Invalid escape character at pos {position}")),
                },
                _ => current.push(c),
            }
        }
        pieces.push(current);
        Ok(Wildcard { pieces })
    }

    /// Whether the whole text matches.
    pub fn matches(&self, text: &str) -> bool {
        let Some((first, rest)) = self.pieces.split_first() else { return false };
        let Some((last, middle)) = rest.split_last() else {
            return text == first;
        };
        if text.len() < first.len() + last.len() || !text.starts_with(first.as_str()) || !text.ends_with(last.as_str())
        {
            return false;
        }
        // The middle pieces, leftmost first, in what the first and last leave.
        let mut remaining = &text[first.len()..text.len() - last.len()];
        for piece in middle {
            match remaining.find(piece.as_str()) {
                Some(at) => remaining = &remaining[at + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_like_aws() {
        let rows = [
            ("Simple*Service", "SimpleQueueService", true),
            ("Simple*Service", "SimpleService", true),
            ("Simple*Service", "SimpleServices", false),
            ("*", "", true),
            ("*", "anything", true),
            ("a*b*c", "abc", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "acb", false),
            ("ab*ba", "aba", false),
            ("arn:aws:events:us-east-1:*:event-bus/*", "arn:aws:events:us-east-1:123:event-bus/default", true),
            (r"a\*b", "a*b", true),
            (r"a\*b", "aXb", false),
            (r"a\\*", r"a\bc", true),
            ("*.png", ".png", true),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("é*ü", "éaü", true),
        ];
        for (pattern, text, expected) in rows {
            assert_eq!(Wildcard::parse(pattern).unwrap().matches(text), expected, "{pattern:?} on {text:?}");
        }
    }

    #[test]
    fn refuses_like_aws() {
        assert_eq!(Wildcard::parse("a**b"), Err("Consecutive wildcard characters at pos 2".into()));
        assert_eq!(Wildcard::parse(r"a\b"), Err("Invalid escape character at pos 2".into()));
        assert_eq!(Wildcard::parse("ab\\"), Err("Invalid escape character at pos 3".into()));
    }
}
