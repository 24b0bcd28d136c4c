//! gripway: a Pushpin-compatible realtime push gateway.
//!
//! The binary (`main.rs`) reads the command line and configuration and runs the server. Modules:
//! - [`app`]: starting and stopping every part.
//! - [`config`]: `pushpin.conf` and the routes file, parsed into typed, validated values.
//! - [`router`]: choosing a route for a request.
//! - [`gateway`]: the request pipeline (route, rewrite, send, answer).
//! - [`proxy`]: request rewriting.
//! - [`backend`]: HTTP backends and ZeroMQ workers.
//! - [`hub`]: channels and subscribers.
//! - [`session`]: held connections (response and stream holds).
//! - [`publish`]: publish inputs (the HTTP API, ZMQ PULL and SUB).
//! - [`command`]: the ZMQ command socket.
//! - [`stats`]: the ZMQ stats socket.
//! - [`frontend`]: client connections and the HTTP/1 layer they speak.
//! - [`websocket`]: client WebSockets: handshake, socket, the `grip` extension, WebSocket-over-HTTP.

pub mod app;
pub mod backend;
pub mod command;
pub mod config;
pub mod frontend;
pub mod gateway;
pub mod hub;
pub mod proxy;
pub mod publish;
pub mod router;
pub mod session;
pub mod stats;
pub mod websocket;

/// This process's address on ZeroMQ links: the `from` of its ZHTTP packets, and the prefix
/// that `zhttp/` workers publish their answers under. Pushpin's are `pushpin-proxy_<pid>`.
pub fn instance_id() -> String {
    format!("gripway_{}", std::process::id())
}
