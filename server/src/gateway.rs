//! The request pipeline: route a client request, send it to the route's backend, and answer.
//!
//! This is the [`Handler`] the client connections call. It picks the route, rewrites the request
//! once ([`crate::proxy::rewrite`]), sends it to the first reachable target, and streams a plain
//! response back. Errors become Pushpin's replies, in one place ([`error_reply`]): generic texts,
//! or the detailed ones on `debug` routes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::Method;
use protocol::Headers;
use tokio::sync::{mpsc, watch};

use protocol::grip;

use crate::backend::http::{
    BackendError, BackendResponse, HttpBackend, OutBody, ReadError, ResponseBody,
};
use crate::config::routes::{Route, TargetKind};
use crate::config::settings::Proxy;
use crate::frontend::body::BodyError;
use crate::frontend::conn::{BodySource, Handler, Reply, ReplyBody, Request, RequestBody};
use crate::frontend::response::ResponseHead;
use crate::hub::Hub;
use crate::proxy::cors;
use crate::proxy::rewrite::{self, ClientInfo};
use crate::proxy::signing::Signer;
use crate::router::{RouteQuery, RouteTable};
use crate::session::stream_hold::{self, StreamHold};
use crate::session::{response_hold, Subscriber};

/// Request bodies up to this size are buffered, so they can go to a second target on failover
/// and be replayed for GRIP holds (Pushpin's limit for GRIP requests, §4.1).
pub const BUFFERED_BODY_LIMIT: usize = 100_000;

/// Largest GRIP response body read from a backend (Pushpin's limit, §4.1).
pub const GRIP_BODY_LIMIT: usize = 100_000;

/// Settings the request pipeline uses.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// The `[proxy]` settings.
    pub proxy: Proxy,
    /// Channels one connection may subscribe to (`connection_subscription_max`).
    pub subscription_max: usize,
    /// Folder that `file:` keys are relative to.
    pub config_dir: std::path::PathBuf,
}

/// Shared state of the request pipeline.
pub struct Gateway {
    routes: watch::Receiver<Arc<RouteTable>>,
    proxy: Proxy,
    subscription_max: usize,
    hub: Arc<Hub>,
    http: HttpBackend,
    signer: Signer,
}

impl Gateway {
    /// A gateway over a live routing table, holding sessions in `hub`.
    pub fn new(
        routes: watch::Receiver<Arc<RouteTable>>,
        config: GatewayConfig,
        hub: Arc<Hub>,
    ) -> Result<Arc<Self>, String> {
        Ok(Arc::new(Gateway {
            routes,
            signer: Signer::new(&config.proxy, config.config_dir)?,
            proxy: config.proxy,
            subscription_max: config.subscription_max,
            hub,
            http: HttpBackend::new(),
        }))
    }

    async fn serve(self: Arc<Self>, req: Request) -> Reply {
        let host = request_host(&req.head.headers, &req.head.target);
        let path = request_path(&req.head.target).to_owned();
        let route_id = if self.proxy.accept_pushpin_route {
            req.head
                .headers
                .get("pushpin-route")
                .and_then(|v| std::str::from_utf8(v).ok())
        } else {
            None
        };
        let table = self.routes.borrow().clone();
        let query = RouteQuery {
            host: &host,
            path: &path,
            websocket: req.head.websocket,
            ssl: false,
            route_id,
        };
        let Some(route) = table.find(&query) else {
            return Reply::text(502, format!("No route for host: {host}\n"));
        };
        let debug = route.debug || self.proxy.debug;
        match route.targets.first().map(|t| &t.kind) {
            Some(TargetKind::Http { .. }) => match self.proxy_http(req, &route, &path).await {
                Ok(reply) => reply,
                Err(e) => error_reply(&e, debug),
            },
            Some(TargetKind::Zhttp(_) | TargetKind::ZhttpReq(_)) => error_reply(
                &GatewayError::Unsupported(
                    "ZeroMQ route targets are not available in this build yet",
                ),
                debug,
            ),
            Some(TargetKind::Test) => {
                let response = crate::backend::test::respond(&path);
                let result = if grip::is_grip(&response.headers) {
                    self.accept(response, &route).await
                } else {
                    Ok(response_hold::to_reply(&response))
                };
                result.unwrap_or_else(|e| error_reply(&e, debug))
            }
            None => error_reply(&GatewayError::Unsupported("route has no target"), debug),
        }
    }

