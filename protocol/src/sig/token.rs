//! Signing and verifying `Grip-Sig` tokens (§3.2-3.3).
//!
//! [`sign`] writes exactly what Pushpin 1.36 writes: header `{"typ":"JWT","alg":"HS256"}` (or
//! `ES256`/`RS256` for PEM keys), claims `{"exp":…,"iss":"…"}` with `exp` first, base64url without
//! padding. For the same key, issuer and expiry the HS256 token is byte-identical to Pushpin's
//! [run: `sig_key=changeme`]. Signing and the signature check use `jsonwebtoken`; the token is
//! taken apart here so each failure gets its own error and the clock is the caller's `now`.
//!
//! [`verify`] accepts what Pushpin accepts and nothing it rejects [run, each case measured
//! against 1.36 with an `upstream_key`]:
//! - the header's `alg` must be the key's algorithm; `typ` and other header fields are ignored;
//! - `exp` must be present and strictly after `now` (no leeway: a token whose `exp` equals `now`
//!   is expired). Like Pushpin, a float `exp` is accepted (truncated toward zero) and so is a
//!   string of decimal digits;
//! - `iss`, `aud`, `nbf` and other claims are not checked; `iss` is returned when it is a string;
//! - base64url parts must be unpadded.
//!
//! Limit: a token longer than [`MAX_TOKEN_LEN`] is refused before any decoding.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::Header;
use serde::Serialize;
use serde_json::{Map, Value};

use super::key::crypto_ready;
use super::{Error, Key};

/// The longest token [`verify`] reads: Pushpin's default `client_buffer_size` caps a whole
/// request head at 8192 bytes, so no longer `Grip-Sig` can reach it.
pub const MAX_TOKEN_LEN: usize = 8192;

/// How long a token Pushpin signs stays valid: it sets `exp` to now + 3600 seconds.
pub const TOKEN_LIFETIME_SECS: i64 = 3600;

/// The claims of a verified token that Pushpin's rules look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    /// Expiry, unix seconds.
    pub exp: i64,
    /// The issuer, when the token has a string `iss` (never checked).
    pub iss: Option<String>,
}

/// The claims `sign` writes, in Pushpin's order.
#[derive(Serialize)]
struct SignedClaims<'a> {
    exp: i64,
    iss: &'a str,
}

/// Signs a token for issuer `iss` expiring at `exp` (unix seconds).
pub fn sign(key: &Key, iss: &str, exp: i64) -> Result<String, Error> {
    let (algorithm, key) = key.signer()?;
    crypto_ready()?;
    let claims = SignedClaims { exp, iss };
    jsonwebtoken::encode(&Header::new(algorithm.jwt()), &claims, key).map_err(|_| Error::BadKey)
}

/// Checks `token` against `key` at time `now` (unix seconds) and returns its claims.
///
/// Checks run in this order, so the error names the first failure: key, length, shape,
/// algorithm, signature, then claims. Claims are read only once the signature holds.
pub fn verify(token: &[u8], key: &Key, now: i64) -> Result<Claims, Error> {
    let (algorithm, key) = key.verifier()?;
    if token.len() > MAX_TOKEN_LEN {
        return Err(Error::TooLong);
    }
    let token = std::str::from_utf8(token).map_err(|_| Error::Malformed)?;
    let mut parts = token.split('.');
    let (Some(header_part), Some(claims_part), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Malformed);
    };
    let header = json_object(header_part)?;
    if header.get("alg").and_then(Value::as_str) != Some(algorithm.as_str()) {
        return Err(Error::BadAlgorithm);
    }
    let signed = token
        .get(..header_part.len() + 1 + claims_part.len())
        .ok_or(Error::Malformed)?;
    crypto_ready()?;
    match jsonwebtoken::crypto::verify(signature, signed.as_bytes(), key, algorithm.jwt()) {
        Ok(true) => {}
        Err(e) if matches!(e.kind(), ErrorKind::Base64(_)) => return Err(Error::Malformed),
        Ok(false) | Err(_) => return Err(Error::BadSignature),
    }
    let claims = json_object(claims_part)?;
    let exp = exp(&claims)?;
    if exp <= now {
        return Err(Error::Expired);
    }
    let iss = claims.get("iss").and_then(Value::as_str).map(str::to_owned);
    Ok(Claims { exp, iss })
}

/// One base64url part holding a JSON object.
fn json_object(part: &str) -> Result<Map<String, Value>, Error> {
    let json = URL_SAFE_NO_PAD.decode(part).map_err(|_| Error::Malformed)?;
    match serde_json::from_slice(&json) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(Error::Malformed),
    }
}

