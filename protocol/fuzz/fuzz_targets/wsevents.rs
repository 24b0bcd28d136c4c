//! Any bytes as a websocket-events body: decoding must not panic; decoding in chunks must give
//! the same events or the same error as decoding whole; and what decodes must re-encode to a
//! body that decodes to the same events.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use protocol::wsevents::{self, Decoder};

fuzz_target!(|data: &[u8]| {
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
});
