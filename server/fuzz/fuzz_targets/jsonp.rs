//! A client's query string and a reply (`proxy::jsonp::detect` and `render`): valid callbacks,
//! proxy-safe headers, and a well-formed script.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::jsonp(data));
