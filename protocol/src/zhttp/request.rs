//! Request packets: initiator → responder (§2.2), e.g. connection manager → proxy, proxy →
//! `zhttp/` worker or zurl. Decoding, the required-field rules, and encoding.
//!
//! The rules (on [`Request`]) are those of RFC 33 and §2.6-2.7 that a lone packet can be checked
//! against. Everything else is optional, as RFC 33 words it: which combinations make sense
//! (`more` on a `cancel`, say) is for the session reading the packet to judge.

use bytes::{BufMut, Bytes, BytesMut};

use super::field::{self, Field, Reader, Seen};
use super::sink::{framed_len, Emit, Measure, Sink};
use super::{ext, id, Condition, ContentType, Error, Ext, Id, Limits, PacketType};
use crate::headers::Headers;
use crate::tnetstring::{Value, Writer};

/// A request packet. Fields are named as on the wire; `None`, `false` and empty mean absent.
///
/// Decoding requires:
/// - `id`, always;
/// - `from` in stream mode, i.e. when the packet has `seq` or the multi form of `id`: it is the
///   address responses are published to (§2.1). Req-mode packets (§2.6) have neither;
/// - `method` and `uri` on the data packet that opens a session ([`Request::starts_session`]);
/// - `credits` on a `credit` packet.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Request {
    /// `from`: the initiator's address, the prefix its SUB socket subscribes to (§2.1).
    pub from: Option<Bytes>,
    /// `id`: the request id, unique per initiator, or the multi form.
    pub id: Id,
    /// `seq`: this packet's number in the initiator's direction, from 0; absent in req mode.
    pub seq: Option<u32>,
    /// `type`; [`PacketType::Data`] when absent.
    pub ty: PacketType,
    /// `condition`, on an `error` packet.
    pub condition: Option<Condition>,
    /// `code`: the WebSocket close status, on a `close` packet (§2.4).
    pub code: Option<u16>,
    /// `method`: the HTTP method, on the first packet.
    pub method: Option<Bytes>,
    /// `uri`: the absolute URI; `ws`/`wss` schemes make a WebSocket session.
    pub uri: Option<Bytes>,
    /// `headers`, in order, repeats kept.
    pub headers: Headers,
    /// `body`: a body chunk, a WebSocket message fragment or a ping/pong payload.
    pub body: Bytes,
    /// `content-type`: the WebSocket frame type of a message fragment.
    pub content_type: Option<ContentType>,
    /// `more`: more body packets follow.
    pub more: bool,
    /// `stream`: the initiator wants a streamed response (first packet).
    pub stream: bool,
    /// `credits`: bytes the responder may send.
    pub credits: Option<u32>,
    /// `max-size`: the largest response accepted in non-stream mode.
    pub max_size: Option<u32>,
    /// `timeout`: a request timeout hint (zurl).
    pub timeout: Option<u32>,
    /// `user-data`: opaque, echoed by the responder.
    pub user_data: Option<Value>,
    /// `peer-address`: the client's IP address.
    pub peer_address: Option<Bytes>,
    /// `peer-port`: the client's port; read from an integer or a digit string, written as an
    /// integer.
    pub peer_port: Option<u16>,
    /// `connect-host`: the host to connect to instead of the URI's.
    pub connect_host: Option<Bytes>,
    /// `connect-port`: the port to connect to instead of the URI's.
    pub connect_port: Option<u16>,
    /// `ignore-policies`: bypass zurl's allow and deny lists.
    pub ignore_policies: bool,
    /// `trust-connect-host`: check the TLS certificate against `connect-host`.
    pub trust_connect_host: bool,
    /// `ignore-tls-errors`: accept any certificate.
    pub ignore_tls_errors: bool,
    /// `follow-redirects`: let zurl follow redirects.
    pub follow_redirects: bool,
    /// `client-cert`: a TLS client certificate (Pushpin 1.41+).
    pub client_cert: Option<Bytes>,
    /// `client-key`: the key of `client-cert` (Pushpin 1.41+).
    pub client_key: Option<Bytes>,
    /// `passthrough`: handler → proxy routing data, opaque here.
    pub passthrough: Option<Value>,
    /// `router-resp`: answer over ROUTER instead of PUB (Pushpin 2.0-dev).
    pub router_resp: bool,
    /// `ext`: capabilities the initiator announces.
    pub ext: Ext,
}

impl Request {
    /// Decodes a `T`-prefixed packet within the default [`Limits`].
    pub fn parse(input: &Bytes) -> Result<Request, Error> {
        Self::parse_with(input, &Limits::default())
    }

