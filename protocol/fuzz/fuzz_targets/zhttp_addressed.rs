//! Any bytes as an addressed PUB frame (`<address> SP T…`): decoding must not panic, and whatever
//! decodes must re-encode to a frame that decodes to the same address and packet.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::zhttp_addressed(data));
