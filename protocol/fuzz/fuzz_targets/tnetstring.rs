//! Any bytes: decoding must not panic, and whatever decodes must re-encode to bytes that decode
//! to the same value.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use protocol::tnetstring::Value;

fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);
    if let Ok(value) = Value::decode(&input) {
        let encoded = value.to_bytes();
        assert_eq!(Value::decode(&encoded).as_ref(), Ok(&value));
    }
});
