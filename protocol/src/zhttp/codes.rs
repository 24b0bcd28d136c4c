//! The vocabularies of three byte-string fields: `type`, `content-type` (§2.2, §2.4) and
//! `condition` (§2.5).
//!
//! `type` and `content-type` are closed: a receiver cannot act on a packet whose kind or frame
//! type it does not know, so an unknown value is a [`super::Error::BadValue`]. One
//! leniency: `type` may be spelled `data` (RFC 33 names the default type so), though it is never
//! written; an absent `type` means data. `condition` is open: Pushpin treats any condition it does
//! not know as a generic error (§2.5), so an unknown one decodes to [`Condition::Other`] and is
//! written back unchanged.

use bytes::Bytes;

/// The `type` of a packet (§2.2). Absent on the wire means [`PacketType::Data`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// Request or response data: head, body chunk or WebSocket message (no `type` field).
    #[default]
    Data,
    /// The session failed; see `condition`.
    Error,
    /// Grants `credits` bytes to the peer.
    Credit,
    /// Keeps the session from expiring (§2.3).
    KeepAlive,
    /// Ends the session; may arrive out of sequence.
    Cancel,
    /// Asks the peer to pause for a handoff.
    HandoffStart,
    /// Answers `handoff-start`.
    HandoffProceed,
    /// WebSocket close: status in `code`, reason in `body` (§2.4).
    Close,
    /// WebSocket ping, payload in `body`.
    Ping,
    /// WebSocket pong, payload in `body`.
    Pong,
}

impl PacketType {
    /// Every packet type, in the order of §2.2.
    pub const ALL: [PacketType; 10] = [
        PacketType::Data,
        PacketType::Error,
        PacketType::Credit,
        PacketType::KeepAlive,
        PacketType::Cancel,
        PacketType::HandoffStart,
        PacketType::HandoffProceed,
        PacketType::Close,
        PacketType::Ping,
        PacketType::Pong,
    ];

    /// The name of the type: the value of the `type` field, or `data`, which is never written.
    pub fn as_str(self) -> &'static str {
        match self {
            PacketType::Data => "data",
            PacketType::Error => "error",
            PacketType::Credit => "credit",
            PacketType::KeepAlive => "keep-alive",
            PacketType::Cancel => "cancel",
            PacketType::HandoffStart => "handoff-start",
            PacketType::HandoffProceed => "handoff-proceed",
            PacketType::Close => "close",
            PacketType::Ping => "ping",
            PacketType::Pong => "pong",
        }
    }

    /// The type a `type` field names, if it names one.
    pub fn from_name(name: &[u8]) -> Option<PacketType> {
        PacketType::ALL
            .into_iter()
            .find(|ty| ty.as_str().as_bytes() == name)
    }
}

/// The `content-type` of a WebSocket message fragment (§2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContentType {
    /// A text frame (UTF-8 payload).
    Text,
    /// A binary frame.
    Binary,
}

impl ContentType {
    /// The wire value: `text` or `binary`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::Text => "text",
            ContentType::Binary => "binary",
        }
    }

    /// The content type a `content-type` field names, if it names one.
    pub fn from_name(name: &[u8]) -> Option<ContentType> {
        match name {
            b"text" => Some(ContentType::Text),
            b"binary" => Some(ContentType::Binary),
            _ => None,
        }
    }
}

