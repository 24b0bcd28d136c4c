//! The header-parameter syntax GRIP headers are written in (§4.2), and its inverse.
//!
//! `Grip-Channel: apple; prev-id=item1; filter=f1, banana` is a list of two *items*. An item is a
//! leading *value* (`apple`) followed by `;`-separated *parameters* (`prev-id=item1`). Items are
//! split on commas and parameters on semicolons, both only outside `"…"` quoted strings, in which a
//! backslash escapes the next byte. Every piece is trimmed of whitespace; empty items and empty
//! parameters are skipped. A parameter value that starts with `"` is unquoted; any other value,
//! and an item's leading value, is kept byte for byte. Pushpin behaves the same way: it keeps
//! quotes in a leading value (`Grip-Channel: "a"` names the channel `"a"`, quotes included), so
//! [`render_list`] refuses leading values it could not write back unchanged.
//!
//! Parsing never copies unless a quoted value holds an escape: every [`Bytes`] handed back is a
//! view of the input. [`Limits`] bound the number of items and of parameters per item.
//!
//! Differences from Pushpin 1.36 (observed by running it, see `vectors/grip.json`), all of which
//! turn input Pushpin silently mangles into an error:
//! - an unterminated quoted string is an error; Pushpin drops the item that holds it;
//! - text after a closing quote (`a="x"y`) is an error; Pushpin drops the text;
//! - `name=""` is the empty value, like `name=`; Pushpin reads it as if the parameter were absent.
//!
//! Whitespace is what Qt trims (space, `\t`, `\n`, `\v`, `\f`, `\r`), so that edge cases trim as
//! in Pushpin.

use bytes::Bytes;

use crate::tnetstring::share;

mod render;

pub(crate) use self::render::leading_value_ok;
pub use self::render::{render_item, render_list, render_param, render_value};

/// The most items one header value may list. GRIP headers carry a few; the cap only stops a
/// hostile backend from making a list whose per-item overhead dwarfs its input.
pub const MAX_ITEMS: usize = 1000;

/// The most parameters one item may carry. Pushpin's headers use three at most
/// (`prev-id`, repeated `filter`); the cap bounds the list for the same reason as [`MAX_ITEMS`].
pub const MAX_PARAMS: usize = 64;

/// Caps applied while parsing; [`Limits::default`] uses [`MAX_ITEMS`] and [`MAX_PARAMS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most items in one list.
    pub max_items: usize,
    /// The most parameters in one item.
    pub max_params: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_items: MAX_ITEMS,
            max_params: MAX_PARAMS,
        }
    }
}

/// Why a header value could not be parsed, or a value could not be written as one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A `"` opened a quoted string that the input never closes.
    #[error("unterminated quoted string")]
    UnterminatedQuote,
    /// Something other than whitespace follows the closing quote of a parameter value.
    #[error("text after closing quote")]
    TextAfterQuote,
    /// The list has more items than [`Limits::max_items`].
    #[error("too many items")]
    TooManyItems,
    /// An item has more parameters than [`Limits::max_params`].
    #[error("too many parameters")]
    TooManyParams,
    /// Rendering: the text holds a byte a header cannot carry (a control byte), or sits where its
    /// syntax would be read differently on the way back (a leading value with `,`, `;` or `"`).
    #[error("value cannot be written as a header parameter")]
    Unrepresentable,
}

impl Error {
    /// A stable snake_case id for this error, shared with the vectors and the SDKs.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::UnterminatedQuote => "unterminated_quote",
            Error::TextAfterQuote => "text_after_quote",
            Error::TooManyItems => "too_many_items",
            Error::TooManyParams => "too_many_params",
            Error::Unrepresentable => "unrepresentable",
        }
    }
}

/// One parameter: `name` alone (`value` is `None`) or `name=value`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Param {
    /// The name, trimmed, exactly as written (names are compared case-insensitively by users).
    pub name: Bytes,
    /// The value, trimmed and unquoted; `None` when the parameter has no `=`.
    pub value: Option<Bytes>,
}

/// One item of a list: its leading value and its parameters, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Item {
    /// The text before the first `;`, trimmed, quotes and backslashes kept as written.
    pub value: Bytes,
    /// The parameters after it, in order; a name may repeat.
    pub params: Vec<Param>,
}

// === impl Param ===

impl Param {
    /// A parameter with a value.
    pub fn new(name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        Self {
            name: name.into(),
            value: Some(value.into()),
        }
    }

    /// Parses one `name[=value]` segment. Also how `Grip-Set-Meta` reads an item's leading value.
    pub fn parse(segment: &Bytes) -> Result<Param, Error> {
        let text = trim(segment);
        let Some(eq) = find_unquoted(text, b'=')? else {
            return Ok(Param {
                name: share(segment, text),
                value: None,
            });
        };
        let (name, rest) = text.split_at_checked(eq).unwrap_or((text, &[]));
        let value = trim(rest.get(1..).unwrap_or_default());
        Ok(Param {
            name: share(segment, trim(name)),
            value: Some(unquote(segment, value)?),
        })
    }
}

