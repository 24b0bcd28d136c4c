//! Writes the encoder's tree as compact JSON (RFC 8259).
//!
//! Byte strings are written as JSON strings; the encoder puts only UTF-8 text in the tree for
//! JSON, except header bytes, which JSON cannot carry otherwise and are written lossily. Floats
//! are written in serde_json's shortest round-trip form, so `1.0` stays a float.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};

use crate::tnetstring::Value;

/// Appends `value` as JSON.
pub(super) fn write(value: &Value, out: &mut BytesMut) {
    match value {
        Value::Null => out.put_slice(b"null"),
        Value::Bool(true) => out.put_slice(b"true"),
        Value::Bool(false) => out.put_slice(b"false"),
        Value::Int(i) => out.put_slice(itoa::Buffer::new().format(*i).as_bytes()),
        Value::Float(f) => match serde_json::Number::from_f64(*f) {
            Some(n) => {
                // Writing into a BytesMut cannot fail (it grows as needed).
                let _ = write!(out, "{n}");
            }
            None => out.put_slice(b"null"),
        },
        Value::Bytes(b) => string(&String::from_utf8_lossy(b), out),
        Value::List(items) => {
            out.put_u8(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.put_u8(b',');
                }
                write(item, out);
            }
            out.put_u8(b']');
        }
        Value::Dict(entries) => {
            out.put_u8(b'{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.put_u8(b',');
                }
                string(&String::from_utf8_lossy(k), out);
                out.put_u8(b':');
                write(v, out);
            }
            out.put_u8(b'}');
        }
    }
}

/// Appends `s` as a JSON string, escaping what RFC 8259 requires and nothing else.
fn string(s: &str, out: &mut BytesMut) {
    out.reserve(s.len() + 2);
    out.put_u8(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.put_slice(bytes.get(start..i).unwrap_or_default());
        if escape.is_empty() {
            out.put_slice(b"\\u00");
            out.put_u8(hex_digit(b >> 4));
            out.put_u8(hex_digit(b & 0xf));
        } else {
            out.put_slice(escape);
        }
        start = i + 1;
    }
    out.put_slice(bytes.get(start..).unwrap_or_default());
    out.put_u8(b'"');
}

fn hex_digit(n: u8) -> u8 {
    if n < 10 {
        b'0' + n
    } else {
        b'a' + n - 10
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn json(v: &Value) -> String {
        let mut out = BytesMut::new();
        write(v, &mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn values() {
        let v = Value::Dict(vec![
            (Bytes::from_static(b"s"), Value::from("a\"b\\c\n\u{1}é")),
            (Bytes::from_static(b"i"), Value::Int(-3)),
            (Bytes::from_static(b"f"), Value::Float(1.0)),
            (
                Bytes::from_static(b"l"),
                Value::List(vec![Value::Null, Value::Bool(true)]),
            ),
            (Bytes::from_static(b"e"), Value::Dict(vec![])),
        ]);
        let text = json(&v);
        assert_eq!(
            text,
            r#"{"s":"a\"b\\c\n\u0001é","i":-3,"f":1.0,"l":[null,true],"e":{}}"#
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["s"], "a\"b\\c\n\u{1}é");
    }

    #[test]
    fn every_control_character_escaped() {
        let all: String = (0u8..0x20).map(char::from).collect();
        let text = json(&Value::from(all.as_str()));
        assert!(text.bytes().all(|b| b >= 0x20));
        let back: String = serde_json::from_str(&text).unwrap();
        assert_eq!(back, all);
    }
}
