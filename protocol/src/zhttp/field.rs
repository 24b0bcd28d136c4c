//! The field names of §2.2, the order gripway writes them in, and typed reading of one field.
//!
//! Decoders walk the packet's dict once with [`crate::tnetstring::Frame::dict`], look each key up
//! in [`Field`], and read the value through a [`Reader`], which turns a tnetstring-level failure
//! into an error naming the field and the type it must have. Byte strings come back as views of
//! the input (`Bytes`), never as copies. Unknown keys are skipped unread, so a field added by a
//! newer peer costs nothing and breaks nothing.
//!
//! Numbers are range-checked into the narrowest type that holds every value Pushpin sends:
//! `seq`, `credits`, `max-size`, `timeout` as `u32`, `code` and ports as `u16`. Pushpin reads
//! them as C `int`s, but no peer sends a negative one and none has a meaning, so gripway refuses
//! them rather than guess.

use bytes::Bytes;

use super::{ContentType, Error, PacketType};
use crate::headers::Headers;
use crate::tnetstring::{self, parse_frame, share, Frame, Type, Value};

/// A field known to gripway, declared in the order encoders write them: addressing, what the
/// packet is, the HTTP head, the body, flow control, then the rest in the order of §2.2 with
/// `ext` last. This order reproduces the byte examples of §1 and §2.6.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    From,
    Id,
    Seq,
    Type,
    Condition,
    Code,
    Reason,
    Method,
    Uri,
    Headers,
    Body,
    ContentType,
    More,
    Stream,
    Credits,
    MaxSize,
    Timeout,
    UserData,
    PeerAddress,
    PeerPort,
    ConnectHost,
    ConnectPort,
    IgnorePolicies,
    TrustConnectHost,
    IgnoreTlsErrors,
    FollowRedirects,
    ClientCert,
    ClientKey,
    Passthrough,
    RouterResp,
    Ext,
}

impl Field {
    /// The wire name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Field::From => "from",
            Field::Id => "id",
            Field::Seq => "seq",
            Field::Type => "type",
            Field::Condition => "condition",
            Field::Code => "code",
            Field::Reason => "reason",
            Field::Method => "method",
            Field::Uri => "uri",
            Field::Headers => "headers",
            Field::Body => "body",
            Field::ContentType => "content-type",
            Field::More => "more",
            Field::Stream => "stream",
            Field::Credits => "credits",
            Field::MaxSize => "max-size",
            Field::Timeout => "timeout",
            Field::UserData => "user-data",
            Field::PeerAddress => "peer-address",
            Field::PeerPort => "peer-port",
            Field::ConnectHost => "connect-host",
            Field::ConnectPort => "connect-port",
            Field::IgnorePolicies => "ignore-policies",
            Field::TrustConnectHost => "trust-connect-host",
            Field::IgnoreTlsErrors => "ignore-tls-errors",
            Field::FollowRedirects => "follow-redirects",
            Field::ClientCert => "client-cert",
            Field::ClientKey => "client-key",
            Field::Passthrough => "passthrough",
            Field::RouterResp => "router-resp",
            Field::Ext => "ext",
        }
    }

    /// True for the fields of a request packet: all but `reason`.
    pub(crate) fn in_request(self) -> bool {
        self != Field::Reason
    }

    /// True for the fields of a response packet (the responder → initiator table of §2.2).
    pub(crate) fn in_response(self) -> bool {
        matches!(
            self,
            Field::From
                | Field::Id
                | Field::Seq
                | Field::Type
                | Field::Condition
                | Field::Code
                | Field::Reason
                | Field::Headers
                | Field::Body
                | Field::ContentType
                | Field::More
                | Field::Credits
                | Field::UserData
                | Field::Ext
        )
    }

    /// The field a dict key names, if gripway knows it.
    pub(crate) fn from_key(key: &[u8]) -> Option<Field> {
        Some(match key {
            b"from" => Field::From,
            b"id" => Field::Id,
            b"seq" => Field::Seq,
            b"type" => Field::Type,
            b"condition" => Field::Condition,
            b"code" => Field::Code,
            b"reason" => Field::Reason,
            b"method" => Field::Method,
            b"uri" => Field::Uri,
            b"headers" => Field::Headers,
            b"body" => Field::Body,
            b"content-type" => Field::ContentType,
            b"more" => Field::More,
            b"stream" => Field::Stream,
            b"credits" => Field::Credits,
            b"max-size" => Field::MaxSize,
            b"timeout" => Field::Timeout,
            b"user-data" => Field::UserData,
            b"peer-address" => Field::PeerAddress,
            b"peer-port" => Field::PeerPort,
            b"connect-host" => Field::ConnectHost,
            b"connect-port" => Field::ConnectPort,
            b"ignore-policies" => Field::IgnorePolicies,
            b"trust-connect-host" => Field::TrustConnectHost,
            b"ignore-tls-errors" => Field::IgnoreTlsErrors,
            b"follow-redirects" => Field::FollowRedirects,
            b"client-cert" => Field::ClientCert,
            b"client-key" => Field::ClientKey,
            b"passthrough" => Field::Passthrough,
            b"router-resp" => Field::RouterResp,
            b"ext" => Field::Ext,
            _ => return None,
        })
    }
}

