//! What the clients have received: deliveries counted, when the last one arrived, and how far
//! each stream has got, so a publisher can keep a bounded number of messages in flight.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// Shared by every client and the publisher.
pub struct Received {
    /// Deliveries, all streams together.
    pub count: AtomicUsize,
    /// When the last delivery arrived, in microseconds since the run's epoch: a rate can end at
    /// the last delivery rather than when waiting for stragglers ends.
    pub last_us: AtomicU64,
    /// Per stream: one more than the highest message number it has received (`usize::MAX` once
    /// it has ended or never opened, so it holds nobody back).
    progress: Vec<AtomicUsize>,
    arrived: Notify,
}

impl Received {
    /// Nothing received yet by `streams` streams.
    pub fn new(streams: usize) -> Received {
        Received {
            count: AtomicUsize::new(0),
            last_us: AtomicU64::new(0),
            progress: (0..streams).map(|_| AtomicUsize::new(0)).collect(),
            arrived: Notify::new(),
        }
    }

    /// Stream `stream` read `n` messages at `now_us`, the highest numbered `highest`.
    pub fn record(&self, stream: usize, n: usize, highest: Option<usize>, now_us: u64) {
        self.last_us.fetch_max(now_us, Ordering::Relaxed);
        self.count.fetch_add(n, Ordering::Relaxed);
        if let (Some(p), Some(seq)) = (self.progress.get(stream), highest) {
            p.fetch_max(seq + 1, Ordering::Relaxed);
            self.arrived.notify_waiters();
        }
    }

    /// Stream `stream` is gone (or never opened): it no longer holds the publisher back.
    pub fn ended(&self, stream: usize) {
        if let Some(p) = self.progress.get(stream) {
            p.store(usize::MAX, Ordering::Relaxed);
            self.arrived.notify_waiters();
        }
    }

    /// Waits until every stream has received message `seq` or a later one, or until nothing
    /// has arrived for `stall` (a message dropped for a stream that gets nothing after it);
    /// false when it stalled.
    pub async fn wait_all_past(&self, seq: usize, stall: Duration) -> bool {
        // Progress only grows, so streams already past `seq` need no second look.
        let mut behind = 0;
        loop {
            // Created before the check, so a notification between the check and the wait
            // is not missed.
            let notified = self.arrived.notified();
            while self
                .progress
                .get(behind)
                .is_some_and(|p| p.load(Ordering::Relaxed) > seq)
            {
                behind += 1;
            }
            if behind == self.progress.len() {
                return true;
            }
            if tokio::time::timeout(stall, notified).await.is_err() {
                return false;
            }
        }
    }
}
