//! TNetStrings (§1): `<decimal length>:<payload><type byte>`, binary-safe.
//!
//! Two ways in, one way out:
//! - [`Frame`] is a zero-copy, lazy view of one value: typed decoders (ZHTTP packets, publish
//!   items) walk a dict with [`Frame::dict`] without building a tree, and take byte strings as
//!   `Bytes` views of the input. Iteration is not recursive, so it needs no depth limit.
//! - [`Value`] is an owned tree for payloads whose shape is open (`user-data`, command args).
//!   Building it recurses, so [`Limits`] bound depth, size and item count.
//! - [`Writer`] encodes. A container's length prefix is written after its payload and moved into
//!   place once, so every encoder writes each field exactly once, with no measuring pass.
//!
//! Leniency kept from Pushpin: [`Frame::as_int_lenient`] also reads a byte string of digits, as
//! Pushpin emits `peer-port` that way. Strictness beyond Pushpin: a float must be finite, a length
//! prefix has at most [`MAX_LENGTH_DIGITS`] digits, and a dict key must be a byte string.

mod encode;
mod error;
mod frame;
mod value;

pub use self::encode::Writer;
pub use self::error::Error;
pub use self::frame::{parse_frame, DictIter, Frame, ListIter, Type, MAX_LENGTH_DIGITS};
pub use self::value::{Limits, Value};

pub(crate) use self::value::share;
