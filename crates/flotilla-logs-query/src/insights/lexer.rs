//! The tokenizer: turns query text into tokens with their byte spans.
//!
//! Words (`fields`, `@timestamp`, `a.b.0.c`) are [`Tok::Word`]; keywords are words the
//! parser recognises case-insensitively. Backticks quote any field name
//! (`` `foo-bar` ``). Strings take single or double quotes with backslash escapes.
//! A number directly followed by letters is a time period (`5m`, `1hr`). `#` starts a
//! comment to the end of the line.
//!
//! A `/` starts a regular expression where a value is expected (at the start, after
//! an operator, `(`, `[`, `,`, `|`, the words `like`, `not`, `in`, `and`, `or`, `parse`,
//! or the field name after `parse`) and is division elsewhere. Inside a regular
//! expression `\/` is a literal slash.

use super::QueryError;

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// A bare word: field name, keyword, command or function name.
    Word(String),
    /// A field name in backticks.
    Quoted(String),
    /// A string literal, escapes resolved.
    Str(String),
    /// A number literal.
    Num(f64),
    /// A number followed by a unit, as written (`5m`): the number and the unit.
    Period(String, String),
    /// A regular expression between slashes, `\/` resolved.
    Regex(String),
    Pipe,
    Comma,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `=~`
    Match,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Caret,
}

/// A token and where it is in the query.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub(super) tok: Tok,
    /// Byte offset of its first character.
    pub(super) start: usize,
    /// Byte offset just past its last character.
    pub(super) end: usize,
    /// Whether a line break separates it from the previous token.
    pub(super) line_start: bool,
}

/// 1-based line and column (in characters) of a byte offset.
pub(super) fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = src.get(..offset).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Words after which a `/` starts a regular expression.
const REGEX_AFTER_WORDS: [&str; 7] = ["like", "not", "in", "and", "or", "parse", "filter"];

/// Splits `src` into tokens.
pub(super) fn tokenize(src: &str) -> Result<Vec<Token>, QueryError> {
    let mut out: Vec<Token> = Vec::new();
    let mut chars = src.char_indices().peekable();
    let mut line_start = true;
    while let Some(&(start, c)) = chars.peek() {
        if c == '\n' {
            line_start = true;
            chars.next();
            continue;
        }
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '#' {
            while chars.peek().is_some_and(|&(_, c)| c != '\n') {
                chars.next();
            }
            continue;
        }
        let err_at = |what: &'static str| {
            let (line, column) = line_col(src, start);
            QueryError::Unterminated { what, line, column }
        };
        chars.next();
        let tok = match c {
            '|' => Tok::Pipe,
            ',' => Tok::Comma,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            '+' => Tok::Plus,
            '-' => Tok::Minus,
            '*' => Tok::Star,
            '%' => Tok::Percent,
            '^' => Tok::Caret,
            '=' if chars.next_if(|&(_, c)| c == '~').is_some() => Tok::Match,
            '=' => Tok::Eq,
            '!' if chars.next_if(|&(_, c)| c == '=').is_some() => Tok::Ne,
            '<' if chars.next_if(|&(_, c)| c == '=').is_some() => Tok::Le,
            '<' => Tok::Lt,
            '>' if chars.next_if(|&(_, c)| c == '=').is_some() => Tok::Ge,
            '>' => Tok::Gt,
            '/' if regex_allowed(&out) => {
                let mut pattern = String::new();
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    match c {
                        '/' => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next() {
                            Some((_, '/')) => pattern.push('/'),
                            Some((_, other)) => {
                                pattern.push('\\');
                                pattern.push(other);
                            }
                            None => pattern.push('\\'),
                        },
                        other => pattern.push(other),
                    }
                }
                if !closed {
                    return Err(err_at("regular expression"));
                }
                Tok::Regex(pattern)
            }
            '/' => Tok::Slash,
            '"' | '\'' => {
                let mut text = String::new();
                let mut closed = false;
                while let Some((_, ch)) = chars.next() {
                    match ch {
                        _ if ch == c => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next() {
                            Some((_, 'n')) => text.push('\n'),
                            Some((_, 't')) => text.push('\t'),
                            Some((_, 'r')) => text.push('\r'),
                            Some((_, e @ ('\\' | '"' | '\''))) => text.push(e),
                            // Unknown escapes stay as written, so `"\d"` keeps its backslash.
                            Some((_, other)) => {
                                text.push('\\');
                                text.push(other);
                            }
                            None => text.push('\\'),
                        },
                        other => text.push(other),
                    }
                }
                if !closed {
                    return Err(err_at("string"));
                }
                Tok::Str(text)
            }
            '`' => {
                let mut name = String::new();
                let mut closed = false;
                for (_, ch) in chars.by_ref() {
                    if ch == '`' {
                        closed = true;
                        break;
                    }
                    name.push(ch);
                }
                if !closed {
                    return Err(err_at("quoted field name"));
                }
                Tok::Quoted(name)
            }
            c if c.is_ascii_digit() || (c == '.' && chars.peek().is_some_and(|&(_, d)| d.is_ascii_digit())) => {
                let mut number = String::from(c);
                let mut seen_dot = c == '.';
                while let Some(&(_, d)) = chars.peek() {
                    if d.is_ascii_digit() || (d == '.' && !seen_dot) {
                        seen_dot |= d == '.';
                        number.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                let mut unit = String::new();
                while let Some((_, u)) = chars.next_if(|&(_, u)| u.is_alphabetic()) {
                    unit.push(u);
                }
                if unit.is_empty() {
                    match number.parse::<f64>() {
                        Ok(n) if n.is_finite() => Tok::Num(n),
                        _ => {
                            let (line, column) = line_col(src, start);
                            return Err(QueryError::UnexpectedCharacter { found: c, line, column });
                        }
                    }
                } else {
                    Tok::Period(number, unit)
                }
            }
            c if is_word_start(c) => {
                let mut word = String::from(c);
                while let Some((_, w)) = chars.next_if(|&(_, w)| is_word_char(w)) {
                    word.push(w);
                }
                Tok::Word(word)
            }
            other => {
                let (line, column) = line_col(src, start);
                return Err(QueryError::UnexpectedCharacter { found: other, line, column });
            }
        };
        let end = chars.peek().map_or(src.len(), |&(i, _)| i);
        out.push(Token { tok, start, end, line_start });
        line_start = false;
    }
    Ok(out)
}

fn is_word_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '@' || c == '$'
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '@' || c == '.' || c == '$'
}

/// Whether a `/` after these tokens starts a regular expression.
fn regex_allowed(prev: &[Token]) -> bool {
    let Some(last) = prev.last() else { return true };
    match &last.tok {
        Tok::Word(w) if REGEX_AFTER_WORDS.iter().any(|k| w.eq_ignore_ascii_case(k)) => true,
        Tok::Word(_) | Tok::Quoted(_) => {
            // `parse @message /…/`
            prev.len() >= 2
                && prev
                    .get(prev.len() - 2)
                    .is_some_and(|t| matches!(&t.tok, Tok::Word(w) if w.eq_ignore_ascii_case("parse")))
        }
        Tok::Str(_) | Tok::Num(_) | Tok::Period(..) | Tok::Regex(_) | Tok::RParen | Tok::RBracket => false,
        _ => true,
    }
}
