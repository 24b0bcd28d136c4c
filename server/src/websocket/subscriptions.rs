//! A WebSocket connection's channels: subscribed and left over its life by control messages
//! (§7.3), unlike a held HTTP response's fixed set, plus the route's implicit `sub=` channels.

use std::sync::Arc;

use protocol::grip::Channel;
use tokio::sync::mpsc;

use crate::hub::channels::Mode;
use crate::hub::{Hub, Message, RouteLimiter, Subscription};
use crate::session::filters::Filters;

/// Published items waiting for one WebSocket client; past this the hub drops (and counts)
/// what a slow client cannot take, as for HTTP streams.
pub const QUEUE: usize = crate::session::stream_hold::QUEUE;

/// One connection's subscriptions and their filters.
pub struct WsSubscriptions {
    hub: Arc<Hub>,
    prefix: String,
    max: usize,
    limiter: Option<Arc<RouteLimiter>>,
    tx: mpsc::Sender<Message>,
    /// Items for any subscribed channel, in arrival order.
    pub queue: mpsc::Receiver<Message>,
    channels: Vec<(Channel, Subscription)>,
    /// Channels from the route's `sub=`: never unsubscribed.
    implicit: Vec<String>,
    meta: Vec<(String, String)>,
    filters: Option<Filters>,
}

impl WsSubscriptions {
    /// No channels yet, apart from `implicit` (the route's `sub=`).
    pub fn new(
        hub: Arc<Hub>,
        prefix: &str,
        max: usize,
        limiter: Option<Arc<RouteLimiter>>,
        implicit: &[String],
    ) -> WsSubscriptions {
        let (tx, queue) = mpsc::channel(QUEUE);
        let mut subs = WsSubscriptions {
            hub,
            prefix: prefix.to_owned(),
            max,
            limiter,
            tx,
            queue,
            channels: Vec::new(),
            implicit: implicit.to_vec(),
            meta: Vec::new(),
            filters: None,
        };
        for name in implicit {
            subs.subscribe(name, Vec::new());
        }
        subs
    }

    /// Subscribes `name` (the route prefix is prepended), or replaces its filters if it is
    /// subscribed already. Past `connection_subscription_max` the request is dropped with a
    /// warning, as Pushpin does.
    pub fn subscribe(&mut self, name: &str, filters: Vec<String>) {
        if let Some((channel, _)) = self.channels.iter_mut().find(|(c, _)| c.name == name) {
            channel.filters = filters;
        } else if self.channels.len() >= self.max {
            tracing::warn!(
                channel = name,
                max = self.max,
                "too many channels for one connection (connection_subscription_max); subscribe ignored"
            );
            return;
        } else {
            let full = format!("{}{name}", self.prefix);
            let subscription =
                self.hub
                    .subscribe(&full, self.tx.clone(), self.limiter.clone(), Mode::Ws);
            let channel = Channel {
                name: name.to_owned(),
                prev_id: None,
                filters,
            };
            // Most connections hold a channel or two for hours: no spare slots.
            self.channels.reserve_exact(1);
            self.channels.push((channel, subscription));
        }
        self.rebuild_filters();
    }

    /// Leaves `name`; the route's implicit channels stay.
    pub fn unsubscribe(&mut self, name: &str) {
        if self.implicit.iter().any(|c| c == name) {
            return;
        }
        self.channels.retain(|(c, _)| c.name != name);
        self.rebuild_filters();
    }

    /// Sets (or with `None` deletes) a meta value the filters read (`set-meta`).
    pub fn set_meta(&mut self, name: &str, value: Option<String>) {
        self.meta.retain(|(n, _)| n != name);
        if let Some(value) = value {
            self.meta.push((name.to_owned(), value));
        }
        self.rebuild_filters();
    }

    /// Where this connection's items arrive (for a registration by connection id).
    pub fn sender(&self) -> mpsc::Sender<Message> {
        self.tx.clone()
    }

    /// The filters of the current channels, if any has some.
    pub fn filters(&self) -> Option<&Filters> {
        self.filters.as_ref()
    }

    /// The channels subscribed now, without the route prefix.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.channels.iter().map(|(c, _)| c.name.as_str())
    }

    fn rebuild_filters(&mut self) {
        let channels: Vec<Channel> = self.channels.iter().map(|(c, _)| c.clone()).collect();
        self.filters = Filters::new(&channels, &self.prefix, &self.meta);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::publish::Item;

    fn item(channel: &str) -> Item {
        Item {
            channel: channel.to_owned(),
            ..Item::default()
        }
    }

    #[tokio::test]
    async fn channels_come_and_go_but_implicit_ones_stay() {
        let hub = Hub::for_tests();
        let mut subs = WsSubscriptions::new(hub.clone(), "p-", 3, None, &["fixed".to_owned()]);
        subs.subscribe("room", Vec::new());
        subs.subscribe("room", Vec::new());
        assert_eq!(subs.names().collect::<Vec<_>>(), ["fixed", "room"]);
        hub.publish(item("p-room"));
        assert_eq!(subs.queue.recv().await.unwrap().channel, "p-room");
        subs.unsubscribe("room");
        subs.unsubscribe("fixed");
        assert_eq!(subs.names().collect::<Vec<_>>(), ["fixed"]);
        hub.publish(item("p-room"));
        hub.publish(item("p-fixed"));
        assert_eq!(subs.queue.recv().await.unwrap().channel, "p-fixed");
    }

    #[tokio::test]
    async fn the_subscription_max_holds() {
        let hub = Hub::for_tests();
        let mut subs = WsSubscriptions::new(hub, "", 2, None, &[]);
        for name in ["a", "b", "c"] {
            subs.subscribe(name, Vec::new());
        }
        assert_eq!(subs.names().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[tokio::test]
    async fn filters_follow_subscriptions_and_meta() {
        let hub = Hub::for_tests();
        let mut subs = WsSubscriptions::new(hub, "", 5, None, &[]);
        subs.subscribe("a", Vec::new());
        assert!(subs.filters().is_none());
        subs.subscribe("a", vec!["skip-self".to_owned()]);
        subs.set_meta("user", Some("alice".to_owned()));
        assert!(subs.filters().is_some());
        subs.unsubscribe("a");
        assert!(subs.filters().is_none());
    }
}
