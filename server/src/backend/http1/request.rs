//! Backend request heads: the request line and header block, written with every header name
//! exactly as the rewrite step produced it (RFC 9112 §3, §5).
//!
//! Socket-free. The framing field is this module's: a `Content-Length` already in the list is
//! kept where it stands when it matches the body actually sent, any other is dropped, and the
//! framing field needed is appended (`Content-Length`, or `Transfer-Encoding: chunked` for a
//! streamed body of unknown length). `Transfer-Encoding` from the list is always dropped.

use bytes::{BufMut, BytesMut};
use protocol::Headers;

/// How the request body is delimited on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length: n` (written only when n > 0 or the list had one).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// Why a request could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The path is empty or holds a space or control character.
    #[error("invalid request path")]
    Path,
    /// A header name or value holds CR, LF or NUL, which would split the head.
    #[error("invalid header field")]
    Field,
}

/// The length a list of fields declares with `Content-Length`: one valid value, or several equal
/// ones. `None` for no field or an unusable one.
pub fn declared_length(headers: &Headers) -> Option<u64> {
    let mut found = None;
    for value in headers.get_all("content-length") {
        let n = std::str::from_utf8(value)
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()?;
        if found.is_some_and(|f| f != n) {
            return None;
        }
        found = Some(n);
    }
    found
}

/// Appends the request head: `METHOD path HTTP/1.1`, the fields, the framing field.
pub fn encode_head(
    method: &[u8],
    path: &[u8],
    headers: &Headers,
    framing: Framing,
    out: &mut BytesMut,
) -> Result<(), RequestError> {
    if path.is_empty() || path.iter().any(|&b| b <= b' ' || b == 0x7f) {
        return Err(RequestError::Path);
    }
    let size: usize = headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
    out.reserve(method.len() + path.len() + size + 64);
    out.put_slice(method);
    out.put_u8(b' ');
    out.put_slice(path);
    out.put_slice(b" HTTP/1.1\r\n");
    let mut length_written = false;
    for (name, value) in headers.iter() {
        if name
            .iter()
            .chain(value.iter())
            .any(|&b| b == b'\r' || b == b'\n' || b == 0)
        {
            return Err(RequestError::Field);
        }
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            continue;
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            let matches = match framing {
                Framing::Length(n) => parse_length(value) == Some(n),
                Framing::Chunked => false,
            };
            if !matches || length_written {
                continue;
            }
            length_written = true;
        }
        put_field(out, name, value);
    }
    match framing {
        Framing::Length(n) if n > 0 && !length_written => put_field(
            out,
            b"Content-Length",
            itoa::Buffer::new().format(n).as_bytes(),
        ),
        Framing::Chunked => put_field(out, b"Transfer-Encoding", b"chunked"),
        Framing::Length(_) => {}
    }
    out.put_slice(b"\r\n");
    Ok(())
}

fn parse_length(value: &[u8]) -> Option<u64> {
    std::str::from_utf8(value).ok()?.trim().parse().ok()
}

fn put_field(out: &mut BytesMut, name: &[u8], value: &[u8]) {
    out.put_slice(name);
    out.put_slice(b": ");
    out.put_slice(value);
    out.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(
        method: &str,
        path: &str,
        headers: &[(&'static str, &'static str)],
        f: Framing,
    ) -> String {
        let headers: Headers = headers.iter().copied().collect();
        let mut out = BytesMut::new();
        encode_head(method.as_bytes(), path.as_bytes(), &headers, f, &mut out).unwrap();
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn names_are_written_as_given() {
        assert_eq!(
            text(
                "GET",
                "/a?b=1",
                &[("Host", "example.com"), ("X-CamelCase", "1"), ("grip-sig", "t"), ("Grip-Feature", "f")],
                Framing::Length(0)
            ),
            "GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nX-CamelCase: 1\r\ngrip-sig: t\r\nGrip-Feature: f\r\n\r\n"
        );
    }

    #[test]
    fn framing_fields() {
        // The client's own Content-Length is kept in place when it matches.
        assert_eq!(
            text(
                "POST",
                "/",
                &[("content-length", "5"), ("X-A", "1")],
                Framing::Length(5)
            ),
            "POST / HTTP/1.1\r\ncontent-length: 5\r\nX-A: 1\r\n\r\n"
        );
        // Otherwise ours replaces it; Transfer-Encoding never passes.
        assert_eq!(
            text(
                "POST",
                "/",
                &[("Content-Length", "9"), ("Transfer-Encoding", "chunked")],
                Framing::Length(5)
            ),
            "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n"
        );
        assert_eq!(
            text("PUT", "/", &[("Content-Length", "9")], Framing::Chunked),
            "PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        assert_eq!(
            text("POST", "/", &[("Content-Length", "0")], Framing::Length(0)),
            "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn declared_lengths() {
        let h =
            |pairs: &[(&'static str, &'static str)]| -> Headers { pairs.iter().copied().collect() };
        assert_eq!(
            declared_length(&h(&[("Content-Length", "300000")])),
            Some(300_000)
        );
        assert_eq!(declared_length(&h(&[("a", "b")])), None);
        assert_eq!(
            declared_length(&h(&[("Content-Length", "1"), ("content-length", "2")])),
            None
        );
        assert_eq!(declared_length(&h(&[("Content-Length", "x")])), None);
    }

    #[test]
    fn injection_is_refused() {
        let mut out = BytesMut::new();
        let h: Headers = [("X-A", "1\r\nX-B: 2")].into_iter().collect();
        assert_eq!(
            encode_head(b"GET", b"/", &h, Framing::Length(0), &mut out),
            Err(RequestError::Field)
        );
        for path in ["", "/a b", "/a\r\nX: y"] {
            assert_eq!(
                encode_head(
                    b"GET",
                    path.as_bytes(),
                    &Headers::new(),
                    Framing::Length(0),
                    &mut out
                ),
                Err(RequestError::Path)
            );
        }
    }
}
