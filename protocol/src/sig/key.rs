//! `Grip-Sig` keys, and the `sig_key` / `upstream_key` config strings that name them (§3.2-3.3).
//!
//! Config strings read as in Pushpin 1.36: plain text is an HMAC secret, `base64:<b64>` a binary
//! HMAC secret, `file:<path>` a PEM file (relative to the config dir) holding an EC or RSA key.
//! The file is read by the server, not here: [`KeyConfig::File`] hands back the path and
//! [`Key::from_pem`] takes the bytes. A private PEM key signs (ES256 for EC P-256, RS256 for
//! RSA, as Pushpin selects them); a public one verifies.
//!
//! Differs from Pushpin 1.36 on purpose: an empty string (and `base64:` with nothing after it) is
//! **no key**. Pushpin 1.36 builds an HMAC key from the empty secret, so with the shipped empty
//! `upstream_key` any client can forge a trusted `Grip-Sig` [run, §3.3]; upstream fixed this after
//! 1.41. With no key nothing is signed and no token verifies.
//!
//! Limits of PEM support: keys are what `jsonwebtoken` reads, i.e. PKCS#8 `PRIVATE KEY` / SPKI
//! `PUBLIC KEY` for EC and those or PKCS#1 `RSA PRIVATE KEY` / `RSA PUBLIC KEY` for RSA; a SEC1
//! `EC PRIVATE KEY` must be converted (`openssl pkcs8 -topk8 -nocrypt`). EC keys must be P-256.
//! A private key cannot verify: configure the public key as `upstream_key`.

use std::fmt;

use base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT;
use base64::Engine as _;
use jsonwebtoken::{DecodingKey, EncodingKey};

use super::Error;

/// A signing algorithm Pushpin uses for `Grip-Sig`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// HMAC with SHA-256, for secrets.
    Hs256,
    /// ECDSA P-256 with SHA-256, for EC keys.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, for RSA keys.
    Rs256,
}

impl Algorithm {
    /// The JWT `alg` name: `HS256`, `ES256` or `RS256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Hs256 => "HS256",
            Algorithm::Es256 => "ES256",
            Algorithm::Rs256 => "RS256",
        }
    }

    pub(super) fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Algorithm::Hs256 => jsonwebtoken::Algorithm::HS256,
            Algorithm::Es256 => jsonwebtoken::Algorithm::ES256,
            Algorithm::Rs256 => jsonwebtoken::Algorithm::RS256,
        }
    }
}

/// A key for signing and/or verifying `Grip-Sig` tokens. Cheap to clone; `Debug` never shows
/// key material.
#[derive(Clone)]
pub struct Key {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    None,
    Hmac {
        sign: EncodingKey,
        verify: DecodingKey,
    },
    Private(Algorithm, EncodingKey),
    Public(Algorithm, DecodingKey),
}

/// What a `sig_key` or `upstream_key` config string names.
#[derive(Clone, Debug)]
pub enum KeyConfig {
    /// A key given inline: empty (no key), plain text or `base64:`.
    Key(Key),
    /// `file:<path>`: a PEM file, path as written (relative to the config dir). Read it and call
    /// [`Key::from_pem`].
    File(String),
}

impl KeyConfig {
    /// Reads a config string: `""` (no key), `base64:<b64>`, `file:<path>`, or a plain secret.
    /// The prefixes are case-sensitive, as in Pushpin.
    pub fn parse(value: &str) -> Result<KeyConfig, Error> {
        if let Some(path) = value.strip_prefix("file:") {
            return Ok(KeyConfig::File(path.to_owned()));
        }
        let key = match value.strip_prefix("base64:") {
            Some(b64) => {
                // Padding optional: Qt's decoder, which Pushpin uses, does not insist on it.
                let secret = STANDARD_PAD_INDIFFERENT
                    .decode(b64)
                    .map_err(|_| Error::BadKeyBase64)?;
                Key::hmac(&secret)
            }
            None => Key::hmac(value.as_bytes()),
        };
        Ok(KeyConfig::Key(key))
    }
}

