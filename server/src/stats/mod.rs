//! The stats socket (§5.6): a ZeroMQ PUB bound at `stats_spec` that tells monitoring tools about
//! connections, subscriptions, deliveries and totals, in Pushpin 1.36's packets.
//!
//! - [`packet`]: the packets and their two encodings (`<type> T<tnetstring>`, `<type> J<json>`).
//! - [`conn`]: the hooks of the request path: a [`ConnGuard`] per routed request, and its byte
//!   counters.
//! - [`subscriptions`]: `sub` packets: refreshes, and the linger of response-mode unsubscribes.
//! - [`report`]: the `report` totals, per route.
//! - [`engine`]: the state behind the packets, driven by events and a clock (no socket).
//! - [`publisher`]: the task that owns the socket and the engine.
//!
//! # The queue between the hooks and the task
//!
//! The request, subscribe and publish paths never wait for stats: each hook is a `try_send` of a
//! small event (a pointer and a few integers) into one bounded queue ([`QUEUE`] events) that the
//! publisher task drains. When the queue is full the event is **dropped and counted**, and the
//! task is told that it lost some: at its next tick it re-reads the subscriber counts from the
//! hub and checks every connection it knows for having closed, so lost `sub` or closing events
//! cost a late packet, never a subscription or connection reported alive forever. A lost opening
//! event loses that connection's packets (consumers see nothing of it). When `stats_spec` is
//! unset, [`Stats`] is empty and every hook is a branch on `None`.
//!
//! # What Pushpin 1.36 sends (observed with a SUB on its stats socket)
//!
//! - A **connection** is a routed request, not a TCP connection: each request on a keep-alive
//!   connection gets its own id, a `conn` packet when routed and `conn` `unavailable` when its
//!   response is done (at once for a plain response; when the client leaves for a held one).
//!   Requests that match no route get none. `ttl` is an integer (120); `ssl` appears only when
//!   true; `peer-address` is the first `X-Forwarded-For` entry when there is one that parses as an
//!   address (unless the applicable `x_forwarded_for` rule is `truncate:0`), else the socket's
//!   peer. `route` appears on `conn`, `activity` and `report` for routes with an explicit `id`.
//!   Open connections are re-sent every ¾ of the ttl (90 s).
//! - `sub` is per (mode, channel): sent at once when the first session subscribes, again on the
//!   next one-second tick when the subscriber count changes, and every ¾ of `ttl` (45 s).
//!   When the last session leaves: `unavailable` at once for streams, after `subscription_linger`
//!   seconds for response holds (a long-poll that comes back within it continues the same `sub`).
//! - `message`: one per published item and transport that has sessions: `count` is the number of
//!   sessions of that mode on the channel; `item-id` only when the item has an id; `blocks` only
//!   with `message_block_size` (gripway does not support it, so never).
//! - `activity` (per route: requests) and `counts` (`requests-received`, only when non-zero) are
//!   gathered for 100 ms after the first request, then sent.
//! - `report`, every `stats_report_interval` seconds, one per route seen (the one without `route`
//!   included): `connections` is the most open at once during the interval, `minutes` the
//!   connection-minutes (a connection counts one minute when it opens, then one per full minute),
//!   `received` the items published (always in the report without a route), `sent` and
//!   `http-response-sent` the deliveries (Pushpin puts them in the report without a route too,
//!   whatever the session's route), `duration` the milliseconds covered. `blocks-received` and
//!   `blocks-sent` are absent without `message_block_size`. A report whose `connections` was 0 is
//!   sent once more, then not again until something happens on its route.
//! - Header byte counters are Pushpin's estimates: a request head counts its method, path and
//!   query, and each field's name and value; a response head its status digits, reason and
//!   fields (no separators or line ends). Content counters count body bytes.
//! - In tnetstring the key order is Qt's hash order; in JSON the keys are sorted. gripway sorts
//!   both.
//!
//! # Where gripway differs
//!
//! - A held request is one connection under its route; Pushpin counts it twice (once in its proxy
//!   process under the route, once in its handler without), so its reports show a held stream in
//!   both the route's `connections` and the route-less one's. Pushpin also sends a held
//!   request's `conn` twice when it is accepted (proxy and handler), and its `unavailable`
//!   without `route`; gripway sends one `conn`, and `unavailable` with the route as for any
//!   request.
//! - Byte counters: gripway counts the client's request and response (header estimates and body
//!   bytes), and the first exchange with an HTTP backend. Not counted yet: request bodies for
//!   `zhttpreq/` routes and their exchanges with the workers, and the requests a held session
//!   makes later (long-poll replays, next links). `client-messages-*` and `server-messages-*`
//!   stay 0 until WebSockets exist.
//! - Connection ids are `<from>:<n>` (`gripway_<pid>:<n>`), where Pushpin's are its connection
//!   manager's ZHTTP ids (`condure:1-0-a`).

