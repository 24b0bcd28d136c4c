//! Any bytes as a WebSocket text message: parsing a control message must not panic, and what
//! parses must render to text that parses to the same message.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::wscontrol(data));
