//! [`Instruct`]: what a backend's GRIP response asks for, read from its `Grip-*` headers (§4.2)
//! and, with `Content-Type: application/grip-instruct`, from its JSON body (§4.3).
//!
//! Headers are read first, in Pushpin's order (`Grip-Hold`, `Grip-Channel`, `Grip-Timeout`,
//! `Grip-Keep-Alive`, `Grip-Status`, `Grip-Link`, `Grip-Set-Meta`, `Grip-Expose-Headers`), so the
//! first error reported is the one Pushpin reports. `Grip-Hold`, `Grip-Timeout`, `Grip-Keep-Alive`
//! and `Grip-Status` use their first header (the last two are ignored when empty, as in Pushpin);
//! the others read every header of their name. A JSON body then overlays them the way Pushpin
//! 1.36 does (observed): its `hold` sets the mode (default `response`), appends its channels to
//! the header ones, and replaces timeout and keep-alive and merges meta when given; its `response`
//! replaces code and reason when given, and the backend's own headers and body are always
//! discarded. Finally an empty reason becomes the code's standard phrase
//! ([`reason_phrase`](super::reason_phrase)).
//!
//! No server policy is applied: every channel is kept (the server truncates to
//! `connection_subscription_max`), the route prefix is not added, and hop-by-hop headers are left
//! for the server to drop. [`Limits`] only bound what a hostile backend can make us build.
//!
//! Differences from Pushpin 1.36: names, ids, filters, meta and links must be UTF-8 (Pushpin
//! replaces bad bytes), the grip-instruct media type is matched case-insensitively (RFC 9110
//! §8.3.1; Pushpin proxies `Application/Grip-Instruct` as a plain response), and `Grip-Hold` is
//! trimmed like every other value (Pushpin rejects ` stream`).

use bytes::Bytes;

use super::keep_alive::{self, KeepAlive};
use super::link::{self, NextLink};
use super::params::{self, parse_int, trim, Param};
use super::status::{self, reason_phrase};
use super::{json, Error};
use crate::Headers;

/// The media type of a grip-instruct body.
pub const CONTENT_TYPE: &str = "application/grip-instruct";

/// Seconds a response hold lasts when `Grip-Timeout` is not given.
pub const DEFAULT_TIMEOUT: u32 = 55;

/// The shortest response hold, in seconds: smaller timeouts are raised to it, as in Pushpin.
pub const MIN_TIMEOUT: u32 = 5;

/// The most channels one response may list. Pushpin keeps 20 per connection and drops the rest
/// with a warning; the server does the same, so this only stops a hostile backend from making us
/// build an unbounded list.
pub const MAX_CHANNELS: usize = 1000;

/// The most filters one channel may carry. Pushpin knows five filters.
pub const MAX_FILTERS: usize = 32;

/// The most subscription meta entries. Pushpin's filters read two or three.
pub const MAX_META: usize = 100;

/// The most headers a grip-instruct `response` may carry: Pushpin's connection manager caps a
/// ZHTTP packet at 64 headers, so a longer list could not reach the client anyway.
pub const MAX_HEADERS: usize = 64;

/// The largest grip-instruct body, in bytes: Pushpin answers 502 above it (§4.1).
pub const MAX_JSON_BODY: usize = 100_000;

/// How a client request is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HoldMode {
    /// Long-polling: the response is sent on the first publish or at the timeout (§6.2).
    Response,
    /// Streaming: the response is sent at once and publishes are appended to it (§6.3).
    Stream,
}

impl HoldMode {
    /// The `Grip-Hold` value: `response` or `stream`.
    pub fn as_str(self) -> &'static str {
        match self {
            HoldMode::Response => "response",
            HoldMode::Stream => "stream",
        }
    }
}

/// A channel to subscribe the held request to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Channel {
    /// The channel name, without any route prefix.
    pub name: String,
    /// The id of the last item the backend knows of, enabling sequencing (§6.4).
    pub prev_id: Option<String>,
    /// Filter names (§6.7), unknown ones included, in order.
    pub filters: Vec<String>,
}

impl Channel {
    /// A channel with no `prev-id` and no filters.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }
}

/// An HTTP response: a backend's, as parsing input, or the one the client gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub code: u16,
    /// The reason phrase.
    pub reason: Bytes,
    /// The header fields, in order.
    pub headers: Headers,
    /// The body.
    pub body: Bytes,
}

