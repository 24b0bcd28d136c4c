//! The request pipeline: route a client request, send it to the route's backend, and answer.
//!
//! This is the [`Handler`] the client connections call. It picks the route, rewrites the request
//! once ([`crate::proxy::rewrite`]), sends it to the first reachable target, and streams a plain
//! response back. Errors become Pushpin's replies, in one place ([`error_reply`]): generic texts,
//! or the detailed ones on `debug` routes.

mod holds;
mod websocket;
mod workers;

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
use crate::backend::zhttp::StreamError;
use crate::backend::zhttpreq::ZhttpError;
use crate::config::routes::{Route, TargetKind};
use crate::config::settings::Proxy;
use crate::frontend::body::BodyError;
use crate::frontend::conn::{BodySource, Handler, Reply, ReplyBody, Request, RequestBody};
use crate::frontend::response::ResponseHead;
use crate::frontend::stream::Peer;
use crate::hub::{Hub, RouteLimiter, RouteLimiters};
use crate::proxy::rewrite::{self, ClientInfo};
use crate::proxy::signing::Signer;
use crate::proxy::{cors, jsonp};
use crate::router::{RouteQuery, RouteTable};
use crate::session::response_hold;
use crate::stats::{conn as stats_conn, ConnGuard, Counter, NewConn, Stats, Tally};

use self::holds::{Origin, Upstream};
use self::workers::WorkerTarget;

/// Request bodies up to this size are buffered, so they can go to a second target on failover
/// and be replayed for GRIP holds (Pushpin's limit for GRIP requests, §4.1).
pub const BUFFERED_BODY_LIMIT: usize = 100_000;

/// Largest GRIP response body read from a backend (Pushpin's limit, §4.1).
pub const GRIP_BODY_LIMIT: usize = 100_000;

/// Largest response a JSON-P call wraps: the script is built whole, so it is bounded.
pub const JSONP_BODY_LIMIT: usize = 1_000_000;

/// Settings the request pipeline uses.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// The `[proxy]` settings.
    pub proxy: Proxy,
    /// Channels one connection may subscribe to (`connection_subscription_max`).
    pub subscription_max: usize,
    /// Folder that `file:` keys are relative to.
    pub config_dir: std::path::PathBuf,
    /// `message_rate`: deliveries per second per route (`None`: unlimited).
    pub message_rate: Option<u32>,
    /// `message_hwm`: deliveries that may wait for the rate, per route.
    pub message_hwm: Option<u32>,
    /// The stats socket's hooks.
    pub stats: Stats,
}

