//! `Grip-Link` through the real binary (§6.5): identical next-link fetches shared, a failing link
//! retried and then the stream ended, and `rel=gone` called when the client leaves. Ordering
//! and recovery against Pushpin itself are in `tests/diff` (the `link_*`, `recovery_*` and
//! `seq_*` scenarios).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::holds::{publish, read_all, read_until, start_with};
use support::{backend, Answer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Opens a held stream on `path`; returns the socket once the initial body arrived.
async fn open_stream(addr: std::net::SocketAddr, path: &str, opened: &str) -> TcpStream {
    let mut sock = TcpStream::connect(addr).await.unwrap();
    sock.write_all(format!("GET {path} HTTP/1.1\r\nHost: example.com\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let got = read_until(&mut sock, opened, Duration::from_secs(10)).await;
    assert!(got.contains(opened), "{got}");
    sock
}

const NO_REFRESH: &str = "update_on_first_subscription=false\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_streams_hinted_at_once_fetch_their_next_link_once() {
    let next_fetches = Arc::new(AtomicUsize::new(0));
    let counter = next_fetches.clone();
    let (be, _seen) = backend(move |seen| {
        let counter = counter.clone();
        async move {
            if seen.path == "/next" {
                counter.fetch_add(1, Ordering::SeqCst);
                // Slow enough that every session's fetch starts while the first is in flight.
                tokio::time::sleep(Duration::from_millis(1500)).await;
                return Answer::new(200, "next page\n")
                    .header("Grip-Hold", "stream")
                    .header("Grip-Channel", "shared");
            }
            Answer::new(200, "open\n")
                .header("Grip-Hold", "stream")
                .header("Grip-Channel", "shared")
                .header("Grip-Link", "</next>; rel=next")
        }
    })
    .await;
    let (gw, api) = start_with(&[format!("* {be}")], NO_REFRESH).await;
    let mut clients = Vec::new();
    for _ in 0..1000 {
        clients.push(open_stream(gw.addr(), "/s", "open\n").await);
    }
    publish(
        api,
        r#"{"items":[{"channel":"shared","formats":{"http-stream":{"action":"hint"}}}]}"#,
    )
    .await;
    for (i, sock) in clients.iter_mut().enumerate() {
        let got = read_until(sock, "next page", Duration::from_secs(10)).await;
        assert!(got.contains("next page"), "client {i}: {got}");
    }
    assert_eq!(next_fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_failing_next_link_is_retried_then_the_stream_ends() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = attempts.clone();
    let (be, _seen) = backend(move |seen| {
        let counter = counter.clone();
        async move {
            if seen.path == "/next" {
                counter.fetch_add(1, Ordering::SeqCst);
                return Answer::new(500, "down\n");
            }
            Answer::new(200, "open\n")
                .header("Grip-Hold", "stream")
                .header("Grip-Channel", "failing")
                .header("Grip-Link", "</next>; rel=next")
        }
    })
    .await;
    let (gw, api) = start_with(&[format!("* {be}")], NO_REFRESH).await;
    let mut sock = open_stream(gw.addr(), "/s", "open\n").await;
    publish(
        api,
        r#"{"items":[{"channel":"failing","formats":{"http-stream":{"action":"hint"}}}]}"#,
    )
    .await;
    // Six fetches, 1 + 2 + 4 + 8 + 16 s apart at most (plus jitter), then the stream is cut.
    let rest = read_all(&mut sock, Duration::from_secs(45)).await;
    assert_eq!(attempts.load(Ordering::SeqCst), 6);
    assert!(
        !rest.ends_with("0\r\n\r\n"),
        "cut off, not ended cleanly: {rest:?}"
    );
}

#[tokio::test]
async fn the_gone_link_is_posted_when_the_client_leaves() {
    let (be, mut seen) = backend(|seen| async move {
        if seen.path == "/gone" {
            return Answer::new(200, "");
        }
        Answer::new(200, "open\n")
            .header("Grip-Hold", "stream")
            .header("Grip-Channel", "leaving")
            .header("Grip-Link", "</gone?who=me>; rel=gone")
    })
    .await;
    let (gw, _api) = start_with(&[format!("* {be}")], NO_REFRESH).await;
    let sock = open_stream(gw.addr(), "/s", "open\n").await;
    assert_eq!(seen.recv().await.unwrap().path, "/s");
    drop(sock);
    let gone = tokio::time::timeout(Duration::from_secs(5), seen.recv())
        .await
        .expect("no gone callback")
        .unwrap();
    assert_eq!(
        (gone.method.as_str(), gone.path.as_str()),
        ("POST", "/gone?who=me")
    );
    assert!(gone.body.is_empty());
}

#[tokio::test]
async fn a_long_poll_gone_link_is_posted_when_it_times_out_but_not_on_replays() {
    let polls = Arc::new(AtomicUsize::new(0));
    let counter = polls.clone();
    let (be, mut seen) = backend(move |seen| {
        let counter = counter.clone();
        async move {
            if seen.path == "/gone" {
                return Answer::new(200, "");
            }
            counter.fetch_add(1, Ordering::SeqCst);
            Answer::new(200, "timeout\n")
                .header("Grip-Hold", "response")
                .header("Grip-Channel", "lp-gone")
                .header("Grip-Timeout", "5")
                .header("Grip-Link", "</gone>; rel=gone")
        }
    })
    .await;
    let (gw, api) = start_with(&[format!("* {be}")], NO_REFRESH).await;
    let mut sock = TcpStream::connect(gw.addr()).await.unwrap();
    sock.write_all(b"GET /poll HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(seen.recv().await.unwrap().path, "/poll");
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A hint replays the request: the same session, so no gone callback yet.
    publish(
        api,
        r#"{"items":[{"channel":"lp-gone","formats":{"http-response":{"action":"hint"}}}]}"#,
    )
    .await;
    assert_eq!(seen.recv().await.unwrap().path, "/poll");
    let reply = read_all(&mut sock, Duration::from_secs(10)).await;
    assert!(reply.ends_with("timeout\n"), "{reply}");
    let gone = tokio::time::timeout(Duration::from_secs(5), seen.recv())
        .await
        .expect("no gone callback")
        .unwrap();
    assert_eq!(
        (gone.method.as_str(), gone.path.as_str()),
        ("POST", "/gone")
    );
    assert_eq!(polls.load(Ordering::SeqCst), 2);
}
