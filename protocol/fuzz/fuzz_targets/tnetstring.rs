//! Any bytes: decoding must not panic, and whatever decodes must re-encode to bytes that decode
//! to the same value.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::tnetstring(data));
