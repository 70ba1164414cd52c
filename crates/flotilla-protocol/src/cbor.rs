//! Smithy RPC v2 CBOR bodies, translated to and from the AWS JSON the modules speak.
//!
//! A small codec for the part of CBOR (RFC 8949) the protocol uses: integers, floats
//! (half, single, double), byte and text strings, arrays and maps (definite or
//! indefinite length), `true`/`false`/`null`/`undefined`, and tag 1 (epoch-seconds
//! timestamps). It is written here rather than taken from a crate because both
//! directions need a translation of their own anyway (see below), and the decoder
//! must hold to limits a generic one does not: bounded nesting, no allocation sized by
//! a declared length, text keys only, no duplicate keys.
//!
//! * Requests ([`decode`]): a CBOR item becomes the JSON AWS JSON would have carried —
//!   byte strings become base64 text, tag 1 timestamps their epoch-seconds number, NaN
//!   and the infinities the strings `"NaN"`, `"Infinity"`, `"-Infinity"` (as botocore
//!   writes them in JSON), `undefined` `null`. Anything else is refused.
//! * Answers ([`encode`]): JSON becomes CBOR item for item. JSON cannot tell a timestamp
//!   or a blob from a number or a string, so the operation names the answer members
//!   holding them ([`CborOutput`]); those are written as tag 1 and as byte strings.

use crate::module::CborOutput;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Number, Value};
use thiserror::Error;

/// The deepest nesting of arrays, maps and tags read (serde_json's own limit).
pub const MAX_DEPTH: usize = 128;

const MAJOR_UNSIGNED: u8 = 0;
const MAJOR_NEGATIVE: u8 = 1;
const MAJOR_BYTES: u8 = 2;
const MAJOR_TEXT: u8 = 3;
const MAJOR_ARRAY: u8 = 4;
const MAJOR_MAP: u8 = 5;
const MAJOR_TAG: u8 = 6;
const BREAK: u8 = 0xff;
const TAG_EPOCH_SECONDS: u64 = 1;

/// Why a body is not CBOR this protocol carries (or an answer cannot be written).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CborError {
    #[error("the body ends inside a data item")]
    Truncated,
    #[error("{0} bytes follow the body's data item")]
    Trailing(usize),
    #[error("items are nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("additional information {0} is reserved")]
    Reserved(u8),
    #[error("major type {0} cannot have an indefinite length")]
    IndefiniteNotAllowed(u8),
    #[error("a break code stands outside an indefinite-length item")]
    UnexpectedBreak,
    #[error("a chunk of an indefinite-length string is not a definite string of the same type")]
    BadChunk,
    #[error("a text string is not valid UTF-8")]
    InvalidUtf8,
    #[error("map keys must be text strings")]
    NonTextKey,
    #[error("map key '{0}' appears twice")]
    DuplicateKey(String),
    #[error("tag {0} is not supported (only tag 1, an epoch-seconds timestamp, is)")]
    UnsupportedTag(u64),
    #[error("a timestamp (tag 1) must hold an integer or a finite float")]
    BadTimestamp,
    #[error("simple value {0} is not supported")]
    UnsupportedSimple(u8),
    #[error("the integer -1-{0} is below the smallest supported (-2^63)")]
    IntegerOutOfRange(u64),
    #[error("answer member '{0}' is marked as a blob but is not base64 text")]
    BadBlob(String),
}

/// Reads one CBOR item (the whole body) as the JSON value AWS JSON would carry.
pub fn decode(body: &[u8]) -> Result<Value, CborError> {
    let mut reader = Reader { input: body, pos: 0 };
    let value = reader.item(0)?;
    match body.len() - reader.pos {
        0 => Ok(value),
        n => Err(CborError::Trailing(n)),
    }
}

