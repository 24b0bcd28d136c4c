//! Requests to ZeroMQ workers on `zhttpreq/` routes (§2.6): the same rewriting and GRIP handling
//! as for HTTP backends, over a DEALER instead of a connection pool.
//!
//! The request is sent whole (bodies up to 1,000,000 bytes, as Pushpin buffers them) with an
//! absolute URI built from the client's `Host`, `max-size` and `ignore-policies`, as Pushpin's
//! are. A GRIP reply holds the client exactly as an HTTP backend's does, and the session's
//! replays and same-origin next links go back to the workers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use http::Method;
use protocol::Headers;
use protocol::{grip, zhttp};
use tokio::sync::OnceCell;

use super::holds::{Origin, Upstream};
use super::{buffer_body, Gateway, GatewayError, Served};
use crate::backend::http::OutBody;
use crate::backend::zhttpreq::{ZhttpReqBackend, MAX_SIZE};
use crate::config::routes::{Route, TargetKind};
use crate::frontend::conn::{Request, RequestBody};
use crate::session::response_hold;

/// One DEALER per `zhttpreq/` spec, bound on first use and kept.
pub(super) type Workers =
    Mutex<HashMap<String, Arc<OnceCell<Result<Arc<ZhttpReqBackend>, String>>>>>;

/// Largest request body sent to a worker (Pushpin's limit for `zhttpreq` requests).
const MAX_REQUEST_BODY: usize = 1_000_000;

impl Gateway {
    pub(super) async fn proxy_zhttpreq(
        self: &Arc<Self>,
        req: Request,
        route: &Arc<Route>,
        path: &str,
        spec: &str,
    ) -> Result<Served, GatewayError> {
        let workers = self.workers(spec).await?;
        let Request { head, body, peer } = req;
        let body = whole_body(body).await?;
        let (client, out) = self.rewrite(&head.headers, &peer, route, path)?;
        let trusted = client.trusted;
        let host = head
            .headers
            .get("host")
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .unwrap_or_else(|| "localhost".to_owned());
        let ssl = route.targets.first().is_some_and(|t| t.ssl);
        let scheme = if ssl { "https" } else { "http" };
        let method = Method::from_bytes(&head.method)
            .map_err(|_| GatewayError::BadRequest("invalid method"))?;
        let sent = request(
            &method,
            scheme,
            &host,
            &out.path,
            out.headers.clone(),
            body.clone(),
        );
        let response = response(workers.call(sent).await?)?;
        let grip = !route.no_grip && !trusted && grip::is_grip(&response.headers);
        if !grip {
            return Ok(Served::once(response_hold::to_reply(&response)));
        }
        let upstream = Upstream::Workers(workers, scheme);
        let origin = Origin::new(route, upstream, method, out, body, &client, &head.headers);
        self.accept(response, route, Some(Arc::new(origin))).await
    }

    /// Binds the DEALER of every `zhttpreq/` target in `routes` now, so workers can connect
    /// before the first request (Pushpin binds when it loads its routes). Targets added by a
    /// routes reload are bound on first use.
    pub async fn bind_workers(&self, routes: &[Route]) -> Result<(), GatewayError> {
        for route in routes {
            for target in &route.targets {
                if let TargetKind::ZhttpReq(spec) = &target.kind {
                    self.workers(spec).await?;
                    tracing::info!(%spec, "listening for zhttpreq workers (ZMQ DEALER)");
                }
            }
        }
        Ok(())
    }

    /// The DEALER for `spec`, bound the first time it is needed.
    async fn workers(&self, spec: &str) -> Result<Arc<ZhttpReqBackend>, GatewayError> {
        let cell = {
            let mut workers = self.zhttpreq.lock().unwrap_or_else(|e| e.into_inner());
            workers.entry(spec.to_owned()).or_default().clone()
        };
        let bound = cell
            .get_or_init(|| async {
                ZhttpReqBackend::bind(spec)
                    .await
                    .map_err(|e| format!("cannot bind zhttpreq/{spec}: {e}"))
            })
            .await;
        match bound {
            Ok(backend) => Ok(backend.clone()),
            Err(e) => {
                tracing::warn!(error = %e, "zhttpreq route unusable");
                Err(GatewayError::Grip(e.clone()))
            }
        }
    }
}

/// A whole `zhttpreq` request as Pushpin sends one: an absolute URI from the client's `Host`,
/// `max-size` and `ignore-policies`, and no `seq`, `stream` or `credits`.
pub(super) fn request(
    method: &Method,
    scheme: &str,
    host: &str,
    path: &str,
    headers: Headers,
    body: Bytes,
) -> zhttp::Request {
    zhttp::Request {
        from: Some(Bytes::from(format!("gripway_{}", std::process::id()))),
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
pub(super) fn response(reply: zhttp::Response) -> Result<grip::Response, GatewayError> {
    let code = reply.code.unwrap_or(200);
    Ok(grip::Response {
        code,
        reason: reply.reason.unwrap_or_else(|| {
            Bytes::from_static(crate::frontend::response::reason_phrase(code).as_bytes())
        }),
        headers: reply.headers,
        body: reply.body,
    })
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
