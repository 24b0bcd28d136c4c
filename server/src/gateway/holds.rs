//! Held sessions and their backend: holding as the instructions say, asking the backend again
//! (replays for long-polls, `Grip-Link` next for streams), and `Grip-Link rel=gone`.
//!
//! - A response hold that gets `hint`/`refresh`, or a gap on a `prev-id` channel, replays the
//!   original request (signed afresh, with `Grip-Last` for `prev-id` channels) and holds on as
//!   the new answer says (§6.2 item 4, §6.4). The new subscription is made before the old one
//!   goes, so channels held throughout do not lose their state.
//! - A stream follows its next link through [`StreamBackend`] (§6.5). A link on the client's own
//!   scheme, host and port goes back through the same route and targets; another `http` URI is
//!   fetched from that host directly. Link fetches carry only `Host`, `Grip-Sig`,
//!   `Grip-Feature` and `Grip-Last`, as Pushpin's do.
//! - Identical link fetches in flight (same target, path and `Grip-Last` values) share one
//!   backend request, so 10,000 streams hinted at once cost the backend one request. Pushpin
//!   keys on the URI without its query; gripway keeps the query in the key, since two links
//!   that differ in it are different requests.
//! - A response without a hold but with a next link is paged: each page's body is streamed in
//!   turn.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use protocol::grip::{self, HoldMode, Instruct};
use protocol::Headers;
use tokio::sync::OnceCell;

use super::workers::Workers;
use super::{read_grip_response, response_headers, Gateway, GatewayError, Served};
use crate::backend::http::OutBody;
use crate::config::routes::Route;
use crate::frontend::conn::{Reply, ReplyBody};
use crate::frontend::response::ResponseHead;
use crate::proxy::rewrite::{self, ClientInfo, Outgoing, GRIP_FEATURE};
use crate::session::links::{Fetch, SessionBackend};
use crate::session::response_hold::{self, Outcome};
use crate::session::stream_hold::{self, LinkInstructions, StreamHold};
use crate::session::{Subscribe, Subscriber};

/// How to ask the backend again for a held session: the request as first sent (its `Grip-Sig`
/// is made afresh each time) and where the client sent it.
pub(super) struct Origin {
    route: Arc<Route>,
    upstream: Upstream,
    method: Method,
    path: String,
    headers: Headers,
    body: Bytes,
    /// `Host` as sent to the backend.
    backend_host: Bytes,
    /// Whether requests to this route are signed.
    signed: bool,
    /// The client's scheme and `Host`, which next links are resolved against.
    client_scheme: &'static str,
    client_host: String,
    /// The client's request path (next links relative to it).
    client_path: String,
}

impl Origin {
    pub(super) fn new(
        route: &Arc<Route>,
        upstream: Upstream,
        method: Method,
        out: Outgoing,
        body: Bytes,
        client: &ClientInfo<'_>,
        client_headers: &Headers,
    ) -> Origin {
        let mut headers = out.headers;
        let signed = headers.remove("grip-sig") > 0;
        Origin {
            route: route.clone(),
            upstream,
            method,
            path: out.path,
            backend_host: Bytes::copy_from_slice(out.authority.as_bytes()),
            headers,
            body,
            signed,
            client_scheme: if client.https { "https" } else { "http" },
            client_host: client_headers
                .get("host")
                .map(|h| String::from_utf8_lossy(h).to_ascii_lowercase())
                .unwrap_or_default(),
            client_path: client.path.to_owned(),
        }
    }
}

/// Where a next link goes.
#[derive(Debug, PartialEq, Eq)]
struct LinkTarget {
    /// Where the request goes.
    upstream: Upstream,
    /// `Host` to send.
    host: String,
    /// Path and query to request.
    path: String,
}

/// Where a held session's requests go: HTTP targets in failover order, or the route's
/// ZeroMQ workers.
#[derive(Clone)]
pub(super) enum Upstream {
    /// `host:port` addresses.
    Http(Vec<String>),
    /// `zhttpreq/` or `zhttp/` workers, and the scheme of the URIs sent to them.
    Workers(Workers, &'static str),
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Upstream::Http(targets) => write!(f, "{targets:?}"),
            Upstream::Workers(workers, _) => f.write_str(&workers.describe()),
        }
    }
}

