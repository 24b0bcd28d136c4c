//! The `id` field (§2.2): one request id, or the multi form, a list of `{id, seq}` dicts that
//! lets one keep-alive or credit packet speak for many sessions (§2.3).
//!
//! The multi form is bounded by [`super::Limits::max_ids`] and must not be empty. Inside an
//! entry, `id` is required, `seq` optional, other keys ignored and repeats refused, as in the
//! packet itself.

use bytes::Bytes;

use super::field::Reader;
use super::sink::{framed_len, Emit, Measure, Sink};
use super::{Error, Field};
use crate::tnetstring::Writer;

/// A packet's `id`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Id {
    /// One id; the packet's sequence number is its `seq` field.
    Single(Bytes),
    /// The multi form: each entry carries its own sequence number.
    Multi(Vec<IdEntry>),
}

/// One entry of the multi form of `id`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct IdEntry {
    /// The request id.
    pub id: Bytes,
    /// That session's sequence number for this packet.
    pub seq: Option<u32>,
}

impl Default for Id {
    /// An empty single id, to be filled in.
    fn default() -> Self {
        Id::Single(Bytes::new())
    }
}

impl Id {
    /// The id of the single form.
    pub fn as_single(&self) -> Option<&Bytes> {
        match self {
            Id::Single(id) => Some(id),
            Id::Multi(_) => None,
        }
    }

    /// True for the multi form.
    pub fn is_multi(&self) -> bool {
        matches!(self, Id::Multi(_))
    }
}

impl From<Bytes> for Id {
    fn from(id: Bytes) -> Self {
        Id::Single(id)
    }
}

impl From<&str> for Id {
    fn from(id: &str) -> Self {
        Id::Single(Bytes::copy_from_slice(id.as_bytes()))
    }
}

impl From<Vec<IdEntry>> for Id {
    fn from(entries: Vec<IdEntry>) -> Self {
        Id::Multi(entries)
    }
}

const ID_FORMS: &str = "a byte string or a non-empty list of {id, seq} dicts";
const ENTRY_ID: &str = "id[].id";
const ENTRY_SEQ: &str = "id[].seq";

pub(crate) fn read(r: &Reader<'_>, max_ids: usize) -> Result<Id, Error> {
    let frame = r.frame();
    if let Ok(list) = frame.list() {
        // Counted first: an over-long list is refused before anything is allocated.
        let count = list.clone().count();
        if count > max_ids {
            return Err(Error::TooManyIds { max: max_ids });
        }
        if count == 0 {
            return Err(r.bad_value(ID_FORMS));
        }
        let mut entries = Vec::with_capacity(count);
        for item in list {
            let item = item.map_err(Error::Tnetstring)?;
            entries.push(read_entry(&Reader::new(Field::Id.name(), item, r.input()))?);
        }
        return Ok(Id::Multi(entries));
    }
    r.bytes().map(Id::Single).map_err(|e| match e {
        Error::WrongType { field, .. } => Error::WrongType {
            field,
            expected: ID_FORMS,
        },
        e => e,
    })
}

fn read_entry(r: &Reader<'_>) -> Result<IdEntry, Error> {
    let entries = r.frame().dict().map_err(r.wrong_type(ID_FORMS))?;
    let (mut id, mut seq) = (None, None);
    for entry in entries {
        let (key, value) = entry.map_err(Error::Tnetstring)?;
        let reader = |name| Reader::new(name, value, r.input());
        match key {
            b"id" if id.is_some() => return Err(Error::DuplicateField { field: ENTRY_ID }),
            b"id" => id = Some(reader(ENTRY_ID).bytes()?),
            b"seq" if seq.is_some() => return Err(Error::DuplicateField { field: ENTRY_SEQ }),
            b"seq" => seq = Some(reader(ENTRY_SEQ).u32()?),
            _ => {}
        }
    }
    let id = id.ok_or(Error::MissingField { field: ENTRY_ID })?;
    Ok(IdEntry { id, seq })
}

/// The encoded size of the `id` value.
pub(crate) fn value_len(id: &Id) -> usize {
    match id {
        Id::Single(id) => framed_len(id.len()),
        Id::Multi(entries) => framed_len(entries.iter().map(entry_len).sum()),
    }
}

fn entry_len(entry: &IdEntry) -> usize {
    let mut m = Measure::default();
    m.bytes(Field::Id, Some(&entry.id));
    m.int(Field::Seq, entry.seq.map(i64::from));
    framed_len(m.0)
}

/// Writes the `id` value; entries as `{id, seq}`, `seq` only when set.
pub(crate) fn write_value(w: &mut Writer<'_>, id: &Id) {
    match id {
        Id::Single(id) => w.bytes(id),
        Id::Multi(entries) => w.list(|w| {
            for entry in entries {
                w.dict(|w| {
                    let mut e = Emit(w);
                    e.bytes(Field::Id, Some(&entry.id));
                    e.int(Field::Seq, entry.seq.map(i64::from));
                });
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tnetstring::parse_frame;

    fn read_id(wire: &'static [u8], max: usize) -> Result<Id, Error> {
        let input = Bytes::from_static(wire);
        let (frame, _) = parse_frame(&input).unwrap();
        read(&Reader::new("id", frame, &input), max)
    }

    #[test]
    fn single_and_multi() {
        assert_eq!(read_id(b"2:r7,", 4), Ok(Id::from("r7")));
        let bad = read_id(b"35:19:2:id,1:a,3:seq,1:3#}9:2:id,1:bX}]", 4);
        assert_eq!(bad.unwrap_err().kind(), "tnetstring");
        let multi = read_id(b"35:19:2:id,1:a,3:seq,1:3#}9:2:id,1:b,}]", 4).unwrap();
        assert_eq!(
            multi,
            Id::Multi(vec![
                IdEntry {
                    id: Bytes::from_static(b"a"),
                    seq: Some(3)
                },
                IdEntry {
                    id: Bytes::from_static(b"b"),
                    seq: None
                },
            ])
        );
    }

    #[test]
    fn multi_errors() {
        let cases: [(&'static [u8], Error); 6] = [
            (
                b"0:]",
                Error::BadValue {
                    field: "id",
                    expected: ID_FORMS,
                },
            ),
            (b"9:0:}0:}0:}]", Error::TooManyIds { max: 2 }),
            (
                b"7:4:1:a,]]",
                Error::WrongType {
                    field: "id",
                    expected: ID_FORMS,
                },
            ),
            (
                b"14:10:3:seq,1:1#}]",
                Error::MissingField { field: ENTRY_ID },
            ),
            (
                b"22:18:2:id,1:a,2:id,1:b,}]",
                Error::DuplicateField { field: ENTRY_ID },
            ),
            (
                b"3:1:1#",
                Error::WrongType {
                    field: "id",
                    expected: ID_FORMS,
                },
            ),
        ];
        for (wire, want) in cases {
            assert_eq!(
                read_id(wire, 2),
                Err(want),
                "{:?}",
                String::from_utf8_lossy(wire)
            );
        }
    }

    #[test]
    fn length_matches_encoding() {
        for id in [
            Id::from("r7"),
            Id::Multi(vec![
                IdEntry {
                    id: Bytes::from_static(b"a"),
                    seq: Some(0),
                },
                IdEntry {
                    id: Bytes::from_static(b"bb"),
                    seq: Some(12345),
                },
                IdEntry {
                    id: Bytes::from_static(b"c"),
                    seq: None,
                },
            ]),
        ] {
            let mut out = bytes::BytesMut::new();
            write_value(&mut Writer::new(&mut out), &id);
            assert_eq!(out.len(), value_len(&id));
        }
    }
}