    async fn proxy_http(
        &self,
        req: Request,
        route: &Route,
        path: &str,
    ) -> Result<Reply, GatewayError> {
        let Request { head, body, peer } = req;
        let method = Method::from_bytes(&head.method)
            .map_err(|_| GatewayError::BadRequest("invalid method"))?;
        let body = buffer_body(body).await?;
        let body_buffered = matches!(body, OutBody::Full(_));
        let targets: Vec<String> = route
            .targets
            .iter()
            .filter_map(|t| match &t.kind {
                TargetKind::Http { host, port } if host.contains(':') => {
                    Some(format!("[{host}]:{port}"))
                }
                TargetKind::Http { host, port } => Some(format!("{host}:{port}")),
                _ => None,
            })
            .collect();
        let first = route
            .targets
            .first()
            .ok_or(GatewayError::Unsupported("route has no target"))?;
        let trusted = self.signer.is_trusted(&head.headers);
        let client = ClientInfo {
            peer_ip: peer.ip().to_string(),
            https: false,
            trusted,
            path,
            grip_sig: if trusted || route.no_grip {
                None
            } else {
                self.signer.token(route)
            },
        };
        let out = rewrite::rewrite(&head.headers, route, first, &self.proxy, &client);
        let mut response = self
            .http
            .send(&targets, &method, &out.path, &out.headers, body)
            .await?;
        // Taken once, for the GRIP check and for the reply alike.
        let headers = response_headers(&mut response);
        // A trusted upstream proxy does the GRIP work itself (§3.3).
        let grip = !route.no_grip && !trusted && grip::is_grip(&headers);
        let mut reply = if grip {
            if !body_buffered {
                return Ok(Reply::text(
                    400,
                    "Request too large to accept GRIP instruct.\n",
                ));
            }
            let target = targets.first().map(String::as_str).unwrap_or_default();
            let response = read_grip_response(response, headers, target).await?;
            self.accept(response, route).await?
        } else {
            passthrough(response, headers)
        };
        if route.aco || self.proxy.auto_cross_origin {
            cors::apply(&head.headers, &mut reply.head.headers);
        }
        Ok(reply)
    }

    /// Turns a GRIP response into the client's reply: at once, or by holding the connection.
    async fn accept(
        &self,
        backend_response: grip::Response,
        route: &Route,
    ) -> Result<Reply, GatewayError> {
        let instruct = grip::Instruct::parse(backend_response)
            .map_err(|e| GatewayError::Grip(format!("Failed to parse accept instructions: {e}")))?;
        let prefix = route.prefix.as_str();
        Ok(match instruct.hold {
            None => response_hold::to_reply(&instruct.response),
            Some(grip::HoldMode::Response) => {
                let subscriber = Subscriber::new(
                    &self.hub,
                    &instruct.channels,
                    prefix,
                    self.subscription_max,
                    response_hold::QUEUE,
                );
                response_hold::hold(instruct.response, instruct.timeout, subscriber).await
            }
            Some(grip::HoldMode::Stream) => {
                let subscriber = Subscriber::new(
                    &self.hub,
                    &instruct.channels,
                    prefix,
                    self.subscription_max,
                    stream_hold::QUEUE,
                );
                let grip::Response {
                    code,
                    reason,
                    headers,
                    body,
                } = instruct.response;
                let source = StreamHold::new(body, subscriber, instruct.keep_alive);
                Reply {
                    head: ResponseHead {
                        code,
                        reason,
                        headers,
                    },
                    body: ReplyBody::Stream {
                        len: None,
                        source: Box::new(source),
                    },
                    close: false,
                }
            }
        })
    }
}

/// The handle client connections hold.
pub struct GatewayHandler(pub Arc<Gateway>);

impl Handler for GatewayHandler {
    fn handle(&self, request: Request) -> Pin<Box<dyn Future<Output = Reply> + Send>> {
        Box::pin(self.0.clone().serve(request))
    }
}

