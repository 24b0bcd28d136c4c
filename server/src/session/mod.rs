//! Held sessions: what a client connection becomes when a backend answers with GRIP
//! instructions.
//!
//! - [`response_hold`]: long-polling (§6.2).
//! - [`stream_hold`]: streaming and SSE (§6.3, §6.9).
//!
//! A session is owned by its client connection (a future, or a reply body source), not by a task
//! of its own: no extra task per held client, and when the client leaves, dropping the session
//! drops its [`Subscriber`], whose guards unsubscribe every channel.

pub mod response_hold;
pub mod stream_hold;

use protocol::grip::Channel;
use tokio::sync::mpsc;

use crate::hub::{Hub, Message, RouteLimiter, Subscription};

/// A session's queue and its channel subscriptions.
pub struct Subscriber {
    /// Published items for any of the session's channels, in arrival order.
    pub queue: mpsc::Receiver<Message>,
    /// Dropping these unsubscribes.
    pub subscriptions: Vec<Subscription>,
}

impl Subscriber {
    /// Subscribes one queue of `capacity` items to each channel, the route `prefix` prepended,
    /// keeping at most `max` channels (`connection_subscription_max`; Pushpin drops the rest with a
    /// warning, and so does this). Deliveries are paced by the route's `limiter`, if any.
    pub fn new(
        hub: &Hub,
        channels: &[Channel],
        prefix: &str,
        max: usize,
        capacity: usize,
        limiter: Option<std::sync::Arc<RouteLimiter>>,
    ) -> Subscriber {
        let (tx, queue) = mpsc::channel(capacity.max(1));
        if channels.len() > max {
            tracing::warn!(
                requested = channels.len(),
                kept = max,
                "too many channels for one connection (connection_subscription_max); extra ones dropped"
            );
        }
        let subscriptions = channels
            .iter()
            .take(max)
            .map(|c| hub.subscribe(&format!("{prefix}{}", c.name), tx.clone(), limiter.clone()))
            .collect();
        Subscriber {
            queue,
            subscriptions,
        }
    }
}
