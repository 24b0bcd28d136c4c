//! Backends: where routes send requests.
//!
//! - [`http`]: HTTP backends through a pooled client, with failover across targets.
//! - [`http1`]: that client: gripway's own HTTP/1.1, keeping header-name case.
//! - [`test`](mod@test): the built-in `test` backend.
//! - [`websocket`]: native WebSocket backends: the opening handshake.
//! - [`zhttp`]: streaming ZeroMQ workers behind `zhttp/` targets.
//! - [`zhttpreq`]: ZeroMQ REP workers behind `zhttpreq/` targets.

pub mod http;
pub mod http1;
pub mod test;
pub mod websocket;
pub mod zhttp;
pub mod zhttpreq;
