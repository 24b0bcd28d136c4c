//! A client's request head (`frontend::request::parse`), the first byte picking the head limit:
//! limits, incremental parsing and a re-encoding round trip hold.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::request_head(data));
