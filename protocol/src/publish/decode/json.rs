//! JSON text into the tree the item decoder reads (§5.2, and `J` payloads of §5.3).
//!
//! JSON is read into the same [`Value`] tree as tnetstring input, so the item rules exist once.
//! The mapping: strings become byte strings, integers `Int`, other numbers `Float`, objects
//! `Dict` with every entry kept in order. The only loss is an integer beyond `i64`, which becomes
//! a float; Pushpin keeps every JSON number as a double, so it loses more.
//!
//! A string without escapes becomes a view of the input, not a copy (JSON content with escapes,
//! such as the `\n` of most stream content, is unescaped into its own buffer once).
//!
//! Limits: nesting is bounded by serde_json's recursion limit (127 levels), which this reader
//! keeps; size by the caller, who has the whole body in memory already.
//!
//! Like Pushpin's reader (Qt's), this one takes only an object or array at the top, skips a
//! UTF-8 byte order mark, allows whitespace but nothing else after the value, and takes raw
//! control characters inside strings (RFC 8259 wants them escaped; hand-built JSON often has a
//! raw newline). Such input is rewritten with escapes first, a copy paid only by bodies that hold
//! a control byte. Where Qt is looser still, gripway rejects: an escaped lone UTF-16 surrogate
//! (Qt publishes `?` for it), and nesting deeper than serde_json's 127 levels (Qt's limit is 1024;
//! an item needs 5, the rest is room for `body-patch` values).

use std::fmt;

use bytes::Bytes;
use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};

use crate::tnetstring::{share, Value};

/// The UTF-8 byte order mark, which Qt's JSON reader skips.
const BOM: &[u8] = b"\xef\xbb\xbf";

/// Why JSON text was not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::publish) enum JsonError {
    /// Not JSON, or JSON whose top-level value is neither an object nor an array.
    Syntax,
}

/// Reads `input` as one JSON object or array.
pub(in crate::publish) fn read(input: &Bytes) -> Result<Value, JsonError> {
    let text = input.strip_prefix(BOM).unwrap_or(input);
    match escape_raw_controls(text) {
        Some(escaped) => parse(&Bytes::from(escaped), None),
        None => parse(input, Some(text)),
    }
}

/// Parses `text`, a part of `input` (all of it when `None`); strings share `input`'s memory.
fn parse(input: &Bytes, text: Option<&[u8]>) -> Result<Value, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(text.unwrap_or(input));
    let value = Node { input }
        .deserialize(&mut de)
        .map_err(|_| JsonError::Syntax)?;
    de.end().map_err(|_| JsonError::Syntax)?;
    match value {
        Value::Dict(_) | Value::List(_) => Ok(value),
        _ => Err(JsonError::Syntax),
    }
}

/// `text` with every raw control character inside a string escaped as `\u00XX`, or `None` when
/// there is none (the usual case, found without looking at string boundaries when the text has
/// no control byte at all).
fn escape_raw_controls(text: &[u8]) -> Option<Vec<u8>> {
    if !text.iter().any(|&b| b < 0x20) {
        return None;
    }
    let mut out: Option<Vec<u8>> = None;
    let (mut in_string, mut escaped) = (false, false);
    for (i, &b) in text.iter().enumerate() {
        let raw_control = in_string && !escaped && b < 0x20;
        match b {
            _ if escaped => escaped = false,
            b'\\' if in_string => escaped = true,
            b'"' => in_string = !in_string,
            _ => {}
        }
        if raw_control {
            let out = out.get_or_insert_with(|| {
                let mut v = Vec::with_capacity(text.len() + 16);
                v.extend_from_slice(text.get(..i).unwrap_or_default());
                v
            });
            out.extend_from_slice(b"\\u00");
            out.extend_from_slice(&[hex_digit(b >> 4), hex_digit(b & 0xf)]);
        } else if let Some(out) = out.as_mut() {
            out.push(b);
        }
    }
    out
}

fn hex_digit(n: u8) -> u8 {
    if n < 10 {
        b'0' + n
    } else {
        b'a' + n - 10
    }
}

