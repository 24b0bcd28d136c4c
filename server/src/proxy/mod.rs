//! Proxying client requests to backends.
//!
//! - [`rewrite`]: the one place a client request is turned into a backend request (§3.1).
//! - [`cors`]: CORS headers for `aco` routes (§6.8).
//! - [`jsonp`]: JSON-P calls on `aco` routes (§6.8).
//! - [`signing`]: `Grip-Sig` on backend requests and trusted upstreams (§3.2-3.3).

pub mod cors;
pub mod jsonp;
pub mod rewrite;
pub mod signing;
