//! Bounds on what a ZHTTP decoder accepts (§2.2-2.3).
//!
//! A packet is already whole in memory when it is decoded (ZeroMQ delivers messages, not
//! streams), so its size is the transport's business. What the decoder bounds is what it builds:
//! the ids of a multi packet, the header list, and the trees of the two open fields (`user-data`,
//! `passthrough`), whose nesting would otherwise drive recursion.

use crate::tnetstring;

/// Bounds on a decoded packet; [`Limits::default`] suits every peer Pushpin 1.36 talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most ids in the multi form of `id`.
    pub max_ids: usize,
    /// Most fields in `headers`, repeats included.
    pub max_headers: usize,
    /// Bounds on `user-data` and `passthrough`, each decoded into a [`tnetstring::Value`].
    pub value: tnetstring::Limits,
}

impl Limits {
    /// Pushpin batches at most 128 ids into one keep-alive or credit packet (§2.3) and its Rust
    /// packet parser refuses more, so a longer list comes from no conforming peer.
    pub const DEFAULT_MAX_IDS: usize = 128;
    /// Pushpin's Rust packet parser stops at 64 headers. 256 is four times that, so nothing
    /// Pushpin takes is refused and backends with many `Set-Cookie` lines have room, while header
    /// lookups, which scan the list, stay cheap.
    pub const DEFAULT_MAX_HEADERS: usize = 256;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_ids: Self::DEFAULT_MAX_IDS,
            max_headers: Self::DEFAULT_MAX_HEADERS,
            value: tnetstring::Limits::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_named_constants() {
        let limits = Limits::default();
        assert_eq!(limits.max_ids, 128);
        assert_eq!(limits.max_headers, Limits::DEFAULT_MAX_HEADERS);
        assert_eq!(limits.value, tnetstring::Limits::default());
    }
}
