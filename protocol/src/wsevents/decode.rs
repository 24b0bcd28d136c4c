//! Decoding WebSocket-over-HTTP event bodies (§7.2), whole or in chunks.
//!
//! [`decode`] takes a complete body. [`parse_event`] reads one event from the start of a buffer
//! that may still be growing and answers [`Status::Partial`] when it needs more bytes, as
//! httparse does; [`Decoder`] wraps it for a body that arrives in chunks. Payloads are `Bytes`
//! views of the input, never copies.
//!
//! # Leniency
//! Pushpin's own parser accepts far more than it writes. Measured against Pushpin 1.36 [run],
//! this decoder accepts what is harmless and unambiguous:
//! - upper-case hex digits, leading zeros, and spaces around the length (`TEXT  02 `);
//! - content on `OPEN` and `DISCONNECT`, which is ignored;
//! - unknown event names, including lower-case ones and empty lines, which are skipped together
//!   with their content, so a peer with newer event types does not break an older one;
//! - a `CLOSE` whose content is shorter than the 2-byte code, read as a close without a code
//!   (Pushpin then closes the client with no code, which reaches it as 1000);
//! - a final event whose closing CRLF is cut off at the very end of the body (a backend that
//!   joins events with `"\r\n"` does that).
//!
//! It rejects, where Pushpin quietly corrupts data: content shorter than its length (Pushpin
//! forwards the truncated bytes), content not followed by CRLF (Pushpin skips two bytes whatever
//! they are), and signed or `0x`-prefixed lengths (Pushpin reads `-2` as "the rest of the body").
//! Like Pushpin, it rejects a bare LF as line end, a space with no length after it, and a
//! body that ends inside a header line.

use std::ops::Range;

use bytes::{Bytes, BytesMut};

use super::{Close, CloseCode, Error, Event};
use crate::tnetstring::share;

/// Default [`Limits::max_content_len`]: Pushpin caps a WebSocket-over-HTTP response body at
/// 1,000,000 bytes, so no event it accepts holds more.
pub const MAX_CONTENT_LEN: usize = 1_000_000;

/// Default [`Limits::max_header_len`]. The longest header Pushpin writes is `DISCONNECT` or
/// `BINARY` with five hex digits (16 bytes); 64 leaves room for padded lengths and unknown names
/// while bounding what a streaming reader buffers before it can tell garbage from a header. It
/// also bounds the number of hex digits, so no separate digit limit is needed.
pub const MAX_HEADER_LEN: usize = 64;

/// Default [`Limits::max_events`]: the most events a body within [`MAX_CONTENT_LEN`] can hold
/// (6-byte events such as `PING\r\n`), so the default never rejects a body Pushpin accepts.
/// Lower it to bound the work one body can cause.
pub const MAX_EVENTS: usize = MAX_CONTENT_LEN / 6;

/// Caps applied while decoding. `Default` gives the constants above.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest content one event may have, in bytes.
    pub max_content_len: usize,
    /// The longest header line (`NAME <hex length>`, without CRLF), in bytes.
    pub max_header_len: usize,
    /// The most events one body may hold; skipped unknown events do not count.
    pub max_events: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_content_len: MAX_CONTENT_LEN,
            max_header_len: MAX_HEADER_LEN,
            max_events: MAX_EVENTS,
        }
    }
}

/// What [`parse_event`] found at the start of its input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// One event spanning the first `len` bytes. `event` is `None` for an unknown event type,
    /// which is skipped (see the module doc).
    Complete {
        /// The event, or `None` when it was skipped.
        event: Option<Event>,
        /// How many input bytes it spans.
        len: usize,
    },
    /// The input is a valid beginning of an event that ends too soon: read more bytes.
    Partial,
}

