//! Publish inputs: where publishers hand items to the hub.
//!
//! - [`http_api`]: the HTTP publish API (§5.2).
//! - [`zmq_inputs`]: the ZeroMQ PULL and SUB inputs (§5.3, §5.4).

pub mod http_api;
pub mod zmq_inputs;
