//! Why a `Grip-Sig` key could not be built, or a token could not be made or trusted.

/// A `Grip-Sig` error. Small and `Copy`: failing never allocates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The key is "no key" (an empty config string): nothing is signed and no token is trusted.
    #[error("no Grip-Sig key is configured")]
    NoKey,
    /// A `base64:` key is not valid base64.
    #[error("Grip-Sig key after \"base64:\" is not base64")]
    BadKeyBase64,
    /// PEM input is not an EC (P-256) or RSA key this crate can use.
    #[error("Grip-Sig PEM key is not a usable EC P-256 or RSA key")]
    BadKey,
    /// The key is a public key, which cannot sign.
    #[error("Grip-Sig key is a public key and cannot sign")]
    CannotSign,
    /// The key is a private EC or RSA key; verifying needs the public key.
    #[error("Grip-Sig key is a private key; verifying needs the public key")]
    CannotVerify,
    /// The token is longer than [`super::MAX_TOKEN_LEN`].
    #[error("Grip-Sig token exceeds the length limit")]
    TooLong,
    /// The token is not three base64url parts holding a JSON header and JSON claims objects.
    #[error("Grip-Sig token is malformed")]
    Malformed,
    /// The header's `alg` is missing or is not the key's algorithm (`none` included).
    #[error("Grip-Sig token algorithm does not match the key")]
    BadAlgorithm,
    /// The signature does not match.
    #[error("Grip-Sig token signature is invalid")]
    BadSignature,
    /// The claims have no `exp`.
    #[error("Grip-Sig token has no exp claim")]
    MissingExp,
    /// `exp` is neither a number nor a string of decimal digits.
    #[error("Grip-Sig token exp claim is not a number")]
    BadExp,
    /// `exp` is not after the current time.
    #[error("Grip-Sig token has expired")]
    Expired,
    /// The JWT library has no crypto provider (a build with conflicting `jsonwebtoken`
    /// features); reported instead of letting the library panic.
    #[error("no JWT crypto provider is available")]
    CryptoUnavailable,
}

impl Error {
    /// A stable snake_case id for this error, shared with the vectors and the SDKs.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NoKey => "no_key",
            Error::BadKeyBase64 => "bad_key_base64",
            Error::BadKey => "bad_key",
            Error::CannotSign => "cannot_sign",
            Error::CannotVerify => "cannot_verify",
            Error::TooLong => "too_long",
            Error::Malformed => "malformed",
            Error::BadAlgorithm => "bad_algorithm",
            Error::BadSignature => "bad_signature",
            Error::MissingExp => "missing_exp",
            Error::BadExp => "bad_exp",
            Error::Expired => "expired",
            Error::CryptoUnavailable => "crypto_unavailable",
        }
    }
}
