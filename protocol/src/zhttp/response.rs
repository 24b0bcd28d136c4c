//! Response packets: responder → initiator (§2.2), e.g. a `zhttp/` worker or zurl → proxy, proxy
//! → connection manager. Decoding, the required-field rules, and encoding.
//!
//! Leniency: RFC 33 also asks for `reason`, `headers` and `body` on the first data packet;
//! gripway takes their absence as empty, since a status code alone is a complete answer.
//! `from`, which stream mode needs to address later packets, is left to the session to demand:
//! Pushpin reads it from whichever packet carries it, and a responder failing early may send an
//! `error` or `cancel` without it.

use bytes::{BufMut, Bytes, BytesMut};

use super::field::{self, Field, Reader, Seen};
use super::sink::{framed_len, Emit, Measure, Sink};
use super::{ext, id, Condition, ContentType, Error, Ext, Id, Limits, PacketType};
use crate::headers::Headers;
use crate::tnetstring::{Value, Writer};

/// A response packet. Fields are named as on the wire; `None`, `false` and empty mean absent.
///
/// Decoding requires:
/// - `id`, always;
/// - `code` on the data packet that opens the response ([`Response::starts_response`]): the HTTP
///   status, or 101 for an accepted WebSocket (§2.4);
/// - `credits` on a `credit` packet.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Response {
    /// `from`: the responder's address; in stream mode the initiator sends later packets to
    /// this ROUTER identity (§2.7).
    pub from: Option<Bytes>,
    /// `id`: the request id, or the multi form.
    pub id: Id,
    /// `seq`: this packet's number in the responder's direction, from 0; absent in req mode.
    pub seq: Option<u32>,
    /// `type`; [`PacketType::Data`] when absent.
    pub ty: PacketType,
    /// `condition`, on an `error` packet (§2.5).
    pub condition: Option<Condition>,
    /// `code`: the HTTP status on the first data packet (101 accepts a WebSocket), the close
    /// status on a `close` packet, the refusal status on a `rejected` error.
    pub code: Option<u16>,
    /// `reason`: the HTTP reason phrase.
    pub reason: Option<Bytes>,
    /// `headers`, in order, repeats kept.
    pub headers: Headers,
    /// `body`: a body chunk, a WebSocket message fragment, a close reason or a ping/pong payload.
    pub body: Bytes,
    /// `content-type`: the WebSocket frame type of a message fragment.
    pub content_type: Option<ContentType>,
    /// `more`: more body packets follow.
    pub more: bool,
    /// `credits`: bytes the initiator may send.
    pub credits: Option<u32>,
    /// `user-data`: the initiator's `user-data`, echoed.
    pub user_data: Option<Value>,
    /// `ext`: capabilities the responder announces.
    pub ext: Ext,
}

impl Response {
    /// Decodes a `T`-prefixed packet within the default [`Limits`].
    pub fn parse(input: &Bytes) -> Result<Response, Error> {
        Self::parse_with(input, &Limits::default())
    }

    /// Decodes a `T`-prefixed packet. Byte strings in the result are views of `input`.
    /// Request-only fields (`method`, `stream`, …) are ignored like unknown ones.
    pub fn parse_with(input: &Bytes, limits: &Limits) -> Result<Response, Error> {
        let mut r = Response::default();
        let seen = field::decode_fields(input, Field::in_response, |v, f| r.set(v, f, limits))?;
        r.check_required(&seen)?;
        Ok(r)
    }

    fn set(&mut self, v: &Reader<'_>, field: Field, limits: &Limits) -> Result<(), Error> {
        match field {
            Field::From => self.from = Some(v.bytes()?),
            Field::Id => self.id = id::read(v, limits.max_ids)?,
            Field::Seq => self.seq = Some(v.u32()?),
            Field::Type => self.ty = v.packet_type()?,
            Field::Condition => self.condition = Some(Condition::from_bytes(v.bytes()?)),
            Field::Code => self.code = Some(v.u16()?),
            Field::Reason => self.reason = Some(v.bytes()?),
            Field::Headers => self.headers = v.headers(limits.max_headers)?,
            Field::Body => self.body = v.bytes()?,
            Field::ContentType => self.content_type = Some(v.content_type()?),
            Field::More => self.more = v.bool()?,
            Field::Credits => self.credits = Some(v.u32()?),
            Field::UserData => self.user_data = Some(v.value(&limits.value)?),
            Field::Ext => self.ext = ext::read(v)?,
            // Request-only fields: filtered out by the caller.
            _ => {}
        }
        Ok(())
    }

    /// The rules listed on [`Response`].
    fn check_required(&self, seen: &Seen) -> Result<(), Error> {
        let missing = |field: Field| {
            Err(Error::MissingField {
                field: field.name(),
            })
        };
        if !seen.contains(Field::Id) {
            return missing(Field::Id);
        }
        if self.starts_response() && self.code.is_none() {
            return missing(Field::Code);
        }
        if self.ty == PacketType::Credit && self.credits.is_none() {
            return missing(Field::Credits);
        }
        Ok(())
    }

    /// True for the packet that opens a response: a data packet for a single id, with `seq` 0
    /// (stream mode) or none (req mode). It carries the status line and headers.
    pub fn starts_response(&self) -> bool {
        self.ty == PacketType::Data && !self.id.is_multi() && matches!(self.seq, None | Some(0))
    }

