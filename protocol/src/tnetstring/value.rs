//! An owned tnetstring tree, for payloads whose shape is not fixed.
//!
//! Byte strings are `Bytes` views of the input, so a decoded tree shares the message's memory.
//! Decoding recurses once per nesting level, so it is bounded by [`Limits`]: depth, input size and
//! the total number of values (which bounds the tree's memory to a small multiple of the input).

use bytes::{Bytes, BytesMut};

use super::frame::{parse_frame, Frame, Type};
use super::{Error, Writer};

/// Bounds on what [`Value::decode_with`] accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Deepest container nesting: `[]` is 1, `[[]]` is 2.
    pub max_depth: usize,
    /// Largest encoded value, in bytes.
    pub max_size: usize,
    /// Most values in the whole tree, containers included.
    pub max_items: usize,
}

impl Limits {
    /// ZHTTP nests four levels and publish items six; 32 leaves room for `user-data` and `meta`
    /// while keeping recursion far from the stack's limit.
    pub const DEFAULT_MAX_DEPTH: usize = 32;
    /// Several-MiB ZMQ publishes must pass (§5.3); 64 MiB is well above any real message.
    pub const DEFAULT_MAX_SIZE: usize = 64 << 20;
    /// About 1 MiB of the smallest values (`0:~`); keeps a tree within ~100 bytes per input byte
    /// at worst.
    pub const DEFAULT_MAX_ITEMS: usize = 1 << 18;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: Self::DEFAULT_MAX_DEPTH,
            max_size: Self::DEFAULT_MAX_SIZE,
            max_items: Self::DEFAULT_MAX_ITEMS,
        }
    }
}

/// A decoded tnetstring value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `0:~`
    Null,
    /// `4:true!` or `5:false!`
    Bool(bool),
    /// `2:-3#`
    Int(i64),
    /// `3:1.5^`; always finite.
    Float(f64),
    /// `5:hello,`
    Bytes(Bytes),
    /// `]`
    List(Vec<Value>),
    /// `}`, entries in input order; a repeated key is kept as given.
    Dict(Vec<(Bytes, Value)>),
}

impl Value {
    /// Decodes exactly one value spanning all of `input`, within the default [`Limits`].
    pub fn decode(input: &Bytes) -> Result<Value, Error> {
        Self::decode_with(input, &Limits::default())
    }

    /// Decodes exactly one value spanning all of `input`.
    pub fn decode_with(input: &Bytes, limits: &Limits) -> Result<Value, Error> {
        let (value, used) = Self::decode_prefix(input, limits)?;
        if used == input.len() {
            Ok(value)
        } else {
            Err(Error::TrailingData)
        }
    }

    /// Decodes the value at the start of `input`; returns it and the bytes it spans.
    pub fn decode_prefix(input: &Bytes, limits: &Limits) -> Result<(Value, usize), Error> {
        let (frame, used) = match parse_frame(input) {
            Err(Error::Incomplete) if input.len() > limits.max_size => return Err(Error::TooLarge),
            other => other?,
        };
        if used > limits.max_size {
            return Err(Error::TooLarge);
        }
        let mut budget = Budget {
            items_left: limits.max_items,
            max_depth: limits.max_depth,
        };
        Ok((budget.build(input, frame, 0)?, used))
    }

    /// Builds a value from a frame of `input` (as met while walking a packet), within `limits`.
    /// Byte strings share `input`'s memory when the frame borrows from it.
    pub fn from_frame(input: &Bytes, frame: Frame<'_>, limits: &Limits) -> Result<Value, Error> {
        if frame.payload().len() > limits.max_size {
            return Err(Error::TooLarge);
        }
        let mut budget = Budget {
            items_left: limits.max_items,
            max_depth: limits.max_depth,
        };
        budget.build(input, frame, 0)
    }

