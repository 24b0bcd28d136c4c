//! Zero-copy, lazy parsing of one tnetstring value.
//!
//! [`parse_frame`] reads the length prefix and type byte and hands back the payload as a borrowed
//! slice; scalars are checked only when read, containers only as far as they are walked. This is
//! what lets a ZHTTP packet be decoded without building a tree: its decoder walks the top dict once
//! and ignores the fields it does not know without looking inside them.

use std::fmt;

use super::Error;

/// The longest length prefix accepted, in digits: ten digits cover any size this crate accepts,
/// and the cap stops a flood of digits from being read as one number.
pub const MAX_LENGTH_DIGITS: usize = 10;

/// The type of a tnetstring value, named by its type byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// `,` a byte string.
    Bytes,
    /// `#` a decimal integer.
    Int,
    /// `^` a decimal float.
    Float,
    /// `!` `true` or `false`.
    Bool,
    /// `~` null, with an empty payload.
    Null,
    /// `]` a list of values.
    List,
    /// `}` a dict of byte-string keys and values.
    Dict,
}

impl Type {
    /// The type for a type byte, if it is one.
    pub fn from_byte(byte: u8) -> Option<Type> {
        Some(match byte {
            b',' => Type::Bytes,
            b'#' => Type::Int,
            b'^' => Type::Float,
            b'!' => Type::Bool,
            b'~' => Type::Null,
            b']' => Type::List,
            b'}' => Type::Dict,
            _ => return None,
        })
    }

    /// The type byte that ends a value of this type.
    pub fn byte(self) -> u8 {
        match self {
            Type::Bytes => b',',
            Type::Int => b'#',
            Type::Float => b'^',
            Type::Bool => b'!',
            Type::Null => b'~',
            Type::List => b']',
            Type::Dict => b'}',
        }
    }

    /// A human name for messages: "byte string", "integer", …
    pub fn name(self) -> &'static str {
        match self {
            Type::Bytes => "byte string",
            Type::Int => "integer",
            Type::Float => "float",
            Type::Bool => "boolean",
            Type::Null => "null",
            Type::List => "list",
            Type::Dict => "dict",
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One tnetstring value, borrowed from the input. Scalars are validated when read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    ty: Type,
    payload: &'a [u8],
}

/// Parses the value at the start of `input`, returning it and the number of bytes it spans.
///
/// [`Error::Incomplete`] means `input` is a valid beginning that ends too soon, so a caller reading
/// a stream can wait for more bytes; every other error is final.
pub fn parse_frame(input: &[u8]) -> Result<(Frame<'_>, usize), Error> {
    let colon = match input
        .iter()
        .take(MAX_LENGTH_DIGITS + 1)
        .position(|&b| b == b':')
    {
        Some(colon) => colon,
        None if input.len() <= MAX_LENGTH_DIGITS && input.iter().all(u8::is_ascii_digit) => {
            return Err(Error::Incomplete)
        }
        None => return Err(Error::BadLength),
    };
    let digits = input.get(..colon).ok_or(Error::BadLength)?;
    let len = parse_length(digits)?;
    let start = colon + 1;
    let end = start.checked_add(len).ok_or(Error::BadLength)?;
    let Some(&type_byte) = input.get(end) else {
        return Err(Error::Incomplete);
    };
    let ty = Type::from_byte(type_byte).ok_or(Error::UnknownType(type_byte))?;
    let payload = input.get(start..end).ok_or(Error::Incomplete)?;
    Ok((Frame { ty, payload }, end + 1))
}

/// A netstring length: decimal, no sign, no leading zero (as netstrings define it, and as
/// Python's `tnetstring3` checks).
fn parse_length(digits: &[u8]) -> Result<usize, Error> {
    if digits.is_empty() || (digits.len() > 1 && digits.first() == Some(&b'0')) {
        return Err(Error::BadLength);
    }
    digits.iter().try_fold(0usize, |n, &d| {
        if !d.is_ascii_digit() {
            return Err(Error::BadLength);
        }
        n.checked_mul(10)
            .and_then(|n| n.checked_add(usize::from(d - b'0')))
            .ok_or(Error::BadLength)
    })
}

impl<'a> Frame<'a> {
    /// The value's type.
    pub fn ty(&self) -> Type {
        self.ty
    }

