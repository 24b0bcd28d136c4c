//! Stream-hold keep-alives: `Grip-Keep-Alive` (§4.2) and the `keep-alive` object of §4.3.
//!
//! `Grip-Keep-Alive: DATA[; format=raw|cstring|base64][; timeout=N][; mode=idle|interval]`. The
//! whole header value is one item: it is not split on commas (Pushpin sends `x, y` as the data
//! `x, y`), and only the first `Grip-Keep-Alive` header counts, as in Pushpin. `DATA` is taken as
//! written, quotes included. `cstring` knows `\\`, `\r`, `\n` and `\xHH`. The timeout defaults to
//! [`DEFAULT_KEEP_ALIVE_TIMEOUT`] and is raised to at least [`MIN_KEEP_ALIVE_TIMEOUT`].
//!
//! Differences from Pushpin 1.36, each turning input it silently mangles into an error:
//! - an unknown `cstring` escape (`\t`, `\0`, …) is an error; Pushpin drops it, backslash and all;
//! - `base64` data must be standard base64 (padding optional); Pushpin skips characters outside
//!   the alphabet, so `%%` became an empty keep-alive.

use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};

use super::params::{self, parse_int, Item, Param};
use super::{Error, RenderError};

/// The keep-alive interval when none is given, in seconds.
pub const DEFAULT_KEEP_ALIVE_TIMEOUT: u32 = 55;

/// The shortest keep-alive interval, in seconds: smaller values are raised to it, as in Pushpin.
pub const MIN_KEEP_ALIVE_TIMEOUT: u32 = 1;

/// Base64 as Pushpin's keep-alive and grip-instruct fields accept it: standard alphabet, padding
/// optional on input, written with padding.
pub(crate) const BASE64: base64::engine::GeneralPurpose =
    base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT;

/// When keep-alive data is sent on a stream hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KeepAliveMode {
    /// After `timeout` seconds without other output (the default).
    #[default]
    Idle,
    /// Every `timeout` seconds, whatever else is sent.
    Interval,
}

impl KeepAliveMode {
    /// The `mode` parameter value: `idle` or `interval`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeepAliveMode::Idle => "idle",
            KeepAliveMode::Interval => "interval",
        }
    }
}

/// Data a stream hold sends to keep the connection alive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeepAlive {
    /// The bytes to send, already decoded from their `format`. Never empty after parsing.
    pub data: Bytes,
    /// Seconds between keep-alives, at least [`MIN_KEEP_ALIVE_TIMEOUT`].
    pub timeout: u32,
    /// Whether the timer restarts on other output.
    pub mode: KeepAliveMode,
}

impl KeepAlive {
    /// Idle-mode keep-alive data with the default timeout.
    pub fn new(data: impl Into<Bytes>) -> Self {
        Self {
            data: data.into(),
            timeout: DEFAULT_KEEP_ALIVE_TIMEOUT,
            mode: KeepAliveMode::Idle,
        }
    }
}

// === parsing ===

/// Parses a `Grip-Keep-Alive` header value.
pub(crate) fn parse_header(value: &Bytes, limits: &params::Limits) -> Result<KeepAlive, Error> {
    let item = params::parse_item(value, limits).map_err(Error::params("Grip-Keep-Alive"))?;
    if item.value.is_empty() {
        return Err(Error::EmptyKeepAlive);
    }
    let data = decode(&item)?;
    let timeout = match item.param("timeout") {
        None => DEFAULT_KEEP_ALIVE_TIMEOUT,
        Some(p) => {
            let n = p
                .value
                .as_deref()
                .and_then(parse_int)
                .ok_or(Error::BadKeepAliveTimeout)?;
            clamp_timeout(i64::from(n)).ok_or(Error::InvalidKeepAliveTimeout)?
        }
    };
    let mode = match param_value(&item, "mode") {
        None | Some(b"" | b"idle") => KeepAliveMode::Idle,
        Some(b"interval") => KeepAliveMode::Interval,
        Some(_) => return Err(Error::BadKeepAliveMode(raw_param(&item, "mode"))),
    };
    Ok(KeepAlive {
        data,
        timeout,
        mode,
    })
}

/// A keep-alive timeout from a number: `None` when negative or beyond 32-bit range (the server
/// reports that as an invalid value), else raised to the minimum.
pub(crate) fn clamp_timeout(n: i64) -> Option<u32> {
    let n = i32::try_from(n).ok()?;
    u32::try_from(n).ok().map(|n| n.max(MIN_KEEP_ALIVE_TIMEOUT))
}

/// The item's data, decoded as its `format` parameter says. Format names are case-sensitive, as
/// in Pushpin; a `format` with no value means raw.
fn decode(item: &Item) -> Result<Bytes, Error> {
    match param_value(item, "format") {
        None | Some(b"" | b"raw") => Ok(item.value.clone()),
        Some(b"cstring") => decode_cstring(&item.value)
            .map(Bytes::from)
            .ok_or(Error::BadKeepAliveCstring),
        Some(b"base64") => BASE64
            .decode(&item.value)
            .map(Bytes::from)
            .map_err(|_| Error::BadKeepAliveBase64),
        Some(_) => Err(Error::BadKeepAliveFormat(raw_param(item, "format"))),
    }
}

fn param_value<'a>(item: &'a Item, name: &str) -> Option<&'a [u8]> {
    item.param(name)
        .map(|p| p.value.as_deref().unwrap_or_default())
}