    /// Decodes a `T`-prefixed packet. Byte strings in the result are views of `input`.
    pub fn parse_with(input: &Bytes, limits: &Limits) -> Result<Request, Error> {
        let mut r = Request::default();
        let seen = field::decode_fields(input, Field::in_request, |v, f| r.set(v, f, limits))?;
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
            Field::Method => self.method = Some(v.bytes()?),
            Field::Uri => self.uri = Some(v.bytes()?),
            Field::Headers => self.headers = v.headers(limits.max_headers)?,
            Field::Body => self.body = v.bytes()?,
            Field::ContentType => self.content_type = Some(v.content_type()?),
            Field::More => self.more = v.bool()?,
            Field::Stream => self.stream = v.bool()?,
            Field::Credits => self.credits = Some(v.u32()?),
            Field::MaxSize => self.max_size = Some(v.u32()?),
            Field::Timeout => self.timeout = Some(v.u32()?),
            Field::UserData => self.user_data = Some(v.value(&limits.value)?),
            Field::PeerAddress => self.peer_address = Some(v.bytes()?),
            Field::PeerPort => self.peer_port = Some(v.port_lenient()?),
            Field::ConnectHost => self.connect_host = Some(v.bytes()?),
            Field::ConnectPort => self.connect_port = Some(v.u16()?),
            Field::IgnorePolicies => self.ignore_policies = v.bool()?,
            Field::TrustConnectHost => self.trust_connect_host = v.bool()?,
            Field::IgnoreTlsErrors => self.ignore_tls_errors = v.bool()?,
            Field::FollowRedirects => self.follow_redirects = v.bool()?,
            Field::ClientCert => self.client_cert = Some(v.bytes()?),
            Field::ClientKey => self.client_key = Some(v.bytes()?),
            Field::Passthrough => self.passthrough = Some(v.value(&limits.value)?),
            Field::RouterResp => self.router_resp = v.bool()?,
            Field::Ext => self.ext = ext::read(v)?,
            // Not a request field: filtered out by the caller.
            Field::Reason => {}
        }
        Ok(())
    }

    /// The rules listed on [`Request`].
    fn check_required(&self, seen: &Seen) -> Result<(), Error> {
        let missing = |field: Field| {
            Err(Error::MissingField {
                field: field.name(),
            })
        };
        if !seen.contains(Field::Id) {
            return missing(Field::Id);
        }
        if (self.seq.is_some() || self.id.is_multi()) && self.from.is_none() {
            return missing(Field::From);
        }
        if self.starts_session() {
            if self.method.is_none() {
                return missing(Field::Method);
            }
            if self.uri.is_none() {
                return missing(Field::Uri);
            }
        }
        if self.ty == PacketType::Credit && self.credits.is_none() {
            return missing(Field::Credits);
        }
        Ok(())
    }

    /// True for the packet that opens a session: a data packet for a single id, with `seq` 0 (stream
    /// mode) or none (req mode). RFC 33 requires `method` and `uri` on it.
    pub fn starts_session(&self) -> bool {
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

    /// The number of bytes [`Request::encode`] appends. Exact, except that a float inside
    /// `user-data` or `passthrough` counts as its longest form.
    pub fn encoded_len(&self) -> usize {
        let mut measure = Measure::default();
        self.fields(&mut measure);
        1 + framed_len(measure.0)
    }

    fn fields(&self, s: &mut impl Sink) {
        let int = |n: Option<u32>| n.map(i64::from);
        let port = |n: Option<u16>| n.map(i64::from);
        s.bytes(Field::From, self.from.as_deref());
        s.id(&self.id);
        s.int(Field::Seq, int(self.seq));
        s.packet_type(self.ty);
        s.condition(self.condition.as_ref());
        s.int(Field::Code, port(self.code));
        s.bytes(Field::Method, self.method.as_deref());
        s.bytes(Field::Uri, self.uri.as_deref());
        s.headers(&self.headers);
        s.body(&self.body);
        s.content_type(self.content_type);
        s.flag(Field::More, self.more);
        s.flag(Field::Stream, self.stream);
        s.int(Field::Credits, int(self.credits));
        s.int(Field::MaxSize, int(self.max_size));
        s.int(Field::Timeout, int(self.timeout));
        s.value(Field::UserData, self.user_data.as_ref());
        s.bytes(Field::PeerAddress, self.peer_address.as_deref());
        s.int(Field::PeerPort, port(self.peer_port));
        s.bytes(Field::ConnectHost, self.connect_host.as_deref());
        s.int(Field::ConnectPort, port(self.connect_port));
        s.flag(Field::IgnorePolicies, self.ignore_policies);
        s.flag(Field::TrustConnectHost, self.trust_connect_host);
        s.flag(Field::IgnoreTlsErrors, self.ignore_tls_errors);
        s.flag(Field::FollowRedirects, self.follow_redirects);
        s.bytes(Field::ClientCert, self.client_cert.as_deref());
        s.bytes(Field::ClientKey, self.client_key.as_deref());
        s.value(Field::Passthrough, self.passthrough.as_ref());
        s.flag(Field::RouterResp, self.router_resp);
        s.ext(&self.ext);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `T` and a dict whose entries `entries` writes: test packets without hand-counted lengths.
    fn packet(entries: impl FnOnce(&mut Writer<'_>)) -> Bytes {
        let mut out = BytesMut::from(&b"T"[..]);
        Writer::new(&mut out).dict(entries);
        out.freeze()
    }

    const SPEC_2_6: &[u8] = b"T102:2:id,2:r7,6:method,3:GET,3:uri,24:http://example.org/s?x=1,\
        7:headers,19:15:6:Accept,3:*/*,]]4:body,0:,}";

    #[test]
    fn spec_req_mode_request_decodes_as_views() {
        let input = Bytes::from_static(SPEC_2_6);
        let r = Request::parse(&input).unwrap();
        assert_eq!(r.id, Id::from("r7"));
        assert_eq!(r.method.as_deref(), Some(&b"GET"[..]));
        assert_eq!(r.uri.as_deref(), Some(&b"http://example.org/s?x=1"[..]));
        assert_eq!(r.headers.get("accept").unwrap(), "*/*");
        assert!(r.body.is_empty());
        assert!(r.starts_session());
        let uri = r.uri.as_ref().unwrap();
        assert!(
            input.as_ptr_range().contains(&uri.as_ptr()),
            "uri is a view"
        );
        // The empty body is not written back; everything else is, byte for byte.
        let canonical = b"T92:2:id,2:r7,6:method,3:GET,3:uri,24:http://example.org/s?x=1,\
            7:headers,19:15:6:Accept,3:*/*,]]}";
        assert_eq!(r.to_bytes(), &canonical[..]);
    }

    #[test]
    fn spec_credit_packet_round_trips_exactly() {
        let wire = b"T65:4:from,2:w1,2:id,2:r7,3:seq,1:1#4:type,6:credit,7:credits,4:4096#}";
        let r = Request::parse(&Bytes::from_static(wire)).unwrap();
        assert_eq!(r.ty, PacketType::Credit);
        assert_eq!(r.credits, Some(4096));
        assert_eq!(r.to_bytes(), &wire[..]);
    }

    #[test]
    fn required_fields() {
        let cases: Vec<(&str, Bytes, &str)> = vec![
            (
                "no id",
                packet(|w| {
                    w.str("method");
                    w.str("GET");
                }),
                "id",
            ),
            (
                "stream mode without from",
                packet(|w| {
                    w.str("id");
                    w.str("a");
                    w.str("seq");
                    w.int(1);
                }),
                "from",
            ),
            (
                "first packet without method",
                packet(|w| {
                    w.str("id");
                    w.str("a");
                    w.str("uri");
                    w.str("http://h/");
                }),
                "method",
            ),
            (
                "first packet without uri",
                packet(|w| {
                    w.str("from");
                    w.str("c");
                    w.str("id");
                    w.str("a");
                    w.str("seq");
                    w.int(0);
                    w.str("method");
                    w.str("GET");
                }),
                "uri",
            ),
            (
                "credit without credits",
                packet(|w| {
                    w.str("id");
                    w.str("a");
                    w.str("type");
                    w.str("credit");
                }),
                "credits",
            ),
        ];
        for (name, wire, field) in cases {
            assert_eq!(
                Request::parse(&wire),
                Err(Error::MissingField { field }),
                "{name}"
            );
        }
    }

    #[test]
    fn later_packets_need_no_head() {
        let wire = packet(|w| {
            w.str("from");
            w.str("c");
            w.str("id");
            w.str("a");
            w.str("seq");
            w.int(1);
            w.str("body");
            w.str("more data");
        });
        let r = Request::parse(&wire).unwrap();
        assert!(!r.starts_session());
        assert_eq!(r.body, "more data");
    }

    #[test]
    fn field_errors_name_the_field() {
        let cases: Vec<(Bytes, Error)> = vec![
            (
                packet(|w| {
                    w.str("id");
                    w.int(1);
                }),
                Error::WrongType {
                    field: "id",
                    expected: "a byte string or a non-empty list of {id, seq} dicts",
                },
            ),
            (
                packet(|w| {
                    w.str("id");
                    w.str("a");
                    w.str("type");
                    w.str("bogus");
                }),
                Error::BadValue {
                    field: "type",
                    expected: "a packet type of §2.2",
                },
            ),
            (
                packet(|w| {
                    w.str("id");
                    w.str("a");
                    w.str("type");
                    w.str("cancel");
                    w.str("more");
                    w.str("true");
                }),
                Error::WrongType {
                    field: "more",
                    expected: "a boolean",
                },
            ),
            (
                packet(|w| {
                    w.str("id");
                    w.str("a");
                    w.str("id");
                    w.str("b");
                }),
                Error::DuplicateField { field: "id" },
            ),
        ];
        for (wire, want) in cases {
            assert_eq!(Request::parse(&wire), Err(want));
        }
    }

    #[test]
    fn unknown_fields_and_reason_are_ignored() {
        let wire = packet(|w| {
            w.str("id");
            w.str("a");
            w.str("type");
            w.str("keep-alive");
            w.str("old-from");
            w.int(3);
            w.str("reason");
            w.int(3);
        });
        let r = Request::parse(&wire).unwrap();
        assert_eq!(r.ty, PacketType::KeepAlive);
    }

    fn every_field() -> Request {
        Request {
            from: Some(Bytes::from_static(b"pushpin-proxy_1")),
            id: Id::from("r1"),
            seq: Some(0),
            ty: PacketType::Data,
            condition: Some(Condition::from("x-custom")),
            code: Some(1000),
            method: Some(Bytes::from_static(b"POST")),
            uri: Some(Bytes::from_static(b"wss://example.org/ws")),
            headers: [("Host", "example.org"), ("X-A", "1")]
                .into_iter()
                .collect(),
            body: Bytes::from_static(b"hello"),
            content_type: Some(ContentType::Text),
            more: true,
            stream: true,
            credits: Some(200_000),
            max_size: Some(1_000_000),
            timeout: Some(30_000),
            user_data: Some(Value::List(vec![Value::Int(1), Value::Float(0.5)])),
            peer_address: Some(Bytes::from_static(b"127.0.0.1")),
            peer_port: Some(40290),
            connect_host: Some(Bytes::from_static(b"backend")),
            connect_port: Some(8080),
            ignore_policies: true,
            trust_connect_host: true,
            ignore_tls_errors: true,
            follow_redirects: true,
            client_cert: Some(Bytes::from_static(b"cert")),
            client_key: Some(Bytes::from_static(b"key")),
            passthrough: Some(Value::from("route")),
            router_resp: true,
            ext: Ext {
                multi: true,
                quiet: true,
            },
        }
    }

    #[test]
    fn every_field_round_trips() {
        let r = every_field();
        let wire = r.to_bytes();
        assert_eq!(Request::parse(&wire).unwrap(), r);
        // The float is measured at its longest form (28 bytes framed) and written as `3:0.5^`.
        assert_eq!(r.encoded_len(), wire.len() + 22);
        let no_float = Request {
            user_data: None,
            ..every_field()
        };
        assert_eq!(no_float.encoded_len(), no_float.to_bytes().len());
    }

    #[test]
    fn encode_appends() {
        let mut out = BytesMut::from(&b"prefix"[..]);
        let r = Request {
            id: Id::from("a"),
            ty: PacketType::Cancel,
            ..Request::default()
        };
        r.encode(&mut out);
        assert_eq!(out, &b"prefixT25:2:id,1:a,4:type,6:cancel,}"[..]);
    }

    #[test]
    fn limits_apply() {
        let wire = packet(|w| {
            w.str("id");
            w.str("a");
            w.str("type");
            w.str("keep-alive");
            w.str("headers");
            w.list(|w| {
                for _ in 0..3 {
                    w.list(|w| {
                        w.str("a");
                        w.str("b");
                    });
                }
            });
            w.str("user-data");
            w.list(|w| w.list(|w| w.list(|_| {})));
        });
        let mut limits = Limits::default();
        assert!(Request::parse_with(&wire, &limits).is_ok());
        limits.max_headers = 2;
        assert_eq!(
            Request::parse_with(&wire, &limits),
            Err(Error::TooManyHeaders { max: 2 })
        );
        limits.max_headers = 3;
        limits.value.max_depth = 2;
        assert_eq!(
            Request::parse_with(&wire, &limits),
            Err(Error::Tnetstring(crate::tnetstring::Error::TooDeep))
        );
    }
}
