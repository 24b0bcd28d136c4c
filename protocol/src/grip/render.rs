//! Writing an [`Instruct`] back as a backend response: the SDKs' side of §4.2 and §4.3.
//!
//! Two forms, each parsing back to the same `Instruct` (the property tests check it):
//! - headers: [`Instruct::grip_headers`] gives the `Grip-*` fields, [`Instruct::to_response`] the
//!   whole response with the status in the status line;
//! - JSON: [`Instruct::to_json`] gives the grip-instruct body, [`Instruct::to_json_response`] the
//!   whole `200` response, with `Grip-*` headers for what JSON cannot say (links, interval
//!   keep-alives, channels without a hold), which Pushpin reads alongside the body.
//!
//! Defaults are left out (`Grip-Timeout: 55`, a link timeout of 120). Values are quoted only when
//! needed. The JSON `response` always has a `body`, because Pushpin 1.36 fails a response
//! without one. Anything that would read back differently is a [`RenderError`]: a channel name
//! with `,`, `;` or `"` in header form (Pushpin keeps such names as written, quotes included),
//! `Grip-*` names among the response headers, control bytes, or non-UTF-8 text in JSON.

use base64::Engine;
use bytes::{Bytes, BytesMut};
use serde_json::{json, Map, Value};

use super::instruct::{is_grip_header, Channel, Instruct, Response, CONTENT_TYPE, DEFAULT_TIMEOUT};
use super::keep_alive::{self, KeepAlive, KeepAliveMode, BASE64, DEFAULT_KEEP_ALIVE_TIMEOUT};
use super::params::{self, Item, Param};
use super::status::MAX_STATUS_CODE;
use super::MAX_HEADERS;
use super::{link, RenderError};
use crate::Headers;

/// Which `Grip-*` headers to write.
#[derive(Clone, Copy)]
struct Parts {
    /// `Grip-Hold`, `Grip-Channel`, `Grip-Timeout`, `Grip-Set-Meta`.
    hold: bool,
    /// `Grip-Keep-Alive`.
    keep_alive: bool,
}

impl Instruct {
    /// The `Grip-*` headers that carry these instructions. The response's status, headers and
    /// body are the caller's (see [`Instruct::to_response`]).
    pub fn grip_headers(&self) -> Result<Headers, RenderError> {
        self.headers_for(Parts {
            hold: true,
            keep_alive: true,
        })
    }

    /// The whole response in header form: `response` with [`Instruct::grip_headers`] appended.
    pub fn to_response(&self) -> Result<Response, RenderError> {
        let own = &self.response.headers;
        let clashes = own.iter().any(|(name, _)| is_grip_header(name))
            || super::instruct::is_instruct_body(own);
        if clashes {
            return Err(RenderError {
                field: "response headers",
            });
        }
        let mut headers = own.clone();
        for (name, value) in self.grip_headers()? {
            headers.push(name, value);
        }
        Ok(Response {
            headers,
            ..self.response.clone()
        })
    }

