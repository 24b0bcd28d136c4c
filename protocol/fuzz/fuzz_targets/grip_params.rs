//! Any bytes as a header value: parsing must not panic, and a list that renders must parse back
//! to the same items.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::grip_params(data));
