//! WebSocket clients on `over_http` routes (§7.2): the connection's life as a series of HTTP
//! `POST`s of events to a stateless backend.
//!
//! The handshake is answered only after the backend accepted an `OPEN`: a refusal reaches the
//! client as the backend's own response. After the `101` one task per connection (the client's
//! connection task) runs the session: client messages become events, sent in one request at a
//! time, and those arriving while a request is in flight go in the next one; the backend's
//! events and control messages (§7.3) act on the client and the connection's subscriptions;
//! published `ws-message` items go to the client; keep-alive requests, client keep-alives and
//! delayed messages run on timers. A failed request is tried again after 1 s, doubling with
//! jitter, five times, then the client is closed with 1011.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::Method;
use protocol::grip;
use protocol::publish::{Action, Item, WsMessageType};
use protocol::wsevents::{
    is_control, ControlMessage, Event, KeepAlive, KeepAliveMode, MessageType,
};
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::tungstenite::{self, Message};

use super::holds::Upstream;
use super::workers::WorkerTarget;
use super::{Gateway, GatewayError, Served};
use crate::config::routes::{Route, TargetKind};
use crate::frontend::conn::{Reply, ReplyBody, Request, Upgrade, Upgraded};
use crate::websocket::client::{self, ClientSocket};
use crate::websocket::handshake::Handshake;
use crate::websocket::over_http::{self as woh, RequestShape};
use crate::websocket::subscriptions::WsSubscriptions;

/// Tries of a failed request after the first.
const RETRIES: u32 = 5;
/// The first retry's delay; each later one doubles, plus up to a second of jitter.
const RETRY_DELAY: Duration = Duration::from_secs(1);
/// Close code when the backend cannot be reached any more.
const BACKEND_GONE: u16 = 1011;

type Pending = Pin<Box<dyn Future<Output = Result<grip::Response, GatewayError>> + Send>>;

impl Gateway {
    /// A WebSocket handshake on a route: opens the connection with the backend, then answers.
    pub(super) async fn websocket(
        self: &Arc<Self>,
        req: Request,
        route: &Arc<Route>,
        path: &str,
    ) -> Result<Served, GatewayError> {
        let handshake = match Handshake::check(&req.head.method, &req.head.headers) {
            Ok(handshake) => handshake,
            Err(e) => return Ok(Served::once(Reply::text(400, format!("{e}\n")))),
        };
        let target = route
            .targets
            .first()
            .ok_or(GatewayError::Unsupported("route has no target"))?;
        if !target.over_http {
            return Err(GatewayError::Unsupported(
                "WebSocket routes without over_http are not available in this build yet",
            ));
        }
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
            Err(woh::ResponseError::NotEvents(_)) => return Ok(Served::once(rejection(first))),
            Err(e) => return Err(GatewayError::Grip(e.to_string())),
        };
        shape.apply_set_meta(&first.headers);
        let session = Session {
            gateway: self.clone(),
            subscriptions: WsSubscriptions::new(
                self.hub.clone(),
                &route.prefix,
                self.subscription_max,
                self.limiter(route),
                &target.subs,
            ),
            upstream,
            path: out.path,
            shape,
            prefix: woh::grip_prefix(&first.headers),
            keep_alive: woh::keep_alive_interval(&first.headers).flatten(),
            one_event: target.one_event,
            first: events
                .into_iter()
                .skip_while(|e| *e == Event::Open)
                .collect(),
        };
        let head = handshake.switching_head(woh::client_fields(&first.headers));
        Ok(Served::once(Reply {
            head,
            body: ReplyBody::Upgrade(Box::new(session)),
            close: true,
        }))
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
            TargetKind::Http { .. } => Upstream::Http(super::http_targets(route)),
        })
    }
}

