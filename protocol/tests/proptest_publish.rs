//! Properties of `protocol::publish`: every item survives encoding and decoding in both
//! encodings, and no input, however malformed, makes a reader panic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use protocol::publish::{self, Action, HttpResponse, HttpStream, Item, WsMessage, WsMessageType};
use protocol::tnetstring::{Value, Writer};
use serde_json::Value as Json;

// === Strategies for items in canonical form ===

fn text() -> impl Strategy<Value = String> {
    // Any characters, control characters and escapes included.
    proptest::string::string_regex("(?s).{0,10}").unwrap()
}

fn bytes() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        text().prop_map(Bytes::from),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(Bytes::from),
    ]
}

fn filters() -> impl Strategy<Value = Option<Vec<String>>> {
    proptest::option::of(proptest::collection::vec(text(), 0..3))
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => Just(Action::Send),
        1 => Just(Action::Hint),
        1 => Just(Action::Close),
        1 => Just(Action::Refresh),
    ]
}

/// JSON values as a body-patch may hold them: integers within i64 (the tree's range) and any
/// finite float.
fn json_value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Json::from),
        text().prop_map(Json::String),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            proptest::collection::vec((text(), inner), 0..4)
                .prop_map(|entries| Json::Object(entries.into_iter().collect())),
        ]
    })
}

/// Headers: text, or any bytes when `binary` (tnetstring only: JSON cannot carry them).
fn headers(binary: bool) -> impl Strategy<Value = Vec<(Bytes, Bytes)>> {
    let field = if binary {
        bytes().boxed()
    } else {
        text().prop_map(Bytes::from).boxed()
    };
    proptest::collection::vec((field.clone(), field), 0..3)
}

fn http_response(binary_headers: bool) -> impl Strategy<Value = HttpResponse> {
    (
        action(),
        proptest::option::of(0u16..=999),
        proptest::option::of(text()),
        headers(binary_headers),
        bytes(),
        proptest::option::weighted(0.2, proptest::collection::vec(json_value(), 0..3)),
        filters(),
    )
        .prop_map(|(action, code, reason, headers, body, patch, filters)| {
            if action != Action::Send {
                return HttpResponse::with_action(action);
            }
            HttpResponse {
                action,
                code,
                reason,
                headers: headers.into_iter().collect(),
                body: if patch.is_some() { Bytes::new() } else { body },
                body_patch: patch,
                content_filters: filters,
            }
        })
}

fn http_stream() -> impl Strategy<Value = HttpStream> {
    (action(), bytes(), filters()).prop_map(|(action, content, filters)| {
        if action != Action::Send {
            return HttpStream::with_action(action);
        }
        HttpStream {
            action,
            content,
            content_filters: filters,
        }
    })
}

fn ws_message() -> impl Strategy<Value = WsMessage> {
    let message_type = prop_oneof![
        Just(WsMessageType::Text),
        Just(WsMessageType::Binary),
        Just(WsMessageType::Ping),
        Just(WsMessageType::Pong),
    ];
    (
        action(),
        message_type,
        bytes(),
        proptest::option::of(any::<u16>()),
        proptest::option::of(text()),
        filters(),
    )
        .prop_map(
            |(action, message_type, content, code, reason, filters)| match action {
                Action::Send => WsMessage {
                    action,
                    message_type,
                    content,
                    content_filters: filters,
                    ..WsMessage::default()
                },
                Action::Close => WsMessage::close(code, reason),
                _ => WsMessage::with_action(action),
            },
        )
}

fn item_with(binary_headers: bool) -> impl Strategy<Value = Item> {
    (
        (
            text(),
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::collection::vec((text(), text()), 0..3),
            proptest::option::of(0..=Item::MAX_SIZE),
            any::<bool>(),
        ),
        (
            proptest::option::of(http_response(binary_headers)),
            proptest::option::of(http_stream()),
            proptest::option::of(ws_message()),
        ),
    )
        .prop_filter("an item needs a format", |(_, (r, s, w))| {
            r.is_some() || s.is_some() || w.is_some()
        })
        .prop_map(
            |((channel, id, prev_id, meta, size, no_seq), (r, s, w))| Item {
                channel,
                id,
                prev_id,
                meta: unique_keys(meta),
                size,
                no_seq,
                http_response: r,
                http_stream: s,
                ws_message: w,
            },
        )
}

/// Meta keys are unique in a decoded item; keeps the first of each.
fn unique_keys(meta: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut seen = std::collections::HashSet::new();
    meta.into_iter()
        .filter(|(k, _)| seen.insert(k.clone()))
        .collect()
}

fn item() -> impl Strategy<Value = Item> {
    item_with(false)
}

// === Strategies for item-shaped input, valid or not ===

const KEYS: &[&str] = &[
    "channel",
    "id",
    "prev-id",
    "formats",
    "meta",
    "size",
    "no-seq",
    "http-response",
    "http-stream",
    "ws-message",
    "action",
    "code",
    "reason",
    "headers",
    "body",
    "body-bin",
    "body-patch",
    "content",
    "content-bin",
    "content-filters",
    "type",
    "items",
];
const WORDS: &[&str] = &[
    "send", "hint", "close", "refresh", "text", "binary", "ping", "pong", "aGk=", "!!", "201",
    " -5", "x",
];

/// A JSON value built from the publish vocabulary, so random input reaches deep rules.
fn shaped_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        (-2i64..100_000).prop_map(Json::from),
        (-1e3f64..1e6).prop_map(Json::from),
        proptest::sample::select(WORDS).prop_map(Json::from),
        text().prop_map(Json::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..6)
                .prop_map(object),
        ]
    })
}