impl PartialEq for Upstream {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Upstream::Http(a), Upstream::Http(b)) => a == b,
            (Upstream::Workers(a, x), Upstream::Workers(b, y)) => a.same(b) && x == y,
            _ => false,
        }
    }
}

impl Eq for Upstream {}

/// Link fetches in flight, by what makes them identical.
pub(super) type InFlight =
    Mutex<HashMap<String, Arc<OnceCell<Result<Arc<grip::Response>, String>>>>>;

impl Gateway {
    /// Holds the client as `instruct` says, asking the backend again when the session calls
    /// for it; returns what the client gets.
    pub(super) async fn hold(
        self: &Arc<Self>,
        mut instruct: Instruct,
        route: &Arc<Route>,
        origin: Option<Arc<Origin>>,
    ) -> Result<Served, GatewayError> {
        // The subscription of the previous answer, kept until the next one subscribes.
        let mut previous: Option<Subscriber> = None;
        let mut first = true;
        loop {
            match instruct.hold {
                None => {
                    drop(previous);
                    return Ok(match (instruct.next_link, &origin) {
                        (Some(next), Some(origin)) => {
                            let backend = self.stream_backend(origin);
                            let response = instruct.response;
                            let pages = StreamHold::paging(response.body, backend, next);
                            let head = ResponseHead {
                                code: response.code,
                                reason: response.reason,
                                headers: response.headers,
                            };
                            Served::once(stream_reply(head, pages))
                        }
                        _ => Served::once(response_hold::to_reply(&instruct.response)),
                    });
                }
                Some(HoldMode::Stream) => {
                    let subscriber = self.subscribe(&instruct, route, stream_hold::QUEUE);
                    drop(previous);
                    return Ok(self.stream(instruct, subscriber, origin.as_ref()));
                }
                Some(HoldMode::Response) => {
                    let mut subscriber = self.subscribe(&instruct, route, response_hold::QUEUE);
                    drop(previous.take());
                    let deadline = tokio::time::Instant::now()
                        + Duration::from_secs(u64::from(instruct.timeout));
                    let mut behind = if first {
                        self.behind(&subscriber)
                    } else {
                        None
                    };
                    first = false;
                    let gone = GoneOnDrop::new(self, origin.as_ref(), instruct.gone_link.clone());
                    loop {
                        let outcome = response_hold::hold(
                            &instruct.response,
                            deadline,
                            &mut subscriber,
                            behind.take(),
                        )
                        .await
                        .map_err(|e| GatewayError::Grip(e.to_string()))?;
                        let (grip_last, gap) = match outcome {
                            Outcome::Reply(reply) => return Ok(Served::once(reply)),
                            Outcome::Replay { grip_last, gap } => (grip_last, gap),
                        };
                        if let Some(channel) = &gap {
                            self.hub.forget_last_id(channel);
                        }
                        // The built-in test backend cannot be asked again: hold on.
                        let Some(origin) = &origin else { continue };
                        let response = self.replay(origin, &grip_last).await?;
                        instruct = grip::Instruct::parse(response).map_err(|e| {
                            GatewayError::Grip(format!("Failed to parse accept instructions: {e}"))
                        })?;
                        // A replay is a retry, not the session's end: no gone callback.
                        gone.disarm();
                        previous = Some(subscriber);
                        break;
                    }
                }
            }
        }
    }

    /// A held stream as the reply.
    fn stream(
        self: &Arc<Self>,
        instruct: Instruct,
        subscriber: Subscriber,
        origin: Option<&Arc<Origin>>,
    ) -> Served {
        let grip::Response {
            code,
            reason,
            headers,
            body,
        } = instruct.response;
        let mut source = StreamHold::new(body, subscriber, instruct.keep_alive);
        if let Some(origin) = origin {
            source = source.with_links(
                self.stream_backend(origin),
                LinkInstructions {
                    next: instruct.next_link,
                    gone: instruct.gone_link,
                },
            );
        }
        let head = ResponseHead {
            code,
            reason,
            headers,
        };
        Served {
            reply: stream_reply(head, source),
            held_stream: true,
        }
    }

