//! Load generator for the benchmarks in `bench/`: holds N streams open on a gripway or Pushpin
//! client port, publishes M timestamped messages to the HTTP publish API (or, with `--push`, to
//! the ZeroMQ PULL input), and reports how many deliveries arrived, the publish-to-delivery
//! latency percentiles and deliveries per second. With `--window`, the publisher keeps at most
//! that many messages in flight (published but not yet received by every stream), so it runs as
//! fast as the server delivers without overflowing any queue. With `--websocket` it holds N
//! client WebSockets instead and publishes `ws-message` items (see [`websocket`]).
//!
//! Publisher and subscribers share one clock (this process), so a latency is the time from just
//! before the publish request is written to the moment a client reads the message. Loopback only.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

mod publish;
mod received;
mod websocket;

use publish::Publisher;
use received::Received;

/// How long the windowed publisher waits for a stream that gets nothing before going on without
/// it (a message dropped for a stream leaves it behind until a later one arrives).
const STALL: Duration = Duration::from_secs(1);

/// Hold streams, publish, measure delivery.
#[derive(Parser, Debug)]
struct Args {
    /// Client address of the server under test.
    #[arg(long, default_value = "127.0.0.1:7999")]
    client: SocketAddr,
    /// Publish API address.
    #[arg(long, default_value = "127.0.0.1:5561")]
    publish: SocketAddr,
    /// Publish through a ZeroMQ PUSH socket connected to this PULL endpoint (the server's
    /// `push_in_spec`, e.g. `tcp://127.0.0.1:5560`) instead of the HTTP publish API.
    #[arg(long)]
    push: Option<String>,
    /// Path that opens a stream hold on the channel (the built-in test route's /stream).
    #[arg(long, default_value = "/stream?channel=bench")]
    path: String,
    /// Channel to publish to.
    #[arg(long, default_value = "bench")]
    channel: String,
    /// Streams to hold.
    #[arg(long, default_value_t = 10_000)]
    streams: usize,
    /// Messages to publish.
    #[arg(long, default_value_t = 20)]
    messages: usize,
    /// Pause between publishes, in milliseconds.
    #[arg(long, default_value_t = 500)]
    interval_ms: u64,
    /// Streams being opened at once.
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
    /// How long to wait for stragglers after the last publish, in seconds.
    #[arg(long, default_value_t = 20)]
    drain_secs: u64,
    /// Chain the messages with `id` and `prev-id` (1, 2, 3, …), so the server sequences them.
    #[arg(long)]
    chain: bool,
    /// Keep at most this many messages published but not yet received by every stream (0: no
    /// limit; `--interval-ms` alone paces the publisher).
    #[arg(long, default_value_t = 0)]
    window: usize,
    /// Stop publishing after this many seconds even if messages are left (0: no limit).
    #[arg(long, default_value_t = 0)]
    publish_secs: u64,
    /// Hold WebSockets on `--path` (which the route must upgrade) instead of streams, and
    /// publish `ws-message` items.
    #[arg(long)]
    websocket: bool,
    /// Opens started per second at most (0: bounded by `--concurrency` only). WebSocket mode.
    #[arg(long, default_value_t = 0)]
    open_rate: u32,
    /// Once everything is held, print `held` and wait for a line on stdin before publishing,
    /// so the caller can measure the idle connections first; after the report, print `done`
    /// and wait again before letting the connections go. WebSocket mode.
    #[arg(long)]
    pause: bool,
}

