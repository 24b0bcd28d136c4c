//! Any bytes as a `Grip-Sig` token: verifying with a fixed HMAC key, and with a fixed EC public
//! key (the public half of the `key_pem` EC test key in vectors/sig.json), must not panic; and
//! the claims of whatever verifies must sign into a token that verifies to the same expiry.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::sig(data));