    fn stream_backend(self: &Arc<Self>, origin: &Arc<Origin>) -> Arc<dyn SessionBackend> {
        Arc::new(StreamBackend {
            gateway: self.clone(),
            origin: origin.clone(),
        })
    }

    /// Subscribes a session to what `instruct` names.
    pub(super) fn subscribe(
        &self,
        instruct: &Instruct,
        route: &Route,
        capacity: usize,
    ) -> Subscriber {
        Subscriber::new(
            &self.hub,
            Subscribe {
                channels: &instruct.channels,
                prefix: &route.prefix,
                max: self.subscription_max,
                meta: &instruct.meta,
                limiter: self.limiter(route),
                mode: instruct.hold.into(),
            },
            capacity,
        )
    }

    /// A `prev-id` channel the hub has already seen past: the session must recover at once.
    fn behind(&self, subscriber: &Subscriber) -> Option<String> {
        subscriber
            .order
            .published()
            .find(|(channel, id)| self.hub.last_id(channel).is_some_and(|last| last != *id))
            .map(|(channel, _)| channel.to_owned())
    }

    /// Sends the original request again, with `Grip-Last` values; reads the answer whole.
    async fn replay(
        &self,
        origin: &Origin,
        grip_last: &[String],
    ) -> Result<grip::Response, GatewayError> {
        let mut headers = origin.headers.clone();
        self.sign(origin, &mut headers);
        for value in grip_last {
            headers.push("Grip-Last", value.clone());
        }
        self.exchange(
            &origin.upstream,
            &origin.method,
            &origin.path,
            headers,
            origin.body.clone(),
        )
        .await
    }

    /// Sends a request with a whole body and reads the answer whole (at most
    /// [`GRIP_BODY_LIMIT`](super::GRIP_BODY_LIMIT) bytes of body).
    async fn exchange(
        &self,
        upstream: &Upstream,
        method: &Method,
        path: &str,
        headers: Headers,
        body: Bytes,
    ) -> Result<grip::Response, GatewayError> {
        self.exchange_limited(
            upstream,
            method,
            path,
            headers,
            body,
            super::GRIP_BODY_LIMIT,
        )
        .await
    }

    /// As [`Gateway::exchange`], with the answer's body bounded by `limit`.
    pub(super) async fn exchange_limited(
        &self,
        upstream: &Upstream,
        method: &Method,
        path: &str,
        headers: Headers,
        body: Bytes,
        limit: usize,
    ) -> Result<grip::Response, GatewayError> {
        match upstream {
            Upstream::Http(targets) => {
                let mut response = self
                    .http
                    .send(targets, method, path, &headers, OutBody::Full(body))
                    .await?;
                let fields = response_headers(&mut response);
                let target = targets.first().map(String::as_str).unwrap_or_default();
                read_grip_response(response, fields, target, limit).await
            }
            Upstream::Workers(workers, scheme) => {
                let host = headers
                    .get("host")
                    .map(|h| String::from_utf8_lossy(h).into_owned())
                    .unwrap_or_else(|| "localhost".to_owned());
                let request = super::workers::request(method, scheme, &host, path, headers, body);
                workers.exchange(request, limit).await
            }
        }
    }

    fn sign(&self, origin: &Origin, headers: &mut Headers) {
        if origin.signed {
            if let Some(token) = self.signer.token(&origin.route) {
                headers.set("Grip-Sig", token);
            }
        }
    }

    /// Fetches a next link, sharing the backend request with identical fetches in flight.
    fn fetch_link(
        self: &Arc<Self>,
        origin: &Arc<Origin>,
        uri: &str,
        grip_last: Vec<String>,
    ) -> Fetch {
        let target = match resolve_link(origin, uri) {
            Ok(target) => target,
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        let mut sorted = grip_last.clone();
        sorted.sort();
        let key = format!(
            "{:?}|{}|{}|{}",
            target.upstream,
            target.host,
            target.path,
            sorted.join("\n")
        );
        let cell = {
            let mut inflight = self
                .links_in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            inflight.entry(key.clone()).or_default().clone()
        };
        let gateway = self.clone();
        let origin = origin.clone();
        Box::pin(async move {
            let result = cell
                .get_or_init(|| gateway.fetch_link_now(&origin, target, grip_last))
                .await
                .clone();
            // Later fetches of this link go to the backend again.
            let mut inflight = gateway
                .links_in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if inflight.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                inflight.remove(&key);
            }
            result
        })
    }

