//! Any bytes as a websocket-events body: decoding must not panic; decoding in chunks must give
//! the same events or the same error as decoding whole; and what decodes must re-encode to a
//! body that decodes to the same events.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::wsevents(data));
