//! WebSocket-over-HTTP sessions (§7.2): the connection's life as a series of HTTP `POST`s
//! of events to a stateless backend.
//!
//! Client messages become events, sent in one request at a time; those arriving while a
//! request is in flight go in the next one (at most about 200,000 bytes of content each, or
//! one event with `one_event`). The backend's events act on the client ([`ClientSide`]); its
//! `Set-Meta-*` and `Keep-Alive-Interval` shape later requests, and an idle connection posts an
//! empty request on that interval so the backend can deliver what it queued. A failed request
//! is tried again after 1 s, doubling with up to a second of jitter, five times; then the
//! client is closed with 1011.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::Method;
use protocol::grip;
use protocol::wsevents::Event;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{self, Message};

use super::client_side::{sleep_opt, ClientSide, Effect, Ended, BACKEND_GONE};
use super::refusal;
use crate::config::routes::{Route, TargetKind};
use crate::frontend::conn::{Reply, ReplyBody, Request, Upgrade, Upgraded};
use crate::gateway::holds::Upstream;
use crate::gateway::workers::WorkerTarget;
use crate::gateway::{http_targets, Gateway, GatewayError};
use crate::websocket::client;
use crate::websocket::handshake::Handshake;
use crate::websocket::over_http::{self as woh, RequestShape};
use crate::websocket::subscriptions::WsSubscriptions;

/// Tries of a failed request after the first.
const RETRIES: u32 = 5;
/// The first retry's delay; each later one doubles, plus up to a second of jitter.
const RETRY_DELAY: Duration = Duration::from_secs(1);
/// Client events waiting for the backend, in bytes, past which the client is not read (TCP
/// pushes back on it) until requests have taken them: a slow backend must not let a client
/// fill memory. One largest message (1,000,000 bytes) always fits.
const OUTBOX_LIMIT: usize = 2_000_000;

type Pending = Pin<Box<dyn Future<Output = Result<grip::Response, GatewayError>> + Send>>;

impl Gateway {
    /// Posts `OPEN`; answers the client with a `101` and a session, or the backend's refusal.
    pub(super) async fn open_over_http(
        self: &Arc<Self>,
        req: Request,
        route: &Arc<Route>,
        path: &str,
        handshake: Handshake,
    ) -> Result<Reply, GatewayError> {
        let upstream = self.ws_upstream(route).await?;
        let (_, out) = self.rewrite(&req.head.headers, &req.peer, route, path)?;
        let mut shape = RequestShape::new(out.headers, connection_id());
        let open = woh::request_body(&[Event::Open]);
        let first = self
            .exchange_limited(
                &upstream,
                &Method::POST,
                &out.path,
                shape.headers(),
                open,
                woh::RESPONSE_LIMIT,
            )
            .await?;
        let events = match woh::response_events(first.code, &first.headers, &first.body) {
            Ok(events) if woh::opens(&events, &first.headers) => events,
            Ok(_) => {
                return Err(GatewayError::Grip(
                    "WebSocket-over-HTTP answer to OPEN did not open".into(),
                ))
            }
            Err(woh::ResponseError::NotEvents(_)) => {
                let mut refused = first;
                refused.body.truncate(woh::REJECTION_LIMIT);
                return Ok(refusal(refused));
            }
            Err(e) => return Err(GatewayError::Grip(e.to_string())),
        };
        shape.apply_set_meta(&first.headers);
        let target = route.targets.first();
        let session = Session {
            gateway: self.clone(),
            subscriptions: self.ws_subscriptions(route),
            upstream,
            path: out.path,
            shape,
            prefix: woh::grip_prefix(&first.headers),
            keep_alive: woh::keep_alive_interval(&first.headers).flatten(),
            one_event: target.is_some_and(|t| t.one_event),
            first: events
                .into_iter()
                .skip_while(|e| *e == Event::Open)
                .collect(),
        };
        Ok(Reply {
            head: handshake.switching_head(woh::client_fields(&first.headers)),
            body: ReplyBody::Upgrade(Box::new(session)),
            close: true,
        })
    }

