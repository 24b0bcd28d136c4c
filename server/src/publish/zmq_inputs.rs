//! The ZeroMQ publish inputs (§5.3, §5.4): a PULL socket on `push_in_spec` and a SUB socket on
//! `push_in_sub_specs`, feeding the hub like the HTTP publish API.
//!
//! - PULL: one frame per item, a bare tnetstring dict, `T` + tnetstring or `J` + JSON. There is
//!   no reply; a bad item is logged and dropped, as Pushpin does.
//! - SUB: two frames, `[channel, item]`. The socket subscribes to a channel only while some
//!   local session holds it, following the hub's channel events, so a publisher on XPUB learns
//!   where to send. ZeroMQ matches subscriptions by prefix; the hub delivers by exact name, so
//!   extra messages for longer names reach nobody.
//!
//! Both sockets bind by default (the SUB one connects with `push_in_sub_connect`, and the
//! `zeromq` crate reconnects SUB sockets by itself). Receiving never waits on the hub: a
//! publish is a few `try_send`s.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use zeromq::{Socket, SocketRecv};

use crate::hub::{ChannelEvent, Hub};

/// How long to pause when a socket reports an error, so a persistent one cannot spin.
const ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Why a ZeroMQ input could not start.
#[derive(Debug, thiserror::Error)]
#[error("{spec}: {source}")]
pub struct InputError {
    spec: String,
    #[source]
    source: zeromq::ZmqError,
}

impl InputError {
    /// `spec` could not be bound or connected.
    pub fn new(spec: &str, source: zeromq::ZmqError) -> Self {
        InputError {
            spec: spec.to_owned(),
            source,
        }
    }
}

/// A bound PULL input.
pub struct PullInput {
    socket: zeromq::PullSocket,
}

impl PullInput {
    /// Binds `spec` (`tcp://host:port` or `ipc://path`).
    pub async fn bind(spec: &str) -> Result<PullInput, InputError> {
        let mut socket = zeromq::PullSocket::new();
        socket.bind(spec).await.map_err(|source| InputError {
            spec: spec.to_owned(),
            source,
        })?;
        Ok(PullInput { socket })
    }

    /// Publishes what arrives until `shutdown` turns true.
    pub async fn run(mut self, hub: Arc<Hub>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let received = tokio::select! {
                received = self.socket.recv() => received,
                _ = shutdown.changed() => return,
            };
            match received {
                Ok(message) => match message.get(0) {
                    Some(frame) => publish_pull(&hub, frame),
                    None => tracing::warn!("empty ZMQ PULL message dropped"),
                },
                Err(e) => {
                    tracing::debug!(error = %e, "ZMQ PULL receive failed");
                    tokio::time::sleep(ERROR_PAUSE).await;
                }
            }
        }
    }
}

fn publish_pull(hub: &Hub, frame: &Bytes) {
    match protocol::publish::parse_zmq_message(frame) {
        Ok(item) => {
            hub.publish(item);
        }
        Err(e) => tracing::warn!(error = %e, "invalid ZMQ PULL item dropped"),
    }
}

/// A SUB input that follows the hub's channels.
pub struct SubInput {
    socket: zeromq::SubSocket,
}

impl SubInput {
    /// Binds (or with `connect`, connects to) each of `specs`.
    pub async fn open(specs: &[String], connect: bool) -> Result<SubInput, InputError> {
        let mut socket = zeromq::SubSocket::new();
        for spec in specs {
            let result = if connect {
                socket.connect(spec).await
            } else {
                socket.bind(spec).await.map(|_| ())
            };
            result.map_err(|source| InputError {
                spec: spec.clone(),
                source,
            })?;
        }
        Ok(SubInput { socket })
    }

    /// Publishes what arrives, keeping the subscriptions equal to the hub's channels, until
    /// `shutdown` turns true.
    pub async fn run(
        mut self,
        hub: Arc<Hub>,
        mut events: mpsc::Receiver<ChannelEvent>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut subscribed: HashSet<Arc<str>> = HashSet::new();
        loop {
            tokio::select! {
                event = events.recv() => {
                    let Some(event) = event else { return };
                    self.apply(event, &mut subscribed).await;
                    if hub.channel_events_lost() {
                        self.resync(&hub, &mut subscribed).await;
                    }
                }
                received = self.socket.recv() => match received {
                    Ok(message) => publish_sub(&hub, message.get(0), message.get(1)),
                    Err(e) => {
                        tracing::debug!(error = %e, "ZMQ SUB receive failed");
                        tokio::time::sleep(ERROR_PAUSE).await;
                    }
                },
                _ = shutdown.changed() => return,
            }
        }
    }

    async fn apply(&mut self, event: ChannelEvent, subscribed: &mut HashSet<Arc<str>>) {
        let result = match event {
            ChannelEvent::Subscribed(channel) => {
                let r = self.socket.subscribe(&channel).await;
                subscribed.insert(channel);
                r
            }
            ChannelEvent::Unsubscribed(channel) => {
                let r = self.socket.unsubscribe(&channel).await;
                subscribed.remove(&channel);
                r
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "ZMQ SUB subscription change failed");
        }
    }

    /// Events were lost: make the subscriptions equal to the hub's channels again.
    async fn resync(&mut self, hub: &Hub, subscribed: &mut HashSet<Arc<str>>) {
        let wanted: HashSet<Arc<str>> = hub.channel_names().into_iter().collect();
        let gone: Vec<Arc<str>> = subscribed.difference(&wanted).cloned().collect();
        let new: Vec<Arc<str>> = wanted.difference(subscribed).cloned().collect();
        for channel in gone {
            self.apply(ChannelEvent::Unsubscribed(channel), subscribed)
                .await;
        }
        for channel in new {
            self.apply(ChannelEvent::Subscribed(channel), subscribed)
                .await;
        }
    }
}

fn publish_sub(hub: &Hub, channel: Option<&Bytes>, payload: Option<&Bytes>) {
    let (Some(channel), Some(payload)) = (channel, payload) else {
        tracing::warn!("ZMQ SUB message without two frames dropped");
        return;
    };
    match protocol::publish::parse_zmq_sub_message(channel, payload) {
        Ok(item) => {
            hub.publish(item);
        }
        Err(e) => tracing::warn!(error = %e, "invalid ZMQ SUB item dropped"),
    }
}
