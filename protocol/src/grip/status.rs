//! `Grip-Status: CODE[ REASON]` (§4.2) and the reason phrases Pushpin fills in.
//!
//! The code is everything before the first space, read as Pushpin reads integers (a sign and
//! surrounding whitespace allowed), and must lie in 0..=999. The reason is everything after that
//! space, kept as written. An empty reason, here or anywhere else in a GRIP response, becomes the
//! standard phrase of the code: the phrases are Pushpin's ([`crate::status`]).

use bytes::Bytes;

use super::params::{parse_int, trim};
use super::Error;
use crate::tnetstring::share;

/// The highest status code a GRIP response may set.
pub const MAX_STATUS_CODE: u16 = 999;

pub use crate::status::reason_phrase;

/// A status code from a number, if it lies in 0..=[`MAX_STATUS_CODE`].
pub(crate) fn status_code(n: i64) -> Option<u16> {
    u16::try_from(n).ok().filter(|&c| c <= MAX_STATUS_CODE)
}

/// Parses a `Grip-Status` value into a code and a reason (possibly empty).
pub(crate) fn parse_header(value: &Bytes) -> Result<(u16, Bytes), Error> {
    let text = trim(value);
    let (code, reason) = match text.iter().position(|&b| b == b' ') {
        Some(space) => (
            text.get(..space).unwrap_or_default(),
            text.get(space + 1..).unwrap_or_default(),
        ),
        None => (text, &[][..]),
    };
    let code = parse_int(code)
        .and_then(|n| status_code(i64::from(n)))
        .ok_or(Error::BadStatus)?;
    Ok((code, share(value, reason)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grip_status_values() {
        let ok: &[(&str, u16, &str)] = &[
            ("404 Custom", 404, "Custom"),
            ("200", 200, ""),
            ("404 ", 404, ""),
            ("404  Two  spaces", 404, " Two  spaces"),
            ("404 a, b; c=d", 404, "a, b; c=d"),
            ("+404", 404, ""),
            ("0404", 404, ""),
            ("0", 0, ""),
            ("999", 999, ""),
        ];
        for (input, code, reason) in ok {
            let got = parse_header(&Bytes::copy_from_slice(input.as_bytes()));
            assert_eq!(got, Ok((*code, Bytes::from(*reason))), "{input:?}");
        }
        for bad in ["abc", "1000", "-1", "404x", "404\tTab", "", "x 404"] {
            let got = parse_header(&Bytes::copy_from_slice(bad.as_bytes()));
            assert_eq!(got, Err(Error::BadStatus), "{bad:?}");
        }
    }

    #[test]
    fn phrases() {
        assert_eq!(reason_phrase(200), "OK");
        assert_eq!(reason_phrase(413), "Request Entity Too Large");
        assert_eq!(reason_phrase(299), "Undefined Reason");
        assert_eq!(reason_phrase(0), "Undefined Reason");
    }
}
