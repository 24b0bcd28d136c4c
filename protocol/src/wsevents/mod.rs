//! WebSocket-over-HTTP events and GRIP control messages (§7.2-7.3).
//!
//! With the `over_http` route option Pushpin carries a client's WebSocket to the backend as HTTP
//! `POST`s whose bodies (`Content-Type: application/websocket-events`) are a sequence of events:
//! `TYPE\r\n`, or `TYPE <hex length>\r\n<content>\r\n`. The backend answers in the same format.
//!
//! - [`Event`], [`encode`]: the events and their canonical encoding (what Pushpin writes).
//! - [`decode`], [`parse_event`], [`Decoder`]: decoding a whole body, one event at a time, or a
//!   body read in chunks, with "need more bytes" ([`Status::Partial`]) kept apart from invalid
//!   input ([`Error`]). Decoding is liberal where Pushpin is and the input stays unambiguous,
//!   and strict where Pushpin would corrupt data; `decode.rs` lists each case.
//! - [`ControlMessage`]: the `c:` + JSON control messages a backend sends inside `TEXT` events
//!   once the `grip` extension is on (§7.3), parsed and rendered.
//!
//! Limits ([`Limits`]) cap the content of one event (1,000,000 bytes, Pushpin's response body
//! limit), the header line, and the number of events in a body.

mod control;
mod decode;
mod error;
mod event;

pub use self::control::{
    is_control, ControlMessage, KeepAlive, KeepAliveMode, MessageType, SendDelayed,
    DEFAULT_KEEP_ALIVE_TIMEOUT, DEFAULT_SEND_DELAYED_TIMEOUT, PREFIX,
};
pub use self::decode::{
    decode, decode_with, parse_event, Decoder, Limits, Status, MAX_CONTENT_LEN, MAX_EVENTS,
    MAX_HEADER_LEN,
};
pub use self::error::{ControlError, Error};
pub use self::event::{encode, encoded_len, Close, CloseCode, Event};
