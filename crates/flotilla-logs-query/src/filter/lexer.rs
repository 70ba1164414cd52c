//! Tokens of the body of a JSON (`{ … }`) or space-delimited (`[ … ]`) pattern, and
//! the character cursor the term parser shares.

use std::fmt;

use super::FilterError;
use super::value::CmpOp;

/// One token of a JSON or space-delimited pattern body.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    LParen,
    RParen,
    And,
    Or,
    Comma,
    Op(CmpOp),
    /// A bare word: a selector, a field name, a number, a keyword or an unquoted string.
    Word(String),
    /// A `"…"` string, escapes resolved.
    Quoted(String),
    /// A `%…%` regular expression, delimiters removed.
    Regex(String),
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::LParen => f.write_str("'('"),
            Token::RParen => f.write_str("')'"),
            Token::And => f.write_str("'&&'"),
            Token::Or => f.write_str("'||'"),
            Token::Comma => f.write_str("','"),
            Token::Op(op) => write!(f, "'{}'", op.symbol()),
            Token::Word(word) => write!(f, "'{word}'"),
            Token::Quoted(text) => write!(f, "'\"{text}\"'"),
            Token::Regex(body) => write!(f, "'%{body}%'"),
        }
    }
}

/// Splits a pattern body into tokens.
pub(super) fn tokenize(body: &str) -> Result<Vec<Token>, FilterError> {
    let mut cursor = Cursor::new(body);
    let mut tokens = Vec::new();
    loop {
        cursor.skip_whitespace();
        let Some(c) = cursor.peek() else { break };
        tokens.push(next_token(&mut cursor, c)?);
    }
    Ok(tokens)
}

fn next_token(cursor: &mut Cursor, first: char) -> Result<Token, FilterError> {
    match first {
        '(' => Ok(punctuation(cursor, Token::LParen)),
        ')' => Ok(punctuation(cursor, Token::RParen)),
        ',' => Ok(punctuation(cursor, Token::Comma)),
        '"' => cursor.read_quoted().map(Token::Quoted),
        '%' => read_regex(cursor),
        c if is_operator_char(c) => read_operator(cursor),
        '$' => Ok(Token::Word(read_selector_word(cursor))),
        _ => Ok(Token::Word(cursor.take_while(|c| !ends_word(c)))),
    }
}

/// A one-character token.
fn punctuation(cursor: &mut Cursor, token: Token) -> Token {
    cursor.bump();
    token
}

fn is_operator_char(c: char) -> bool {
    matches!(c, '=' | '!' | '<' | '>' | '&' | '|')
}

/// Characters that end a bare word.
fn ends_word(c: char) -> bool {
    c.is_whitespace() || is_operator_char(c) || matches!(c, '(' | ')' | ',' | '"')
}

fn read_operator(cursor: &mut Cursor) -> Result<Token, FilterError> {
    let run = cursor.take_while(is_operator_char);
    let token = match run.as_str() {
        "=" => Token::Op(CmpOp::Eq),
        "!=" => Token::Op(CmpOp::Ne),
        "<" => Token::Op(CmpOp::Lt),
        "<=" => Token::Op(CmpOp::Le),
        ">" => Token::Op(CmpOp::Gt),
        ">=" => Token::Op(CmpOp::Ge),
        "&&" => Token::And,
        "||" => Token::Or,
        _ => return Err(FilterError::UnknownOperator(run)),
    };
    Ok(token)
}

fn read_regex(cursor: &mut Cursor) -> Result<Token, FilterError> {
    cursor.bump();
    let body = cursor.take_while(|c| c != '%');
    match cursor.bump() {
        Some('%') => Ok(Token::Regex(body)),
        _ => Err(FilterError::Unbalanced('%')),
    }
}

/// A word starting with `$`: like any word, except that a `[…]` part (which may hold
/// quoted keys with spaces or operator characters) is kept whole.
fn read_selector_word(cursor: &mut Cursor) -> String {
    let mut word = String::new();
    let mut in_bracket = false;
    let mut quote: Option<char> = None;
    while let Some(c) = cursor.peek() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
        } else if in_bracket {
            match c {
                '\'' | '"' => quote = Some(c),
                ']' => in_bracket = false,
                _ => {}
            }
        } else if c == '[' {
            in_bracket = true;
        } else if ends_word(c) {
            break;
        }
        word.push(c);
        cursor.bump();
    }
    word
}

/// A cursor over the characters of a pattern.
pub(super) struct Cursor {
    chars: Vec<char>,
    pos: usize,
}

impl Cursor {
    pub(super) fn new(text: &str) -> Cursor {
        Cursor { chars: text.chars().collect(), pos: 0 }
    }

    pub(super) fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    pub(super) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    pub(super) fn skip_whitespace(&mut self) {
        self.take_while(char::is_whitespace);
    }

    pub(super) fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let mut taken = String::new();
        while let Some(c) = self.peek().filter(|&c| keep(c)) {
            taken.push(c);
            self.pos += 1;
        }
        taken
    }

    /// Reads a `"…"` string starting at its opening quote; `\"` and `\\` are escapes,
    /// any other backslash is kept as it is.
    pub(super) fn read_quoted(&mut self) -> Result<String, FilterError> {
        self.bump();
        let mut text = String::new();
        loop {
            match self.bump().ok_or(FilterError::UnterminatedQuote)? {
                '"' => return Ok(text),
                '\\' => match self.bump().ok_or(FilterError::UnterminatedQuote)? {
                    c @ ('"' | '\\') => text.push(c),
                    c => {
                        text.push('\\');
                        text.push(c);
                    }
                },
                c => text.push(c),
            }
        }
    }
}
