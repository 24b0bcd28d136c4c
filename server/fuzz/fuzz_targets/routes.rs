//! Any bytes as a routes file (`config::Routes::parse`): typed errors located within the file,
//! and a table that, written back out, parses to itself.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::routes(data));
