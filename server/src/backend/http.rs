//! HTTP backends: a pooled hyper client, and failover across a route's targets.
//!
//! Requests go to the target's own address while keeping the rewritten `Host`, as Pushpin does.
//! Targets are tried in order when connecting fails (§8: failover, not load balancing); a body can
//! only be offered to the next target if it was buffered, so large streamed bodies get one target.
//! Connections are kept alive and pooled per target.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, Uri};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;

use crate::frontend::body::BodyError;

/// How long to wait for a TCP connection to a target.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an idle pooled connection is kept.
const POOL_IDLE: Duration = Duration::from_secs(90);

/// The body of a backend request.
pub type BackendBody = UnsyncBoxBody<Bytes, BodyError>;

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
#[derive(Clone)]
pub struct HttpBackend {
    client: Client<HttpConnector, BackendBody>,
}

impl Default for HttpBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpBackend {
    /// A client with keep-alive pooling.
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .set_host(false)
            .build(connector);
        HttpBackend { client }
    }

    /// Sends a request to the first target (`host:port` addresses, in order) that accepts it.
    pub async fn send(
        &self,
        targets: &[String],
        method: &Method,
        path: &str,
        headers: &protocol::Headers,
        body: OutBody,
    ) -> Result<Response<Incoming>, BackendError> {
        let mut tried = Vec::new();
        let mut body = Some(body);
        for target in targets {
            let this_body = match body.take() {
                Some(OutBody::Full(b)) => {
                    body = Some(OutBody::Full(b.clone()));
                    full_body(b)
                }
                Some(OutBody::Stream(rx)) => stream_body(rx),
                None => break,
            };
            let request = build_request(target, method, path, headers, this_body)
                .map_err(|e| BackendError::Failed(e.to_string()))?;
            tried.push(target.clone());
            match self.client.request(request).await {
                Ok(response) => return Ok(response),
                Err(e) if e.is_connect() => {
                    tracing::debug!(target = %target, error = %e, "backend connect failed, trying next target");
                }
                Err(e) => return Err(BackendError::Failed(e.to_string())),
            }
        }
        Err(BackendError::Unreachable(tried.join(", ")))
    }
}

fn build_request(
    target: &str,
    method: &Method,
    path: &str,
    headers: &protocol::Headers,
    body: BackendBody,
) -> Result<Request<BackendBody>, http::Error> {
    let uri: Uri = format!("http://{target}{path}").parse()?;
    let mut builder = Request::builder().method(method.clone()).uri(uri);
    for (name, value) in headers.iter() {
        builder = builder.header(name.as_ref(), value.as_ref());
    }
    builder.body(body)
}

fn full_body(b: Bytes) -> BackendBody {
    Full::new(b)
        .map_err(|never: Infallible| match never {})
        .boxed_unsync()
}

fn stream_body(rx: mpsc::Receiver<Result<Bytes, BodyError>>) -> BackendBody {
    ChannelBody(rx).boxed_unsync()
}

/// A request body fed by the client connection driver.
struct ChannelBody(mpsc::Receiver<Result<Bytes, BodyError>>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.0
            .poll_recv(cx)
            .map(|piece| piece.map(|r| r.map(Frame::data)))
    }
}

/// Reads a backend response body into memory, failing past `limit` bytes.
pub async fn read_limited(mut body: Incoming, limit: usize) -> Result<Bytes, ReadError> {
    let mut out = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ReadError::Failed(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                return Err(ReadError::TooLarge);
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Larger than the limit.
    #[error("body too large")]
    TooLarge,
    /// The connection failed.
    #[error("{0}")]
    Failed(String),
}