impl Default for Response {
    /// `200 OK`, no headers, empty body.
    fn default() -> Self {
        Self {
            code: 200,
            reason: Bytes::from_static(b"OK"),
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }
}

/// Caps applied while parsing; the defaults are this module's `MAX_*` constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Caps on each header value's items and parameters.
    pub params: params::Limits,
    /// The most channels, headers and JSON together.
    pub max_channels: usize,
    /// The most filters per channel.
    pub max_filters: usize,
    /// The most meta entries, headers and JSON together.
    pub max_meta: usize,
    /// The most headers in a grip-instruct `response`.
    pub max_headers: usize,
    /// The largest grip-instruct body, in bytes.
    pub max_json_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            params: params::Limits::default(),
            max_channels: MAX_CHANNELS,
            max_filters: MAX_FILTERS,
            max_meta: MAX_META,
            max_headers: MAX_HEADERS,
            max_json_body: MAX_JSON_BODY,
        }
    }
}

/// GRIP instructions, and the response that goes with them.
///
/// Everything is kept even without a hold (channels of a non-hold next-link response, for
/// example); what applies when is the server's business (§6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instruct {
    /// The hold mode; `None` when the response is not held.
    pub hold: Option<HoldMode>,
    /// Channels to subscribe to, in order, duplicates kept.
    pub channels: Vec<Channel>,
    /// Response-hold timeout in seconds, at least [`MIN_TIMEOUT`].
    pub timeout: u32,
    /// Stream-hold keep-alive.
    pub keep_alive: Option<KeepAlive>,
    /// Subscription meta (`Grip-Set-Meta`, `hold.meta`): unique keys, in first-set order.
    pub meta: Vec<(String, String)>,
    /// Where the stream continues (`Grip-Link; rel=next`).
    pub next_link: Option<NextLink>,
    /// Where to `POST` when the session ends (`Grip-Link; rel=gone`, Pushpin 1.41+).
    pub gone_link: Option<String>,
    /// The response the client gets (for a response hold, at the timeout): `Grip-Status`
    /// applied, `Grip-*` headers removed, `Grip-Expose-Headers` applied; or the grip-instruct
    /// `response`. The reason is never empty after parsing.
    pub response: Response,
}

impl Default for Instruct {
    /// No hold, no channels, default timeout, `200 OK` with an empty body.
    fn default() -> Self {
        Self {
            hold: None,
            channels: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            keep_alive: None,
            meta: Vec::new(),
            next_link: None,
            gone_link: None,
            response: Response::default(),
        }
    }
}

/// True when Pushpin would treat the response as GRIP (§4.1): a header name starts with `Grip-`
/// (any case), or the body is `application/grip-instruct`.
pub fn is_grip(headers: &Headers) -> bool {
    headers.iter().any(|(name, _)| is_grip_header(name)) || is_instruct_body(headers)
}

/// True for a `Grip-*` header name, any case.
pub fn is_grip_header(name: &[u8]) -> bool {
    name.get(..5)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(b"grip-"))
}

/// True when the first `Content-Type` is `application/grip-instruct`, parameters ignored.
pub(crate) fn is_instruct_body(headers: &Headers) -> bool {
    headers.get("Content-Type").is_some_and(|value| {
        let media_type = value.split(|&b| b == b';').next().unwrap_or_default();
        trim(media_type).eq_ignore_ascii_case(CONTENT_TYPE.as_bytes())
    })
}

// === impl Instruct ===

impl Instruct {
    /// Reads the instructions of a backend response with the default [`Limits`].
    pub fn parse(response: Response) -> Result<Instruct, Error> {
        Self::parse_with(response, &Limits::default())
    }

    /// Reads the instructions of a backend response. Call it only when [`is_grip`] is true: a
    /// response without instructions parses as "no hold", which the server would then act on.
    pub fn parse_with(response: Response, limits: &Limits) -> Result<Instruct, Error> {
        let Response {
            code,
            reason,
            mut headers,
            body,
        } = response;
        let json = is_instruct_body(&headers);
        let mut instruct = Instruct {
            response: Response {
                code,
                reason,
                headers: Headers::new(),
                body,
            },
            ..Instruct::default()
        };
        let expose = instruct.read_headers(&headers, limits)?;
        if json {
            if code != 200 {
                return Err(Error::InstructStatus);
            }
            let body = std::mem::take(&mut instruct.response.body);
            json::apply(&mut instruct, &body, limits)?;
        } else {
            headers.retain(|name, _| {
                !is_grip_header(name)
                    && (expose.is_empty() || expose.iter().any(|e| e.eq_ignore_ascii_case(name)))
            });
            instruct.response.headers = headers;
        }
        if instruct.response.reason.is_empty() {
            let phrase = reason_phrase(instruct.response.code);
            instruct.response.reason = Bytes::from_static(phrase.as_bytes());
        }
        Ok(instruct)
    }