/// The `condition` of an `error` packet (§2.5). Known names are variants; any other name is kept
/// in [`Condition::Other`], which [`Condition::from_bytes`] never uses for a known name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Condition {
    /// `remote-connection-failed`: the target could not be reached.
    RemoteConnectionFailed,
    /// `connection-timeout`: connecting to the target timed out.
    ConnectionTimeout,
    /// `tls-error`: the TLS handshake with the target failed.
    TlsError,
    /// `policy-violation`: the target is on a deny list (zurl).
    PolicyViolation,
    /// `length-required`: the target wants a `Content-Length`; Pushpin answers 411.
    LengthRequired,
    /// `rejected`: a WebSocket handshake was refused; `code`, `reason`, `headers` and `body`
    /// carry the refusal (§2.4).
    Rejected,
    /// `disconnected`: the peer went away.
    Disconnected,
    /// `bad-request`: the request could not be made.
    BadRequest,
    /// `max-size-exceeded`: the response was larger than `max-size`.
    MaxSizeExceeded,
    /// `session-timeout`: the session expired (§2.3).
    SessionTimeout,
    /// Any other condition; Pushpin treats it as a generic error (502).
    Other(Bytes),
}

impl Condition {
    const KNOWN: [Condition; 10] = [
        Condition::RemoteConnectionFailed,
        Condition::ConnectionTimeout,
        Condition::TlsError,
        Condition::PolicyViolation,
        Condition::LengthRequired,
        Condition::Rejected,
        Condition::Disconnected,
        Condition::BadRequest,
        Condition::MaxSizeExceeded,
        Condition::SessionTimeout,
    ];

    /// The condition named `name`; a view of `name` when it is not a known one.
    pub fn from_bytes(name: Bytes) -> Condition {
        Condition::KNOWN
            .into_iter()
            .find(|c| c.as_bytes() == name)
            .unwrap_or(Condition::Other(name))
    }

    /// The wire name.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Condition::RemoteConnectionFailed => b"remote-connection-failed",
            Condition::ConnectionTimeout => b"connection-timeout",
            Condition::TlsError => b"tls-error",
            Condition::PolicyViolation => b"policy-violation",
            Condition::LengthRequired => b"length-required",
            Condition::Rejected => b"rejected",
            Condition::Disconnected => b"disconnected",
            Condition::BadRequest => b"bad-request",
            Condition::MaxSizeExceeded => b"max-size-exceeded",
            Condition::SessionTimeout => b"session-timeout",
            Condition::Other(name) => name,
        }
    }

    /// The wire name, if it is UTF-8 (every known one is).
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(self.as_bytes()).ok()
    }

    /// True for the conditions Pushpin reads as "could not reach target": it tries the route's
    /// next target before failing with 502 (§2.5).
    pub fn is_target_unreachable(&self) -> bool {
        matches!(
            self,
            Condition::RemoteConnectionFailed | Condition::ConnectionTimeout | Condition::TlsError
        )
    }
}

impl From<&str> for Condition {
    fn from(name: &str) -> Self {
        Condition::from_bytes(Bytes::copy_from_slice(name.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_type_names_round_trip() {
        for ty in PacketType::ALL {
            assert_eq!(PacketType::from_name(ty.as_str().as_bytes()), Some(ty));
        }
        assert_eq!(PacketType::from_name(b"Credit"), None);
        assert_eq!(PacketType::from_name(b""), None);
    }

    #[test]
    fn content_type_names() {
        assert_eq!(ContentType::from_name(b"text"), Some(ContentType::Text));
        assert_eq!(ContentType::from_name(b"binary"), Some(ContentType::Binary));
        assert_eq!(ContentType::from_name(b"Text"), None);
        assert_eq!(ContentType::Binary.as_str(), "binary");
    }

    #[test]
    fn known_conditions_are_variants_and_others_survive() {
        for known in Condition::KNOWN {
            let name = Bytes::copy_from_slice(known.as_bytes());
            assert_eq!(Condition::from_bytes(name), known);
        }
        let other = Condition::from("quota-exceeded");
        assert_eq!(
            other,
            Condition::Other(Bytes::from_static(b"quota-exceeded"))
        );
        assert_eq!(other.as_str(), Some("quota-exceeded"));
        assert!(!other.is_target_unreachable());
        assert!(Condition::TlsError.is_target_unreachable());
        assert!(!Condition::PolicyViolation.is_target_unreachable());
    }
}
