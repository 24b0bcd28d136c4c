//! Publish inputs: where publishers hand items to the hub.
//!
//! - [`http_api`]: the HTTP publish API (§5.2).

pub mod http_api;
