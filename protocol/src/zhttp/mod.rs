//! ZHTTP packets (§2.1-2.7): HTTP and WebSocket sessions carried over ZeroMQ as `T` followed by
//! one tnetstring dict.
//!
//! [`Request`] (initiator → responder) and [`Response`] (responder → initiator) hold every field
//! of §2.2 as a plain struct; [`Request::parse`] and [`Response::parse`] walk the dict once, lazily,
//! without building a tree (only `user-data` and `passthrough`, whose shape is open, become
//! [`crate::tnetstring::Value`]s), and take byte strings as views of the input. Decoding the typical
//! request allocates once: its header list. `encode` writes the fields that are set, in a fixed
//! order (addressing, packet type, HTTP head, body, flow control, then the rest as §2.2 lists
//! them, `ext` last), measured first so the buffer grows once. [`split_addressed`] and
//! [`Response::encode_addressed`] handle the `<address> SP T…` PUB frames of stream mode.
//!
//! Decoding rules:
//! - The payload must start with `T`. Pushpin drops anything else; zurl's `J` (JSON) form is not
//!   supported ([`Error::BadPrefix`]).
//! - Unknown fields are skipped unread: only their framing is checked, so a field added by a newer
//!   peer costs nothing and breaks nothing. A known field given twice is refused
//!   ([`Error::DuplicateField`]): Pushpin would silently keep one of them, but a packet that two
//!   readers could understand differently is better refused.
//! - A field of the wrong type is refused with its name and the type it must have. Integers are
//!   range-checked (`seq`, `credits`, `max-size`, `timeout`: `u32`; `code` and ports: `u16`).
//!   `peer-port` may also be a byte string of digits, as Pushpin writes it (§1); other integer
//!   fields must be tnetstring integers, as every known peer writes them.
//! - `type` and `content-type` are closed vocabularies: a receiver cannot act on a packet kind
//!   or frame type it does not know, so an unknown value is refused. `condition`
//!   is open: Pushpin treats a condition it does not know as a generic error (§2.5), so it decodes
//!   to [`Condition::Other`] and is written back unchanged. `ext` keeps only the flags it knows
//!   ([`Ext`] says why).
//! - Required fields depend on the packet: see [`Request`] and [`Response`].
//! - [`Limits`] bound the ids of the multi form (128, Pushpin's batch size), the headers (256) and
//!   the nesting and size of `user-data` and `passthrough`.
//!
//! Encoding writes `false` flags, an empty body, empty headers and data's `type` as absent, and
//! `peer-port` as an integer; decoding treats those spellings the same, so a round trip keeps the
//! packet's meaning, and keeps its bytes whenever the input was written in gripway's order.
//!
//! Speed (criterion, `benches/zhttp.rs`, on the shared 2-core machine): the `typical_request`
//! vector, 1881 bytes with a 1 KiB body and 12 headers, decodes in 1.57 µs (1.1 GiB/s) and
//! encodes in 1.1 µs (1.6 GiB/s).

mod addressed;
mod codes;
mod error;
mod ext;
mod field;
mod id;
mod limits;
mod request;
mod response;
mod sink;

pub use self::addressed::{split_addressed, subscription};
pub use self::codes::{Condition, ContentType, PacketType};
pub use self::error::Error;
pub use self::ext::Ext;
pub use self::id::{Id, IdEntry};
pub use self::limits::Limits;
pub use self::request::Request;
pub use self::response::Response;

use self::field::Field;