/// A refused `OPEN`: the backend's status, fields and body (capped) go to the client.
fn rejection(response: grip::Response) -> Reply {
    let mut body = response.body;
    body.truncate(woh::REJECTION_LIMIT);
    Reply {
        head: crate::frontend::response::ResponseHead {
            code: response.code,
            reason: response.reason,
            headers: response.headers,
        },
        body: ReplyBody::Full(body),
        close: false,
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
    /// The `grip` extension's message prefix; `None` when the backend did not enable it.
    prefix: Option<Bytes>,
    /// The backend's keep-alive interval.
    keep_alive: Option<Duration>,
    one_event: bool,
    /// Events of the answer to `OPEN`, after it.
    first: Vec<Event>,
}

impl Upgrade for Session {
    fn run<'a>(self: Box<Self>, io: Upgraded<'a>) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            let ws = client::accept(io).await;
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
            let mut live = Live {
                ws,
                backend: Backend {
                    gateway,
                    upstream,
                    path,
                    shape,
                    keep_alive,
                    one_event,
                },
                prefix,
                subscriptions,
                outbox: VecDeque::new(),
                in_flight: None,
                retry: None,
                next_keep_alive: None,
                client_keep_alive: None,
                delayed: None,
                state: State::Open,
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
    /// The backend side is closed (`detach`, or its CLOSE): the client stays, its messages go
    /// nowhere.
    Detached,
    /// The client sent a close or left: what is queued goes to the backend, then the end.
    ClientDone,
    /// The backend closed the client: waiting for the client's close reply.
    Closing,
}

/// A keep-alive message for the client (a `keep-alive` control message).
struct ClientKeepAlive {
    message: Message,
    every: Duration,
    mode: KeepAliveMode,
    due: Instant,
}

/// An accepted connection.
struct Live<'a> {
    ws: ClientSocket<'a>,
    backend: Backend,
    prefix: Option<Bytes>,
    subscriptions: WsSubscriptions,
    /// Events waiting for the next request.
    outbox: VecDeque<Event>,
    /// The request in flight, its events (sent again if it fails) and which try it is.
    in_flight: Option<(Pending, Vec<Event>, u32)>,
    /// A failed request's events, the tries so far, and when to try again.
    retry: Option<(Vec<Event>, u32, Instant)>,
    next_keep_alive: Option<Instant>,
    client_keep_alive: Option<ClientKeepAlive>,
    delayed: Option<(Message, Instant)>,
    state: State,
}

/// What woke the connection.
enum Step {
    Client(Option<Result<Message, tungstenite::Error>>),
    Answer(Result<grip::Response, GatewayError>),
    Published(Option<crate::hub::Message>),
    Retry,
    KeepAlive,
    ClientKeepAlive,
    Delayed,
}

