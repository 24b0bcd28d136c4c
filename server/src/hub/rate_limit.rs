//! `message_rate` and `message_hwm` (§6.6): deliveries per second for the sessions of one route,
//! and how many deliveries may wait for their turn.
//!
//! A publish offers each subscriber's copy to the subscriber's route limiter. While the route is
//! under its rate and nothing is waiting, the copy goes straight into the session's queue, so an
//! unloaded route costs one uncontended lock per delivery. Past the rate, copies wait in the
//! limiter's backlog, first in first out, and a drain task feeds them to their queues at the rate;
//! the task exists only while there is a backlog. Past `message_hwm` waiting copies, new ones are
//! dropped for their session and counted, and a warning says so: a publisher never waits, and
//! memory stays bounded.
//!
//! The bucket holds at most one tick's worth of deliveries (10 ms), so a quiet route cannot save
//! up a burst: the rate is a rate, as with Pushpin's limiter.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::mpsc;
// Tokio's clock, so tests can run the rate on paused time.
use tokio::time::Instant;

/// How often the drain task releases waiting deliveries.
const TICK: Duration = Duration::from_millis(10);

/// What happened to one offered delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
    /// In the session's queue.
    Delivered,
    /// The session's queue was full (the slow-consumer drop).
    QueueFull,
    /// Waiting in the backlog for the rate to allow it.
    Waiting,
    /// The backlog was at `message_hwm`: dropped.
    OverLimit,
    /// The session is ending.
    Closed,
}

/// A rate limit shared by the sessions of one route.
pub struct RateLimiter<M> {
    per_second: f64,
    burst: f64,
    hwm: Option<usize>,
    state: Mutex<State<M>>,
    over_limit: AtomicU64,
}

struct State<M> {
    tokens: f64,
    refilled: Instant,
    backlog: VecDeque<(mpsc::Sender<M>, M)>,
    draining: bool,
}

impl<M: Send + 'static> RateLimiter<M> {
    /// A limiter allowing `per_second` deliveries (at least 1) with at most `hwm` waiting.
    pub fn new(per_second: u32, hwm: Option<u32>) -> Arc<Self> {
        let per_second = f64::from(per_second.max(1));
        let burst = (per_second * TICK.as_secs_f64()).max(1.0);
        Arc::new(RateLimiter {
            per_second,
            burst,
            hwm: hwm.map(|h| h as usize),
            state: Mutex::new(State {
                tokens: burst,
                refilled: Instant::now(),
                backlog: VecDeque::new(),
                draining: false,
            }),
            over_limit: AtomicU64::new(0),
        })
    }

    /// Offers `message` for `queue`: delivered now if the rate allows and nothing is waiting,
    /// else queued behind the waiting ones (or dropped past the high-water mark).
    pub fn offer(self: &Arc<Self>, queue: &mpsc::Sender<M>, message: M) -> Offer {
        let mut state = self.lock();
        self.refill(&mut state);
        if state.backlog.is_empty() && state.tokens >= 1.0 {
            state.tokens -= 1.0;
            drop(state);
            return send(queue, message);
        }
        if self.hwm.is_some_and(|hwm| state.backlog.len() >= hwm) {
            drop(state);
            self.over_limit.fetch_add(1, Ordering::Relaxed);
            return Offer::OverLimit;
        }
        state.backlog.push_back((queue.clone(), message));
        if !state.draining {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                state.draining = true;
                runtime.spawn(self.clone().drain());
            }
        }
        Offer::Waiting
    }

    /// Deliveries dropped at the high-water mark since start.
    pub fn over_limit_total(&self) -> u64 {
        self.over_limit.load(Ordering::Relaxed)
    }

    /// Feeds waiting deliveries to their queues at the rate, until none wait.
    async fn drain(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut batch = Vec::new();
        loop {
            ticks.tick().await;
            let done = {
                let mut state = self.lock();
                self.refill(&mut state);
                // Whole tokens only; the fraction carries over to the next tick.
                let n = (state.tokens.floor() as usize).min(state.backlog.len());
                state.tokens -= n as f64;
                batch.extend(state.backlog.drain(..n));
                state.draining = !state.backlog.is_empty();
                !state.draining
            };
            // Sent outside the lock; a full queue drops as any delivery would.
            for (queue, message) in batch.drain(..) {
                send(&queue, message);
            }
            if done {
                return;
            }
        }
    }

    fn refill(&self, state: &mut State<M>) {
        let now = Instant::now();
        let elapsed = now.duration_since(state.refilled).as_secs_f64();
        state.tokens = (state.tokens + elapsed * self.per_second).min(self.burst);
        state.refilled = now;
    }

    fn lock(&self) -> MutexGuard<'_, State<M>> {
        // Every mutation leaves the state consistent, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The limiters of every route, made when a route's first session subscribes.
