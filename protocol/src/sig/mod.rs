//! `Grip-Sig`: the JWT Pushpin adds to requests it forwards, and checks on requests from a
//! trusted upstream proxy (§3.2-3.3).
//!
//! - [`KeyConfig`], [`Key`]: keys from `sig_key` / `upstream_key` config strings or PEM bytes.
//!   An empty key string is "no key", not Pushpin 1.36's empty HMAC secret that trusts anyone.
//! - [`sign`]: a token byte-identical to Pushpin's for the same key, issuer and expiry.
//! - [`verify`]: signature, algorithm and `exp` checked against a caller-given `now`, as
//!   Pushpin checks them; `iss` is returned, never checked.
//!
//! Nothing here reads a clock or a file: the caller passes `now` and reads `file:` keys.

mod error;
mod key;
mod token;

pub use self::error::Error;
pub use self::key::{Algorithm, Key, KeyConfig};
pub use self::token::{sign, verify, Claims, MAX_TOKEN_LEN, TOKEN_LIFETIME_SECS};
