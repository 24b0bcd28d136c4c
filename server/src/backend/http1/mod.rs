//! gripway's own HTTP/1.1 client for backends: pooled keep-alive connections that keep header
//! names as they are written, in both directions.
//!
//! Why not hyper's pooled client: hyper represents header names as `http::HeaderName`, which is
//! lower case. Its `preserve_header_case` option records the original case in
//! `hyper::ext::HeaderCaseMap`, which is `pub(crate)`: only hyper's own server can read it, and
//! the client side here is gripway's own HTTP/1 layer (`frontend`). Pushpin 1.36 passes a
//! backend's header names on with their case (`X-Custom`, and `Access-Control-Expose-Headers:
//! Server, Date, X-Custom` built from them), and JSON-P's extended mode writes them into a JSON
//! object that JavaScript reads case-sensitively (`headers["Content-Type"]`). So requests are
//! written with the names the rewrite step produced, and responses are parsed into
//! [`protocol::Headers`], which keeps case and order.
//!
//! One concept per file:
//! - [`request`]: writing a request head (socket-free);
//! - [`response`]: parsing a response head and choosing its body framing (socket-free).

pub mod request;
pub mod response;