/// Latencies in microseconds, from every client.
type Latencies = Arc<Mutex<Vec<u64>>>;

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if args.websocket {
        websocket::run(&args).await;
        return;
    }
    let epoch = Instant::now();
    let latencies: Latencies = Arc::default();
    let received = Arc::new(Received::new(args.streams));
    let mut publisher = match &args.push {
        Some(endpoint) => Publisher::push(endpoint).await,
        None => Publisher::Http(args.publish),
    };
    let opened = open_streams(&args, epoch, latencies.clone(), received.clone()).await;
    println!("streams held: {opened}/{}", args.streams);
    // Past the servers' first-subscription refresh (one second after the channel's first
    // subscriber, in Pushpin and gripway alike), so it does not land in the measured burst.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let first_publish = Instant::now();
    let first_publish_us = epoch.elapsed().as_micros() as u64;
    let (sent, stalls) = publish_all(&args, &mut publisher, &received, epoch).await;
    let publishing = first_publish.elapsed();
    let expected = opened * sent;
    let deadline = Instant::now() + Duration::from_secs(args.drain_secs);
    while received.count.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Printed before the report's sorting, so a caller reading CPU time can stop here.
    println!(
        "published: {sent} messages, done waiting {:.3} s after the first",
        first_publish.elapsed().as_secs_f64()
    );
    report(&latencies, expected, first_publish.elapsed());
    let to_last = received
        .last_us
        .load(Ordering::Relaxed)
        .saturating_sub(first_publish_us);
    println!(
        "publishes/s: {:.0} ({sent} in {:.3} s, window stalled {stalls} times)",
        sent as f64 / publishing.as_secs_f64(),
        publishing.as_secs_f64()
    );
    println!(
        "deliveries/s to the last delivery: {:.0} (last {:.3} s after the first publish)",
        latencies.lock().unwrap().len() as f64 / (to_last.max(1) as f64 / 1e6),
        to_last as f64 / 1e6
    );
}

/// Publishes the messages, paced by `--interval-ms` and `--window`, until they are all out or
/// `--publish-secs` is up; how many were sent, and how often the window stalled.
async fn publish_all(
    args: &Args,
    publisher: &mut Publisher,
    received: &Received,
    epoch: Instant,
) -> (usize, usize) {
    let stop_at =
        (args.publish_secs > 0).then(|| Instant::now() + Duration::from_secs(args.publish_secs));
    let mut stalls = 0;
    for seq in 0..args.messages {
        if stop_at.is_some_and(|t| Instant::now() >= t) {
            return (seq, stalls);
        }
        if args.window > 0
            && seq >= args.window
            && !received.wait_all_past(seq - args.window, STALL).await
        {
            stalls += 1;
        }
        let sent_us = epoch.elapsed().as_micros() as u64;
        publisher
            .send(item(args, seq, &format!("msg:{seq}:{sent_us};\\n")))
            .await;
        if args.interval_ms > 0 {
            tokio::time::sleep(Duration::from_millis(args.interval_ms)).await;
        }
    }
    (args.messages, stalls)
}

