//! Channels and their subscribers: the map every publish goes through.
//!
//! The map is split into shards by a hash of the channel name, each behind its own mutex, so
//! publishes and subscribes on different channels rarely touch the same lock. A lock is never held
//! across an `.await`: a publish takes its shard's lock, offers the (shared, already rendered)
//! message to every subscriber's queue with `try_send`, and lets go.
//!
//! Slow subscribers: each session has one bounded queue for all its channels. When it is full the
//! message is dropped for that session only, counted, and the publish goes on; the session decides
//! what its client sees (a stream hold simply misses the message). A publisher is never slowed by
//! a slow client.
//!
//! A subscriber may belong to a route with a rate limit (`message_rate`); its copies then go
//! through the route's [`RateLimiter`], which delivers at once while under the rate and queues
//! (bounded) past it.
//!
//! A [`Subscription`] is a guard: dropping it removes the subscriber, so a session that ends for
//! any reason leaves nothing behind. Subscribers sit in a slab, so removal is O(1) even with
//! 10,000 subscribers on one channel.
//!
//! Each subscriber has the [`Mode`] of its session, and each channel keeps a count per mode, so
//! the stats (`sub` and `message` packets, §5.6) read them in O(1) instead of walking the
//! subscribers.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use slab::Slab;
use tokio::sync::mpsc;

use super::rate_limit::{Offer, RateLimiter};

/// Number of shards: a power of two well above the core count, so that unrelated channels
/// rarely share a lock.
const SHARDS: usize = 64;

/// A change in whether a channel has local subscribers (for ZMQ SUB forwarding, stats, and the
/// first-subscription refresh).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelEvent {
    /// The channel got its first subscriber.
    Subscribed(Arc<str>),
    /// The channel lost its last subscriber.
    Unsubscribed(Arc<str>),
}

/// The kind of session a subscriber belongs to, as the stats name it (§5.6 `sub` `mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    /// A response hold (long-poll).
    Response,
    /// A stream hold.
    Stream,
    /// A WebSocket.
    Ws,
}

impl Mode {
    /// Every mode, in the order of [`ModeCounts`].
    pub const ALL: [Mode; 3] = [Mode::Response, Mode::Stream, Mode::Ws];

    /// The stats name of the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Response => "response",
            Mode::Stream => "stream",
            Mode::Ws => "ws",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A hold's mode; `None` (no hold) never subscribes, and is counted as a response hold.
impl From<Option<protocol::grip::HoldMode>> for Mode {
    fn from(hold: Option<protocol::grip::HoldMode>) -> Self {
        match hold {
            Some(protocol::grip::HoldMode::Stream) => Mode::Stream,
            _ => Mode::Response,
        }
    }
}

/// Subscribers of one channel, per [`Mode`] (indexed in the order of [`Mode::ALL`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ModeCounts([usize; 3]);

impl ModeCounts {
    /// Counts of response, stream and WebSocket subscribers.
    pub fn new(response: usize, stream: usize, ws: usize) -> Self {
        ModeCounts([response, stream, ws])
    }

    /// Subscribers in `mode`.
    pub fn get(&self, mode: Mode) -> usize {
        self.0.get(mode.index()).copied().unwrap_or(0)
    }

    fn slot(&mut self, mode: Mode) -> Option<&mut usize> {
        self.0.get_mut(mode.index())
    }

    /// Whether no mode has a subscriber.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&n| n == 0)
    }
}

/// Hears every change of a channel's subscriber count in one mode: the mode, the channel, and the
/// new count. It runs under a shard lock, so it must be quick (queue the change).
pub type CountObserver = Box<dyn Fn(Mode, &Arc<str>, usize) + Send + Sync>;

/// What a publish did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fanout {
    /// Subscribers whose queue took the message.
    pub delivered: usize,
    /// Subscribers whose queue was full: the message was dropped for them.
    pub dropped: usize,
    /// Subscribers whose route is over its rate: the message waits its turn.
    pub waiting: usize,
    /// Subscribers whose route had `message_hwm` messages waiting: dropped for them.
    pub over_limit: usize,
}

impl std::ops::AddAssign for Fanout {
    fn add_assign(&mut self, other: Fanout) {
        self.delivered += other.delivered;
        self.dropped += other.dropped;
        self.waiting += other.waiting;
        self.over_limit += other.over_limit;
    }
}