/// Parses the event at the start of `input`, a body that may still be growing.
///
/// Never returns [`Error::Incomplete`]: a short input is [`Status::Partial`]. An event whose
/// closing CRLF is missing is also `Partial` here, as more bytes may bring it; only [`decode`]
/// and [`Decoder::finish`] know the body has ended.
pub fn parse_event(input: &Bytes, limits: &Limits) -> Result<Status, Error> {
    Ok(match parse_raw(input, limits, false)? {
        Some(raw) => Status::Complete {
            event: raw.event(input),
            len: raw.len,
        },
        None => Status::Partial,
    })
}

/// Decodes a complete body into its events, with the default [`Limits`].
pub fn decode(body: &Bytes) -> Result<Vec<Event>, Error> {
    decode_with(body, &Limits::default())
}

/// Decodes a complete body into its events.
pub fn decode_with(body: &Bytes, limits: &Limits) -> Result<Vec<Event>, Error> {
    let mut events = Vec::new();
    let mut rest = body.clone();
    while !rest.is_empty() {
        // With `at_end` set, a short input is an error, never `None`.
        let raw = parse_raw(&rest, limits, true)?.ok_or(Error::Incomplete)?;
        if let Some(event) = raw.event(&rest) {
            if events.len() >= limits.max_events {
                return Err(Error::TooManyEvents);
            }
            events.push(event);
        }
        rest = rest.slice(raw.len.min(rest.len())..);
    }
    Ok(events)
}

// === impl Decoder ===

/// Decodes a body that arrives in chunks.
///
/// [`push`](Decoder::push) each chunk, then take events with
/// [`next_event`](Decoder::next_event) until it returns `Ok(None)`; after the last chunk call
/// [`finish`](Decoder::finish) and drain the remaining events. Draining after each push keeps the
/// buffer to at most one event. Payloads are views of the internal buffer, not copies.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: BytesMut,
    limits: Limits,
    events: usize,
    finished: bool,
}

impl Decoder {
    /// A decoder with the default [`Limits`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder with the given limits.
    pub fn with_limits(limits: Limits) -> Self {
        Decoder {
            limits,
            ..Self::default()
        }
    }

    /// Appends the next chunk of the body.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// Marks the end of the body: what is left must now form whole events.
    pub fn finish(&mut self) {
        self.finished = true;
    }

    /// The number of bytes received but not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next event, `Ok(None)` when more input is needed (or, after [`finish`](Self::finish),
    /// when the body is done). [`Error::Incomplete`] means the body ended inside an event.
    pub fn next_event(&mut self) -> Result<Option<Event>, Error> {
        loop {
            if self.buf.is_empty() {
                return Ok(None);
            }
            let Some(raw) = parse_raw(&self.buf, &self.limits, self.finished)? else {
                return Ok(None);
            };
            let frame = self.buf.split_to(raw.len.min(self.buf.len())).freeze();
            if let Some(event) = raw.event(&frame) {
                if self.events >= self.limits.max_events {
                    return Err(Error::TooManyEvents);
                }
                self.events += 1;
                return Ok(Some(event));
            }
        }
    }
}

// === raw parsing ===

/// The event types this codec knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Open,
    Text,
    Binary,
    Ping,
    Pong,
    Close,
    Disconnect,
}

impl Kind {
    fn from_name(name: &[u8]) -> Option<Kind> {
        Some(match name {
            b"OPEN" => Kind::Open,
            b"TEXT" => Kind::Text,
            b"BINARY" => Kind::Binary,
            b"PING" => Kind::Ping,
            b"PONG" => Kind::Pong,
            b"CLOSE" => Kind::Close,
            b"DISCONNECT" => Kind::Disconnect,
            _ => return None,
        })
    }
}

/// One parsed event as offsets into the input, so the caller picks the `Bytes` it slices.
struct Raw {
    kind: Option<Kind>,
    content: Range<usize>,
    len: usize,
}