    /// The raw payload between the length prefix and the type byte.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    fn expect(&self, expected: Type) -> Result<&'a [u8], Error> {
        if self.ty == expected {
            Ok(self.payload)
        } else {
            Err(Error::WrongType {
                expected,
                found: self.ty,
            })
        }
    }

    /// The bytes of a byte string.
    pub fn as_bytes(&self) -> Result<&'a [u8], Error> {
        self.expect(Type::Bytes)
    }

    /// An integer.
    pub fn as_int(&self) -> Result<i64, Error> {
        parse_int(self.expect(Type::Int)?)
    }

    /// An integer, or a byte string holding one (Pushpin itself emits `peer-port` as
    /// `5:40290,`, and its parser converts such strings silently, §1).
    pub fn as_int_lenient(&self) -> Result<i64, Error> {
        match self.ty {
            Type::Bytes => parse_int(self.payload),
            _ => self.as_int(),
        }
    }

    /// A float; an integer is widened to a float too.
    pub fn as_float(&self) -> Result<f64, Error> {
        match self.ty {
            Type::Float => parse_float(self.payload),
            Type::Int => self.as_int().map(|i| i as f64),
            found => Err(Error::WrongType {
                expected: Type::Float,
                found,
            }),
        }
    }

    /// A boolean.
    pub fn as_bool(&self) -> Result<bool, Error> {
        match self.expect(Type::Bool)? {
            b"true" => Ok(true),
            b"false" => Ok(false),
            _ => Err(Error::BadBool),
        }
    }

    /// Checks that this is a well-formed null.
    pub fn as_null(&self) -> Result<(), Error> {
        if self.expect(Type::Null)?.is_empty() {
            Ok(())
        } else {
            Err(Error::BadNull)
        }
    }

    /// The elements of a list, parsed one at a time.
    pub fn list(&self) -> Result<ListIter<'a>, Error> {
        Ok(ListIter {
            rest: self.expect(Type::List)?,
        })
    }

    /// The entries of a dict, parsed one at a time. Duplicate keys are all returned, in order.
    pub fn dict(&self) -> Result<DictIter<'a>, Error> {
        Ok(DictIter {
            rest: self.expect(Type::Dict)?,
        })
    }
}

/// Parses a decimal `i64`: an optional `-`, then at least one digit.
pub(crate) fn parse_int(text: &[u8]) -> Result<i64, Error> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() {
        return Err(Error::BadInt);
    }
    // Accumulate towards the sign so that i64::MIN parses.
    digits.iter().try_fold(0i64, |n, &d| {
        if !d.is_ascii_digit() {
            return Err(Error::BadInt);
        }
        let d = i64::from(d - b'0');
        let n = n.checked_mul(10).ok_or(Error::BadInt)?;
        if negative {
            n.checked_sub(d)
        } else {
            n.checked_add(d)
        }
        .ok_or(Error::BadInt)
    })
}

fn parse_float(text: &[u8]) -> Result<f64, Error> {
    let text = std::str::from_utf8(text).map_err(|_| Error::BadFloat)?;
    // Rust's parser also takes "inf" and "NaN"; neither has a meaning in a message.
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(f),
        _ => Err(Error::BadFloat),
    }
}

/// The elements of a list. A malformed element ends the iteration with its error.
#[derive(Clone, Debug)]
pub struct ListIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for ListIter<'a> {
    type Item = Result<Frame<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        Some(next_frame(&mut self.rest))
    }
}

