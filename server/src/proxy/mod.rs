//! Proxying client requests to backends.
//!
//! - [`rewrite`]: the one place a client request is turned into a backend request (§3.1).

pub mod rewrite;
