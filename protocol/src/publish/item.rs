//! The publish item (§5.1): one message for one channel, in up to three formats.
//!
//! Plain data with `pub` fields, so the server, the SDKs and their bindings build and read items
//! the same way. Short identifiers (channel, ids, meta, reasons, filter names) are `String`s;
//! payloads (bodies, contents, header fields) are `Bytes`, which a decoder fills with views of
//! its input instead of copies.
//!
//! Every format carries an [`Action`]. Pushpin reads a format's other fields only for the actions
//! that use them: `send` for all formats, plus `close` for `ws-message` (its close code and
//! reason). For any other action those fields stay at their defaults; the encoders skip them,
//! and the decoders neither read nor check them, as Pushpin does.

use bytes::Bytes;

use crate::Headers;

/// A publish item: a channel, sequencing fields, and at least one format.
///
/// An item with no format cannot be published: it encodes, but the decoders reject it with
/// `no formats specified`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Item {
    /// The channel the item is published to.
    pub channel: String,
    /// The item's id, used for sequencing and de-duplication.
    pub id: Option<String>,
    /// The id of the item published before this one on the channel.
    pub prev_id: Option<String>,
    /// Publish meta for delivery filters (`sender`, `skip_users`, `require_sub`, §6.7), in the
    /// publisher's order, each key once.
    pub meta: Vec<(String, String)>,
    /// Overrides the size used for block accounting; at most [`Item::MAX_SIZE`].
    pub size: Option<u32>,
    /// Bypasses `prev-id` sequencing for this item.
    pub no_seq: bool,
    /// The format for held responses (long-polling).
    pub http_response: Option<HttpResponse>,
    /// The format for held streams.
    pub http_stream: Option<HttpStream>,
    /// The format for WebSocket connections.
    pub ws_message: Option<WsMessage>,
}

impl Item {
    /// The largest `size` Pushpin accepts: it keeps the value in a C `int`.
    pub const MAX_SIZE: u32 = i32::MAX as u32;

    /// An item for `channel` with no format yet.
    pub fn new(channel: impl Into<String>) -> Self {
        Item {
            channel: channel.into(),
            ..Item::default()
        }
    }

    /// The value of the meta entry `key`.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.meta
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The formats the item carries, in Pushpin's order.
    pub fn formats(&self) -> impl Iterator<Item = Format> + '_ {
        [
            self.http_response.as_ref().map(|_| Format::HttpResponse),
            self.http_stream.as_ref().map(|_| Format::HttpStream),
            self.ws_message.as_ref().map(|_| Format::WsMessage),
        ]
        .into_iter()
        .flatten()
    }
}

/// The three publish formats, one per kind of subscriber.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// `http-response`: completes a held response.
    HttpResponse,
    /// `http-stream`: appends to a held stream.
    HttpStream,
    /// `ws-message`: a WebSocket message.
    WsMessage,
}

impl Format {
    /// The format's key in an item, also its stats `transport` name (§5.6).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::HttpResponse => "http-response",
            Format::HttpStream => "http-stream",
            Format::WsMessage => "ws-message",
        }
    }
}

/// What a format asks of its subscribers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Action {
    /// Deliver the content (the default).
    #[default]
    Send,
    /// Content is available elsewhere: retry the held request, or fetch the stream's next link.
    Hint,
    /// End the stream or WebSocket connection (ignored by held responses).
    Close,
    /// Make an immediate WebSocket-over-HTTP request (Pushpin 1.38+).
    Refresh,
}

impl Action {
    /// The wire spelling: `send`, `hint`, `close` or `refresh`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Send => "send",
            Action::Hint => "hint",
            Action::Close => "close",
            Action::Refresh => "refresh",
        }
    }

    /// The action spelled `s`, matched exactly as Pushpin does (case-sensitive).
    pub fn from_wire(s: &[u8]) -> Option<Action> {
        Some(match s {
            b"send" => Action::Send,
            b"hint" => Action::Hint,
            b"close" => Action::Close,
            b"refresh" => Action::Refresh,
            _ => return None,
        })
    }
}

/// The `http-response` format: the response sent to held requests.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HttpResponse {
    /// The action; only `send` reads the other fields.
    pub action: Action,
    /// The status code (0 to 999), if given; see [`HttpResponse::code`].
    pub code: Option<u16>,
    /// The reason phrase, if given; see [`HttpResponse::reason`].
    pub reason: Option<String>,
    /// Headers laid over the held response's own.
    pub headers: Headers,
    /// The body, from `body` or `body-bin`. Empty when `body_patch` is set.
    pub body: Bytes,
    /// A JSON Patch (RFC 6902) for the held response's JSON body, from `body-patch`: the list of
    /// operations, unchecked (applying it is the server's job).
    pub body_patch: Option<Vec<serde_json::Value>>,
    /// `content-filters`: when given (even empty), the subscriber's content filters must equal
    /// it; when absent, nothing is checked.
    pub content_filters: Option<Vec<String>>,
}

impl HttpResponse {
    /// The status code used when none is given.
    pub const DEFAULT_CODE: u16 = 200;

    /// A `send` response with `body`.
    pub fn new(body: impl Into<Bytes>) -> Self {
        HttpResponse {
            body: body.into(),
            ..HttpResponse::default()
        }
    }

    /// A format with `action` and nothing else.
    pub fn with_action(action: Action) -> Self {
        HttpResponse {
            action,
            ..HttpResponse::default()
        }
    }

    /// The status code to send: the one given, or 200.
    pub fn code(&self) -> u16 {
        self.code.unwrap_or(Self::DEFAULT_CODE)
    }

