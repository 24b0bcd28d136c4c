//! The `application/grip-instruct` JSON body (§4.3), read over the header instructions.
//!
//! ```text
//! { "hold": { "mode": "response"|"stream", "channels": [{"name", "prev-id", "filters"}],
//!             "timeout": N, "keep-alive": {"content"|"content-bin", "timeout"}, "meta": {…} },
//!   "response": { "code", "reason", "headers": {…} | [[name, value], …], "body"|"body-bin" } }
//! ```
//!
//! Fields are checked in Pushpin's order (`hold` before `response`, `mode` before `channels`),
//! and each error has Pushpin's text. Unknown fields are ignored, a repeated key keeps its last
//! value, and `content-bin`/`body-bin` win over `content`/`body`, all as in Pushpin. The body is
//! at most [`Limits::max_json_body`] bytes; serde_json caps nesting at 128.
//!
//! Numbers: Pushpin reads them through Qt's `QVariant`, so gripway takes an integer, a float
//! (rounded, as Qt does: a timeout of 5.9 lasted 6 s) or a string holding a decimal integer
//! (`"timeout": "10"`), a leniency backends in loosely typed languages rely on.
//!
//! Differences from Pushpin 1.36:
//! - `true`, or a string that is not an integer, is a wrong type; Pushpin reads them as 1 and 0;
//! - `content-bin`/`body-bin` must be standard base64 (padding optional); Pushpin skips bad bytes;
//! - a response that is not held and has no `body` gets an empty body; Pushpin fails it with the
//!   stray text `filter error: `;
//! - `"response": 5` reports `instruct contains 'response' with wrong type`; Pushpin's text is empty;
//! - a `keep-alive` with empty content means no keep-alive (Pushpin arms one that sends nothing);
//! - nesting deeper than 128 levels (serde_json's limit) is not JSON; Qt reads deeper documents.
//!
//! As in Pushpin (Qt's `QJsonDocument`), only an object or an array is a JSON document: `"x"` is
//! not JSON, `[]` is not an instruct object.

use base64::Engine;
use bytes::Bytes;
use serde_json::{Map, Value};

use super::instruct::{hold_timeout, set_meta, Channel, HoldMode, Instruct, Limits};
use super::keep_alive::{
    clamp_timeout, KeepAlive, KeepAliveMode, BASE64, DEFAULT_KEEP_ALIVE_TIMEOUT,
};
use super::status::status_code;
use super::Error;
use crate::Headers;

type Object = Map<String, Value>;

/// Overlays the instructions of a grip-instruct `body` on `instruct` (already read from headers).
pub(crate) fn apply(instruct: &mut Instruct, body: &[u8], limits: &Limits) -> Result<(), Error> {
    if body.len() > limits.max_json_body {
        return Err(Error::TooLarge);
    }
    // Like Qt's QJsonDocument, which Pushpin uses, only an object or an array is a document.
    let mut top = match serde_json::from_slice(body) {
        Ok(Value::Object(top)) => top,
        Ok(Value::Array(_)) => return Err(Error::InstructNotObject),
        Ok(_) | Err(_) => return Err(Error::BadJson),
    };
    if let Some(hold) = top.remove("hold") {
        let hold = object(hold, "instruct", "hold")?;
        apply_hold(instruct, hold, limits)?;
    }
    // The backend's own headers and body never reach the client in this form.
    instruct.response.headers = Headers::new();
    instruct.response.body = Bytes::new();
    if let Some(response) = top.remove("response") {
        let response = object(response, "instruct", "response")?;
        apply_response(instruct, response, limits)?;
    }
    Ok(())
}

fn apply_hold(instruct: &mut Instruct, mut hold: Object, limits: &Limits) -> Result<(), Error> {
    let mode = match hold.remove("mode") {
        None => HoldMode::Response,
        Some(Value::String(mode)) => match mode.as_str() {
            "response" => HoldMode::Response,
            "stream" => HoldMode::Stream,
            _ => return Err(Error::BadHoldMode),
        },
        Some(_) => return Err(wrong_type("hold", "mode")),
    };
    let channels = match hold.remove("channels") {
        Some(Value::Array(channels)) => channels,
        Some(_) => return Err(wrong_type("hold", "channels")),
        None => {
            return Err(Error::MissingField {
                object: "hold",
                field: "channels",
            })
        }
    };
    for value in channels {
        if instruct.channels.len() == limits.max_channels {
            return Err(Error::TooManyChannels);
        }
        instruct.channels.push(channel(value, limits)?);
    }
    if let Some(value) = hold.remove("timeout") {
        let n = integer(&value).ok_or(wrong_type("hold", "timeout"))?;
        instruct.timeout = hold_timeout(n).ok_or(invalid_value("hold", "timeout"))?;
    }
    if let Some(value) = hold.remove("keep-alive") {
        instruct.keep_alive = keep_alive(object(value, "hold", "keep-alive")?)?;
    }
    if let Some(value) = hold.remove("meta") {
        for (key, value) in object(value, "hold", "meta")? {
            let Value::String(value) = value else {
                return Err(Error::MetaWrongType(key));
            };
            set_meta(&mut instruct.meta, key, value, limits)?;
        }
    }
    instruct.hold = Some(mode);
    Ok(())
}

