//! A small JSON reader that keeps positions, so a refused pattern can say where.
//!
//! `serde_json::Value` forgets where each value was and how a number was written;
//! the pattern compiler needs both (AWS reports the line and column of a mistake, and
//! checks numbers as written). Objects keep every key in order, repeats included: the
//! compiler decides what a repeated key means. Nesting is bounded by the caller's
//! depth limit, so no input can exhaust the stack.

/// A JSON value with the byte offsets of its first and one-past-last character.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub kind: Kind,
    /// Offset of the value's first character.
    pub start: usize,
    /// Offset just past the value's last character.
    pub end: usize,
}

/// What a [`Node`] holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Null,
    Bool(bool),
    /// A number as written (valid JSON number syntax).
    Number(String),
    String(String),
    Array(Vec<Node>),
    Object(Vec<Member>),
}

/// One `"key": value` of an object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Member {
    pub key: String,
    /// Offset just past the key's closing quote.
    pub key_end: usize,
    pub value: Node,
}

impl Node {
    /// The value's first token as Jackson's messages print it (`[` for an array).
    pub fn token_text(&self) -> String {
        match &self.kind {
            Kind::Null => "null".into(),
            Kind::Bool(b) => b.to_string(),
            Kind::Number(n) => n.clone(),
            Kind::String(s) => s.clone(),
            Kind::Array(_) => "[".into(),
            Kind::Object(_) => "{".into(),
        }
    }
}

/// A syntax error: what was wrong and the offset just past the offending character.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SyntaxError {
    pub message: String,
    pub offset: usize,
}

/// Parses one JSON document; anything but whitespace after it is an error.
pub(crate) fn parse(text: &str, max_depth: usize) -> Result<Node, SyntaxError> {
    let mut reader = Reader { text, bytes: text.as_bytes(), pos: 0, max_depth };
    reader.skip_whitespace();
    let node = reader.value(0)?;
    reader.skip_whitespace();
    if reader.pos < reader.bytes.len() {
        return Err(reader.unexpected("expected end of input after the pattern"));
    }
    Ok(node)
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    max_depth: usize,
}

const VALUE_EXPECTED: &str =
    "expected a valid value (JSON String, Number, Array, Object or token 'null', 'true' or 'false')";

