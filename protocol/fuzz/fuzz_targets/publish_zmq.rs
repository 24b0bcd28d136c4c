//! A ZMQ publish payload (bare tnetstring, `T` + tnetstring or `J` + JSON): decoding must not
//! panic, and an item decoded must survive encoding as tnetstring, and as JSON when its header
//! bytes are text (JSON cannot carry others).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::publish_zmq(data));
