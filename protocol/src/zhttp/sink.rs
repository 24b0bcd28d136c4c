//! Encoding: each packet lists its fields once, in the order of [`Field`], to a [`Sink`].
//!
//! Two sinks read that list: [`Measure`] adds up the encoded size, and the tnetstring
//! [`Writer`] writes. An encoder measures, reserves once, then writes, so a packet costs one
//! buffer growth at most, and the size and the bytes cannot disagree because both come from the
//! same list. The one inexact case: a float inside `user-data` or `passthrough` is measured at its
//! longest form (24 bytes), as its shortest form is only known once formatted.
//!
//! A field that is not set is not written: `None`, `false`, an empty body, empty headers, an
//! empty [`Ext`] and [`PacketType::Data`] all mean "absent" on the wire.

use bytes::Bytes;

use super::{ext, id, Condition, ContentType, Ext, Field, Id, PacketType};
use crate::headers::Headers;
use crate::tnetstring::{Value, Writer};

/// Receives a packet's fields in wire order.
pub(crate) trait Sink {
    fn bytes(&mut self, field: Field, value: Option<&[u8]>);
    fn int(&mut self, field: Field, value: Option<i64>);
    /// A flag, written only when true.
    fn flag(&mut self, field: Field, value: bool);
    fn value(&mut self, field: Field, value: Option<&Value>);
    fn headers(&mut self, headers: &Headers);
    fn id(&mut self, id: &Id);
    fn ext(&mut self, ext: &Ext);

    /// `type`, absent for data.
    fn packet_type(&mut self, ty: PacketType) {
        let name = (ty != PacketType::Data).then(|| ty.as_str().as_bytes());
        self.bytes(Field::Type, name);
    }

    fn condition(&mut self, condition: Option<&Condition>) {
        self.bytes(Field::Condition, condition.map(Condition::as_bytes));
    }

    fn content_type(&mut self, ct: Option<ContentType>) {
        self.bytes(Field::ContentType, ct.map(|ct| ct.as_str().as_bytes()));
    }

    /// `body`, absent when empty.
    fn body(&mut self, body: &Bytes) {
        self.bytes(Field::Body, (!body.is_empty()).then_some(body.as_ref()));
    }
}

/// The decimal digits of `n`.
fn digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// The encoded size of a tnetstring whose payload is `payload` bytes.
pub(crate) fn framed_len(payload: usize) -> usize {
    digits(payload as u64) + payload + 2
}

fn int_len(i: i64) -> usize {
    framed_len(digits(i.unsigned_abs()) + usize::from(i < 0))
}

/// The encoded size of a value; a float counts as its longest `{:?}` form.
fn value_len(value: &Value) -> usize {
    match value {
        Value::Null => 3,
        Value::Bool(b) => framed_len(if *b { 4 } else { 5 }),
        Value::Int(i) => int_len(*i),
        Value::Float(_) => framed_len(24),
        Value::Bytes(b) => framed_len(b.len()),
        Value::List(items) => framed_len(items.iter().map(value_len).sum()),
        Value::Dict(entries) => framed_len(
            entries
                .iter()
                .map(|(k, v)| framed_len(k.len()) + value_len(v))
                .sum(),
        ),
    }
}

/// Adds up the encoded size of a dict's payload.
#[derive(Default)]
pub(crate) struct Measure(pub(crate) usize);

impl Measure {
    fn key(&mut self, field: Field, value_len: usize) {
        self.0 += framed_len(field.name().len()) + value_len;
    }
}

impl Sink for Measure {
    fn bytes(&mut self, field: Field, value: Option<&[u8]>) {
        if let Some(value) = value {
            self.key(field, framed_len(value.len()));
        }
    }

    fn int(&mut self, field: Field, value: Option<i64>) {
        if let Some(value) = value {
            self.key(field, int_len(value));
        }
    }

    fn flag(&mut self, field: Field, value: bool) {
        if value {
            self.key(field, framed_len(4));
        }
    }

