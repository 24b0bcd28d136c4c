//! Requests to ZeroMQ workers: `zhttpreq/` routes (§2.6, REP workers answering whole) and
//! `zhttp/` routes (§2.7, streaming workers). The rewriting and GRIP handling are the same as for
//! HTTP backends; only the transport differs.
//!
//! Requests carry an absolute URI built from the client's `Host`, and `ignore-policies`, as
//! Pushpin's do. A `zhttpreq` request is sent whole (bodies up to 1,000,000 bytes, with
//! `max-size`); a `zhttp` request carries a body up to the buffering limit in its first packet
//! and streams the rest, and its answer streams to the client as the worker sends it. A GRIP
//! answer holds the client exactly as an HTTP backend's does, and the session's replays and
//! same-origin next links go back to the same workers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::Method;
use protocol::Headers;
use protocol::{grip, zhttp};
use tokio::sync::OnceCell;

use super::holds::{Origin, Upstream};
use super::{buffer_body, Gateway, GatewayError, Served, GRIP_BODY_LIMIT};
use crate::backend::http::{BackendError, OutBody};
use crate::backend::zhttp::{ResponseStream, StreamError, ZhttpBackend, INITIAL_CREDITS};
use crate::backend::zhttpreq::{ZhttpReqBackend, MAX_SIZE};
use crate::config::routes::{Route, TargetKind};
use crate::frontend::conn::{BodySource, Reply, ReplyBody, Request, RequestBody};
use crate::frontend::response::{reason_phrase, ResponseHead};
use crate::session::response_hold;

/// The bound sockets of each worker target, by kind and spec, bound on first use and kept.
pub(super) type WorkerSockets = Mutex<HashMap<String, Arc<OnceCell<Result<Workers, String>>>>>;

/// Largest request body sent to a `zhttpreq` worker (Pushpin's limit).
const MAX_REQUEST_BODY: usize = 1_000_000;

/// The workers behind one target.
#[derive(Clone)]
pub(super) enum Workers {
    /// REP workers on a DEALER (`zhttpreq/`).
    Req(Arc<ZhttpReqBackend>),
    /// Streaming workers on PUSH, ROUTER and SUB (`zhttp/`).
    Stream(Arc<ZhttpBackend>),
}

