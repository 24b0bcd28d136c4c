//! An HTTP publish body: decoding must not panic, and every item decoded must survive encoding
//! as JSON and as tnetstring.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::publish_json(data));
