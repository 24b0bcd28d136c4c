//! Any bytes as a ZHTTP request packet: decoding must not panic, and whatever decodes must
//! re-encode (within its measured size) to a packet that decodes to the same value.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use protocol::zhttp::Request;

fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);
    if let Ok(packet) = Request::parse(&input) {
        let encoded = packet.to_bytes();
        assert!(packet.encoded_len() >= encoded.len());
        assert_eq!(Request::parse(&encoded).as_ref(), Ok(&packet));
    }
});
