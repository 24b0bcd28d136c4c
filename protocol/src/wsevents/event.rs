//! WebSocket-over-HTTP events as values, and their encoding (§7.2).
//!
//! An event is written `NAME\r\n` when it has no content and `NAME <hex length>\r\n<content>\r\n`
//! when it has some, with the length in lower-case hex without padding. Content is omitted
//! whenever it is empty, for every event type: Pushpin writes an empty text message as `TEXT\r\n`
//! and an empty ping as `PING\r\n` [run]. A `CLOSE` carries a 2-byte big-endian code followed by
//! the reason, or nothing when there is no code.
//!
//! Payloads are `Bytes`, so decoded events are views into the body. Text and close reasons are
//! not checked for UTF-8: Pushpin relays the bytes of a `TEXT` event unchanged [run], and the
//! WebSocket layer facing the client is where UTF-8 is enforced.

use bytes::{BufMut, Bytes, BytesMut};

/// One WebSocket-over-HTTP event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `OPEN`: the connection is (being) opened. Pushpin's first request is exactly `OPEN\r\n`.
    Open,
    /// `TEXT`: a text message. Should be UTF-8; not checked (see the module doc).
    Text(Bytes),
    /// `BINARY`: a binary message.
    Binary(Bytes),
    /// `PING`: a ping with its payload.
    Ping(Bytes),
    /// `PONG`: a pong with its payload.
    Pong(Bytes),
    /// `CLOSE`: a close, with its status code and reason if it has a code.
    Close(Option<Close>),
    /// `DISCONNECT`: the connection was dropped without a close handshake.
    Disconnect,
}

/// The content of a `CLOSE` event that has a status code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Close {
    /// The WebSocket status code.
    pub code: CloseCode,
    /// The reason, meant to be UTF-8 (not checked); may be empty.
    pub reason: Bytes,
}

/// A WebSocket close status code (RFC 6455 §7.4). An open code space: any `u16` is kept as is,
/// so codes this crate does not name survive a round trip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: normal closure.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away.
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1007: a message is inconsistent with its type (e.g. non-UTF-8 text).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: policy violation.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1011: the server hit an unexpected condition.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

impl Close {
    /// A close with `code` and `reason`.
    pub fn new(code: impl Into<CloseCode>, reason: impl Into<Bytes>) -> Self {
        Close {
            code: code.into(),
            reason: reason.into(),
        }
    }

    /// The reason as text, if it is UTF-8.
    pub fn reason_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.reason).ok()
    }
}

// === impl Event ===

impl Event {
    /// A `TEXT` event holding `text`.
    pub fn text(text: impl Into<String>) -> Self {
        Event::Text(Bytes::from(text.into()))
    }

    /// A `BINARY` event holding `data`.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Event::Binary(data.into())
    }

    /// The event's name on the wire: `OPEN`, `TEXT`, …
    pub fn name(&self) -> &'static str {
        match self {
            Event::Open => "OPEN",
            Event::Text(_) => "TEXT",
            Event::Binary(_) => "BINARY",
            Event::Ping(_) => "PING",
            Event::Pong(_) => "PONG",
            Event::Close(_) => "CLOSE",
            Event::Disconnect => "DISCONNECT",
        }
    }

    /// The message payload of `TEXT`, `BINARY`, `PING` and `PONG`; `None` for the others.
    pub fn payload(&self) -> Option<&Bytes> {
        match self {
            Event::Text(b) | Event::Binary(b) | Event::Ping(b) | Event::Pong(b) => Some(b),
            Event::Open | Event::Close(_) | Event::Disconnect => None,
        }
    }

    /// The number of content bytes written on the wire.
    fn content_len(&self) -> usize {
        match self {
            Event::Close(Some(close)) => 2 + close.reason.len(),
            other => other.payload().map_or(0, Bytes::len),
        }
    }

    /// The exact number of bytes [`Event::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        let name = self.name().len();
        match self.content_len() {
            0 => name + 2,
            n => name + 1 + hex_digits(n) + 2 + n + 2,
        }
    }

    /// Appends the event's wire form to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.reserve(self.encoded_len());
        dst.put_slice(self.name().as_bytes());
        let len = self.content_len();
        if len > 0 {
            dst.put_u8(b' ');
            put_hex(dst, len);
        }
        dst.put_slice(b"\r\n");
        if len == 0 {
            return;
        }
        match self {
            Event::Close(Some(close)) => {
                dst.put_u16(close.code.0);
                dst.put_slice(&close.reason);
            }
            other => {
                if let Some(payload) = other.payload() {
                    dst.put_slice(payload);
                }
            }
        }
        dst.put_slice(b"\r\n");
    }
}

