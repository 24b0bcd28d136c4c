//! A session's meta and filters, and published content (`session::filters::Filters`):
//! `var-subst` agrees with a reference substitution and never panics.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::filters(data));