    /// Where the route's WebSocket-over-HTTP requests go.
    async fn ws_upstream(&self, route: &Route) -> Result<Upstream, GatewayError> {
        let first = route
            .targets
            .first()
            .ok_or(GatewayError::Unsupported("route has no target"))?;
        let scheme = if first.ssl { "https" } else { "http" };
        Ok(match &first.kind {
            TargetKind::ZhttpReq(spec) => {
                Upstream::Workers(self.workers(WorkerTarget::Req(spec)).await?, scheme)
            }
            TargetKind::Zhttp(spec) => {
                Upstream::Workers(self.workers(WorkerTarget::Stream(spec)).await?, scheme)
            }
            TargetKind::Test => {
                return Err(GatewayError::Unsupported(
                    "the test backend does not speak WebSocket-over-HTTP",
                ))
            }
            TargetKind::Http { .. } => Upstream::Http(http_targets(route)),
        })
    }
}

/// A connection id, constant for the connection's life.
fn connection_id() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

/// What a connection needs once accepted.
struct Session {
    gateway: Arc<Gateway>,
    subscriptions: WsSubscriptions,
    upstream: Upstream,
    path: String,
    shape: RequestShape,
    prefix: Option<Bytes>,
    keep_alive: Option<Duration>,
    one_event: bool,
    /// Events of the answer to `OPEN`, after it.
    first: Vec<Event>,
}

impl Upgrade for Session {
    fn run<'a>(self: Box<Self>, io: Upgraded<'a>) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        // Taken apart here, not in the future, so the box is freed now rather than kept for
        // the connection's life.
        let Session {
            gateway,
            subscriptions,
            upstream,
            path,
            shape,
            prefix,
            keep_alive,
            one_event,
            first,
        } = *self;
        Box::pin(async move {
            let ws = client::accept(io).await;
            let _registered = gateway
                .hub
                .register_connection(shape.connection_id().clone(), subscriptions.sender());
            let mut live = Live {
                client: ClientSide::new(ws, prefix, subscriptions),
                backend: Backend {
                    gateway,
                    upstream,
                    path,
                    shape,
                    keep_alive,
                    one_event,
                },
                outbox: VecDeque::new(),
                outbox_bytes: 0,
                in_flight: None,
                retry: None,
                next_keep_alive: None,
                state: State::Open,
                abort: false,
            };
            live.run(first).await;
        })
    }
}

/// How the backend is reached, and what shapes each request.
struct Backend {
    gateway: Arc<Gateway>,
    upstream: Upstream,
    path: String,
    shape: RequestShape,
    keep_alive: Option<Duration>,
    one_event: bool,
}

impl Backend {
    fn post(&self, events: &[Event]) -> Pending {
        let gateway = self.gateway.clone();
        let upstream = self.upstream.clone();
        let path = self.path.clone();
        let headers = self.shape.headers();
        let body = woh::request_body(events);
        Box::pin(async move {
            gateway
                .exchange_limited(
                    &upstream,
                    &Method::POST,
                    &path,
                    headers,
                    body,
                    woh::RESPONSE_LIMIT,
                )
                .await
        })
    }
}

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    /// The backend side is closed (`detach`): the client stays, its messages go nowhere.
    Detached,
    /// The client sent a close or left: what is queued goes to the backend, then the end.
    ClientDone,
    /// The backend closed the client: waiting for the client's reply.
    Closing,
    /// A publish closed the client: once it replies, the backend is sent a CLOSE.
    ClosingPublished,
}

