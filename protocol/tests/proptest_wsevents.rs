//! Property tests for `protocol::wsevents`: encode then decode gives the same events, in one
//! piece or in any chunking; rendering then parsing gives the same control message; and no
//! input makes either decoder panic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use protocol::wsevents::{
    self, parse_event, Close, ControlMessage, Decoder, Event, KeepAlive, KeepAliveMode, Limits,
    MessageType, SendDelayed, Status,
};

fn payload() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..64).prop_map(Bytes::from)
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        Just(Event::Open),
        payload().prop_map(Event::Text),
        payload().prop_map(Event::Binary),
        payload().prop_map(Event::Ping),
        payload().prop_map(Event::Pong),
        Just(Event::Close(None)),
        (any::<u16>(), payload())
            .prop_map(|(code, reason)| Event::Close(Some(Close::new(code, reason)))),
        Just(Event::Disconnect),
    ]
}

fn encode(events: &[Event]) -> Bytes {
    let mut dst = BytesMut::new();
    wsevents::encode(events, &mut dst);
    assert_eq!(dst.len(), wsevents::encoded_len(events));
    dst.freeze()
}

/// Bytes that look like event bodies often enough to reach past the first header.
fn body_like() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"OPEN".to_vec()),
        Just(b"TEXT".to_vec()),
        Just(b"CLOSE".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        "[0-9a-fA-F]{1,3}".prop_map(String::into_bytes),
        vec(any::<u8>(), 0..4),
    ];
    vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,12}"
}

fn message_type() -> impl Strategy<Value = MessageType> {
    prop_oneof![
        Just(MessageType::Text),
        Just(MessageType::Binary),
        Just(MessageType::Ping),
        Just(MessageType::Pong),
    ]
}

fn control() -> impl Strategy<Value = ControlMessage> {
    prop_oneof![
        (
            text().prop_filter("non-empty", |s| !s.is_empty()),
            vec(text(), 0..3)
        )
            .prop_map(|(channel, filters)| ControlMessage::Subscribe { channel, filters }),
        text().prop_map(|channel| ControlMessage::Unsubscribe { channel }),
        Just(ControlMessage::Detach),
        text().prop_map(|id| ControlMessage::Session { id }),
        (
            text().prop_filter("non-empty", |s| !s.is_empty()),
            proptest::option::of(text())
        )
            .prop_map(|(name, value)| ControlMessage::SetMeta { name, value }),
        (payload(), message_type(), any::<u32>(), any::<bool>()).prop_map(
            |(content, message_type, timeout, interval)| {
                ControlMessage::KeepAlive(KeepAlive {
                    content,
                    message_type,
                    timeout,
                    mode: if interval {
                        KeepAliveMode::Interval
                    } else {
                        KeepAliveMode::Idle
                    },
                })
            }
        ),
        (payload(), message_type(), any::<u32>()).prop_map(|(content, message_type, timeout)| {
            ControlMessage::SendDelayed(SendDelayed {
                content,
                message_type,
                timeout,
            })
        }),
        Just(ControlMessage::FlushDelayed),
        "[a-z]{1,8}-x".prop_map(|type_name| ControlMessage::Unknown { type_name }),
    ]
}

proptest! {
    #[test]
    fn encode_then_decode_is_identity(events in vec(event(), 0..16)) {
        let wire = encode(&events);
        prop_assert_eq!(wsevents::decode(&wire), Ok(events));
    }

    #[test]
    fn any_chunking_decodes_the_same(events in vec(event(), 0..8), cuts in vec(any::<prop::sample::Index>(), 0..6)) {
        let wire = encode(&events);
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        cuts.sort_unstable();
        let mut decoder = Decoder::new();
        let mut got = Vec::new();
        let mut start = 0;
        for cut in cuts.into_iter().chain([wire.len()]) {
            decoder.push(&wire[start..cut]);
            start = cut;
            while let Some(event) = decoder.next_event().unwrap() {
                got.push(event);
            }
        }
        decoder.finish();
        prop_assert_eq!(decoder.next_event(), Ok(None));
        prop_assert_eq!(got, events);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in vec(any::<u8>(), 0..256)) {
        let _ = wsevents::decode(&Bytes::from(bytes));
    }

    #[test]
    fn body_like_bytes_decode_the_same_whole_and_streamed(bytes in body_like()) {
        let limits = Limits { max_header_len: 16, ..Limits::default() };
        let whole = wsevents::decode_with(&Bytes::from(bytes.clone()), &limits);
        let mut decoder = Decoder::with_limits(limits);
        let mut got = Vec::new();
        let mut error = None;
        for byte in &bytes {
            decoder.push(std::slice::from_ref(byte));
            loop {
                match decoder.next_event() {
                    Ok(Some(event)) => got.push(event),
                    Ok(None) => break,
                    Err(e) => { error = Some(e); break; }
                }
            }
            if error.is_some() { break; }
        }
        if error.is_none() {
            decoder.finish();
            loop {
                match decoder.next_event() {
                    Ok(Some(event)) => got.push(event),
                    Ok(None) => break,
                    Err(e) => { error = Some(e); break; }
                }
            }
        }
        match (whole, error) {
            (Ok(events), None) => {
                prop_assert_eq!(&got, &events);
                // What decodes re-encodes to a body that decodes the same.
                prop_assert_eq!(wsevents::decode(&encode(&events)), Ok(events));
            }
            (Err(a), Some(b)) => prop_assert_eq!(a, b),
            (whole, streamed) => prop_assert!(false, "whole {:?} vs streamed {:?}", whole, streamed),
        }
    }

    #[test]
    fn parse_event_never_consumes_more_than_given(bytes in body_like()) {
        if let Ok(Status::Complete { len, .. }) = parse_event(&Bytes::from(bytes.clone()), &Limits::default()) {
            prop_assert!(len > 0 && len <= bytes.len());
        }
    }

    #[test]
    fn render_then_parse_is_identity(message in control()) {
        let text = message.render();
        prop_assert!(text.starts_with(r#"c:{"type":"#), "{}", text);
        prop_assert_eq!(ControlMessage::parse(text.as_bytes()), Ok(message));
    }

    #[test]
    fn parsing_arbitrary_control_text_never_panics(rest in vec(any::<u8>(), 0..128)) {
        let mut message = b"c:".to_vec();
        message.extend_from_slice(&rest);
        let _ = ControlMessage::parse(&message);
        let _ = ControlMessage::parse(&rest);
    }
}