/// Where a subscriber's messages go.
struct Outlet<M> {
    queue: mpsc::Sender<M>,
    limiter: Option<Arc<RateLimiter<M>>>,
    mode: Mode,
}

struct Channel<M> {
    name: Arc<str>,
    subscribers: Slab<Outlet<M>>,
    modes: ModeCounts,
}

type Shard<M> = HashMap<Arc<str>, Channel<M>>;

/// Channel name → subscribers, sharded.
pub struct Channels<M> {
    shards: Box<[Mutex<Shard<M>>]>,
    hasher: std::collections::hash_map::RandomState,
    observer: Option<Box<dyn Fn(ChannelEvent) + Send + Sync>>,
    counts: Option<CountObserver>,
    dropped_total: AtomicU64,
}

impl<M: Clone + Send + 'static> Channels<M> {
    /// An empty map. `observer`, if given, hears about channels gaining their first subscriber
    /// and losing their last; it runs under a shard lock, so it must be quick (queue the event).
    pub fn new(observer: Option<Box<dyn Fn(ChannelEvent) + Send + Sync>>) -> Arc<Self> {
        Self::with_counts(observer, None)
    }

    /// An empty map whose `counts` observer, if given, also hears every change of a channel's
    /// subscriber count per mode.
    pub fn with_counts(
        observer: Option<Box<dyn Fn(ChannelEvent) + Send + Sync>>,
        counts: Option<CountObserver>,
    ) -> Arc<Self> {
        Arc::new(Channels {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: Default::default(),
            observer,
            counts,
            dropped_total: AtomicU64::new(0),
        })
    }

    fn shard(&self, channel: &str) -> MutexGuard<'_, Shard<M>> {
        let hash = self.hasher.hash_one(channel) as usize;
        #[allow(clippy::indexing_slicing)] // the index is reduced modulo the slice's length
        let shard = &self.shards[hash % self.shards.len()];
        // A poisoned lock means a panic elsewhere while holding it; the map itself is still
        // consistent (every mutation is a single insert or remove), so keep serving.
        shard.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `queue`, a session in `mode`, as a subscriber of `channel` until the returned guard is
    /// dropped; its messages pass through `limiter` when it has one.
    pub fn subscribe(
        self: &Arc<Self>,
        channel: &str,
        queue: mpsc::Sender<M>,
        limiter: Option<Arc<RateLimiter<M>>>,
        mode: Mode,
    ) -> Subscription<M> {
        let mut shard = self.shard(channel);
        let entry = match shard.get_mut(channel) {
            Some(entry) => entry,
            None => {
                let name: Arc<str> = Arc::from(channel);
                if let Some(observe) = &self.observer {
                    observe(ChannelEvent::Subscribed(name.clone()));
                }
                shard.entry(name.clone()).or_insert(Channel {
                    name,
                    subscribers: Slab::new(),
                    modes: ModeCounts::default(),
                })
            }
        };
        let key = entry.subscribers.insert(Outlet {
            queue,
            limiter,
            mode,
        });
        self.count(entry, mode, true);
        Subscription {
            channels: self.clone(),
            channel: entry.name.clone(),
            key,
        }
    }

    fn unsubscribe(&self, channel: &Arc<str>, key: usize) {
        let mut shard = self.shard(channel);
        let now_empty = match shard.get_mut(channel.as_ref()) {
            Some(entry) => {
                if let Some(outlet) = entry.subscribers.try_remove(key) {
                    self.count(entry, outlet.mode, false);
                }
                entry.subscribers.is_empty()
            }
            None => false,
        };
        if now_empty {
            shard.remove(channel.as_ref());
            if let Some(observe) = &self.observer {
                observe(ChannelEvent::Unsubscribed(channel.clone()));
            }
        }
    }

    /// Moves `channel`'s count in `mode` by one and tells the count observer.
    fn count(&self, channel: &mut Channel<M>, mode: Mode, added: bool) {
        let Some(slot) = channel.modes.slot(mode) else {
            return;
        };
        *slot = if added {
            slot.saturating_add(1)
        } else {
            slot.saturating_sub(1)
        };
        if let Some(observe) = &self.counts {
            observe(mode, &channel.name, *slot);
        }
    }

    /// Subscribers of `channel` per mode, now.
    pub fn mode_counts(&self, channel: &str) -> ModeCounts {
        self.shard(channel)
            .get(channel)
            .map(|entry| entry.modes)
            .unwrap_or_default()
    }

    /// Every channel that has subscribers, with its counts per mode.
    pub fn all_mode_counts(&self) -> Vec<(Arc<str>, ModeCounts)> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            out.extend(shard.values().map(|c| (c.name.clone(), c.modes)));
        }
        out
    }

    /// Offers `message` to every subscriber of `channel`.
    pub fn publish(&self, channel: &str, message: &M) -> Fanout {
        self.offer(channel, message, true)
    }

    /// Offers `message` to every subscriber of `channel` at once, outside any rate limit: for
    /// the hub's own control messages, which are not deliveries.
    pub fn notify(&self, channel: &str, message: &M) -> Fanout {
        self.offer(channel, message, false)
    }

    fn offer(&self, channel: &str, message: &M, paced: bool) -> Fanout {
        let shard = self.shard(channel);
        let Some(entry) = shard.get(channel) else {
            return Fanout::default();
        };
        let mut fanout = Fanout::default();
        for (_, outlet) in entry.subscribers.iter() {
            let limiter = outlet.limiter.as_ref().filter(|_| paced);
            let offer = match limiter {
                Some(limiter) => limiter.offer(&outlet.queue, message.clone()),
                None => match outlet.queue.try_send(message.clone()) {
                    Ok(()) => Offer::Delivered,
                    Err(mpsc::error::TrySendError::Full(_)) => Offer::QueueFull,
                    Err(mpsc::error::TrySendError::Closed(_)) => Offer::Closed,
                },
            };
            match offer {
                Offer::Delivered => fanout.delivered += 1,
                Offer::QueueFull => fanout.dropped += 1,
                Offer::Waiting => fanout.waiting += 1,
                Offer::OverLimit => fanout.over_limit += 1,
                // The session is ending; its guard will remove it.
                Offer::Closed => {}
            }
        }
        drop(shard);
        if fanout.dropped > 0 {
            self.dropped_total
                .fetch_add(fanout.dropped as u64, Ordering::Relaxed);
        }
        fanout
    }

    /// The channels that have at least one subscriber.
    pub fn names(&self) -> Vec<Arc<str>> {
        let mut names = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            names.extend(shard.keys().cloned());
        }
        names
    }

    /// Channels that have at least one subscriber, and subscribers in total.
    pub fn counts(&self) -> (usize, usize) {
        self.shards.iter().fold((0, 0), |(channels, subs), shard| {
            let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            (
                channels + shard.len(),
                subs + shard.values().map(|c| c.subscribers.len()).sum::<usize>(),
            )
        })
    }

    /// Messages dropped because a subscriber's queue was full, since start.
    pub fn dropped_total(&self) -> u64 {
        self.dropped_total.load(Ordering::Relaxed)
    }
}