/// The entries of a dict. A malformed entry ends the iteration with its error.
#[derive(Clone, Debug)]
pub struct DictIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for DictIter<'a> {
    type Item = Result<(&'a [u8], Frame<'a>), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let entry = next_frame(&mut self.rest).and_then(|key| {
            if key.ty != Type::Bytes {
                return Err(Error::BadKey);
            }
            if self.rest.is_empty() {
                return Err(Error::MissingValue);
            }
            Ok((key.payload, next_frame(&mut self.rest)?))
        });
        if entry.is_err() {
            self.rest = &[];
        }
        Some(entry)
    }
}

/// Takes one element off the front of a container's payload. The container's own length said the
/// payload was complete, so an element running past it is a bad length, not "read more".
fn next_frame<'a>(rest: &mut &'a [u8]) -> Result<Frame<'a>, Error> {
    match parse_frame(rest) {
        Ok((frame, used)) => {
            *rest = rest.get(used..).unwrap_or_default();
            Ok(frame)
        }
        Err(e) => {
            *rest = &[];
            Err(match e {
                Error::Incomplete => Error::BadLength,
                e => e,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(input: &[u8]) -> Frame<'_> {
        let (f, used) = parse_frame(input).unwrap();
        assert_eq!(used, input.len());
        f
    }

    #[test]
    fn scalars() {
        assert_eq!(frame(b"5:hello,").as_bytes().unwrap(), b"hello");
        assert_eq!(frame(b"2:-3#").as_int().unwrap(), -3);
        assert_eq!(frame(b"3:1.5^").as_float().unwrap(), 1.5);
        assert!(frame(b"4:true!").as_bool().unwrap());
        assert!(!frame(b"5:false!").as_bool().unwrap());
        frame(b"0:~").as_null().unwrap();
    }

    #[test]
    fn int_edges() {
        assert_eq!(parse_int(b"-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_int(b"9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_int(b"9223372036854775808"), Err(Error::BadInt));
        for bad in [&b""[..], b"-", b"+1", b"1a", b" 1"] {
            assert_eq!(parse_int(bad), Err(Error::BadInt), "{bad:?}");
        }
    }

    #[test]
    fn lenient_int_reads_digit_strings() {
        assert_eq!(frame(b"5:40290,").as_int_lenient().unwrap(), 40290);
        assert_eq!(frame(b"5:40290#").as_int_lenient().unwrap(), 40290);
        assert_eq!(
            frame(b"5:40290,").as_int(),
            Err(Error::WrongType {
                expected: Type::Int,
                found: Type::Bytes
            })
        );
    }

    #[test]
    fn incomplete_vs_invalid_prefix() {
        assert_eq!(parse_frame(b""), Err(Error::Incomplete));
        assert_eq!(parse_frame(b"12"), Err(Error::Incomplete));
        assert_eq!(parse_frame(b"5:hel"), Err(Error::Incomplete));
        assert_eq!(parse_frame(b"5:hello"), Err(Error::Incomplete));
        assert_eq!(parse_frame(b"12345678901:"), Err(Error::BadLength));
        assert_eq!(parse_frame(b"x:"), Err(Error::BadLength));
        assert_eq!(parse_frame(b"05:hello,"), Err(Error::BadLength));
        assert!(parse_frame(b"0:~").is_ok());
        assert_eq!(parse_frame(b":x,"), Err(Error::BadLength));
        assert_eq!(parse_frame(b"1:xX"), Err(Error::UnknownType(b'X')));
    }

    #[test]
    fn dict_walk() {
        let f = frame(b"16:1:k,1:v,1:n,1:1#}");
        let entries: Vec<_> = f.dict().unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].0, b"k");
        assert_eq!(entries[1].1.as_int().unwrap(), 1);
    }

    #[test]
    fn dict_errors_end_iteration() {
        let mut it = frame(b"7:1:1#0:~}").dict().unwrap();
        assert_eq!(it.next(), Some(Err(Error::BadKey)));
        assert_eq!(it.next(), None);
        let mut it = frame(b"4:1:k,}").dict().unwrap();
        assert_eq!(it.next(), Some(Err(Error::MissingValue)));
        let mut it = frame(b"4:9:k,]").list().unwrap();
        assert_eq!(it.next(), Some(Err(Error::BadLength)));
    }
}
