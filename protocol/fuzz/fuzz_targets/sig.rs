//! Any bytes as a `Grip-Sig` token: verifying with a fixed HMAC key, and with a fixed EC public
//! key (the public half of the `key_pem` EC test key in vectors/sig.json), must not panic; and
//! the claims of whatever verifies must sign into a token that verifies to the same expiry.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use protocol::sig::{self, Key};

const EC_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAErz5M3QHtcpblSRh56RSNMiMO5tx7
rGdgYA37DPBhoW3bHDzG27nI0Exk/fsFCGM0Qfw+IFu4AOYxeZnfxfz1BA==
-----END PUBLIC KEY-----
";

fn keys() -> &'static (Key, Key) {
    static KEYS: OnceLock<(Key, Key)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let ec = Key::from_pem(EC_PUBLIC.as_bytes()).expect("the test key loads");
        (Key::hmac(b"changeme"), ec)
    })
}

fuzz_target!(|data: &[u8]| {
    let (hmac, ec) = keys();
    if let Ok(claims) = sig::verify(data, hmac, 1_000) {
        // The input need not be what `sign` writes (header fields may differ), but its claims
        // must survive a sign/verify round trip.
        let token = sig::sign(hmac, claims.iss.as_deref().unwrap_or(""), claims.exp).unwrap();
        assert_eq!(sig::verify(token.as_bytes(), hmac, 1_000).map(|c| c.exp), Ok(claims.exp));
    }
    let _ = sig::verify(data, ec, 1_000);
});
