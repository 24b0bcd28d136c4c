//! Backend response heads: parsing one HTTP/1.x status line and header block (RFC 9112 §4-6).
//!
//! Socket-free, like the client side's `frontend::request`: the exchange feeds the bytes read so
//! far and gets a [`Head`] once the head is complete. The head is copied once into its own
//! `Bytes` and every name and value is a view of that copy, so a held GRIP response keeps a few
//! hundred bytes alive, not the connection's read buffer. Header names keep the case and order the
//! backend sent; the reason phrase is kept byte for byte.
//!
//! The body framing is decided here (RFC 9112 §6.3): no body for a `HEAD` request or a
//! 1xx/204/304 status, else `Transfer-Encoding: chunked`, else `Content-Length`, else until the
//! connection closes. Framing that cannot be trusted is an error, not a guess.

use bytes::Bytes;
use protocol::Headers;

use crate::frontend::request::rebase;

/// Largest response head accepted. Real heads are a few hundred bytes to a few KiB (servers such
/// as nginx buffer response heads in 4-8 KiB); 64 KiB leaves room for many cookies while bounding
/// what a misbehaving backend can make the proxy buffer before it gives up.
pub const MAX_HEAD: usize = 64 * 1024;

/// Most header fields in a response head: hyper's default, which gripway used before, and the
/// client side's limit (`frontend::request::MAX_HEADERS`). Small enough for a stack array.
pub const MAX_HEADERS: usize = 100;

/// The HTTP version of a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: the connection closes unless the response says `Connection: keep-alive`.
    Http10,
    /// HTTP/1.1.
    Http11,
}

/// How a response body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD request, 1xx, 204, 304, or `Content-Length: 0`).
    Empty,
    /// `Content-Length: n`, n > 0.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// The body is whatever comes until the backend closes the connection.
    Close,
}

/// A parsed response head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// The HTTP version.
    pub version: Version,
    /// The status code.
    pub code: u16,
    /// The reason phrase, as sent (possibly empty).
    pub reason: Bytes,
    /// Header fields in order, names in the case the backend sent.
    pub headers: Headers,
    /// How the body is delimited.
    pub framing: Framing,
    /// Whether the connection may carry another request once this body has been read.
    pub keep_alive: bool,
}

impl Head {
    /// An interim response (1xx other than 101), to be skipped: the real one follows.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.code) && self.code != 101
    }
}

/// Why a response head was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// The head is larger than [`MAX_HEAD`].
    #[error("response head too large")]
    TooLarge,
    /// More than [`MAX_HEADERS`] fields.
    #[error("too many response headers")]
    TooManyHeaders,
    /// Not HTTP/1.x syntax (obsolete line folding included).
    #[error("malformed response head: {0}")]
    Malformed(&'static str),
    /// Framing the proxy must not guess at.
    #[error("bad response framing: {0}")]
    BadFraming(&'static str),
}

/// Parses a response head at the start of `buf`. `head_request` says the request was `HEAD`
/// (so the response has no body, whatever its fields say). `Ok(None)` means the head is not
/// complete yet; `Ok(Some((head, len)))` gives the head and how many bytes of `buf` it used.
pub fn parse(buf: &[u8], head_request: bool) -> Result<Option<(Head, usize)>, HeadError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut fields);
    let len = match res.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => return Err(HeadError::TooLarge),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(e) => return Err(HeadError::Malformed(describe(e))),
    };
    if len > MAX_HEAD {
        return Err(HeadError::TooLarge);
    }
    let raw = Bytes::copy_from_slice(buf.get(..len).unwrap_or_default());
    let view = |part: &[u8]| rebase(buf, &raw, part);
    let version = match res.version {
        Some(0) => Version::Http10,
        _ => Version::Http11,
    };
    let code = res.code.unwrap_or_default();
    let headers: Headers = res
        .headers
        .iter()
        .map(|h| (view(h.name.as_bytes()), view(h.value)))
        .collect();
    let reason = reason(&raw);
    let (framing, framing_keeps_alive) = framing(&headers, code, version, head_request)?;
    let connection = |token: &str| {
        headers
            .get_all("connection")
            .flat_map(|v| v.split(|&b| b == b','))
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    };
    let keep_alive = framing_keeps_alive
        && code != 101
        && match version {
            Version::Http11 => !connection("close"),
            Version::Http10 => connection("keep-alive"),
        };
    Ok(Some((
        Head {
            version,
            code,
            reason,
            headers,
            framing,
            keep_alive,
        },
        len,
    )))
}