/// Shared state of the request pipeline.
pub struct Gateway {
    routes: watch::Receiver<Arc<RouteTable>>,
    proxy: Proxy,
    subscription_max: usize,
    hub: Arc<Hub>,
    limiters: RouteLimiters,
    links_in_flight: holds::InFlight,
    workers: workers::WorkerSockets,
    http: HttpBackend,
    signer: Signer,
    stats: Stats,
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
            limiters: RouteLimiters::new(config.message_rate, config.message_hwm),
            links_in_flight: Default::default(),
            workers: Default::default(),
            hub,
            http: HttpBackend::new(),
            stats: config.stats,
        }))
    }

    async fn serve(self: Arc<Self>, req: Request) -> Reply {
        let host = request_host(&req.head.headers, &req.head.target);
        let route_id = if self.proxy.accept_pushpin_route {
            req.head
                .headers
                .get("pushpin-route")
                .and_then(|v| std::str::from_utf8(v).ok())
        } else {
            None
        };
        let https = is_https(req.peer.tls, &req.head.headers, &self.proxy);
        let table = self.routes.borrow().clone();
        let query = RouteQuery {
            host: &host,
            path: request_path(&req.head.target),
            websocket: req.head.websocket,
            ssl: https,
            route_id,
        };
        let Some(route) = table.find(&query) else {
            return Reply::text(502, format!("No route for host: {host}\n"));
        };
        let conn = self.open_conn(&req, &route, https);
        let reply = self.serve_routed(req, route, conn.tally()).await;
        conn.attach(reply)
    }

    /// The stats connection of a routed request (none when stats are off).
    fn open_conn(&self, req: &Request, route: &Route, https: bool) -> ConnGuard {
        if !self.stats.is_enabled() {
            return ConnGuard::default();
        }
        let headers = &req.head.headers;
        let rule = if self.signer.is_trusted(headers) {
            &self.proxy.x_forwarded_for_trusted
        } else {
            &self.proxy.x_forwarded_for
        };
        let conn = self.stats.open(NewConn {
            route: route.id.as_deref().map(Arc::from),
            kind: if req.head.websocket {
                stats_conn::ConnKind::Ws
            } else {
                stats_conn::ConnKind::Http
            },
            peer: stats_conn::logical_peer(headers, rule, req.peer.ip),
            ssl: https,
        });
        let path = request_path(&req.head.target);
        let head = stats_conn::request_head_bytes(&req.head.method, path, headers);
        conn.add(Counter::ClientHeaderBytesReceived, head);
        conn
    }

    async fn serve_routed(
        self: Arc<Self>,
        mut req: Request,
        route: Arc<Route>,
        tally: Tally,
    ) -> Reply {
        let debug = route.debug || self.proxy.debug;
        let cross_origin = route.aco || self.proxy.auto_cross_origin;
        let client_headers = cross_origin.then(|| req.head.headers.clone());
        let callback = if cross_origin {
            match jsonp::detect(&req.head.method, &req.head.target, &route.jsonp) {
                Ok(call) => call.map(|call| apply_jsonp_call(&mut req, call)),
                Err(e) => {
                    let mut reply = Reply::text(400, format!("{e}\n"));
                    cors::apply(&req.head.headers, &mut reply.head.headers);
                    return reply;
                }
            }
        } else {
            None
        };
        let served = self
            .dispatch(req, &route, tally)
            .await
            .unwrap_or_else(|e| Served::once(error_reply(&e, debug)));
        match (callback, client_headers) {
            // A script tag cannot read a stream as it arrives, so held streams go out as they are.
            (Some(callback), _) if !served.held_stream => {
                jsonp_reply(&callback, served.reply).await
            }
            (_, Some(client_headers)) => {
                let mut reply = served.reply;
                cors::apply(&client_headers, &mut reply.head.headers);
                reply
            }
            (_, None) => served.reply,
        }
    }

    async fn dispatch(
        self: &Arc<Self>,
        req: Request,
        route: &Arc<Route>,
        tally: Tally,
    ) -> Result<Served, GatewayError> {
        let path = request_path(&req.head.target).to_owned();
        if req.head.websocket {
            return self.websocket(req, route, &path).await;
        }
        if forges_websocket_events(&req, route, &self.signer) {
            return Err(GatewayError::Forbidden(
                "Client not allowed to send WebSocket events directly.",
            ));
        }
        match route.targets.first().map(|t| &t.kind) {
            Some(TargetKind::Http { .. }) => self.proxy_http(req, route, &path, tally).await,
            Some(TargetKind::ZhttpReq(spec)) => {
                let spec = spec.clone();
                self.proxy_workers(req, route, &path, WorkerTarget::Req(&spec))
                    .await
            }
            Some(TargetKind::Zhttp(spec)) => {
                let spec = spec.clone();
                self.proxy_workers(req, route, &path, WorkerTarget::Stream(&spec))
                    .await
            }
            Some(TargetKind::Test) => {
                let response = crate::backend::test::respond(&path);
                if grip::is_grip(&response.headers) {
                    self.accept(response, route, None).await
                } else {
                    Ok(Served::once(response_hold::to_reply(&response)))
                }
            }
            None => Err(GatewayError::Unsupported("route has no target")),
        }
    }

    async fn proxy_http(
        self: &Arc<Self>,
        req: Request,
        route: &Arc<Route>,
        path: &str,
        tally: Tally,
    ) -> Result<Served, GatewayError> {
        let Request { head, body, peer } = req;
        let method = Method::from_bytes(&head.method)
            .map_err(|_| GatewayError::BadRequest("invalid method"))?;
        let body = buffer_body_counted(body, &tally).await?;
        // A buffered body can be sent again: to replay the request for its held session.
        let replayable = match &body {
            OutBody::Full(b) => Some(b.clone()),
            OutBody::Stream(_) => None,
        };
        let targets = http_targets(route);
        let (client, out) = self.rewrite(&head.headers, &peer, route, path)?;
        let trusted = client.trusted;
        if tally.is_counting() {
            let sent = stats_conn::request_head_bytes(&head.method, &out.path, &out.headers);
            tally.add(Counter::ServerHeaderBytesSent, sent);
        }
        let mut response = self
            .http
            .send(&targets, &method, &out.path, &out.headers, body)
            .await?;
        // Taken once, for the GRIP check and for the reply alike.
        let headers = response_headers(&mut response);
        if tally.is_counting() {
            let head = stats_conn::response_head_bytes(response.code, &response.reason, &headers);
            tally.add(Counter::ServerHeaderBytesReceived, head);
        }
        // A trusted upstream proxy does the GRIP work itself (§3.3).
        let grip = !route.no_grip && !trusted && grip::is_grip(&headers);
        if !grip {
            return Ok(Served::once(passthrough(response, headers, &tally)));
        }
        let Some(body) = replayable else {
            return Ok(Served::once(Reply::text(
                400,
                "Request too large to accept GRIP instruct.\n",
            )));
        };
        let target = targets.first().map(String::as_str).unwrap_or_default();
        let response = read_grip_response(response, headers, target, GRIP_BODY_LIMIT).await?;
        tally.add(Counter::ServerContentBytesReceived, response.body.len());
        let upstream = Upstream::Http(targets);
        let origin = Origin::new(route, upstream, method, out, body, &client, &head.headers);
        self.accept(response, route, Some(Arc::new(origin))).await
    }

    /// The request as the route's first target gets it (§3.1), and what was known of the
    /// client to make it.
    fn rewrite<'a>(
        &self,
        headers: &Headers,
        peer: &Peer,
        route: &Route,
        path: &'a str,
    ) -> Result<(ClientInfo<'a>, rewrite::Outgoing), GatewayError> {
        let first = route
            .targets
            .first()
            .ok_or(GatewayError::Unsupported("route has no target"))?;
        let client = self.client_info(peer, headers, route, path);
        let out = rewrite::rewrite(headers, route, first, &self.proxy, &client);
        Ok((client, out))
    }

    /// What the request rewriting needs to know about the client.
    fn client_info<'a>(
        &self,
        peer: &Peer,
        headers: &Headers,
        route: &Route,
        path: &'a str,
    ) -> ClientInfo<'a> {
        let trusted = self.signer.is_trusted(headers);
        ClientInfo {
            // A unix-socket client has no address: Pushpin then appends an empty entry to
            // `X-Forwarded-For`, which still shows the backend that the client's own entries
            // came before this proxy.
            peer_ip: peer.ip.map(|ip| ip.to_string()).unwrap_or_default(),
            https: is_https(peer.tls, headers, &self.proxy),
            trusted,
            path,
            grip_sig: if trusted || route.no_grip {
                None
            } else {
                self.signer.token(route)
            },
        }
    }

    /// Turns a GRIP response into the client's reply: at once, or by holding the connection.
    /// `origin` is how to ask the backend again (none for the built-in test backend).
    async fn accept(
        self: &Arc<Self>,
        backend_response: grip::Response,
        route: &Arc<Route>,
        origin: Option<Arc<Origin>>,
    ) -> Result<Served, GatewayError> {
        let instruct = grip::Instruct::parse(backend_response)
            .map_err(|e| GatewayError::Grip(format!("Failed to parse accept instructions: {e}")))?;
        self.hold(instruct, route, origin).await
    }
}