// === impl Item ===

impl Item {
    /// The first parameter called `name` (ASCII case-insensitive).
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name.as_bytes()))
    }

    /// Every parameter called `name` (ASCII case-insensitive), in order.
    pub fn params_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Param> + 'a {
        self.params
            .iter()
            .filter(move |p| p.name.eq_ignore_ascii_case(name.as_bytes()))
    }
}

// === parsing ===

/// Splits a comma-separated list into its trimmed, non-empty items, without looking inside them.
/// `Grip-Expose-Headers` is read this way: its items are header names, not parameter lists.
pub fn split_list(input: &Bytes, limits: &Limits) -> Result<Vec<Bytes>, Error> {
    let mut items = Vec::new();
    for piece in Segments::new(input, b',') {
        let piece = trim(piece?);
        if piece.is_empty() {
            continue;
        }
        if items.len() == limits.max_items {
            return Err(Error::TooManyItems);
        }
        items.push(share(input, piece));
    }
    Ok(items)
}

/// Parses the whole input as one item; commas are part of the leading value or of parameters.
/// `Grip-Keep-Alive` is read this way, so its data may hold commas.
pub fn parse_item(input: &Bytes, limits: &Limits) -> Result<Item, Error> {
    let mut segments = Segments::new(input, b';');
    let value = match segments.next() {
        Some(first) => share(input, trim(first?)),
        None => Bytes::new(),
    };
    let mut params = Vec::new();
    for segment in segments {
        let segment = trim(segment?);
        if segment.is_empty() {
            continue;
        }
        if params.len() == limits.max_params {
            return Err(Error::TooManyParams);
        }
        params.push(Param::parse(&share(input, segment))?);
    }
    Ok(Item { value, params })
}

/// Parses a comma-separated list of items (`Grip-Channel`, `Grip-Link`, `Grip-Set-Meta`).
pub fn parse_list(input: &Bytes, limits: &Limits) -> Result<Vec<Item>, Error> {
    split_list(input, limits)?
        .iter()
        .map(|item| parse_item(item, limits))
        .collect()
}

/// Splits `input` on `sep` outside quoted strings. The last piece reports an unterminated quote.
struct Segments<'a> {
    rest: Option<&'a [u8]>,
    sep: u8,
}

impl<'a> Segments<'a> {
    fn new(input: &'a [u8], sep: u8) -> Self {
        Self {
            rest: Some(input),
            sep,
        }
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = Result<&'a [u8], Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest.take()?;
        match find_unquoted(rest, self.sep) {
            Err(e) => Some(Err(e)),
            Ok(None) => Some(Ok(rest)),
            Ok(Some(at)) => {
                let (piece, tail) = rest.split_at_checked(at).unwrap_or((rest, &[]));
                self.rest = Some(tail.get(1..).unwrap_or_default());
                Some(Ok(piece))
            }
        }
    }
}

/// The index of the first `sep` outside a quoted string. A `"` anywhere opens a quoted string
/// (Pushpin reads `a"b,c"` as one item), and inside one a backslash escapes the next byte.
fn find_unquoted(input: &[u8], sep: u8) -> Result<Option<usize>, Error> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, &b) in input.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted {
            match b {
                b'\\' => escaped = true,
                b'"' => quoted = false,
                _ => {}
            }
        } else if b == b'"' {
            quoted = true;
        } else if b == sep {
            return Ok(Some(i));
        }
    }
    if quoted {
        Err(Error::UnterminatedQuote)
    } else {
        Ok(None)
    }
}

/// A parameter value: unquoted when it starts with `"`, else the bytes as written.
fn unquote(whole: &Bytes, value: &[u8]) -> Result<Bytes, Error> {
    let Some((b'"', inner)) = value.split_first() else {
        return Ok(share(whole, value));
    };
    let mut out: Option<Vec<u8>> = None; // allocated only once an escape is seen
    let mut bytes = inner.iter().enumerate();
    while let Some((i, &b)) = bytes.next() {
        match b {
            b'"' => {
                if inner.get(i + 1..).is_some_and(|after| !after.is_empty()) {
                    return Err(Error::TextAfterQuote);
                }
                return Ok(match out {
                    Some(unescaped) => Bytes::from(unescaped),
                    None => share(whole, inner.get(..i).unwrap_or_default()),
                });
            }
            b'\\' => {
                let unescaped =
                    out.get_or_insert_with(|| inner.get(..i).unwrap_or_default().to_vec());
                let Some((_, &next)) = bytes.next() else {
                    break;
                };
                unescaped.push(next);
            }
            _ => {
                if let Some(unescaped) = out.as_mut() {
                    unescaped.push(b);
                }
            }
        }
    }
    Err(Error::UnterminatedQuote)
}

