//! A minimal HTTP/1.1 backend for proxy benchmarks: answers every request with a short body,
//! keep-alive, on the loopback port given as the first argument. Fast enough that the proxy
//! under test, not the backend, is what the benchmark measures.
//!
//! It is also a WebSocket-over-HTTP backend (§7.2 of the spec) for the WebSocket benchmark: a
//! request of `application/websocket-events` that opens a connection is accepted with `OPEN`
//! and a control message subscribing it to the channel given as the second argument (default
//! `bench`); a client's close is answered with a close, anything else with no events.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use tokio::net::TcpListener;

const EVENTS: &str = "application/websocket-events";

#[tokio::main]
async fn main() {
    let mut argv = std::env::args().skip(1);
    let port: u16 = argv.next().and_then(|p| p.parse().ok()).unwrap_or(18800);
    let channel = argv.next().unwrap_or_else(|| "bench".to_owned());
    let open = Arc::new(open_body(&channel));
    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            continue;
        };
        let open = open.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| answer(req, open.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(sock), svc)
                .await;
        });
    }
}

/// `OPEN`, then `c:{"type":"subscribe","channel":...}` as a TEXT event.
fn open_body(channel: &str) -> Bytes {
    let control = format!(r#"c:{{"type":"subscribe","channel":"{channel}"}}"#);
    Bytes::from(format!("OPEN\r\nTEXT {:x}\r\n{control}\r\n", control.len()))
}

async fn answer(
    req: Request<Incoming>,
    open: Arc<Bytes>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let is_events = req
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes() == EVENTS.as_bytes());
    if !is_events {
        return Ok(plain(Bytes::from_static(b"hello\n")));
    }
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let reply = if body.starts_with(b"OPEN") {
        Bytes::clone(&open)
    } else if has_close(&body) {
        // 1000, normal closure.
        Bytes::from_static(b"CLOSE 2\r\n\x03\xe8\r\n")
    } else {
        Bytes::new()
    };
    Ok(Response::builder()
        .header("Content-Type", EVENTS)
        .header("Sec-WebSocket-Extensions", "grip; message-prefix=\"\"")
        .body(Full::new(reply))
        .unwrap())
}

/// Whether a `CLOSE` event starts the body or one of its lines.
fn has_close(body: &[u8]) -> bool {
    body.starts_with(b"CLOSE") || body.windows(7).any(|w| w == b"\r\nCLOSE")
}

fn plain(body: Bytes) -> Response<Full<Bytes>> {
    Response::builder()
        .header("Content-Type", "text/plain")
        .body(Full::new(body))
        .unwrap()
}