impl Raw {
    /// The event, with its content a view of `input` (the buffer `self` was parsed from).
    fn event(&self, input: &Bytes) -> Option<Event> {
        let content = input
            .get(self.content.clone())
            .map_or_else(Bytes::new, |part| share(input, part));
        Some(match self.kind? {
            Kind::Open => Event::Open,
            Kind::Text => Event::Text(content),
            Kind::Binary => Event::Binary(content),
            Kind::Ping => Event::Ping(content),
            Kind::Pong => Event::Pong(content),
            Kind::Close => Event::Close(close(content)),
            Kind::Disconnect => Event::Disconnect,
        })
    }
}

/// A close's code and reason; content shorter than a code means "no code" (module doc).
fn close(content: Bytes) -> Option<Close> {
    let (&hi, &lo) = (content.first()?, content.get(1)?);
    Some(Close {
        code: CloseCode(u16::from_be_bytes([hi, lo])),
        reason: content.slice(2..),
    })
}

/// Parses one event at the start of `input`. `Ok(None)` means "need more bytes"; with `at_end`
/// the input is the whole rest of the body, so a short input is [`Error::Incomplete`] instead.
fn parse_raw(input: &[u8], limits: &Limits, at_end: bool) -> Result<Option<Raw>, Error> {
    let need_more = if at_end {
        Err(Error::Incomplete)
    } else {
        Ok(None)
    };
    let Some(header_len) = find_header_end(input, limits.max_header_len)? else {
        return need_more;
    };
    let header = input.get(..header_len).ok_or(Error::Incomplete)?;
    let (name, length) = split_header(header);
    let kind = Kind::from_name(name);
    let start = header_len + 2;
    let Some(length) = length else {
        return Ok(Some(Raw {
            kind,
            content: start..start,
            len: start,
        }));
    };
    let content_len = parse_length(length, limits.max_content_len)?;
    // Only a caller-chosen limit near usize::MAX could make this overflow.
    let end = start.checked_add(content_len).ok_or(Error::TooLarge)?;
    let Some(after) = input.get(end..) else {
        return need_more;
    };
    let len = match after {
        [b'\r', b'\n', ..] => end + 2,
        // The closing CRLF may be cut off at the very end of the body (module doc).
        [] | [b'\r'] if at_end => input.len(),
        [] | [b'\r'] => return Ok(None),
        _ => return Err(Error::MissingCrlf),
    };
    Ok(Some(Raw {
        kind,
        content: start..end,
        len,
    }))
}

/// The length of the header line before its CRLF, `None` if the CRLF has not arrived yet.
fn find_header_end(input: &[u8], max_header_len: usize) -> Result<Option<usize>, Error> {
    let window = input.get(..=max_header_len).unwrap_or(input);
    for (i, &byte) in window.iter().enumerate() {
        match (byte, input.get(i + 1)) {
            (b'\r', Some(b'\n')) => return Ok(Some(i)),
            (b'\r', None) => return Ok(None),
            (b'\r' | b'\n', _) => return Err(Error::BadHeader),
            _ => {}
        }
    }
    if input.len() > max_header_len {
        Err(Error::HeaderTooLong)
    } else {
        Ok(None)
    }
}

/// Splits `NAME` or `NAME <length>` at the first space.
fn split_header(header: &[u8]) -> (&[u8], Option<&[u8]>) {
    match header.iter().position(|&b| b == b' ') {
        Some(space) => (
            header.get(..space).unwrap_or_default(),
            header.get(space + 1..),
        ),
        None => (header, None),
    }
}

