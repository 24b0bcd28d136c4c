//! The checks behind every fuzz target, shared with `protocol/tests/fuzz_corpus.rs`, which
//! replays the committed corpora on stable: each function takes any bytes and panics only
//! on a real bug (a parser panic, or a round trip that does not hold).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::OnceLock;

use bytes::{Bytes, BytesMut};
use protocol::grip::params::{self, Limits, Param};
use protocol::grip::{is_grip, Instruct, Response as GripResponse};
use protocol::publish;
use protocol::sig::{self, Key};
use protocol::tnetstring::Value;
use protocol::wsevents::{self, ControlMessage, Decoder};
use protocol::zhttp::{Request, Response};
use protocol::Headers;

const EC_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAErz5M3QHtcpblSRh56RSNMiMO5tx7
rGdgYA37DPBhoW3bHDzG27nI0Exk/fsFCGM0Qfw+IFu4AOYxeZnfxfz1BA==
-----END PUBLIC KEY-----
";

fn keys() -> &'static (Key, Key) {
    static KEYS: OnceLock<(Key, Key)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let ec = Key::from_pem(EC_PUBLIC.as_bytes()).expect("the test key loads");
        (Key::hmac(b"changeme"), ec)
    })
}

/// Any bytes: decoding must not panic, and whatever decodes must re-encode to bytes that decode
/// to the same value.
pub fn tnetstring(data: &[u8]) {
    let input = Bytes::copy_from_slice(data);
    if let Ok(value) = Value::decode(&input) {
        let encoded = value.to_bytes();
        assert_eq!(Value::decode(&encoded).as_ref(), Ok(&value));
    }
}

/// Any bytes as a ZHTTP request packet: decoding must not panic, and whatever decodes must
/// re-encode (within its measured size) to a packet that decodes to the same value.
pub fn zhttp_request(data: &[u8]) {
    let input = Bytes::copy_from_slice(data);
    if let Ok(packet) = Request::parse(&input) {
        let encoded = packet.to_bytes();
        assert!(packet.encoded_len() >= encoded.len());
        assert_eq!(Request::parse(&encoded).as_ref(), Ok(&packet));
    }
}

/// Any bytes as a ZHTTP response packet: decoding must not panic, and whatever decodes must
/// re-encode (within its measured size) to a packet that decodes to the same value.
pub fn zhttp_response(data: &[u8]) {
    let input = Bytes::copy_from_slice(data);
    if let Ok(packet) = Response::parse(&input) {
        let encoded = packet.to_bytes();
        assert!(packet.encoded_len() >= encoded.len());
        assert_eq!(Response::parse(&encoded).as_ref(), Ok(&packet));
    }
}

/// Any bytes as an addressed PUB frame (`<address> SP T…`): decoding must not panic, and whatever
/// decodes must re-encode to a frame that decodes to the same address and packet.
pub fn zhttp_addressed(data: &[u8]) {
    let input = Bytes::copy_from_slice(data);
    if let Ok((address, packet)) = Response::parse_addressed(&input) {
        let encoded = packet.to_addressed_bytes(&address).unwrap();
        let (again_address, again) = Response::parse_addressed(&encoded).unwrap();
        assert_eq!(again_address, address);
        assert_eq!(again, packet);
    }
}

/// Any bytes as a websocket-events body: decoding must not panic; decoding in chunks must give
/// the same events or the same error as decoding whole; and what decodes must re-encode to a
/// body that decodes to the same events.
pub fn wsevents(data: &[u8]) {
    let body = Bytes::copy_from_slice(data);
    let whole = wsevents::decode(&body);

    let mut decoder = Decoder::new();
    let mut streamed = Vec::new();
    let mut error = None;
    let chunk = data.len() % 7 + 1;
    'feed: for (i, piece) in data.chunks(chunk).enumerate() {
        decoder.push(piece);
        if (i + 1) * chunk >= data.len() {
            decoder.finish();
        }
        loop {
            match decoder.next_event() {
                Ok(Some(event)) => streamed.push(event),
                Ok(None) => break,
                Err(e) => {
                    error = Some(e);
                    break 'feed;
                }
            }
        }
    }
    if data.is_empty() {
        decoder.finish();
        assert_eq!(decoder.next_event(), Ok(None));
    }
    match (&whole, error) {
        (Ok(events), None) => assert_eq!(&streamed, events),
        (Err(a), Some(b)) => assert_eq!(*a, b),
        (whole, streamed) => panic!("whole {whole:?} vs streamed {streamed:?}"),
    }

    if let Ok(events) = whole {
        let mut encoded = BytesMut::new();
        wsevents::encode(&events, &mut encoded);
        assert_eq!(encoded.len(), wsevents::encoded_len(&events));
        assert_eq!(wsevents::decode(&encoded.freeze()), Ok(events));
    }
}