/// Appends the wire form of every event to `dst`, reserving the exact size once.
pub fn encode(events: &[Event], dst: &mut BytesMut) {
    dst.reserve(encoded_len(events));
    for event in events {
        event.encode(dst);
    }
}

/// The exact number of bytes [`encode`] writes for `events`.
pub fn encoded_len(events: &[Event]) -> usize {
    events.iter().map(Event::encoded_len).sum()
}

/// The number of lower-case hex digits `n` is written with (at least one).
fn hex_digits(n: usize) -> usize {
    let bits = usize::BITS - n.leading_zeros();
    (bits.div_ceil(4) as usize).max(1)
}

/// Writes `n` in lower-case hex without padding.
fn put_hex(dst: &mut BytesMut, n: usize) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for i in (0..hex_digits(n)).rev() {
        let nibble = (n >> (i * 4)) & 0xf;
        // A nibble is below 16, so the lookup always hits; `get` keeps the code panic-free.
        if let Some(&digit) = DIGITS.get(nibble) {
            dst.put_u8(digit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(events: &[Event]) -> Vec<u8> {
        let mut dst = BytesMut::new();
        encode(events, &mut dst);
        assert_eq!(dst.len(), encoded_len(events), "encoded_len is exact");
        dst.to_vec()
    }

    #[test]
    fn encodes_each_event_type() {
        let cases: &[(Event, &[u8])] = &[
            (Event::Open, b"OPEN\r\n"),
            (Event::text("hello"), b"TEXT 5\r\nhello\r\n"),
            (Event::text(""), b"TEXT\r\n"),
            (Event::binary(&b"\x00\x01"[..]), b"BINARY 2\r\n\x00\x01\r\n"),
            (Event::Ping(Bytes::new()), b"PING\r\n"),
            (Event::Ping(Bytes::from_static(b"p")), b"PING 1\r\np\r\n"),
            (Event::Pong(Bytes::new()), b"PONG\r\n"),
            (Event::Close(None), b"CLOSE\r\n"),
            (
                Event::Close(Some(Close::new(CloseCode::NORMAL, ""))),
                b"CLOSE 2\r\n\x03\xe8\r\n",
            ),
            (
                Event::Close(Some(Close::new(1000, "bye"))),
                b"CLOSE 5\r\n\x03\xe8bye\r\n",
            ),
            (Event::Disconnect, b"DISCONNECT\r\n"),
        ];
        for (event, want) in cases {
            assert_eq!(wire(std::slice::from_ref(event)), *want, "{event:?}");
        }
    }

    #[test]
    fn length_is_lower_case_hex_without_padding() {
        let cases: &[(usize, &str)] = &[
            (1, "1"),
            (15, "f"),
            (16, "10"),
            (300, "12c"),
            (0xfffff, "fffff"),
        ];
        for &(len, hex) in cases {
            let event = Event::Binary(Bytes::from(vec![0; len]));
            let encoded = wire(std::slice::from_ref(&event));
            let header = format!("BINARY {hex}\r\n");
            assert!(encoded.starts_with(header.as_bytes()), "{len}");
        }
    }

    #[test]
    fn hex_digit_count() {
        for (n, digits) in [(0, 1), (1, 1), (15, 1), (16, 2), (255, 2), (256, 3)] {
            assert_eq!(hex_digits(n), digits, "{n}");
        }
        assert_eq!(hex_digits(usize::MAX), usize::BITS as usize / 4);
    }

    #[test]
    fn encode_reserves_once_and_appends() {
        let events = [Event::Open, Event::text("hi")];
        let mut dst = BytesMut::from(&b"x"[..]);
        encode(&events, &mut dst);
        assert_eq!(&dst[..], b"xOPEN\r\nTEXT 2\r\nhi\r\n");
    }

    #[test]
    fn close_reason_as_text() {
        assert_eq!(Close::new(1000, "bye").reason_str(), Some("bye"));
        assert_eq!(Close::new(1000, &b"\xff"[..]).reason_str(), None);
    }
}
