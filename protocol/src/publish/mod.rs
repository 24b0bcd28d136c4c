//! Publish items and their formats (§5.1), from and to every publish input: the HTTP endpoint
//! (§5.2), ZMQ PULL (§5.3), ZMQ SUB (§5.4) and the `publish` command (§5.5).
//!
//! # Reading
//! | Input | Function |
//! |---|---|
//! | HTTP body `{"items": [...]}` | [`parse_http_body`] |
//! | one JSON item object | [`parse_json_item`] |
//! | ZMQ PULL message: bare tnetstring, `T` + tnetstring or `J` + JSON | [`parse_zmq_message`] |
//! | ZMQ SUB message `[channel, payload]` | [`parse_zmq_sub_message`] |
//! | `publish` command args (tnetstring) | [`parse_command_items`] |
//!
//! Both encodings are read into one tree ([`crate::tnetstring::Value`]) and the item rules run
//! once over it, in Pushpin's order, so an item with several faults gets the error Pushpin
//! gives. Errors carry Pushpin's exact texts ([`ItemError`], [`Error`]). Payloads come out as
//! views of the input: a tnetstring body, or a JSON string without escapes, is not copied.
//! Decoding a 1 KB item with all three formats takes about 3.4 µs from JSON and 1.2 µs from
//! tnetstring (`benches/publish.rs`, one shared core).
//!
//! # Writing
//! [`Item::encode_json`], [`Item::encode_tnetstring`] and [`encode_http_body`] write a canonical
//! form that reads back to the same item.
//!
//! # Limits
//! Batch size and body size are the server's (it bounds the request body). Nesting is bounded by
//! serde_json's recursion limit (127 levels) for JSON and by [`Limits`] (depth, size, item
//! count) for tnetstring; nothing here recurses otherwise, except through `body-patch` values.
//!
//! # Where gripway differs from Pushpin 1.36, on purpose
//! Every item Pushpin rejects is rejected here with the same text. The differences are inputs
//! Pushpin accepts but then mangles, drops or dies on:
//! - `action: "refresh"` is accepted on every format, as Pushpin 1.38+ does (1.36 rejects it).
//! - Integers (`size`, `code`): numbers and digit strings are read as Qt reads them, but other
//!   strings and booleans are the wrong type, where Qt turns them into 0 or 1 (a published
//!   `"code": "x"` gives Pushpin's client `0 Undefined Reason`).
//! - A `ws-message` close `code` above 65535 is an invalid value; Pushpin sends it modulo 65536.
//! - `body-bin`/`content-bin` that is not base64 is an invalid value; Pushpin skips the stray
//!   characters and publishes what is left. Padding and whitespace stay optional.
//! - An item whose formats are all unknown is `no formats specified`; Pushpin accepts it and
//!   delivers nothing. (An empty `formats`, or none, is rejected by both.)
//! - Text fields in tnetstring input (channel, ids, meta, reason, filters) must be UTF-8;
//!   Pushpin decodes them lossily.
//! - Tnetstring input is bounded by [`Limits`]; Pushpin's reader has no depth limit, and a
//!   truncated tnetstring on its PULL socket trips a Qt assertion that stops Pushpin entirely.
//! - JSON with an escaped lone UTF-16 surrogate, or nested deeper than 127 levels, is not valid
//!   JSON; Pushpin publishes `?` for the surrogate and allows 1024 levels.
//! - `headers` and `meta` objects keep the publisher's order; Qt sorts them by name. Of
//!   repeated keys the last counts, in both.
//!
//! Kept leniencies: bytes after a tnetstring payload are ignored; before JSON a UTF-8 byte order
//! mark is skipped, and inside JSON strings raw control characters are taken; on SUB the item's
//! own `channel` is neither required nor read.

mod decode;
mod encode;
mod error;
mod item;

use bytes::Bytes;

pub use self::encode::encode_http_body;
pub use self::error::{Error, ItemError};
pub use self::item::{Action, Format, HttpResponse, HttpStream, Item, WsMessage, WsMessageType};

use self::decode::{json, Dialect};
use crate::tnetstring::{share, Limits, Value};

/// Reads the body of an HTTP publish request, `{"items": [...]}` (§5.2). One bad item rejects
/// the batch; `Error`'s `Display` is then the 400 body Pushpin sends (without its newline).
pub fn parse_http_body(body: &Bytes) -> Result<Vec<Item>, Error> {
    let value = json::read(body).map_err(|_| Error::BodyNotJson)?;
    items(&value, Dialect::Json)
}

/// Reads one JSON item object, as a `J` payload holds (§5.3).
pub fn parse_json_item(json: &Bytes) -> Result<Item, Error> {
    json_item(json, None)
}

/// Reads a ZMQ PULL message (§5.3): a bare tnetstring dict, `T` + tnetstring, or `J` + JSON.
pub fn parse_zmq_message(payload: &Bytes) -> Result<Item, Error> {
    parse_zmq_message_with(payload, &Limits::default())
}

