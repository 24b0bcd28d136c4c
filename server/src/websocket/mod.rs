//! Client WebSockets (§7): the handshake, the client socket, the `grip` extension and
//! WebSocket-over-HTTP, without the request pipeline (that is `gateway::websocket`).
//!
//! - [`handshake`]: checking an upgrade request and writing the `101`.
//! - [`client`]: the client's socket (small buffers, message limits) and its messages as events.
//! - [`extension`]: the `grip` extension and its message prefix (§7.1).
//! - [`over_http`]: what WebSocket-over-HTTP requests carry and what answers mean (§7.2).
//! - [`subscriptions`]: a connection's channels, changed by control messages (§7.3).

pub mod client;
pub mod extension;
pub mod handshake;
pub mod over_http;
pub mod subscriptions;