pub struct Limiters<M> {
    per_second: Option<u32>,
    hwm: Option<u32>,
    by_route: Mutex<HashMap<String, Arc<RateLimiter<M>>>>,
}

impl<M: Send + 'static> Limiters<M> {
    /// Limiters of `per_second` deliveries per route (`None`: unlimited, no limiter at all) with
    /// at most `hwm` waiting.
    pub fn new(per_second: Option<u32>, hwm: Option<u32>) -> Self {
        Limiters {
            per_second,
            hwm,
            by_route: Mutex::new(HashMap::new()),
        }
    }

    /// The limiter of the route named `key`, if routes are limited. Keys come from the routes
    /// file, so the map is bounded by it.
    pub fn for_route(&self, key: &str) -> Option<Arc<RateLimiter<M>>> {
        let per_second = self.per_second?;
        let mut routes = self.by_route.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(limiter) = routes.get(key) {
            return Some(limiter.clone());
        }
        let limiter = RateLimiter::new(per_second, self.hwm);
        routes.insert(key.to_owned(), limiter.clone());
        Some(limiter)
    }

    /// Deliveries dropped at the high-water mark since start, all routes.
    pub fn over_limit_total(&self) -> u64 {
        let routes = self.by_route.lock().unwrap_or_else(|e| e.into_inner());
        routes.values().map(|l| l.over_limit_total()).sum()
    }
}

fn send<M>(queue: &mpsc::Sender<M>, message: M) -> Offer {
    match queue.try_send(message) {
        Ok(()) => Offer::Delivered,
        Err(mpsc::error::TrySendError::Full(_)) => Offer::QueueFull,
        Err(mpsc::error::TrySendError::Closed(_)) => Offer::Closed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn deliveries_past_the_rate_wait_their_turn_in_order() {
        // 1,000 per second: 10 per tick.
        let limiter = RateLimiter::new(1000, None);
        let (tx, mut rx) = mpsc::channel(100);
        let offers: Vec<Offer> = (0..30).map(|i| limiter.offer(&tx, i)).collect();
        assert_eq!(
            offers.iter().filter(|o| **o == Offer::Delivered).count(),
            10
        );
        assert!(offers[10..].iter().all(|o| *o == Offer::Waiting));
        let mut got = Vec::new();
        while let Ok(Some(i)) = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
            got.push(i);
        }
        assert_eq!(got, (0..30).collect::<Vec<_>>());
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_is_kept_over_time() {
        let limiter = RateLimiter::new(500, None);
        let (tx, mut rx) = mpsc::channel(10_000);
        let start = tokio::time::Instant::now();
        for i in 0..1000 {
            limiter.offer(&tx, i);
        }
        for _ in 0..1000 {
            rx.recv().await.unwrap();
        }
        // 1,000 deliveries at 500/s: about two seconds, on the paused (exact) clock.
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(1900) && took <= Duration::from_millis(2100),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_high_water_mark_deliveries_are_dropped_and_counted() {
        let limiter = RateLimiter::new(100, Some(5));
        let (tx, _rx) = mpsc::channel(100);
        let offers: Vec<Offer> = (0..10).map(|i| limiter.offer(&tx, i)).collect();
        // One goes at once (a tick's worth of 100/s), five wait, four are dropped.
        assert_eq!(offers[0], Offer::Delivered);
        assert_eq!(offers.iter().filter(|o| **o == Offer::Waiting).count(), 5);
        assert_eq!(offers.iter().filter(|o| **o == Offer::OverLimit).count(), 4);
        assert_eq!(limiter.over_limit_total(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn the_drain_task_ends_when_the_backlog_is_empty_and_restarts_later() {
        let limiter = RateLimiter::new(100, None);
        let (tx, mut rx) = mpsc::channel(100);
        for round in 0..2 {
            for i in 0..3 {
                limiter.offer(&tx, round * 10 + i);
            }
            for i in 0..3 {
                assert_eq!(rx.recv().await, Some(round * 10 + i));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert!(!limiter.lock().draining);
        }
    }

    #[test]
    fn each_route_has_one_limiter_and_unlimited_routes_none() {
        let limited = Limiters::<u32>::new(Some(10), None);
        let a = limited.for_route("a").unwrap();
        assert!(Arc::ptr_eq(&a, &limited.for_route("a").unwrap()));
        assert!(!Arc::ptr_eq(&a, &limited.for_route("b").unwrap()));
        assert!(Limiters::<u32>::new(None, Some(5)).for_route("a").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_session_queue_is_reported() {
        let limiter = RateLimiter::new(10_000, None);
        let (tx, _rx) = mpsc::channel(1);
        assert_eq!(limiter.offer(&tx, 1), Offer::Delivered);
        assert_eq!(limiter.offer(&tx, 2), Offer::QueueFull);
    }
}