    fn value(&mut self, field: Field, value: Option<&Value>) {
        if let Some(value) = value {
            self.key(field, value_len(value));
        }
    }

    fn headers(&mut self, headers: &Headers) {
        if !headers.is_empty() {
            let list = headers
                .iter()
                .map(|(n, v)| framed_len(framed_len(n.len()) + framed_len(v.len())))
                .sum();
            self.key(Field::Headers, framed_len(list));
        }
    }

    fn id(&mut self, id: &Id) {
        self.key(Field::Id, id::value_len(id));
    }

    fn ext(&mut self, ext: &Ext) {
        if !ext.is_empty() {
            self.key(Field::Ext, ext::value_len(ext));
        }
    }
}

/// Writes the fields with a tnetstring [`Writer`].
pub(crate) struct Emit<'w, 'o>(pub(crate) &'w mut Writer<'o>);

impl Emit<'_, '_> {
    fn key(&mut self, field: Field) {
        self.0.str(field.name());
    }
}

impl Sink for Emit<'_, '_> {
    fn bytes(&mut self, field: Field, value: Option<&[u8]>) {
        if let Some(value) = value {
            self.key(field);
            self.0.bytes(value);
        }
    }

    fn int(&mut self, field: Field, value: Option<i64>) {
        if let Some(value) = value {
            self.key(field);
            self.0.int(value);
        }
    }

    fn flag(&mut self, field: Field, value: bool) {
        if value {
            self.key(field);
            self.0.bool(true);
        }
    }

    fn value(&mut self, field: Field, value: Option<&Value>) {
        if let Some(value) = value {
            self.key(field);
            self.0.value(value);
        }
    }

    fn headers(&mut self, headers: &Headers) {
        if headers.is_empty() {
            return;
        }
        self.key(Field::Headers);
        self.0.list(|w| {
            for (name, value) in headers.iter() {
                w.list(|w| {
                    w.bytes(name);
                    w.bytes(value);
                });
            }
        });
    }

    fn id(&mut self, id: &Id) {
        self.key(Field::Id);
        id::write_value(self.0, id);
    }

    fn ext(&mut self, ext: &Ext) {
        if !ext.is_empty() {
            self.key(Field::Ext);
            ext::write_value(self.0, ext);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    fn fill(s: &mut dyn Sink) {
        let mut headers = Headers::new();
        headers.push("Content-Type", "text/plain");
        headers.push("X-Empty", "");
        let user_data = Value::List(vec![
            Value::Null,
            Value::Bool(false),
            Value::Int(-12),
            Value::Int(i64::MIN),
            Value::Dict(vec![(Bytes::from_static(b"k"), Value::from("v"))]),
        ]);
        s.bytes(Field::From, Some(b"w1"));
        s.id(&Id::from("r7"));
        s.int(Field::Seq, Some(0));
        s.packet_type(PacketType::KeepAlive);
        s.condition(Some(&Condition::from("x")));
        s.headers(&headers);
        s.body(&Bytes::from_static(b"0123456789"));
        s.content_type(Some(ContentType::Binary));
        s.flag(Field::More, true);
        s.flag(Field::Stream, false);
        s.int(Field::Credits, Some(1_000_000));
        s.value(Field::UserData, Some(&user_data));
        s.ext(&Ext {
            multi: true,
            quiet: false,
        });
    }

    #[test]
    fn measure_matches_emit() {
        let mut measure = Measure::default();
        fill(&mut measure);
        let mut out = BytesMut::new();
        Writer::new(&mut out).dict(|w| fill(&mut Emit(w)));
        assert_eq!(framed_len(measure.0), out.len());
    }

    #[test]
    fn lengths_count_digits_and_signs() {
        assert_eq!(framed_len(0), 3);
        assert_eq!(framed_len(9), 12);
        assert_eq!(framed_len(10), 14);
        assert_eq!(int_len(0), 4);
        assert_eq!(int_len(-3), 5);
        assert_eq!(int_len(i64::MIN), 24);
        assert_eq!(value_len(&Value::Float(-2.2250738585072014e-308)), 28);
    }
}
