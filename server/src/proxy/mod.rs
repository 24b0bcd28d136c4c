//! Proxying client requests to backends.
//!
//! - [`rewrite`]: the one place a client request is turned into a backend request (§3.1).
//! - [`cors`]: CORS headers for `aco` routes (§6.8).

pub mod cors;
pub mod rewrite;
