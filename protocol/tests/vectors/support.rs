//! Loading `protocol/vectors/<codec>.json` and the JSON spelling of tnetstring values.
//!
//! The vector format and its conventions are described in `protocol/vectors/README.md`.

use bytes::Bytes;
use libtest_mimic::{Failed, Trial};
use protocol::tnetstring::Value;
use serde_json::{Map, Value as Json};

/// One case of a vector file: `name`, then `wire` or `wire_hex`, then codec-specific fields.
pub struct Case {
    pub name: String,
    pub fields: Map<String, Json>,
}

impl Case {
    /// The case's input bytes, from `wire` (UTF-8 text) or `wire_hex`.
    pub fn wire(&self) -> Bytes {
        if let Some(text) = self.fields.get("wire").and_then(Json::as_str) {
            return Bytes::copy_from_slice(text.as_bytes());
        }
        let hex = self
            .str("wire_hex")
            .unwrap_or_else(|| panic!("{}: no wire or wire_hex", self.name));
        Bytes::from(from_hex(hex))
    }

    pub fn get(&self, key: &str) -> Option<&Json> {
        self.fields.get(key)
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Json::as_str)
    }

    /// The expected error kind, for cases that must fail.
    pub fn error(&self) -> Option<&str> {
        self.str("error")
    }

    /// Bytes given as `<key>` (text) or `<key>_hex`.
    pub fn bytes(&self, key: &str) -> Option<Bytes> {
        if let Some(text) = self.str(key) {
            return Some(Bytes::copy_from_slice(text.as_bytes()));
        }
        self.str(&format!("{key}_hex"))
            .map(|hex| Bytes::from(from_hex(hex)))
    }
}

/// Reads `protocol/vectors/<codec>.json`.
pub fn load(codec: &str) -> Vec<Case> {
    let path = format!("{}/vectors/{codec}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let file: Json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let cases = file["cases"]
        .as_array()
        .unwrap_or_else(|| panic!("{path}: no cases"));
    cases
        .iter()
        .map(|case| {
            let fields = case.as_object().expect("case is an object").clone();
            let name = fields["name"].as_str().expect("case has a name").to_owned();
            Case { name, fields }
        })
        .collect()
}

/// One trial per case of `codec`, named `<codec>::<case name>`.
pub fn trials(codec: &'static str, run: fn(&Case) -> Result<(), String>) -> Vec<Trial> {
    load(codec)
        .into_iter()
        .map(|case| {
            Trial::test(format!("{codec}::{}", case.name), move || {
                run(&case).map_err(Failed::from)
            })
        })
        .collect()
}

/// Fails with a message naming both sides when they differ.
pub fn check_eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}:\n   got: {got:?}\n  want: {want:?}"))
    }
}

pub fn from_hex(hex: &str) -> Vec<u8> {
    assert!(hex.len().is_multiple_of(2), "odd hex length");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digit"))
        .collect()
}

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A tnetstring value from its JSON spelling (see vectors/README.md): strings are UTF-8 byte
/// strings, `{"$hex": …}` other byte strings, `{"$float": n}` floats, `{"$dict": [[k, v], …]}` a
/// dict with repeated or non-UTF-8 keys; other objects are dicts in order.
pub fn tnet_from_json(json: &Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => Value::Int(
            n.as_i64()
                .expect("vector integers fit i64; floats use $float"),
        ),
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(items) => Value::List(items.iter().map(tnet_from_json).collect()),
        Json::Object(map) => {
            if let Some(hex) = map.get("$hex") {
                return Value::from(from_hex(hex.as_str().expect("$hex is a string")));
            }
            if let Some(f) = map.get("$float") {
                return Value::Float(f.as_f64().expect("$float is a number"));
            }
            if let Some(entries) = map.get("$dict") {
                let entries = entries.as_array().expect("$dict is a list of pairs");
                return Value::Dict(
                    entries
                        .iter()
                        .map(|pair| {
                            let key = match tnet_from_json(&pair[0]) {
                                Value::Bytes(b) => b,
                                other => panic!("$dict key must be bytes, got {other:?}"),
                            };
                            (key, tnet_from_json(&pair[1]))
                        })
                        .collect(),
                );
            }
            Value::Dict(
                map.iter()
                    .map(|(k, v)| (Bytes::copy_from_slice(k.as_bytes()), tnet_from_json(v)))
                    .collect(),
            )
        }
    }
}
