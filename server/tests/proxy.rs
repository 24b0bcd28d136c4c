//! Plain proxying through the real binary: routing, rewriting, bodies, framing, failover, errors,
//! keep-alive, routes reload and shutdown.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::time::Duration;

use support::{backend, get, raw, split, Answer, Gripway};

#[tokio::test]
async fn forwards_a_get_with_pushpins_rewriting() {
    let (be, mut seen) =
        backend(|_| async { Answer::new(200, "hi\n").header("Content-Type", "text/plain") }).await;
    let gw = Gripway::start(&["--route", &format!("* {be}")]).await;
    let reply = get(
        gw.addr(),
        "/plain?x=1",
        "Accept-Encoding: gzip\r\nGrip-Foo: spoofed\r\nX-Forwarded-For: 1.2.3.4\r\n",
    )
    .await;
    let (head, body) = split(&reply);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(head.contains("Content-Length: 3"), "{head}");
    assert_eq!(body, "hi\n");
    let req = seen.recv().await.unwrap();
    assert_eq!(req.path, "/plain?x=1");
    assert_eq!(req.header("host"), Some("example.com"));
    assert_eq!(req.header("accept-encoding"), None);
    assert_eq!(req.header("grip-foo"), None);
    assert_eq!(req.header("x-forwarded-for"), Some("1.2.3.4"));
    assert!(req
        .header("grip-feature")
        .unwrap()
        .starts_with("status, session, link:next"));
}