/// [`parse_zmq_message`] with explicit tnetstring limits.
pub fn parse_zmq_message_with(payload: &Bytes, limits: &Limits) -> Result<Item, Error> {
    zmq_item(payload, limits, None)
}

/// Reads a ZMQ SUB message (§5.4): frame 1 is the channel, frame 2 a payload as for
/// [`parse_zmq_message`] whose own `channel`, if any, is ignored.
pub fn parse_zmq_sub_message(channel: &Bytes, payload: &Bytes) -> Result<Item, Error> {
    parse_zmq_sub_message_with(channel, payload, &Limits::default())
}

/// [`parse_zmq_sub_message`] with explicit tnetstring limits.
pub fn parse_zmq_sub_message_with(
    channel: &Bytes,
    payload: &Bytes,
    limits: &Limits,
) -> Result<Item, Error> {
    let channel = std::str::from_utf8(channel).map_err(|_| ItemError::WrongType {
        format: None,
        field: "channel",
    })?;
    zmq_item(payload, limits, Some(channel.to_owned()))
}

/// Reads the args of a `publish` command (§5.5), `{items: [...]}`, already decoded from
/// tnetstring; on failure `Error`'s `Display` is the `bad-request` value Pushpin returns.
pub fn parse_command_items(args: &Value) -> Result<Vec<Item>, Error> {
    items(args, Dialect::Tnetstring)
}

/// The items of a batch object.
fn items(batch: &Value, dialect: Dialect) -> Result<Vec<Item>, Error> {
    let Value::Dict(entries) = batch else {
        return Err(Error::BodyNotObject);
    };
    // The last of repeated keys counts, as for every object.
    match entries.iter().rev().find(|(k, _)| k == "items") {
        None => Err(Error::NoItems),
        Some((_, Value::List(items))) => items
            .iter()
            .map(|item| decode::item(item, dialect, None).map_err(Error::Item))
            .collect(),
        Some(_) => Err(Error::ItemsWrongType),
    }
}

fn zmq_item(payload: &Bytes, limits: &Limits, channel: Option<String>) -> Result<Item, Error> {
    match payload.split_first() {
        Some((b'J', json)) => json_item(&share(payload, json), channel),
        Some((b'T', tnet)) => tnet_item(&share(payload, tnet), limits, channel),
        _ => tnet_item(payload, limits, channel),
    }
}

fn json_item(json: &Bytes, channel: Option<String>) -> Result<Item, Error> {
    match json::read(json).map_err(|_| Error::Json)? {
        Value::List(_) => Err(Error::JsonNotObject),
        value => Ok(decode::item(&value, Dialect::Json, channel)?),
    }
}

fn tnet_item(input: &Bytes, limits: &Limits, channel: Option<String>) -> Result<Item, Error> {
    // Pushpin ignores whatever follows the value, so this does too.
    let (value, _) = Value::decode_prefix(input, limits).map_err(Error::Tnetstring)?;
    Ok(decode::item(&value, Dialect::Tnetstring, channel)?)
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;

    fn within(part: &Bytes, whole: &Bytes) -> bool {
        let (start, end) = (
            whole.as_ptr() as usize,
            whole.as_ptr() as usize + whole.len(),
        );
        (start..end).contains(&(part.as_ptr() as usize))
    }

    #[test]
    fn tnetstring_payloads_are_views_of_the_message() {
        let bare = Bytes::from_static(
            b"69:7:channel,4:news,7:formats,38:11:http-stream,19:7:content,6:hello\n,}}}",
        );
        let mut prefixed = BytesMut::from(&b"T"[..]);
        prefixed.extend_from_slice(&bare);
        for payload in [bare, prefixed.freeze()] {
            let item = parse_zmq_message(&payload).unwrap();
            let content = &item.http_stream.unwrap().content;
            assert_eq!(content, "hello\n");
            assert!(within(content, &payload));
        }
    }

    #[test]
    fn limits_apply_to_tnetstring_input() {
        let payload = Bytes::from_static(b"46:7:channel,1:c,11:http-stream,13:7:content,0:,}}");
        assert!(parse_zmq_message(&payload).is_ok());
        let shallow = Limits {
            max_depth: 1,
            ..Limits::default()
        };
        let err = parse_zmq_message_with(&payload, &shallow).unwrap_err();
        assert_eq!(err, Error::Tnetstring(crate::tnetstring::Error::TooDeep));
        assert_eq!(err.to_string(), "tnetstring parse failed");
        assert_eq!(err.item(), None);
    }

    #[test]
    fn item_errors_carry_pushpins_texts_both_ways() {
        let err =
            parse_http_body(&Bytes::from_static(br#"{"items":[{"channel":1}]}"#)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid format: publish item object contains 'channel' with wrong type"
        );
        assert_eq!(
            err.item().map(ToString::to_string).as_deref(),
            Some("publish item object contains 'channel' with wrong type")
        );
    }
}
