//! The channel hub: which sessions listen on which channels, and fan-out of published items.
//!
//! A published [`Item`] is wrapped in an `Arc` once; every subscriber receives a clone of that
//! pointer, and the formats' payloads inside are `Bytes`, so fan-out to N sessions is N queue
//! pushes of one pointer, with no copy or re-encoding per subscriber.
//!
//! - [`channels`]: the sharded channel → subscribers map, bounded per-session queues, and the
//!   subscription guards that make leaving automatic.
//! - [`rate_limit`]: `message_rate` and `message_hwm`, per route.
//! - [`sequencer`]: `id`/`prev-id` ordering and de-duplication, before fan-out.

pub mod channels;
pub mod rate_limit;
pub mod sequencer;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use std::time::Duration;

use bytes::Bytes;
use protocol::publish::Item;
use tokio::sync::{mpsc, watch};

use protocol::publish::{Action, HttpResponse, HttpStream, WsMessage};
use tokio::time::Instant;

use self::sequencer::{Sequencer, SequencerSettings};

pub use self::channels::{ChannelEvent, Channels, Fanout, Mode, ModeCounts};

use crate::stats::Stats;

/// The rate limit shared by the sessions of one route.
pub type RouteLimiter = rate_limit::RateLimiter<Message>;

/// The rate limits of all routes.
pub type RouteLimiters = rate_limit::Limiters<Message>;

/// What sessions receive: a published item, shared.
pub type Message = Arc<Item>;

/// A subscription of a session to one channel; dropping it unsubscribes.
pub type Subscription = channels::Subscription<Message>;

/// The hub every publish input feeds and every session subscribes to.
pub struct Hub {
    channels: Arc<Channels<Message>>,
    sequencer: Arc<Sequencer>,
    /// Channels that got their first subscriber, for the refresh a second later.
    first_subscribed: Mutex<Option<FirstSubscriptions>>,
    /// Channels gaining their first or losing their last subscriber, for a ZMQ SUB input.
    channel_events: Mutex<Option<mpsc::Receiver<ChannelEvent>>>,
    /// Set when a channel event could not be queued: the follower must re-read the channels.
    events_lost: Arc<AtomicBool>,
    /// Told of subscriber counts and of every item fanned out.
    stats: Stats,
    /// WebSocket-over-HTTP connections by connection id, for `refresh {cid}`: each one's queue.
    connections: Arc<Mutex<HashMap<Bytes, mpsc::Sender<Message>>>>,
}

/// A connection's place in [`Hub::register_connection`]'s table; dropping it leaves.
pub struct Registered {
    connections: Arc<Mutex<HashMap<Bytes, mpsc::Sender<Message>>>>,
    id: Bytes,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

/// What the hub is built with.
pub struct HubOptions {
    /// `message_wait` and `id_cache_ttl`.
    pub sequencing: SequencerSettings,
    /// `update_on_first_subscription`.
    pub refresh_first: bool,
    /// Keep a feed of channel events for [`Hub::follow_channels`] (a ZMQ SUB input).
    pub channel_events: bool,
    /// The stats socket's hooks (disabled when there is none).
    pub stats: Stats,
}

/// Channels that got their first subscriber, and when.
type FirstSubscriptions = mpsc::Receiver<(Arc<str>, Instant)>;

/// How often held out-of-order items are checked against `message_wait` (as Pushpin does).
const EXPIRE_EVERY: Duration = Duration::from_secs(1);

/// How long after a channel's first subscription its sessions are refreshed (§6.2 item 5).
pub const FIRST_SUBSCRIPTION_DELAY: Duration = Duration::from_secs(1);

/// First subscriptions waiting for their refresh. Past this many (a burst of new channels
/// within a second), further refreshes are skipped with a warning rather than queued without
/// bound.
const REFRESH_QUEUE: usize = 65_536;

/// Channel events waiting for the SUB input. Past this many, events are not queued; the input
/// is told to re-read the whole channel list instead, so nothing is lost but time.
const CHANNEL_EVENT_QUEUE: usize = 65_536;

impl Hub {
    /// An empty hub. With `refresh_first`, a channel's sessions are refreshed a second after
    /// its first subscription (`update_on_first_subscription`, §6.2 item 5): long-polls ask
    /// their backend again and streams fetch their next link, so an item published before the
    /// subscription was live is not missed. [`Hub::run_refresh`] does it.
    pub fn new(options: HubOptions) -> Arc<Hub> {
        let sequencer = Arc::new(Sequencer::new(options.sequencing));
        let follows = sequencer.clone();
        let (tx, rx) = mpsc::channel(REFRESH_QUEUE);
        let refresh = options.refresh_first.then_some(tx);
        let (events_tx, events_rx) = mpsc::channel(CHANNEL_EVENT_QUEUE);
        let events_tx = options.channel_events.then_some(events_tx);
        let events_lost = Arc::new(AtomicBool::new(false));
        let lost = events_lost.clone();
        // Sequencing state lives exactly as long as a channel has subscribers.
        let observer = Box::new(move |event: ChannelEvent| {
            match &event {
                ChannelEvent::Subscribed(channel) => {
                    follows.track(channel);
                    if let Some(tx) = &refresh {
                        if tx.try_send((channel.clone(), Instant::now())).is_err() {
                            tracing::warn!("too many new channels at once; refresh skipped");
                        }
                    }
                }
                ChannelEvent::Unsubscribed(channel) => follows.forget(channel),
            }
            if let Some(tx) = &events_tx {
                if tx.try_send(event).is_err() {
                    lost.store(true, Ordering::Release);
                }
            }
        });
        let counts = options.stats.is_enabled().then(|| {
            let stats = options.stats.clone();
            Box::new(move |mode: Mode, channel: &Arc<str>, count: usize| {
                stats.subscribers(mode, channel, count);
            }) as channels::CountObserver
        });
        Arc::new(Hub {
            channels: Channels::with_counts(Some(observer), counts),
            sequencer,
            first_subscribed: Mutex::new(Some(rx)),
            channel_events: Mutex::new(options.channel_events.then_some(events_rx)),
            events_lost,
            connections: Arc::default(),
            stats: options.stats,
        })
    }