fn channel(value: Value, limits: &Limits) -> Result<Channel, Error> {
    let Value::Object(mut channel) = value else {
        return Err(Error::ChannelNotObject);
    };
    let name = match channel.remove("name") {
        Some(name) => string(name, "channel", "name")?,
        None => {
            return Err(Error::MissingField {
                object: "channel",
                field: "name",
            })
        }
    };
    let prev_id = match channel.remove("prev-id") {
        Some(id) => Some(string(id, "channel", "prev-id")?),
        None => None,
    };
    let mut filters = Vec::new();
    if let Some(value) = channel.remove("filters") {
        let Value::Array(values) = value else {
            return Err(wrong_type("channel", "filters"));
        };
        if values.len() > limits.max_filters {
            return Err(Error::TooManyFilters);
        }
        for filter in values {
            let Value::String(filter) = filter else {
                return Err(Error::FilterWrongType);
            };
            filters.push(filter);
        }
    }
    Ok(Channel {
        name,
        prev_id,
        filters,
    })
}

/// A JSON keep-alive: idle mode, raw data. Empty data means no keep-alive.
fn keep_alive(mut value: Object) -> Result<Option<KeepAlive>, Error> {
    const OBJECT: &str = "keep-alive";
    let data = if let Some(bin) = value.remove("content-bin") {
        base64(bin, OBJECT, "content-bin")?
    } else if let Some(text) = value.remove("content") {
        Bytes::from(string(text, OBJECT, "content")?)
    } else {
        Bytes::new()
    };
    let timeout = match value.remove("timeout") {
        Some(t) => {
            let n = integer(&t).ok_or(wrong_type(OBJECT, "timeout"))?;
            clamp_timeout(n).ok_or(invalid_value(OBJECT, "timeout"))?
        }
        None => DEFAULT_KEEP_ALIVE_TIMEOUT,
    };
    Ok((!data.is_empty()).then_some(KeepAlive {
        data,
        timeout,
        mode: KeepAliveMode::Idle,
    }))
}

fn apply_response(
    instruct: &mut Instruct,
    mut value: Object,
    limits: &Limits,
) -> Result<(), Error> {
    const OBJECT: &str = "response";
    let response = &mut instruct.response;
    if let Some(code) = value.remove("code") {
        let n = integer(&code).ok_or(wrong_type(OBJECT, "code"))?;
        response.code = status_code(n).ok_or(invalid_value(OBJECT, "code"))?;
        // A code without a reason gets its standard phrase, not the one from the headers.
        response.reason = Bytes::new();
    }
    if let Some(reason) = value.remove("reason") {
        let reason = string(reason, OBJECT, "reason")?;
        if !reason.is_empty() {
            response.reason = Bytes::from(reason);
        }
    }
    if let Some(headers) = value.remove("headers") {
        response.headers = headers_of(headers, limits)?;
    }
    if let Some(bin) = value.remove("body-bin") {
        response.body = base64(bin, OBJECT, "body-bin")?;
    } else if let Some(body) = value.remove("body") {
        response.body = Bytes::from(string(body, OBJECT, "body")?);
    }
    Ok(())
}

/// `headers` as an object (`{"Name": "value"}`) or a list of pairs (`[["Name", "value"]]`).
fn headers_of(value: Value, limits: &Limits) -> Result<Headers, Error> {
    let mut headers = Headers::new();
    let mut push = |name: String, value: String| {
        if headers.len() == limits.max_headers {
            return Err(Error::TooManyHeaders);
        }
        headers.push(name, value);
        Ok(())
    };
    match value {
        Value::Object(fields) => {
            for (name, value) in fields {
                let Value::String(value) = value else {
                    return Err(Error::HeaderWrongType(name));
                };
                push(name, value)?;
            }
        }
        Value::Array(pairs) => {
            for pair in pairs {
                let (name, value) = header_pair(pair)?;
                push(name, value)?;
            }
        }
        _ => return Err(wrong_type("response", "headers")),
    }
    Ok(headers)
}

fn header_pair(pair: Value) -> Result<(String, String), Error> {
    let Value::Array(pair) = pair else {
        return Err(Error::HeaderElementWrongType);
    };
    let Ok([name, value]) = <[Value; 2]>::try_from(pair) else {
        return Err(Error::HeaderPairLength);
    };
    let Value::String(name) = name else {
        return Err(Error::HeaderNameWrongType);
    };
    let Value::String(value) = value else {
        return Err(Error::HeaderValueWrongType);
    };
    Ok((name, value))
}