fn raw_param(item: &Item, name: &str) -> Bytes {
    item.param(name)
        .and_then(|p| p.value.clone())
        .unwrap_or_default()
}

/// Decodes `\\`, `\r`, `\n` and `\xHH`; `None` on any other escape or a trailing backslash.
pub(crate) fn decode_cstring(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut bytes = input.iter();
    while let Some(&b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        out.push(match bytes.next()? {
            b'\\' => b'\\',
            b'r' => b'\r',
            b'n' => b'\n',
            b'x' => {
                let hi = hex_digit(*bytes.next()?)?;
                let lo = hex_digit(*bytes.next()?)?;
                hi << 4 | lo
            }
            _ => return None,
        });
    }
    Some(out)
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

// === rendering ===

/// Renders a `Grip-Keep-Alive` value: raw when the data reads back unchanged, else `cstring`.
pub(crate) fn render_header(keep_alive: &KeepAlive) -> Result<Bytes, RenderError> {
    const UNREPRESENTABLE: RenderError = RenderError {
        field: "keep-alive",
    };
    if keep_alive.data.is_empty() {
        return Err(UNREPRESENTABLE);
    }
    // Raw only for printable ASCII: other bytes are legal in a header but fragile on the way.
    let raw = keep_alive.data.iter().all(|&b| (0x20..=0x7e).contains(&b))
        && params::leading_value_ok(&keep_alive.data, false);
    let mut params = Vec::with_capacity(3);
    if !raw {
        params.push(Param::new("format", "cstring"));
    }
    if keep_alive.timeout != DEFAULT_KEEP_ALIVE_TIMEOUT {
        params.push(Param::new("timeout", keep_alive.timeout.to_string()));
    }
    if keep_alive.mode != KeepAliveMode::Idle {
        params.push(Param::new("mode", keep_alive.mode.as_str()));
    }
    let value = if raw {
        keep_alive.data.clone()
    } else {
        encode_cstring(&keep_alive.data)
    };
    params::render_item(&Item { value, params }).map_err(|_| UNREPRESENTABLE)
}

/// Escapes everything but printable ASCII that is safe before the first `;`.
fn encode_cstring(data: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(data.len() * 2);
    for &b in data {
        match b {
            b'\\' => out.put_slice(b"\\\\"),
            b'\r' => out.put_slice(b"\\r"),
            b'\n' => out.put_slice(b"\\n"),
            0x21..=0x7e if !matches!(b, b';' | b'"') => out.put_u8(b),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.put_slice(b"\\x");
                out.put_u8(HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'));
                out.put_u8(HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0'));
            }
        }
    }
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Result<KeepAlive, Error> {
        parse_header(
            &Bytes::copy_from_slice(value.as_bytes()),
            &params::Limits::default(),
        )
    }

    #[test]
    fn cstring_escapes() {
        let cases: &[(&str, Option<&[u8]>)] = &[
            ("a\\x41\\n\\\\\\r", Some(b"aA\n\\\r")),
            ("x\\x4a\\x4A", Some(b"xJJ")),
            ("x\\x00y", Some(b"x\0y")),
            ("x\\t", None),
            ("x\\", None),
            ("x\\x4", None),
            ("x\\x4g", None),
        ];
        for (input, want) in cases {
            assert_eq!(
                decode_cstring(input.as_bytes()).as_deref(),
                *want,
                "{input:?}"
            );
        }
    }

    #[test]
    fn header_defaults_and_params() {
        let ka = parse("ka").unwrap();
        assert_eq!(ka, KeepAlive::new("ka"));
        let ka = parse(":\\n\\n; format=cstring; timeout=0; mode=interval").unwrap();
        assert_eq!(ka.data, ":\n\n");
        assert_eq!(ka.timeout, MIN_KEEP_ALIVE_TIMEOUT);
        assert_eq!(ka.mode, KeepAliveMode::Interval);
        assert_eq!(parse("aGk; format=base64").unwrap().data, "hi");
        assert_eq!(parse("\"a,b\"; timeout=7").unwrap().data, "\"a,b\"");
    }

    #[test]
    fn header_errors() {
        let cases = [
            ("; timeout=1", Error::EmptyKeepAlive),
            (
                "x; format=RAW",
                Error::BadKeepAliveFormat(Bytes::from_static(b"RAW")),
            ),
            (
                "x; mode=bogus",
                Error::BadKeepAliveMode(Bytes::from_static(b"bogus")),
            ),
            ("x; timeout", Error::BadKeepAliveTimeout),
            ("x; timeout=-1", Error::InvalidKeepAliveTimeout),
            ("%%; format=base64", Error::BadKeepAliveBase64),
            ("x\\q; format=cstring", Error::BadKeepAliveCstring),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input), Err(want), "{input:?}");
        }
    }

    #[test]
    fn render_picks_raw_or_cstring() {
        let mut ka = KeepAlive::new("ping");
        assert_eq!(render_header(&ka).unwrap(), "ping");
        ka.data = Bytes::from_static(b" a;\"\\\r\n\x01\xff");
        ka.timeout = 20;
        ka.mode = KeepAliveMode::Interval;
        let rendered = render_header(&ka).unwrap();
        assert_eq!(
            rendered,
            "\\x20a\\x3b\\x22\\\\\\r\\n\\x01\\xff; format=cstring; timeout=20; mode=interval"
        );
        assert_eq!(parse(std::str::from_utf8(&rendered).unwrap()).unwrap(), ka);
    }
}
