//! The HTTP backend client through the real binary, against raw-TCP backends written here so the
//! bytes on the wire are exactly what each test says: header-name case both ways, keep-alive
//! reuse, pooled connections the backend closed, backends dying mid-body, failover, chunked
//! responses, and large streamed request bodies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::{get, split, Gripway};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Every wait in these tests is bounded by this (a hang check, not a timing assertion).
const BOUND: Duration = Duration::from_secs(10);

/// A backend on loopback that runs `serve(n, socket)` for its n-th connection (from 0); the
/// returned counter says how many connections it accepted.
async fn raw_backend<F, Fut>(serve: F) -> (SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(usize, TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let accepted = count.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let n = accepted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(n, sock));
        }
    });
    (addr, count)
}

/// One request read off a backend connection: its head as text and its body, de-chunked.
struct Received {
    head: String,
    body: Vec<u8>,
}

/// Reads one request (Content-Length, chunked or no body); `None` when the connection closed.
async fn read_request(sock: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Received> {
    let end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        fill(sock, buf).await?;
    };
    let head = String::from_utf8(buf.drain(..end + 4).collect()).unwrap();
    let lower = head.to_ascii_lowercase();
    let mut body = Vec::new();
    if lower.contains("\r\ntransfer-encoding: chunked\r\n") {
        loop {
            let line_end = loop {
                if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                    break i;
                }
                fill(sock, buf).await?;
            };
            let size =
                usize::from_str_radix(std::str::from_utf8(&buf[..line_end]).unwrap().trim(), 16)
                    .unwrap();
            buf.drain(..line_end + 2);
            while buf.len() < size + 2 {
                fill(sock, buf).await?;
            }
            body.extend(buf.drain(..size));
            buf.drain(..2);
            if size == 0 {
                break;
            }
        }
    } else if let Some(len) = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
    {
        let len: usize = len.trim().parse().unwrap();
        while buf.len() < len {
            fill(sock, buf).await?;
        }
        body.extend(buf.drain(..len));
    }
    Some(Received { head, body })
}

async fn fill(sock: &mut TcpStream, buf: &mut Vec<u8>) -> Option<()> {
    let mut chunk = [0u8; 16384];
    match sock.read(&mut chunk).await {
        Ok(0) | Err(_) => None,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            Some(())
        }
    }
}