    /// A hub for unit tests: `message_wait` 5 s, no de-duplication, no refresh, no event feed.
    #[cfg(test)]
    pub(crate) fn for_tests() -> Arc<Hub> {
        Hub::new(HubOptions {
            sequencing: SequencerSettings {
                message_wait: Duration::from_secs(5),
                id_cache_ttl: Duration::ZERO,
            },
            refresh_first: false,
            channel_events: false,
            stats: Stats::disabled(),
        })
    }

    /// The feed of channel events (first subscriber, last one gone), for the one follower that
    /// takes it; `None` if the hub keeps no feed or it was taken.
    pub fn follow_channels(&self) -> Option<mpsc::Receiver<ChannelEvent>> {
        self.channel_events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Whether events were dropped from the feed since the last call: the follower should then
    /// re-read [`Hub::channel_names`].
    pub fn channel_events_lost(&self) -> bool {
        self.events_lost.swap(false, Ordering::AcqRel)
    }

    /// Recovers every channel (the `recover` command, §5.5): last ids are forgotten and every
    /// session is refreshed, so long-polls ask their backend again and streams fetch their next
    /// link.
    pub fn recover(&self) {
        self.sequencer.clear_all_last_ids();
        for channel in self.channels.names() {
            self.channels.notify(&channel, &refresh_message(&channel));
        }
    }

    /// The channels that have subscribers now.
    pub fn channel_names(&self) -> Vec<Arc<str>> {
        self.channels.names()
    }

    /// Sends a `refresh` to each channel's sessions a second after its first subscription,
    /// until `shutdown` turns true. The refresh skips sequencing and filters: it is not content.
    pub async fn run_refresh(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let taken = self
            .first_subscribed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(mut rx) = taken else {
            return;
        };
        loop {
            let (channel, at) = tokio::select! {
                next = rx.recv() => match next {
                    Some(next) => next,
                    None => return,
                },
                _ = shutdown.changed() => return,
            };
            tokio::select! {
                _ = tokio::time::sleep_until(at + FIRST_SUBSCRIPTION_DELAY) => {}
                _ = shutdown.changed() => return,
            }
            let refresh = refresh_message(&channel);
            self.channels.notify(&channel, &refresh);
        }
    }

    /// Releases out-of-order items that waited `message_wait`, until `shutdown` turns true.
    pub async fn run_expiry(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(EXPIRE_EVERY);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = shutdown.changed() => return,
            }
            for message in self.sequencer.expire(tokio::time::Instant::now()) {
                self.fan_out(message);
            }
        }
    }

    /// Subscribes the queue of a session in `mode` to `channel`, paced by its route's `limiter`
    /// if it has one.
    pub fn subscribe(
        &self,
        channel: &str,
        queue: mpsc::Sender<Message>,
        limiter: Option<Arc<RouteLimiter>>,
        mode: Mode,
    ) -> Subscription {
        self.channels.subscribe(channel, queue, limiter, mode)
    }

    /// Puts `item` in sequence, then delivers what that releases to the subscribers of its
    /// channel: usually the item itself; nothing if it is a repeat or waits for its
    /// predecessor; more if it was the missing one.
    pub fn publish(&self, item: Item) -> Fanout {
        let released = self
            .sequencer
            .sequence(Arc::new(item), tokio::time::Instant::now());
        let mut total = Fanout::default();
        for message in released {
            total += self.fan_out(message);
        }
        total
    }