/// A subscriber's place in a channel; dropping it unsubscribes.
pub struct Subscription<M: Clone + Send + 'static> {
    channels: Arc<Channels<M>>,
    channel: Arc<str>,
    key: usize,
}

impl<M: Clone + Send + 'static> Subscription<M> {
    /// The channel subscribed to.
    pub fn channel(&self) -> &Arc<str> {
        &self.channel
    }
}

impl<M: Clone + Send + 'static> Drop for Subscription<M> {
    fn drop(&mut self) {
        self.channels.unsubscribe(&self.channel, self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_reaches_each_subscriber_once() {
        let channels = Channels::<u32>::new(None);
        let (tx1, mut rx1) = mpsc::channel(4);
        let (tx2, mut rx2) = mpsc::channel(4);
        let _a = channels.subscribe("news", tx1.clone(), None, Mode::Stream);
        let _b = channels.subscribe("news", tx2, None, Mode::Response);
        let _c = channels.subscribe("other", tx1, None, Mode::Stream);
        assert_eq!(
            channels.publish("news", &7),
            Fanout {
                delivered: 2,
                dropped: 0,
                ..Fanout::default()
            }
        );
        assert_eq!(rx1.try_recv(), Ok(7));
        assert_eq!(rx2.try_recv(), Ok(7));
        assert!(rx1.try_recv().is_err());
        assert_eq!(channels.publish("nobody", &1), Fanout::default());
    }

    #[test]
    fn full_queues_drop_for_that_subscriber_only() {
        let channels = Channels::<u32>::new(None);
        let (slow, _slow_rx) = mpsc::channel(1);
        let (fast, mut fast_rx) = mpsc::channel(8);
        let _s = channels.subscribe("c", slow, None, Mode::Stream);
        let _f = channels.subscribe("c", fast, None, Mode::Stream);
        channels.publish("c", &1);
        assert_eq!(
            channels.publish("c", &2),
            Fanout {
                delivered: 1,
                dropped: 1,
                ..Fanout::default()
            }
        );
        assert_eq!(fast_rx.try_recv(), Ok(1));
        assert_eq!(fast_rx.try_recv(), Ok(2));
        assert_eq!(channels.dropped_total(), 1);
    }

    #[test]
    fn dropping_guards_leaves_nothing_behind() {
        let events = Arc::new(Mutex::new(Vec::new()));
        let seen = events.clone();
        let channels = Channels::<u32>::new(Some(Box::new(move |e| seen.lock().unwrap().push(e))));
        let guards: Vec<_> = (0..10_000)
            .map(|i| {
                let (tx, _rx) = mpsc::channel(1);
                channels.subscribe(&format!("c{}", i % 100), tx, None, Mode::Stream)
            })
            .collect();
        assert_eq!(channels.counts(), (100, 10_000));
        drop(guards);
        assert_eq!(channels.counts(), (0, 0));
        let events = events.lock().unwrap();
        assert_eq!(events.len(), 200);
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, ChannelEvent::Subscribed(_)))
                .count(),
            100
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_limited_subscriber_gets_its_copy_later_and_others_at_once() {
        let channels = Channels::<u32>::new(None);
        let limiter = RateLimiter::new(100, Some(1));
        let (free_tx, mut free) = mpsc::channel(8);
        let (limited_tx, mut limited) = mpsc::channel(8);
        let _a = channels.subscribe("c", free_tx, None, Mode::Stream);
        let _b = channels.subscribe("c", limited_tx, Some(limiter), Mode::Stream);
        // 100/s is one per 10 ms tick: the first goes at once, one waits, the third is over
        // the high-water mark of 1.
        let fanouts: Vec<Fanout> = (0..3).map(|i| channels.publish("c", &i)).collect();
        assert_eq!(fanouts[0].delivered, 2);
        assert_eq!((fanouts[1].delivered, fanouts[1].waiting), (1, 1));
        assert_eq!((fanouts[2].delivered, fanouts[2].over_limit), (1, 1));
        for i in 0..3 {
            assert_eq!(free.recv().await, Some(i));
        }
        assert_eq!(limited.recv().await, Some(0));
        assert_eq!(limited.recv().await, Some(1));
    }

    #[test]
    fn counts_per_mode_follow_subscribes_and_unsubscribes() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let channels = Channels::<u32>::with_counts(
            None,
            Some(Box::new(move |mode, channel: &Arc<str>, n| {
                log.lock().unwrap().push((mode, channel.to_string(), n));
            })),
        );
        let (tx, _rx) = mpsc::channel(1);
        let a = channels.subscribe("c", tx.clone(), None, Mode::Response);
        let b = channels.subscribe("c", tx.clone(), None, Mode::Stream);
        let c = channels.subscribe("c", tx, None, Mode::Stream);
        let counts = channels.mode_counts("c");
        assert_eq!(
            (
                counts.get(Mode::Response),
                counts.get(Mode::Stream),
                counts.get(Mode::Ws)
            ),
            (1, 2, 0)
        );
        drop((a, b, c));
        assert!(channels.mode_counts("c").is_empty());
        assert!(channels.all_mode_counts().is_empty());
        let seen = seen.lock().unwrap();
        let expected = [
            (Mode::Response, 1),
            (Mode::Stream, 1),
            (Mode::Stream, 2),
            (Mode::Response, 0),
            (Mode::Stream, 1),
            (Mode::Stream, 0),
        ];
        let got: Vec<_> = seen.iter().map(|(m, _, n)| (*m, *n)).collect();
        assert_eq!(got, expected);
    }
}
