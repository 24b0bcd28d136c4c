//! The client's side of a WebSocket session, whatever the backend: its socket, its channels,
//! what the backend's messages do to it (the `grip` prefix and control messages, §7.1, §7.3),
//! published `ws-message` items, and the keep-alive and delayed messages it gets on timers.

use std::time::Duration;

use bytes::Bytes;
use futures_util::SinkExt;
use protocol::publish::{Action, Item, WsMessageType};
use protocol::wsevents::{is_control, ControlMessage, KeepAlive, KeepAliveMode, MessageType};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::websocket::client::{self, ClientSocket};
use crate::websocket::subscriptions::WsSubscriptions;

/// Close code sent to the client when its backend is gone (unreachable, or gone without a
/// close).
pub(super) const BACKEND_GONE: u16 = 1011;

/// The connection is over.
pub(super) struct Ended;

/// What the backend side must do after the client side acted.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Effect {
    /// Nothing.
    None,
    /// `detach`: close the backend side, keep the client.
    Detach,
    /// A published `refresh`: ask the backend now (WebSocket-over-HTTP).
    Refresh,
    /// The client was sent a close: wait for its reply, then end.
    Closing,
}

/// A keep-alive message for the client (a `keep-alive` control message).
struct ClientKeepAlive {
    message: Message,
    every: Duration,
    mode: KeepAliveMode,
    due: Instant,
}

/// The client's socket and everything the session keeps for it.
pub(super) struct ClientSide<'a> {
    pub(super) ws: ClientSocket<'a>,
    /// The `grip` extension's message prefix; `None` when the backend did not enable it.
    prefix: Option<Bytes>,
    pub(super) subscriptions: WsSubscriptions,
    keep_alive: Option<ClientKeepAlive>,
    delayed: Option<(Message, Instant)>,
}

impl<'a> ClientSide<'a> {
    pub(super) fn new(
        ws: ClientSocket<'a>,
        prefix: Option<Bytes>,
        subscriptions: WsSubscriptions,
    ) -> Self {
        ClientSide {
            ws,
            prefix,
            subscriptions,
            keep_alive: None,
            delayed: None,
        }
    }

    /// When the client's keep-alive is due, if it has one.
    pub(super) fn keep_alive_at(&self) -> Option<Instant> {
        self.keep_alive.as_ref().map(|k| k.due)
    }

    /// When the delayed message is due, if there is one.
    pub(super) fn delayed_at(&self) -> Option<Instant> {
        self.delayed.as_ref().map(|(_, at)| *at)
    }

    /// A message from the backend: with the `grip` extension on, `c:` text is a control
    /// message, and anything else must carry the prefix, which is removed (or it is dropped).
    pub(super) async fn backend_said(
        &mut self,
        content: Bytes,
        text: bool,
    ) -> Result<Effect, Ended> {
        let content = match &self.prefix {
            None => content,
            Some(_) if text && is_control(&content) => return self.control(&content).await,
            Some(prefix) if content.starts_with(prefix) => content.slice(prefix.len()..),
            Some(_) => {
                tracing::debug!("backend message without the grip message prefix dropped");
                return Ok(Effect::None);
            }
        };
        let message = if text {
            match client::text(content) {
                Some(message) => message,
                None => {
                    tracing::warn!("backend text message is not UTF-8; dropped");
                    return Ok(Effect::None);
                }
            }
        } else {
            Message::Binary(content)
        };
        self.send(message).await?;
        Ok(Effect::None)
    }

    /// A control message from the backend (§7.3).
    async fn control(&mut self, message: &[u8]) -> Result<Effect, Ended> {
        let control = match ControlMessage::parse(message) {
            Ok(control) => control,
            Err(e) => {
                tracing::debug!(error = %e, "malformed control message ignored");
                return Ok(Effect::None);
            }
        };
        match control {
            ControlMessage::Subscribe { channel, filters } => {
                self.subscriptions.subscribe(&channel, filters)
            }
            ControlMessage::Unsubscribe { channel } => self.subscriptions.unsubscribe(&channel),
            ControlMessage::Detach => return Ok(Effect::Detach),
            ControlMessage::SetMeta { name, value } => self.subscriptions.set_meta(&name, value),
            ControlMessage::KeepAlive(keep_alive) => self.set_keep_alive(keep_alive),
            ControlMessage::SendDelayed(delayed) => {
                let due = Instant::now() + Duration::from_secs(u64::from(delayed.timeout));
                if let Some(message) = typed_message(delayed.message_type, delayed.content) {
                    self.delayed = Some((message, due));
                }
            }
            ControlMessage::FlushDelayed => self.flush_delayed().await?,
            // The session id is for a state service gripway does not have.
            ControlMessage::Session { .. } => {}
            ControlMessage::Unknown { type_name } => {
                tracing::debug!(%type_name, "unknown control message ignored")
            }
        }
        Ok(Effect::None)
    }

