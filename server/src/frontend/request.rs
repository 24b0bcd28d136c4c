//! Client request heads: parsing one HTTP/1.x request head out of bytes read from a client.
//!
//! Socket-free: the connection driver feeds bytes and gets back a [`RequestHead`] once the head is
//! complete. The head is copied once into its own `Bytes`, and every header is a view of it, so
//! the read buffer can be freed as soon as the head is parsed (see `frontend` module doc for why
//! that matters).
//!
//! Framing follows RFC 9112 §6, strictly, because a proxy that frames a body differently from its
//! backend enables request smuggling: `Transfer-Encoding` together with `Content-Length`, a
//! transfer coding other than a final `chunked`, and conflicting `Content-Length`s are all
//! rejected with 400.

use bytes::Bytes;
use protocol::Headers;

/// Most header fields in a request head: well above browsers (about 20) and Pushpin's
/// connection manager, small enough for a stack array.
pub const MAX_HEADERS: usize = 100;

/// The HTTP version of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: no chunked encoding; the connection closes unless asked to stay open.
    Http10,
    /// HTTP/1.1.
    Http11,
}

/// How the request body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    Empty,
    /// `Content-Length: n` (n > 0).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed request head.
#[derive(Clone, Debug)]
pub struct RequestHead {
    /// The method, as sent (`GET`, `POST`, …).
    pub method: Bytes,
    /// The request target as sent: `/path?query`, or an absolute URI.
    pub target: Bytes,
    /// The HTTP version.
    pub version: Version,
    /// Header fields in order.
    pub headers: Headers,
    /// How the body is delimited.
    pub framing: BodyFraming,
    /// Whether the client wants the connection kept open after the response.
    pub keep_alive: bool,
    /// `Expect: 100-continue`.
    pub expect_continue: bool,
    /// A WebSocket upgrade request (`Upgrade: websocket` with `Connection: upgrade`).
    pub websocket: bool,
}

/// Why a request head was rejected; each maps to the status the client gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// The head is larger than `client_buffer_size`.
    #[error("request header too large")]
    TooLarge,
    /// More than [`MAX_HEADERS`] fields.
    #[error("too many request headers")]
    TooManyHeaders,
    /// Not HTTP/1.x syntax.
    #[error("malformed request head: {0}")]
    Malformed(&'static str),
    /// Framing that a proxy must not guess at.
    #[error("bad request framing: {0}")]
    BadFraming(&'static str),
}

impl HeadError {
    /// The status a client gets for this error.
    pub fn status(&self) -> u16 {
        match self {
            HeadError::TooLarge | HeadError::TooManyHeaders => 431,
            HeadError::Malformed(_) | HeadError::BadFraming(_) => 400,
        }
    }
}

/// Parses a request head at the start of `buf`. `Ok(None)` means the head is not complete yet;
/// `Ok(Some((head, len)))` gives the head and how many bytes of `buf` it used.
pub fn parse(buf: &[u8], max_size: usize) -> Result<Option<(RequestHead, usize)>, HeadError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut fields);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() >= max_size => return Err(HeadError::TooLarge),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(e) => return Err(HeadError::Malformed(describe(e))),
    };
    if len > max_size {
        return Err(HeadError::TooLarge);
    }
    let raw = Bytes::copy_from_slice(buf.get(..len).unwrap_or_default());
    let view = |part: &[u8]| rebase(buf, &raw, part);
    let version = match req.version {
        Some(0) => Version::Http10,
        _ => Version::Http11,
    };
    let headers: Headers = req
        .headers
        .iter()
        .map(|h| (view(h.name.as_bytes()), view(h.value)))
        .collect();
    let method = view(req.method.unwrap_or_default().as_bytes());
    let target = view(req.path.unwrap_or_default().as_bytes());
    let framing = framing(&headers, version)?;
    let connection = tokens(&headers, "connection");
    let keep_alive = match version {
        Version::Http11 => !connection.iter().any(|t| t.eq_ignore_ascii_case("close")),
        Version::Http10 => connection
            .iter()
            .any(|t| t.eq_ignore_ascii_case("keep-alive")),
    };
    let expect_continue = version == Version::Http11
        && headers
            .get("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue"));
    let websocket = connection.iter().any(|t| t.eq_ignore_ascii_case("upgrade"))
        && tokens(&headers, "upgrade")
            .iter()
            .any(|t| t.eq_ignore_ascii_case("websocket"));
    Ok(Some((
        RequestHead {
            method,
            target,
            version,
            headers,
            framing,
            keep_alive,
            expect_continue,
            websocket,
        },
        len,
    )))
}

