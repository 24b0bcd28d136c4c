//! GRIP instructions (§4): how a backend tells the proxy to hold a request, and the inverse that
//! the SDKs use to write them.
//!
//! A backend response is GRIP when [`is_grip`] says so (§4.1). [`Instruct::parse`] then reads it:
//! the `Grip-*` headers of §4.2, and with `Content-Type: application/grip-instruct` the JSON body
//! of §4.3, into one [`Instruct`] holding the hold mode, channels, timeouts, keep-alive, links,
//! meta and the response the client will get. Errors carry Pushpin 1.36's own texts, which the
//! server shows after `Failed to parse accept instructions: `. [`Instruct::to_response`] and
//! [`Instruct::to_json_response`] write instructions back; parsing what they write gives the same
//! `Instruct`.
//!
//! # Layout
//! - [`params`]: the header-parameter syntax (`item; name=value, item2`), reusable for any header.
//! - `instruct`: the [`Instruct`] types and the header form; `keep_alive`, `link`, `status`: the
//!   headers with a syntax of their own; `json`: the grip-instruct body; `render`: the inverse.
//! - `error`: [`Error`] and [`RenderError`].
//!
//! Server policy is not applied here (route prefixes, the 20-channel cap, hop-by-hop headers):
//! the server applies it to the parsed `Instruct`. Where gripway knowingly differs from Pushpin,
//! the module doc of the file that does it says how and why; in short, input that Pushpin silently
//! mangles (unterminated quotes, bad escapes, bad base64, non-UTF-8 names) is an error here.

mod error;
mod instruct;
mod json;
mod keep_alive;
mod link;
pub mod params;
mod render;
mod status;

pub use self::error::{Error, RenderError};
pub use self::instruct::{
    is_grip, is_grip_header, Channel, HoldMode, Instruct, Limits, Response, CONTENT_TYPE,
    DEFAULT_TIMEOUT, MAX_CHANNELS, MAX_FILTERS, MAX_HEADERS, MAX_JSON_BODY, MAX_META, MIN_TIMEOUT,
};
pub use self::keep_alive::{
    KeepAlive, KeepAliveMode, DEFAULT_KEEP_ALIVE_TIMEOUT, MIN_KEEP_ALIVE_TIMEOUT,
};
pub use self::link::{NextLink, DEFAULT_LINK_TIMEOUT};
pub use self::status::{reason_phrase, MAX_STATUS_CODE};