    /// The grip-instruct body: the hold (when there is one) and the response. Links, interval
    /// keep-alives and hold fields without a hold have no JSON spelling; see
    /// [`Instruct::to_json_response`].
    pub fn to_json(&self) -> Result<String, RenderError> {
        let mut top = Map::new();
        if let Some(mode) = self.hold {
            let mut hold = Map::new();
            hold.insert("mode".into(), mode.as_str().into());
            let channels = self.channels.iter().map(channel_json).collect();
            hold.insert("channels".into(), Value::Array(channels));
            if self.timeout != DEFAULT_TIMEOUT {
                hold.insert("timeout".into(), self.timeout.into());
            }
            if let Some(ka) = self.keep_alive.as_ref().filter(|ka| in_json(ka)) {
                hold.insert("keep-alive".into(), keep_alive_json(ka)?);
            }
            if !self.meta.is_empty() {
                let meta = self
                    .meta
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().into()));
                hold.insert("meta".into(), Value::Object(meta.collect()));
            }
            top.insert("hold".into(), Value::Object(hold));
        }
        top.insert("response".into(), response_json(&self.response)?);
        Ok(Value::Object(top).to_string())
    }

    /// The whole response in JSON form: `200 OK`, `Content-Type: application/grip-instruct`, the
    /// `Grip-*` headers for what the body cannot say, and [`Instruct::to_json`] as the body.
    pub fn to_json_response(&self) -> Result<Response, RenderError> {
        let mut headers = Headers::new();
        headers.push("Content-Type", CONTENT_TYPE);
        let held = self.hold.is_some();
        let extra = self.headers_for(Parts {
            hold: !held,
            keep_alive: !held || self.keep_alive.as_ref().is_some_and(|ka| !in_json(ka)),
        })?;
        for (name, value) in extra {
            headers.push(name, value);
        }
        Ok(Response {
            headers,
            body: Bytes::from(self.to_json()?),
            ..Response::default()
        })
    }

    fn headers_for(&self, parts: Parts) -> Result<Headers, RenderError> {
        let mut headers = Headers::new();
        if parts.hold {
            if let Some(mode) = self.hold {
                headers.push("Grip-Hold", mode.as_str());
            }
            for channel in &self.channels {
                headers.push("Grip-Channel", channel_header(channel)?);
            }
            if self.timeout != DEFAULT_TIMEOUT {
                headers.push("Grip-Timeout", self.timeout.to_string());
            }
        }
        if let Some(ka) = self.keep_alive.as_ref().filter(|_| parts.keep_alive) {
            headers.push("Grip-Keep-Alive", keep_alive::render_header(ka)?);
        }
        let gone = self.gone_link.as_deref();
        if let Some(links) = link::render_header(self.next_link.as_ref(), gone)? {
            headers.push("Grip-Link", links);
        }
        if parts.hold {
            for (key, value) in &self.meta {
                headers.push("Grip-Set-Meta", meta_header(key, value)?);
            }
        }
        Ok(headers)
    }
}

/// True when the keep-alive has a JSON spelling: idle mode only.
fn in_json(keep_alive: &KeepAlive) -> bool {
    keep_alive.mode == KeepAliveMode::Idle
}

fn channel_header(channel: &Channel) -> Result<Bytes, RenderError> {
    let mut params = Vec::with_capacity(1 + channel.filters.len());
    if let Some(id) = &channel.prev_id {
        params.push(Param::new("prev-id", id.clone()));
    }
    for filter in &channel.filters {
        params.push(Param::new("filter", filter.clone()));
    }
    let item = Item {
        value: Bytes::from(channel.name.clone()),
        params,
    };
    params::render_list(&[item]).map_err(|_| RenderError { field: "channel" })
}

fn meta_header(key: &str, value: &str) -> Result<Bytes, RenderError> {
    let mut out = BytesMut::new();
    params::render_param(key.as_bytes(), Some(value.as_bytes()), &mut out)
        .map_err(|_| RenderError { field: "meta" })?;
    Ok(out.freeze())
}

fn channel_json(channel: &Channel) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), channel.name.as_str().into());
    if let Some(id) = &channel.prev_id {
        out.insert("prev-id".into(), id.as_str().into());
    }
    if !channel.filters.is_empty() {
        out.insert("filters".into(), channel.filters.clone().into());
    }
    Value::Object(out)
}

fn keep_alive_json(keep_alive: &KeepAlive) -> Result<Value, RenderError> {
    if keep_alive.data.is_empty() {
        return Err(RenderError {
            field: "keep-alive",
        });
    }
    let mut out = Map::new();
    let (key, data) = bytes_json(&keep_alive.data, "content");
    out.insert(key, data);
    if keep_alive.timeout != DEFAULT_KEEP_ALIVE_TIMEOUT {
        out.insert("timeout".into(), keep_alive.timeout.into());
    }
    Ok(Value::Object(out))
}