    /// Appends this value's encoding to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        Writer::new(out).value(self);
    }

    /// This value's encoding.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out.freeze()
    }

    /// The value's type.
    pub fn ty(&self) -> Type {
        match self {
            Value::Null => Type::Null,
            Value::Bool(_) => Type::Bool,
            Value::Int(_) => Type::Int,
            Value::Float(_) => Type::Float,
            Value::Bytes(_) => Type::Bytes,
            Value::List(_) => Type::List,
            Value::Dict(_) => Type::Dict,
        }
    }

    /// The bytes of a byte string.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// A byte string that is valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// An integer.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// A float (an integer is widened).
    pub fn as_float(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// A boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// True for null.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The elements of a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    /// The entries of a dict.
    pub fn as_dict(&self) -> Option<&[(Bytes, Value)]> {
        match self {
            Value::Dict(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value of the first entry named `key`, if this is a dict that has one.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_dict()?
            .iter()
            .find(|(k, _)| k == key.as_bytes())
            .map(|(_, v)| v)
    }
}

/// What is left of the limits while a tree is being built.
struct Budget {
    items_left: usize,
    max_depth: usize,
}

impl Budget {
    fn build(&mut self, input: &Bytes, frame: Frame<'_>, depth: usize) -> Result<Value, Error> {
        self.items_left = self.items_left.checked_sub(1).ok_or(Error::TooManyItems)?;
        Ok(match frame.ty() {
            Type::Null => {
                frame.as_null()?;
                Value::Null
            }
            Type::Bool => Value::Bool(frame.as_bool()?),
            Type::Int => Value::Int(frame.as_int()?),
            Type::Float => Value::Float(frame.as_float()?),
            Type::Bytes => Value::Bytes(share(input, frame.payload())),
            Type::List => {
                let depth = self.enter(depth)?;
                let mut items = Vec::new();
                for item in frame.list()? {
                    items.push(self.build(input, item?, depth)?);
                }
                Value::List(items)
            }
            Type::Dict => {
                let depth = self.enter(depth)?;
                let mut entries = Vec::new();
                for entry in frame.dict()? {
                    let (key, value) = entry?;
                    entries.push((share(input, key), self.build(input, value, depth)?));
                }
                Value::Dict(entries)
            }
        })
    }

    fn enter(&self, depth: usize) -> Result<usize, Error> {
        let depth = depth + 1;
        if depth > self.max_depth {
            Err(Error::TooDeep)
        } else {
            Ok(depth)
        }
    }
}

/// `part` as `Bytes`: a view of `whole` when `part` lies inside it (the usual case, no copy),
/// a copy otherwise. Never panics, unlike `Bytes::slice_ref`.
pub(crate) fn share(whole: &Bytes, part: &[u8]) -> Bytes {
    let base = whole.as_ptr() as usize;
    let start = part.as_ptr() as usize;
    match start.checked_sub(base) {
        Some(offset)
            if offset
                .checked_add(part.len())
                .is_some_and(|end| end <= whole.len()) =>
        {
            whole.slice(offset..offset + part.len())
        }
        _ => Bytes::copy_from_slice(part),
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Bytes(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Bytes(Bytes::from(s))
    }
}

impl From<Bytes> for Value {
    fn from(b: Bytes) -> Self {
        Value::Bytes(b)
    }
}

impl From<&[u8]> for Value {
    fn from(b: &[u8]) -> Self {
        Value::Bytes(Bytes::copy_from_slice(b))
    }
}

impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Value::Bytes(Bytes::from(b))
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::List(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &'static [u8]) -> Result<Value, Error> {
        Value::decode(&Bytes::from_static(s))
    }

    #[test]
    fn nested_round_trip() {
        let wire = b"31:2:ab,2:12#4:true!0:~8:1:k,1:v,}]";
        let v = decode(wire).unwrap();
        assert_eq!(v.as_list().unwrap().len(), 5);
        assert_eq!(
            v.as_list().unwrap()[4].get("k").unwrap().as_str(),
            Some("v")
        );
        assert_eq!(v.to_bytes(), &wire[..]);
    }

    #[test]
    fn byte_strings_share_input() {
        let input = Bytes::from_static(b"8:1:k,1:v,}");
        let v = Value::decode(&input).unwrap();
        let b = v.get("k").unwrap().as_bytes().unwrap();
        assert_eq!(b.as_ptr(), input[8..].as_ptr());
    }

    #[test]
    fn limits() {
        let deep = Bytes::from_static(b"9:6:3:0:]]]]");
        let shallow = Limits {
            max_depth: 3,
            ..Limits::default()
        };
        assert_eq!(Value::decode_with(&deep, &shallow), Err(Error::TooDeep));
        let ok = Limits {
            max_depth: 4,
            ..Limits::default()
        };
        assert!(Value::decode_with(&deep, &ok).is_ok());

        let few = Limits {
            max_items: 3,
            ..Limits::default()
        };
        let four = Bytes::from_static(b"9:0:~0:~0:~]");
        assert_eq!(Value::decode_with(&four, &few), Err(Error::TooManyItems));

        let small = Limits {
            max_size: 4,
            ..Limits::default()
        };
        assert_eq!(
            Value::decode_with(&Bytes::from_static(b"5:hello,"), &small),
            Err(Error::TooLarge)
        );
        assert_eq!(
            Value::decode_with(&Bytes::from_static(b"99:hello"), &small),
            Err(Error::TooLarge)
        );
    }

    #[test]
    fn trailing_data() {
        assert_eq!(decode(b"0:~0:~"), Err(Error::TrailingData));
    }

    #[test]
    fn share_copies_foreign_slices() {
        let whole = Bytes::from_static(b"abcdef");
        let foreign = b"cd".to_vec();
        assert_eq!(share(&whole, &foreign), "cd");
        assert_eq!(share(&whole, &whole[2..4]).as_ptr(), whole[2..].as_ptr());
    }
}
