//! The `ext` field (§2.2-2.3): capabilities a peer announces.
//!
//! Two flags are known: `multi` (the peer reads the list form of `id`, so keep-alives can be
//! batched) and `quiet`. Unknown entries are ignored and not kept: `ext` announces what the sender
//! supports, and re-sending a capability gripway does not implement would be a false promise.

use super::field::{Reader, A_DICT};
use super::sink::framed_len;
use super::Error;
use crate::tnetstring::Writer;

/// The `ext` dict. Absent, empty and all-false are the same.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ext {
    /// `multi: true`: the sender reads packets whose `id` is a list of `{id, seq}` dicts.
    pub multi: bool,
    /// `quiet: true`.
    pub quiet: bool,
}

impl Ext {
    /// True when no flag is set, so the field is not written.
    pub fn is_empty(&self) -> bool {
        !self.multi && !self.quiet
    }

    /// The flags by wire name, in the order they are written.
    fn flags(&self) -> [(&'static str, bool); 2] {
        [("multi", self.multi), ("quiet", self.quiet)]
    }
}

pub(crate) fn read(r: &Reader<'_>) -> Result<Ext, Error> {
    let entries = r.frame().dict().map_err(r.wrong_type(A_DICT))?;
    let mut ext = Ext::default();
    let (mut seen_multi, mut seen_quiet) = (false, false);
    for entry in entries {
        let (key, value) = entry.map_err(Error::Tnetstring)?;
        let (name, slot, seen) = match key {
            b"multi" => ("ext.multi", &mut ext.multi, &mut seen_multi),
            b"quiet" => ("ext.quiet", &mut ext.quiet, &mut seen_quiet),
            _ => continue,
        };
        if std::mem::replace(seen, true) {
            return Err(Error::DuplicateField { field: name });
        }
        *slot = Reader::new(name, value, r.input()).bool()?;
    }
    Ok(ext)
}

/// The encoded size of the `ext` value.
pub(crate) fn value_len(ext: &Ext) -> usize {
    let flags = ext.flags().into_iter().filter(|(_, on)| *on);
    framed_len(
        flags
            .map(|(name, _)| framed_len(name.len()) + framed_len(4))
            .sum(),
    )
}

/// Writes the `ext` value: a dict of the flags that are set.
pub(crate) fn write_value(w: &mut Writer<'_>, ext: &Ext) {
    w.dict(|w| {
        for (name, _) in ext.flags().into_iter().filter(|(_, on)| *on) {
            w.str(name);
            w.bool(true);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tnetstring::parse_frame;
    use bytes::{Bytes, BytesMut};

    fn read_ext(input: Bytes) -> Result<Ext, Error> {
        let (frame, _) = parse_frame(&input).unwrap();
        read(&Reader::new("ext", frame, &input))
    }

    #[test]
    fn flags_unknown_entries_and_errors() {
        let multi = Ext {
            multi: true,
            quiet: false,
        };
        let cases: [(&'static [u8], Result<Ext, Error>); 6] = [
            (b"0:}", Ok(Ext::default())),
            (b"15:5:multi,4:true!}", Ok(multi)),
            (b"28:6:future,1:1#5:multi,4:true!}", Ok(multi)),
            (
                b"0:]",
                Err(Error::WrongType {
                    field: "ext",
                    expected: A_DICT,
                }),
            ),
            (
                b"16:5:quiet,5:false,}",
                Err(Error::WrongType {
                    field: "ext.quiet",
                    expected: "a boolean",
                }),
            ),
            (
                b"30:5:multi,4:true!5:multi,4:true!}",
                Err(Error::DuplicateField { field: "ext.multi" }),
            ),
        ];
        for (wire, want) in cases {
            let got = read_ext(Bytes::from_static(wire));
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(wire));
        }
    }

    #[test]
    fn writes_only_true_flags() {
        for ext in [
            Ext {
                multi: true,
                quiet: false,
            },
            Ext {
                multi: true,
                quiet: true,
            },
        ] {
            let mut out = BytesMut::new();
            write_value(&mut Writer::new(&mut out), &ext);
            assert_eq!(out.len(), value_len(&ext));
            assert_eq!(read_ext(out.freeze()), Ok(ext));
        }
    }
}