    /// The reason phrase to send: the one given unless empty, else Pushpin's phrase for the code
    /// (`Undefined Reason` for codes it does not name).
    pub fn reason(&self) -> &str {
        match self.reason.as_deref() {
            Some(reason) if !reason.is_empty() => reason,
            _ => crate::status::reason_phrase(self.code()),
        }
    }
}

/// The `http-stream` format: a chunk for held streams.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HttpStream {
    /// The action; only `send` reads the other fields.
    pub action: Action,
    /// The bytes to append, from `content` or `content-bin`.
    pub content: Bytes,
    /// `content-filters`: when given (even empty), the subscriber's content filters must equal
    /// it; when absent, nothing is checked.
    pub content_filters: Option<Vec<String>>,
}

impl HttpStream {
    /// A `send` of `content`.
    pub fn new(content: impl Into<Bytes>) -> Self {
        HttpStream {
            content: content.into(),
            ..HttpStream::default()
        }
    }

    /// A format with `action` and nothing else.
    pub fn with_action(action: Action) -> Self {
        HttpStream {
            action,
            ..HttpStream::default()
        }
    }
}

/// The kind of WebSocket frame a `ws-message` sends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WsMessageType {
    /// A text frame (the default for `content`).
    #[default]
    Text,
    /// A binary frame (the default for `content-bin`).
    Binary,
    /// A ping frame.
    Ping,
    /// A pong frame.
    Pong,
}

impl WsMessageType {
    /// The wire spelling: `text`, `binary`, `ping` or `pong`.
    pub fn as_str(self) -> &'static str {
        match self {
            WsMessageType::Text => "text",
            WsMessageType::Binary => "binary",
            WsMessageType::Ping => "ping",
            WsMessageType::Pong => "pong",
        }
    }

    /// The type spelled `s`, matched exactly as Pushpin does (case-sensitive).
    pub fn from_wire(s: &[u8]) -> Option<WsMessageType> {
        Some(match s {
            b"text" => WsMessageType::Text,
            b"binary" => WsMessageType::Binary,
            b"ping" => WsMessageType::Ping,
            b"pong" => WsMessageType::Pong,
            _ => return None,
        })
    }
}

/// The `ws-message` format: a message, or a close, for WebSocket connections.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WsMessage {
    /// The action; `send` reads the message fields, `close` the close fields.
    pub action: Action,
    /// The frame type: from `type`, else text for `content` and binary for `content-bin`.
    pub message_type: WsMessageType,
    /// The payload; may be empty for ping and pong.
    pub content: Bytes,
    /// The close code, for `close`.
    pub close_code: Option<u16>,
    /// The close reason, for `close`.
    pub close_reason: Option<String>,
    /// `content-filters`: when given (even empty), the subscriber's content filters must equal
    /// it; when absent, nothing is checked.
    pub content_filters: Option<Vec<String>>,
}

impl WsMessage {
    /// A text message.
    pub fn text(content: impl Into<Bytes>) -> Self {
        WsMessage {
            content: content.into(),
            ..WsMessage::default()
        }
    }

    /// A binary message.
    pub fn binary(content: impl Into<Bytes>) -> Self {
        WsMessage {
            message_type: WsMessageType::Binary,
            content: content.into(),
            ..WsMessage::default()
        }
    }

    /// A close, with an optional code and reason.
    pub fn close(code: Option<u16>, reason: Option<String>) -> Self {
        WsMessage {
            action: Action::Close,
            close_code: code,
            close_reason: reason,
            ..WsMessage::default()
        }
    }

    /// A format with `action` and nothing else.
    pub fn with_action(action: Action) -> Self {
        WsMessage {
            action,
            ..WsMessage::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for action in [Action::Send, Action::Hint, Action::Close, Action::Refresh] {
            assert_eq!(Action::from_wire(action.as_str().as_bytes()), Some(action));
        }
        for t in [
            WsMessageType::Text,
            WsMessageType::Binary,
            WsMessageType::Ping,
            WsMessageType::Pong,
        ] {
            assert_eq!(WsMessageType::from_wire(t.as_str().as_bytes()), Some(t));
        }
        assert_eq!(Action::from_wire(b"Send"), None);
        assert_eq!(WsMessageType::from_wire(b"close"), None);
    }

    #[test]
    fn response_code_and_reason_defaults() {
        let cases: &[(Option<u16>, Option<&str>, u16, &str)] = &[
            (None, None, 200, "OK"),
            (Some(201), None, 201, "Created"),
            (Some(201), Some("Yay"), 201, "Yay"),
            (Some(201), Some(""), 201, "Created"),
            (Some(418), None, 418, "Undefined Reason"),
            (Some(0), None, 0, "Undefined Reason"),
        ];
        for &(code, reason, want_code, want_reason) in cases {
            let r = HttpResponse {
                code,
                reason: reason.map(str::to_owned),
                ..HttpResponse::default()
            };
            assert_eq!((r.code(), r.reason()), (want_code, want_reason));
        }
    }

    #[test]
    fn formats_in_pushpin_order() {
        let mut item = Item::new("c");
        item.ws_message = Some(WsMessage::text("a"));
        item.http_response = Some(HttpResponse::new("b"));
        assert_eq!(
            item.formats().collect::<Vec<_>>(),
            [Format::HttpResponse, Format::WsMessage]
        );
        item.meta.push(("sender".into(), "u1".into()));
        assert_eq!(item.meta("sender"), Some("u1"));
        assert_eq!(item.meta("other"), None);
    }
}
