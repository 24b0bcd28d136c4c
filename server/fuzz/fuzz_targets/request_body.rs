//! A client's request body (`frontend::body::BodyDecoder`) in any framing: the same result
//! whole, byte by byte or in pieces, within its limits.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::request_body(data));
