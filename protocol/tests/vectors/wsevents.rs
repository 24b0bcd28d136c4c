//! `vectors/wsevents.json`: event bodies (decode whole and byte by byte, encode, decode again)
//! and `c:` control messages (parse, render, parse again).

use bytes::{Bytes, BytesMut};
use protocol::wsevents::{
    self, Close, ControlMessage, Decoder, Event, KeepAlive, KeepAliveMode, Limits, MessageType,
    SendDelayed,
};
use serde_json::Value as Json;

use crate::support::{check_eq, from_hex, trials as load_trials, Case};

pub fn trials() -> Vec<libtest_mimic::Trial> {
    load_trials("wsevents", |case| match case.str("codec") {
        None => run_events(case),
        Some("control") => run_control(case),
        Some(other) => Err(format!("unknown codec {other}")),
    })
}

// === event bodies ===

fn run_events(case: &Case) -> Result<(), String> {
    let wire = case.wire();
    let limits = limits(case);
    let decoded = wsevents::decode_with(&wire, &limits);
    let (streamed, stream_error) = decode_byte_by_byte(&wire, limits);

    if let Some(kind) = case.error() {
        check_eq("error kind", decoded.map_err(|e| e.kind()), Err(kind))?;
        let before = case.get("decoded_before_error").map_or(Vec::new(), events);
        check_eq("streamed events before the error", &streamed, &before)?;
        return check_eq("streamed error kind", stream_error, Some(kind));
    }
    let decoded = decoded.map_err(|e| format!("decode failed: {e}"))?;
    let want = events(
        case.get("value")
            .ok_or("case has neither value nor error")?,
    );
    check_eq("decoded events", &decoded, &want)?;
    check_eq("streamed events", (&streamed, stream_error), (&want, None))?;

    let mut encoded = BytesMut::new();
    wsevents::encode(&decoded, &mut encoded);
    let canonical = case.bytes("encoded").unwrap_or_else(|| wire.clone());
    check_eq("encoded bytes", encoded.as_ref(), canonical.as_ref())?;
    let again = wsevents::decode(&encoded.freeze()).map_err(|e| e.to_string())?;
    check_eq("decode(encode(events))", &again, &decoded)
}

/// Events and the error kind (if any) from feeding `wire` one byte at a time, then finishing.
fn decode_byte_by_byte(wire: &[u8], limits: Limits) -> (Vec<Event>, Option<&'static str>) {
    let mut decoder = Decoder::with_limits(limits);
    let mut got = Vec::new();
    let mut drain = |decoder: &mut Decoder| loop {
        match decoder.next_event() {
            Ok(Some(event)) => got.push(event),
            Ok(None) => return None,
            Err(e) => return Some(e.kind()),
        }
    };
    for byte in wire {
        decoder.push(std::slice::from_ref(byte));
        if let Some(kind) = drain(&mut decoder) {
            return (got, Some(kind));
        }
    }
    decoder.finish();
    let error = drain(&mut decoder);
    (got, error)
}

fn limits(case: &Case) -> Limits {
    let mut limits = Limits::default();
    let field = |name: &str| {
        case.get("limits")
            .and_then(|l| l.get(name))
            .and_then(Json::as_u64)
            .map(|n| n as usize)
    };
    if let Some(n) = field("max_content_len") {
        limits.max_content_len = n;
    }
    if let Some(n) = field("max_header_len") {
        limits.max_header_len = n;
    }
    if let Some(n) = field("max_events") {
        limits.max_events = n;
    }
    limits
}

fn events(json: &Json) -> Vec<Event> {
    json.as_array()
        .expect("value is a list of events")
        .iter()
        .map(event)
        .collect()
}

fn event(json: &Json) -> Event {
    let content = bytes_field(json, "content");
    match json["type"].as_str().expect("event has a type") {
        "open" => Event::Open,
        "text" => Event::Text(content),
        "binary" => Event::Binary(content),
        "ping" => Event::Ping(content),
        "pong" => Event::Pong(content),
        "disconnect" => Event::Disconnect,
        "close" => Event::Close(json.get("code").map(|code| {
            let code = code.as_u64().expect("code is an integer") as u16;
            Close::new(code, bytes_field(json, "reason"))
        })),
        other => panic!("unknown event type {other}"),
    }
}

/// Bytes spelled `<key>` (UTF-8 text) or `<key>_hex`; empty when neither is present.
fn bytes_field(json: &Json, key: &str) -> Bytes {
    if let Some(text) = json.get(key).and_then(Json::as_str) {
        return Bytes::copy_from_slice(text.as_bytes());
    }
    match json.get(format!("{key}_hex")).and_then(Json::as_str) {
        Some(hex) => Bytes::from(from_hex(hex)),
        None => Bytes::new(),
    }
}

// === control messages ===

fn run_control(case: &Case) -> Result<(), String> {
    let wire = case.wire();
    let parsed = ControlMessage::parse(&wire);
    if let Some(kind) = case.error() {
        return check_eq("error kind", parsed.map_err(|e| e.kind()), Err(kind));
    }
    let parsed = parsed.map_err(|e| format!("parse failed: {e}"))?;
    let want = control(
        case.get("value")
            .ok_or("case has neither value nor error")?,
    );
    check_eq("parsed message", &parsed, &want)?;

    let rendered = parsed.render();
    let canonical = case.bytes("encoded").unwrap_or_else(|| wire.clone());
    check_eq("rendered text", rendered.as_bytes(), canonical.as_ref())?;
    let again = ControlMessage::parse(rendered.as_bytes()).map_err(|e| e.to_string())?;
    check_eq("parse(render(message))", &again, &parsed)
}

fn control(json: &Json) -> ControlMessage {
    let str_field = |key: &str| json[key].as_str().expect("string field").to_owned();
    let timeout = || json["timeout"].as_u64().expect("timeout") as u32;
    let message_type = || match json["message_type"].as_str().expect("message_type") {
        "text" => MessageType::Text,
        "binary" => MessageType::Binary,
        "ping" => MessageType::Ping,
        "pong" => MessageType::Pong,
        other => panic!("unknown message_type {other}"),
    };
    match json["type"].as_str().expect("message has a type") {
        "subscribe" => ControlMessage::Subscribe {
            channel: str_field("channel"),
            filters: json["filters"]
                .as_array()
                .expect("filters")
                .iter()
                .map(|f| f.as_str().expect("filter").to_owned())
                .collect(),
        },
        "unsubscribe" => ControlMessage::Unsubscribe {
            channel: str_field("channel"),
        },
        "detach" => ControlMessage::Detach,
        "session" => ControlMessage::Session {
            id: str_field("id"),
        },
        "set-meta" => ControlMessage::SetMeta {
            name: str_field("name"),
            value: json["value"].as_str().map(str::to_owned),
        },
        "keep-alive" => ControlMessage::KeepAlive(KeepAlive {
            content: bytes_field(json, "content"),
            message_type: message_type(),
            timeout: timeout(),
            mode: match json["mode"].as_str().expect("mode") {
                "idle" => KeepAliveMode::Idle,
                "interval" => KeepAliveMode::Interval,
                other => panic!("unknown mode {other}"),
            },
        }),
        "send-delayed" => ControlMessage::SendDelayed(SendDelayed {
            content: bytes_field(json, "content"),
            message_type: message_type(),
            timeout: timeout(),
        }),
        "flush-delayed" => ControlMessage::FlushDelayed,
        other => ControlMessage::Unknown {
            type_name: other.to_owned(),
        },
    }
}