impl Workers {
    /// Whether both are the same sockets.
    pub(super) fn same(&self, other: &Workers) -> bool {
        match (self, other) {
            (Workers::Req(a), Workers::Req(b)) => Arc::ptr_eq(a, b),
            (Workers::Stream(a), Workers::Stream(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// A name for logs and keys.
    pub(super) fn describe(&self) -> String {
        match self {
            Workers::Req(a) => format!("zhttpreq@{:p}", Arc::as_ptr(a)),
            Workers::Stream(a) => format!("zhttp@{:p}", Arc::as_ptr(a)),
        }
    }

    /// Sends a request with a whole body and reads the whole answer (replays and next links).
    pub(super) async fn exchange(
        &self,
        request: zhttp::Request,
        limit: usize,
    ) -> Result<grip::Response, GatewayError> {
        match self {
            Workers::Req(backend) => response(backend.call(request).await?),
            Workers::Stream(backend) => {
                whole_response(backend.open(request, None).await?, limit).await
            }
        }
    }
}

/// A worker target of a route.
#[derive(Clone, Copy)]
pub(super) enum WorkerTarget<'a> {
    /// `zhttpreq/<spec>`.
    Req(&'a str),
    /// `zhttp/<spec>`.
    Stream(&'a str),
}

impl WorkerTarget<'_> {
    fn key(&self) -> String {
        match self {
            WorkerTarget::Req(spec) => format!("zhttpreq/{spec}"),
            WorkerTarget::Stream(spec) => format!("zhttp/{spec}"),
        }
    }

    async fn bind(&self) -> Result<Workers, String> {
        let key = self.key();
        let failed = |e: &dyn std::fmt::Display| format!("cannot bind {key}: {e}");
        match self {
            WorkerTarget::Req(spec) => ZhttpReqBackend::bind(spec)
                .await
                .map(Workers::Req)
                .map_err(|e| failed(&e)),
            WorkerTarget::Stream(spec) => ZhttpBackend::bind(spec)
                .await
                .map(Workers::Stream)
                .map_err(|e| failed(&e)),
        }
    }
}

impl Gateway {
    pub(super) async fn proxy_workers(
        self: &Arc<Self>,
        req: Request,
        route: &Arc<Route>,
        path: &str,
        target: WorkerTarget<'_>,
    ) -> Result<Served, GatewayError> {
        let workers = self.workers(target).await?;
        let Request { head, body, peer } = req;
        let method = Method::from_bytes(&head.method)
            .map_err(|_| GatewayError::BadRequest("invalid method"))?;
        let (first, rest) = match &workers {
            Workers::Req(_) => (whole_body(body).await?, None),
            Workers::Stream(_) => match buffer_body(body).await? {
                OutBody::Full(bytes) => (bytes, None),
                OutBody::Stream(rx) => (Bytes::new(), Some(rx)),
            },
        };
        let (client, out) = self.rewrite(&head.headers, &peer, route, path)?;
        let host = head
            .headers
            .get("host")
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .unwrap_or_else(|| "localhost".to_owned());
        let ssl = route.targets.first().is_some_and(|t| t.ssl);
        let scheme = if ssl { "https" } else { "http" };
        let sent = request(
            &method,
            scheme,
            &host,
            &out.path,
            out.headers.clone(),
            first,
        );
        let replayable = rest.is_none().then(|| sent.body.clone());
        let response = match &workers {
            Workers::Req(backend) => response(backend.call(sent).await?)?,
            Workers::Stream(backend) => {
                let stream = backend
                    .open(sent, rest)
                    .await
                    .map_err(|e| stream_error(e, &target))?;
                if !is_grip(route, client.trusted, &stream.head.headers) {
                    return Ok(Served::once(stream_reply(stream).await?));
                }
                whole_response(stream, GRIP_BODY_LIMIT).await?
            }
        };
        if !is_grip(route, client.trusted, &response.headers) {
            return Ok(Served::once(response_hold::to_reply(&response)));
        }
        let Some(body) = replayable else {
            return Ok(Served::once(Reply::text(
                400,
                "Request too large to accept GRIP instruct.\n",
            )));
        };
        let upstream = Upstream::Workers(workers, scheme);
        let origin = Origin::new(route, upstream, method, out, body, &client, &head.headers);
        self.accept(response, route, Some(Arc::new(origin))).await
    }

    /// Binds the sockets of every worker target in `routes` now, so workers can connect
    /// before the first request (Pushpin binds when it loads its routes). Targets added by a
    /// routes reload are bound on first use.
    pub async fn bind_workers(&self, routes: &[Route]) -> Result<(), GatewayError> {
        for route in routes {
            for target in &route.targets {
                let target = match &target.kind {
                    TargetKind::ZhttpReq(spec) => WorkerTarget::Req(spec),
                    TargetKind::Zhttp(spec) => WorkerTarget::Stream(spec),
                    _ => continue,
                };
                self.workers(target).await?;
                tracing::info!(target = %target.key(), "listening for ZeroMQ workers");
            }
        }
        Ok(())
    }

    /// The sockets for `target`, bound the first time they are needed.
    pub(super) async fn workers(&self, target: WorkerTarget<'_>) -> Result<Workers, GatewayError> {
        let cell = {
            let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
            workers.entry(target.key()).or_default().clone()
        };
        match cell.get_or_init(|| target.bind()).await {
            Ok(workers) => Ok(workers.clone()),
            Err(e) => {
                tracing::warn!(error = %e, "worker route unusable");
                Err(GatewayError::Grip(e.clone()))
            }
        }
    }
}

/// A streaming worker's failure as the client sees it, with Pushpin's texts: a worker that
/// could not reach its target reads as an unreachable route target, `length-required` is a
/// 411, a policy block has its own debug text, and anything else is generic even in debug.
fn stream_error(e: StreamError, target: &WorkerTarget<'_>) -> GatewayError {
    use protocol::zhttp::Condition;
    match e {
        StreamError::Condition(c) if c.is_target_unreachable() => {
            GatewayError::Backend(BackendError::Unreachable(target.key()))
        }
        StreamError::Condition(Condition::LengthRequired) => GatewayError::LengthRequired,
        StreamError::Condition(Condition::PolicyViolation) => {
            GatewayError::Grip("Error: Origin host/IP blocked.".into())
        }
        StreamError::Condition(_) => GatewayError::Generic,
        e => GatewayError::Stream(e),
    }
}

/// Whether a worker's answer is GRIP for this route: a trusted upstream proxy does the GRIP
/// work itself (§3.3).
fn is_grip(route: &Route, trusted: bool, headers: &Headers) -> bool {
    !route.no_grip && !trusted && grip::is_grip(headers)
}

/// A request as Pushpin sends one to workers: an absolute URI from the client's `Host`,
/// `max-size` and `ignore-policies`. A `zhttp/` session adds its stream fields when it opens.
pub(super) fn request(
    method: &Method,
    scheme: &str,
    host: &str,
    path: &str,
    headers: Headers,
    body: Bytes,
) -> zhttp::Request {
    zhttp::Request {
        from: Some(Bytes::from(crate::instance_id())),
        method: Some(Bytes::copy_from_slice(method.as_str().as_bytes())),
        uri: Some(Bytes::from(format!("{scheme}://{host}{path}"))),
        headers,
        body,
        max_size: Some(MAX_SIZE),
        ignore_policies: true,
        ..zhttp::Request::default()
    }
}

/// A worker's reply as a backend response (a missing code is 200, a missing reason the
/// standard one).
fn response(reply: zhttp::Response) -> Result<grip::Response, GatewayError> {
    let code = reply.code.unwrap_or(200);
    Ok(grip::Response {
        code,
        reason: reason_or_standard(reply.reason, code),
        headers: reply.headers,
        body: reply.body,
    })
}

fn reason_or_standard(reason: Option<Bytes>, code: u16) -> Bytes {
    reason.unwrap_or_else(|| Bytes::from_static(reason_phrase(code).as_bytes()))
}

/// A streamed answer read whole (at most `limit` bytes: [`GRIP_BODY_LIMIT`] for GRIP
/// instructions).
async fn whole_response(
    stream: ResponseStream,
    limit: usize,
) -> Result<grip::Response, GatewayError> {
    let ResponseStream { head, body } = stream;
    let body = body.read_to_end(limit).await.map_err(|e| match e {
        StreamError::TooLarge => {
            GatewayError::Grip("GRIP instruct response too large from zhttp target".into())
        }
        e => GatewayError::Stream(e),
    })?;
    Ok(grip::Response {
        code: head.code,
        reason: reason_or_standard(head.reason, head.code),
        headers: head.headers,
        body,
    })
}

/// A streamed answer passed to the client as it arrives. One that came in a single packet
/// goes out with its length; a streamed one with the worker's `Content-Length`, else chunked.
async fn stream_reply(stream: ResponseStream) -> Result<Reply, GatewayError> {
    let ResponseStream { head, body } = stream;
    let reply_head = ResponseHead {
        code: head.code,
        reason: reason_or_standard(head.reason, head.code),
        headers: head.headers,
    };
    if !head.more {
        // Already complete: one packet holds at most the credits offered.
        let whole = body.read_to_end(INITIAL_CREDITS as usize).await?;
        return Ok(Reply::full(reply_head, whole));
    }
    let len = reply_head
        .headers
        .get("content-length")
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.trim().parse().ok());
    Ok(Reply {
        head: reply_head,
        body: ReplyBody::Stream {
            len,
            source: Box::new(WorkerSource(body)),
        },
        close: false,
    })
}

/// A worker's streamed body as a reply body source.
struct WorkerSource(crate::backend::zhttp::StreamBody);

impl BodySource for WorkerSource {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<std::io::Result<Bytes>>> {
        self.0
            .poll_next(cx)
            .map(|piece| piece.map(|r| r.map_err(std::io::Error::other)))
    }
}

/// The whole request body, up to [`MAX_REQUEST_BODY`].
async fn whole_body(body: RequestBody) -> Result<Bytes, GatewayError> {
    match buffer_body(body).await? {
        OutBody::Full(bytes) => Ok(bytes),
        OutBody::Stream(mut rx) => {
            let mut out = BytesMut::new();
            while let Some(piece) = rx.recv().await {
                out.extend_from_slice(&piece?);
                if out.len() > MAX_REQUEST_BODY {
                    return Err(GatewayError::BadRequest(
                        "Request body too large for zhttpreq.",
                    ));
                }
            }
            Ok(out.freeze())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::error_reply;
    use protocol::zhttp::Condition;

    fn reply_of(condition: Condition, debug: bool) -> (u16, String) {
        let e = stream_error(
            StreamError::Condition(condition),
            &WorkerTarget::Stream("tcp://127.0.0.1:9"),
        );
        match error_reply(&e, debug).body {
            ReplyBody::Full(body) => (
                error_reply(&e, debug).head.code,
                String::from_utf8(body.to_vec()).unwrap(),
            ),
            _ => panic!("not a whole body"),
        }
    }

    #[test]
    fn worker_conditions_read_as_pushpins_errors() {
        assert_eq!(
            reply_of(Condition::RemoteConnectionFailed, true),
            (
                502,
                "Unable to connect to any targets. Tried: zhttp/tcp://127.0.0.1:9\n".into()
            )
        );
        assert_eq!(
            reply_of(Condition::LengthRequired, false),
            (411, "Must provide Content-Length header.\n".into())
        );
        assert_eq!(
            reply_of(Condition::PolicyViolation, true),
            (502, "Error: Origin host/IP blocked.\n".into())
        );
        assert_eq!(
            reply_of(Condition::BadRequest, true),
            (502, "Error while proxying to origin.\n".into())
        );
        assert_eq!(
            reply_of(Condition::PolicyViolation, false),
            (502, "Error while proxying to origin.\n".into())
        );
    }
}