    /// Applies every `Grip-*` header; returns the `Grip-Expose-Headers` names.
    fn read_headers(&mut self, headers: &Headers, limits: &Limits) -> Result<Vec<Bytes>, Error> {
        let p = &limits.params;
        if let Some(value) = headers.get("Grip-Hold") {
            self.hold = Some(parse_hold(value)?);
        }
        for value in headers.get_all("Grip-Channel") {
            parse_channels(value, limits, &mut self.channels)?;
        }
        if let Some(value) = headers.get("Grip-Timeout") {
            let n = parse_int(value).ok_or(Error::BadTimeout)?;
            self.timeout = hold_timeout(i64::from(n)).ok_or(Error::InvalidTimeout)?;
        }
        // Pushpin ignores these two when empty (but not an empty Grip-Hold or Grip-Timeout).
        if let Some(value) = headers.get("Grip-Keep-Alive").filter(|v| !is_blank(v)) {
            self.keep_alive = Some(keep_alive::parse_header(value, p)?);
        }
        if let Some(value) = headers.get("Grip-Status").filter(|v| !is_blank(v)) {
            (self.response.code, self.response.reason) = status::parse_header(value)?;
        }
        for value in headers.get_all("Grip-Link") {
            link::parse_header(value, p, &mut self.next_link, &mut self.gone_link)?;
        }
        for value in headers.get_all("Grip-Set-Meta") {
            parse_meta(value, limits, &mut self.meta)?;
        }
        let mut expose = Vec::new();
        for value in headers.get_all("Grip-Expose-Headers") {
            let names = params::split_list(value, p);
            expose.extend(names.map_err(Error::params("Grip-Expose-Headers"))?);
        }
        Ok(expose)
    }
}

fn is_blank(value: &[u8]) -> bool {
    trim(value).is_empty()
}

fn parse_hold(value: &[u8]) -> Result<HoldMode, Error> {
    match trim(value) {
        b"response" => Ok(HoldMode::Response),
        b"stream" => Ok(HoldMode::Stream),
        _ => Err(Error::BadHold),
    }
}

/// A hold timeout from a number: `None` when negative or beyond 32-bit range, else raised to the
/// minimum.
pub(crate) fn hold_timeout(n: i64) -> Option<u32> {
    let n = i32::try_from(n).ok()?;
    u32::try_from(n).ok().map(|n| n.max(MIN_TIMEOUT))
}

/// Appends the channels of one `Grip-Channel` value: `name[; prev-id=ID][; filter=F]…`, listed.
/// A `prev-id` or `filter` without `=` is ignored, as in Pushpin.
fn parse_channels(value: &Bytes, limits: &Limits, out: &mut Vec<Channel>) -> Result<(), Error> {
    const HEADER: &str = "Grip-Channel";
    let items = params::parse_list(value, &limits.params).map_err(Error::params(HEADER))?;
    for item in items {
        if out.len() == limits.max_channels {
            return Err(Error::TooManyChannels);
        }
        let prev_id = match item.param("prev-id").and_then(|p| p.value.as_ref()) {
            Some(id) => Some(text(id, HEADER)?),
            None => None,
        };
        let mut filters = Vec::new();
        for filter in item.params_named("filter").filter_map(|p| p.value.as_ref()) {
            if filters.len() == limits.max_filters {
                return Err(Error::TooManyFilters);
            }
            filters.push(text(filter, HEADER)?);
        }
        out.push(Channel {
            name: text(&item.value, HEADER)?,
            prev_id,
            filters,
        });
    }
    Ok(())
}

/// Merges one `Grip-Set-Meta` value: `key=value` items; parameters after an item's first are
/// ignored, and so is an item without `=`, as in Pushpin.
fn parse_meta(
    value: &Bytes,
    limits: &Limits,
    meta: &mut Vec<(String, String)>,
) -> Result<(), Error> {
    const HEADER: &str = "Grip-Set-Meta";
    let items = params::parse_list(value, &limits.params).map_err(Error::params(HEADER))?;
    for item in items {
        let entry = Param::parse(&item.value).map_err(Error::params(HEADER))?;
        if let Some(v) = entry.value {
            set_meta(meta, text(&entry.name, HEADER)?, text(&v, HEADER)?, limits)?;
        }
    }
    Ok(())
}

/// Sets `key` to `value`, replacing an earlier value in place.
pub(crate) fn set_meta(
    meta: &mut Vec<(String, String)>,
    key: String,
    value: String,
    limits: &Limits,
) -> Result<(), Error> {
    if let Some(slot) = meta.iter_mut().find(|(k, _)| *k == key) {
        slot.1 = value;
    } else if meta.len() == limits.max_meta {
        return Err(Error::TooManyMeta);
    } else {
        meta.push((key, value));
    }
    Ok(())
}

