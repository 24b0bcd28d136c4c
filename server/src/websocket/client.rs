//! The client's side of a WebSocket once upgraded: the socket's settings, and messages to and
//! from events.

use bytes::Bytes;
use protocol::wsevents::{Close, CloseCode, Event};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use crate::frontend::conn::{Upgraded, UpgradedIo};

/// A client's WebSocket over whatever socket it came on.
pub type ClientSocket<'a> = WebSocketStream<&'a mut (dyn UpgradedIo + 'a)>;

/// The largest message a client may send; a longer one closes the connection with 1009.
pub const MAX_MESSAGE: usize = 1_000_000;
/// Read buffer per connection. tungstenite's default (128 KiB, allocated up front) would make an
/// idle WebSocket cost 138 KB; 4 KiB brings it near 7 KB, and a longer message still arrives
/// (the buffer grows while it is read).
const READ_BUFFER: usize = 1024;
/// Bytes a client that does not read may have waiting before its connection is dropped.
const MAX_UNSENT: usize = 1 << 20;

/// The socket settings for clients.
pub fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_UNSENT)
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
}

/// Starts the WebSocket protocol on an upgraded client connection.
pub async fn accept(upgraded: Upgraded<'_>) -> ClientSocket<'_> {
    WebSocketStream::from_partially_read(
        upgraded.io,
        upgraded.early.to_vec(),
        Role::Server,
        Some(config()),
    )
    .await
}

/// A client message as an event for the backend; `None` for raw frames, which a reader never
/// yields.
pub fn to_event(message: Message) -> Option<Event> {
    Some(match message {
        Message::Text(text) => Event::Text(Bytes::from(text)),
        Message::Binary(data) => Event::Binary(data),
        Message::Ping(data) => Event::Ping(data),
        Message::Pong(data) => Event::Pong(data),
        Message::Close(frame) => Event::Close(frame.map(|f| Close {
            code: CloseCode(u16::from(f.code)),
            reason: Bytes::from(f.reason),
        })),
        Message::Frame(_) => return None,
    })
}

/// A text message from bytes that must be UTF-8 (`None` if they are not: the client would
/// have to close on them, so they are not sent).
pub fn text(content: Bytes) -> Option<Message> {
    Utf8Bytes::try_from(content).ok().map(Message::Text)
}

/// A close frame with `code` and `reason` (a reason that is not UTF-8 is left out).
pub fn close(code: u16, reason: Bytes) -> Message {
    Message::Close(Some(CloseFrame {
        code: WsCloseCode::from(code),
        reason: Utf8Bytes::try_from(reason).unwrap_or_default(),
    }))
}