/// The fields met so far in one dict, to refuse repeats.
#[derive(Default)]
pub(crate) struct Seen(u64);

impl Seen {
    /// Records `field`; fails if it was already there.
    pub(crate) fn insert(&mut self, field: Field) -> Result<(), Error> {
        let bit = 1u64 << (field as u32);
        if self.0 & bit != 0 {
            return Err(Error::DuplicateField {
                field: field.name(),
            });
        }
        self.0 |= bit;
        Ok(())
    }

    /// True when `field` was met.
    pub(crate) fn contains(&self, field: Field) -> bool {
        self.0 & (1u64 << (field as u32)) != 0
    }
}

/// Walks a packet's dict once, for requests and responses alike: each known field that
/// `wanted` keeps for this direction goes to `set`, and a field given twice is an error. Unknown
/// fields, and fields of the other direction, are skipped unread. Returns the fields seen, for
/// the caller's required-field check.
pub(crate) fn decode_fields(
    input: &Bytes,
    wanted: fn(Field) -> bool,
    mut set: impl FnMut(&Reader<'_>, Field) -> Result<(), Error>,
) -> Result<Seen, Error> {
    let mut seen = Seen::default();
    for entry in packet_dict(input)? {
        let (key, frame) = entry.map_err(Error::Tnetstring)?;
        let Some(field) = Field::from_key(key).filter(|f| wanted(*f)) else {
            continue;
        };
        seen.insert(field)?;
        set(&Reader::new(field.name(), frame, input), field)?;
    }
    Ok(seen)
}

/// The dict of a `T` packet (§2.1), ready to be walked.
pub(crate) fn packet_dict(input: &Bytes) -> Result<tnetstring::DictIter<'_>, Error> {
    let rest = match input.split_first() {
        Some((b'T', rest)) => rest,
        Some((&found, _)) => return Err(Error::BadPrefix { found: Some(found) }),
        None => return Err(Error::BadPrefix { found: None }),
    };
    let (frame, used) = parse_frame(rest).map_err(Error::Tnetstring)?;
    if used != rest.len() {
        return Err(Error::Tnetstring(tnetstring::Error::TrailingData));
    }
    frame.dict().map_err(|_| Error::NotADict)
}

// What a field must be, as error messages say it.
pub(crate) const A_BYTE_STRING: &str = "a byte string";
pub(crate) const A_BOOLEAN: &str = "a boolean";
pub(crate) const A_DICT: &str = "a dict";
const AN_INTEGER: &str = "an integer";
const AN_INTEGER_OR_DIGITS: &str = "an integer or a byte string of digits";
const A_U32: &str = "an integer in 0..=4294967295";
const A_U16: &str = "an integer in 0..=65535";
const HEADER_PAIRS: &str = "a list of [name, value] byte-string pairs";

/// One field's value, with the name its errors carry.
pub(crate) struct Reader<'a> {
    name: &'static str,
    frame: Frame<'a>,
    input: &'a Bytes,
}

impl<'a> Reader<'a> {
    /// A reader for `frame`, a value inside `input`, reported as field `name`.
    pub(crate) fn new(name: &'static str, frame: Frame<'a>, input: &'a Bytes) -> Self {
        Reader { name, frame, input }
    }

