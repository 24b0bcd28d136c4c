//! The channel hub: which sessions listen on which channels, and fan-out of published items.
//!
//! A published [`Item`] is wrapped in an `Arc` once; every subscriber receives a clone of that
//! pointer, and the formats' payloads inside are `Bytes`, so fan-out to N sessions is N queue
//! pushes of one pointer, with no copy or re-encoding per subscriber.
//!
//! - [`channels`]: the sharded channel → subscribers map, bounded per-session queues, and the
//!   subscription guards that make leaving automatic.
//! - [`rate_limit`]: `message_rate` and `message_hwm`, per route.

pub mod channels;
pub mod rate_limit;

use std::sync::Arc;

use protocol::publish::Item;
use tokio::sync::mpsc;

pub use self::channels::{ChannelEvent, Channels, Fanout};

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
}

impl Hub {
    /// An empty hub.
    pub fn new() -> Arc<Hub> {
        Arc::new(Hub {
            channels: Channels::new(None),
        })
    }

    /// Subscribes a session's queue to `channel`, paced by its route's `limiter` if it has one.
    pub fn subscribe(
        &self,
        channel: &str,
        queue: mpsc::Sender<Message>,
        limiter: Option<Arc<RouteLimiter>>,
    ) -> Subscription {
        self.channels.subscribe(channel, queue, limiter)
    }

    /// Delivers `item` to the subscribers of its channel.
    pub fn publish(&self, item: Item) -> Fanout {
        let message = Arc::new(item);
        let fanout = self.channels.publish(&message.channel, &message);
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

    /// Channels with subscribers, and subscribers in total.
    pub fn counts(&self) -> (usize, usize) {
        self.channels.counts()
    }

    /// Items dropped for sessions whose queue was full, since start (the slow-consumer policy).
    pub fn dropped_total(&self) -> u64 {
        self.channels.dropped_total()
    }
}