impl Reader<'_> {
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn error(&self, message: impl Into<String>, offset: usize) -> SyntaxError {
        SyntaxError { message: message.into(), offset }
    }

    /// "Unexpected character ('x' (code 120)): <expectation>", positioned after the character.
    fn unexpected(&self, expectation: &str) -> SyntaxError {
        match self.text[self.pos..].chars().next() {
            Some(c) => self.error(
                format!("Unexpected character ('{c}' (code {})): {expectation}", u32::from(c)),
                self.pos + c.len_utf8(),
            ),
            None => self.error(format!("Unexpected end-of-input: {expectation}"), self.pos),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, SyntaxError> {
        let start = self.pos;
        let kind = match self.bytes.get(self.pos) {
            None => return Err(self.error(format!("Unexpected end-of-input: {VALUE_EXPECTED}"), self.pos)),
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => Kind::String(self.string()?),
            Some(b'-' | b'0'..=b'9') => Kind::Number(self.number()?),
            Some(b'a'..=b'z' | b'A'..=b'Z') => self.keyword()?,
            Some(_) => return Err(self.unexpected(VALUE_EXPECTED)),
        };
        Ok(Node { kind, start, end: self.pos })
    }

    fn enter(&self, depth: usize) -> Result<usize, SyntaxError> {
        if depth >= self.max_depth {
            return Err(self.error(
                format!("Document nesting depth exceeds the maximum allowed ({})", self.max_depth),
                self.pos + 1,
            ));
        }
        Ok(depth + 1)
    }

    fn object(&mut self, depth: usize) -> Result<Kind, SyntaxError> {
        let depth = self.enter(depth)?;
        self.pos += 1; // '{'
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Kind::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.bytes.get(self.pos) != Some(&b'"') {
                return Err(self.unexpected("was expecting double-quote to start field name"));
            }
            let key = self.string()?;
            let key_end = self.pos;
            self.skip_whitespace();
            if self.bytes.get(self.pos) != Some(&b':') {
                return Err(self.unexpected("was expecting a colon to separate field name and value"));
            }
            self.pos += 1;
            self.skip_whitespace();
            let value = self.value(depth)?;
            members.push(Member { key, key_end, value });
            self.skip_whitespace();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Kind::Object(members));
                }
                None => return Err(self.error("Unexpected end-of-input: expected close marker for OBJECT", self.pos)),
                Some(_) => return Err(self.unexpected("was expecting comma to separate Object entries")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Kind, SyntaxError> {
        let depth = self.enter(depth)?;
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Kind::Array(items));
        }
        loop {
            self.skip_whitespace();
            items.push(self.value(depth)?);
            self.skip_whitespace();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Kind::Array(items));
                }
                None => return Err(self.error("Unexpected end-of-input: expected close marker for ARRAY", self.pos)),
                Some(_) => return Err(self.unexpected("was expecting comma to separate Array entries")),
            }
        }
    }

    /// A quoted string, `self.pos` at its opening quote; unescaped.
    fn string(&mut self) -> Result<String, SyntaxError> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[run_start..self.pos]);
            match self.bytes.get(self.pos) {
                None => {
                    return Err(
                        self.error("Unexpected end-of-input: was expecting closing quote for a string value", self.pos)
                    );
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    out.push(self.escape()?);
                }
                Some(&b) => {
                    return Err(self.error(
                        format!(
                            "Illegal unquoted character ((CTRL-CHAR, code {b})): has to be escaped using backslash to be included in string value"
                        ),
                        self.pos + 1,
                    ));
                }
            }
        }
    }

    /// One escape sequence, `self.pos` just after its backslash.
    fn escape(&mut self) -> Result<char, SyntaxError> {
        let Some(&b) = self.bytes.get(self.pos) else {
            return Err(self.error("Unexpected end-of-input in character escape sequence", self.pos));
        };
        self.pos += 1;
        Ok(match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let high = self.hex4()?;
                if (0xD800..0xDC00).contains(&high) {
                    if self.bytes.get(self.pos) == Some(&b'\\') && self.bytes.get(self.pos + 1) == Some(&b'u') {
                        self.pos += 2;
                        let low = self.hex4()?;
                        if (0xDC00..0xE000).contains(&low) {
                            let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                            return char::from_u32(code).ok_or_else(|| self.error("Invalid unicode escape", self.pos));
                        }
                    }
                    return Err(self.error("Unpaired surrogate in unicode escape", self.pos));
                }
                return char::from_u32(high)
                    .ok_or_else(|| self.error("Unpaired surrogate in unicode escape", self.pos));
            }
            _ => {
                let c = self.text[self.pos - 1..].chars().next().unwrap_or('?');
                self.pos += c.len_utf8() - 1;
                return Err(
                    self.error(format!("Unrecognized character escape '{c}' (code {})", u32::from(c)), self.pos)
                );
            }
        })
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let mut value = 0;
        for _ in 0..4 {
            let digit = self.bytes.get(self.pos).and_then(|b| (*b as char).to_digit(16));
            let Some(digit) = digit else {
                return Err(self.unexpected("expected a hex-digit for character escape sequence"));
            };
            value = value * 16 + digit;
            self.pos += 1;
        }
        Ok(value)
    }

    /// A number, checked against JSON's grammar and returned as written.
    fn number(&mut self) -> Result<String, SyntaxError> {
        let start = self.pos;
        if self.bytes.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        self.digits();
        let int_digits = self.pos - int_start;
        if int_digits == 0 {
            return Err(self.unexpected("expected digit (0-9) to follow minus sign, for valid numeric value"));
        }
        if int_digits > 1 && self.bytes[int_start] == b'0' {
            return Err(self.error("Invalid numeric value: Leading zeroes not allowed", int_start + 1));
        }
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.unexpected("Decimal point not followed by a digit"));
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.unexpected("Exponent indicator not followed by a digit"));
            }
        }
        if let Some(b) = self.bytes.get(self.pos)
            && (b.is_ascii_alphabetic() || *b == b'_')
        {
            return Err(self.unexpected("Expected space separating root-level values"));
        }
        Ok(self.text[start..self.pos].to_string())
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `true`, `false` or `null`; any other word is an unrecognized token.
    fn keyword(&mut self) -> Result<Kind, SyntaxError> {
        let start = self.pos;
        while let Some(b) = self.bytes.get(self.pos) {
            if !(b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-' || *b >= 0x80) {
                break;
            }
            self.pos += 1;
        }
        // A multi-byte character may have been cut by the byte scan above.
        while !self.text.is_char_boundary(self.pos) {
            self.pos += 1;
        }
        match &self.text[start..self.pos] {
            "true" => Ok(Kind::Bool(true)),
            "false" => Ok(Kind::Bool(false)),
            "null" => Ok(Kind::Null),
            word => Err(self.error(
                format!(
                    "Unrecognized token '{word}': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
                ),
                self.pos,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_values_with_positions() {
        let node = parse(r#"{"a": [1, -2.5e3, "x\"y", true, null], "a": {}}"#, 10).unwrap();
        let Kind::Object(members) = node.kind else { panic!("object expected") };
        assert_eq!(members.len(), 2, "repeated keys are kept");
        assert_eq!(members[0].key, "a");
        assert_eq!(members[0].key_end, 4);
        let Kind::Array(items) = &members[0].value.kind else { panic!("array expected") };
        assert_eq!(items[1].kind, Kind::Number("-2.5e3".into()));
        assert_eq!(items[2].kind, Kind::String("x\"y".into()));
        assert_eq!((items[0].start, items[0].end), (7, 8));
    }

    #[test]
    fn refuses_bad_syntax() {
        let cases = [
            ("{", "end-of-input"),
            ("{\"a\": 1", "expected close marker for OBJECT"),
            ("{\"a\" 1}", "colon"),
            ("[1 2]", "comma to separate Array"),
            ("{a: 1}", "double-quote to start field name"),
            ("01", "Leading zeroes"),
            ("tru", "Unrecognized token 'tru'"),
            ("\"\\x\"", "Unrecognized character escape"),
            ("\"a\nb\"", "CTRL-CHAR"),
            ("{} x", "end of input"),
            ("[[[[[", "nesting depth"),
            ("\"\\ud800\"", "surrogate"),
            ("1.", "Decimal point"),
            ("", "end-of-input"),
        ];
        for (text, expected) in cases {
            let error = parse(text, 4).expect_err(text);
            assert!(error.message.contains(expected), "{text:?}: {}", error.message);
            assert!(error.offset <= text.len(), "{text:?}");
        }
    }

    #[test]
    fn decodes_unicode_escapes() {
        let node = parse(r#""\u00e9\ud83d\ude00""#, 1).unwrap();
        assert_eq!(node.kind, Kind::String("é😀".into()));
    }
}