/// Builds one tree node; carries the input so borrowed strings become views of it.
#[derive(Clone, Copy)]
struct Node<'a> {
    input: &'a Bytes,
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(i64::try_from(u).map_or(Value::Float(u as f64), Value::Int))
    }

    fn visit_f64<E: serde::de::Error>(self, f: f64) -> Result<Value, E> {
        // serde_json rejects numbers out of f64's range, so this holds; checked anyway because
        // the tree promises finite floats.
        if f.is_finite() {
            Ok(Value::Float(f))
        } else {
            Err(E::custom("number out of range"))
        }
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Value, E> {
        Ok(Value::Bytes(share(self.input, s.as_bytes())))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Bytes(Bytes::copy_from_slice(s.as_bytes())))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::Bytes(Bytes::from(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key_seed(self)? {
            let Value::Bytes(key) = key else {
                return Err(A::Error::custom("object key is not a string"));
            };
            entries.push((key, map.next_value_seed(self)?));
        }
        Ok(Value::Dict(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_str(s: &str) -> Result<Value, JsonError> {
        read(&Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn maps_json_onto_the_tree() {
        let v = read_str(
            r#"{"s":"x","i":-3,"u":18446744073709551615,"f":1.5,"b":true,"n":null,"l":[1]}"#,
        )
        .unwrap();
        assert_eq!(v.get("s"), Some(&Value::from("x")));
        assert_eq!(v.get("i"), Some(&Value::Int(-3)));
        assert_eq!(v.get("u"), Some(&Value::Float(u64::MAX as f64)));
        assert_eq!(v.get("f"), Some(&Value::Float(1.5)));
        assert_eq!(v.get("b"), Some(&Value::Bool(true)));
        assert_eq!(v.get("n"), Some(&Value::Null));
        assert_eq!(v.get("l"), Some(&Value::List(vec![Value::Int(1)])));
    }

    #[test]
    fn unescaped_strings_share_the_input() {
        let input = Bytes::from_static(br#"{"k":"plain","e":"a\nb"}"#);
        let v = read(&input).unwrap();
        let plain = v.get("k").unwrap().as_bytes().unwrap();
        assert_eq!(plain.as_ptr(), input[6..].as_ptr());
        assert_eq!(v.get("e").unwrap().as_bytes().unwrap(), "a\nb");
    }

    #[test]
    fn top_level_and_framing_like_qt() {
        for ok in ["{}", "[]", "\u{feff}{}", " {} \n"] {
            assert!(read_str(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            "\"x\"",
            "null",
            "1",
            "{",
            "{} x",
            "{}{}",
            "{\"a\":1,\"a\"}",
        ] {
            assert_eq!(read_str(bad), Err(JsonError::Syntax), "{bad:?}");
        }
    }

    #[test]
    fn raw_control_characters_in_strings_like_qt() {
        let v = read_str("{\"a\":\"x\\\"\u{0}\n\u{1f}\",\n\"b\":\"\\\\\t\"}").unwrap();
        assert_eq!(v.get("a").unwrap().as_bytes().unwrap(), "x\"\u{0}\n\u{1f}");
        assert_eq!(v.get("b").unwrap().as_bytes().unwrap(), "\\\t");
        // Outside strings only JSON whitespace is allowed, as before.
        assert_eq!(read_str("{\u{1}}"), Err(JsonError::Syntax));
        assert_eq!(escape_raw_controls(b"{\n\"a\":\"b\"\n}"), None);
    }

    #[test]
    fn lone_surrogates_are_rejected() {
        assert_eq!(read_str(r#"{"a":"\ud800"}"#), Err(JsonError::Syntax));
        assert!(read_str(r#"{"a":"\ud83d\ude00"}"#).is_ok());
    }

    #[test]
    fn repeated_keys_are_kept() {
        let v = read_str(r#"{"a":1,"a":2}"#).unwrap();
        assert_eq!(v.as_dict().unwrap().len(), 2);
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert_eq!(read_str(&deep), Err(JsonError::Syntax));
        let fine = "[".repeat(100) + &"]".repeat(100);
        assert!(read_str(&fine).is_ok());
    }
}
