//! WebSocket mode: holds N client WebSockets on one path, publishes M `ws-message` items whose
//! content carries the send time (`msg:<seq>:<sent_us>;`), and reports every delivery's latency
//! and every missing one.
//!
//! Each delivery lands in its own slot (message × connection) of a preallocated table of atomics,
//! so recording costs no lock and no allocation while 10,000 deliveries arrive at once, and a
//! delivery that comes twice is seen. Connections ask tungstenite for small buffers (the load
//! generator shares the machine with the server), but its client handshake hands its own 4 KiB
//! read buffer on to the connection whatever `read_buffer_size` says: an idle client costs
//! about 5.4 KB here (heaptrack, 10,000 clients: 4.1 KB that buffer, 0.9 KB the task, 0.4 KB
//! tokio's registration and wakers).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::Args;

/// Attempts per connection before it counts as failed.
const ATTEMPTS: usize = 5;

/// Deliveries and their latencies, shared by every connection.
struct Record {
    epoch: Instant,
    connections: usize,
    messages: usize,
    /// Slot `seq * connections + conn`: latency in µs plus one, 0 while not delivered.
    slots: Vec<AtomicU64>,
    received: AtomicUsize,
    duplicates: AtomicUsize,
    /// Connections that ended (closed by the server or broken) after they were held.
    ended: AtomicUsize,
}

impl Record {
    fn new(connections: usize, messages: usize) -> Self {
        let slots = (0..connections * messages)
            .map(|_| AtomicU64::new(0))
            .collect();
        Self {
            epoch: Instant::now(),
            connections,
            messages,
            slots,
            received: AtomicUsize::new(0),
            duplicates: AtomicUsize::new(0),
            ended: AtomicUsize::new(0),
        }
    }

    fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    /// Records `text` (`msg:<seq>:<sent_us>;`) read by connection `conn` at `now_us`.
    fn deliver(&self, conn: usize, text: &str, now_us: u64) {
        let Some((seq, sent)) = parse(text) else {
            return;
        };
        if seq >= self.messages {
            return;
        }
        let slot = &self.slots[seq * self.connections + conn];
        // The first delivery counts; a repeat keeps it and is only counted as a duplicate.
        let latency = now_us.saturating_sub(sent) + 1;
        if slot
            .compare_exchange(0, latency, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.received.fetch_add(1, Ordering::Relaxed);
        } else {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// `msg:<seq>:<sent_us>;` → (seq, sent_us).
fn parse(text: &str) -> Option<(usize, u64)> {
    let body = text.strip_prefix("msg:")?.split(';').next()?;
    let (seq, sent) = body.split_once(':')?;
    Some((seq.parse().ok()?, sent.parse().ok()?))
}

/// Small buffers: 10,000 idle clients with tungstenite's defaults (128 KiB read buffer each)
/// would cost more than the server under test. No write buffering: each close or pong is
/// written at once.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(512)
        .write_buffer_size(0)
        .max_write_buffer_size(64 * 1024)
}

/// The whole WebSocket run: open, (pause), publish, drain, report.
pub(crate) async fn run(args: &Args) {
    let record = Arc::new(Record::new(args.streams, args.messages));
    let started = Instant::now();
    let (held, failures) = open_all(args, &record).await;
    let open_secs = started.elapsed().as_secs_f64();
    println!(
        "websockets held: {held}/{} in {open_secs:.1} s ({:.0} opened/s, {failures} attempts failed and retried)",
        args.streams,
        held as f64 / open_secs
    );
    if args.pause {
        wait_for_go("held").await;
    } else {
        // Past the servers' first-subscription refresh, as in stream mode.
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    let ended_before = record.ended.load(Ordering::Relaxed);
    let first_publish = Instant::now();
    for seq in 0..args.messages {
        let content = format!("msg:{seq}:{};", record.now_us());
        crate::publish_format(args, seq, "ws-message", &content).await;
        tokio::time::sleep(Duration::from_millis(args.interval_ms)).await;
    }
    let expected = held * args.messages;
    let deadline = Instant::now() + Duration::from_secs(args.drain_secs);
    while record.received.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    report(&record, expected, first_publish.elapsed(), ended_before);
    if args.pause {
        // The connections stay up until the caller has measured them after the broadcast.
        wait_for_go("done").await;
    }
}

/// Prints `word` and waits for a line on stdin (or its end).
async fn wait_for_go(word: &str) {
    println!("{word}");
    let _ = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    })
    .await;
}

/// Opens every connection, at most `--concurrency` at once and `--open-rate` a second; returns
/// how many are held and how many attempts failed.
async fn open_all(args: &Args, record: &Arc<Record>) -> (usize, usize) {
    let gate = Arc::new(Semaphore::new(args.concurrency));
    let held = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let url = format!("ws://{}{}", args.client, args.path);
    let start = Instant::now();
    for conn in 0..args.streams {
        if args.open_rate > 0 {
            let due = start + Duration::from_secs_f64(conn as f64 / f64::from(args.open_rate));
            tokio::time::sleep_until(due.into()).await;
        }
        let Ok(permit) = gate.clone().acquire_owned().await else {
            break;
        };
        let (url, record) = (url.clone(), record.clone());
        let (held, failures) = (held.clone(), failures.clone());
        let client = args.client;
        tokio::spawn(async move {
            // Boxed, so the handshake's state is freed once done instead of sizing the task
            // that then holds the connection for the whole run.
            let Some(ws) = Box::pin(open_one(client, &url, &failures)).await else {
                return;
            };
            held.fetch_add(1, Ordering::Relaxed);
            drop(permit);
            listen(conn, ws, &record).await;
        });
    }
    // Every permit back: each connection is held or has given up.
    let _all = gate.acquire_many(args.concurrency as u32).await;
    (
        held.load(Ordering::Relaxed),
        failures.load(Ordering::Relaxed),
    )
}

/// Connects and upgrades one client, retrying up to [`ATTEMPTS`] times.
async fn open_one(
    client: std::net::SocketAddr,
    url: &str,
    failures: &AtomicUsize,
) -> Option<WebSocketStream<TcpStream>> {
    for _ in 0..ATTEMPTS {
        if let Ok(sock) = TcpStream::connect(client).await {
            let _ = sock.set_nodelay(true);
            if let Ok((ws, _)) =
                tokio_tungstenite::client_async_with_config(url, sock, Some(config())).await
            {
                return Some(ws);
            }
        }
        failures.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Reads deliveries until the connection ends (pings are answered by tungstenite as it reads).
async fn listen(conn: usize, mut ws: WebSocketStream<TcpStream>, record: &Record) {
    while let Some(Ok(message)) = ws.next().await {
        if let Message::Text(text) = message {
            record.deliver(conn, text.as_str(), record.now_us());
        }
    }
    record.ended.fetch_add(1, Ordering::Relaxed);
}

fn report(record: &Record, expected: usize, elapsed: Duration, ended_before: usize) {
    let mut all = Vec::with_capacity(expected);
    let mut last_per_round = Vec::with_capacity(record.messages);
    for round in record.slots.chunks(record.connections.max(1)) {
        let before = all.len();
        all.extend(
            round
                .iter()
                .map(|s| s.load(Ordering::Relaxed))
                .filter(|&v| v > 0)
                .map(|v| v - 1),
        );
        last_per_round.push(all[before..].iter().max().copied().unwrap_or(0));
    }
    all.sort_unstable();
    crate::report_sorted(&all, expected, elapsed);
    let rounds: Vec<String> = last_per_round
        .iter()
        .map(|us| format!("{:.0}", *us as f64 / 1000.0))
        .collect();
    println!("last delivery per round ms: {}", rounds.join(" "));
    println!(
        "duplicates: {}  connections ended: {} while idle, {} during publishing",
        record.duplicates.load(Ordering::Relaxed),
        ended_before,
        record.ended.load(Ordering::Relaxed) - ended_before
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_published_content() {
        assert_eq!(parse("msg:3:123456;"), Some((3, 123_456)));
        assert_eq!(parse("msg:3:12x;"), None);
        assert_eq!(parse("hello"), None);
    }

    #[test]
    fn a_second_delivery_counts_as_duplicate() {
        let r = Record::new(2, 2);
        r.deliver(1, "msg:1:0;", 10);
        r.deliver(1, "msg:1:0;", 11);
        r.deliver(0, "msg:5:0;", 11); // beyond the published messages: ignored
        assert_eq!(r.received.load(Ordering::Relaxed), 1);
        assert_eq!(r.duplicates.load(Ordering::Relaxed), 1);
        assert_eq!(r.slots[3].load(Ordering::Relaxed), 11);
    }
}