    /// Offers `message` to every subscriber of its channel.
    fn fan_out(&self, message: Message) -> Fanout {
        // Counted before the offer: a long-poll that gets the item may be gone right after.
        let sessions = self
            .stats
            .is_enabled()
            .then(|| self.channels.mode_counts(&message.channel));
        let fanout = self.channels.publish(&message.channel, &message);
        if let Some(sessions) = sessions {
            self.stats.published(&message, sessions);
        }
        tracing::debug!(
            channel = %message.channel,
            id = message.id.as_deref().unwrap_or(""),
            delivered = fanout.delivered,
            dropped = fanout.dropped,
            waiting = fanout.waiting,
            over_limit = fanout.over_limit,
            "published"
        );
        if fanout.over_limit > 0 {
            tracing::warn!(
                channel = %message.channel,
                dropped = fanout.over_limit,
                "exceeded publish hwm (message_hwm): message dropped for some subscribers"
            );
        }
        fanout
    }

    /// Forgets the last id of `channel`, so its next item is delivered whatever its `prev-id`.
    pub fn forget_last_id(&self, channel: &str) {
        self.sequencer.clear_last_id(channel);
    }

    /// The id of the last item delivered on `channel`, if known.
    pub fn last_id(&self, channel: &str) -> Option<String> {
        self.sequencer.last_id(channel)
    }

    /// Every channel with subscribers, and how many per mode.
    pub fn subscriber_counts(&self) -> Vec<(Arc<str>, ModeCounts)> {
        self.channels.all_mode_counts()
    }

    /// Makes a WebSocket-over-HTTP connection reachable by `refresh {cid}`: `queue` is where
    /// its published items arrive. It stays until the returned guard is dropped.
    pub fn register_connection(&self, id: Bytes, queue: mpsc::Sender<Message>) -> Registered {
        self.connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), queue);
        Registered {
            connections: self.connections.clone(),
            id,
        }
    }

    /// Asks connection `id` to call its backend now; false when there is no such connection.
    pub fn refresh_connection(&self, id: &[u8]) -> bool {
        let queue = self
            .connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned();
        match queue {
            Some(queue) if !queue.is_closed() => {
                // A full queue has items on their way, which wake the connection anyway.
                let _ = queue.try_send(ws_refresh(""));
                true
            }
            _ => false,
        }
    }

    /// Asks every WebSocket-over-HTTP connection subscribed to `channel` to call its backend.
    pub fn refresh_channel(&self, channel: &str) {
        self.channels.notify(channel, &ws_refresh(channel));
    }

    /// Channels with subscribers, and subscribers in total.
    pub fn counts(&self) -> (usize, usize) {
        self.channels.counts()
    }

    /// Items dropped for sessions whose queue was full, since start (the slow-consumer policy).
    pub fn dropped_total(&self) -> u64 {
        self.channels.dropped_total()
    }
}

/// The internal item that makes WebSocket-over-HTTP sessions call their backend.
fn ws_refresh(channel: &str) -> Message {
    Arc::new(Item {
        no_seq: true,
        ws_message: Some(WsMessage {
            action: Action::Refresh,
            ..WsMessage::default()
        }),
        ..Item::new(channel)
    })
}

/// The internal item that refreshes a channel's sessions.
fn refresh_message(channel: &str) -> Message {
    Arc::new(Item {
        no_seq: true,
        http_response: Some(HttpResponse {
            action: Action::Refresh,
            ..HttpResponse::default()
        }),
        http_stream: Some(HttpStream {
            action: Action::Refresh,
            ..HttpStream::default()
        }),
        ..Item::new(channel)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Event;

    #[test]
    fn stats_hear_counts_per_mode_and_each_fan_out() {
        let (stats, feed) = Stats::channel(16);
        let mut events = feed.events;
        let hub = Hub::new(HubOptions {
            sequencing: SequencerSettings {
                message_wait: Duration::from_secs(5),
                id_cache_ttl: Duration::ZERO,
            },
            refresh_first: false,
            channel_events: false,
            stats,
        });
        let (tx, _rx) = mpsc::channel(4);
        let _long_poll = hub.subscribe("c", tx.clone(), None, Mode::Response);
        let stream = hub.subscribe("c", tx, None, Mode::Stream);
        hub.publish(Item::new("c"));
        drop(stream);
        let mut seen = Vec::new();
        while let Ok(event) = events.try_recv() {
            seen.push(match event {
                Event::Subscribers { mode, count, .. } => format!("{} {count}", mode.as_str()),
                Event::Published { sessions, .. } => format!(
                    "published {} {}",
                    sessions.get(Mode::Response),
                    sessions.get(Mode::Stream)
                ),
                other => format!("{other:?}"),
            });
        }
        assert_eq!(
            seen,
            ["response 1", "stream 1", "published 1 1", "stream 0"]
        );
    }
}