fn object<K: Into<String>>(entries: Vec<(K, Json)>) -> Json {
    Json::Object(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
}

/// An item object: usually well typed where the rules look first, so that most inputs get past
/// `channel` and into the formats, where random fields then break one rule or another.
fn shaped_item() -> impl Strategy<Value = Json> {
    let format = proptest::collection::vec((proptest::sample::select(KEYS), shaped_json()), 0..5)
        .prop_map(object);
    let formats = proptest::collection::vec(
        (
            proptest::sample::select(&["http-response", "http-stream", "ws-message", "x"][..]),
            format,
        ),
        0..4,
    )
    .prop_map(object);
    let extra = proptest::collection::vec((proptest::sample::select(KEYS), shaped_json()), 0..3);
    (
        prop_oneof![9 => text().prop_map(Json::String), 1 => shaped_json()],
        formats,
        any::<bool>(),
        extra,
    )
        .prop_map(|(channel, formats, legacy, extra)| {
            let mut entries = vec![("channel".to_owned(), channel)];
            match (legacy, formats) {
                // The legacy form: the format keys on the item itself.
                (true, Json::Object(map)) => entries.extend(map),
                (_, formats) => entries.push(("formats".to_owned(), formats)),
            }
            entries.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
            object(entries)
        })
}

/// The same shape as a tnetstring.
fn json_to_tnetstring(json: &Json) -> Bytes {
    fn write(w: &mut Writer<'_>, json: &Json) {
        match json {
            Json::Null => w.null(),
            Json::Bool(b) => w.bool(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => w.int(i),
                None => w.float(n.as_f64().unwrap()),
            },
            Json::String(s) => w.str(s),
            Json::Array(items) => w.list(|w| items.iter().for_each(|i| write(w, i))),
            Json::Object(map) => w.dict(|w| {
                for (k, v) in map {
                    w.str(k);
                    write(w, v);
                }
            }),
        }
    }
    let mut out = BytesMut::new();
    write(&mut Writer::new(&mut out), json);
    out.freeze()
}

fn assert_round_trips(item: &Item) {
    let tnet = item.to_tnetstring();
    assert_eq!(
        publish::parse_zmq_message(&tnet).as_ref(),
        Ok(item),
        "{tnet:?}"
    );
    let json = item.to_json();
    assert_eq!(
        publish::parse_json_item(&json).as_ref(),
        Ok(item),
        "{json:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn json_round_trip(item in item()) {
        let json = item.to_json();
        prop_assert_eq!(publish::parse_json_item(&json), Ok(item.clone()));
        let mut j = BytesMut::from(&b"J"[..]);
        item.encode_json(&mut j);
        prop_assert_eq!(publish::parse_zmq_message(&j.freeze()), Ok(item));
    }

    #[test]
    fn tnetstring_round_trip(item in item_with(true)) {
        let tnet = item.to_tnetstring();
        prop_assert_eq!(publish::parse_zmq_message(&tnet), Ok(item.clone()));
        let mut t = BytesMut::from(&b"T"[..]);
        item.encode_tnetstring(&mut t);
        prop_assert_eq!(publish::parse_zmq_message(&t.freeze()), Ok(item.clone()));
        // On SUB the channel comes from frame 1.
        let channel = Bytes::from(item.channel.clone());
        prop_assert_eq!(publish::parse_zmq_sub_message(&channel, &tnet), Ok(item));
    }

    #[test]
    fn http_body_round_trip(items in proptest::collection::vec(item(), 0..4)) {
        let mut body = BytesMut::new();
        publish::encode_http_body(&items, &mut body);
        prop_assert_eq!(publish::parse_http_body(&body.freeze()), Ok(items));
    }

    #[test]
    fn shaped_input_decodes_or_fails_cleanly(
        json in prop_oneof![
            4 => shaped_item(),
            1 => proptest::collection::vec(shaped_item(), 0..3)
                .prop_map(|items| object(vec![("items", Json::Array(items))])),
            1 => shaped_json(),
        ]
    ) {
        let text = Bytes::from(serde_json::to_vec(&json).unwrap());
        if let Ok(items) = publish::parse_http_body(&text) {
            items.iter().for_each(assert_round_trips);
        }
        if let Ok(item) = publish::parse_json_item(&text) {
            assert_round_trips(&item);
        }
        let tnet = json_to_tnetstring(&json);
        if let Ok(item) = publish::parse_zmq_message(&tnet) {
            assert_round_trips(&item);
        }
        if let Ok(args) = Value::decode(&tnet) {
            if let Ok(items) = publish::parse_command_items(&args) {
                items.iter().for_each(assert_round_trips);
            }
        }
    }

    #[test]
    fn any_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..256)) {
        let input = Bytes::from(input);
        let _ = publish::parse_http_body(&input);
        let _ = publish::parse_json_item(&input);
        let _ = publish::parse_zmq_message(&input);
        let _ = publish::parse_zmq_sub_message(&input, &input);
    }

    #[test]
    fn truncated_encodings_never_panic(item in item(), cut in any::<prop::sample::Index>()) {
        for encoded in [item.to_json(), item.to_tnetstring()] {
            let truncated = encoded.slice(..cut.index(encoded.len()));
            let _ = publish::parse_zmq_message(&truncated);
            let _ = publish::parse_json_item(&truncated);
        }
    }
}
