//! Any bytes as a ZHTTP response packet: decoding must not panic, and whatever decodes must
//! re-encode (within its measured size) to a packet that decodes to the same value.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::zhttp_response(data));
