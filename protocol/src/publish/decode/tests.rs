//! Item rules, table style: each JSON item is decoded and the result compared with Pushpin's
//! text for it (every text here was read off Pushpin 1.36). The shared vectors cover the same
//! ground byte-exactly; these pin the rule order and the dialect differences close to the code.

use bytes::Bytes;

use super::*;
use crate::publish::decode::json;

fn decode_json(item: &str, dialect: Dialect) -> Result<Item, String> {
    let value = json::read(&Bytes::copy_from_slice(item.as_bytes())).unwrap();
    item_of(&value, dialect)
}

fn item_of(value: &Value, dialect: Dialect) -> Result<Item, String> {
    super::item(value, dialect, None).map_err(|e| e.to_string())
}

/// Pushpin's error text for an item, or "" + "ok" when it is accepted.
fn check(cases: &[(&str, &str)], dialect: Dialect) {
    for (item, want) in cases {
        let got = match decode_json(item, dialect) {
            Ok(_) => "ok".to_owned(),
            Err(e) => e,
        };
        assert_eq!(got, *want, "{item}");
    }
}

#[test]
fn item_fields_in_pushpins_order() {
    check(
        &[
            (r#"[]"#, "publish item object is not an object"),
            (
                r#"{"id":1}"#,
                "publish item object does not contain 'channel'",
            ),
            (
                r#"{"channel":1,"formats":"x"}"#,
                "publish item object contains 'channel' with wrong type",
            ),
            (
                r#"{"channel":"c","id":1,"formats":"x"}"#,
                "publish item object contains 'id' with wrong type",
            ),
            (
                r#"{"channel":"c","prev-id":1,"formats":"x"}"#,
                "publish item object contains 'prev-id' with wrong type",
            ),
            (
                r#"{"channel":"c","meta":1,"formats":"x"}"#,
                "publish item object contains 'formats' with wrong type",
            ),
            (
                r#"{"channel":"c","meta":1,"formats":{"http-stream":1}}"#,
                "'http-stream' is not an object",
            ),
            (
                r#"{"channel":"c","meta":1,"formats":{}}"#,
                "no formats specified",
            ),
            (
                r#"{"channel":"c","meta":1,"size":null,"formats":{"http-stream":{"content":""}}}"#,
                "publish item object contains 'meta' with wrong type",
            ),
            (
                r#"{"channel":"c","no-seq":1,"size":-1,"formats":{"http-stream":{"content":""}}}"#,
                "publish item object contains 'size' with invalid value",
            ),
            (
                r#"{"channel":"c","no-seq":1,"formats":{"http-stream":{"content":""}}}"#,
                "publish item object contains 'no-seq' with wrong type",
            ),
        ],
        Dialect::Json,
    );
}

#[test]
fn formats_in_pushpins_order() {
    check(
        &[
            (
                r#"{"channel":"c","formats":{"ws-message":1,"http-stream":1,"http-response":1}}"#,
                "'http-response' is not an object",
            ),
            (
                r#"{"channel":"c","formats":{"ws-message":1,"http-stream":1}}"#,
                "'http-stream' is not an object",
            ),
            // Legacy keys are not read once `formats` is there.
            (
                r#"{"channel":"c","http-stream":{},"formats":{"ws-message":{"content":""}}}"#,
                "ok",
            ),
            (
                r#"{"channel":"c","http-stream":{}}"#,
                "'http-stream' does not contain 'content' or 'content-bin'",
            ),
            (
                r#"{"channel":"c","formats":{"bogus":{}}}"#,
                "no formats specified",
            ),
        ],
        Dialect::Json,
    );
}

#[test]
fn format_fields_in_pushpins_order() {
    let r = |fields: &str| format!(r#"{{"channel":"c","formats":{{"http-response":{fields}}}}}"#);
    let s = |fields: &str| format!(r#"{{"channel":"c","formats":{{"http-stream":{fields}}}}}"#);
    let w = |fields: &str| format!(r#"{{"channel":"c","formats":{{"ws-message":{fields}}}}}"#);
    let cases = [
        (r(r#"{"action":"bogus","code":null}"#), ""),
        (
            r(r#"{"content-filters":1,"code":null}"#),
            "'http-response' contains 'code' with wrong type",
        ),
        (
            r(r#"{"content-filters":1,"reason":1}"#),
            "'http-response' contains 'reason' with wrong type",
        ),
        (
            r(r#"{"content-filters":1,"headers":1}"#),
            "'http-response' contains 'headers' with wrong type",
        ),
        (
            r(r#"{"content-filters":1,"body":1}"#),
            "'http-response' contains 'content-filters' with wrong type",
        ),
        (
            r(r#"{"body":1,"body-bin":1,"body-patch":1}"#),
            "'http-response' contains 'body-bin' with wrong type",
        ),
        (
            r(r#"{"body":1,"body-patch":1}"#),
            "'http-response' contains 'body' with wrong type",
        ),
        (r(r#"{"body-bin":"aGk=","body":1}"#), "ok"),
        (r(r#"{"action":"hint","body":1,"code":null}"#), "ok"),
        (
            r(r#"{"code":1000}"#),
            "'http-response' contains 'code' with invalid value",
        ),
        (
            s(r#"{"action":1,"content":1}"#),
            "'http-stream' contains 'action' with wrong type",
        ),
        (
            s(r#"{"content-filters":1,"content-bin":1}"#),
            "'http-stream' contains 'content-filters' with wrong type",
        ),
        (
            s(r#"{"content":1,"content-bin":1}"#),
            "'http-stream' contains 'content-bin' with wrong type",
        ),
        (s(r#"{"action":"close","content-filters":1}"#), "ok"),
        (
            w(r#"{"content-filters":1,"type":1}"#),
            "'ws-message' contains 'type' with wrong type",
        ),
        (
            w(r#"{"type":"bogus","content-filters":1}"#),
            "'ws-message' contains 'type' with unknown value",
        ),
        (
            w(r#"{"content-filters":1,"content-bin":1}"#),
            "'ws-message' contains 'content-filters' with wrong type",
        ),
        (
            w(r#"{"type":"ping","content":1}"#),
            "'ws-message' contains 'content' with wrong type",
        ),
        (w(r#"{"type":"ping"}"#), "ok"),
        (
            w(r#"{"type":"text"}"#),
            "'ws-message' does not contain 'content' or 'content-bin'",
        ),
        (
            w(r#"{"action":"close","code":null,"reason":1}"#),
            "'ws-message' contains 'code' with wrong type",
        ),
        (
            w(r#"{"action":"close","code":-1,"reason":1}"#),
            "'ws-message' contains 'code' with invalid value",
        ),
        (w(r#"{"action":"close","type":"bogus","content":1}"#), "ok"),
    ];
    let cases: Vec<_> = cases.iter().map(|(i, t)| (i.as_str(), *t)).collect();
    check(&cases, Dialect::Json);
}

#[test]
fn maps_name_the_first_bad_key_in_byte_order() {
    check(
        &[
            (
                r#"{"channel":"c","meta":{"b":1,"a":1},"formats":{"http-stream":{"content":""}}}"#,
                "'meta' contains 'a' with wrong type",
            ),
            (
                r#"{"channel":"c","meta":{"a":1,"B":1},"formats":{"http-stream":{"content":""}}}"#,
                "'meta' contains 'B' with wrong type",
            ),
            (
                r#"{"channel":"c","meta":{"a":1,"a":"x"},"formats":{"http-stream":{"content":""}}}"#,
                "ok",
            ),
            (
                r#"{"channel":"c","formats":{"http-response":{"headers":{"x":1,"A":null},"body":""}}}"#,
                "headers contains 'A' with wrong type",
            ),
        ],
        Dialect::Json,
    );
}

#[test]
fn tnetstring_dialect_has_no_http_bin_fields() {
    let cases = [
        (
            r#"{"channel":"c","formats":{"http-stream":{"content-bin":1}}}"#,
            "'http-stream' does not contain 'content'",
        ),
        (
            r#"{"channel":"c","formats":{"http-response":{"body-bin":"aGk="}}}"#,
            "'http-response' does not contain 'body' or 'body-patch'",
        ),
        (
            r#"{"channel":"c","formats":{"ws-message":{"content-bin":1}}}"#,
            "'ws-message' contains 'content-bin' with wrong type",
        ),
        (
            r#"{"channel":"c","formats":{"ws-message":{}}}"#,
            "'ws-message' does not contain 'content' or 'content-bin'",
        ),
    ];
    check(&cases, Dialect::Tnetstring);
    // ws-message `content-bin` is raw bytes in tnetstring, base64 in JSON.
    let ws = r#"{"channel":"c","formats":{"ws-message":{"content-bin":"aGk="}}}"#;
    let raw = decode_json(ws, Dialect::Tnetstring)
        .unwrap()
        .ws_message
        .unwrap();
    assert_eq!(
        (raw.message_type, raw.content.as_ref()),
        (WsMessageType::Binary, &b"aGk="[..])
    );
    let decoded = decode_json(ws, Dialect::Json).unwrap().ws_message.unwrap();
    assert_eq!(decoded.content, "hi");
}

#[test]
fn sub_channel_replaces_the_items_own() {
    let value = json::read(&Bytes::from_static(
        br#"{"channel":5,"formats":{"http-stream":{"content":"x"}}}"#,
    ))
    .unwrap();
    let item = super::item(&value, Dialect::Tnetstring, Some("frame".into())).unwrap();
    assert_eq!(item.channel, "frame");
}

#[test]
fn text_fields_must_be_utf8_in_tnetstring() {
    let value = Value::Dict(vec![
        (Bytes::from_static(b"channel"), Value::from(&b"\xff"[..])),
        (Bytes::from_static(b"http-stream"), Value::Dict(vec![])),
    ]);
    assert_eq!(
        item_of(&value, Dialect::Tnetstring).unwrap_err(),
        "publish item object contains 'channel' with wrong type"
    );
}
