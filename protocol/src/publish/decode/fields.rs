//! Typed reads of one field from the decoded tree, with Pushpin's leniencies where they carry a
//! meaning and typed errors where they do not.
//!
//! - Repeated keys: the last one counts, as in Pushpin (Qt maps keep the last insert).
//! - Text must be a (UTF-8) string. Tnetstring byte strings that are not UTF-8 count as the wrong
//!   type; Pushpin would decode them lossily.
//! - Integers: a number, rounded half up as Qt rounds (`2.5` is 3, `-0.5` is 0), or a string of
//!   decimal digits, optionally signed and space-padded (Qt reads `" 201"` and `"+201"`; tnetstring
//!   publishers send digits as byte strings, §1). Qt also reads any other string, and booleans, as
//!   integers, turning `"x"` into status 0 and `true` into 1; gripway rejects those as the wrong
//!   type instead of sending a status line Pushpin itself would not have meant.
//! - Base64 (`-bin` fields, JSON only): the standard alphabet, padding optional, ASCII whitespace
//!   ignored (so MIME-wrapped output such as Python's `encodebytes` passes). Qt skips every
//!   character outside the alphabet, so URL-safe or corrupt base64 is published as garbage;
//!   gripway rejects it as an invalid value.

use std::collections::HashSet;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use bytes::Bytes;

use crate::tnetstring::Value;

/// Dict entries, as the tree holds them.
pub(super) type Entries = [(Bytes, Value)];

/// Base64 as Pushpin accepts it: standard alphabet, padding optional, and (like Qt) any bits
/// left over after the last full byte ignored.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// The value of the last entry named `key`.
pub(super) fn get<'v>(entries: &'v Entries, key: &str) -> Option<&'v Value> {
    entries
        .iter()
        .rev()
        .find(|(k, _)| k == key.as_bytes())
        .map(|(_, v)| v)
}

/// Each key's last entry, in input order: what Pushpin's maps keep of repeated keys.
pub(super) fn last_of_each(entries: &Entries) -> Vec<&(Bytes, Value)> {
    if entries.len() < 2 {
        return entries.iter().collect();
    }
    // A set rather than a scan per entry: a hostile body may repeat a key a million times.
    let mut seen = HashSet::with_capacity(entries.len());
    let mut kept: Vec<_> = entries
        .iter()
        .rev()
        .filter(|(k, _)| seen.insert(k.as_ref()))
        .collect();
    kept.reverse();
    kept
}

/// The bytes of a string.
pub(super) fn bytes(value: &Value) -> Option<&Bytes> {
    value.as_bytes()
}

/// A string that is valid UTF-8, as an owned `String`.
pub(super) fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

/// An integer read as Pushpin reads one (see the module doc); `None` for the wrong type.
/// Values beyond `i64` saturate, which every caller's range check then rejects.
pub(super) fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Int(i) => Some(*i),
        // `as` saturates, and the floor of x + 0.5 is Qt's qRound.
        Value::Float(f) => Some((f + 0.5).floor() as i64),
        Value::Bytes(b) => int_text(b),
        _ => None,
    }
}

fn int_text(b: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(b).ok()?.trim_ascii();
    match text.parse::<i64>() {
        Ok(i) => Some(i),
        Err(e) => match e.kind() {
            std::num::IntErrorKind::PosOverflow => Some(i64::MAX),
            std::num::IntErrorKind::NegOverflow => Some(i64::MIN),
            _ => None,
        },
    }
}

/// Decodes base64 (see the module doc).
pub(super) fn base64(text: &[u8]) -> Option<Bytes> {
    let decoded = if text.iter().any(u8::is_ascii_whitespace) {
        let compact: Vec<u8> = text
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        BASE64.decode(compact)
    } else {
        BASE64.decode(text)
    };
    decoded.ok().map(Bytes::from)
}

/// A JSON value from a tree node, for `body-patch`; `None` when a string or key is not UTF-8.
/// Recursion is bounded by the tree's depth: serde_json's limit for JSON input,
/// `tnetstring::Limits::max_depth` for tnetstring.
pub(super) fn to_json(value: &Value) -> Option<serde_json::Value> {
    use serde_json::Value as Json;
    Some(match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Float(f) => Json::Number(serde_json::Number::from_f64(*f)?),
        Value::Bytes(_) => Json::String(text(value)?),
        Value::List(items) => Json::Array(items.iter().map(to_json).collect::<Option<_>>()?),
        Value::Dict(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| Some((String::from_utf8(k.to_vec()).ok()?, to_json(v)?)))
                .collect::<Option<_>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_like_qt_where_it_means_something() {
        let cases: &[(Value, Option<i64>)] = &[
            (Value::Int(201), Some(201)),
            (Value::Float(201.5), Some(202)),
            (Value::Float(999.4), Some(999)),
            (Value::Float(-0.5), Some(0)),
            (Value::Float(-0.6), Some(-1)),
            (Value::Float(1e300), Some(i64::MAX)),
            (Value::from("201"), Some(201)),
            (Value::from(" 202 "), Some(202)),
            (Value::from("+201"), Some(201)),
            (Value::from("-5"), Some(-5)),
            (Value::from("99999999999999999999"), Some(i64::MAX)),
            (Value::from("x"), None),
            (Value::from("201.5"), None),
            (Value::from(""), None),
            (Value::from(&b"\xff"[..]), None),
            (Value::Bool(true), None),
            (Value::Null, None),
            (Value::List(vec![]), None),
        ];
        for (value, want) in cases {
            assert_eq!(int(value), *want, "{value:?}");
        }
    }

    #[test]
    fn base64_standard_padding_optional_whitespace_ignored() {
        let cases: &[(&str, Option<&[u8]>)] = &[
            ("aGk=", Some(b"hi")),
            ("aGk", Some(b"hi")),
            ("aG k=\n", Some(b"hi")),
            ("", Some(b"")),
            ("/w==", Some(b"\xff")),
            ("_w==", None),
            ("!!!", None),
            ("aGk=aGk=", None),
            ("a", None),
        ];
        for (text, want) in cases {
            assert_eq!(base64(text.as_bytes()).as_deref(), *want, "{text:?}");
        }
    }

    #[test]
    fn repeated_keys_keep_the_last() {
        let entries = [
            (Bytes::from_static(b"a"), Value::Int(1)),
            (Bytes::from_static(b"b"), Value::Int(2)),
            (Bytes::from_static(b"a"), Value::Int(3)),
        ];
        assert_eq!(get(&entries, "a"), Some(&Value::Int(3)));
        let kept: Vec<_> = last_of_each(&entries).iter().map(|(k, _)| k).collect();
        assert_eq!(kept, ["b", "a"]);
    }

    #[test]
    fn patch_values_need_utf8() {
        let ok = Value::List(vec![Value::Dict(vec![(
            Bytes::from_static(b"op"),
            Value::from("add"),
        )])]);
        assert_eq!(to_json(&ok), Some(serde_json::json!([{"op": "add"}])));
        assert_eq!(to_json(&Value::from(&b"\xff"[..])), None);
    }
}
