//! Writing tnetstrings.
//!
//! A container's length is known only after its payload is written, so [`Writer::list`] and
//! [`Writer::dict`] write the payload first, then move it right by the width of the prefix and put
//! the prefix in front: one `memmove` per container instead of a measuring pass over every field.
//! ZHTTP packets nest three deep, so a packet body moves at most three times.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};

use super::Value;

/// Appends tnetstring values to a buffer.
#[derive(Debug)]
pub struct Writer<'a> {
    out: &'a mut BytesMut,
}

impl<'a> Writer<'a> {
    /// A writer appending to `out`.
    pub fn new(out: &'a mut BytesMut) -> Self {
        Writer { out }
    }

    fn scalar(&mut self, payload: &[u8], type_byte: u8) {
        let mut digits = itoa::Buffer::new();
        let prefix = digits.format(payload.len()).as_bytes();
        self.out.reserve(prefix.len() + payload.len() + 2);
        self.out.put_slice(prefix);
        self.out.put_u8(b':');
        self.out.put_slice(payload);
        self.out.put_u8(type_byte);
    }

    /// A byte string.
    pub fn bytes(&mut self, b: &[u8]) {
        self.scalar(b, b',');
    }

    /// A byte string holding UTF-8 text.
    pub fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    /// An integer.
    pub fn int(&mut self, i: i64) {
        let mut digits = itoa::Buffer::new();
        self.scalar(digits.format(i).as_bytes(), b'#');
    }

    /// A float, in Rust's shortest round-trip form (`1.0`, `0.1`, `1e20`). A float that is not
    /// finite has no tnetstring form and is written as null.
    pub fn float(&mut self, f: f64) {
        if !f.is_finite() {
            return self.null();
        }
        let mut text = FloatText::default();
        // `{:?}` always marks a float as one ("1.0", not "1"); it cannot exceed FloatText's room.
        if write!(text, "{f:?}").is_ok() {
            self.scalar(text.as_bytes(), b'^');
        } else {
            self.null();
        }
    }

    /// A boolean.
    pub fn bool(&mut self, b: bool) {
        if b {
            self.out.put_slice(b"4:true!");
        } else {
            self.out.put_slice(b"5:false!");
        }
    }

    /// Null.
    pub fn null(&mut self) {
        self.out.put_slice(b"0:~");
    }

    /// A list whose elements `items` writes.
    pub fn list(&mut self, items: impl FnOnce(&mut Writer<'_>)) {
        self.container(b']', items);
    }

    /// A dict whose entries `entries` writes, each as a key ([`Writer::str`] or
    /// [`Writer::bytes`]) followed by its value.
    pub fn dict(&mut self, entries: impl FnOnce(&mut Writer<'_>)) {
        self.container(b'}', entries);
    }

    fn container(&mut self, type_byte: u8, payload: impl FnOnce(&mut Writer<'_>)) {
        let start = self.out.len();
        payload(&mut Writer { out: self.out });
        let len = self.out.len() - start;
        let mut digits = itoa::Buffer::new();
        let prefix = digits.format(len).as_bytes();
        let shift = prefix.len() + 1;
        self.out.put_bytes(0, shift);
        self.out.copy_within(start..start + len, start + shift);
        if let Some(head) = self.out.get_mut(start..start + shift) {
            head.copy_from_slice(prefix_with_colon(prefix).as_slice());
        }
        self.out.put_u8(type_byte);
    }

    /// Any value.
    pub fn value(&mut self, v: &Value) {
        match v {
            Value::Null => self.null(),
            Value::Bool(b) => self.bool(*b),
            Value::Int(i) => self.int(*i),
            Value::Float(f) => self.float(*f),
            Value::Bytes(b) => self.bytes(b),
            Value::List(items) => self.list(|w| items.iter().for_each(|item| w.value(item))),
            Value::Dict(entries) => self.dict(|w| {
                for (key, value) in entries {
                    w.bytes(key);
                    w.value(value);
                }
            }),
        }
    }
}

/// `digits` followed by `:`, on the stack (a length has at most 20 digits).
fn prefix_with_colon(digits: &[u8]) -> PrefixText {
    let mut p = PrefixText::default();
    for &d in digits.iter().chain(b":") {
        if let Some(slot) = p.buf.get_mut(p.len) {
            *slot = d;
            p.len += 1;
        }
    }
    p
}

#[derive(Default)]
struct PrefixText {
    buf: [u8; 21],
    len: usize,
}

impl PrefixText {
    fn as_slice(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

/// Room for the longest `{:?}` of an f64 ("-2.2250738585072014e-308" is 24 bytes).
#[derive(Default)]
struct FloatText {
    buf: [u8; 32],
    len: usize,
}

impl FloatText {
    fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

impl std::fmt::Write for FloatText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(f: impl FnOnce(&mut Writer<'_>)) -> BytesMut {
        let mut out = BytesMut::new();
        f(&mut Writer::new(&mut out));
        out
    }

    #[test]
    fn scalars() {
        assert_eq!(written(|w| w.str("hello")), &b"5:hello,"[..]);
        assert_eq!(written(|w| w.int(-3)), &b"2:-3#"[..]);
        assert_eq!(written(|w| w.float(1.5)), &b"3:1.5^"[..]);
        assert_eq!(written(|w| w.float(1.0)), &b"3:1.0^"[..]);
        assert_eq!(written(|w| w.float(f64::NAN)), &b"0:~"[..]);
        assert_eq!(written(|w| w.bool(true)), &b"4:true!"[..]);
        assert_eq!(written(|w| w.null()), &b"0:~"[..]);
    }

    #[test]
    fn spec_examples() {
        let out = written(|w| {
            w.dict(|w| {
                w.str("id");
                w.str("c1");
                w.str("method");
                w.str("get-zmq-uris");
            })
        });
        assert_eq!(out, &b"35:2:id,2:c1,6:method,12:get-zmq-uris,}"[..]);
        let out = written(|w| w.list(|_| {}));
        assert_eq!(out, &b"0:]"[..]);
    }

    #[test]
    fn container_after_existing_bytes() {
        let mut out = BytesMut::from(&b"T"[..]);
        Writer::new(&mut out).dict(|w| {
            w.str("a");
            w.list(|w| w.int(1));
        });
        assert_eq!(out, &b"T11:1:a,4:1:1#]}"[..]);
    }
}
