//! Any bytes as a backend response: `CODE\nName: value\n…\n\nbody` (a first line that is not a
//! number means 200). Parsing must not panic, and what parses must render to responses that
//! parse to the same instructions.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::grip_instruct(data));