/// Any bytes as a WebSocket text message: parsing a control message must not panic, and what
/// parses must render to text that parses to the same message.
pub fn wscontrol(data: &[u8]) {
    if let Ok(message) = ControlMessage::parse(data) {
        let text = message.render();
        assert_eq!(ControlMessage::parse(text.as_bytes()), Ok(message));
    }
}

/// Any bytes as a `Grip-Sig` token: verifying with a fixed HMAC key, and with a fixed EC public
/// key (the public half of the `key_pem` EC test key in vectors/sig.json), must not panic; and
/// the claims of whatever verifies must sign into a token that verifies to the same expiry.
pub fn sig(data: &[u8]) {
    let (hmac, ec) = keys();
    if let Ok(claims) = sig::verify(data, hmac, 1_000) {
        // The input need not be what `sign` writes (header fields may differ), but its claims
        // must survive a sign/verify round trip.
        let token = sig::sign(hmac, claims.iss.as_deref().unwrap_or(""), claims.exp).unwrap();
        assert_eq!(
            sig::verify(token.as_bytes(), hmac, 1_000).map(|c| c.exp),
            Ok(claims.exp)
        );
    }
    let _ = sig::verify(data, ec, 1_000);
}

/// Any bytes as a header value: parsing must not panic, and a list that renders must parse back
/// to the same items.
pub fn grip_params(data: &[u8]) {
    let input = Bytes::copy_from_slice(data);
    let limits = Limits::default();
    let _ = params::parse_item(&input, &limits);
    let _ = params::split_list(&input, &limits);
    let _ = Param::parse(&input);
    if let Ok(items) = params::parse_list(&input, &limits) {
        if let Ok(rendered) = params::render_list(&items) {
            assert_eq!(params::parse_list(&rendered, &limits), Ok(items));
        }
    }
}

/// Any bytes as a backend response: `CODE\nName: value\n…\n\nbody` (a first line that is not a
/// number means 200). Parsing must not panic, and what parses must render to responses that
/// parse to the same instructions.
pub fn grip_instruct(data: &[u8]) {
    let response = grip_response(data);
    let _ = is_grip(&response.headers);
    if let Ok(parsed) = Instruct::parse(response) {
        for rendered in [parsed.to_response(), parsed.to_json_response()]
            .into_iter()
            .flatten()
        {
            assert_eq!(Instruct::parse(rendered).as_ref(), Ok(&parsed));
        }
    }
}

/// The fuzz input as a backend response: `CODE\nName: value\n…\n\nbody`.
fn grip_response(data: &[u8]) -> GripResponse {
    let input = Bytes::copy_from_slice(data);
    let split = data.windows(2).position(|w| w == b"\n\n");
    let (head, body) = match split {
        Some(at) => (input.slice(..at), input.slice(at + 2..)),
        None => (input.clone(), Bytes::new()),
    };
    let mut lines = head.split(|&b| b == b'\n');
    let first = lines.next().unwrap_or_default();
    let code = std::str::from_utf8(first)
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let mut headers = Headers::new();
    let fields = if code.is_some() { None } else { Some(first) };
    for line in fields.into_iter().chain(lines) {
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let value = &line[colon + 1..];
            let value = value.strip_prefix(b" ").unwrap_or(value);
            headers.push(head.slice_ref(&line[..colon]), head.slice_ref(value));
        }
    }
    GripResponse {
        code: code.unwrap_or(200),
        headers,
        body,
        ..GripResponse::default()
    }
}

/// An HTTP publish body: decoding must not panic, and every item decoded must survive encoding
/// as JSON and as tnetstring.
pub fn publish_json(data: &[u8]) {
    let body = Bytes::copy_from_slice(data);
    if let Ok(items) = publish::parse_http_body(&body) {
        for item in &items {
            assert_eq!(publish::parse_json_item(&item.to_json()).as_ref(), Ok(item));
            assert_eq!(
                publish::parse_zmq_message(&item.to_tnetstring()).as_ref(),
                Ok(item)
            );
        }
    }
}

/// A ZMQ publish payload (bare tnetstring, `T` + tnetstring or `J` + JSON): decoding must not
/// panic, and an item decoded must survive encoding as tnetstring, and as JSON when its header
/// bytes are text (JSON cannot carry others).
pub fn publish_zmq(data: &[u8]) {
    let payload = Bytes::copy_from_slice(data);
    if let Ok(item) = publish::parse_zmq_message(&payload) {
        assert_eq!(
            publish::parse_zmq_message(&item.to_tnetstring()).as_ref(),
            Ok(&item)
        );
        let text_headers = item.http_response.as_ref().is_none_or(|r| {
            r.headers
                .iter()
                .all(|(n, v)| std::str::from_utf8(n).is_ok() && std::str::from_utf8(v).is_ok())
        });
        if text_headers {
            assert_eq!(
                publish::parse_json_item(&item.to_json()).as_ref(),
                Ok(&item)
            );
        }
    }
}
