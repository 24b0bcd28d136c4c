//! Any bytes as an addressed PUB frame (`<address> SP T…`): decoding must not panic, and whatever
//! decodes must re-encode to a frame that decodes to the same address and packet.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use protocol::zhttp::Response;

fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);
    if let Ok((address, packet)) = Response::parse_addressed(&input) {
        let encoded = packet.to_addressed_bytes(&address).unwrap();
        let (again_address, again) = Response::parse_addressed(&encoded).unwrap();
        assert_eq!(again_address, address);
        assert_eq!(again, packet);
    }
});
