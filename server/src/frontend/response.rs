//! Writing responses to clients: the status line and headers, and the body framing (§6.1).
//!
//! The framing follows what Pushpin's connection manager does: a body whose length is known gets
//! `Content-Length`; otherwise an HTTP/1.1 client gets `Transfer-Encoding: chunked` and an
//! HTTP/1.0 client a body delimited by closing the connection. Hop-by-hop fields from the backend
//! (`Connection`, `Keep-Alive`, `Transfer-Encoding`, `Content-Length`) are replaced by the ones
//! this framing needs, so a backend cannot make the client mis-frame the body.

use bytes::{BufMut, Bytes, BytesMut};
use protocol::Headers;

use super::request::Version;

/// A response head to send to a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// Status code.
    pub code: u16,
    /// Reason phrase.
    pub reason: Bytes,
    /// Header fields, minus the framing fields, which the writer adds.
    pub headers: Headers,
}

impl ResponseHead {
    /// A head with the standard reason phrase for `code`.
    pub fn new(code: u16) -> Self {
        ResponseHead {
            code,
            reason: Bytes::from_static(reason_phrase(code).as_bytes()),
            headers: Headers::new(),
        }
    }
}

/// How a response body is delimited on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked` (HTTP/1.1 only).
    Chunked,
    /// The body ends when the connection closes (HTTP/1.0 with an unknown length).
    Close,
}

impl Framing {
    /// The framing for a body of `len` bytes (None = not known yet) sent to a client of `version`.
    pub fn choose(len: Option<u64>, version: Version) -> Framing {
        match (len, version) {
            (Some(n), _) => Framing::Length(n),
            (None, Version::Http11) => Framing::Chunked,
            (None, Version::Http10) => Framing::Close,
        }
    }
}

/// Fields a writer owns: whatever the backend said, these come from the framing chosen here.
const FRAMING_FIELDS: &[&str] = &[
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
];

/// Appends the head: status line, fields, framing fields and `Connection` as needed.
pub fn encode_head(
    head: &ResponseHead,
    framing: Framing,
    version: Version,
    keep_alive: bool,
    out: &mut BytesMut,
) {
    let size: usize = head
        .headers
        .iter()
        .map(|(n, v)| n.len() + v.len() + 4)
        .sum();
    out.reserve(size + head.reason.len() + 96);
    out.put_slice(match version {
        Version::Http10 => b"HTTP/1.0 ",
        Version::Http11 => b"HTTP/1.1 ",
    });
    out.put_slice(itoa::Buffer::new().format(head.code).as_bytes());
    out.put_u8(b' ');
    out.put_slice(&head.reason);
    out.put_slice(b"\r\n");
    for (name, value) in head.headers.iter() {
        if FRAMING_FIELDS
            .iter()
            .any(|f| name.eq_ignore_ascii_case(f.as_bytes()))
        {
            continue;
        }
        put_field(out, name, value);
    }
    match framing {
        Framing::Length(n) => put_field(
            out,
            b"Content-Length",
            itoa::Buffer::new().format(n).as_bytes(),
        ),
        Framing::Chunked => put_field(out, b"Transfer-Encoding", b"chunked"),
        Framing::Close => {}
    }
    let persistent = keep_alive && framing != Framing::Close;
    match (version, persistent) {
        (Version::Http11, false) => put_field(out, b"Connection", b"close"),
        (Version::Http10, true) => put_field(out, b"Connection", b"keep-alive"),
        _ => {}
    }
    out.put_slice(b"\r\n");
}

/// Appends a `101 Switching Protocols` head: status line, the fields given (framing fields
/// left out: there is no body) and `Connection: Upgrade`. The caller's fields carry `Upgrade`
/// and whatever the new protocol needs (`Sec-WebSocket-Accept`).
pub fn encode_switching_head(head: &ResponseHead, out: &mut BytesMut) {
    out.put_slice(b"HTTP/1.1 ");
    out.put_slice(itoa::Buffer::new().format(head.code).as_bytes());
    out.put_u8(b' ');
    out.put_slice(&head.reason);
    out.put_slice(b"\r\n");
    for (name, value) in head.headers.iter() {
        if !FRAMING_FIELDS
            .iter()
            .any(|f| name.eq_ignore_ascii_case(f.as_bytes()))
        {
            put_field(out, name, value);
        }
    }
    put_field(out, b"Connection", b"Upgrade");
    out.put_slice(b"\r\n");
}

