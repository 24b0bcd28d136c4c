//! Addressed frames (§2.1): in stream mode a responder publishes every response as one PUB
//! frame, `<initiator address> SP T<tnetstring>`, and the initiator's SUB socket subscribes to
//! `"<its address> "`, trailing space included, so it receives only its own responses.
//!
//! The address is everything before the first space and must not be empty. Pushpin's addresses
//! (instance ids such as `pushpin-proxy_1234`, `condure`) never contain a space, so writing one
//! that does is refused: the receiver would split it at the wrong place. The DEALER/ROUTER
//! envelopes of the other sockets (`["", T…]`) are multipart framing, the server's job.

use bytes::{BufMut, Bytes, BytesMut};

use super::{Error, Limits, Response};

/// Splits an addressed frame into the address and the packet (`T…`), both views of `frame`.
/// The packet itself is not checked.
pub fn split_addressed(frame: &Bytes) -> Result<(Bytes, Bytes), Error> {
    match frame.iter().position(|&b| b == b' ') {
        Some(space) if space > 0 => Ok((frame.slice(..space), frame.slice(space + 1..))),
        _ => Err(Error::BadAddress),
    }
}

/// The SUB subscription that receives the frames addressed to `address`: the address and a
/// space, so that `proxy` does not also receive what is meant for `proxy-2`.
pub fn subscription(address: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(address.len() + 1);
    out.put_slice(address);
    out.put_u8(b' ');
    out.freeze()
}

fn check_address(address: &[u8]) -> Result<(), Error> {
    if address.is_empty() || address.contains(&b' ') {
        Err(Error::BadAddress)
    } else {
        Ok(())
    }
}

impl Response {
    /// Decodes an addressed frame within the default [`Limits`]: the address, then the packet.
    pub fn parse_addressed(frame: &Bytes) -> Result<(Bytes, Response), Error> {
        Self::parse_addressed_with(frame, &Limits::default())
    }

    /// Decodes an addressed frame: the address, then the packet.
    pub fn parse_addressed_with(
        frame: &Bytes,
        limits: &Limits,
    ) -> Result<(Bytes, Response), Error> {
        let (address, packet) = split_addressed(frame)?;
        Ok((address, Response::parse_with(&packet, limits)?))
    }

    /// Appends `<address> SP T<tnetstring>` to `out`, growing it at most once. Fails, writing
    /// nothing, when `address` is empty or contains a space.
    pub fn encode_addressed(&self, address: &[u8], out: &mut BytesMut) -> Result<(), Error> {
        check_address(address)?;
        out.reserve(address.len() + 1 + self.encoded_len());
        out.put_slice(address);
        out.put_u8(b' ');
        self.encode(out);
        Ok(())
    }

    /// The addressed frame, as [`Response::encode_addressed`] writes it.
    pub fn to_addressed_bytes(&self, address: &[u8]) -> Result<Bytes, Error> {
        let mut out = BytesMut::new();
        self.encode_addressed(address, &mut out)?;
        Ok(out.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_at_first_space() {
        let frame = Bytes::from_static(b"condure T0:}");
        let (address, packet) = split_addressed(&frame).unwrap();
        assert_eq!(address, "condure");
        assert_eq!(packet, "T0:}");
        assert_eq!(address.as_ptr(), frame.as_ptr());
        for bad in [&b""[..], b"condure", b" T0:}"] {
            assert_eq!(
                split_addressed(&Bytes::from_static(bad)),
                Err(Error::BadAddress),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn addresses_with_spaces_are_not_written() {
        let r = Response::default();
        let mut out = BytesMut::new();
        assert_eq!(r.encode_addressed(b"a b", &mut out), Err(Error::BadAddress));
        assert_eq!(r.encode_addressed(b"", &mut out), Err(Error::BadAddress));
        assert!(out.is_empty());
        assert_eq!(subscription(b"condure"), "condure ");
    }
}