    fn set_keep_alive(&mut self, keep_alive: KeepAlive) {
        if keep_alive.is_off() {
            self.keep_alive = None;
            return;
        }
        let every = Duration::from_secs(u64::from(keep_alive.timeout.max(1)));
        self.keep_alive =
            typed_message(keep_alive.message_type, keep_alive.content).map(|message| {
                ClientKeepAlive {
                    message,
                    every,
                    mode: keep_alive.mode,
                    due: Instant::now() + every,
                }
            });
    }

    /// Sends the keep-alive message (its timer fired).
    pub(super) async fn send_keep_alive(&mut self) -> Result<(), Ended> {
        let Some(keep_alive) = self.keep_alive.as_mut() else {
            return Ok(());
        };
        keep_alive.due = Instant::now() + keep_alive.every;
        let message = keep_alive.message.clone();
        self.send(message).await
    }

    /// Sends the delayed message now, if there is one.
    pub(super) async fn flush_delayed(&mut self) -> Result<(), Ended> {
        match self.delayed.take() {
            Some((message, _)) => self.send(message).await,
            None => Ok(()),
        }
    }

    /// A published item for one of the connection's channels.
    pub(super) async fn published(&mut self, item: &Item) -> Result<Effect, Ended> {
        let Some(ws) = &item.ws_message else {
            return Ok(Effect::None);
        };
        // Not content: filters do not apply.
        if ws.action == Action::Refresh {
            return Ok(Effect::Refresh);
        }
        let content = match self.subscriptions.filters() {
            None => ws.content.clone(),
            Some(filters) => {
                match filters.apply(item, ws.content_filters.as_deref(), &ws.content) {
                    Ok(Some(content)) => content.into_owned(),
                    Ok(None) => return Ok(Effect::None),
                    Err(e) => {
                        tracing::debug!(error = %e, "filter failed; item skipped");
                        return Ok(Effect::None);
                    }
                }
            }
        };
        match ws.action {
            Action::Send => {
                if let Some(message) = typed_message(message_type(ws.message_type), content) {
                    self.send(message).await?;
                }
                Ok(Effect::None)
            }
            Action::Close => {
                let code = ws.close_code.unwrap_or(1000);
                let reason = Bytes::from(ws.close_reason.clone().unwrap_or_default());
                self.send(client::close(code, reason)).await?;
                Ok(Effect::Closing)
            }
            Action::Refresh | Action::Hint => Ok(Effect::None),
        }
    }

    /// Answers a client that broke the protocol with the close code for what it did (1009 for
    /// a message too large, 1007 for text that is not UTF-8, 1002 otherwise). Nothing is sent
    /// when the connection itself failed.
    pub(super) async fn refuse(&mut self, error: &tungstenite::Error) {
        let code = match error {
            tungstenite::Error::Capacity(_) => 1009,
            tungstenite::Error::Utf8(_) => 1007,
            tungstenite::Error::Protocol(_) => 1002,
            _ => return,
        };
        let _ = self.ws.send(client::close(code, Bytes::new())).await;
    }

    /// Ends the client's side: any close reply the socket owes is written (a client that
    /// closed first gets its close answered), and a close is sent if none was.
    pub(super) async fn finish(&mut self) {
        let _ = self.ws.flush().await;
        let _ = self.ws.close(None).await;
    }

    /// Sends a message to the client; an idle keep-alive restarts its wait.
    pub(super) async fn send(&mut self, message: Message) -> Result<(), Ended> {
        if let Some(keep_alive) = self.keep_alive.as_mut() {
            if keep_alive.mode == KeepAliveMode::Idle {
                keep_alive.due = Instant::now() + keep_alive.every;
            }
        }
        self.ws.send(message).await.map_err(|_| Ended)
    }
}

fn message_type(kind: WsMessageType) -> MessageType {
    match kind {
        WsMessageType::Text => MessageType::Text,
        WsMessageType::Binary => MessageType::Binary,
        WsMessageType::Ping => MessageType::Ping,
        WsMessageType::Pong => MessageType::Pong,
    }
}

/// A message of `kind` with `content` (`None` for text that is not UTF-8).
fn typed_message(kind: MessageType, content: Bytes) -> Option<Message> {
    match kind {
        MessageType::Text => client::text(content),
        MessageType::Binary => Some(Message::Binary(content)),
        MessageType::Ping => Some(Message::Ping(content)),
        MessageType::Pong => Some(Message::Pong(content)),
    }
}

/// Sleeps until `at`; forever when there is no `at`.
pub(super) async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
