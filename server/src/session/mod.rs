//! Held sessions: what a client connection becomes when a backend answers with GRIP
//! instructions.
//!
//! - [`response_hold`]: long-polling (§6.2).
//! - [`stream_hold`]: streaming and SSE (§6.3, §6.9).
//! - [`filters`]: subscription filters (§6.7).
//! - [`order`]: per-session `prev-id` checks (§6.4).
//! - [`links`]: what a stream needs to follow `Grip-Link` next (§6.5).
//!
//! A session is owned by its client connection (a future, or a reply body source), not by a task
//! of its own: no extra task per held client, and when the client leaves, dropping the session
//! drops its [`Subscriber`], whose guards unsubscribe every channel.

pub mod filters;
pub mod links;
pub mod order;
pub mod response_hold;
pub mod stream_hold;

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use protocol::grip::Channel;
use protocol::publish::Item;
use tokio::sync::mpsc;

use self::filters::{FilterError, Filters};
use self::order::LastIds;
use crate::hub::{Hub, Message, Mode, RouteLimiter, Subscription};

/// What a session subscribes to.
pub struct Subscribe<'a> {
    /// The channels, as the backend named them.
    pub channels: &'a [Channel],
    /// The route's `prefix`, prepended to each channel name.
    pub prefix: &'a str,
    /// `connection_subscription_max`.
    pub max: usize,
    /// `Grip-Set-Meta`, read by filters.
    pub meta: &'a [(String, String)],
    /// The route's rate limiter, if it has one.
    pub limiter: Option<Arc<RouteLimiter>>,
    /// The session's mode, for the stats.
    pub mode: Mode,
}

/// A session's queue, its channel subscriptions and its filters.
pub struct Subscriber {
    /// Published items for any of the session's channels, in arrival order.
    pub queue: mpsc::Receiver<Message>,
    /// Dropping these unsubscribes.
    pub subscriptions: Vec<Subscription>,
    /// The session's filters, if any channel has some.
    pub filters: Option<Filters>,
    /// The last ids of channels subscribed with `prev-id`.
    pub order: LastIds,
}

impl Subscriber {
    /// Subscribes one queue of `capacity` items to each channel, the route prefix prepended,
    /// keeping at most `max` channels (`connection_subscription_max`; Pushpin drops the rest with a
    /// warning, and so does this). Deliveries are paced by the route's limiter, if any.
    pub fn new(hub: &Hub, spec: Subscribe<'_>, capacity: usize) -> Subscriber {
        let (tx, queue) = mpsc::channel(capacity.max(1));
        let channels = spec.channels;
        if channels.len() > spec.max {
            tracing::warn!(
                requested = channels.len(),
                kept = spec.max,
                "too many channels for one connection (connection_subscription_max); extra ones dropped"
            );
        }
        let kept = channels.get(..spec.max).unwrap_or(channels);
        let subscriptions = kept
            .iter()
            .map(|c| {
                let name = format!("{}{}", spec.prefix, c.name);
                hub.subscribe(&name, tx.clone(), spec.limiter.clone(), spec.mode)
            })
            .collect();
        Subscriber {
            queue,
            subscriptions,
            filters: Filters::new(kept, spec.prefix, spec.meta),
            order: LastIds::new(kept, spec.prefix),
        }
    }

    /// What this session receives of `content` from `item`: `Ok(None)` when a filter skips it,
    /// `Err` when a filter fails and the session must end.
    pub fn filter<'a>(
        &self,
        item: &Item,
        content_filters: Option<&[String]>,
        content: &'a Bytes,
    ) -> Result<Option<Cow<'a, Bytes>>, FilterError> {
        match &self.filters {
            Some(filters) => filters.apply(item, content_filters, content),
            None => Ok(Some(Cow::Borrowed(content))),
        }
    }
}
