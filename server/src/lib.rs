//! gripway: a Pushpin-compatible realtime push gateway.
//!
//! The binary (`main.rs`) reads the command line and configuration and runs the server. Modules:
//! - [`config`]: `pushpin.conf` and the routes file, parsed into typed, validated values.

pub mod config;