    /// Appends `T` and the packet's dict to `out`: only the fields that are set, in the order of
    /// the module doc of [`super`]; `out` grows at most once.
    pub fn encode(&self, out: &mut BytesMut) {
        out.reserve(self.encoded_len());
        out.put_u8(b'T');
        Writer::new(out).dict(|w| self.fields(&mut Emit(w)));
    }

    /// The encoded packet.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out.freeze()
    }

    /// The number of bytes [`Response::encode`] appends. Exact, except that a float inside
    /// `user-data` counts as its longest form.
    pub fn encoded_len(&self) -> usize {
        let mut measure = Measure::default();
        self.fields(&mut measure);
        1 + framed_len(measure.0)
    }

    fn fields(&self, s: &mut impl Sink) {
        s.bytes(Field::From, self.from.as_deref());
        s.id(&self.id);
        s.int(Field::Seq, self.seq.map(i64::from));
        s.packet_type(self.ty);
        s.condition(self.condition.as_ref());
        s.int(Field::Code, self.code.map(i64::from));
        s.bytes(Field::Reason, self.reason.as_deref());
        s.headers(&self.headers);
        s.body(&self.body);
        s.content_type(self.content_type);
        s.flag(Field::More, self.more);
        s.int(Field::Credits, self.credits.map(i64::from));
        s.value(Field::UserData, self.user_data.as_ref());
        s.ext(&self.ext);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(entries: impl FnOnce(&mut Writer<'_>)) -> Bytes {
        let mut out = BytesMut::from(&b"T"[..]);
        Writer::new(&mut out).dict(entries);
        out.freeze()
    }

    #[test]
    fn spec_req_mode_reply_round_trips_exactly() {
        // §2.6, with the literal newline ending the 3-byte body.
        let wire = b"T98:2:id,2:r7,4:code,3:200#6:reason,2:OK,7:headers,34:30:12:Content-Type,\
            10:text/plain,]]4:body,3:hi\n,}";
        let r = Response::parse(&Bytes::from_static(wire)).unwrap();
        assert_eq!(r.code, Some(200));
        assert_eq!(r.reason.as_deref(), Some(&b"OK"[..]));
        assert_eq!(r.headers.get("content-type").unwrap(), "text/plain");
        assert_eq!(r.body, "hi\n");
        assert!(r.starts_response());
        assert_eq!(r.to_bytes(), &wire[..]);
        assert_eq!(r.encoded_len(), wire.len());
    }

    #[test]
    fn required_fields() {
        let cases: Vec<(&str, Bytes, &str)> = vec![
            (
                "no id",
                packet(|w| {
                    w.str("code");
                    w.int(200);
                }),
                "id",
            ),
            (
                "first data packet without code",
                packet(|w| {
                    w.str("id");
                    w.str("a");
                    w.str("seq");
                    w.int(0);
                    w.str("body");
                    w.str("x");
                }),
                "code",
            ),
            (
                "credit without credits",
                packet(|w| {
                    w.str("id");
                    w.str("a");
                    w.str("seq");
                    w.int(3);
                    w.str("type");
                    w.str("credit");
                }),
                "credits",
            ),
        ];
        for (name, wire, field) in cases {
            assert_eq!(
                Response::parse(&wire),
                Err(Error::MissingField { field }),
                "{name}"
            );
        }
    }

    #[test]
    fn errors_and_later_packets_need_no_code() {
        for wire in [
            packet(|w| {
                w.str("id");
                w.str("a");
                w.str("type");
                w.str("error");
            }),
            packet(|w| {
                w.str("id");
                w.str("a");
                w.str("seq");
                w.int(2);
                w.str("body");
                w.str("chunk");
                w.str("more");
                w.bool(true);
            }),
        ] {
            assert!(Response::parse(&wire).is_ok());
        }
    }

    #[test]
    fn request_only_fields_are_ignored() {
        let wire = packet(|w| {
            w.str("id");
            w.str("a");
            w.str("type");
            w.str("keep-alive");
            w.str("method");
            w.int(1);
            w.str("stream");
            w.str("not a bool");
        });
        assert_eq!(Response::parse(&wire).unwrap().ty, PacketType::KeepAlive);
    }

    #[test]
    fn websocket_rejection() {
        let r = Response {
            id: Id::from("ws1"),
            ty: PacketType::Error,
            condition: Some(Condition::Rejected),
            code: Some(403),
            reason: Some(Bytes::from_static(b"Forbidden")),
            headers: [("Content-Type", "text/plain")].into_iter().collect(),
            body: Bytes::from_static(b"no\n"),
            ..Response::default()
        };
        let wire = r.to_bytes();
        assert_eq!(Response::parse(&wire).unwrap(), r);
        assert_eq!(r.encoded_len(), wire.len());
    }

    #[test]
    fn addressed_round_trip() {
        let r = Response {
            from: Some(Bytes::from_static(b"zsworker")),
            id: Id::from("r1"),
            seq: Some(0),
            code: Some(200),
            reason: Some(Bytes::from_static(b"OK")),
            body: Bytes::from_static(b"part1\n"),
            more: true,
            credits: Some(100_000),
            ..Response::default()
        };
        let frame = r.to_addressed_bytes(b"pushpin-proxy_10698").unwrap();
        assert!(frame.starts_with(b"pushpin-proxy_10698 T"));
        let (address, decoded) = Response::parse_addressed(&frame).unwrap();
        assert_eq!(address, "pushpin-proxy_10698");
        assert_eq!(decoded, r);
    }
}