/// Writes an answer's JSON as CBOR, typing the members `output` names.
pub fn encode(value: &Value, output: &CborOutput) -> Result<Vec<u8>, CborError> {
    let mut out = Vec::new();
    write_value(&mut out, value, Mark::Plain, output)?;
    Ok(out)
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, CborError> {
        let b = *self.input.get(self.pos).ok_or(CborError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    fn peek(&self) -> Result<u8, CborError> {
        self.input.get(self.pos).copied().ok_or(CborError::Truncated)
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], CborError> {
        let n = usize::try_from(n).map_err(|_| CborError::Truncated)?;
        if n > self.input.len() - self.pos {
            return Err(CborError::Truncated);
        }
        let bytes = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    /// Consumes a break code if one is next.
    fn at_break(&mut self) -> Result<bool, CborError> {
        let is_break = self.peek()? == BREAK;
        if is_break {
            self.pos += 1;
        }
        Ok(is_break)
    }

    /// The argument of an initial byte: `None` for an indefinite length.
    fn argument(&mut self, info: u8) -> Result<Option<u64>, CborError> {
        let width = match info {
            0..=23 => return Ok(Some(u64::from(info))),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            31 => return Ok(None),
            _ => return Err(CborError::Reserved(info)),
        };
        let bytes = self.take(width)?;
        Ok(Some(bytes.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b))))
    }

    fn definite(&mut self, major: u8, info: u8) -> Result<u64, CborError> {
        self.argument(info)?.ok_or(CborError::IndefiniteNotAllowed(major))
    }

    /// The content of a byte or text string, joining the chunks of an indefinite one.
    fn string(&mut self, major: u8, info: u8) -> Result<Vec<u8>, CborError> {
        let check = |chunk: &[u8]| match major {
            MAJOR_TEXT => std::str::from_utf8(chunk).map(|_| ()).map_err(|_| CborError::InvalidUtf8),
            _ => Ok(()),
        };
        if let Some(n) = self.argument(info)? {
            let bytes = self.take(n)?;
            check(bytes)?;
            return Ok(bytes.to_vec());
        }
        let mut joined = Vec::new();
        while !self.at_break()? {
            let initial = self.byte()?;
            if initial >> 5 != major {
                return Err(CborError::BadChunk);
            }
            let n = self.argument(initial & 0x1f)?.ok_or(CborError::BadChunk)?;
            let chunk = self.take(n)?;
            check(chunk)?;
            joined.extend_from_slice(chunk);
        }
        Ok(joined)
    }

    fn text(&mut self, info: u8) -> Result<String, CborError> {
        String::from_utf8(self.string(MAJOR_TEXT, info)?).map_err(|_| CborError::InvalidUtf8)
    }

    fn item(&mut self, depth: usize) -> Result<Value, CborError> {
        let initial = self.byte()?;
        let (major, info) = (initial >> 5, initial & 0x1f);
        if matches!(major, MAJOR_ARRAY | MAJOR_MAP | MAJOR_TAG) && depth >= MAX_DEPTH {
            return Err(CborError::TooDeep);
        }
        Ok(match major {
            MAJOR_UNSIGNED => Value::from(self.definite(major, info)?),
            MAJOR_NEGATIVE => {
                let n = self.definite(major, info)?;
                let n = i64::try_from(n).map_err(|_| CborError::IntegerOutOfRange(n))?;
                Value::from(-1 - n)
            }
            MAJOR_BYTES => Value::String(BASE64.encode(self.string(major, info)?)),
            MAJOR_TEXT => Value::String(self.text(info)?),
            MAJOR_ARRAY => {
                let mut items = Vec::new();
                match self.argument(info)? {
                    Some(n) => {
                        for _ in 0..n {
                            items.push(self.item(depth + 1)?);
                        }
                    }
                    None => {
                        while !self.at_break()? {
                            items.push(self.item(depth + 1)?);
                        }
                    }
                }
                Value::Array(items)
            }
            MAJOR_MAP => {
                let mut map = Map::new();
                match self.argument(info)? {
                    Some(n) => {
                        for _ in 0..n {
                            self.entry(&mut map, depth)?;
                        }
                    }
                    None => {
                        while !self.at_break()? {
                            self.entry(&mut map, depth)?;
                        }
                    }
                }
                Value::Object(map)
            }
            MAJOR_TAG => match self.definite(major, info)? {
                TAG_EPOCH_SECONDS => {
                    let inner = self.peek()?;
                    let numeric = matches!(inner >> 5, MAJOR_UNSIGNED | MAJOR_NEGATIVE) || matches!(inner, 0xf9..=0xfb);
                    match self.item(depth + 1)? {
                        Value::Number(n) if numeric => Value::Number(n),
                        _ => return Err(CborError::BadTimestamp),
                    }
                }
                tag => return Err(CborError::UnsupportedTag(tag)),
            },
            _ => self.simple(info)?,
        })
    }

    fn entry(&mut self, map: &mut Map<String, Value>, depth: usize) -> Result<(), CborError> {
        let initial = self.byte()?;
        if initial >> 5 != MAJOR_TEXT {
            return Err(if initial == BREAK { CborError::UnexpectedBreak } else { CborError::NonTextKey });
        }
        let key = self.text(initial & 0x1f)?;
        let value = self.item(depth + 1)?;
        if map.contains_key(&key) {
            return Err(CborError::DuplicateKey(key));
        }
        map.insert(key, value);
        Ok(())
    }

    /// Major type 7: simple values and floats.
    fn simple(&mut self, info: u8) -> Result<Value, CborError> {
        let float = match info {
            20 => return Ok(Value::Bool(false)),
            21 => return Ok(Value::Bool(true)),
            22 | 23 => return Ok(Value::Null),
            24 => return Err(CborError::UnsupportedSimple(self.byte()?)),
            25 => {
                let b = self.take(2)?;
                half_to_f64(u16::from_be_bytes([b[0], b[1]]))
            }
            26 => {
                let b = self.take(4)?;
                f64::from(f32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            }
            27 => {
                let b = self.take(8)?;
                f64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
            }
            28..=30 => return Err(CborError::Reserved(info)),
            31 => return Err(CborError::UnexpectedBreak),
            _ => return Err(CborError::UnsupportedSimple(info)),
        };
        Ok(match Number::from_f64(float) {
            Some(n) => Value::Number(n),
            None if float.is_nan() => Value::from("NaN"),
            None if float > 0.0 => Value::from("Infinity"),
            None => Value::from("-Infinity"),
        })
    }
}

/// An IEEE 754 half-precision float (1 sign bit, 5 exponent bits, 10 fraction bits).
fn half_to_f64(bits: u16) -> f64 {
    let exponent = i32::from((bits >> 10) & 0x1f);
    let fraction = f64::from(bits & 0x3ff);
    let magnitude = match exponent {
        0 => fraction * 2f64.powi(-24),
        31 if fraction == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (1.0 + fraction / 1024.0) * 2f64.powi(exponent - 15),
    };
    if bits & 0x8000 != 0 { -magnitude } else { magnitude }
}

/// How a value is written: as JSON says, or as the member that holds it is marked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark<'a> {
    Plain,
    Timestamp,
    /// A blob, in the member of this name.
    Blob(&'a str),
}

/// An initial byte and its argument, in the shortest form.
fn write_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend([m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend((n as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend(n.to_be_bytes());
        }
    }
}

fn write_text(out: &mut Vec<u8>, text: &str) {
    write_head(out, MAJOR_TEXT, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

fn write_value(out: &mut Vec<u8>, value: &Value, mark: Mark<'_>, output: &CborOutput) -> Result<(), CborError> {
    match value {
        Value::Null => out.push(0xf6),
        Value::Bool(false) => out.push(0xf4),
        Value::Bool(true) => out.push(0xf5),
        Value::Number(n) => {
            if mark == Mark::Timestamp {
                write_head(out, MAJOR_TAG, TAG_EPOCH_SECONDS);
            }
            if let Some(u) = n.as_u64() {
                write_head(out, MAJOR_UNSIGNED, u);
            } else if let Some(i) = n.as_i64() {
                // Negative here: CBOR writes -1 - i, which fits for every i64.
                write_head(out, MAJOR_NEGATIVE, (-1 - i) as u64);
            } else {
                out.push(0xfb);
                out.extend(n.as_f64().unwrap_or(f64::NAN).to_be_bytes());
            }
        }
        Value::String(s) => match mark {
            Mark::Blob(name) => {
                let bytes = BASE64.decode(s).map_err(|_| CborError::BadBlob(name.to_string()))?;
                write_head(out, MAJOR_BYTES, bytes.len() as u64);
                out.extend_from_slice(&bytes);
            }
            _ => write_text(out, s),
        },
        Value::Array(items) => {
            write_head(out, MAJOR_ARRAY, items.len() as u64);
            for item in items {
                write_value(out, item, mark, output)?;
            }
        }
        Value::Object(members) => {
            write_head(out, MAJOR_MAP, members.len() as u64);
            for (name, member) in members {
                write_text(out, name);
                let mark = if output.timestamps.contains(&name.as_str()) {
                    Mark::Timestamp
                } else if output.blobs.contains(&name.as_str()) {
                    Mark::Blob(name)
                } else {
                    Mark::Plain
                };
                write_value(out, member, mark, output)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