/// `exp` as Pushpin reads it: an integer, a float (truncated), or a string of digits.
fn exp(claims: &Map<String, Value>) -> Result<i64, Error> {
    match claims.get("exp") {
        None | Some(Value::Null) => Err(Error::MissingExp),
        Some(Value::Number(n)) => n
            .as_i64()
            // `as` saturates, so a huge or huge negative float cannot wrap.
            .or_else(|| n.as_f64().map(|f| f as i64))
            .ok_or(Error::BadExp),
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(s.parse().unwrap_or(i64::MAX))
        }
        Some(_) => Err(Error::BadExp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seen on the wire from Pushpin 1.36 with `sig_key=changeme`, `sig_iss=pushpin`.
    const PUSHPIN_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3OTU5Njk2MzEsImlzcyI6InB1c2hwaW4ifQ.hkZAxmDbvzeigY9PJjjIik71RbBgAQ8NOcyHmxAa4lM";
    const PUSHPIN_EXP: i64 = 1_795_969_631;

    fn changeme() -> Key {
        Key::hmac(b"changeme")
    }

    fn token(header: &str, claims: &str, key: &[u8]) -> String {
        use jsonwebtoken::EncodingKey;
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let key = EncodingKey::from_secret(key).unwrap();
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::HS256)
                .unwrap();
        format!("{message}.{signature}")
    }

    fn hs256(claims: &str) -> String {
        token(r#"{"typ":"JWT","alg":"HS256"}"#, claims, b"changeme")
    }

    #[test]
    fn signs_exactly_like_pushpin() {
        assert_eq!(
            sign(&changeme(), "pushpin", PUSHPIN_EXP).as_deref(),
            Ok(PUSHPIN_TOKEN)
        );
    }

    #[test]
    fn verifies_pushpin_tokens_until_exp() {
        let claims = Claims {
            exp: PUSHPIN_EXP,
            iss: Some("pushpin".into()),
        };
        let verify_at = |now| verify(PUSHPIN_TOKEN.as_bytes(), &changeme(), now);
        assert_eq!(verify_at(PUSHPIN_EXP - 1), Ok(claims));
        assert_eq!(verify_at(PUSHPIN_EXP), Err(Error::Expired));
    }

    #[test]
    fn reads_exp_leniently() {
        let cases: &[(&str, Result<i64, Error>)] = &[
            (r#"{"exp":2000}"#, Ok(2000)),
            (r#"{"exp":2000.9}"#, Ok(2000)),
            (r#"{"exp":"2000"}"#, Ok(2000)),
            (r#"{"exp":"99999999999999999999"}"#, Ok(i64::MAX)),
            (r#"{"exp":1e300}"#, Ok(i64::MAX)),
            (r#"{"exp":18446744073709551615}"#, Ok(i64::MAX)),
            (r#"{"exp":-5}"#, Err(Error::Expired)),
            (r#"{"exp":""}"#, Err(Error::BadExp)),
            (r#"{"exp":"+5"}"#, Err(Error::BadExp)),
            (r#"{"exp":true}"#, Err(Error::BadExp)),
            (r#"{"exp":null}"#, Err(Error::MissingExp)),
            (r#"{"iss":"x"}"#, Err(Error::MissingExp)),
        ];
        for (claims, want) in cases {
            let got = verify(hs256(claims).as_bytes(), &changeme(), 1000).map(|c| c.exp);
            assert_eq!(got, *want, "{claims}");
        }
    }

    #[test]
    fn rejects_bad_tokens() {
        let good = hs256(r#"{"exp":2000}"#);
        let mut tampered_signature = good.clone().into_bytes();
        let first_signature_byte = good.rfind('.').unwrap() + 1;
        tampered_signature[first_signature_byte] ^= 1;
        let cases: Vec<(Vec<u8>, Error)> = vec![
            (b"".to_vec(), Error::Malformed),
            (b"a.b".to_vec(), Error::Malformed),
            (format!("{good}.x").into_bytes(), Error::Malformed),
            (format!("{good}=").into_bytes(), Error::Malformed),
            (b"\xff.b.c".to_vec(), Error::Malformed),
            (
                token(r#"{"alg":"HS256"}"#, "[1]", b"changeme").into_bytes(),
                Error::Malformed,
            ),
            (
                token(r#"{"alg":"HS512"}"#, r#"{"exp":2000}"#, b"changeme").into_bytes(),
                Error::BadAlgorithm,
            ),
            (
                token(r#"{"typ":"JWT"}"#, r#"{"exp":2000}"#, b"changeme").into_bytes(),
                Error::BadAlgorithm,
            ),
            (
                token(r#"{"alg":"HS256"}"#, r#"{"exp":2000}"#, b"other").into_bytes(),
                Error::BadSignature,
            ),
            (tampered_signature, Error::BadSignature),
            (vec![b'a'; MAX_TOKEN_LEN + 1], Error::TooLong),
        ];
        for (token, want) in cases {
            let got = verify(&token, &changeme(), 1000);
            assert_eq!(got, Err(want), "{}", String::from_utf8_lossy(&token));
        }
    }

    #[test]
    fn no_key_never_verifies_an_empty_secret_token() {
        // What Pushpin 1.36 trusts with its shipped empty upstream_key (§3.3).
        let forged = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"HS256"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"exp":2000}"#),
            "x"
        );
        assert_eq!(
            verify(forged.as_bytes(), &Key::hmac(b""), 1000),
            Err(Error::NoKey)
        );
        assert_eq!(sign(&Key::none(), "pushpin", 2000), Err(Error::NoKey));
    }
}
