//! Property tests for `protocol::zhttp`: every packet gripway can build survives encode → decode
//! unchanged, and no input, random or packet-shaped, makes a decoder panic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use protocol::headers::Headers;
use protocol::tnetstring::{Value, Writer};
use protocol::zhttp::{
    split_addressed, Condition, ContentType, Ext, Id, IdEntry, PacketType, Request, Response,
};

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        // Any finite float: tnetstring has no NaN or infinity.
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::Float),
        bytes(8).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::List),
            vec((bytes(4), inner), 0..4).prop_map(Value::Dict),
        ]
    })
}

fn id() -> impl Strategy<Value = Id> {
    let entry = (bytes(8), option::of(any::<u32>())).prop_map(|(id, seq)| IdEntry { id, seq });
    prop_oneof![
        3 => bytes(12).prop_map(Id::Single),
        1 => vec(entry, 1..6).prop_map(Id::Multi),
    ]
}

fn packet_type() -> impl Strategy<Value = PacketType> {
    proptest::sample::select(PacketType::ALL.to_vec())
}

fn condition() -> impl Strategy<Value = Option<Condition>> {
    // from_bytes gives the one spelling decoding gives: a known name is never `Other`.
    option::of(prop_oneof![
        bytes(6).prop_map(Condition::from_bytes),
        proptest::sample::select(vec!["rejected", "tls-error", "session-timeout"])
            .prop_map(Condition::from),
    ])
}

fn content_type() -> impl Strategy<Value = Option<ContentType>> {
    option::of(prop_oneof![
        Just(ContentType::Text),
        Just(ContentType::Binary)
    ])
}

fn headers() -> impl Strategy<Value = Headers> {
    vec((bytes(10), bytes(16)), 0..6).prop_map(Headers::from)
}

fn ext() -> impl Strategy<Value = Ext> {
    (any::<bool>(), any::<bool>()).prop_map(|(multi, quiet)| Ext { multi, quiet })
}

prop_compose! {
    fn request()(
        (from, id, seq, ty, condition, code) in (
            option::of(bytes(12)), id(), option::of(any::<u32>()), packet_type(), condition(),
            option::of(any::<u16>()),
        ),
        (method, uri, headers, body, content_type, more, stream) in (
            option::of(bytes(8)), option::of(bytes(24)), headers(), bytes(64), content_type(),
            any::<bool>(), any::<bool>(),
        ),
        (credits, max_size, timeout, user_data, peer_address, peer_port) in (
            option::of(any::<u32>()), option::of(any::<u32>()), option::of(any::<u32>()),
            option::of(value()), option::of(bytes(16)), option::of(any::<u16>()),
        ),
        (connect_host, connect_port, flags, client_cert, client_key, passthrough, ext) in (
            option::of(bytes(16)), option::of(any::<u16>()), any::<[bool; 5]>(),
            option::of(bytes(16)), option::of(bytes(16)), option::of(value()), ext(),
        ),
    ) -> Request {
        let [ignore_policies, trust_connect_host, ignore_tls_errors, follow_redirects, router_resp] =
            flags;
        let mut r = Request {
            from, id, seq, ty, condition, code, method, uri, headers, body, content_type, more,
            stream, credits, max_size, timeout, user_data, peer_address, peer_port, connect_host,
            connect_port, ignore_policies, trust_connect_host, ignore_tls_errors, follow_redirects,
            client_cert, client_key, passthrough, router_resp, ext,
        };
        // Fill in what decoding requires (see `Request`), so that every packet is valid.
        if (r.seq.is_some() || r.id.is_multi()) && r.from.is_none() {
            r.from = Some(Bytes::from_static(b"initiator"));
        }
        if r.starts_session() {
            r.method.get_or_insert(Bytes::from_static(b"GET"));
            r.uri.get_or_insert(Bytes::from_static(b"http://h/"));
        }
        if r.ty == PacketType::Credit {
            r.credits.get_or_insert(0);
        }
        r
    }
}

prop_compose! {
    fn response()(
        (from, id, seq, ty, condition, code, reason) in (
            option::of(bytes(12)), id(), option::of(any::<u32>()), packet_type(), condition(),
            option::of(any::<u16>()), option::of(bytes(12)),
        ),
        (headers, body, content_type, more, credits, user_data, ext) in (
            headers(), bytes(64), content_type(), any::<bool>(), option::of(any::<u32>()),
            option::of(value()), ext(),
        ),
    ) -> Response {
        let mut r = Response {
            from, id, seq, ty, condition, code, reason, headers, body, content_type, more,
            credits, user_data, ext,
        };
        if r.starts_response() {
            r.code.get_or_insert(200);
        }
        if r.ty == PacketType::Credit {
            r.credits.get_or_insert(0);
        }
        r
    }
}

fn entry(
    key: &'static str,
    value: impl Strategy<Value = Value> + 'static,
) -> BoxedStrategy<(Bytes, Value)> {
    value
        .prop_map(move |v| (Bytes::from_static(key.as_bytes()), v))
        .boxed()
}