pub mod conn;
pub mod engine;
pub mod packet;
pub mod publisher;
pub mod report;
pub mod subscriptions;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::hub::{Message, Mode, ModeCounts};

pub use self::conn::{ConnGuard, ConnKind, Counter, NewConn, Tally};
pub use self::publisher::StatsPublisher;

/// Events that may wait for the publisher task. Past this, events are dropped and counted.
pub const QUEUE: usize = 65_536;

/// `conncheck` questions that may wait for the publisher task.
const QUERIES: usize = 16;

/// How long a `conncheck` waits for the publisher task's answer before answering "none".
const QUERY_TIMEOUT: Duration = Duration::from_secs(1);

/// Which of these connections are open? (`conncheck`, §5.5.)
#[derive(Debug)]
pub struct Query {
    /// Connection numbers.
    pub ids: Vec<u64>,
    /// Where the open ones go.
    pub reply: oneshot::Sender<Vec<u64>>,
}

/// What the publisher task reads: the hooks' events and `conncheck` questions.
#[derive(Debug)]
pub struct Feed {
    /// Events from the hooks.
    pub events: mpsc::Receiver<Event>,
    /// Questions from the command socket.
    pub queries: mpsc::Receiver<Query>,
}

/// What the hooks tell the publisher task.
#[derive(Debug)]
pub enum Event {
    /// A request was routed: a connection opens.
    Opened(Arc<conn::ConnInfo>),
    /// The request's response is done, or its client left.
    Closed(Arc<conn::ConnInfo>),
    /// A channel's subscriber count in one mode changed (0: the last one left).
    Subscribers {
        /// The sessions' mode.
        mode: Mode,
        /// The channel.
        channel: Arc<str>,
        /// Subscribers in that mode now.
        count: usize,
    },
    /// An item was fanned out to its channel's subscribers.
    Published {
        /// The item.
        message: Message,
        /// The channel's sessions per mode when it was fanned out.
        sessions: ModeCounts,
    },
}

/// The hooks' handle on the stats: cheap to clone; empty (every hook a no-op) when `stats_spec`
/// is unset.
#[derive(Clone, Debug, Default)]
pub struct Stats(Option<Arc<Sink>>);

#[derive(Debug)]
struct Sink {
    tx: mpsc::Sender<Event>,
    queries: mpsc::Sender<Query>,
    /// `<from>:`, the prefix of this process's connection ids.
    id_prefix: String,
    /// Events dropped because the queue was full, since start.
    dropped: AtomicU64,
    /// Set when an event was dropped; the task re-reads the state it may have missed.
    lost: AtomicBool,
    next_conn: AtomicU64,
}

impl Stats {
    /// Stats that go nowhere.
    pub fn disabled() -> Stats {
        Stats(None)
    }

    /// Stats feeding a queue of `capacity` events; the feed goes to the publisher task.
    pub fn channel(capacity: usize) -> (Stats, Feed) {
        let (tx, events) = mpsc::channel(capacity.max(1));
        let (queries_tx, queries) = mpsc::channel(QUERIES);
        let sink = Sink {
            tx,
            queries: queries_tx,
            id_prefix: format!("{}:", publisher::instance_id()),
            dropped: AtomicU64::new(0),
            lost: AtomicBool::new(false),
            next_conn: AtomicU64::new(0),
        };
        (Stats(Some(Arc::new(sink))), Feed { events, queries })
    }

