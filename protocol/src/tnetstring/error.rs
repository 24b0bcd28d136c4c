//! Why tnetstring input was rejected.

use super::Type;

/// A tnetstring decoding error. Small and `Copy`: failing never allocates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input ended before the value did. For a stream this means "read more".
    #[error("tnetstring is incomplete")]
    Incomplete,
    /// The length prefix is empty, not decimal, or longer than [`super::MAX_LENGTH_DIGITS`].
    #[error("tnetstring length prefix is invalid")]
    BadLength,
    /// The type byte is none of `, # ^ ! ~ } ]`.
    #[error("tnetstring type byte {0:#04x} is unknown")]
    UnknownType(u8),
    /// An integer payload is not a decimal `i64`.
    #[error("tnetstring integer is invalid")]
    BadInt,
    /// A float payload is not a finite decimal number.
    #[error("tnetstring float is invalid")]
    BadFloat,
    /// A boolean payload is neither `true` nor `false`.
    #[error("tnetstring boolean is invalid")]
    BadBool,
    /// A null has a payload.
    #[error("tnetstring null has a payload")]
    BadNull,
    /// A dict key is not a byte string.
    #[error("tnetstring dict key is not a byte string")]
    BadKey,
    /// A dict ends after a key, without its value.
    #[error("tnetstring dict key has no value")]
    MissingValue,
    /// Bytes follow the value where none were expected.
    #[error("tnetstring has trailing data")]
    TrailingData,
    /// The value is larger than the limit allows.
    #[error("tnetstring exceeds the size limit")]
    TooLarge,
    /// Containers are nested deeper than the limit allows.
    #[error("tnetstring nesting exceeds the depth limit")]
    TooDeep,
    /// Containers hold more values in total than the limit allows.
    #[error("tnetstring has more items than the limit allows")]
    TooManyItems,
    /// A value of one type was found where another was required.
    #[error("expected tnetstring {expected}, found {found}")]
    WrongType {
        /// What the caller asked for.
        expected: Type,
        /// What the input held.
        found: Type,
    },
}

impl Error {
    /// A stable snake_case id for this error, shared with the vectors and the SDKs.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Incomplete => "incomplete",
            Error::BadLength => "bad_length",
            Error::UnknownType(_) => "unknown_type",
            Error::BadInt => "bad_int",
            Error::BadFloat => "bad_float",
            Error::BadBool => "bad_bool",
            Error::BadNull => "bad_null",
            Error::BadKey => "bad_key",
            Error::MissingValue => "missing_value",
            Error::TrailingData => "trailing_data",
            Error::TooLarge => "too_large",
            Error::TooDeep => "too_deep",
            Error::TooManyItems => "too_many_items",
            Error::WrongType { .. } => "wrong_type",
        }
    }
}
