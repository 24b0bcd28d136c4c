//! Writing header parameters: the inverse of the parser in [`super`].
//!
//! A parameter value is written bare when it reads back unchanged and quoted otherwise, with `"`
//! and `\\` escaped. An item's leading value is never unquoted by the parser (Pushpin keeps quotes
//! there), so one that holds a separator, a quote, a control byte or edge whitespace cannot be
//! written at all: that is [`Error::Unrepresentable`], as is any control byte in a value.

use bytes::{BufMut, Bytes, BytesMut};

use super::{is_space, Error, Item};

/// Appends `value` as a parameter value: bare when it reads back unchanged, else quoted. The empty
/// value is written bare (`name=`), since Pushpin reads `name=""` as a missing parameter.
pub fn render_value(value: &[u8], out: &mut BytesMut) -> Result<(), Error> {
    if value.iter().any(|&b| is_control(b)) {
        return Err(Error::Unrepresentable);
    }
    let bare = value
        .iter()
        .all(|&b| (0x21..=0x7e).contains(&b) && !matches!(b, b',' | b';' | b'"' | b'\\'));
    if bare {
        out.put_slice(value);
        return Ok(());
    }
    out.reserve(value.len() + 2);
    out.put_u8(b'"');
    for &b in value {
        if matches!(b, b'"' | b'\\') {
            out.put_u8(b'\\');
        }
        out.put_u8(b);
    }
    out.put_u8(b'"');
    Ok(())
}

/// Appends `name=value`, or `name` alone when `value` is `None`.
pub fn render_param(name: &[u8], value: Option<&[u8]>, out: &mut BytesMut) -> Result<(), Error> {
    let name_ok = !name.is_empty()
        && name
            .iter()
            .all(|&b| (0x21..=0x7e).contains(&b) && !matches!(b, b',' | b';' | b'"' | b'='));
    if !name_ok {
        return Err(Error::Unrepresentable);
    }
    out.put_slice(name);
    if let Some(value) = value {
        out.put_u8(b'=');
        render_value(value, out)?;
    }
    Ok(())
}

/// Renders one item for a header read with [`parse_item`](super::parse_item): its leading value may hold commas.
pub fn render_item(item: &Item) -> Result<Bytes, Error> {
    let mut out = BytesMut::new();
    append_item(item, false, &mut out)?;
    Ok(out.freeze())
}

/// Renders items as a list, `, `-separated, for a header read with [`parse_list`](super::parse_list).
pub fn render_list(items: &[Item]) -> Result<Bytes, Error> {
    let mut out = BytesMut::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.put_slice(b", ");
        }
        append_item(item, true, &mut out)?;
    }
    Ok(out.freeze())
}

fn append_item(item: &Item, in_list: bool, out: &mut BytesMut) -> Result<(), Error> {
    if !leading_value_ok(&item.value, in_list) || (item.value.is_empty() && item.params.is_empty())
    {
        return Err(Error::Unrepresentable);
    }
    out.put_slice(&item.value);
    for param in &item.params {
        out.put_slice(b"; ");
        render_param(&param.name, param.value.as_deref(), out)?;
    }
    Ok(())
}

/// True when `value`, written bare before any `;`, parses back to itself: leading values are
/// never unquoted, so they cannot hold separators, quotes, control bytes or edge whitespace.
pub(crate) fn leading_value_ok(value: &[u8], in_list: bool) -> bool {
    let edges_ok =
        value.first().is_none_or(|&b| !is_space(b)) && value.last().is_none_or(|&b| !is_space(b));
    let separator = |b: u8| matches!(b, b';' | b'"') || (in_list && b == b',');
    edges_ok && !value.iter().any(|&b| is_control(b) || separator(b))
}

/// Bytes no header value may carry: controls other than tab, and DEL.
fn is_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

#[cfg(test)]
mod tests {
    use super::super::Param;
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn values_are_quoted_only_when_needed() {
        let cases: &[(&[u8], &str)] = &[
            (b"item1", "item1"),
            (b"", ""),
            (b"a b", "\"a b\""),
            (b"a,b", "\"a,b\""),
            (b"a;b", "\"a;b\""),
            (b"say \"hi\"", "\"say \\\"hi\\\"\""),
            (b"back\\slash", "\"back\\\\slash\""),
            (b" edge", "\" edge\""),
            (b"a=b", "a=b"),
            ("é".as_bytes(), "\"é\""),
        ];
        for (value, want) in cases {
            let mut out = BytesMut::new();
            render_value(value, &mut out).unwrap();
            assert_eq!(out, want.as_bytes(), "value {value:?}");
            let segment = Bytes::from(format!("n={want}"));
            assert_eq!(
                Param::parse(&segment).unwrap().value.unwrap(),
                Bytes::copy_from_slice(value)
            );
        }
        let mut out = BytesMut::new();
        assert_eq!(
            render_value(b"a\r\nb", &mut out),
            Err(Error::Unrepresentable)
        );
    }

    #[test]
    fn render_list_refuses_what_cannot_come_back() {
        let item = |v: &str| Item {
            value: b(v),
            params: vec![],
        };
        assert_eq!(render_list(&[item("a,b")]), Err(Error::Unrepresentable));
        assert_eq!(render_list(&[item(" a")]), Err(Error::Unrepresentable));
        assert_eq!(render_list(&[item("\"a\"")]), Err(Error::Unrepresentable));
        assert_eq!(render_list(&[item("")]), Err(Error::Unrepresentable));
        assert_eq!(render_item(&item("a,b")).unwrap(), "a,b");
        let full = Item {
            value: b("apple"),
            params: vec![Param::new("prev-id", "item 1"), Param::new("filter", "f1")],
        };
        assert_eq!(
            render_list(&[full, item("banana")]).unwrap(),
            "apple; prev-id=\"item 1\"; filter=f1, banana"
        );
    }
}