    /// Whether anything listens.
    pub fn is_enabled(&self) -> bool {
        self.0.is_some()
    }

    /// A routed request: its connection is reported until the guard is dropped.
    pub fn open(&self, new: NewConn) -> ConnGuard {
        let Some(sink) = &self.0 else {
            return ConnGuard::none();
        };
        let id = sink.next_conn.fetch_add(1, Ordering::Relaxed);
        let info = Arc::new(conn::ConnInfo::new(id, new));
        self.send(Event::Opened(info.clone()));
        ConnGuard::new(info, self.clone())
    }

    /// `channel` now has `count` subscribers in `mode` (called under a hub shard lock).
    pub fn subscribers(&self, mode: Mode, channel: &Arc<str>, count: usize) {
        if self.is_enabled() {
            self.send(Event::Subscribers {
                mode,
                channel: channel.clone(),
                count,
            });
        }
    }

    /// `message` was fanned out to `sessions`.
    pub fn published(&self, message: &Message, sessions: ModeCounts) {
        if self.is_enabled() {
            self.send(Event::Published {
                message: message.clone(),
                sessions,
            });
        }
    }

    /// Which of `ids` (`<from>:<n>`, as `conn` packets name them) are open connections of this
    /// process (`conncheck`). None are when stats are off: no id was ever given out.
    pub async fn open_ids(&self, ids: &[Bytes]) -> Vec<Bytes> {
        let Some(sink) = &self.0 else {
            return Vec::new();
        };
        let numbers: Vec<(u64, &Bytes)> = ids
            .iter()
            .filter_map(|id| {
                let n = id.strip_prefix(sink.id_prefix.as_bytes())?;
                let n = std::str::from_utf8(n).ok()?.parse().ok()?;
                Some((n, id))
            })
            .collect();
        if numbers.is_empty() {
            return Vec::new();
        }
        let (reply, answer) = oneshot::channel();
        let query = Query {
            ids: numbers.iter().map(|(n, _)| *n).collect(),
            reply,
        };
        let asked = async {
            sink.queries.send(query).await.ok()?;
            answer.await.ok()
        };
        let Ok(Some(open)) = tokio::time::timeout(QUERY_TIMEOUT, asked).await else {
            tracing::warn!("stats task did not answer conncheck in time; answering none");
            return Vec::new();
        };
        numbers
            .into_iter()
            .filter(|(n, _)| open.contains(n))
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// Events dropped for a full queue, since start.
    pub fn dropped_total(&self) -> u64 {
        self.0
            .as_ref()
            .map_or(0, |s| s.dropped.load(Ordering::Relaxed))
    }

    /// Whether events were dropped since the last call.
    pub(crate) fn take_lost(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|s| s.lost.swap(false, Ordering::AcqRel))
    }

    fn send(&self, event: Event) {
        let Some(sink) = &self.0 else { return };
        if sink.tx.try_send(event).is_err() {
            sink.dropped.fetch_add(1, Ordering::Relaxed);
            sink.lost.store(true, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_stats_take_nothing() {
        let stats = Stats::disabled();
        let guard = stats.open(NewConn::default());
        guard.add(Counter::ClientContentBytesSent, 10);
        drop(guard);
        assert_eq!(stats.dropped_total(), 0);
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let (stats, feed) = Stats::channel(1);
        let mut rx = feed.events;
        let channel: Arc<str> = Arc::from("c");
        stats.subscribers(Mode::Stream, &channel, 1);
        stats.subscribers(Mode::Stream, &channel, 2);
        assert_eq!(stats.dropped_total(), 1);
        assert!(stats.take_lost());
        assert!(!stats.take_lost());
        assert!(matches!(
            rx.try_recv(),
            Ok(Event::Subscribers { count: 1, .. })
        ));
    }
}
