//! Native WebSocket backends (§7.1): frames relayed both ways, with the `grip` extension.
//!
//! The client's `Sec-WebSocket-Extensions` is replaced by `grip` on GRIP routes. If the
//! backend's `101` accepts it, the backend's `c:` text messages are control messages and its
//! other messages must carry the message prefix (`m:` unless it names another), which is
//! removed; messages without it are dropped. Client messages go to the backend unchanged. The
//! route's `sub=` channels are subscribed on every connection. Without the extension, frames
//! pass through as they are.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

use super::client_side::{sleep_opt, ClientSide, Effect, Ended, BACKEND_GONE};
use super::refusal;
use crate::backend::websocket::{self as backend, Opened};
use crate::config::routes::Route;
use crate::frontend::conn::{Reply, ReplyBody, Request, Upgrade, Upgraded};
use crate::gateway::{http_targets, Gateway, GatewayError};
use crate::websocket::handshake::Handshake;
use crate::websocket::subscriptions::WsSubscriptions;
use crate::websocket::{client, extension};
use protocol::grip;

impl Gateway {
    /// Opens the WebSocket with the backend; answers the client with a `101` and a relay, or
    /// with the backend's refusal.
    pub(super) async fn open_native(
        self: &Arc<Self>,
        req: Request,
        route: &Arc<Route>,
        path: &str,
        handshake: Handshake,
    ) -> Result<Reply, GatewayError> {
        let targets = http_targets(route);
        if targets.is_empty() || route.targets.first().is_some_and(|t| t.ssl) {
            return Err(GatewayError::Unsupported(
                "WebSocket routes to ZeroMQ or TLS targets need over_http",
            ));
        }
        let (_, out) = self.rewrite(&req.head.headers, &req.peer, route, path)?;
        let mut headers = out.headers;
        headers.remove("sec-websocket-extensions");
        headers.push("Upgrade", "websocket");
        headers.push("Connection", "Upgrade");
        if !route.no_grip {
            headers.push("Sec-WebSocket-Extensions", "grip");
        }
        let (conn, head) = match backend::open(&targets, &out.path, &headers).await? {
            Opened::Upgraded { conn, head } => (conn, head),
            Opened::Refused { head, body } => {
                return Ok(refusal(grip::Response {
                    code: head.code,
                    reason: head.reason,
                    headers: head.headers,
                    body,
                }))
            }
        };
        let prefix = if route.no_grip {
            None
        } else {
            extension::grip_prefix(&head.headers)
        };
        let mut fields = head.headers;
        fields.remove("sec-websocket-extensions");
        let relay = Relay {
            backend: conn.stream,
            early: conn.buf.freeze(),
            prefix,
            subscriptions: self.ws_subscriptions(route),
        };
        Ok(Reply {
            head: handshake.switching_head(fields),
            body: ReplyBody::Upgrade(Box::new(relay)),
            close: true,
        })
    }
}

/// An opened backend WebSocket, waiting for the client's side.
struct Relay {
    backend: TcpStream,
    early: Bytes,
    prefix: Option<Bytes>,
    subscriptions: WsSubscriptions,
}

impl Upgrade for Relay {
    fn run<'a>(self: Box<Self>, io: Upgraded<'a>) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        // Taken apart here so the box is freed now rather than kept for the connection's life.
        let Relay {
            backend,
            early,
            prefix,
            subscriptions,
        } = *self;
        Box::pin(async move {
            let ws = client::accept(io).await;
            let backend = WebSocketStream::from_partially_read(
                backend,
                early.to_vec(),
                Role::Client,
                Some(client::config()),
            )
            .await;
            let mut live = Live {
                client: ClientSide::new(ws, prefix, subscriptions),
                backend: Some(backend),
                closing: false,
            };
            live.run().await;
        })
    }
}

/// What woke the relay.
enum Step {
    Client(Option<Result<Message, tungstenite::Error>>),
    Backend(Option<Result<Message, tungstenite::Error>>),
    Published(Option<crate::hub::Message>),
    Timer,
}

struct Live<'a> {
    client: ClientSide<'a>,
    /// `None` once detached or closed.
    backend: Option<WebSocketStream<TcpStream>>,
    /// The client was sent a close: waiting for its reply.
    closing: bool,
}