fn response_json(response: &Response) -> Result<Value, RenderError> {
    if response.code > MAX_STATUS_CODE {
        return Err(RenderError {
            field: "response code",
        });
    }
    let reason = std::str::from_utf8(&response.reason).map_err(|_| RenderError {
        field: "response reason",
    })?;
    // The JSON form accepts at most MAX_HEADERS headers (the header form has no such cap, so an
    // instruct parsed from headers can carry more): refuse rather than write what cannot be read.
    if response.headers.len() > MAX_HEADERS {
        return Err(RenderError {
            field: "response headers",
        });
    }
    let mut out = Map::new();
    out.insert("code".into(), response.code.into());
    out.insert("reason".into(), reason.into());
    if !response.headers.is_empty() {
        let pairs = response
            .headers
            .iter()
            .map(|(name, value)| {
                let text = |b: &Bytes| std::str::from_utf8(b).map(str::to_owned);
                Ok(json!([text(name)?, text(value)?]))
            })
            .collect::<Result<Vec<_>, std::str::Utf8Error>>()
            .map_err(|_| RenderError {
                field: "response headers",
            })?;
        out.insert("headers".into(), Value::Array(pairs));
    }
    let (key, body) = bytes_json(&response.body, "body");
    out.insert(key, body);
    Ok(Value::Object(out))
}

/// `field` with the text when it is UTF-8, else `field-bin` with base64.
fn bytes_json(data: &Bytes, field: &str) -> (String, Value) {
    match std::str::from_utf8(data) {
        Ok(text) => (field.to_owned(), text.into()),
        Err(_) => (format!("{field}-bin"), BASE64.encode(data).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{HoldMode, NextLink};
    use super::*;

    fn sample() -> Instruct {
        Instruct {
            hold: Some(HoldMode::Stream),
            channels: vec![
                Channel {
                    name: "apple".into(),
                    prev_id: Some("item 1".into()),
                    filters: vec!["f1".into()],
                },
                Channel::new("banana"),
            ],
            keep_alive: Some(KeepAlive::new(":\n\n")),
            meta: vec![("user".into(), "alice".into())],
            next_link: Some(NextLink::new("/next")),
            ..Instruct::default()
        }
    }

    #[test]
    fn json_form_refuses_more_headers_than_it_can_read_back() {
        // Found by the grip_instruct fuzzer: the header form has no header cap, the JSON form
        // reads at most MAX_HEADERS, so rendering must refuse rather than write unreadable JSON.
        let mut instruct = Instruct::default();
        for i in 0..=MAX_HEADERS {
            instruct.response.headers.push(format!("X-{i}"), "v");
        }
        assert_eq!(
            instruct.to_json_response().unwrap_err().field,
            "response headers"
        );
        let rendered = instruct.to_response().unwrap();
        assert_eq!(Instruct::parse(rendered).unwrap(), instruct);
    }

    #[test]
    fn header_form() {
        let headers = sample().grip_headers().unwrap();
        let got: Vec<_> = headers
            .iter()
            .map(|(n, v)| {
                format!(
                    "{}: {}",
                    String::from_utf8_lossy(n),
                    String::from_utf8_lossy(v)
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                "Grip-Hold: stream",
                "Grip-Channel: apple; prev-id=\"item 1\"; filter=f1",
                "Grip-Channel: banana",
                "Grip-Keep-Alive: :\\n\\n; format=cstring",
                "Grip-Link: </next>; rel=next",
                "Grip-Set-Meta: user=alice",
            ]
        );
        let back = Instruct::parse(sample().to_response().unwrap()).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn json_form() {
        let json = sample().to_json().unwrap();
        assert_eq!(
            json,
            r#"{"hold":{"mode":"stream","channels":[{"name":"apple","prev-id":"item 1","filters":["f1"]},{"name":"banana"}],"keep-alive":{"content":":\n\n"},"meta":{"user":"alice"}},"response":{"code":200,"reason":"OK","body":""}}"#
        );
        let response = sample().to_json_response().unwrap();
        assert_eq!(
            response.headers.get("Grip-Link").unwrap(),
            "</next>; rel=next"
        );
        assert_eq!(Instruct::parse(response).unwrap(), sample());
    }

    #[test]
    fn unrepresentable() {
        let mut i = sample();
        i.channels[0].name = "a,b".into();
        assert_eq!(i.grip_headers().unwrap_err().field, "channel");
        assert!(i.to_json().is_ok(), "JSON can carry any name");
        let mut i = sample();
        i.response.headers.push("Grip-Foo", "x");
        assert!(i.to_response().is_err());
        assert!(i.to_json_response().is_ok());
    }
}
