//! The `grip` WebSocket extension (§7.1): how a backend turns on control messages, and the
//! prefix its ordinary messages then carry.

use bytes::Bytes;
use protocol::Headers;

/// The message prefix when the backend names none (Pushpin's default).
pub const DEFAULT_PREFIX: &[u8] = b"m:";

/// What a backend's `Sec-WebSocket-Extensions` says about `grip`: `None` when it did not
/// accept the extension, else the prefix its messages for the client carry (often empty).
pub fn grip_prefix(headers: &Headers) -> Option<Bytes> {
    headers
        .get_all("sec-websocket-extensions")
        .flat_map(|value| value.split(|&b| b == b','))
        .find_map(|extension| {
            let mut parts = extension.split(|&b| b == b';').map(<[u8]>::trim_ascii);
            if parts.next() != Some(b"grip".as_slice()) {
                return None;
            }
            let prefix = parts
                .filter_map(|p| p.strip_prefix(b"message-prefix="))
                .map(unquote)
                .next_back()
                .unwrap_or(DEFAULT_PREFIX);
            Some(Bytes::copy_from_slice(prefix))
        })
}

fn unquote(value: &[u8]) -> &[u8] {
    value
        .strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
        .unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(value: &'static str) -> Option<Bytes> {
        grip_prefix(&[("Sec-WebSocket-Extensions", value)].into_iter().collect())
    }

    #[test]
    fn the_prefix_is_m_unless_named() {
        assert_eq!(ext("grip").as_deref(), Some(&b"m:"[..]));
        assert_eq!(ext("grip; message-prefix=\"\"").as_deref(), Some(&b""[..]));
        assert_eq!(ext("grip; message-prefix=x-").as_deref(), Some(&b"x-"[..]));
        assert_eq!(
            ext("permessage-deflate, grip ;message-prefix=\"p:\"").as_deref(),
            Some(&b"p:"[..])
        );
    }

    #[test]
    fn without_grip_there_is_no_prefix() {
        assert_eq!(ext("permessage-deflate"), None);
        assert_eq!(ext("gripx"), None);
        assert_eq!(grip_prefix(&Headers::default()), None);
    }
}
