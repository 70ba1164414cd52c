//! Term patterns for unstructured messages: `ERROR Exception`, `"exact phrase"`,
//! `ERROR -Exiting`, `?ERROR ?WARN`.
//!
//! Terms are case-sensitive substrings. Plain terms must all appear and `-` terms
//! must not; `?` terms count only when the pattern has nothing else, and then any
//! one of them is enough (AWS ignores `?` terms mixed with other terms). A phrase
//! holding only whitespace, such as `" "`, matches everything.

use super::FilterError;
use super::lexer::Cursor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Required,
    Excluded,
    Optional,
}

/// A parsed term pattern.
#[derive(Debug, Clone, Default)]
pub(super) struct TermsPattern {
    required: Vec<String>,
    excluded: Vec<String>,
    optional: Vec<String>,
}

impl TermsPattern {
    pub(super) fn parse(pattern: &str) -> Result<TermsPattern, FilterError> {
        let mut cursor = Cursor::new(pattern);
        let mut terms = TermsPattern::default();
        loop {
            cursor.skip_whitespace();
            let Some(first) = cursor.peek() else { break };
            let (role, term) = read_term(&mut cursor, first)?;
            terms.add(role, term);
        }
        Ok(terms)
    }

    fn add(&mut self, role: Role, term: String) {
        let term = if term.trim().is_empty() { String::new() } else { term };
        match role {
            Role::Required if !term.is_empty() => self.required.push(term),
            Role::Excluded if !term.is_empty() => self.excluded.push(term),
            Role::Optional => self.optional.push(term),
            Role::Required | Role::Excluded => {}
        }
    }

    pub(super) fn matches(&self, message: &str) -> bool {
        if self.required.is_empty() && self.excluded.is_empty() {
            return self.optional.is_empty() || self.optional.iter().any(|term| message.contains(term.as_str()));
        }
        self.required.iter().all(|term| message.contains(term.as_str()))
            && !self.excluded.iter().any(|term| message.contains(term.as_str()))
    }
}

/// Reads one term with its `?` or `-` prefix. A prefix standing alone applies to the
/// next term (`"ERROR" - "Exiting"`), or is itself a term at the end of the pattern.
fn read_term(cursor: &mut Cursor, first: char) -> Result<(Role, String), FilterError> {
    let role = match first {
        '?' => Role::Optional,
        '-' => Role::Excluded,
        _ => return Ok((Role::Required, read_text(cursor)?)),
    };
    cursor.bump();
    cursor.skip_whitespace();
    if cursor.peek().is_none() {
        return Ok((Role::Required, first.to_string()));
    }
    Ok((role, read_text(cursor)?))
}

/// Reads a quoted phrase or a bare word, which must end at whitespace or the end.
fn read_text(cursor: &mut Cursor) -> Result<String, FilterError> {
    if cursor.peek() == Some('"') {
        let phrase = cursor.read_quoted()?;
        let trailing = cursor.take_while(|c| !c.is_whitespace());
        if trailing.is_empty() {
            return Ok(phrase);
        }
        return Err(FilterError::InvalidCharacter(format!("\"{phrase}\"{trailing}")));
    }
    let word = cursor.take_while(|c| !c.is_whitespace());
    if word.contains('"') {
        return Err(FilterError::InvalidCharacter(word));
    }
    Ok(word)
}