/// Why a request could not be served.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The backend could not be reached or failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The client's request is unusable.
    #[error("{0}")]
    BadRequest(&'static str),
    /// The client's body was malformed or cut short.
    #[error("{0}")]
    Body(#[from] BodyError),
    /// A configured feature this build lacks.
    #[error("{0}")]
    Unsupported(&'static str),
    /// The backend's GRIP instructions could not be used (the text is Pushpin's debug text).
    #[error("{0}")]
    Grip(String),
}

/// The client's reply for an error: Pushpin's generic text, or the detail on `debug` routes.
pub fn error_reply(e: &GatewayError, debug: bool) -> Reply {
    match e {
        GatewayError::BadRequest(_) | GatewayError::Body(_) => Reply::text(400, format!("{e}\n")),
        _ if debug => Reply::text(502, format!("{e}\n")),
        _ => Reply::text(502, "Error while proxying to origin.\n"),
    }
}

/// Reads up to [`BUFFERED_BODY_LIMIT`] bytes of the body; a longer body is streamed on, with what
/// was read so far sent first.
async fn buffer_body(body: RequestBody) -> Result<OutBody, GatewayError> {
    let RequestBody::Stream(mut rx) = body else {
        return Ok(OutBody::Full(Bytes::new()));
    };
    let mut buf = BytesMut::new();
    while let Some(piece) = rx.recv().await {
        buf.extend_from_slice(&piece?);
        if buf.len() > BUFFERED_BODY_LIMIT {
            let (tx, relay) = mpsc::channel(2);
            let _ = tx.try_send(Ok(buf.freeze()));
            tokio::spawn(async move {
                while let Some(piece) = rx.recv().await {
                    if tx.send(piece).await.is_err() {
                        break;
                    }
                }
            });
            return Ok(OutBody::Stream(relay));
        }
    }
    Ok(OutBody::Full(buf.freeze()))
}

/// Reads a GRIP response whole (at most [`GRIP_BODY_LIMIT`] bytes of body).
async fn read_grip_response(
    response: BackendResponse,
    headers: Headers,
    target: &str,
) -> Result<grip::Response, GatewayError> {
    let reason = reason_of(&response);
    let body = match response.body.read_to_end(GRIP_BODY_LIMIT).await {
        Ok(body) => body,
        Err(ReadError::TooLarge) => {
            return Err(GatewayError::Grip(format!(
                "GRIP instruct response too large from {target}"
            )))
        }
        Err(e) => return Err(GatewayError::Backend(BackendError::Failed(e.to_string()))),
    };
    Ok(grip::Response {
        code: response.code,
        reason,
        headers,
        body,
    })
}

/// The backend's header fields, names in the case it sent them (taken, not copied).
fn response_headers(response: &mut BackendResponse) -> Headers {
    std::mem::take(&mut response.headers)
}

/// The backend's reason phrase, as sent (a non-standard one included).
fn reason_of(response: &BackendResponse) -> Bytes {
    response.reason.clone()
}

/// A backend response (its `headers` already taken) passed to the client as it arrives. A body
/// that came whole with the head is sent with the head in one write.
fn passthrough(response: BackendResponse, headers: Headers) -> Reply {
    let head = ResponseHead {
        code: response.code,
        reason: reason_of(&response),
        headers,
    };
    let mut body = response.body;
    let body = match body.take_buffered() {
        Some(whole) => ReplyBody::Full(whole),
        None => ReplyBody::Stream {
            len: body.exact_len(),
            source: Box::new(IncomingSource(body)),
        },
    };
    Reply {
        head,
        body,
        close: false,
    }
}

/// A backend body as a reply body source.
struct IncomingSource(ResponseBody);

impl BodySource for IncomingSource {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<std::io::Result<Bytes>>> {
        self.0
            .poll_next(cx)
            .map(|piece| piece.map(|r| r.map_err(std::io::Error::other)))
    }
}

/// The request's host without port, lower-case: from an absolute-form target, else `Host`.
fn request_host(headers: &Headers, target: &[u8]) -> String {
    let authority = absolute_authority(target)
        .or_else(|| headers.get("host").map(|h| h.as_ref()))
        .unwrap_or_default();
    let text = String::from_utf8_lossy(authority);
    let host = match text.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => text.rsplit_once(':').map_or(text.as_ref(), |(h, _)| h),
    };
    host.to_ascii_lowercase()
}

fn absolute_authority(target: &[u8]) -> Option<&[u8]> {
    let rest = target
        .strip_prefix(b"http://")
        .or_else(|| target.strip_prefix(b"https://"))?;
    let end = rest
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(rest.len());
    rest.get(..end)
}

/// The path and query of the request target (an absolute-form target loses its scheme and host).
fn request_path(target: &[u8]) -> &str {
    let text = std::str::from_utf8(target).unwrap_or("/");
    match absolute_authority(target) {
        Some(authority) => {
            let skip = text.find("://").map_or(0, |i| i + 3) + authority.len();
            match text.get(skip..) {
                Some("") | None => "/",
                Some(rest) => rest,
            }
        }
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_path() {
        let h: Headers = [("Host", "Example.COM:7999")].into_iter().collect();
        assert_eq!(request_host(&h, b"/x"), "example.com");
        assert_eq!(request_host(&h, b"http://other.org:80/y?z"), "other.org");
        let v6: Headers = [("Host", "[::1]:7999")].into_iter().collect();
        assert_eq!(request_host(&v6, b"/"), "::1");
        assert_eq!(request_path(b"/a?b"), "/a?b");
        assert_eq!(request_path(b"http://h:1/a?b"), "/a?b");
        assert_eq!(request_path(b"http://h:1"), "/");
    }

    #[test]
    fn error_texts_match_pushpin() {
        let unreachable =
            GatewayError::Backend(BackendError::Unreachable("127.0.0.1:18401".into()));
        let body = |r: Reply| match r.body {
            ReplyBody::Full(b) => (r.head.code, String::from_utf8(b.to_vec()).unwrap()),
            ReplyBody::Stream { .. } => panic!("streamed"),
        };
        assert_eq!(
            body(error_reply(&unreachable, false)),
            (502, "Error while proxying to origin.\n".into())
        );
        assert_eq!(
            body(error_reply(&unreachable, true)),
            (
                502,
                "Unable to connect to any targets. Tried: 127.0.0.1:18401\n".into()
            )
        );
    }
}