fn text(choices: &[&'static str]) -> impl Strategy<Value = Value> {
    proptest::sample::select(choices.to_vec()).prop_map(Value::from)
}

/// A dict entry as a peer might send it: mostly a known field with a value of its type (or
/// nearly), sometimes anything under any name.
fn field() -> impl Strategy<Value = (Bytes, Value)> {
    let small_int = || (-2i64..70_000).prop_map(Value::Int);
    let byte_string = || bytes(12).prop_map(Value::Bytes);
    let flag = || any::<bool>().prop_map(Value::Bool);
    let pair = vec(byte_string(), 2..=2).prop_map(Value::List);
    let id_entry = vec(
        (
            text(&["id", "seq", "x"]),
            prop_oneof![byte_string(), small_int()],
        ),
        0..3,
    )
    .prop_map(|e| {
        Value::Dict(
            e.into_iter()
                .map(|(k, v)| (k.as_bytes().unwrap().clone(), v))
                .collect(),
        )
    });
    let ext = vec((text(&["multi", "quiet", "other"]), flag()), 0..3).prop_map(|e| {
        Value::Dict(
            e.into_iter()
                .map(|(k, v)| (k.as_bytes().unwrap().clone(), v))
                .collect(),
        )
    });
    let typed = prop_oneof![
        entry("from", byte_string()),
        entry(
            "id",
            prop_oneof![byte_string(), vec(id_entry, 0..3).prop_map(Value::List)]
        ),
        entry("seq", small_int()),
        entry(
            "type",
            text(&[
                "data",
                "error",
                "credit",
                "keep-alive",
                "cancel",
                "close",
                "bogus"
            ])
        ),
        entry("condition", byte_string()),
        entry("code", small_int()),
        entry("reason", byte_string()),
        entry("method", byte_string()),
        entry("uri", byte_string()),
        entry("headers", vec(pair, 0..3).prop_map(Value::List)),
        entry("body", byte_string()),
        entry("content-type", text(&["text", "binary", "utf8"])),
        entry("more", flag()),
        entry("stream", flag()),
        entry("credits", small_int()),
        entry("max-size", small_int()),
        entry(
            "peer-port",
            prop_oneof![small_int(), text(&["40290", "x", "-1"])]
        ),
        entry("connect-port", small_int()),
        entry("ignore-policies", flag()),
        entry("user-data", value()),
        entry("passthrough", value()),
        entry("ext", ext),
    ];
    prop_oneof![4 => typed, 1 => (bytes(6), value())]
}

/// `T` and a dict that has an `id` and a few more fields, in any order and possibly repeated;
/// half of them also get `from` and `type: cancel`, which most packets need to be valid.
fn packet_shaped() -> impl Strategy<Value = Bytes> {
    let head = (bytes(8), any::<bool>());
    (head, vec(field(), 0..8), any::<prop::sample::Index>()).prop_map(
        |((id, control), mut entries, at)| {
            let id = (Bytes::from_static(b"id"), Value::Bytes(id));
            entries.insert(at.index(entries.len() + 1), id);
            if control {
                entries.insert(0, (Bytes::from_static(b"from"), Value::from("f")));
                entries.insert(1, (Bytes::from_static(b"type"), Value::from("cancel")));
            }
            let mut out = BytesMut::from(&b"T"[..]);
            Writer::new(&mut out).value(&Value::Dict(entries));
            out.freeze()
        },
    )
}

proptest! {
    #[test]
    fn request_round_trips(r in request()) {
        let wire = r.to_bytes();
        prop_assert!(r.encoded_len() >= wire.len());
        prop_assert_eq!(Request::parse(&wire).unwrap(), r);
    }

    #[test]
    fn response_round_trips(r in response()) {
        let wire = r.to_bytes();
        prop_assert!(r.encoded_len() >= wire.len());
        prop_assert_eq!(Response::parse(&wire).unwrap(), r);
    }

    #[test]
    fn addressed_round_trips(
        r in response(),
        address in vec(any::<u8>().prop_filter("no space", |b| *b != b' '), 1..24),
    ) {
        let frame = r.to_addressed_bytes(&address).unwrap();
        let (got_address, got) = Response::parse_addressed(&frame).unwrap();
        prop_assert_eq!(got_address.as_ref(), &address[..]);
        prop_assert_eq!(got, r);
    }

    #[test]
    fn decoding_noise_never_panics(input in vec(any::<u8>(), 0..256)) {
        let input = Bytes::from(input);
        let _ = Request::parse(&input);
        let _ = Response::parse(&input);
        let _ = Response::parse_addressed(&input);
        let _ = split_addressed(&input);
        let mut t = BytesMut::from(&b"T"[..]);
        t.extend_from_slice(&input);
        let t = t.freeze();
        let _ = Request::parse(&t);
        let _ = Response::parse(&t);
    }

}

proptest! {
    // Cheap cases over a large space: four times the default count.
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn packet_shaped_input_decodes_or_fails_cleanly(input in packet_shaped()) {
        // Whatever decodes re-encodes to a packet that decodes to the same thing.
        if let Ok(r) = Request::parse(&input) {
            prop_assert_eq!(Request::parse(&r.to_bytes()).unwrap(), r);
        }
        if let Ok(r) = Response::parse(&input) {
            prop_assert_eq!(Response::parse(&r.to_bytes()).unwrap(), r);
        }
    }
}
