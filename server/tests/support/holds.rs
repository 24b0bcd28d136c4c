//! Helpers for tests of held requests: gripway with a publish API, publishing, and reading
//! from held client connections.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{raw, Gripway};

/// Starts gripway with a publish API on a free port; returns it and the publish address.
pub async fn start(routes: &[String]) -> (Gripway, SocketAddr) {
    start_with(routes, "").await
}

/// As [`start`], with more `[handler]` lines in the config.
pub async fn start_with(routes: &[String], handler: &str) -> (Gripway, SocketAddr) {
    let publish_port = super::free_port();
    let dir = std::env::temp_dir().join(format!(
        "gripway-grip-{}-{publish_port}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("pushpin.conf");
    std::fs::write(
        &conf,
        format!(
            "[handler]\npush_in_http_addr=127.0.0.1\npush_in_http_port={publish_port}\n{handler}"
        ),
    )
    .unwrap();
    let mut args = vec!["--config".to_string(), conf.to_str().unwrap().to_string()];
    for r in routes {
        args.push("--route".into());
        args.push(r.clone());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let gw = Gripway::start(&args).await;
    super::wait_for_port(publish_port).await;
    (gw, SocketAddr::from(([127, 0, 0, 1], publish_port)))
}

/// POSTs a publish body; returns the raw reply.
pub async fn publish(api: SocketAddr, body: &str) -> String {
    let req = format!("POST /publish/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    raw(api, req.as_bytes(), Duration::from_secs(5)).await
}

/// Opens a request and returns the socket once the backend has seen it (so the hold is live).
pub async fn open(
    addr: SocketAddr,
    path: &str,
    seen: &mut tokio::sync::mpsc::UnboundedReceiver<super::Seen>,
) -> TcpStream {
    let mut sock = TcpStream::connect(addr).await.unwrap();
    sock.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    seen.recv().await.unwrap();
    // The subscription is made right after the backend answers; give it a moment.
    tokio::time::sleep(Duration::from_millis(100)).await;
    sock
}

pub async fn read_all(sock: &mut TcpStream, timeout: Duration) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(timeout, sock.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads until `needle` appears (or the timeout passes); returns what was read.
pub async fn read_until(sock: &mut TcpStream, needle: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&out).contains(needle) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, sock.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => out.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