// === field readers ===

fn object(value: Value, object: &'static str, field: &'static str) -> Result<Object, Error> {
    match value {
        Value::Object(fields) => Ok(fields),
        _ => Err(wrong_type(object, field)),
    }
}

fn string(value: Value, object: &'static str, field: &'static str) -> Result<String, Error> {
    match value {
        Value::String(s) => Ok(s),
        _ => Err(wrong_type(object, field)),
    }
}

fn base64(value: Value, object: &'static str, field: &'static str) -> Result<Bytes, Error> {
    let text = string(value, object, field)?;
    BASE64
        .decode(text)
        .map(Bytes::from)
        .map_err(|_| invalid_value(object, field))
}

/// An integer as Pushpin reads one (see the module doc); out-of-range floats saturate, so they
/// fail the caller's range check rather than the type check.
fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            // `as` saturates at the i64 bounds, which every caller then rejects as out of range.
            f.is_finite().then(|| f.round() as i64)
        }),
        Value::String(s) => super::params::parse_int(s.as_bytes()).map(i64::from),
        _ => None,
    }
}

fn wrong_type(object: &'static str, field: &'static str) -> Error {
    Error::WrongType { object, field }
}

fn invalid_value(object: &'static str, field: &'static str) -> Error {
    Error::InvalidValue { object, field }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Instruct, Error> {
        let mut instruct = Instruct::default();
        apply(&mut instruct, json.as_bytes(), &Limits::default()).map(|()| instruct)
    }

    #[test]
    fn full_instruct() {
        let i = parse(
            r#"{"hold": {"mode": "stream", "channels": [{"name": "a", "prev-id": "1",
                "filters": ["skip-self"]}], "timeout": "10", "keep-alive": {"content-bin": "aGk",
                "timeout": 0.6}, "meta": {"user": "u"}},
                "response": {"code": 201.4, "headers": [["X-A", "1"], ["X-A", "2"]],
                "body": "hi"}}"#,
        )
        .unwrap();
        assert_eq!(i.hold, Some(HoldMode::Stream));
        assert_eq!(i.channels[0].filters, ["skip-self"]);
        assert_eq!(i.timeout, 10);
        let ka = i.keep_alive.unwrap();
        assert_eq!((&ka.data[..], ka.timeout), (&b"hi"[..], 1));
        assert_eq!(i.meta, [("user".into(), "u".into())]);
        assert_eq!((i.response.code, &i.response.reason[..]), (201, &b""[..]));
        assert_eq!(i.response.headers.len(), 2);
        assert_eq!(i.response.body, "hi");
    }

    #[test]
    fn errors_carry_pushpin_texts() {
        let cases = [
            (
                "x",
                "failed to parse application/grip-instruct content as JSON",
            ),
            ("[]", "instruct must be an object"),
            (
                r#"{"hold": null}"#,
                "instruct contains 'hold' with wrong type",
            ),
            (r#"{"hold": {}}"#, "hold does not contain 'channels'"),
            (
                r#"{"hold": {"mode": "x", "channels": 5}}"#,
                "hold 'mode' must be set to either 'response' or 'stream'",
            ),
            (r#"{"hold": {"channels": [5]}}"#, "channel is not an object"),
            (
                r#"{"hold": {"channels": [{"name": "a", "filters": [5]}]}}"#,
                "filters contains value with wrong type",
            ),
            (
                r#"{"hold": {"channels": [], "timeout": true}}"#,
                "hold contains 'timeout' with wrong type",
            ),
            (
                r#"{"hold": {"channels": [], "timeout": 1e20}}"#,
                "hold contains 'timeout' with invalid value",
            ),
            (
                r#"{"hold": {"channels": [], "meta": {"k": 1}}}"#,
                "'meta' contains 'k' with wrong type",
            ),
            (
                r#"{"response": {"headers": {"X": null}}}"#,
                "headers contains 'X' with wrong type",
            ),
            (
                r#"{"response": {"headers": [["X"]]}}"#,
                "headers contains list with wrong number of elements",
            ),
            (
                r#"{"response": {"code": 1000}}"#,
                "response contains 'code' with invalid value",
            ),
            (
                r#"{"response": {"body-bin": "%%"}}"#,
                "response contains 'body-bin' with invalid value",
            ),
        ];
        for (json, want) in cases {
            assert_eq!(parse(json).unwrap_err().to_string(), want, "{json}");
        }
    }

    #[test]
    fn limits() {
        let mut i = Instruct::default();
        let limits = Limits {
            max_json_body: 4,
            ..Limits::default()
        };
        assert_eq!(apply(&mut i, b"{   }", &limits), Err(Error::TooLarge));
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert_eq!(parse(&deep).unwrap_err(), Error::BadJson);
    }
}
