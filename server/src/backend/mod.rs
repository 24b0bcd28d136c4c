//! Backends: where routes send requests.
//!
//! - [`http`]: HTTP backends through a pooled client, with failover across targets.
//! - [`test`]: the built-in `test` backend.

pub mod http;
pub mod test;
