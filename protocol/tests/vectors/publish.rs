//! `vectors/publish.json`: decode with the reader the case's `source` names, compare with the
//! item spelling, then encode every item as JSON and as tnetstring and decode both again.

use bytes::{Bytes, BytesMut};
use protocol::publish::{self, Action, HttpResponse, HttpStream, Item, WsMessage, WsMessageType};
use protocol::tnetstring::Value;
use serde_json::Value as Json;

use crate::support::{check_eq, from_hex, trials as load_trials, Case};

pub fn trials() -> Vec<libtest_mimic::Trial> {
    load_trials("publish", run)
}

fn run(case: &Case) -> Result<(), String> {
    let wire = case.wire();
    let source = case.str("source").ok_or("case has no source")?;
    let decoded = decode(case, source, &wire)?;
    if let Some(kind) = case.error() {
        return match decoded {
            Ok(items) => Err(format!("decoded {items:?}, want error {kind}")),
            Err(e) => {
                check_eq("error kind", e.kind(), kind)?;
                check_eq(
                    "error message",
                    e.to_string().as_str(),
                    case.str("message").ok_or("no message")?,
                )
            }
        };
    }
    let items = decoded.map_err(|e| format!("decode failed: {} ({e})", e.kind()))?;
    let want = match (case.get("items"), case.get("item")) {
        (Some(Json::Array(items)), _) => items.iter().map(item_from_spelling).collect(),
        (_, Some(item)) => vec![item_from_spelling(item)],
        _ => return Err("case has neither items, item nor error".into()),
    };
    check_eq("decoded items", &items, &want)?;
    if case.get("canonical") == Some(&Json::Bool(true)) {
        check_eq(
            "canonical encoding",
            encode(source, &wire, &items).as_ref(),
            wire.as_ref(),
        )?;
    }
    items.iter().try_for_each(round_trip)
}

/// Decodes `wire` as `source` says; single-item sources give a list of one.
fn decode(
    case: &Case,
    source: &str,
    wire: &Bytes,
) -> Result<Result<Vec<Item>, publish::Error>, String> {
    Ok(match source {
        "http_body" => publish::parse_http_body(wire),
        "json_item" => publish::parse_json_item(wire).map(|i| vec![i]),
        "zmq" => publish::parse_zmq_message(wire).map(|i| vec![i]),
        "zmq_sub" => {
            let channel = case.bytes("channel").ok_or("zmq_sub case has no channel")?;
            publish::parse_zmq_sub_message(&channel, wire).map(|i| vec![i])
        }
        "command" => {
            let args = Value::decode(wire).map_err(|e| format!("command args: {e}"))?;
            publish::parse_command_items(&args)
        }
        other => return Err(format!("unknown source {other}")),
    })
}

/// What gripway writes for `items` in the form of `source` (and of `wire`'s prefix).
fn encode(source: &str, wire: &Bytes, items: &[Item]) -> Bytes {
    let mut out = BytesMut::new();
    match (source, wire.first(), items) {
        ("http_body", _, items) => publish::encode_http_body(items, &mut out),
        ("json_item", _, [item]) => item.encode_json(&mut out),
        ("zmq", Some(b'J'), [item]) => {
            out.extend_from_slice(b"J");
            item.encode_json(&mut out);
        }
        ("zmq", Some(b'T'), [item]) => {
            out.extend_from_slice(b"T");
            item.encode_tnetstring(&mut out);
        }
        (_, _, [item]) => item.encode_tnetstring(&mut out),
        _ => panic!("no canonical form for {source} with {} items", items.len()),
    }
    out.freeze()
}

fn round_trip(item: &Item) -> Result<(), String> {
    let tnet = item.to_tnetstring();
    let again = publish::parse_zmq_message(&tnet).map_err(|e| format!("tnetstring leg: {e}"))?;
    check_eq("decode(encode_tnetstring(item))", &again, item)?;
    // JSON cannot carry header bytes that are not UTF-8.
    let headers_are_text = item.http_response.as_ref().is_none_or(|r| {
        r.headers
            .iter()
            .all(|(n, v)| std::str::from_utf8(n).is_ok() && std::str::from_utf8(v).is_ok())
    });
    if headers_are_text {
        let json = item.to_json();
        let again = publish::parse_json_item(&json).map_err(|e| format!("JSON leg: {e}"))?;
        check_eq("decode(encode_json(item))", &again, item)?;
    }
    Ok(())
}

// === The item spelling (see the file's description) ===

fn item_from_spelling(json: &Json) -> Item {
    Item {
        channel: str_of(json, "channel").expect("item has a channel"),
        id: str_of(json, "id"),
        prev_id: str_of(json, "prev_id"),
        meta: pairs(json, "meta")
            .into_iter()
            .map(|(k, v)| (utf8(k), utf8(v)))
            .collect(),
        size: json.get("size").and_then(Json::as_u64).map(|s| s as u32),
        no_seq: json.get("no_seq").and_then(Json::as_bool).unwrap_or(false),
        http_response: json.get("http_response").map(|r| HttpResponse {
            action: action(r),
            code: r.get("code").and_then(Json::as_u64).map(|c| c as u16),
            reason: str_of(r, "reason"),
            headers: pairs(r, "headers").into_iter().collect(),
            body: bytes_of(r, "body"),
            body_patch: r
                .get("body_patch")
                .map(|p| p.as_array().expect("body_patch is a list").clone()),
            content_filters: filters(r),
        }),
        http_stream: json.get("http_stream").map(|s| HttpStream {
            action: action(s),
            content: bytes_of(s, "content"),
            content_filters: filters(s),
        }),
        ws_message: json.get("ws_message").map(|m| WsMessage {
            action: action(m),
            message_type: str_of(m, "type").map_or(WsMessageType::Text, |t| {
                WsMessageType::from_wire(t.as_bytes()).expect("known type")
            }),
            content: bytes_of(m, "content"),
            close_code: m.get("close_code").and_then(Json::as_u64).map(|c| c as u16),
            close_reason: str_of(m, "close_reason"),
            content_filters: filters(m),
        }),
    }
}

fn str_of(json: &Json, key: &str) -> Option<String> {
    json.get(key)
        .map(|v| v.as_str().expect("a string").to_owned())
}

/// Bytes spelled as a string, or `{"$hex": …}`.
fn bytes_from(json: &Json) -> Bytes {
    match json {
        Json::String(s) => Bytes::copy_from_slice(s.as_bytes()),
        _ => Bytes::from(from_hex(json["$hex"].as_str().expect("bytes or {$hex}"))),
    }
}

fn bytes_of(json: &Json, key: &str) -> Bytes {
    json.get(key).map(bytes_from).unwrap_or_default()
}

fn utf8(b: Bytes) -> String {
    String::from_utf8(b.to_vec()).expect("UTF-8")
}

fn pairs(json: &Json, key: &str) -> Vec<(Bytes, Bytes)> {
    json.get(key)
        .map(|list| {
            list.as_array()
                .expect("a list of pairs")
                .iter()
                .map(|pair| (bytes_from(&pair[0]), bytes_from(&pair[1])))
                .collect()
        })
        .unwrap_or_default()
}

fn action(json: &Json) -> Action {
    str_of(json, "action").map_or(Action::Send, |a| {
        Action::from_wire(a.as_bytes()).expect("known action")
    })
}

fn filters(json: &Json) -> Option<Vec<String>> {
    json.get("content_filters").map(|l| {
        l.as_array()
            .expect("a list")
            .iter()
            .map(|f| f.as_str().expect("a string").to_owned())
            .collect()
    })
}