/// Whether an untrusted client posts WebSocket-over-HTTP events to an `over_http` route
/// itself: it could then speak for connections that are not its own (§4.4).
fn forges_websocket_events(req: &Request, route: &Route, signer: &Signer) -> bool {
    let events = req.head.headers.get_all("content-type").any(|v| {
        v.as_ref()
            .eq_ignore_ascii_case(crate::websocket::over_http::CONTENT_TYPE.as_bytes())
    });
    events
        && route.targets.first().is_some_and(|t| t.over_http)
        && !signer.is_trusted(&req.head.headers)
}

/// The `host:port` of each HTTP target of `route`, in failover order.
pub(super) fn http_targets(route: &Route) -> Vec<String> {
    route
        .targets
        .iter()
        .filter_map(|t| match &t.kind {
            TargetKind::Http { host, port } if host.contains(':') => {
                Some(format!("[{host}]:{port}"))
            }
            TargetKind::Http { host, port } => Some(format!("{host}:{port}")),
            _ => None,
        })
        .collect()
}

/// A reply, and whether it is a held stream.
struct Served {
    reply: Reply,
    held_stream: bool,
}

impl Served {
    /// A reply that is complete or streams a backend's body.
    fn once(reply: Reply) -> Self {
        Served {
            reply,
            held_stream: false,
        }
    }
}