// === impl Key ===

impl Key {
    /// No key: signing fails with [`Error::NoKey`] and no token verifies.
    pub fn none() -> Key {
        Key { kind: Kind::None }
    }

    /// An HMAC (HS256) secret; an empty secret is no key (see the module doc).
    pub fn hmac(secret: &[u8]) -> Key {
        // jsonwebtoken refuses only empty secrets, which are handled first.
        match (
            EncodingKey::from_secret(secret),
            DecodingKey::from_secret(secret),
        ) {
            (Ok(sign), Ok(verify)) if !secret.is_empty() => Key {
                kind: Kind::Hmac { sign, verify },
            },
            _ => Key::none(),
        }
    }

    /// An EC (P-256, ES256) or RSA (RS256) key from PEM text: a private key signs, a public key
    /// verifies. The key is tried once here, so an unusable key fails at load time rather than on
    /// the first request.
    pub fn from_pem(pem: &[u8]) -> Result<Key, Error> {
        crypto_ready()?;
        let kind = if pem_label_contains(pem, b"PRIVATE KEY") {
            let (algorithm, key) = EncodingKey::from_ec_pem(pem)
                .map(|k| (Algorithm::Es256, k))
                .or_else(|_| EncodingKey::from_rsa_pem(pem).map(|k| (Algorithm::Rs256, k)))
                .map_err(|_| Error::BadKey)?;
            jsonwebtoken::crypto::sign(b"", &key, algorithm.jwt()).map_err(|_| Error::BadKey)?;
            Kind::Private(algorithm, key)
        } else {
            let (algorithm, key) = DecodingKey::from_ec_pem(pem)
                .map(|k| (Algorithm::Es256, k))
                .or_else(|_| DecodingKey::from_rsa_pem(pem).map(|k| (Algorithm::Rs256, k)))
                .map_err(|_| Error::BadKey)?;
            // An empty signature never verifies, but a key the verifier cannot load is an error.
            jsonwebtoken::crypto::verify("", b"", &key, algorithm.jwt())
                .map_err(|_| Error::BadKey)?;
            Kind::Public(algorithm, key)
        };
        Ok(Key { kind })
    }

    /// True for no key.
    pub fn is_none(&self) -> bool {
        matches!(self.kind, Kind::None)
    }

    /// The algorithm this key signs or verifies with; `None` for no key.
    pub fn algorithm(&self) -> Option<Algorithm> {
        match &self.kind {
            Kind::None => None,
            Kind::Hmac { .. } => Some(Algorithm::Hs256),
            Kind::Private(algorithm, _) | Kind::Public(algorithm, _) => Some(*algorithm),
        }
    }

    /// True when [`super::sign`] can use this key (a secret or a private key).
    pub fn can_sign(&self) -> bool {
        self.signer().is_ok()
    }

    /// True when [`super::verify`] can use this key (a secret or a public key).
    pub fn can_verify(&self) -> bool {
        self.verifier().is_ok()
    }

    pub(super) fn signer(&self) -> Result<(Algorithm, &EncodingKey), Error> {
        match &self.kind {
            Kind::None => Err(Error::NoKey),
            Kind::Hmac { sign, .. } => Ok((Algorithm::Hs256, sign)),
            Kind::Private(algorithm, key) => Ok((*algorithm, key)),
            Kind::Public(..) => Err(Error::CannotSign),
        }
    }

    pub(super) fn verifier(&self) -> Result<(Algorithm, &DecodingKey), Error> {
        match &self.kind {
            Kind::None => Err(Error::NoKey),
            Kind::Hmac { verify, .. } => Ok((Algorithm::Hs256, verify)),
            Kind::Public(algorithm, key) => Ok((*algorithm, key)),
            Kind::Private(..) => Err(Error::CannotVerify),
        }
    }
}