#[tokio::test]
async fn no_route_and_unreachable_backends_get_pushpins_texts() {
    let dead = support::free_port();
    let gw = Gripway::start(&[
        "--route",
        &format!("example.com 127.0.0.1:{dead}"),
        "--route",
        &format!("debug.test,debug 127.0.0.1:{dead}"),
    ])
    .await;
    let reply = get(gw.addr(), "/", "").await;
    assert!(reply.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{reply}");
    assert_eq!(split(&reply).1, "Error while proxying to origin.\n");
    let reply = raw(
        gw.addr(),
        b"GET / HTTP/1.1\r\nHost: other.org\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(split(&reply).1, "No route for host: other.org\n");
    let reply = raw(
        gw.addr(),
        b"GET / HTTP/1.1\r\nHost: debug.test\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(
        split(&reply).1,
        format!("Unable to connect to any targets. Tried: 127.0.0.1:{dead}\n")
    );
}

#[tokio::test]
async fn fails_over_to_the_next_target() {
    let dead = support::free_port();
    let (be, _seen) = backend(|_| async { Answer::new(200, "second") }).await;
    let gw = Gripway::start(&["--route", &format!("* 127.0.0.1:{dead} {be}")]).await;
    assert_eq!(split(&get(gw.addr(), "/", "").await).1, "second");
}

#[tokio::test]
async fn request_bodies_small_chunked_and_large() {
    let (be, mut seen) = backend(|s| async move { Answer::new(201, s.body) }).await;
    let gw = Gripway::start(&["--route", &format!("* {be}")]).await;

    let reply = raw(
        gw.addr(),
        b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(split(&reply).1, "hello");
    assert_eq!(seen.recv().await.unwrap().body, "hello");

    let chunked = b"POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    assert_eq!(
        split(&raw(gw.addr(), chunked, Duration::from_secs(5)).await).1,
        "abcde"
    );

    // Larger than the buffering limit: streamed through.
    let big = vec![b'x'; 300_000];
    let mut req = format!(
        "POST /c HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        big.len()
    )
    .into_bytes();
    req.extend_from_slice(&big);
    let reply = raw(gw.addr(), &req, Duration::from_secs(10)).await;
    assert_eq!(split(&reply).1.len(), big.len());
    seen.recv().await.unwrap();
    assert_eq!(seen.recv().await.unwrap().body.len(), big.len());
}

#[tokio::test]
async fn keep_alive_and_http10() {
    let (be, _seen) = backend(|s| async move { Answer::new(200, s.path) }).await;
    let gw = Gripway::start(&["--route", &format!("* {be}")]).await;
    let two = b"GET /one HTTP/1.1\r\nHost: h\r\n\r\nGET /two HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    let reply = raw(gw.addr(), two, Duration::from_secs(5)).await;
    assert_eq!(reply.matches("HTTP/1.1 200 OK").count(), 2, "{reply}");
    assert!(reply.contains("/one") && reply.ends_with("/two"), "{reply}");
    let reply = raw(
        gw.addr(),
        b"GET /old HTTP/1.0\r\nHost: h\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(reply.starts_with("HTTP/1.0 200 OK\r\n"), "{reply}");
    assert!(reply.ends_with("/old"));
}

#[tokio::test]
async fn malformed_requests_get_400() {
    let (be, _seen) = backend(|_| async { Answer::new(200, "") }).await;
    let gw = Gripway::start(&["--route", &format!("* {be}")]).await;
    let reply = raw(
        gw.addr(),
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{reply}");
    let reply = raw(
        gw.addr(),
        b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{reply}");
}

#[tokio::test]
async fn routes_file_reloads_without_dropping_connections() {
    let (one, _s1) = backend(|_| async { Answer::new(200, "one") }).await;
    let (two, _s2) = backend(|_| async { Answer::new(200, "two") }).await;
    let dir = std::env::temp_dir().join(format!("gripway-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("routes"), format!("* {one}\n")).unwrap();
    std::fs::write(
        dir.join("pushpin.conf"),
        "[proxy]\nroutesfile=routes\n[handler]\npush_in_http_port=0\n",
    )
    .unwrap();
    let conf = dir.join("pushpin.conf");
    let gw = Gripway::start(&["--config", conf.to_str().unwrap()]).await;
    assert_eq!(split(&get(gw.addr(), "/", "").await).1, "one");

    // A connection opened before the reload keeps working after it.
    let mut open = tokio::net::TcpStream::connect(gw.addr()).await.unwrap();
    std::fs::write(dir.join("routes"), format!("* {two}\n")).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while split(&get(gw.addr(), "/", "").await).1 != "two" {
        assert!(
            std::time::Instant::now() < deadline,
            "routes never reloaded:\n{}",
            gw.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    open.write_all(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    open.read_to_string(&mut out).await.unwrap();
    assert!(out.ends_with("two"), "{out}");

    // A broken edit keeps the previous routes.
    std::fs::write(dir.join("routes"), "* not-a-target\n").unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(split(&get(gw.addr(), "/", "").await).1, "two");
    assert!(gw.log().contains("routes not reloaded"), "{}", gw.log());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn bad_config_exits_2_with_file_and_line() {
    let dir = std::env::temp_dir().join(format!("gripway-badconf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("pushpin.conf"),
        "[proxy]\ndebug=perhaps\n[runner]\nhttp_port=x\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gripway"))
        .arg("--config")
        .arg(dir.join("pushpin.conf"))
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pushpin.conf:2: [proxy] debug: expected 'true' or 'false', not 'perhaps'"),
        "{err}"
    );
    assert!(
        err.contains("pushpin.conf:4: [runner] http_port: 'x' is not a port"),
        "{err}"
    );
}

#[tokio::test]
async fn sigterm_lets_a_slow_request_finish() {
    let (be, _seen) = backend(|_| async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        Answer::new(200, "late")
    })
    .await;
    let mut gw = Gripway::start(&["--route", &format!("* {be}")]).await;
    let addr = gw.addr();
    let slow = tokio::spawn(async move { get(addr, "/", "").await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = gw.terminate().await;
    assert!(status.success(), "{status:?}");
    assert_eq!(split(&slow.await.unwrap()).1, "late");
}

#[tokio::test]
async fn aco_routes_get_cors_headers() {
    let (be, _seen) = backend(|_| async { Answer::new(200, "x").header("X-Custom", "1") }).await;
    let gw = Gripway::start(&["--route", &format!("*,aco {be}")]).await;
    let reply = get(gw.addr(), "/", "Origin: http://app.test\r\n").await;
    let head = split(&reply).0;
    assert!(
        head.contains("Access-Control-Allow-Origin: http://app.test"),
        "{head}"
    );
    assert!(
        head.contains("Access-Control-Allow-Credentials: true"),
        "{head}"
    );
    assert!(head.contains("Access-Control-Max-Age: 3600"), "{head}");
    assert!(
        head.contains("Access-Control-Expose-Headers: x-custom, date"),
        "{head}"
    );
}