/// Turns the request into the backend request a JSON-P call asks for.
fn apply_jsonp_call(req: &mut Request, call: jsonp::Call) -> jsonp::Callback {
    let head = &mut req.head;
    head.method = call.method;
    head.target = call.target;
    for (name, value) in call.headers.iter() {
        head.headers.set(name.clone(), value.clone());
    }
    if let Some(body) = call.body {
        let (tx, rx) = mpsc::channel(1);
        // Cannot fail: the channel is new and has room for the one piece.
        let _ = tx.try_send(Ok(body));
        req.body = RequestBody::Stream(rx);
    }
    call.callback
}

/// The JSON-P script for a reply: `200`, `application/javascript`, whatever the reply's status.
async fn jsonp_reply(callback: &jsonp::Callback, reply: Reply) -> Reply {
    let Reply { head, body, .. } = reply;
    let body = match collect_body(body, JSONP_BODY_LIMIT).await {
        Ok(body) => body,
        Err(_) => return Reply::text(500, "Upstream response could not be JSON-P encoded.\n"),
    };
    let script = jsonp::render(
        callback,
        &jsonp::Response {
            code: head.code,
            reason: &head.reason,
            headers: &head.headers,
            body: &body,
        },
    );
    let mut headers = Headers::with_capacity(1);
    headers.push("Content-Type", "application/javascript");
    Reply::full(
        ResponseHead {
            code: 200,
            reason: Bytes::from_static(b"OK"),
            headers,
        },
        script,
    )
}

/// A reply body read whole, failing past `limit` bytes.
async fn collect_body(body: ReplyBody, limit: usize) -> std::io::Result<Bytes> {
    let mut source = match body {
        ReplyBody::Full(bytes) if bytes.len() <= limit => return Ok(bytes),
        ReplyBody::Full(_) => return Err(std::io::ErrorKind::FileTooLarge.into()),
        ReplyBody::Stream { source, .. } => source,
        // A JSON-P call is never a WebSocket handshake.
        ReplyBody::Upgrade(_) => return Err(std::io::ErrorKind::Unsupported.into()),
    };
    let mut out = BytesMut::new();
    while let Some(piece) = std::future::poll_fn(|cx| source.poll_next(cx)).await {
        let piece = piece?;
        if out.len() + piece.len() > limit {
            return Err(std::io::ErrorKind::FileTooLarge.into());
        }
        out.extend_from_slice(&piece);
    }
    Ok(out.freeze())
}

impl Gateway {
    /// The rate limiter of `route`'s sessions: routes are told apart by `id`, else by their line
    /// in the routes file.
    fn limiter(&self, route: &Route) -> Option<Arc<RouteLimiter>> {
        let key = match &route.id {
            Some(id) => format!("id:{id}"),
            None => format!("line:{}", route.line),
        };
        self.limiters.for_route(&key)
    }