    async fn fetch_link_now(
        &self,
        origin: &Origin,
        target: LinkTarget,
        grip_last: Vec<String>,
    ) -> Result<Arc<grip::Response>, String> {
        let mut headers = Headers::with_capacity(4 + grip_last.len());
        headers.push("Host", target.host);
        self.sign(origin, &mut headers);
        if origin.signed {
            headers.push("Grip-Feature", GRIP_FEATURE);
        }
        for value in grip_last {
            headers.push("Grip-Last", value);
        }
        self.exchange(
            &target.upstream,
            &Method::GET,
            &target.path,
            headers,
            Bytes::new(),
        )
        .await
        .map(Arc::new)
        .map_err(|e| e.to_string())
    }

    /// POSTs an empty body to a gone link, in the background.
    fn post_gone(self: &Arc<Self>, origin: &Arc<Origin>, uri: &str) {
        let target = match resolve_link(origin, uri) {
            Ok(target) => target,
            Err(e) => {
                tracing::debug!(error = %e, "gone link not followed");
                return;
            }
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let gateway = self.clone();
        let origin = origin.clone();
        runtime.spawn(async move {
            let mut headers = Headers::with_capacity(3);
            headers.push("Host", target.host);
            gateway.sign(&origin, &mut headers);
            let sent = gateway
                .exchange(
                    &target.upstream,
                    &Method::POST,
                    &target.path,
                    headers,
                    Bytes::new(),
                )
                .await;
            if let Err(e) = sent {
                tracing::debug!(error = %e, "gone link failed");
            }
        });
    }
}

/// The server side of one held stream.
struct StreamBackend {
    gateway: Arc<Gateway>,
    origin: Arc<Origin>,
}

impl SessionBackend for StreamBackend {
    fn fetch_link(&self, uri: &str, grip_last: Vec<String>) -> Fetch {
        self.gateway.fetch_link(&self.origin, uri, grip_last)
    }

    fn subscribe(&self, instruct: &Instruct) -> Subscriber {
        self.gateway
            .subscribe(instruct, &self.origin.route, stream_hold::QUEUE)
    }

    fn forget_last_id(&self, channel: &str) {
        self.gateway.hub.forget_last_id(channel);
    }

    fn last_id(&self, channel: &str) -> Option<String> {
        self.gateway.hub.last_id(channel)
    }

    fn gone(&self, uri: &str) {
        self.gateway.post_gone(&self.origin, uri);
    }
}

/// Calls a long-poll's gone link when the session ends, however it ends (the client leaving
/// drops the session future, and this with it).
struct GoneOnDrop {
    target: Option<(Arc<Gateway>, Arc<Origin>, String)>,
}

impl GoneOnDrop {
    fn new(gateway: &Arc<Gateway>, origin: Option<&Arc<Origin>>, uri: Option<String>) -> Self {
        GoneOnDrop {
            target: origin
                .zip(uri)
                .map(|(origin, uri)| (gateway.clone(), origin.clone(), uri)),
        }
    }