/// Whitespace as Qt's `trimmed()` sees it.
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `input` without leading and trailing whitespace.
pub(crate) fn trim(input: &[u8]) -> &[u8] {
    let start = input.iter().position(|&b| !is_space(b));
    let end = input.iter().rposition(|&b| !is_space(b));
    match (start, end) {
        (Some(s), Some(e)) => input.get(s..=e).unwrap_or_default(),
        _ => &[],
    }
}

/// A decimal `i32` as Pushpin reads numbers in headers (Qt's `toInt`): surrounding whitespace and
/// a `+` or `-` sign are allowed, nothing else. `None` when it is not such a number or overflows.
pub(crate) fn parse_int(input: &[u8]) -> Option<i32> {
    let text = trim(input);
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let magnitude = digits.iter().try_fold(0i64, |n, &d| {
        n.checked_mul(10)?.checked_add(i64::from(d - b'0'))
    })?;
    i32::try_from(if negative { -magnitude } else { magnitude }).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    /// An item spelled as `value; name=value; name` for compact expectations.
    fn show(item: &Item) -> String {
        let mut s = String::from_utf8_lossy(&item.value).into_owned();
        for p in &item.params {
            s.push_str(" |");
            s.push_str(&String::from_utf8_lossy(&p.name));
            if let Some(v) = &p.value {
                s.push('=');
                s.push_str(&String::from_utf8_lossy(v));
            }
        }
        s
    }

    fn list(input: &str) -> Result<Vec<String>, Error> {
        Ok(parse_list(&b(input), &Limits::default())?
            .iter()
            .map(show)
            .collect())
    }

    #[test]
    fn lists_parse_like_pushpin() {
        let cases: &[(&str, &[&str])] = &[
            (
                "apple; prev-id=item1; filter=f1, banana",
                &["apple |prev-id=item1 |filter=f1", "banana"],
            ),
            ("a,,b", &["a", "b"]),
            (" a ;  prev-id  =  x ", &["a |prev-id=x"]),
            ("a;;b=c", &["a |b=c"]),
            ("a; prev-id", &["a |prev-id"]),
            ("a; prev-id=", &["a |prev-id="]),
            ("a; prev-id=\"\"", &["a |prev-id="]),
            ("\"q,r\"", &["\"q,r\""]),
            ("a\"b,c\"", &["a\"b,c\""]),
            ("m; k=\"a, b\"", &["m |k=a, b"]),
            ("m; k=\"q\\\"x\"", &["m |k=q\"x"]),
            ("m; k=\"a\\\\b\\c\"", &["m |k=a\\bc"]),
            ("m; k=x\"y,z\"", &["m |k=x\"y,z\""]),
            ("m; k=a=b", &["m |k=a=b"]),
            ("; prev-id=x", &[" |prev-id=x"]),
            ("", &[]),
            (" , ", &[]),
        ];
        for (input, want) in cases {
            let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
            assert_eq!(list(input), Ok(want), "input {input:?}");
        }
    }

    #[test]
    fn malformed_lists_fail() {
        let cases = [
            ("a; prev-id=\"x", Error::UnterminatedQuote),
            ("\"b", Error::UnterminatedQuote),
            ("a; k=\"x\\", Error::UnterminatedQuote),
            ("a; k=\"x\"y", Error::TextAfterQuote),
        ];
        for (input, want) in cases {
            assert_eq!(list(input), Err(want), "input {input:?}");
        }
    }

    #[test]
    fn views_share_the_input() {
        let input = b("chan; prev-id=\"abc\"");
        let items = parse_list(&input, &Limits::default()).unwrap();
        let value = items[0].params[0].value.as_ref().unwrap();
        assert_eq!(value, "abc");
        let inside = input.as_ptr() as usize..input.as_ptr() as usize + input.len();
        assert!(inside.contains(&(value.as_ptr() as usize)));
    }

    #[test]
    fn item_keeps_commas() {
        let item = parse_item(&b("x, y; format=bogus, z"), &Limits::default()).unwrap();
        assert_eq!(show(&item), "x, y |format=bogus, z");
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits {
            max_items: 2,
            max_params: 1,
        };
        assert_eq!(parse_list(&b("a, b, c"), &limits), Err(Error::TooManyItems));
        assert_eq!(
            parse_list(&b("a; x=1; y=2"), &limits),
            Err(Error::TooManyParams)
        );
        assert_eq!(split_list(&b("a, b"), &limits).unwrap().len(), 2);
    }

    #[test]
    fn integers_read_like_qt() {
        let cases = [
            ("10", Some(10)),
            (" 10 ", Some(10)),
            ("+10", Some(10)),
            ("-0", Some(0)),
            ("010", Some(10)),
            ("-2147483648", Some(i32::MIN)),
            ("2147483647", Some(i32::MAX)),
            ("2147483648", None),
            ("1 0", None),
            ("0x10", None),
            ("1.5", None),
            ("-", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_int(input.as_bytes()), want, "input {input:?}");
        }
    }
}