/// The body framing, and whether it leaves the connection usable afterwards.
fn framing(
    headers: &Headers,
    code: u16,
    version: Version,
    head_request: bool,
) -> Result<(Framing, bool), HeadError> {
    if head_request || (100..200).contains(&code) || code == 204 || code == 304 {
        return Ok((Framing::Empty, true));
    }
    let codings: Vec<&[u8]> = headers
        .get_all("transfer-encoding")
        .flat_map(|v| v.split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
        .collect();
    // The field's presence decides, not its tokens: an empty `Transfer-Encoding` beside a
    // `Content-Length` is as ambiguous as any other pair, so it is refused too.
    if headers.contains("transfer-encoding") {
        if version == Version::Http10 {
            return Err(HeadError::BadFraming(
                "Transfer-Encoding in an HTTP/1.0 response",
            ));
        }
        return match codings.as_slice() {
            // Transfer-Encoding overrides Content-Length (RFC 9112 §6.3); a response that sends
            // both may be an attempt at response splitting, so its connection is not reused.
            [only] if only.eq_ignore_ascii_case(b"chunked") => {
                Ok((Framing::Chunked, !headers.contains("content-length")))
            }
            // Other transfer codings (gzip, …) would reach the client undecoded and unlabelled.
            _ => Err(HeadError::BadFraming("unsupported Transfer-Encoding")),
        };
    }
    let mut length = None;
    for value in headers.get_all("content-length") {
        // A list of identical values is allowed (RFC 9110 §8.6).
        for part in value.split(|&b| b == b',') {
            let n = parse_content_length(part.trim_ascii())?;
            if length.is_some_and(|l| l != n) {
                return Err(HeadError::BadFraming("conflicting Content-Length"));
            }
            length = Some(n);
        }
    }
    Ok(match length {
        Some(0) => (Framing::Empty, true),
        Some(n) => (Framing::Length(n), true),
        None => (Framing::Close, false),
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

/// The reason phrase as sent: the status line after `HTTP/1.x NNN `. Taken from the raw line
/// rather than from httparse, which gives an empty reason when it contains obs-text.
fn reason(head: &Bytes) -> Bytes {
    // httparse accepts empty lines before the status line.
    let start = head
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(head.len());
    let line_len = head
        .get(start..)
        .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
        .unwrap_or(0);
    let line = head.slice(start..start + line_len);
    let line = match line.last() {
        Some(b'\r') => line.slice(..line.len() - 1),
        _ => line,
    };
    // httparse has checked the line: "HTTP/1.x" SP 3DIGIT, then nothing or SP reason.
    const PREFIX: usize = "HTTP/1.1 200 ".len();
    if line.len() > PREFIX {
        line.slice(PREFIX..)
    } else {
        Bytes::new()
    }
}

fn describe(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status line",
        httparse::Error::Token => "invalid token",
        httparse::Error::TooManyHeaders => "too many headers",
        httparse::Error::Version => "invalid HTTP version",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Head {
        parse(text.as_bytes(), false).unwrap().unwrap().0
    }

    fn err(text: &str) -> HeadError {
        parse(text.as_bytes(), false).unwrap_err()
    }

    fn names(h: &Head) -> Vec<&[u8]> {
        h.headers.iter().map(|(n, _)| n.as_ref()).collect()
    }

    #[test]
    fn names_keep_their_case_and_order() {
        let h = head(
            "HTTP/1.1 200 OK\r\nX-CamelCase-Header: 1\r\ncontent-type: text/plain\r\nSet-Cookie: a\r\nX-CamelCase-Header: 2\r\nSet-Cookie: b\r\nContent-Length: 3\r\n\r\nabc",
        );
        assert_eq!(
            names(&h),
            [
                &b"X-CamelCase-Header"[..],
                b"content-type",
                b"Set-Cookie",
                b"X-CamelCase-Header",
                b"Set-Cookie",
                b"Content-Length"
            ]
        );
        assert_eq!(h.headers.get("x-camelcase-header").unwrap(), "1");
        assert_eq!((h.code, h.reason.as_ref()), (200, &b"OK"[..]));
        assert_eq!(h.framing, Framing::Length(3));
        assert!(h.keep_alive);
    }

    #[test]
    fn length_excludes_the_body_and_partial_heads_wait() {
        let text = b"HTTP/1.1 204 No Content\r\nDate: x\r\n\r\nHTTP/1.1";
        let (h, len) = parse(text, false).unwrap().unwrap();
        assert_eq!(len, text.len() - 8);
        assert_eq!(h.framing, Framing::Empty);
        assert!(parse(b"HTTP/1.1 200 OK\r\nA: b\r\n", false)
            .unwrap()
            .is_none());
        assert!(parse(b"HTTP/1.1 2", false).unwrap().is_none());
    }

    #[test]
    fn reason_phrases_are_kept_as_sent() {
        assert_eq!(
            head("HTTP/1.1 200 Fine Thanks\r\n\r\n").reason,
            "Fine Thanks"
        );
        assert_eq!(head("HTTP/1.1 404 \r\n\r\n").reason, "");
        assert_eq!(head("HTTP/1.1 404\r\n\r\n").reason, "");
        assert_eq!(head("\r\nHTTP/1.0 500 Oops\n\n").reason, "Oops");
        // obs-text, which httparse reports as an empty reason
        let h = parse(b"HTTP/1.1 200 Tr\xe8s bien\r\n\r\n", false)
            .unwrap()
            .unwrap()
            .0;
        assert_eq!(h.reason, &b"Tr\xe8s bien"[..]);
    }

    #[test]
    fn framing_rules() {
        assert_eq!(
            head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").framing,
            Framing::Chunked
        );
        assert_eq!(
            head("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").framing,
            Framing::Empty
        );
        assert_eq!(
            head("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n").framing,
            Framing::Length(5)
        );
        let close = head("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!((close.framing, close.keep_alive), (Framing::Close, false));
        for code in [
            "204 No Content",
            "304 Not Modified",
            "101 Switching Protocols",
        ] {
            let h = head(&format!(
                "HTTP/1.1 {code}\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n"
            ));
            assert_eq!(h.framing, Framing::Empty, "{code}");
        }
        let (h, _) = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", true)
            .unwrap()
            .unwrap();
        assert_eq!(h.framing, Framing::Empty, "a response to HEAD has no body");
        assert!(head("HTTP/1.1 100 Continue\r\n\r\n").is_interim());
        assert!(!head("HTTP/1.1 101 Switching Protocols\r\n\r\n").is_interim());
        assert!(!head("HTTP/1.1 101 Switching Protocols\r\n\r\n").keep_alive);
        // Both: chunked wins, and the connection is not reused.
        let both =
            head("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!((both.framing, both.keep_alive), (Framing::Chunked, false));
        for bad in [
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            // An empty Transfer-Encoding is still one: not framed by the length beside it.
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\nContent-Length: 3\r\n\r\n",
        ] {
            assert!(matches!(err(bad), HeadError::BadFraming(_)), "{bad}");
        }
    }

    #[test]
    fn keep_alive_rules() {
        assert!(
            !head("HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 1\r\n\r\n").keep_alive
        );
        assert!(!head("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n").keep_alive);
        assert!(
            head("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\n")
                .keep_alive
        );
        assert!(
            !head("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n").keep_alive,
            "a close-delimited body ends the connection"
        );
    }

    #[test]
    fn malformed_heads_are_rejected() {
        for bad in [
            "HTTP/2.0 200 OK\r\n\r\n",
            "HTTP/1.1 2000 OK\r\n\r\n",
            "HTTP/1.1 OK\r\n\r\n",
            "ICY 200 OK\r\n\r\n",
            // obsolete line folding
            "HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\n\r\n",
            // space before the colon
            "HTTP/1.1 200 OK\r\nX-A : one\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX A: one\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX-A: on\x00e\r\n\r\n",
        ] {
            assert!(matches!(err(bad), HeadError::Malformed(_)), "{bad:?}");
        }
    }

    #[test]
    fn limits() {
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
        assert_eq!(
            err(&format!("HTTP/1.1 200 OK\r\n{many}\r\n")),
            HeadError::TooManyHeaders
        );
        let big = format!("HTTP/1.1 200 OK\r\nX-Big: {}", "a".repeat(MAX_HEAD));
        assert_eq!(err(&big), HeadError::TooLarge);
        let big = format!("HTTP/1.1 200 OK\r\nX-Big: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(err(&big), HeadError::TooLarge);
    }

    #[test]
    fn fields_are_views_of_one_copy() {
        let h = head("HTTP/1.1 200 OK\r\nA: b\r\n\r\n");
        let (name, value) = h.headers.iter().next().unwrap();
        assert_eq!(value.as_ptr() as usize - name.as_ptr() as usize, 3);
    }
}