    /// The input the value lies in, so sub-readers can share it.
    pub(crate) fn input(&self) -> &'a Bytes {
        self.input
    }

    pub(crate) fn frame(&self) -> Frame<'a> {
        self.frame
    }

    /// The error for a value of the wrong type; other tnetstring errors pass through.
    pub(crate) fn wrong_type(&self, expected: &'static str) -> impl Fn(tnetstring::Error) -> Error {
        let field = self.name;
        move |e| match e {
            tnetstring::Error::WrongType { .. } => Error::WrongType { field, expected },
            e => Error::Tnetstring(e),
        }
    }

    pub(crate) fn bad_value(&self, expected: &'static str) -> Error {
        Error::BadValue {
            field: self.name,
            expected,
        }
    }

    /// A byte string, as a view of the input.
    pub(crate) fn bytes(&self) -> Result<Bytes, Error> {
        let b = self
            .frame
            .as_bytes()
            .map_err(self.wrong_type(A_BYTE_STRING))?;
        Ok(share(self.input, b))
    }

    pub(crate) fn bool(&self) -> Result<bool, Error> {
        self.frame.as_bool().map_err(self.wrong_type(A_BOOLEAN))
    }

    pub(crate) fn u32(&self) -> Result<u32, Error> {
        let i = self.frame.as_int().map_err(self.wrong_type(AN_INTEGER))?;
        u32::try_from(i).map_err(|_| self.bad_value(A_U32))
    }

    pub(crate) fn u16(&self) -> Result<u16, Error> {
        let i = self.frame.as_int().map_err(self.wrong_type(AN_INTEGER))?;
        u16::try_from(i).map_err(|_| self.bad_value(A_U16))
    }

    /// A port given as an integer or as a byte string of digits, as Pushpin itself writes
    /// `peer-port` (§1).
    pub(crate) fn port_lenient(&self) -> Result<u16, Error> {
        let i = match self.frame.as_int_lenient() {
            Ok(i) => i,
            // A byte string that is no number is a bad value, not malformed tnetstring.
            Err(tnetstring::Error::BadInt) if self.frame.ty() == Type::Bytes => {
                return Err(self.bad_value(A_U16))
            }
            Err(e) => return Err(self.wrong_type(AN_INTEGER_OR_DIGITS)(e)),
        };
        u16::try_from(i).map_err(|_| self.bad_value(A_U16))
    }

    /// Any value, built into a tree within `limits`; byte strings are views of the input.
    pub(crate) fn value(&self, limits: &tnetstring::Limits) -> Result<Value, Error> {
        Value::from_frame(self.input, self.frame, limits).map_err(Error::Tnetstring)
    }

    pub(crate) fn packet_type(&self) -> Result<PacketType, Error> {
        let name = self
            .frame
            .as_bytes()
            .map_err(self.wrong_type(A_BYTE_STRING))?;
        // `data` is accepted too: RFC 33 names the default type so. Nobody writes it, but it is
        // unambiguous.
        PacketType::from_name(name).ok_or_else(|| self.bad_value("a packet type of §2.2"))
    }

    pub(crate) fn content_type(&self) -> Result<ContentType, Error> {
        let name = self
            .frame
            .as_bytes()
            .map_err(self.wrong_type(A_BYTE_STRING))?;
        ContentType::from_name(name).ok_or_else(|| self.bad_value("`text` or `binary`"))
    }

    /// A list of `[name, value]` pairs, counted first so that the list is allocated once, at
    /// its final size, and an over-long one is refused before anything is allocated.
    pub(crate) fn headers(&self, max: usize) -> Result<Headers, Error> {
        let list = self.frame.list().map_err(self.wrong_type(HEADER_PAIRS))?;
        let count = list.clone().count();
        if count > max {
            return Err(Error::TooManyHeaders { max });
        }
        let mut headers = Headers::with_capacity(count);
        for pair in list {
            let pair = pair.map_err(Error::Tnetstring)?;
            let (name, value) = self.header_pair(pair)?;
            headers.push(share(self.input, name), share(self.input, value));
        }
        Ok(headers)
    }

    fn header_pair(&self, pair: Frame<'a>) -> Result<(&'a [u8], &'a [u8]), Error> {
        let wrong = self.wrong_type(HEADER_PAIRS);
        let mut items = pair.list().map_err(&wrong)?;
        let mut next = || -> Result<Option<&'a [u8]>, Error> {
            match items.next() {
                None => Ok(None),
                Some(item) => item
                    .map_err(Error::Tnetstring)?
                    .as_bytes()
                    .map(Some)
                    .map_err(&wrong),
            }
        };
        match (next()?, next()?, next()?) {
            (Some(name), Some(value), None) => Ok((name, value)),
            _ => Err(Error::WrongType {
                field: self.name,
                expected: HEADER_PAIRS,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Field; 31] = [
        Field::From,
        Field::Id,
        Field::Seq,
        Field::Type,
        Field::Condition,
        Field::Code,
        Field::Reason,
        Field::Method,
        Field::Uri,
        Field::Headers,
        Field::Body,
        Field::ContentType,
        Field::More,
        Field::Stream,
        Field::Credits,
        Field::MaxSize,
        Field::Timeout,
        Field::UserData,
        Field::PeerAddress,
        Field::PeerPort,
        Field::ConnectHost,
        Field::ConnectPort,
        Field::IgnorePolicies,
        Field::TrustConnectHost,
        Field::IgnoreTlsErrors,
        Field::FollowRedirects,
        Field::ClientCert,
        Field::ClientKey,
        Field::Passthrough,
        Field::RouterResp,
        Field::Ext,
    ];

    #[test]
    fn names_round_trip_and_fit_the_seen_mask() {
        for field in ALL {
            assert_eq!(Field::from_key(field.name().as_bytes()), Some(field));
            assert!((field as u32) < 64);
        }
        assert_eq!(Field::from_key(b"From"), None);
        assert_eq!(Field::from_key(b"old-from"), None);
    }

    #[test]
    fn seen_refuses_repeats() {
        let mut seen = Seen::default();
        seen.insert(Field::Seq).unwrap();
        assert!(seen.contains(Field::Seq));
        assert!(!seen.contains(Field::Id));
        assert_eq!(
            seen.insert(Field::Seq),
            Err(Error::DuplicateField { field: "seq" })
        );
    }

    fn reader_for(input: &'static [u8], test: impl FnOnce(&Reader<'_>)) {
        let input = Bytes::from_static(input);
        let (frame, _) = parse_frame(&input).unwrap();
        test(&Reader::new("f", frame, &input));
    }

    #[test]
    fn numbers_are_range_checked() {
        let cases: [(&[u8], Result<u32, &str>); 5] = [
            (b"1:0#", Ok(0)),
            (b"10:4294967295#", Ok(u32::MAX)),
            (b"10:4294967296#", Err("bad_value")),
            (b"2:-1#", Err("bad_value")),
            (b"1:1,", Err("wrong_type")),
        ];
        for (wire, want) in cases {
            let input = Bytes::copy_from_slice(wire);
            let (frame, _) = parse_frame(&input).unwrap();
            let got = Reader::new("f", frame, &input).u32().map_err(|e| e.kind());
            assert_eq!(got, want, "{wire:?}");
        }
        reader_for(b"5:65536#", |r| {
            assert_eq!(r.u16().unwrap_err().kind(), "bad_value")
        });
        reader_for(b"2:1x#", |r| {
            assert_eq!(r.u16(), Err(Error::Tnetstring(tnetstring::Error::BadInt)))
        });
    }

    #[test]
    fn ports_accept_digit_strings() {
        reader_for(b"5:40290,", |r| assert_eq!(r.port_lenient(), Ok(40290)));
        reader_for(b"5:40290#", |r| assert_eq!(r.port_lenient(), Ok(40290)));
        reader_for(b"4:http,", |r| {
            assert_eq!(r.port_lenient().unwrap_err().kind(), "bad_value")
        });
        reader_for(b"2:-1,", |r| {
            assert_eq!(r.port_lenient().unwrap_err().kind(), "bad_value")
        });
        reader_for(b"4:true!", |r| {
            assert_eq!(r.port_lenient().unwrap_err().kind(), "wrong_type")
        });
    }

    #[test]
    fn header_pairs_must_be_two_byte_strings() {
        let cases: [(&[u8], Result<usize, &str>); 7] = [
            (b"0:]", Ok(0)),
            (b"11:8:1:a,1:b,]]", Ok(1)),
            (b"7:4:1:a,]]", Err("wrong_type")),
            (b"16:12:1:a,1:b,1:c,]]", Err("wrong_type")),
            (b"11:8:1:a,1:1#]]", Err("wrong_type")),
            (b"8:1:a,1:b,}", Err("wrong_type")),
            (b"7:4:1:aX]]", Err("tnetstring")),
        ];
        for (wire, want) in cases {
            let input = Bytes::copy_from_slice(wire);
            let (frame, _) = parse_frame(&input).unwrap();
            let got = Reader::new("headers", frame, &input)
                .headers(8)
                .map(|h| h.len())
                .map_err(|e| e.kind());
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(wire));
        }
        reader_for(b"22:8:1:a,1:b,]8:1:c,1:d,]]", |r| {
            assert_eq!(r.headers(1), Err(Error::TooManyHeaders { max: 1 }));
            assert_eq!(r.headers(2).unwrap().len(), 2);
        });
    }

    #[test]
    fn packet_dict_checks_prefix_and_shape() {
        let kind = |wire: &'static [u8]| {
            packet_dict(&Bytes::from_static(wire))
                .map(|_| ())
                .map_err(|e| e.kind())
        };
        assert_eq!(kind(b"T0:}"), Ok(()));
        assert_eq!(kind(b""), Err("bad_prefix"));
        assert_eq!(kind(b"J{}"), Err("bad_prefix"));
        assert_eq!(kind(b"T"), Err("tnetstring"));
        assert_eq!(kind(b"T0:}x"), Err("tnetstring"));
        assert_eq!(kind(b"T0:]"), Err("not_a_dict"));
    }
}
