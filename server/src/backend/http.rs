//! HTTP backends: gripway's pooled HTTP/1.1 client ([`super::http1`]), and failover across a
//! route's targets.
//!
//! Requests go to the target's own address while keeping the rewritten `Host`, as Pushpin does.
//! Targets are tried in order when connecting fails (§8: failover, not load balancing); a body can
//! only be offered to the next target if it was buffered, so large streamed bodies get one target.
//! Connections are kept alive and pooled per target.

use bytes::Bytes;
use http::Method;
use tokio::sync::mpsc;

pub use super::http1::conn::CONNECT_TIMEOUT;
pub use super::http1::pool::POOL_IDLE;
pub use super::http1::{BackendResponse, ReadError, ResponseBody};

use super::http1::exchange::{self, SendError};
use super::http1::pool::Pool;
use crate::frontend::body::BodyError;

/// A request body: buffered (can be re-sent to another target) or streamed (one shot).
pub enum OutBody {
    /// The whole body.
    Full(Bytes),
    /// Pieces still arriving from the client.
    Stream(mpsc::Receiver<Result<Bytes, BodyError>>),
}

/// Why a backend request failed.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// No target could be connected to; lists what was tried.
    #[error("Unable to connect to any targets. Tried: {0}")]
    Unreachable(String),
    /// The target accepted the connection, then failed.
    #[error("Error while proxying to origin: {0}")]
    Failed(String),
}

/// A pooled HTTP client for backends.
#[derive(Clone, Debug, Default)]
pub struct HttpBackend {
    pool: Pool,
}

impl HttpBackend {
    /// A client with keep-alive pooling.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends a request to the first target (`host:port` addresses, in order) that accepts a
    /// connection. Header names are written exactly as given.
    pub async fn send(
        &self,
        targets: &[String],
        method: &Method,
        path: &str,
        headers: &protocol::Headers,
        body: OutBody,
    ) -> Result<BackendResponse, BackendError> {
        let mut tried: Vec<&str> = Vec::new();
        let mut body = Some(body);
        for target in targets {
            let this_body = match body.take() {
                Some(OutBody::Full(b)) => {
                    body = Some(OutBody::Full(b.clone()));
                    OutBody::Full(b)
                }
                Some(stream) => stream,
                None => break,
            };
            tried.push(target);
            match exchange::send(&self.pool, target, method, path, headers, this_body).await {
                Ok(response) => return Ok(response),
                Err(SendError::Connect(e)) => {
                    tracing::debug!(target = %target, error = %e, "backend connect failed, trying next target");
                }
                Err(e @ SendError::Failed(_)) => return Err(BackendError::Failed(e.to_string())),
            }
        }
        Err(BackendError::Unreachable(tried.join(", ")))
    }
}
