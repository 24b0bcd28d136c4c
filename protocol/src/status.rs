//! HTTP reason phrases as Pushpin 1.36 writes them.
//!
//! The table was read off a running Pushpin 1.36, twice and independently: once by publishing
//! every code from 100 to 599 to a held response, once by setting every code from 0 to 999 with
//! `Grip-Status`; both gave these 58 phrases. It is not the IANA registry: Pushpin names no 1xx
//! beyond 102, none of 103, 418, 421, 425 or 451, and keeps the RFC 2616 wording for 413, 414 and
//! 416. Codes it does not name get [`UNDEFINED_REASON`].

/// The phrase Pushpin sends for a code its table does not name.
pub const UNDEFINED_REASON: &str = "Undefined Reason";

/// The phrase Pushpin sends for `code`: its own, or [`UNDEFINED_REASON`].
pub fn reason_phrase(code: u16) -> &'static str {
    known_reason(code).unwrap_or(UNDEFINED_REASON)
}

/// Pushpin's phrase for `code`, if its table names one.
pub fn known_reason(code: u16) -> Option<&'static str> {
    Some(match code {
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
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_pushpin() {
        let named = (0..=999).filter_map(known_reason).count();
        assert_eq!(named, 58);
        for (code, phrase) in [
            (200, Some("OK")),
            (413, Some("Request Entity Too Large")),
            (103, None),
            (418, None),
            (425, None),
            (451, None),
            (999, None),
        ] {
            assert_eq!(known_reason(code), phrase, "{code}");
            assert_eq!(
                reason_phrase(code),
                phrase.unwrap_or(UNDEFINED_REASON),
                "{code}"
            );
        }
    }
}
