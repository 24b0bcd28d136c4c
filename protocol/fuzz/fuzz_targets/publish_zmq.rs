//! A ZMQ publish payload (bare tnetstring, `T` + tnetstring or `J` + JSON): decoding must not
//! panic, and an item decoded must survive encoding as tnetstring, and as JSON when its header
//! bytes are text (JSON cannot carry others).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use protocol::publish;

fuzz_target!(|data: &[u8]| {
    let payload = Bytes::copy_from_slice(data);
    if let Ok(item) = publish::parse_zmq_message(&payload) {
        assert_eq!(publish::parse_zmq_message(&item.to_tnetstring()).as_ref(), Ok(&item));
        let text_headers = item.http_response.as_ref().is_none_or(|r| {
            r.headers
                .iter()
                .all(|(n, v)| std::str::from_utf8(n).is_ok() && std::str::from_utf8(v).is_ok())
        });
        if text_headers {
            assert_eq!(publish::parse_json_item(&item.to_json()).as_ref(), Ok(&item));
        }
    }
});
