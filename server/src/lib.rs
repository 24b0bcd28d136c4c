//! gripway: a Pushpin-compatible realtime push gateway.
//!
//! The binary (`main.rs`) reads the command line and configuration and runs the server. Modules:
//! - [`config`]: `pushpin.conf` and the routes file, parsed into typed, validated values.
//! - [`frontend`]: client connections and the HTTP/1 layer they speak.

pub mod backend;
pub mod config;
pub mod frontend;
pub mod hub;
pub mod proxy;
pub mod router;
