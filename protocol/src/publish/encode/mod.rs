//! Writing items as JSON or tnetstring, for publishers (the SDKs) and tests.
//!
//! The mirror of decoding: an item becomes the same tree the decoders read, once, with the few
//! dialect rules applied, and the tree is then written as tnetstring (by
//! [`crate::tnetstring::Writer`]) or JSON (by [`json`]). Decoding what was encoded gives the
//! item back, in either encoding.
//!
//! The form written is canonical: always `formats` (never the legacy form), fields in Pushpin's
//! reading order, defaults left out (`action` `send`, `no-seq` false, empty lists), headers as a
//! list of pairs (keeps order and repeats), and for `send` only the fields `send` reads. In JSON,
//! bytes that are not UTF-8 go in the `-bin` field as base64; a `ws-message` whose frame type is
//! not the one its content field implies gets a `type`. JSON cannot carry header bytes that are
//! not UTF-8 (nor can Pushpin's JSON input), so those are written with U+FFFD replacements.
//!
//! Encoding recurses through `body_patch`; decoded items are at most 127 levels deep there.

mod json;

use base64::Engine as _;
use bytes::{Bytes, BytesMut};

use super::{Action, HttpResponse, HttpStream, Item, WsMessage, WsMessageType};
use crate::tnetstring::Value;

/// Which encoding the tree is for: JSON needs base64 for bytes that are not text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Json,
    Tnetstring,
}

impl Item {
    /// Appends the item as a JSON object (what `J` payloads and `{"items": [...]}` hold).
    pub fn encode_json(&self, out: &mut BytesMut) {
        json::write(&tree(self, Dialect::Json), out);
    }

    /// The item as a JSON object.
    pub fn to_json(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode_json(&mut out);
        out.freeze()
    }

    /// Appends the item as a bare tnetstring dict (a ZMQ PULL or SUB payload, §5.3-5.4).
    pub fn encode_tnetstring(&self, out: &mut BytesMut) {
        tree(self, Dialect::Tnetstring).encode(out);
    }

    /// The item as a bare tnetstring dict.
    pub fn to_tnetstring(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode_tnetstring(&mut out);
        out.freeze()
    }
}

/// Appends the body of an HTTP publish request: `{"items":[...]}` (§5.2).
pub fn encode_http_body(items: &[Item], out: &mut BytesMut) {
    let items = items.iter().map(|i| tree(i, Dialect::Json)).collect();
    json::write(&Value::Dict(vec![(key("items"), Value::List(items))]), out);
}

/// Dict entries under construction.
#[derive(Default)]
struct Dict(Vec<(Bytes, Value)>);

impl Dict {
    fn put(&mut self, k: &'static str, v: impl Into<Value>) {
        self.0.push((key(k), v.into()));
    }

    fn put_some(&mut self, k: &'static str, v: Option<impl Into<Value>>) {
        if let Some(v) = v {
            self.put(k, v);
        }
    }

    fn into_value(self) -> Value {
        Value::Dict(self.0)
    }
}

fn key(k: &'static str) -> Bytes {
    Bytes::from_static(k.as_bytes())
}

fn tree(item: &Item, dialect: Dialect) -> Value {
    let mut formats = Dict::default();
    formats.put_some(
        "http-response",
        item.http_response
            .as_ref()
            .map(|r| http_response(r, dialect)),
    );
    formats.put_some(
        "http-stream",
        item.http_stream.as_ref().map(|s| http_stream(s, dialect)),
    );
    formats.put_some(
        "ws-message",
        item.ws_message.as_ref().map(|m| ws_message(m, dialect)),
    );
    let mut d = Dict::default();
    d.put("channel", item.channel.as_str());
    d.put_some("id", item.id.as_deref());
    d.put_some("prev-id", item.prev_id.as_deref());
    d.put("formats", formats.into_value());
    if !item.meta.is_empty() {
        let meta = item
            .meta
            .iter()
            .map(|(k, v)| {
                (
                    Bytes::copy_from_slice(k.as_bytes()),
                    Value::from(v.as_str()),
                )
            })
            .collect();
        d.put("meta", Value::Dict(meta));
    }
    d.put_some("size", item.size.map(i64::from));
    if item.no_seq {
        d.put("no-seq", true);
    }
    d.into_value()
}

/// A new dict holding `action` unless it is the default.
fn with_action(action: Action) -> Dict {
    let mut d = Dict::default();
    if action != Action::Send {
        d.put("action", action.as_str());
    }
    d
}

fn http_response(r: &HttpResponse, dialect: Dialect) -> Value {
    let mut d = with_action(r.action);
    if r.action != Action::Send {
        return d.into_value();
    }
    d.put_some("code", r.code.map(i64::from));
    d.put_some("reason", r.reason.as_deref());
    if !r.headers.is_empty() {
        let pairs = r
            .headers
            .iter()
            .map(|(n, v)| Value::List(vec![Value::Bytes(n.clone()), Value::Bytes(v.clone())]))
            .collect();
        d.put("headers", Value::List(pairs));
    }
    content_filters(&mut d, &r.content_filters);
    match &r.body_patch {
        Some(ops) => d.put(
            "body-patch",
            Value::List(ops.iter().map(from_json).collect()),
        ),
        None => content(&mut d, dialect, ("body", "body-bin"), &r.body),
    }
    d.into_value()
}

fn http_stream(s: &HttpStream, dialect: Dialect) -> Value {
    let mut d = with_action(s.action);
    if s.action == Action::Send {
        content_filters(&mut d, &s.content_filters);
        content(&mut d, dialect, ("content", "content-bin"), &s.content);
    }
    d.into_value()
}