/// A keep-alive backend answering every request with `response`; each request's head is sent
/// on the returned channel.
async fn keep_alive_backend(
    response: &'static str,
) -> (
    SocketAddr,
    Arc<AtomicUsize>,
    mpsc::UnboundedReceiver<String>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (addr, count) = raw_backend(move |_, mut sock| {
        let tx = tx.clone();
        async move {
            let mut buf = Vec::new();
            while let Some(req) = read_request(&mut sock, &mut buf).await {
                let _ = tx.send(req.head);
                if sock.write_all(response.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    })
    .await;
    (addr, count, rx)
}

/// Sends `request` and reads until the server closes; panics if that takes longer than BOUND.
async fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut sock = TcpStream::connect(addr).await.unwrap();
    sock.write_all(request).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(BOUND, sock.read_to_end(&mut out))
        .await
        .expect("the reply never ended")
        .unwrap();
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn header_names_keep_their_case_both_ways() {
    let (be, _, mut heads) = keep_alive_backend(
        "HTTP/1.1 200 Fine Thanks\r\nX-CamelCase-Header: 1\r\nx-lower: 2\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok",
    )
    .await;
    let dir = std::env::temp_dir().join(format!("gripway-case-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("pushpin.conf");
    std::fs::write(
        &conf,
        format!(
            "[proxy]\nsig_key=changeme\n[handler]\npush_in_http_port={}\n",
            support::free_port()
        ),
    )
    .unwrap();
    let gw = Gripway::start(&[
        "--config",
        conf.to_str().unwrap(),
        "--route",
        &format!("*,aco {be}"),
    ])
    .await;
    let reply = get(
        gw.addr(),
        "/x?y=1",
        "X-Client-Header: a\r\nx-other-client: b\r\nOrigin: http://app.test\r\n",
    )
    .await;
    let (head, body) = split(&reply);
    assert!(head.starts_with("HTTP/1.1 200 Fine Thanks\r\n"), "{head}");
    assert!(head.contains("\r\nX-CamelCase-Header: 1\r\n"), "{head}");
    assert!(head.contains("\r\nx-lower: 2\r\n"), "{head}");
    assert!(
        head.contains("\r\nAccess-Control-Expose-Headers: X-CamelCase-Header, x-lower\r\n"),
        "{head}"
    );
    assert_eq!(body, "ok");

    let seen = heads.recv().await.unwrap();
    assert!(seen.starts_with("GET /x?y=1 HTTP/1.1\r\n"), "{seen}");
    for field in [
        "\r\nHost: example.com\r\n",
        "\r\nX-Client-Header: a\r\n",
        "\r\nx-other-client: b\r\n",
        "\r\nOrigin: http://app.test\r\n",
        "\r\nGrip-Sig: ",
        "\r\nGrip-Feature: status, session, link:next",
    ] {
        assert!(seen.contains(field), "{field:?} not in {seen}");
    }

    // JSON-P's extended mode hands the names to JavaScript, which reads them case-sensitively.
    let reply = get(gw.addr(), "/x?callback=cb", "").await;
    let script = split(&reply).1;
    let json = script
        .strip_prefix("/**/cb(")
        .and_then(|rest| rest.strip_suffix(");\n"))
        .unwrap_or_else(|| panic!("not a JSON-P script: {script}"));
    let call: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(call["reason"], "Fine Thanks");
    assert_eq!(call["headers"]["X-CamelCase-Header"], "1", "{call}");
    assert_eq!(call["headers"]["x-lower"], "2", "{call}");
    assert_eq!(call["headers"]["Content-Type"], "text/plain", "{call}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn sequential_requests_share_one_backend_connection() {
    let (be, connections, _heads) =
        keep_alive_backend("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
    let gw = Gripway::start(&["--route", &format!("* {be}")]).await;
    for _ in 0..5 {
        assert_eq!(split(&get(gw.addr(), "/", "").await).1, "ok");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_pooled_connection_the_backend_closed_is_replaced() {
    // Closes each connection after one answer, without saying so.
    let (be, connections) = raw_backend(|_, mut sock| async move {
        let mut buf = Vec::new();
        if read_request(&mut sock, &mut buf).await.is_some() {
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nonce")
                .await;
        }
    })
    .await;
    let gw = Gripway::start(&["--route", &format!("* {be}")]).await;
    for _ in 0..3 {
        assert_eq!(split(&get(gw.addr(), "/", "").await).1, "once");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 3);

    // The first connection answers once, then closes when the next request arrives on it: the
    // request is sent again on a new connection (a buffered body, nothing received).
    let dropped = Arc::new(AtomicUsize::new(0));
    let dropping = dropped.clone();
    let (be, connections) = raw_backend(move |n, mut sock| {
        let dropping = dropping.clone();
        async move {
            let mut buf = Vec::new();
            while let Some(req) = read_request(&mut sock, &mut buf).await {
                if n == 0 && !req.head.starts_with("GET /first ") {
                    dropping.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                    req.body.len() + 3
                );
                let _ = sock.write_all(reply.as_bytes()).await;
                let _ = sock.write_all(b"ok:").await;
                let _ = sock.write_all(&req.body).await;
            }
        }
    })
    .await;
    let gw = Gripway::start(&["--route", &format!("* {be}")]).await;
    assert_eq!(split(&get(gw.addr(), "/first", "").await).1, "ok:");
    let post = exchange(
        gw.addr(),
        b"POST /second HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody",
    )
    .await;
    assert_eq!(split(&text(&post)).1, "ok:body");
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "the POST went first to the pooled connection"
    );
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_backend_dying_mid_body_cuts_the_clients_reply() {
    let (be, _) = raw_backend(|n, mut sock| async move {
        let mut buf = Vec::new();
        if read_request(&mut sock, &mut buf).await.is_none() {
            return;
        }
        let partial: &[u8] = if n % 2 == 0 {
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"
        } else {
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
        };
        let _ = sock.write_all(partial).await;
        // Let the first bytes reach the client before the end (pacing, not an assertion).
        tokio::time::sleep(Duration::from_millis(100)).await;
    })
    .await;
    let gw = Gripway::start(&["--route", &format!("* {be}")]).await;
    let request = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n";

    let reply = text(&exchange(gw.addr(), request).await);
    let (head, body) = split(&reply);
    assert!(head.contains("Content-Length: 100"), "{head}");
    assert_eq!(body, "0123456789", "the reply stops where the backend did");

    let reply = text(&exchange(gw.addr(), request).await);
    let (head, body) = split(&reply);
    assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
    assert_eq!(
        body, "5\r\nhello\r\n",
        "no last chunk: the client sees the cut"
    );

    // gripway is unharmed.
    let reply = text(&exchange(gw.addr(), request).await);
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
}

#[tokio::test]
async fn fails_over_to_the_second_target_with_the_body() {
    let dead = support::free_port();
    let (tx, mut bodies) = mpsc::unbounded_channel();
    let (be, _) = raw_backend(move |_, mut sock| {
        let tx = tx.clone();
        async move {
            let mut buf = Vec::new();
            while let Some(req) = read_request(&mut sock, &mut buf).await {
                let _ = tx.send(req.body);
                let _ = sock
                    .write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 6\r\n\r\nsecond")
                    .await;
            }
        }
    })
    .await;
    let gw = Gripway::start(&["--route", &format!("* 127.0.0.1:{dead} {be}")]).await;
    let reply = text(
        &exchange(
            gw.addr(),
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        )
        .await,
    );
    assert!(reply.starts_with("HTTP/1.1 201 Created\r\n"), "{reply}");
    assert_eq!(split(&reply).1, "second");
    assert_eq!(bodies.recv().await.unwrap(), b"hello");
}

#[tokio::test]
async fn chunked_and_close_delimited_responses_pass_through() {
    let (be, connections) = raw_backend(|n, mut sock| async move {
        let mut buf = Vec::new();
        if read_request(&mut sock, &mut buf).await.is_none() {
            return;
        }
        if n == 0 {
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Kind: Chunked\r\n\r\n5\r\nhello\r\n")
                .await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = sock
                .write_all(b"6\r\n world\r\n0\r\nX-Trailer: dropped\r\n\r\n")
                .await;
            // Keep-alive: wait for gripway to close or reuse it.
            let _ = read_request(&mut sock, &mut buf).await;
        } else {
            let _ = sock
                .write_all(b"HTTP/1.0 200 OK\r\nX-Kind: Old\r\n\r\nuntil ")
                .await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = sock.write_all(b"close").await;
        }
    })
    .await;
    let gw = Gripway::start(&["--route", &format!("* {be}")]).await;
    let reply = text(
        &exchange(
            gw.addr(),
            b"GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        )
        .await,
    );
    let (head, body) = split(&reply);
    assert!(head.contains("\r\nTransfer-Encoding: chunked"), "{head}");
    assert!(head.contains("\r\nX-Kind: Chunked"), "{head}");
    assert!(!reply.contains("X-Trailer"), "{reply}");
    assert_eq!(dechunk(body), "hello world");

    // A close-delimited HTTP/1.0 response, to an HTTP/1.0 client: delimited by closing too.
    let reply = text(&exchange(gw.addr(), b"GET /b HTTP/1.0\r\nHost: h\r\n\r\n").await);
    let (head, body) = split(&reply);
    assert!(head.starts_with("HTTP/1.0 200 OK\r\n"), "{head}");
    assert!(head.contains("\r\nX-Kind: Old"), "{head}");
    assert_eq!(body, "until close");
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").unwrap();
        let size = usize::from_str_radix(size, 16).unwrap();
        if size == 0 {
            return out;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
}

#[tokio::test]
async fn big_streamed_request_bodies_arrive_intact() {
    let (tx, mut heads) = mpsc::unbounded_channel();
    // Echoes each body back, so the big response passes through too.
    let (be, _) = raw_backend(move |_, mut sock| {
        let tx = tx.clone();
        async move {
            let mut buf = Vec::new();
            while let Some(req) = read_request(&mut sock, &mut buf).await {
                let _ = tx.send(req.head);
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                    req.body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&req.body).await;
            }
        }
    })
    .await;
    let gw = Gripway::start(&["--route", &format!("* {be}")]).await;
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();

    let mut request = format!(
        "POST /length HTTP/1.1\r\nHost: h\r\ncontent-length: {}\r\nConnection: close\r\n\r\n",
        big.len()
    )
    .into_bytes();
    request.extend_from_slice(&big);
    let reply = exchange(gw.addr(), &request).await;
    let at = reply.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(reply[at..] == big[..], "echoed body differs");
    let head = heads.recv().await.unwrap();
    assert!(head.contains("\r\ncontent-length: 300000\r\n"), "{head}");

    let mut request =
        b"POST /chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            .to_vec();
    for piece in big.chunks(7000) {
        request.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        request.extend_from_slice(piece);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let reply = exchange(gw.addr(), &request).await;
    let at = reply.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(reply[at..] == big[..], "echoed body differs");
    let head = heads.recv().await.unwrap();
    assert!(
        head.contains("\r\nTransfer-Encoding: chunked\r\n"),
        "{head}"
    );
}
