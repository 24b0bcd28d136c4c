//! Pushpin-compatible wire formats for gripway, shared by the server and both SDKs.
//!
//! A pure library: no sockets, no async runtime, no logging. Every parser takes bytes that may have
//! come from a socket or a file, enforces named limits, and returns a typed error; none of them
//! panics. Section numbers (§) refer to `shared/spec/pushpin-protocols.md`, the Pushpin 1.36
//! reference this crate is written against.
//!
//! # Layout
//! - [`tnetstring`]: the length-prefixed encoding under ZHTTP, ZMQ publishing and commands (§1).
//! - [`headers`]: an ordered, case-insensitive list of HTTP header pairs used by the other modules.
//! - [`zhttp`]: ZHTTP request and response packets, `T` + tnetstring (§2).
//! - [`grip`]: GRIP response instructions from headers or `application/grip-instruct` (§4).
//! - [`publish`]: publish items and their formats, from JSON or tnetstring (§5).
//! - [`wsevents`]: WebSocket-over-HTTP event bodies and `c:` control messages (§7.2-7.3).
//! - [`sig`]: `Grip-Sig` JWT signing and verification (§3.2-3.3).
//! - [`status`]: HTTP reason phrases as Pushpin writes them.
//!
//! Every error type has a `kind()` method returning a stable snake_case id; the shared vectors in
//! `protocol/vectors/` and the SDK tests assert on those ids.

pub mod grip;
pub mod headers;
pub mod publish;
pub mod sig;
pub mod status;
pub mod tnetstring;
pub mod wsevents;
pub mod zhttp;

pub use self::headers::Headers;