fn ws_message(m: &WsMessage, dialect: Dialect) -> Value {
    let mut d = with_action(m.action);
    match m.action {
        Action::Close => {
            d.put_some("code", m.close_code.map(i64::from));
            d.put_some("reason", m.close_reason.as_deref());
        }
        Action::Send => {
            let binary = m.message_type == WsMessageType::Binary
                || (dialect == Dialect::Json && std::str::from_utf8(&m.content).is_err());
            let implied = if binary {
                WsMessageType::Binary
            } else {
                WsMessageType::Text
            };
            if m.message_type != implied {
                d.put("type", m.message_type.as_str());
            }
            content_filters(&mut d, &m.content_filters);
            // Ping and pong may go without content; the others need the field, even if empty.
            let optional = matches!(m.message_type, WsMessageType::Ping | WsMessageType::Pong);
            if !(optional && m.content.is_empty()) {
                if binary {
                    d.put("content-bin", binary_value(dialect, &m.content));
                } else {
                    d.put("content", Value::Bytes(m.content.clone()));
                }
            }
        }
        Action::Hint | Action::Refresh => {}
    }
    d.into_value()
}

fn content_filters(d: &mut Dict, filters: &Option<Vec<String>>) {
    if let Some(filters) = filters {
        let list = filters.iter().map(|f| Value::from(f.as_str())).collect();
        d.put("content-filters", Value::List(list));
    }
}

/// An HTTP format's content: as text where the dialect can carry it, else base64 in the `-bin`
/// field (JSON only; tnetstring carries any bytes and has no `-bin` field for HTTP formats).
fn content(d: &mut Dict, dialect: Dialect, (text, bin): (&'static str, &'static str), b: &Bytes) {
    if dialect == Dialect::Json && std::str::from_utf8(b).is_err() {
        d.put(bin, binary_value(dialect, b));
    } else {
        d.put(text, Value::Bytes(b.clone()));
    }
}

/// Binary content: base64 text in JSON, the bytes themselves in tnetstring.
fn binary_value(dialect: Dialect, b: &Bytes) -> Value {
    match dialect {
        Dialect::Json => Value::from(base64::engine::general_purpose::STANDARD.encode(b)),
        Dialect::Tnetstring => Value::Bytes(b.clone()),
    }
}

/// A JSON value as a tree node. Integers beyond `i64` become floats, the tree's only loss.
fn from_json(v: &serde_json::Value) -> Value {
    use serde_json::Value as Json;
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => n.as_f64().map_or(Value::Null, Value::Float),
        },
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(items) => Value::List(items.iter().map(from_json).collect()),
        Json::Object(map) => Value::Dict(
            map.iter()
                .map(|(k, v)| (Bytes::copy_from_slice(k.as_bytes()), from_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::{parse_json_item, parse_zmq_message};

    fn both_ways(item: &Item) {
        assert_eq!(parse_json_item(&item.to_json()).as_ref(), Ok(item));
        assert_eq!(parse_zmq_message(&item.to_tnetstring()).as_ref(), Ok(item));
    }

    #[test]
    fn canonical_json() {
        let mut item = Item::new("news");
        item.id = Some("7".into());
        item.http_stream = Some(HttpStream::new("data: hi\n\n"));
        item.ws_message = Some(WsMessage::binary(Bytes::from_static(b"\x00\xff")));
        assert_eq!(
            item.to_json(),
            r#"{"channel":"news","id":"7","formats":{"http-stream":{"content":"data: hi\n\n"},"ws-message":{"content-bin":"AP8="}}}"#
        );
        both_ways(&item);
    }

    #[test]
    fn canonical_tnetstring() {
        let mut item = Item::new("news");
        item.http_stream = Some(HttpStream::new("hello\n"));
        assert_eq!(
            item.to_tnetstring(),
            &b"69:7:channel,4:news,7:formats,38:11:http-stream,19:7:content,6:hello\n,}}}"[..]
        );
        both_ways(&item);
    }

    #[test]
    fn binary_content_per_dialect() {
        let mut item = Item::new("c");
        item.http_response = Some(HttpResponse::new(Bytes::from_static(b"\xff")));
        item.ws_message = Some(WsMessage {
            message_type: WsMessageType::Text,
            content: Bytes::from_static(b"\xfe"),
            ..WsMessage::default()
        });
        let json = item.to_json();
        assert!(json.windows(10).any(|w| w == br#""body-bin""#));
        assert!(json.windows(13).any(|w| w == br#""type":"text""#));
        both_ways(&item);
    }

    #[test]
    fn other_actions_write_only_what_they_read() {
        let mut item = Item::new("c");
        item.http_response = Some(HttpResponse::with_action(Action::Hint));
        item.http_stream = Some(HttpStream::with_action(Action::Close));
        item.ws_message = Some(WsMessage::close(Some(4001), Some("gone".into())));
        assert_eq!(
            item.to_json(),
            r#"{"channel":"c","formats":{"http-response":{"action":"hint"},"http-stream":{"action":"close"},"ws-message":{"action":"close","code":4001,"reason":"gone"}}}"#
        );
        both_ways(&item);
    }

    #[test]
    fn http_body() {
        let mut out = BytesMut::new();
        let mut item = Item::new("c");
        item.http_stream = Some(HttpStream::new("x"));
        encode_http_body(&[item.clone(), item], &mut out);
        let one = r#"{"channel":"c","formats":{"http-stream":{"content":"x"}}}"#;
        assert_eq!(out, format!(r#"{{"items":[{one},{one}]}}"#).as_bytes());
    }
}
