//! What a backend sends (`backend::http1::response::parse`, then the body decoder): limits,
//! RFC 9112 §6.3 framing, incremental parsing and a re-encoding round trip hold.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::response(data));
