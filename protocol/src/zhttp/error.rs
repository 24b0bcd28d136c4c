//! Why a ZHTTP packet was rejected (§2.1-2.2).
//!
//! One small `Copy` enum: every payload is a `&'static str` or a number, so failing never
//! allocates. Field names in errors are the wire names (`peer-port`, `ext.multi`, `id[].seq`), so a
//! message points at the byte string a peer actually sent. [`Error::kind`] is the stable id the
//! shared vectors and the SDKs assert on.

use crate::tnetstring;

/// A ZHTTP decoding (or addressed-frame encoding) error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The payload does not start with `T`: empty, JSON (`J`, which zurl takes but Pushpin drops,
    /// §2.1) or anything else.
    #[error("zhttp packet must start with `T`{}", found_byte(*.found))]
    BadPrefix {
        /// The first byte, if there was one.
        found: Option<u8>,
    },
    /// The bytes after `T` are not one well-formed tnetstring, or a nested value (`user-data`,
    /// `passthrough`) breaks [`tnetstring::Limits`].
    #[error("zhttp packet is not a well-formed tnetstring")]
    Tnetstring(#[source] tnetstring::Error),
    /// The tnetstring after `T` is not a dict.
    #[error("zhttp packet must be a tnetstring dict")]
    NotADict,
    /// A known field holds a value of the wrong tnetstring type.
    #[error("zhttp field `{field}` must be {expected}")]
    WrongType {
        /// The field's wire name.
        field: &'static str,
        /// What it must be, e.g. "an integer".
        expected: &'static str,
    },
    /// A known field has the right type but a value it cannot take (an unknown packet `type`, an
    /// integer out of range, …).
    #[error("zhttp field `{field}` must be {expected}")]
    BadValue {
        /// The field's wire name.
        field: &'static str,
        /// What it must be, e.g. "an integer in 0..=65535".
        expected: &'static str,
    },
    /// A field this kind of packet requires is absent (see the rules in [`super`]).
    #[error("zhttp field `{field}` is required here")]
    MissingField {
        /// The field's wire name.
        field: &'static str,
    },
    /// A known field appears twice. Pushpin would silently keep one; gripway refuses to guess.
    #[error("zhttp field `{field}` appears more than once")]
    DuplicateField {
        /// The field's wire name.
        field: &'static str,
    },
    /// The multi form of `id` lists more ids than [`super::Limits::max_ids`].
    #[error("zhttp packet lists more than {max} ids")]
    TooManyIds {
        /// The limit in force.
        max: usize,
    },
    /// `headers` has more fields than [`super::Limits::max_headers`].
    #[error("zhttp packet has more than {max} headers")]
    TooManyHeaders {
        /// The limit in force.
        max: usize,
    },
    /// An addressed frame (§2.1, `<address> SP T…`) has no space, or an empty address, or an
    /// address to be written contains a space.
    #[error("zhttp addressed frame needs a non-empty address without spaces, then a space")]
    BadAddress,
}

fn found_byte(found: Option<u8>) -> String {
    match found {
        Some(b) => format!(", found {b:#04x}"),
        None => ", found an empty payload".to_owned(),
    }
}

impl Error {
    /// A stable snake_case id for this error, shared with the vectors and the SDKs.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::BadPrefix { .. } => "bad_prefix",
            Error::Tnetstring(_) => "tnetstring",
            Error::NotADict => "not_a_dict",
            Error::WrongType { .. } => "wrong_type",
            Error::BadValue { .. } => "bad_value",
            Error::MissingField { .. } => "missing_field",
            Error::DuplicateField { .. } => "duplicate_field",
            Error::TooManyIds { .. } => "too_many_ids",
            Error::TooManyHeaders { .. } => "too_many_headers",
            Error::BadAddress => "bad_address",
        }
    }

    /// The wire name of the field at fault, for the errors that have one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Error::WrongType { field, .. }
            | Error::BadValue { field, .. }
            | Error::MissingField { field }
            | Error::DuplicateField { field } => Some(field),
            Error::TooManyIds { .. } => Some("id"),
            Error::TooManyHeaders { .. } => Some("headers"),
            _ => None,
        }
    }

    /// The underlying tnetstring error of [`Error::Tnetstring`].
    pub fn cause(&self) -> Option<tnetstring::Error> {
        match self {
            Error::Tnetstring(e) => Some(*e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_field_and_expectation() {
        let e = Error::WrongType {
            field: "seq",
            expected: "an integer",
        };
        assert_eq!(e.to_string(), "zhttp field `seq` must be an integer");
        assert_eq!(e.kind(), "wrong_type");
        assert_eq!(e.field(), Some("seq"));
        assert_eq!(
            Error::BadPrefix { found: Some(b'J') }.to_string(),
            "zhttp packet must start with `T`, found 0x4a"
        );
        let e = Error::Tnetstring(tnetstring::Error::BadLength);
        assert_eq!(e.cause(), Some(tnetstring::Error::BadLength));
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn errors_are_small() {
        // Two &'static str and a tag: returning an error costs no more than a few words.
        assert!(std::mem::size_of::<Error>() <= 40);
    }
}