fn text(bytes: &[u8], header: &'static str) -> Result<String, Error> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| Error::NotUtf8 { header })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            headers: headers
                .iter()
                .map(|&(n, v)| {
                    (
                        Bytes::copy_from_slice(n.as_bytes()),
                        Bytes::copy_from_slice(v.as_bytes()),
                    )
                })
                .collect(),
            body: Bytes::copy_from_slice(body.as_bytes()),
            ..Response::default()
        }
    }

    #[test]
    fn detects_grip() {
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[("Grip-Hold", "stream")], true),
            (&[("grip-foo", "x")], true),
            (&[("Grip-", "x")], true),
            (&[("Content-Type", "application/grip-instruct")], true),
            (
                &[("Content-Type", "application/grip-instruct; charset=utf-8")],
                true,
            ),
            (&[("Content-Type", "Application/Grip-Instruct")], true),
            (&[("Content-Type", "application/json")], false),
            (&[("Gripe", "x"), ("X-Grip-Foo", "x")], false),
            (&[], false),
        ];
        for (headers, want) in cases {
            assert_eq!(
                is_grip(&response(headers, "").headers),
                *want,
                "{headers:?}"
            );
        }
    }

    #[test]
    fn stream_hold_from_headers() {
        let r = response(
            &[
                ("Content-Type", "text/plain"),
                ("Grip-Hold", "stream"),
                ("Grip-Channel", "apple; prev-id=item1; filter=f1, banana"),
                ("Grip-Channel", "cherry"),
                ("Grip-Set-Meta", "user=alice, id_format=\"%(id)s, x\""),
                ("Grip-Link", "</next>; rel=next; timeout=30"),
            ],
            "stream open\n",
        );
        let body_ptr = r.body.as_ptr();
        let i = Instruct::parse(r).unwrap();
        assert_eq!(i.hold, Some(HoldMode::Stream));
        let names: Vec<_> = i.channels.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["apple", "banana", "cherry"]);
        assert_eq!(i.channels[0].prev_id.as_deref(), Some("item1"));
        assert_eq!(i.channels[0].filters, ["f1"]);
        assert_eq!(
            i.meta,
            [
                ("user".to_owned(), "alice".to_owned()),
                ("id_format".to_owned(), "%(id)s, x".to_owned())
            ]
        );
        assert_eq!(i.next_link.as_ref().map(|l| l.timeout), Some(30));
        assert_eq!(i.response.headers.len(), 1);
        assert_eq!(i.response.body.as_ptr(), body_ptr, "body is not copied");
    }

    #[test]
    fn timeouts_and_status() {
        let i = Instruct::parse(response(
            &[("Grip-Hold", "response"), ("Grip-Timeout", "3")],
            "",
        ));
        assert_eq!(i.unwrap().timeout, MIN_TIMEOUT);
        let i = Instruct::parse(response(&[("Grip-Status", "404")], "")).unwrap();
        assert_eq!(
            (i.response.code, &i.response.reason[..]),
            (404, &b"Not Found"[..])
        );
        let cases = [
            ("Grip-Timeout", "abc", Error::BadTimeout),
            ("Grip-Timeout", "-1", Error::InvalidTimeout),
            ("Grip-Hold", "Stream", Error::BadHold),
            ("Grip-Status", "1000", Error::BadStatus),
        ];
        for (name, value, want) in cases {
            assert_eq!(Instruct::parse(response(&[(name, value)], "")), Err(want));
        }
    }

    #[test]
    fn expose_headers_filter_backend_headers() {
        let i = Instruct::parse(response(
            &[
                ("X-A", "1"),
                ("X-B", "2"),
                ("Content-Type", "text/plain"),
                ("Grip-Expose-Headers", "x-a"),
                ("Grip-Expose-Headers", "X-B; foo=bar"),
            ],
            "",
        ))
        .unwrap();
        let names: Vec<_> = i.response.headers.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(names, ["X-A"]);
    }

    #[test]
    fn meta_merges_and_limits() {
        let i = Instruct::parse(response(
            &[("Grip-Set-Meta", "k=1, j=h, l"), ("Grip-Set-Meta", "k=2")],
            "",
        ))
        .unwrap();
        assert_eq!(i.meta, [("k".into(), "2".into()), ("j".into(), "h".into())]);
        let limits = Limits {
            max_meta: 1,
            max_channels: 1,
            ..Limits::default()
        };
        let r = response(&[("Grip-Set-Meta", "a=1, b=2")], "");
        assert_eq!(Instruct::parse_with(r, &limits), Err(Error::TooManyMeta));
        let r = response(&[("Grip-Channel", "a, b")], "");
        assert_eq!(
            Instruct::parse_with(r, &limits),
            Err(Error::TooManyChannels)
        );
    }
}