impl Live<'_> {
    async fn run(&mut self, first: Vec<Event>) {
        self.schedule_keep_alive();
        if self.backend_events(first).await.is_err() {
            return;
        }
        while !self.finished() {
            self.start_request();
            let step = self.next_step().await;
            let outcome = match step {
                Step::Client(message) => self.client_message(message).await,
                Step::Answer(answer) => self.answer(answer).await,
                Step::Published(Some(item)) => self.published(&item).await,
                Step::Published(None) => Ok(()),
                Step::Retry => {
                    if let Some((events, tries, _)) = self.retry.take() {
                        self.send(events, tries);
                    }
                    Ok(())
                }
                Step::KeepAlive => {
                    // An empty request lets the backend deliver what it queued.
                    self.send(Vec::new(), 0);
                    Ok(())
                }
                Step::ClientKeepAlive => self.send_client_keep_alive().await,
                Step::Delayed => self.flush_delayed().await,
            };
            if outcome.is_err() {
                return;
            }
        }
        let _ = self.ws.close(None).await;
    }

    async fn next_step(&mut self) -> Step {
        let idle = self.in_flight.is_none() && self.retry.is_none();
        let keep_alive_at = self
            .next_keep_alive
            .filter(|_| idle && self.state == State::Open);
        let retry_at = self.retry.as_ref().map(|(_, _, at)| *at);
        let client_ka_at = self.client_keep_alive.as_ref().map(|k| k.due);
        let delayed_at = self.delayed.as_ref().map(|(_, at)| *at);
        let reading = self.state != State::ClientDone;
        tokio::select! {
            message = self.ws.next(), if reading => Step::Client(message),
            answer = in_flight(&mut self.in_flight) => Step::Answer(answer),
            item = self.subscriptions.queue.recv() => Step::Published(item),
            () = sleep_opt(retry_at) => Step::Retry,
            () = sleep_opt(keep_alive_at) => Step::KeepAlive,
            () = sleep_opt(client_ka_at) => Step::ClientKeepAlive,
            () = sleep_opt(delayed_at) => Step::Delayed,
        }
    }

    fn finished(&self) -> bool {
        self.state == State::ClientDone
            && self.in_flight.is_none()
            && self.retry.is_none()
            && self.outbox.is_empty()
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
            Some(Err(tungstenite::Error::Capacity(_))) => {
                let _ = self.ws.send(client::close(1009, Bytes::new())).await;
                return self.client_left(Event::Disconnect);
            }
            // Gone without a close handshake.
            Some(Err(_)) | None => return self.client_left(Event::Disconnect),
        };
        let Some(event) = client::to_event(message) else {
            return Ok(());
        };
        match (&event, self.state) {
            (Event::Close(_), State::Closing) => Err(Ended),
            (Event::Close(_), _) => self.client_left(event),
            (_, State::Open) => {
                self.outbox.push_back(event);
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
        self.outbox.push_back(event);
        Ok(())
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
            Err(e) => return self.failed(events, tries, &e.to_string()).await,
        };
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
                .ws
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
            match event {
                Event::Open => {}
                Event::Text(content) => self.backend_message(content, true).await?,
                Event::Binary(content) => self.backend_message(content, false).await?,
                Event::Ping(data) => self.send_client(Message::Ping(data)).await?,
                Event::Pong(data) => self.send_client(Message::Pong(data)).await?,
                Event::Close(close) => {
                    let (code, reason) = close
                        .map(|c| (c.code.0, c.reason))
                        .unwrap_or((1000, Bytes::new()));
                    self.send_client(client::close(code, reason)).await?;
                    if self.state == State::ClientDone {
                        return Err(Ended);
                    }
                    self.state = State::Closing;
                    return Ok(());
                }
                Event::Disconnect => return Err(Ended),
            }
        }
        Ok(())
    }

    /// A backend message for the client: with the `grip` extension on, `c:` text is a control
    /// message, and anything else must carry the prefix, which is removed (or it is dropped).
    async fn backend_message(&mut self, content: Bytes, text: bool) -> Result<(), Ended> {
        let content = match &self.prefix {
            None => content,
            Some(_) if text && is_control(&content) => return self.control(&content).await,
            Some(prefix) if content.starts_with(prefix) => content.slice(prefix.len()..),
            Some(_) => {
                tracing::debug!("backend message without the grip message prefix dropped");
                return Ok(());
            }
        };
        let message = if text {
            match client::text(content) {
                Some(message) => message,
                None => {
                    tracing::warn!("backend text message is not UTF-8; dropped");
                    return Ok(());
                }
            }
        } else {
            Message::Binary(content)
        };
        self.send_client(message).await
    }

    /// A control message from the backend (§7.3).
    async fn control(&mut self, message: &[u8]) -> Result<(), Ended> {
        let control = match ControlMessage::parse(message) {
            Ok(control) => control,
            Err(e) => {
                tracing::debug!(error = %e, "malformed control message ignored");
                return Ok(());
            }
        };
        match control {
            ControlMessage::Subscribe { channel, filters } => {
                self.subscriptions.subscribe(&channel, filters)
            }
            ControlMessage::Unsubscribe { channel } => self.subscriptions.unsubscribe(&channel),
            ControlMessage::Detach => {
                if self.state == State::Open {
                    self.state = State::Detached;
                    self.outbox.clear();
                }
            }
            ControlMessage::SetMeta { name, value } => self.subscriptions.set_meta(&name, value),
            ControlMessage::KeepAlive(keep_alive) => self.set_client_keep_alive(keep_alive),
            ControlMessage::SendDelayed(delayed) => {
                let due = Instant::now() + Duration::from_secs(u64::from(delayed.timeout));
                if let Some(message) = typed_message(delayed.message_type, delayed.content) {
                    self.delayed = Some((message, due));
                }
            }
            ControlMessage::FlushDelayed => return self.flush_delayed().await,
            // The session id is for a state service gripway does not have.
            ControlMessage::Session { .. } => {}
            ControlMessage::Unknown { type_name } => {
                tracing::debug!(%type_name, "unknown control message ignored")
            }
        }
        Ok(())
    }

    fn set_client_keep_alive(&mut self, keep_alive: KeepAlive) {
        if keep_alive.is_off() {
            self.client_keep_alive = None;
            return;
        }
        let every = Duration::from_secs(u64::from(keep_alive.timeout.max(1)));
        self.client_keep_alive =
            typed_message(keep_alive.message_type, keep_alive.content).map(|message| {
                ClientKeepAlive {
                    message,
                    every,
                    mode: keep_alive.mode,
                    due: Instant::now() + every,
                }
            });
    }

    async fn send_client_keep_alive(&mut self) -> Result<(), Ended> {
        let Some(keep_alive) = self.client_keep_alive.as_mut() else {
            return Ok(());
        };
        keep_alive.due = Instant::now() + keep_alive.every;
        let message = keep_alive.message.clone();
        self.send_client(message).await
    }

    async fn flush_delayed(&mut self) -> Result<(), Ended> {
        match self.delayed.take() {
            Some((message, _)) => self.send_client(message).await,
            None => Ok(()),
        }
    }

    /// A published item for one of the connection's channels.
    async fn published(&mut self, item: &Item) -> Result<(), Ended> {
        let Some(ws) = &item.ws_message else {
            return Ok(());
        };
        let content = match self.subscriptions.filters() {
            None => ws.content.clone(),
            Some(filters) => {
                match filters.apply(item, ws.content_filters.as_deref(), &ws.content) {
                    Ok(Some(content)) => content.into_owned(),
                    Ok(None) => return Ok(()),
                    Err(e) => {
                        tracing::debug!(error = %e, "filter failed; item skipped");
                        return Ok(());
                    }
                }
            }
        };
        match ws.action {
            Action::Send => {
                let kind = match ws.message_type {
                    WsMessageType::Text => MessageType::Text,
                    WsMessageType::Binary => MessageType::Binary,
                    WsMessageType::Ping => MessageType::Ping,
                    WsMessageType::Pong => MessageType::Pong,
                };
                match typed_message(kind, content) {
                    Some(message) => self.send_client(message).await,
                    None => Ok(()),
                }
            }
            Action::Close => {
                let code = ws.close_code.unwrap_or(1000);
                let reason = Bytes::from(ws.close_reason.clone().unwrap_or_default());
                self.send_client(client::close(code, reason)).await?;
                self.state = State::Closing;
                Ok(())
            }
            Action::Refresh => {
                if self.state == State::Open && self.in_flight.is_none() && self.retry.is_none() {
                    self.send(Vec::new(), 0);
                }
                Ok(())
            }
            Action::Hint => Ok(()),
        }
    }

    /// Sends a message to the client; an idle keep-alive restarts its wait.
    async fn send_client(&mut self, message: Message) -> Result<(), Ended> {
        if let Some(keep_alive) = self.client_keep_alive.as_mut() {
            if keep_alive.mode == KeepAliveMode::Idle {
                keep_alive.due = Instant::now() + keep_alive.every;
            }
        }
        self.ws.send(message).await.map_err(|_| Ended)
    }
}

/// The connection is over.
struct Ended;

/// A message of `kind` with `content` (`None` for text that is not UTF-8).
fn typed_message(kind: MessageType, content: Bytes) -> Option<Message> {
    match kind {
        MessageType::Text => client::text(content),
        MessageType::Binary => Some(Message::Binary(content)),
        MessageType::Ping => Some(Message::Ping(content)),
        MessageType::Pong => Some(Message::Pong(content)),
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

async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}