impl Default for Key {
    /// No key.
    fn default() -> Self {
        Key::none()
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match &self.kind {
            Kind::None => "none",
            Kind::Hmac { .. } => "hmac",
            Kind::Private(..) => "private",
            Kind::Public(..) => "public",
        };
        f.debug_struct("Key")
            .field("kind", &what)
            .field("algorithm", &self.algorithm().map(Algorithm::as_str))
            .finish_non_exhaustive()
    }
}

/// Fails instead of letting `jsonwebtoken` panic when a build enables both or neither of its
/// crypto backends, the one way its `crypto` calls can panic.
pub(super) fn crypto_ready() -> Result<(), Error> {
    match jsonwebtoken::crypto::CryptoProvider::try_get_default() {
        Some(_) => Ok(()),
        None => Err(Error::CryptoUnavailable),
    }
}

/// True when the first `-----BEGIN <label>-----` line's label contains `needle`.
fn pem_label_contains(pem: &[u8], needle: &[u8]) -> bool {
    const BEGIN: &[u8] = b"-----BEGIN ";
    let Some(start) = pem.windows(BEGIN.len()).position(|w| w == BEGIN) else {
        return false;
    };
    let label = pem.get(start + BEGIN.len()..).unwrap_or_default();
    let label = label.split(|&b| b == b'\n').next().unwrap_or_default();
    label.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Result<String, &'static str> {
        match KeyConfig::parse(value) {
            Ok(KeyConfig::Key(key)) => Ok(format!("{key:?}")),
            Ok(KeyConfig::File(path)) => Ok(format!("file {path}")),
            Err(e) => Err(e.kind()),
        }
    }

    #[test]
    fn config_strings() {
        let hmac = r#"Key { kind: "hmac", algorithm: Some("HS256"), .. }"#;
        let none = r#"Key { kind: "none", algorithm: None, .. }"#;
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("changeme", Ok(hmac)),
            ("", Ok(none)),
            ("base64:c2VjcmV0", Ok(hmac)),
            ("base64:c2VjcmV0PQ", Ok(hmac)),
            ("base64:", Ok(none)),
            ("base64:!", Err("bad_key_base64")),
            ("Base64:!", Ok(hmac)),
            ("file:keys/ec.pem", Ok("file keys/ec.pem")),
        ];
        for (value, want) in cases {
            assert_eq!(parse(value).as_deref(), want.as_deref(), "{value:?}");
        }
    }

    #[test]
    fn base64_key_is_the_decoded_secret() {
        let Ok(KeyConfig::Key(key)) = KeyConfig::parse("base64:c2VjcmV0") else {
            panic!("not a key")
        };
        let (_, decoded) = key.verifier().unwrap();
        let plain_key = Key::hmac(b"secret");
        let (_, plain) = plain_key.verifier().unwrap();
        assert_eq!(
            decoded.try_get_as_bytes().unwrap(),
            plain.try_get_as_bytes().unwrap()
        );
    }

    #[test]
    fn no_key_neither_signs_nor_verifies() {
        let key = Key::hmac(b"");
        assert!(key.is_none());
        assert_eq!(key.signer().err(), Some(Error::NoKey));
        assert_eq!(key.verifier().err(), Some(Error::NoKey));
    }

    #[test]
    fn pem_garbage_is_a_bad_key() {
        for pem in [
            &b""[..],
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        ] {
            assert_eq!(Key::from_pem(pem).err(), Some(Error::BadKey));
        }
        let private = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert_eq!(Key::from_pem(private).err(), Some(Error::BadKey));
    }

    #[test]
    fn pem_label() {
        assert!(pem_label_contains(
            b"x\n-----BEGIN RSA PRIVATE KEY-----\n",
            b"PRIVATE KEY"
        ));
        assert!(!pem_label_contains(
            b"-----BEGIN PUBLIC KEY-----\nPRIVATE KEY",
            b"PRIVATE KEY"
        ));
    }
}