impl Live<'_> {
    async fn run(&mut self) {
        loop {
            // Each step's work is boxed: only the wait lives in the connection's state between
            // messages, which keeps an idle connection small.
            let outcome = match self.next_step().await {
                Step::Client(message) => Box::pin(self.client_message(message)).await,
                Step::Backend(message) => Box::pin(self.backend_message(message)).await,
                Step::Published(Some(item)) => Box::pin(self.published(&item)).await,
                Step::Published(None) => Ok(()),
                Step::Timer => Box::pin(self.timer()).await,
            };
            if outcome.is_err() {
                break;
            }
        }
        if let Some(mut backend) = self.backend.take() {
            let _ = backend.close(None).await;
        }
        self.client.finish().await;
    }

    async fn next_step(&mut self) -> Step {
        let deadline = [self.client.keep_alive_at(), self.client.delayed_at()]
            .into_iter()
            .flatten()
            .min();
        tokio::select! {
            message = self.client.ws.next() => Step::Client(message),
            message = backend_next(&mut self.backend) => Step::Backend(message),
            item = self.client.subscriptions.queue.recv() => Step::Published(item),
            () = sleep_opt(deadline) => Step::Timer,
        }
    }

    async fn timer(&mut self) -> Result<(), Ended> {
        let now = Instant::now();
        if self.client.keep_alive_at().is_some_and(|at| at <= now) {
            self.client.send_keep_alive().await?;
        }
        if self.client.delayed_at().is_some_and(|at| at <= now) {
            self.client.flush_delayed().await?;
        }
        Ok(())
    }

    async fn published(&mut self, item: &crate::hub::Message) -> Result<(), Ended> {
        let effect = self.client.published(item).await?;
        self.apply(effect).await
    }

    /// A client message goes to the backend as it is; its close ends the relay.
    async fn client_message(
        &mut self,
        message: Option<Result<Message, tungstenite::Error>>,
    ) -> Result<(), Ended> {
        let message = match message {
            Some(Ok(message)) => message,
            Some(Err(e)) => {
                self.client.refuse(&e).await;
                return Err(Ended);
            }
            None => return Err(Ended),
        };
        let closed = matches!(message, Message::Close(_));
        if closed && self.closing {
            return Err(Ended);
        }
        if let Some(backend) = self.backend.as_mut() {
            if backend.send(message).await.is_err() {
                self.backend = None;
            }
        }
        if closed {
            return Err(Ended);
        }
        Ok(())
    }

    /// A backend message for the client.
    async fn backend_message(
        &mut self,
        message: Option<Result<Message, tungstenite::Error>>,
    ) -> Result<(), Ended> {
        let effect = match message {
            Some(Ok(Message::Text(text))) => {
                self.client.backend_said(Bytes::from(text), true).await?
            }
            Some(Ok(Message::Binary(data))) => self.client.backend_said(data, false).await?,
            Some(Ok(Message::Ping(data))) => {
                self.client.send(Message::Ping(data)).await?;
                Effect::None
            }
            Some(Ok(Message::Pong(data))) => {
                self.client.send(Message::Pong(data)).await?;
                Effect::None
            }
            Some(Ok(Message::Close(frame))) => {
                // Flushing writes the close reply tungstenite owes the backend.
                if let Some(mut backend) = self.backend.take() {
                    let _ = backend.flush().await;
                }
                self.client.send(Message::Close(frame)).await?;
                Effect::Closing
            }
            Some(Ok(Message::Frame(_))) => Effect::None,
            Some(Err(_)) | None => {
                self.backend = None;
                self.client
                    .send(client::close(BACKEND_GONE, Bytes::new()))
                    .await?;
                Effect::Closing
            }
        };
        self.apply(effect).await
    }

    async fn apply(&mut self, effect: Effect) -> Result<(), Ended> {
        match effect {
            Effect::None | Effect::Refresh => {}
            Effect::Detach => {
                if let Some(mut backend) = self.backend.take() {
                    let _ = backend.close(None).await;
                }
            }
            Effect::Closing => self.closing = true,
        }
        Ok(())
    }
}

/// The backend's next message; pending once it is gone.
async fn backend_next(
    backend: &mut Option<WebSocketStream<TcpStream>>,
) -> Option<Result<Message, tungstenite::Error>> {
    match backend {
        Some(ws) => ws.next().await,
        None => std::future::pending().await,
    }
}