    /// Deliveries dropped past `message_hwm` since start.
    pub fn over_limit_total(&self) -> u64 {
        self.limiters.over_limit_total()
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
    /// A `zhttpreq/` worker did not answer usably.
    #[error("Error: {0}")]
    Zhttp(#[from] ZhttpError),
    /// A `zhttp/` worker did not answer usably.
    #[error("Error: {0}")]
    Stream(#[from] StreamError),
    /// A failure Pushpin reports with its generic text even on `debug` routes.
    #[error("Error while proxying to origin.")]
    Generic,
    /// The backend needs what the client did not send (`411`, from a worker's
    /// `length-required`).
    #[error("Must provide Content-Length header.")]
    LengthRequired,
    /// The client may not do this (`403`).
    #[error("{0}")]
    Forbidden(&'static str),
}

/// The client's reply for an error: Pushpin's generic text, or the detail on `debug` routes.
pub fn error_reply(e: &GatewayError, debug: bool) -> Reply {
    match e {
        GatewayError::BadRequest(_) | GatewayError::Body(_) => Reply::text(400, format!("{e}\n")),
        GatewayError::LengthRequired => Reply::text(411, format!("{e}\n")),
        GatewayError::Forbidden(_) => Reply::text(403, format!("{e}\n")),
        _ if debug => Reply::text(502, format!("{e}\n")),
        _ => Reply::text(502, "Error while proxying to origin.\n"),
    }
}

/// Reads up to [`BUFFERED_BODY_LIMIT`] bytes of the body; a longer body is streamed on, with what
/// was read so far sent first.
async fn buffer_body(body: RequestBody) -> Result<OutBody, GatewayError> {
    buffer_body_counted(body, &Tally::default()).await
}

/// [`buffer_body`], the stats counting every byte as received from the client and sent to the
/// backend.
async fn buffer_body_counted(body: RequestBody, tally: &Tally) -> Result<OutBody, GatewayError> {
    let RequestBody::Stream(mut rx) = body else {
        return Ok(OutBody::Full(Bytes::new()));
    };
    let count = |tally: &Tally, piece: &Result<Bytes, BodyError>| {
        if let Ok(piece) = piece {
            tally.add(Counter::ClientContentBytesReceived, piece.len());
            tally.add(Counter::ServerContentBytesSent, piece.len());
        }
    };
    let mut buf = BytesMut::new();
    while let Some(piece) = rx.recv().await {
        count(tally, &piece);
        buf.extend_from_slice(&piece?);
        if buf.len() > BUFFERED_BODY_LIMIT {
            let (tx, relay) = mpsc::channel(2);
            let _ = tx.try_send(Ok(buf.freeze()));
            let tally = tally.clone();
            tokio::spawn(async move {
                while let Some(piece) = rx.recv().await {
                    count(&tally, &piece);
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

/// Reads a GRIP response whole (at most `limit` bytes of body: [`GRIP_BODY_LIMIT`] for GRIP
/// instructions).
async fn read_grip_response(
    response: BackendResponse,
    headers: Headers,
    target: &str,
    limit: usize,
) -> Result<grip::Response, GatewayError> {
    let reason = reason_of(&response);
    let body = match response.body.read_to_end(limit).await {
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
/// that came whole with the head is sent with the head in one write. The stats count the body as
/// received from the backend.
fn passthrough(response: BackendResponse, headers: Headers, tally: &Tally) -> Reply {
    let head = ResponseHead {
        code: response.code,
        reason: reason_of(&response),
        headers,
    };
    let mut body = response.body;
    let body = match body.take_buffered() {
        Some(whole) => {
            tally.add(Counter::ServerContentBytesReceived, whole.len());
            ReplyBody::Full(whole)
        }
        None => ReplyBody::Stream {
            len: body.exact_len(),
            source: tally.count_source(
                Box::new(IncomingSource(body)),
                Counter::ServerContentBytesReceived,
            ),
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

/// Whether the request counts as https (`ssl=yes` routes, `X-Forwarded-Proto: https`): the
/// client used TLS, or `accept_x_forwarded_protocol` is on and the client's
/// `X-Forwarded-Proto` or `X-Forwarded-Protocol` says `https` or `wss`. Pushpin 1.36 (observed)
/// compares those values exactly: `HTTPS` does not count.
fn is_https(tls: bool, headers: &Headers, proxy: &Proxy) -> bool {
    tls || (proxy.accept_x_forwarded_protocol
        && ["x-forwarded-proto", "x-forwarded-protocol"]
            .iter()
            .flat_map(|name| headers.get_all(name))
            .any(|v| v.as_ref() == b"https" || v.as_ref() == b"wss"))
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
    fn https_from_tls_or_a_trusted_forwarded_proto() {
        let mut proxy = crate::config::load(&crate::config::Options::default())
            .unwrap()
            .settings
            .proxy;
        let plain = Headers::default();
        let claims: Headers = [("X-Forwarded-Proto", "https")].into_iter().collect();
        let old: Headers = [("X-Forwarded-Protocol", "wss")].into_iter().collect();
        let upper: Headers = [("X-Forwarded-Proto", "HTTPS")].into_iter().collect();
        assert!(is_https(true, &plain, &proxy));
        assert!(!is_https(false, &claims, &proxy), "not trusted by default");
        proxy.accept_x_forwarded_protocol = true;
        assert!(is_https(false, &claims, &proxy));
        assert!(is_https(false, &old, &proxy));
        assert!(!is_https(false, &upper, &proxy));
        assert!(!is_https(false, &plain, &proxy));
    }

    #[test]
    fn error_texts_match_pushpin() {
        let unreachable =
            GatewayError::Backend(BackendError::Unreachable("127.0.0.1:18401".into()));
        let body = |r: Reply| match r.body {
            ReplyBody::Full(b) => (r.head.code, String::from_utf8(b.to_vec()).unwrap()),
            _ => panic!("not a whole body"),
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
