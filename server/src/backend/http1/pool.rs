//! Idle keep-alive connections, per target, reused last-in first-out.
//!
//! A connection comes back only when its response body was read to the end, the server did not
//! ask to close it, and nothing unread is left in its buffer; anything else is dropped (closed).
//! LIFO keeps the busiest few connections warm and lets the rest age out. Idle connections older
//! than [`POOL_IDLE`], or that the server closed meanwhile, are dropped when next looked at, and
//! a background sweep drops them even when no request comes. The lock is never held across an
//! `.await`, and sockets are closed after it is released.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use super::conn::Conn;

/// How long an idle connection is kept (hyper's default, which gripway used before).
pub const POOL_IDLE: Duration = Duration::from_secs(90);

/// Most idle connections kept per target. Sized for the concurrency a busy route sees on one
/// machine (the proxy benchmark runs 50 client connections); beyond it, a burst's extra
/// connections are closed rather than kept open at the backend for 90 s.
pub const MAX_IDLE_PER_TARGET: usize = 64;

/// How often the background sweep runs.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// The idle connections of every target. Cheap to clone (shared).
#[derive(Clone, Debug, Default)]
pub struct Pool {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    idle: Mutex<HashMap<Arc<str>, VecDeque<Idle>>>,
    sweeping: AtomicBool,
}

#[derive(Debug)]
struct Idle {
    conn: Conn,
    since: Instant,
}

impl Idle {
    fn usable(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.since) < POOL_IDLE && self.conn.looks_open()
    }
}

impl Pool {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// The most recently returned idle connection to `target` that still looks usable.
    pub fn checkout(&self, target: &str) -> Option<Conn> {
        let now = Instant::now();
        let mut dropped = Vec::new();
        let found = {
            let mut idle = self.inner.lock();
            let list = idle.get_mut(target)?;
            let mut found = None;
            while let Some(entry) = list.pop_back() {
                if entry.usable(now) {
                    found = Some(entry.conn);
                    break;
                }
                dropped.push(entry);
            }
            found
        };
        drop(dropped);
        found
    }

    /// Takes back a connection whose exchange ended cleanly (the caller checks keep-alive and
    /// that the body was read to its end).
    pub fn put(&self, conn: Conn) {
        if !conn.buf.is_empty() {
            return;
        }
        let evicted = {
            let mut idle = self.inner.lock();
            let list = idle.entry(conn.target.clone()).or_default();
            list.push_back(Idle {
                conn,
                since: Instant::now(),
            });
            if list.len() > MAX_IDLE_PER_TARGET {
                list.pop_front()
            } else {
                None
            }
        };
        drop(evicted);
        self.start_sweeping();
    }

    /// How many idle connections `target` has (tests and logs).
    pub fn idle_count(&self, target: &str) -> usize {
        self.inner.lock().get(target).map_or(0, VecDeque::len)
    }

