//! An HTTP publish body: decoding must not panic, and every item decoded must survive encoding
//! as JSON and as tnetstring.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use protocol::publish;

fuzz_target!(|data: &[u8]| {
    let body = Bytes::copy_from_slice(data);
    if let Ok(items) = publish::parse_http_body(&body) {
        for item in &items {
            assert_eq!(publish::parse_json_item(&item.to_json()).as_ref(), Ok(item));
            assert_eq!(publish::parse_zmq_message(&item.to_tnetstring()).as_ref(), Ok(item));
        }
    }
});
