//! `Grip-Link: <URI>; rel=next[; timeout=N]` and `<URI>; rel=gone` (§4.2, semantics §6.5).
//!
//! Every `Grip-Link` header is read, each a comma-separated list; links with another `rel` (or
//! none) are ignored, as in Pushpin. When several next links are given the last one wins, as
//! observed in Pushpin 1.36; the same goes for gone links. The URI is kept as written between the
//! angle brackets: resolving it against the request URI is the server's job. The next-link timeout
//! defaults to [`DEFAULT_LINK_TIMEOUT`] and has no minimum.
//!
//! Differences from Pushpin 1.36: `rel` is compared case-insensitively (RFC 8288 §2.1.1; Pushpin
//! ignores `rel=NEXT`), and `rel=gone` is parsed, which Pushpin only does from 1.41 on.

use bytes::Bytes;

use super::params::{self, parse_int, Item, Param};
use super::{Error, RenderError};

/// Seconds after which a stream hold refetches its next link when none is given.
pub const DEFAULT_LINK_TIMEOUT: u32 = 120;

/// A `rel=next` link: where the stream continues, and when to fetch it unprompted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NextLink {
    /// The URI as written, possibly relative to the request URI.
    pub uri: String,
    /// Seconds before the link is fetched without a `hint`.
    pub timeout: u32,
}

impl NextLink {
    /// A next link with the default timeout.
    pub fn new(uri: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            timeout: DEFAULT_LINK_TIMEOUT,
        }
    }
}

/// Reads one `Grip-Link` header value into `next` and `gone`.
pub(crate) fn parse_header(
    value: &Bytes,
    limits: &params::Limits,
    next: &mut Option<NextLink>,
    gone: &mut Option<String>,
) -> Result<(), Error> {
    for item in params::parse_list(value, limits).map_err(Error::params("Grip-Link"))? {
        let rel = item.param("rel").and_then(|p| p.value.as_deref());
        match rel {
            Some(rel) if rel.eq_ignore_ascii_case(b"next") => {
                *next = Some(NextLink {
                    uri: uri(&item.value)?,
                    timeout: timeout(&item)?,
                });
            }
            Some(rel) if rel.eq_ignore_ascii_case(b"gone") => *gone = Some(uri(&item.value)?),
            _ => {}
        }
    }
    Ok(())
}

/// The non-empty text between `<` and `>`.
fn uri(value: &[u8]) -> Result<String, Error> {
    let inner = value
        .strip_prefix(b"<")
        .and_then(|v| v.strip_suffix(b">"))
        .filter(|v| !v.is_empty())
        .ok_or(Error::BadLink)?;
    String::from_utf8(inner.to_vec()).map_err(|_| Error::NotUtf8 {
        header: "Grip-Link",
    })
}

fn timeout(item: &Item) -> Result<u32, Error> {
    let Some(param) = item.param("timeout") else {
        return Ok(DEFAULT_LINK_TIMEOUT);
    };
    let n = param
        .value
        .as_deref()
        .and_then(parse_int)
        .ok_or(Error::BadLinkTimeout)?;
    u32::try_from(n).map_err(|_| Error::InvalidLinkTimeout)
}

/// Renders the links as one `Grip-Link` value, or `None` when there are none.
pub(crate) fn render_header(
    next: Option<&NextLink>,
    gone: Option<&str>,
) -> Result<Option<Bytes>, RenderError> {
    let mut items = Vec::with_capacity(2);
    if let Some(next) = next {
        let mut params = vec![Param::new("rel", "next")];
        if next.timeout != DEFAULT_LINK_TIMEOUT {
            params.push(Param::new("timeout", next.timeout.to_string()));
        }
        items.push(item(&next.uri, params)?);
    }
    if let Some(gone) = gone {
        items.push(item(gone, vec![Param::new("rel", "gone")])?);
    }
    if items.is_empty() {
        return Ok(None);
    }
    params::render_list(&items)
        .map(Some)
        .map_err(|_| RenderError { field: "link" })
}

fn item(uri: &str, params: Vec<Param>) -> Result<Item, RenderError> {
    if uri.is_empty() {
        return Err(RenderError { field: "link" });
    }
    Ok(Item {
        value: Bytes::from(format!("<{uri}>")),
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    type Links = (Option<NextLink>, Option<String>);

    fn parse(values: &[&str]) -> Result<Links, Error> {
        let (mut next, mut gone) = (None, None);
        for v in values {
            let v = Bytes::copy_from_slice(v.as_bytes());
            parse_header(&v, &params::Limits::default(), &mut next, &mut gone)?;
        }
        Ok((next, gone))
    }

    fn next(uri: &str, timeout: u32) -> Option<NextLink> {
        Some(NextLink {
            uri: uri.into(),
            timeout,
        })
    }

    #[test]
    fn links() {
        let cases: &[(&[&str], Links)] = &[
            (&["</n>; rel=next"], (next("/n", 120), None)),
            (&["</n>; rel=\"next\"; timeout=+5"], (next("/n", 5), None)),
            (&["</n>; REL=NEXT; timeout=0"], (next("/n", 0), None)),
            (
                &["</a>; rel=next", "</b>; rel=next"],
                (next("/b", 120), None),
            ),
            (&["</a>; rel=next, </b>; rel=next"], (next("/b", 120), None)),
            (
                &["</g>; rel=gone, </n>; rel=next"],
                (next("/n", 120), Some("/g".into())),
            ),
            (&["foo", "<foo>", "<foo>; rel=other"], (None, None)),
            (&["</x>; rel=\"gone next\""], (None, None)),
            (&["< /sp >; rel=next"], (next(" /sp ", 120), None)),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input).as_ref(), Ok(want), "{input:?}");
        }
    }

    #[test]
    fn link_errors() {
        let cases = [
            ("foo; rel=next", Error::BadLink),
            ("<>; rel=next", Error::BadLink),
            ("<foo; rel=next", Error::BadLink),
            ("<foo>; rel=next; timeout=abc", Error::BadLinkTimeout),
            ("<foo>; rel=next; timeout", Error::BadLinkTimeout),
            ("<foo>; rel=next; timeout=2147483648", Error::BadLinkTimeout),
            ("<foo>; rel=next; timeout=-1", Error::InvalidLinkTimeout),
        ];
        for (input, want) in cases {
            assert_eq!(parse(&[input]), Err(want), "{input:?}");
        }
    }

    #[test]
    fn render() {
        let n = NextLink {
            uri: "/next?a=b".into(),
            timeout: 30,
        };
        let got = render_header(Some(&n), Some("/gone")).unwrap().unwrap();
        assert_eq!(got, "</next?a=b>; rel=next; timeout=30, </gone>; rel=gone");
        assert_eq!(render_header(None, None), Ok(None));
        let bad = NextLink::new("/a,b");
        assert!(render_header(Some(&bad), None).is_err());
    }
}
