//! `Grip-Status: CODE[ REASON]` (§4.2) and the reason phrases Pushpin fills in.
//!
//! The code is everything before the first space, read as Pushpin reads integers (a sign and
//! surrounding whitespace allowed), and must lie in 0..=999. The reason is everything after that
//! space, kept as written. An empty reason, here or anywhere else in a GRIP response, becomes the
//! standard phrase of the code: the table below is the one Pushpin 1.36 uses, read off a running
//! Pushpin for every code from 0 to 999 (`Undefined Reason` for codes it does not know).

use bytes::Bytes;

use super::params::{parse_int, trim};
use super::Error;
use crate::tnetstring::share;

/// The highest status code a GRIP response may set.
pub const MAX_STATUS_CODE: u16 = 999;

/// The reason phrase Pushpin gives `code` when none is set: its standard phrase, or
/// `Undefined Reason`.
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        208 => "Already Reported",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        306 => "Reserved",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Requested Range Not Satisfiable",
        417 => "Expectation Failed",
        422 => "Unprocessable Entity",
        423 => "Locked",
        424 => "Failed Dependency",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        510 => "Not Extended",
        511 => "Network Authentication Required",
        _ => "Undefined Reason",
    }
}

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