    /// Starts the background sweep once, from inside the runtime (the first `put` is).
    fn start_sweeping(&self) {
        if self.inner.sweeping.load(Ordering::Relaxed)
            || self.inner.sweeping.swap(true, Ordering::Relaxed)
        {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.inner.sweeping.store(false, Ordering::Relaxed);
            return;
        };
        let weak = Arc::downgrade(&self.inner);
        runtime.spawn(sweep(weak));
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, VecDeque<Idle>>> {
        // A panic elsewhere while holding the lock leaves the map consistent (every change is
        // one push or pop), so a poisoned lock is still usable.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Drops expired and closed idle connections every [`SWEEP_EVERY`], until the pool is gone.
async fn sweep(pool: Weak<Inner>) {
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        let Some(inner) = pool.upgrade() else {
            return;
        };
        let now = Instant::now();
        let mut dropped = Vec::new();
        {
            let mut idle = inner.lock();
            for list in idle.values_mut() {
                let before = list.len();
                let mut kept = VecDeque::with_capacity(before);
                for entry in list.drain(..) {
                    if entry.usable(now) {
                        kept.push_back(entry);
                    } else {
                        dropped.push(entry);
                    }
                }
                *list = kept;
            }
            idle.retain(|_, list| !list.is_empty());
        }
        drop(dropped);
    }
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::super::testing::{request, Backend, Reply};
    use super::*;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

    async fn get_ok(pool: &Pool, target: &str) {
        let r = request(pool, target, Method::GET).await.unwrap();
        assert_eq!(r.body.read_to_end(100).await.unwrap(), "ok");
    }

    #[tokio::test]
    async fn a_connection_is_reused_once_its_body_was_read() {
        let be = Backend::start(vec![Reply::Send(OK), Reply::Send(OK), Reply::Send(OK)]).await;
        let pool = Pool::new();
        for _ in 0..3 {
            get_ok(&pool, &be.target).await;
        }
        assert_eq!(be.connections(), 1);
        assert_eq!(pool.idle_count(&be.target), 1);
    }

    #[tokio::test]
    async fn not_reused_after_connection_close_or_http10() {
        for first in [
            &b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"[..],
            b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
        ] {
            let be = Backend::start(vec![Reply::Send(first), Reply::Send(OK)]).await;
            let pool = Pool::new();
            get_ok(&pool, &be.target).await;
            assert_eq!(pool.idle_count(&be.target), 0);
            get_ok(&pool, &be.target).await;
            assert_eq!(be.connections(), 2);
        }
        let be = Backend::start(vec![Reply::Send(
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
        )])
        .await;
        let pool = Pool::new();
        get_ok(&pool, &be.target).await;
        assert_eq!(pool.idle_count(&be.target), 1);
    }

    #[tokio::test]
    async fn not_reused_with_an_unread_body_or_extra_bytes() {
        let be = Backend::start(vec![
            Reply::Send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
            Reply::Send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"),
            Reply::Send(OK),
        ])
        .await;
        let pool = Pool::new();
        let unread = request(&pool, &be.target, Method::GET).await.unwrap();
        drop(unread);
        assert_eq!(pool.idle_count(&be.target), 0);
        get_ok(&pool, &be.target).await;
        assert_eq!(pool.idle_count(&be.target), 0, "bytes after the body");
        get_ok(&pool, &be.target).await;
        assert_eq!(be.connections(), 3);
    }

    /// Connects `n` times to a listener that keeps its side open.
    async fn connections(n: usize) -> (Vec<Conn>, tokio::net::TcpListener) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = listener.local_addr().unwrap().to_string();
        let mut conns = Vec::new();
        for _ in 0..n {
            conns.push(Conn::connect(&target).await.unwrap());
        }
        (conns, listener)
    }

    #[tokio::test]
    async fn last_in_first_out_and_capped() {
        let (conns, _listener) = connections(MAX_IDLE_PER_TARGET + 1).await;
        let target = conns[0].target.clone();
        let ports: Vec<u16> = conns
            .iter()
            .map(|c| c.stream.local_addr().unwrap().port())
            .collect();
        let pool = Pool::new();
        for conn in conns {
            pool.put(conn);
        }
        assert_eq!(pool.idle_count(&target), MAX_IDLE_PER_TARGET);
        let newest = pool.checkout(&target).unwrap();
        assert_eq!(
            newest.stream.local_addr().unwrap().port(),
            *ports.last().unwrap()
        );
        // The oldest was closed to make room: the next-oldest is now at the front.
        let mut rest = Vec::new();
        while let Some(conn) = pool.checkout(&target) {
            rest.push(conn.stream.local_addr().unwrap().port());
        }
        assert_eq!(rest.last(), Some(&ports[1]));
        assert!(pool.checkout("127.0.0.1:1").is_none());
    }

    #[tokio::test]
    async fn closed_and_expired_connections_are_not_handed_out() {
        let (mut conns, listener) = connections(1).await;
        let conn = conns.pop().unwrap();
        let target = conn.target.clone();
        // The server closes its side; wait (bounded) until the runtime has seen it.
        let (server_side, _) = listener.accept().await.unwrap();
        drop(server_side);
        let deadline = Instant::now() + Duration::from_secs(5);
        while conn.looks_open() {
            assert!(Instant::now() < deadline, "close never seen");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let pool = Pool::new();
        pool.put(conn);
        assert_eq!(pool.idle_count(&target), 1);
        assert!(pool.checkout(&target).is_none());
        assert_eq!(pool.idle_count(&target), 0);

        let (mut conns, _listener) = connections(1).await;
        let idle = Idle {
            conn: conns.pop().unwrap(),
            since: Instant::now(),
        };
        let now = Instant::now();
        assert!(idle.usable(now));
        assert!(!idle.usable(now + POOL_IDLE));
    }
}
