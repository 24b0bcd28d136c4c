//! Any bytes as `pushpin.conf` (`config::Settings::parse`): typed errors located within the
//! file, and line numbers that follow the text.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::settings(data));
