//! Property tests for `protocol::grip`: parsing arbitrary input never panics, rendering then
//! parsing gives the value back, and parsing what a parse rendered is stable.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use proptest::sample::select;
use protocol::grip::params::{self, Item, Param};
use protocol::grip::{Channel, HoldMode, Instruct, KeepAlive, KeepAliveMode, NextLink, Response};
use protocol::Headers;
use serde_json::Value as Json;

// === strategies: valid values ===

/// Text a header can carry once quoted: any characters but control ones.
fn text() -> impl Strategy<Value = String> {
    "[^\\x00-\\x1f\\x7f]{0,12}"
}

/// A name that needs no quoting (channel names, meta keys, URIs).
fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.:/@%~+-]{1,12}"
}

fn channel() -> impl Strategy<Value = Channel> {
    (
        token(),
        proptest::option::of(text()),
        prop::collection::vec(text(), 0..3),
    )
        .prop_map(|(name, prev_id, filters)| Channel {
            name,
            prev_id,
            filters,
        })
}

fn keep_alive() -> impl Strategy<Value = KeepAlive> {
    (
        prop::collection::vec(any::<u8>(), 1..24),
        1..=i32::MAX as u32,
        prop_oneof![Just(KeepAliveMode::Idle), Just(KeepAliveMode::Interval)],
    )
        .prop_map(|(data, timeout, mode)| KeepAlive {
            data: data.into(),
            timeout,
            mode,
        })
}

fn meta() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::btree_map("[a-z_]{1,8}", text(), 0..4).prop_map(|m| m.into_iter().collect())
}

fn response() -> impl Strategy<Value = Response> {
    (
        0u16..=999,
        "[!-~][ -~]{0,10}",
        prop::collection::vec(("X-[A-Za-z0-9-]{1,8}", "[ -~]{0,12}"), 0..4),
        prop::collection::vec(any::<u8>(), 0..32),
    )
        .prop_map(|(code, reason, headers, body)| Response {
            code,
            reason: reason.into(),
            headers: headers.into_iter().collect(),
            body: body.into(),
        })
}

fn instruct() -> impl Strategy<Value = Instruct> {
    (
        proptest::option::of(prop_oneof![
            Just(HoldMode::Response),
            Just(HoldMode::Stream)
        ]),
        prop::collection::vec(channel(), 0..4),
        5..=i32::MAX as u32,
        proptest::option::of(keep_alive()),
        meta(),
        proptest::option::of((token(), 0..=i32::MAX as u32)),
        proptest::option::of(token()),
        response(),
    )
        .prop_map(
            |(hold, channels, timeout, keep_alive, meta, next, gone_link, response)| Instruct {
                hold,
                channels,
                timeout,
                keep_alive,
                meta,
                next_link: next.map(|(uri, timeout)| NextLink { uri, timeout }),
                gone_link,
                response,
            },
        )
}

fn items() -> impl Strategy<Value = Vec<Item>> {
    let param = ("[a-z-]{1,8}", proptest::option::of(text())).prop_map(|(name, value)| Param {
        name: name.into(),
        value: value.map(Bytes::from),
    });
    let item = (token(), prop::collection::vec(param, 0..4)).prop_map(|(value, params)| Item {
        value: value.into(),
        params,
    });
    prop::collection::vec(item, 0..5)
}

// === strategies: arbitrary input ===

/// Header values built from the bytes the syntax cares about, plus anything.
fn wild_value() -> impl Strategy<Value = Bytes> {
    let byte = prop_oneof![
        4 => select(b";,=\"\\<> \tabcx01-".to_vec()),
        1 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..40).prop_map(Bytes::from)
}

fn wild_headers() -> impl Strategy<Value = Headers> {
    let name = prop_oneof![
        select(vec![
            "Grip-Hold",
            "Grip-Channel",
            "Grip-Timeout",
            "Grip-Keep-Alive",
            "Grip-Status",
            "Grip-Link",
            "Grip-Set-Meta",
            "Grip-Expose-Headers",
            "Content-Type",
            "grip-foo",
            "X-A",
        ])
        .prop_map(String::from),
        "[A-Za-z-]{1,10}",
    ];
    let value = prop_oneof![
        select(vec![
            "stream",
            "response",
            "application/grip-instruct",
            "a; prev-id=1; filter=f, b",
            "</n>; rel=next; timeout=3",
            "x; format=cstring; mode=interval",
            "404 Nope",
            "k=v, j=\"w\"",
        ])
        .prop_map(Bytes::from),
        wild_value(),
    ];
    prop::collection::vec((name, value), 0..8).prop_map(|h| h.into_iter().collect())
}

/// JSON shaped like grip-instruct bodies: known keys and values, nested a few levels.
fn wild_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::from),
        any::<i64>().prop_map(Json::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)),
        select(vec!["response", "stream", "aGk=", "%%", "10", "a", ""]).prop_map(Json::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let key = select(vec![
            "hold",
            "response",
            "mode",
            "channels",
            "name",
            "prev-id",
            "filters",
            "timeout",
            "keep-alive",
            "content",
            "content-bin",
            "meta",
            "code",
            "reason",
            "headers",
            "body",
            "body-bin",
            "x",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            prop::collection::vec((key, inner), 0..5).prop_map(|fields| {
                Json::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

fn wild_response() -> impl Strategy<Value = Response> {
    let body = prop_oneof![
        wild_json().prop_map(|j| Bytes::from(j.to_string())),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(Bytes::from),
    ];
    (
        prop_oneof![4 => Just(200u16), 1 => any::<u16>()],
        wild_headers(),
        body,
    )
        .prop_map(|(code, headers, body)| Response {
            code,
            reason: Bytes::from_static(b"OK"),
            headers,
            body,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn params_round_trip(items in items()) {
        let rendered = params::render_list(&items).unwrap();
        let parsed = params::parse_list(&rendered, &params::Limits::default()).unwrap();
        prop_assert_eq!(parsed, items);
    }

    #[test]
    fn render_value_round_trips(value in prop::collection::vec(any::<u8>(), 0..24)) {
        let mut out = BytesMut::from(&b"n="[..]);
        match params::render_value(&value, &mut out) {
            Ok(()) => {
                let param = Param::parse(&out.freeze()).unwrap();
                prop_assert_eq!(param.value.unwrap(), Bytes::from(value));
            }
            Err(_) => prop_assert!(value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)),
        }
    }

    #[test]
    fn params_parse_never_panics(input in wild_value()) {
        let limits = params::Limits::default();
        let _ = params::parse_list(&input, &limits);
        let _ = params::parse_item(&input, &limits);
        let _ = params::split_list(&input, &limits);
        let _ = Param::parse(&input);
    }

    #[test]
    fn header_form_round_trips(instruct in instruct()) {
        let rendered = instruct.to_response().unwrap();
        prop_assert_eq!(Instruct::parse(rendered).unwrap(), instruct);
    }

    #[test]
    fn json_form_round_trips(instruct in instruct()) {
        let rendered = instruct.to_json_response().unwrap();
        prop_assert_eq!(Instruct::parse(rendered).unwrap(), instruct);
    }

    /// Arbitrary responses never panic; whatever parses renders (when it can) to a response
    /// that parses to the same value.
    #[test]
    fn parse_is_total_and_stable(response in wild_response()) {
        if let Ok(parsed) = Instruct::parse(response) {
            for rendered in [parsed.to_response(), parsed.to_json_response()].into_iter().flatten() {
                prop_assert_eq!(&Instruct::parse(rendered).unwrap(), &parsed);
            }
        }
    }
}