/// A hex content length; spaces around it are allowed, nothing else.
fn parse_length(text: &[u8], max: usize) -> Result<usize, Error> {
    let digits = text.trim_ascii();
    if digits.is_empty() {
        return Err(Error::BadLength);
    }
    let mut value: usize = 0;
    for &byte in digits {
        let digit = char::from(byte).to_digit(16).ok_or(Error::BadLength)?;
        // Saturating keeps long runs of digits from wrapping; the limit check below rejects them.
        value = value.saturating_mul(16).saturating_add(digit as usize);
    }
    if value > max {
        return Err(Error::TooLarge);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(bytes: &[u8]) -> Bytes {
        Bytes::copy_from_slice(bytes)
    }

    fn text(s: &str) -> Event {
        Event::text(s)
    }

    #[test]
    fn decodes_whole_bodies() {
        let cases: &[(&[u8], &[Event])] = &[
            (b"", &[]),
            (b"OPEN\r\n", &[Event::Open]),
            (b"TEXT 5\r\nhello\r\n", &[Event::text("hello")]),
            (
                b"OPEN\r\nTEXT 2\r\nhi\r\n",
                &[Event::Open, Event::text("hi")],
            ),
            (b"TEXT\r\n", &[Event::text("")]),
            (b"TEXT 0\r\n\r\n", &[Event::text("")]),
            (b"TEXT A\r\n0123456789\r\n", &[Event::text("0123456789")]),
            (b"TEXT  02 \r\nhi\r\n", &[Event::text("hi")]),
            (b"OPEN 3\r\nabc\r\n", &[Event::Open]),
            (b"FOO 2\r\nxx\r\nTEXT 1\r\nz\r\n", &[Event::text("z")]),
            (b"\r\ntext 1\r\nz\r\n", &[]),
            (b"CLOSE\r\n", &[Event::Close(None)]),
            (b"CLOSE 1\r\nx\r\n", &[Event::Close(None)]),
            (b"TEXT 2\r\nhi", &[Event::text("hi")]),
            (b"TEXT 2\r\nhi\r", &[Event::text("hi")]),
        ];
        for (wire, want) in cases {
            let got = decode(&body(wire));
            assert_eq!(
                got.as_deref(),
                Ok(*want),
                "{:?}",
                String::from_utf8_lossy(wire)
            );
        }
    }

    #[test]
    fn rejects_bad_bodies() {
        let cases: &[(&[u8], Error)] = &[
            (b"OPEN", Error::Incomplete),
            (b"OPEN\r", Error::Incomplete),
            (b"TEXT 5\r\nhi", Error::Incomplete),
            (b"OPEN\nTEXT 2\nhi\n", Error::BadHeader),
            (b"OP\rEN\r\n", Error::BadHeader),
            (b"TEXT \r\n", Error::BadLength),
            (b"TEXT 1 2\r\nz\r\n", Error::BadLength),
            (b"TEXT -2\r\nhi\r\n", Error::BadLength),
            (b"TEXT 0x2\r\nhi\r\n", Error::BadLength),
            (b"TEXT 2\r\nhiXY", Error::MissingCrlf),
            (b"TEXT ffffffffffffffffffffffff\r\n", Error::TooLarge),
        ];
        for (wire, want) in cases {
            let got = decode(&body(wire));
            assert_eq!(got, Err(*want), "{:?}", String::from_utf8_lossy(wire));
        }
    }

    #[test]
    fn limits_apply() {
        let small = Limits {
            max_content_len: 4,
            max_header_len: 8,
            max_events: 2,
        };
        let cases: &[(&[u8], Result<usize, Error>)] = &[
            (b"TEXT 4\r\nabcd\r\n", Ok(1)),
            (b"TEXT 5\r\nabcde\r\n", Err(Error::TooLarge)),
            (b"TEXT 004\r\nabcd\r\n", Ok(1)),
            (b"TEXT 0004\r\nabcd\r\n", Err(Error::HeaderTooLong)),
            (b"OPEN\r\nOPEN\r\n", Ok(2)),
            (b"OPEN\r\nFOO\r\nOPEN\r\n", Ok(2)),
            (b"OPEN\r\nOPEN\r\nOPEN\r\n", Err(Error::TooManyEvents)),
        ];
        for (wire, want) in cases {
            let got = decode_with(&body(wire), &small).map(|e| e.len());
            assert_eq!(got, *want, "{:?}", String::from_utf8_lossy(wire));
        }
    }

    #[test]
    fn parse_event_tells_partial_from_invalid() {
        let limits = Limits::default();
        let partial: &[&[u8]] = &[
            b"",
            b"TEX",
            b"TEXT 5",
            b"TEXT 5\r",
            b"TEXT 5\r\nhel",
            b"TEXT 5\r\nhello",
            b"TEXT 5\r\nhello\r",
        ];
        for wire in partial {
            let got = parse_event(&body(wire), &limits);
            assert_eq!(
                got,
                Ok(Status::Partial),
                "{:?}",
                String::from_utf8_lossy(wire)
            );
        }
        let got = parse_event(&body(b"TEXT 5\r\nhello\r\nOPEN"), &limits);
        let want = Status::Complete {
            event: Some(text("hello")),
            len: 15,
        };
        assert_eq!(got, Ok(want));
        let got = parse_event(&body(b"FOO\r\n"), &limits);
        let want = Status::Complete {
            event: None,
            len: 5,
        };
        assert_eq!(got, Ok(want));
        assert_eq!(parse_event(&body(b"TEXT z"), &limits), Ok(Status::Partial));
        assert_eq!(
            parse_event(&body(b"TEXT z\r\n"), &limits),
            Err(Error::BadLength)
        );
        let flood = vec![b'A'; MAX_HEADER_LEN + 1];
        assert_eq!(
            parse_event(&body(&flood), &limits),
            Err(Error::HeaderTooLong)
        );
    }

    #[test]
    fn payloads_are_views_of_the_input() {
        let input = body(b"TEXT 5\r\nhello\r\n");
        let events = decode(&input).unwrap();
        let Event::Text(payload) = &events[0] else {
            panic!("not text")
        };
        assert_eq!(payload.as_ptr(), input[8..].as_ptr());
    }

    #[test]
    fn decoder_gives_the_same_events_for_any_chunking() {
        let wire = b"OPEN\r\nTEXT 5\r\nhello\r\nFOO 1\r\nx\r\nCLOSE 5\r\n\x03\xe8bye\r\nPING\r\n";
        let want = decode(&body(wire)).unwrap();
        for chunk in 1..wire.len() {
            let mut decoder = Decoder::new();
            let mut got = Vec::new();
            for piece in wire.chunks(chunk) {
                decoder.push(piece);
                while let Some(event) = decoder.next_event().unwrap() {
                    got.push(event);
                }
            }
            decoder.finish();
            assert_eq!(decoder.next_event(), Ok(None));
            assert_eq!(decoder.buffered(), 0);
            assert_eq!(got, want, "chunk size {chunk}");
        }
    }

    #[test]
    fn decoder_end_of_body_rules() {
        let mut decoder = Decoder::new();
        decoder.push(b"TEXT 2\r\nhi");
        assert_eq!(decoder.next_event(), Ok(None));
        decoder.finish();
        assert_eq!(decoder.next_event(), Ok(Some(text("hi"))));
        assert_eq!(decoder.next_event(), Ok(None));

        let mut decoder = Decoder::new();
        decoder.push(b"OPEN\r\nTEXT 5\r\nhi");
        assert_eq!(decoder.next_event(), Ok(Some(Event::Open)));
        assert_eq!(decoder.next_event(), Ok(None));
        decoder.finish();
        assert_eq!(decoder.next_event(), Err(Error::Incomplete));
    }

    #[test]
    fn decoder_counts_events() {
        let mut decoder = Decoder::with_limits(Limits {
            max_events: 1,
            ..Limits::default()
        });
        decoder.push(b"OPEN\r\nOPEN\r\n");
        assert_eq!(decoder.next_event(), Ok(Some(Event::Open)));
        assert_eq!(decoder.next_event(), Err(Error::TooManyEvents));
    }
}
