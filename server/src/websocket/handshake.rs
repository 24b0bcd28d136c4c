//! The client's opening handshake (RFC 6455 §4.2): checking the request and writing the `101`.

use bytes::Bytes;
use protocol::Headers;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::frontend::response::ResponseHead;

/// Why an upgrade request is not a usable WebSocket handshake.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// `Sec-WebSocket-Key` is missing or not 16 bytes in base64.
    #[error("Missing or invalid Sec-WebSocket-Key.")]
    Key,
    /// `Sec-WebSocket-Version` is not 13.
    #[error("Unsupported Sec-WebSocket-Version.")]
    Version,
    /// The method is not `GET`.
    #[error("WebSocket handshake must use GET.")]
    Method,
}

/// A checked handshake: what the `101` must answer with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handshake {
    /// The `Sec-WebSocket-Accept` value.
    pub accept: String,
}

impl Handshake {
    /// Checks the request's method, key and version.
    pub fn check(method: &[u8], headers: &Headers) -> Result<Handshake, HandshakeError> {
        if method != b"GET" {
            return Err(HandshakeError::Method);
        }
        if headers.get("sec-websocket-version").map(|v| v.as_ref()) != Some(b"13".as_slice()) {
            return Err(HandshakeError::Version);
        }
        let key = headers
            .get("sec-websocket-key")
            .map(|k| k.as_ref().trim_ascii())
            .filter(|k| is_key(k))
            .ok_or(HandshakeError::Key)?;
        Ok(Handshake {
            accept: derive_accept_key(key),
        })
    }

    /// The `101 Switching Protocols` head: `fields` (from the backend), then `Upgrade` and
    /// `Sec-WebSocket-Accept`. (`Connection: Upgrade` is the writer's.)
    pub fn switching_head(&self, fields: Headers) -> ResponseHead {
        let mut head = ResponseHead {
            code: 101,
            reason: Bytes::from_static(b"Switching Protocols"),
            headers: fields,
        };
        head.headers.remove("upgrade");
        head.headers.remove("sec-websocket-accept");
        head.headers.push("Upgrade", "websocket");
        head.headers
            .push("Sec-WebSocket-Accept", Bytes::from(self.accept.clone()));
        head
    }
}

/// A key is 16 bytes in base64: 24 characters, the last two `==`.
fn is_key(key: &[u8]) -> bool {
    let base64 = |b: &u8| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/';
    key.len() == 24 && key.ends_with(b"==") && key.iter().take(22).all(base64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(version: &'static str, key: &'static str) -> Headers {
        [
            ("Sec-WebSocket-Version", version),
            ("Sec-WebSocket-Key", key),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn the_rfc_example_key_is_answered() {
        let h = Handshake::check(b"GET", &headers("13", "dGhlIHNhbXBsZSBub25jZQ==")).unwrap();
        assert_eq!(h.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        let head = h.switching_head([("X-A", "1"), ("Upgrade", "x")].into_iter().collect());
        assert_eq!(head.code, 101);
        assert_eq!(head.headers.get("upgrade").unwrap().as_ref(), b"websocket");
        assert_eq!(head.headers.get("x-a").unwrap().as_ref(), b"1");
    }

    #[test]
    fn bad_handshakes_are_named() {
        let good = "dGhlIHNhbXBsZSBub25jZQ==";
        assert_eq!(
            Handshake::check(b"POST", &headers("13", good)),
            Err(HandshakeError::Method)
        );
        assert_eq!(
            Handshake::check(b"GET", &headers("8", good)),
            Err(HandshakeError::Version)
        );
        for key in [
            "",
            "short==",
            "dGhlIHNhbXBsZSBub25jZQ",
            "dGhlIHNhbXBsZSBub25j!Q==",
        ] {
            assert_eq!(
                Handshake::check(b"GET", &headers("13", key)),
                Err(HandshakeError::Key),
                "{key}"
            );
        }
    }
}
