//! The channel hub: which sessions listen on which channels, and fan-out of published items.
//!
//! A published [`Item`] is wrapped in an `Arc` once; every subscriber receives a clone of that
//! pointer, and the formats' payloads inside are `Bytes`, so fan-out to N sessions is N queue
//! pushes of one pointer, with no copy or re-encoding per subscriber.
//!
//! - [`channels`]: the sharded channel → subscribers map, bounded per-session queues, and the
//!   subscription guards that make leaving automatic.

pub mod channels;

use std::sync::Arc;

use protocol::publish::Item;
use tokio::sync::mpsc;

pub use self::channels::{ChannelEvent, Channels, Fanout};

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

    /// Subscribes a session's queue to `channel`.
    pub fn subscribe(&self, channel: &str, queue: mpsc::Sender<Message>) -> Subscription {
        self.channels.subscribe(channel, queue)
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
            "published"
        );
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
