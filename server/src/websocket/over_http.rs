//! WebSocket-over-HTTP requests and responses (§7.2), without sockets: what each `POST` to the
//! backend carries, and what the backend's answer means.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use protocol::wsevents::{self, Event};
use protocol::Headers;

use super::extension;

/// The content type of both directions; the backend's must match it exactly.
pub const CONTENT_TYPE: &str = "application/websocket-events";
/// The shortest keep-alive interval a backend may ask for.
pub const MIN_KEEP_ALIVE: Duration = Duration::from_secs(20);
/// Largest response body read from the backend.
pub const RESPONSE_LIMIT: usize = 1_000_000;
/// Largest rejection body passed to the client.
pub const REJECTION_LIMIT: usize = 100_000;
/// Client message bytes sent in one request; more wait for the next.
pub const REQUEST_CONTENT_LIMIT: usize = 200_000;

/// Client handshake fields that are not forwarded: the request's own framing and type, and what
/// the proxy sets itself.
const NOT_FORWARDED: &[&str] = &[
    "accept",
    "connection-id",
    "content-length",
    "content-type",
    "sec-websocket-extensions",
];

/// The per-connection part of every request: the client's handshake fields, the connection id,
/// and the meta values the backend set.
#[derive(Clone, Debug)]
pub struct RequestShape {
    base: Headers,
    connection_id: Bytes,
    meta: Vec<(Bytes, Bytes)>,
}

impl RequestShape {
    /// `rewritten`: the client's handshake fields after the proxy's rewriting (hop-by-hop
    /// fields gone, `Grip-Sig` added).
    pub fn new(mut rewritten: Headers, connection_id: String) -> RequestShape {
        rewritten.retain(|name, _| {
            !NOT_FORWARDED
                .iter()
                .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
                && !starts_with_ignore_case(name, b"meta-")
        });
        // Kept for the connection's life: no spare capacity.
        let mut base = Headers::with_capacity(rewritten.len());
        for (name, value) in rewritten.iter() {
            base.push(name.clone(), value.clone());
        }
        RequestShape {
            base,
            connection_id: Bytes::from(connection_id),
            meta: Vec::new(),
        }
    }

    /// The connection id (constant for the connection).
    pub fn connection_id(&self) -> &Bytes {
        &self.connection_id
    }

    /// The fields of one request (the HTTP client adds `Content-Length`).
    pub fn headers(&self) -> Headers {
        let mut headers = self.base.clone();
        headers.push("Sec-WebSocket-Extensions", "grip");
        headers.push("Accept", CONTENT_TYPE);
        headers.push("Connection-Id", self.connection_id.clone());
        headers.push("Content-Type", CONTENT_TYPE);
        for (name, value) in &self.meta {
            let mut field = BytesMut::with_capacity(5 + name.len());
            field.extend_from_slice(b"Meta-");
            field.extend_from_slice(name);
            headers.push(field.freeze(), value.clone());
        }
        headers
    }

    /// Takes the backend's `Set-Meta-<Name>` fields: each sets a value, an empty one deletes it.
    pub fn apply_set_meta(&mut self, response: &Headers) {
        for (name, value) in response.iter() {
            let Some(meta) = strip_prefix_ignore_case(name, b"set-meta-") else {
                continue;
            };
            self.meta.retain(|(n, _)| !n.eq_ignore_ascii_case(meta));
            if !value.is_empty() {
                self.meta
                    .push((Bytes::copy_from_slice(meta), value.clone()));
            }
        }
    }
}

/// The body of a request: the events, encoded.
pub fn request_body(events: &[Event]) -> Bytes {
    let mut out = BytesMut::with_capacity(wsevents::encoded_len(events));
    wsevents::encode(events, &mut out);
    out.freeze()
}

/// Why a backend answer cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// Not `200` with exactly the events content type.
    #[error("backend answered {0} without WebSocket events")]
    NotEvents(u16),
    /// The body is not valid events.
    #[error("backend sent malformed events: {0}")]
    Malformed(String),
}

/// The events of a backend answer, if it is one (status 200, `Content-Type` exactly
/// `application/websocket-events`: parameters make it another type, as in Pushpin).
pub fn response_events(
    code: u16,
    headers: &Headers,
    body: &Bytes,
) -> Result<Vec<Event>, ResponseError> {
    let events_type =
        headers.get("content-type").map(|v| v.as_ref()) == Some(CONTENT_TYPE.as_bytes());
    if code != 200 || !events_type {
        return Err(ResponseError::NotEvents(code));
    }
    wsevents::decode(body).map_err(|e| ResponseError::Malformed(e.to_string()))
}

/// What `Keep-Alive-Interval` says: `None` when absent; `Some(None)` turns keep-alives off (zero,
/// negative, or not a number); else the interval, at least [`MIN_KEEP_ALIVE`].
pub fn keep_alive_interval(headers: &Headers) -> Option<Option<Duration>> {
    let value = headers.get("keep-alive-interval")?;
    let seconds = std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|&n| n > 0);
    Some(seconds.map(|n| Duration::from_secs(n.unsigned_abs()).max(MIN_KEEP_ALIVE)))
}