    fn disarm(mut self) {
        self.target = None;
    }
}

impl Drop for GoneOnDrop {
    fn drop(&mut self) {
        if let Some((gateway, origin, uri)) = self.target.take() {
            gateway.post_gone(&origin, &uri);
        }
    }
}

/// A reply streaming `source` after `head`.
fn stream_reply(head: ResponseHead, source: StreamHold) -> Reply {
    Reply {
        head,
        body: ReplyBody::Stream {
            len: None,
            source: Box::new(source),
        },
        close: false,
    }
}

/// Where `uri`, a next or gone link as the backend wrote it, points: back through the route when
/// it is on the client's own scheme, host and port; else straight to its `http` host.
fn resolve_link(origin: &Origin, uri: &str) -> Result<LinkTarget, String> {
    let (scheme, authority, path) = if let Some(rest) = uri.strip_prefix("http://") {
        split_authority("http", rest)
    } else if let Some(rest) = uri.strip_prefix("https://") {
        split_authority("https", rest)
    } else if let Some(rest) = uri.strip_prefix("//") {
        split_authority(origin.client_scheme, rest)
    } else if uri.starts_with('/') {
        (
            origin.client_scheme,
            origin.client_host.clone(),
            uri.to_owned(),
        )
    } else {
        let base = origin.client_path.split('?').next().unwrap_or("/");
        let dir = base
            .rfind('/')
            .map_or("/", |i| base.get(..=i).unwrap_or("/"));
        (
            origin.client_scheme,
            origin.client_host.clone(),
            format!("{dir}{uri}"),
        )
    };
    let same = scheme == origin.client_scheme
        && with_port(scheme, &authority) == with_port(origin.client_scheme, &origin.client_host);
    if same {
        return Ok(LinkTarget {
            upstream: origin.upstream.clone(),
            host: String::from_utf8_lossy(&origin.backend_host).into_owned(),
            path: rewrite::rewrite_path(&path, &origin.route),
        });
    }
    if scheme != "http" {
        return Err(format!(
            "cannot fetch link {uri}: only http links to other hosts are supported"
        ));
    }
    Ok(LinkTarget {
        upstream: Upstream::Http(vec![with_port(scheme, &authority)]),
        host: authority,
        path,
    })
}

fn split_authority(scheme: &'static str, rest: &str) -> (&'static str, String, String) {
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    (scheme, authority.to_ascii_lowercase(), path)
}

/// `host:port`, with the scheme's default port when none is given.
fn with_port(scheme: &str, authority: &str) -> String {
    let has_port = match authority.rfind(':') {
        Some(i) => !authority.get(i..).unwrap_or_default().contains(']'),
        None => false,
    };
    if has_port {
        authority.to_owned()
    } else if scheme == "https" {
        format!("{authority}:443")
    } else {
        format!("{authority}:80")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::routes::Routes;

    fn origin(route_line: &str) -> Origin {
        let routes = Routes::parse("routes", route_line).unwrap();
        let route = Arc::new(routes.routes[0].clone());
        Origin {
            route,
            upstream: Upstream::Http(vec!["127.0.0.1:9000".into()]),
            method: Method::GET,
            path: "/api/stream?x=1".into(),
            headers: Headers::new(),
            body: Bytes::new(),
            backend_host: Bytes::from_static(b"example.com:7999"),
            signed: true,
            client_scheme: "http",
            client_host: "example.com:7999".into(),
            client_path: "/api/stream?x=1".into(),
        }
    }

    #[test]
    fn links_on_the_clients_origin_go_back_through_the_route() {
        let o = origin("* 127.0.0.1:9000");
        let same = |uri: &str| resolve_link(&o, uri).unwrap();
        assert_eq!(same("/next?a=1").path, "/next?a=1");
        assert_eq!(
            same("/next").upstream,
            Upstream::Http(vec!["127.0.0.1:9000".into()])
        );
        assert_eq!(same("next").path, "/api/next");
        assert_eq!(same("http://EXAMPLE.com:7999/n").path, "/n");
        assert_eq!(same("//example.com:7999/n").path, "/n");
    }

    #[test]
    fn links_elsewhere_go_straight_to_their_host() {
        let o = origin("* 127.0.0.1:9000");
        let other = resolve_link(&o, "http://other.test/x").unwrap();
        assert_eq!(
            other,
            LinkTarget {
                upstream: Upstream::Http(vec!["other.test:80".into()]),
                host: "other.test".into(),
                path: "/x".into(),
            }
        );
        assert!(resolve_link(&o, "https://other.test/x").is_err());
    }

    #[test]
    fn the_route_rewrites_link_paths_as_it_rewrites_requests() {
        let o = origin("*,path_beg=/api,replace_beg=/v2 127.0.0.1:9000");
        assert_eq!(resolve_link(&o, "/api/next").unwrap().path, "/v2/next");
    }
}