/// An accepted connection.
struct Live<'a> {
    client: ClientSide<'a>,
    backend: Backend,
    /// Events waiting for the next request.
    outbox: VecDeque<Event>,
    /// Their encoded size: past [`OUTBOX_LIMIT`] the client is not read until it drains.
    outbox_bytes: usize,
    /// The request in flight, its events (sent again if it fails) and which try it is.
    in_flight: Option<(Pending, Vec<Event>, u32)>,
    /// A failed request's events, the tries so far, and when to try again.
    retry: Option<(Vec<Event>, u32, Instant)>,
    next_keep_alive: Option<Instant>,
    state: State,
    /// The connection ends without a close frame (the backend's answer was unusable).
    abort: bool,
}

/// What woke the connection.
enum Step {
    Client(Option<Result<Message, tungstenite::Error>>),
    Answer(Result<grip::Response, GatewayError>),
    Published(Option<crate::hub::Message>),
    Timer,
}

impl Live<'_> {
    async fn run(&mut self, first: Vec<Event>) {
        self.schedule_keep_alive();
        let mut outcome = Box::pin(self.backend_events(first)).await;
        while outcome.is_ok() && !self.finished() {
            self.start_request();
            // Each step's work is boxed: only the wait below lives in the connection's state
            // between messages, which keeps an idle connection small.
            outcome = match self.next_step().await {
                Step::Client(message) => Box::pin(self.client_message(message)).await,
                Step::Answer(answer) => Box::pin(self.answer(answer)).await,
                Step::Published(Some(item)) => Box::pin(self.published(&item)).await,
                Step::Published(None) => Ok(()),
                Step::Timer => Box::pin(self.timer()).await,
            };
        }
        if !self.abort {
            self.client.finish().await;
        }
    }

    async fn next_step(&mut self) -> Step {
        let deadline = [
            self.keep_alive_at(),
            self.retry.as_ref().map(|(_, _, at)| *at),
            self.client.keep_alive_at(),
            self.client.delayed_at(),
        ]
        .into_iter()
        .flatten()
        .min();
        let reading = self.state != State::ClientDone && self.outbox_bytes < OUTBOX_LIMIT;
        tokio::select! {
            message = self.client.ws.next(), if reading => Step::Client(message),
            answer = in_flight(&mut self.in_flight) => Step::Answer(answer),
            item = self.client.subscriptions.queue.recv() => Step::Published(item),
            () = sleep_opt(deadline) => Step::Timer,
        }
    }

    /// When the next keep-alive request is due: only while idle and open.
    fn keep_alive_at(&self) -> Option<Instant> {
        let idle = self.in_flight.is_none() && self.retry.is_none();
        self.next_keep_alive
            .filter(|_| idle && self.state == State::Open)
    }

    /// Does whatever timer is due.
    async fn timer(&mut self) -> Result<(), Ended> {
        let now = Instant::now();
        if self.retry.as_ref().is_some_and(|(_, _, at)| *at <= now) {
            if let Some((events, tries, _)) = self.retry.take() {
                self.send(events, tries);
            }
        }
        if self.keep_alive_at().is_some_and(|at| at <= now) {
            // An empty request lets the backend deliver what it queued.
            self.apply(Effect::Refresh)?;
        }
        if self.client.keep_alive_at().is_some_and(|at| at <= now) {
            let sent = self.client.send_keep_alive().await;
            self.client_sent(sent)?;
        }
        if self.client.delayed_at().is_some_and(|at| at <= now) {
            let sent = self.client.flush_delayed().await;
            self.client_sent(sent)?;
        }
        Ok(())
    }

    /// A published item for the client.
    async fn published(&mut self, item: &crate::hub::Message) -> Result<(), Ended> {
        match self.client.published(item).await {
            Ok(effect) => self.apply(effect),
            Err(Ended) => self.client_sent(Err(Ended)),
        }
    }

    /// After a send to the client: one that failed means the client is gone, which the
    /// backend still hears of (DISCONNECT) before the connection ends.
    fn client_sent(&mut self, sent: Result<(), Ended>) -> Result<(), Ended> {
        match (sent, self.state) {
            (Ok(()), _) => Ok(()),
            (Err(Ended), State::Open) => self.client_left(Event::Disconnect),
            (Err(Ended), State::ClientDone) => Ok(()),
            (Err(Ended), _) => Err(Ended),
        }
    }

    fn finished(&self) -> bool {
        self.state == State::ClientDone
            && self.in_flight.is_none()
            && self.retry.is_none()
            && self.outbox.is_empty()
    }

    /// What the client side asks of the backend side.
    fn apply(&mut self, effect: Effect) -> Result<(), Ended> {
        match effect {
            Effect::None => {}
            Effect::Detach => {
                if self.state == State::Open {
                    // The backend's side closes: it hears a CLOSE, and nothing after it.
                    self.state = State::Detached;
                    self.outbox.clear();
                    self.outbox_bytes = 0;
                    self.queue(Event::Close(None));
                }
            }
            Effect::Refresh => {
                let idle = self.in_flight.is_none() && self.retry.is_none();
                if self.state == State::Open && idle {
                    self.send(Vec::new(), 0);
                }
            }
            Effect::Closing => {
                if self.state == State::ClientDone {
                    return Err(Ended);
                }
                self.state = State::ClosingPublished;
            }
        }
        Ok(())
    }

    /// Starts a request with what is queued, if none is in flight.
    fn start_request(&mut self) {
        if self.in_flight.is_some() || self.retry.is_some() || self.outbox.is_empty() {
            return;
        }
        let mut events = Vec::new();
        let mut bytes = 0;
        while let Some(event) = self.outbox.front() {
            let size = event.encoded_len();
            let full = bytes + size > woh::REQUEST_CONTENT_LIMIT
                || (self.backend.one_event && !events.is_empty());
            if full && !events.is_empty() {
                break;
            }
            bytes += size;
            if let Some(event) = self.outbox.pop_front() {
                self.outbox_bytes -= size;
                events.push(event);
            }
        }
        self.send(events, 0);
    }

    /// Posts `events` (the `tries`-th try of them).
    fn send(&mut self, events: Vec<Event>, tries: u32) {
        let pending = self.backend.post(&events);
        self.in_flight = Some((pending, events, tries));
        self.schedule_keep_alive();
    }

    /// The next idle keep-alive request, counted from now.
    fn schedule_keep_alive(&mut self) {
        self.next_keep_alive = self.backend.keep_alive.map(|every| Instant::now() + every);
    }

    /// A message from the client, or its leaving.
    async fn client_message(
        &mut self,
        message: Option<Result<Message, tungstenite::Error>>,
    ) -> Result<(), Ended> {
        let message = match message {
            Some(Ok(message)) => message,
            Some(Err(e)) => {
                self.client.refuse(&e).await;
                return self.client_left(Event::Disconnect);
            }
            // Gone without a close handshake.
            None => return self.client_left(Event::Disconnect),
        };
        let Some(event) = client::to_event(message) else {
            return Ok(());
        };
        match (&event, self.state) {
            (Event::Close(_), State::Closing) => Err(Ended),
            (Event::Close(_), State::ClosingPublished) => {
                self.state = State::ClientDone;
                self.queue(Event::Close(None));
                Ok(())
            }
            (Event::Close(_), _) => self.client_left(event),
            (_, State::Open) => {
                self.queue(event);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The client closed (`event` is its CLOSE) or went away (DISCONNECT): the backend hears
    /// of it unless its side is closed already, then the connection ends.
    fn client_left(&mut self, event: Event) -> Result<(), Ended> {
        if self.state != State::Open {
            return Err(Ended);
        }
        self.state = State::ClientDone;
        self.queue(event);
        Ok(())
    }

    /// Queues an event for the next request.
    fn queue(&mut self, event: Event) {
        self.outbox_bytes += event.encoded_len();
        self.outbox.push_back(event);
    }

    /// The backend's answer to the request in flight.
    async fn answer(&mut self, answer: Result<grip::Response, GatewayError>) -> Result<(), Ended> {
        let Some((_, events, tries)) = self.in_flight.take() else {
            return Ok(());
        };
        let response = match answer {
            Ok(response) => response,
            Err(e) => return self.failed(events, tries, &e.to_string()).await,
        };
        let parsed = woh::response_events(response.code, &response.headers, &response.body);
        let received = match parsed {
            Ok(received) => received,
            // The backend answered, but not with events: a connection error, not one to try
            // again. The client is dropped at once, as Pushpin does.
            Err(e) => {
                tracing::debug!(error = %e, "WebSocket-over-HTTP answer unusable; client dropped");
                self.abort = true;
                return Err(Ended);
            }
        };
        if self.state == State::Detached {
            // The backend's side is closed: what it says now goes nowhere.
            return Ok(());
        }
        self.backend.shape.apply_set_meta(&response.headers);
        if let Some(interval) = woh::keep_alive_interval(&response.headers) {
            self.backend.keep_alive = interval;
            self.schedule_keep_alive();
        }
        self.backend_events(received).await
    }

    /// A request failed: try it again later, or give up on the backend.
    async fn failed(&mut self, events: Vec<Event>, tries: u32, why: &str) -> Result<(), Ended> {
        if self.state == State::ClientDone {
            // Nobody is left to keep the connection for.
            tracing::debug!(
                error = why,
                "WebSocket-over-HTTP request for a closed client failed"
            );
            return Err(Ended);
        }
        if tries >= RETRIES {
            tracing::warn!(
                error = why,
                "WebSocket-over-HTTP backend unreachable; closing client"
            );
            let _ = self
                .client
                .send(client::close(BACKEND_GONE, Bytes::new()))
                .await;
            return Err(Ended);
        }
        let delay = RETRY_DELAY * 2u32.pow(tries) + Duration::from_millis(fastrand::u64(..1000));
        tracing::debug!(
            error = why,
            ?delay,
            "WebSocket-over-HTTP request failed; retrying"
        );
        self.retry = Some((events, tries + 1, Instant::now() + delay));
        Ok(())
    }

    /// Acts on the backend's events, in order.
    async fn backend_events(&mut self, events: Vec<Event>) -> Result<(), Ended> {
        for event in events {
            if self.state == State::ClientDone {
                // The client has gone: what was meant for it goes nowhere, but the backend
                // must still hear that it went.
                if event == Event::Disconnect {
                    return Err(Ended);
                }
                continue;
            }
            let effect = match event {
                Event::Open => Ok(Effect::None),
                Event::Text(content) => self.client.backend_said(content, true).await,
                Event::Binary(content) => self.client.backend_said(content, false).await,
                Event::Ping(data) => self
                    .client
                    .send(Message::Ping(data))
                    .await
                    .map(|()| Effect::None),
                Event::Pong(data) => self
                    .client
                    .send(Message::Pong(data))
                    .await
                    .map(|()| Effect::None),
                Event::Close(close) => {
                    let (code, reason) = close
                        .map(|c| (c.code.0, c.reason))
                        .unwrap_or((1000, Bytes::new()));
                    let sent = self.client.send(client::close(code, reason)).await;
                    if sent.is_ok() {
                        self.state = State::Closing;
                        return Ok(());
                    }
                    sent.map(|()| Effect::None)
                }
                Event::Disconnect => return Err(Ended),
            };
            match effect {
                Ok(effect) => self.apply(effect)?,
                Err(Ended) => self.client_sent(Err(Ended))?,
            }
            if matches!(self.state, State::Closing | State::ClosingPublished) {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// The answer of the request in flight; pending while there is none.
async fn in_flight(
    slot: &mut Option<(Pending, Vec<Event>, u32)>,
) -> Result<grip::Response, GatewayError> {
    match slot {
        Some((pending, _, _)) => pending.await,
        None => std::future::pending().await,
    }
}
