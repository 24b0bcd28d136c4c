//! Backends: where routes send requests.
//!
//! - [`http`]: HTTP backends through a pooled client, with failover across targets.

pub mod http;