/// Whether the first answer opens the connection: it starts with `OPEN`, or it is empty and
/// sets a keep-alive interval.
pub fn opens(events: &[Event], headers: &Headers) -> bool {
    match events.first() {
        Some(Event::Open) => true,
        Some(_) => false,
        None => headers.get("keep-alive-interval").is_some(),
    }
}

/// The backend fields that go to the client with the `101`: all but the events framing, the
/// proxy's own instructions and the extension negotiation (the client gets no extension).
pub fn client_fields(headers: &Headers) -> Headers {
    let mut fields = headers.clone();
    fields.retain(|name, _| {
        ![
            "content-length",
            "content-type",
            "keep-alive-interval",
            "sec-websocket-extensions",
        ]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
            && !starts_with_ignore_case(name, b"set-meta-")
    });
    fields
}

/// The `grip` extension's message prefix in the backend's answer (`None`: not enabled).
pub fn grip_prefix(headers: &Headers) -> Option<Bytes> {
    extension::grip_prefix(headers)
}

fn starts_with_ignore_case(name: &[u8], prefix: &[u8]) -> bool {
    strip_prefix_ignore_case(name, prefix).is_some()
}

fn strip_prefix_ignore_case<'a>(name: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = name.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| name.get(prefix.len()..))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(fields: &[(&'static str, &'static str)]) -> Headers {
        fields.iter().copied().collect()
    }

    #[test]
    fn requests_carry_the_connection_and_its_meta() {
        let client = h(&[
            ("Host", "example.com"),
            ("Sec-WebSocket-Key", "k"),
            ("Sec-WebSocket-Extensions", "permessage-deflate"),
            ("Accept", "*/*"),
            ("Meta-User", "forged"),
            ("Grip-Sig", "token"),
        ]);
        let mut shape = RequestShape::new(client, "c1".into());
        shape.apply_set_meta(&h(&[("Set-Meta-User", "alice"), ("X-Other", "1")]));
        let headers = shape.headers();
        let names: Vec<_> = headers
            .iter()
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        let expect: Vec<(Bytes, Bytes)> = [
            ("Host", "example.com"),
            ("Sec-WebSocket-Key", "k"),
            ("Grip-Sig", "token"),
            ("Sec-WebSocket-Extensions", "grip"),
            ("Accept", CONTENT_TYPE),
            ("Connection-Id", "c1"),
            ("Content-Type", CONTENT_TYPE),
            ("Meta-User", "alice"),
        ]
        .iter()
        .map(|(n, v)| {
            (
                Bytes::from_static(n.as_bytes()),
                Bytes::from_static(v.as_bytes()),
            )
        })
        .collect();
        assert_eq!(names, expect);
        shape.apply_set_meta(&h(&[("Set-Meta-user", "")]));
        assert!(
            shape.headers().get("meta-user").is_none(),
            "an empty value deletes"
        );
    }

    #[test]
    fn only_exact_events_answers_count() {
        let body = Bytes::from_static(b"OPEN\r\nTEXT 2\r\nhi\r\n");
        let ok = h(&[("Content-Type", CONTENT_TYPE)]);
        assert_eq!(
            response_events(200, &ok, &body).unwrap(),
            vec![Event::Open, Event::text("hi")]
        );
        let charset = h(&[(
            "Content-Type",
            "application/websocket-events; charset=utf-8",
        )]);
        assert_eq!(
            response_events(200, &charset, &body),
            Err(ResponseError::NotEvents(200))
        );
        assert_eq!(
            response_events(403, &ok, &body),
            Err(ResponseError::NotEvents(403))
        );
        assert!(matches!(
            response_events(200, &ok, &Bytes::from_static(b"TEXT 9\r\nhi\r\n")),
            Err(ResponseError::Malformed(_))
        ));
    }

    #[test]
    fn keep_alive_intervals_have_a_floor_and_an_off() {
        let of = |v: &'static str| keep_alive_interval(&h(&[("Keep-Alive-Interval", v)]));
        assert_eq!(of("30"), Some(Some(Duration::from_secs(30))));
        assert_eq!(of("5"), Some(Some(MIN_KEEP_ALIVE)));
        assert_eq!(of("0"), Some(None));
        assert_eq!(of("-3"), Some(None));
        assert_eq!(of("soon"), Some(None));
        assert_eq!(keep_alive_interval(&Headers::default()), None);
    }

    #[test]
    fn the_first_answer_must_open() {
        let none = Headers::default();
        assert!(opens(&[Event::Open, Event::text("x")], &none));
        assert!(!opens(&[Event::text("x")], &none));
        assert!(!opens(&[], &none));
        assert!(opens(&[], &h(&[("Keep-Alive-Interval", "20")])));
    }

    #[test]
    fn the_client_gets_the_backends_other_fields() {
        let backend = h(&[
            ("Content-Type", CONTENT_TYPE),
            ("Content-Length", "6"),
            ("Sec-WebSocket-Extensions", "grip"),
            ("Keep-Alive-Interval", "20"),
            ("Set-Meta-User", "a"),
            ("X-Custom", "1"),
        ]);
        let fields = client_fields(&backend);
        assert_eq!(fields.iter().count(), 1);
        assert_eq!(fields.get("x-custom").unwrap().as_ref(), b"1");
    }
}