fn framing(headers: &Headers, version: Version) -> Result<BodyFraming, HeadError> {
    let te = tokens(headers, "transfer-encoding");
    let mut lengths = headers.get_all("content-length");
    // The field's presence decides, not its tokens: an empty `Transfer-Encoding` beside a
    // `Content-Length` is a smuggling attempt too (found by fuzzing).
    if headers.contains("transfer-encoding") {
        if version == Version::Http10 {
            return Err(HeadError::BadFraming(
                "Transfer-Encoding in an HTTP/1.0 request",
            ));
        }
        if headers.contains("content-length") {
            return Err(HeadError::BadFraming(
                "both Transfer-Encoding and Content-Length",
            ));
        }
        return match te.last() {
            Some(last) if last.eq_ignore_ascii_case("chunked") && te.len() == 1 => {
                Ok(BodyFraming::Chunked)
            }
            _ => Err(HeadError::BadFraming("unsupported Transfer-Encoding")),
        };
    }
    let Some(first) = lengths.next() else {
        return Ok(BodyFraming::Empty);
    };
    let n = parse_content_length(first)?;
    if lengths.any(|other| parse_content_length(other) != Ok(n)) {
        return Err(HeadError::BadFraming("conflicting Content-Length"));
    }
    Ok(if n == 0 {
        BodyFraming::Empty
    } else {
        BodyFraming::Length(n)
    })
}

fn parse_content_length(value: &[u8]) -> Result<u64, HeadError> {
    let bad = HeadError::BadFraming("invalid Content-Length");
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return Err(bad);
    }
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(bad)
}

/// The comma-separated tokens of every field named `name`, trimmed, lower-case kept as sent.
fn tokens(headers: &Headers, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .flat_map(|v| v.split(|&b| b == b','))
        .map(|t| String::from_utf8_lossy(t).trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

fn describe(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid method",
        httparse::Error::TooManyHeaders => "too many headers",
        httparse::Error::Version => "invalid HTTP version",
    }
}

/// `part` lies in `buf`, and `copy` holds the start of `buf`: the same bytes as a view of `copy`.
/// Falls back to copying `part` if it does not lie there (never panics).
pub(crate) fn rebase(buf: &[u8], copy: &Bytes, part: &[u8]) -> Bytes {
    let offset = (part.as_ptr() as usize).checked_sub(buf.as_ptr() as usize);
    match offset {
        Some(off)
            if off
                .checked_add(part.len())
                .is_some_and(|end| end <= copy.len()) =>
        {
            copy.slice(off..off + part.len())
        }
        _ => Bytes::copy_from_slice(part),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> RequestHead {
        parse(text.as_bytes(), 8192).unwrap().unwrap().0
    }

    fn err(text: &str) -> HeadError {
        parse(text.as_bytes(), 8192).unwrap_err()
    }

    #[test]
    fn simple_get() {
        let h = head("GET /a?b=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
        assert_eq!(h.method, "GET");
        assert_eq!(h.target, "/a?b=1");
        assert_eq!(h.version, Version::Http11);
        assert_eq!(h.headers.get("host").unwrap(), "x");
        assert_eq!(h.framing, BodyFraming::Empty);
        assert!(h.keep_alive && !h.websocket && !h.expect_continue);
    }

    #[test]
    fn fields_are_views_of_one_copy() {
        let h = head("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let host = h.headers.get("host").unwrap();
        // The method is at offset 0 of the copy; the host value lies 22 bytes after it.
        assert_eq!(host.as_ptr() as usize - h.method.as_ptr() as usize, 22);
    }

    #[test]
    fn partial_and_length() {
        assert!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n", 8192)
            .unwrap()
            .is_none());
        let text = b"GET / HTTP/1.1\r\n\r\nextra";
        assert_eq!(parse(text, 8192).unwrap().unwrap().1, 18);
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nX: aaaaaaaa", 16).unwrap_err(),
            HeadError::TooLarge
        );
    }

    #[test]
    fn keep_alive_rules() {
        assert!(!head("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
        assert!(!head("GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
    }

    #[test]
    fn framing_rules() {
        assert_eq!(
            head("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n").framing,
            BodyFraming::Length(5)
        );
        assert_eq!(
            head("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").framing,
            BodyFraming::Empty
        );
        assert_eq!(
            head("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").framing,
            BodyFraming::Chunked
        );
        assert_eq!(
            head("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n").framing,
            BodyFraming::Length(5)
        );
        for bad in [
            "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: \r\nContent-Length: 3\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: ,\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n",
        ] {
            assert!(matches!(err(bad), HeadError::BadFraming(_)), "{bad}");
            assert_eq!(err(bad).status(), 400);
        }
    }

    #[test]
    fn websocket_and_expect() {
        let h = head(
            "GET /ws HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
        );
        assert!(h.websocket);
        let h = head("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n");
        assert!(h.expect_continue);
    }

    #[test]
    fn malformed() {
        assert!(matches!(
            err("GET / HTTP/2.0\r\n\r\n"),
            HeadError::Malformed(_)
        ));
        assert!(matches!(
            err("G@T / HTTP/1.1\r\n\r\n"),
            HeadError::Malformed(_)
        ));
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
        assert_eq!(
            err(&format!("GET / HTTP/1.1\r\n{many}\r\n")),
            HeadError::TooManyHeaders
        );
    }
}