fn put_field(out: &mut BytesMut, name: &[u8], value: &[u8]) {
    out.put_slice(name);
    out.put_slice(b": ");
    out.put_slice(value);
    out.put_slice(b"\r\n");
}

/// The bytes that frame one chunk of `len` bytes: put the returned prefix before the data and
/// `\r\n` after it. Empty data must not be sent as a chunk (it would end the body).
pub fn chunk_prefix(len: usize) -> ChunkPrefix {
    let mut p = ChunkPrefix {
        buf: [0; 18],
        len: 0,
    };
    let mut n = len;
    let mut digits = [0u8; 16];
    let mut count = 0;
    loop {
        if let Some(d) = digits.get_mut(count) {
            *d = b"0123456789abcdef".get(n % 16).copied().unwrap_or(b'0');
        }
        count += 1;
        n /= 16;
        if n == 0 || count == digits.len() {
            break;
        }
    }
    for d in digits.iter().take(count).rev().chain(b"\r\n") {
        if let Some(slot) = p.buf.get_mut(p.len) {
            *slot = *d;
            p.len += 1;
        }
    }
    p
}

/// The terminating chunk of a chunked body.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// A chunk-size line, on the stack.
#[derive(Clone, Copy, Debug)]
pub struct ChunkPrefix {
    buf: [u8; 18],
    len: usize,
}

impl ChunkPrefix {
    /// The line's bytes, `<hex>\r\n`.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

/// The reason phrase for a status code, as Pushpin writes it (`Undefined Reason` for codes
/// without one).
pub fn reason_phrase(code: u16) -> &'static str {
    protocol::status::reason_phrase(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head_text(
        head: &ResponseHead,
        framing: Framing,
        version: Version,
        keep_alive: bool,
    ) -> String {
        let mut out = BytesMut::new();
        encode_head(head, framing, version, keep_alive, &mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn framing_fields_come_from_the_writer() {
        let mut head = ResponseHead::new(200);
        head.headers.push("Content-Type", "text/plain");
        head.headers.push("Content-Length", "999");
        head.headers.push("Connection", "close");
        head.headers.push("Transfer-Encoding", "gzip");
        assert_eq!(
            head_text(&head, Framing::Length(3), Version::Http11, true),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\n"
        );
        assert_eq!(
            head_text(&head, Framing::Chunked, Version::Http11, false),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(
            head_text(&head, Framing::Close, Version::Http10, true),
            "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"
        );
        assert_eq!(
            head_text(
                &ResponseHead::new(404),
                Framing::Length(0),
                Version::Http10,
                true
            ),
            "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"
        );
    }

    #[test]
    fn choose_framing() {
        assert_eq!(
            Framing::choose(Some(5), Version::Http10),
            Framing::Length(5)
        );
        assert_eq!(Framing::choose(None, Version::Http11), Framing::Chunked);
        assert_eq!(Framing::choose(None, Version::Http10), Framing::Close);
    }

    #[test]
    fn chunk_prefixes() {
        assert_eq!(chunk_prefix(12).as_bytes(), b"c\r\n");
        assert_eq!(chunk_prefix(3).as_bytes(), b"3\r\n");
        assert_eq!(chunk_prefix(0x10000).as_bytes(), b"10000\r\n");
        assert_eq!(chunk_prefix(usize::MAX).as_bytes(), b"ffffffffffffffff\r\n");
    }

    #[test]
    fn reasons() {
        assert_eq!(reason_phrase(201), "Created");
        assert_eq!(reason_phrase(599), "Undefined Reason");
    }
}