async fn open_streams(
    args: &Args,
    epoch: Instant,
    latencies: Latencies,
    received: Arc<Received>,
) -> usize {
    let gate = Arc::new(Semaphore::new(args.concurrency));
    let ready = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(args.streams);
    for stream in 0..args.streams {
        let permit = gate.clone().acquire_owned().await.unwrap();
        let (client, path) = (args.client, args.path.clone());
        let (latencies, received, ready) = (latencies.clone(), received.clone(), ready.clone());
        tasks.push(tokio::spawn(async move {
            if let Some((sock, rest)) = open_one(client, &path).await {
                ready.fetch_add(1, Ordering::Relaxed);
                drop(permit);
                listen(stream, sock, rest, epoch, latencies, &received).await;
            }
            received.ended(stream);
        }));
    }
    // Wait until every stream is open (or failed).
    while gate.available_permits() < args.concurrency {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(tasks); // detached: the tasks run until their connection ends
    ready.load(Ordering::Relaxed)
}

/// Opens one stream; returns the socket once the initial chunk has arrived.
async fn open_one(client: SocketAddr, path: &str) -> Option<(TcpStream, Vec<u8>)> {
    for _ in 0..5 {
        let Ok(mut sock) = TcpStream::connect(client).await else {
            continue;
        };
        let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n");
        if sock.write_all(req.as_bytes()).await.is_err() {
            continue;
        }
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        while !got.windows(2).any(|w| w == b"]\n") {
            match sock.read(&mut buf).await {
                Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
        if got.windows(2).any(|w| w == b"]\n") {
            return Some((sock, Vec::new()));
        }
    }
    None
}

/// Reads stream `stream`'s deliveries (`msg:<seq>:<sent_us>;`) until the connection ends.
async fn listen(
    stream: usize,
    mut sock: TcpStream,
    mut pending: Vec<u8>,
    epoch: Instant,
    latencies: Latencies,
    received: &Received,
) {
    let mut buf = [0u8; 4096];
    loop {
        let n = match sock.read(&mut buf).await {
            Ok(n) if n > 0 => n,
            _ => return,
        };
        let now_us = epoch.elapsed().as_micros() as u64;
        pending.extend_from_slice(&buf[..n]);
        let mut found = Vec::new();
        let mut highest = None;
        while let Some(start) = find(&pending, b"msg:") {
            let Some(end) = pending[start..].iter().position(|&b| b == b';') else {
                break;
            };
            let token = std::str::from_utf8(&pending[start + 4..start + end]).unwrap_or("");
            let mut parts = token.split(':').map(str::parse::<u64>);
            if let (Some(Ok(seq)), Some(Ok(sent))) = (parts.next(), parts.next()) {
                found.push(now_us.saturating_sub(sent));
                highest = highest.max(Some(seq as usize));
            }
            pending.drain(..start + end + 1);
        }
        if !found.is_empty() {
            received.record(stream, found.len(), highest, now_us);
            latencies.lock().unwrap().extend(found);
        }
        if pending.len() > 64 {
            let keep = pending.len() - 64;
            pending.drain(..keep);
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The JSON object of one published item carrying `content` as an HTTP stream chunk.
fn item(args: &Args, seq: usize, content: &str) -> String {
    item_format(args, seq, "http-stream", content)
}

/// The JSON object of one published item carrying `content` in format `format` (`http-stream`,
/// `ws-message`).
fn item_format(args: &Args, seq: usize, format: &str, content: &str) -> String {
    // A run's ids start from its own epoch, so a server's de-duplication never sees a repeat
    // from an earlier run.
    let ids = match (args.chain, seq) {
        (false, _) => String::new(),
        (true, 0) => format!(r#""id":"{}-0","#, std::process::id()),
        (true, n) => format!(
            r#""id":"{pid}-{n}","prev-id":"{pid}-{prev}","#,
            pid = std::process::id(),
            prev = n - 1
        ),
    };
    format!(
        r#"{{"channel":"{}",{ids}"formats":{{"{format}":{{"content":"{}"}}}}}}"#,
        args.channel, content
    )
}

fn report(latencies: &Latencies, expected: usize, elapsed: Duration) {
    let mut l = latencies.lock().unwrap().clone();
    l.sort_unstable();
    report_sorted(&l, expected, elapsed);
}

/// Prints deliveries, drops and latency percentiles from sorted latencies in microseconds.
fn report_sorted(l: &[u64], expected: usize, elapsed: Duration) {
    let got = l.len();
    let pct = |p: f64| -> f64 {
        if l.is_empty() {
            return f64::NAN;
        }
        let i = ((l.len() as f64 * p).ceil() as usize).clamp(1, l.len()) - 1;
        l[i] as f64 / 1000.0
    };
    println!(
        "deliveries: {got}/{expected} ({:.1}% dropped)",
        100.0 * (expected.saturating_sub(got)) as f64 / expected.max(1) as f64
    );
    println!(
        "latency ms: p50 {:.2}  p99 {:.2}  max {:.2}",
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    println!(
        "deliveries/s over the run: {:.0}",
        got as f64 / elapsed.as_secs_f64()
    );
}

/// Publishes `content` as format `format` to `--channel` over the HTTP publish API.
async fn publish_format(args: &Args, seq: usize, format: &str, content: &str) {
    Publisher::Http(args.publish)
        .send(item_format(args, seq, format, content))
        .await;
}
