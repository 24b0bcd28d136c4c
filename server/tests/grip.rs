//! GRIP through the real binary: response and stream holds fed by the HTTP publish API,
//! instructions from headers and from grip-instruct bodies, Grip-Status, errors, the test backend.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::time::{Duration, Instant};

use support::holds::{open, publish, read_all, read_until, start, start_with};
use support::{backend, get, raw, split, Answer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn response_hold_gets_the_published_response_laid_over_the_timeout_response() {
    let (be, mut seen) = backend(|_| async {
        Answer::new(200, "timeout body\n")
            .header("Grip-Hold", "response")
            .header("Grip-Channel", "c1")
            .header("X-Foo", "bar")
            .header("Content-Type", "text/plain")
    })
    .await;
    let (gw, api) = start(&[format!("* {be}")]).await;
    let mut client = open(gw.addr(), "/poll", &mut seen).await;
    let reply = publish(api, r#"{"items":[{"channel":"c1","formats":{"http-response":{"code":201,"headers":{"X-Pub":"1"},"body":"published\n"}}}]}"#).await;
    assert!(
        reply.starts_with("HTTP/1.1 200 OK\r\n") && reply.ends_with("Published\n"),
        "{reply}"
    );
    let got = read_all(&mut client, Duration::from_secs(5)).await;
    let (head, body) = split(&got);
    assert!(head.starts_with("HTTP/1.1 201 Created\r\n"), "{got}");
    assert!(
        head.contains("x-foo: bar")
            && head.contains("X-Pub: 1")
            && head.contains("content-type: text/plain"),
        "{head}"
    );
    assert!(!head.to_ascii_lowercase().contains("grip-"), "{head}");
    assert_eq!(body, "published\n");
}

#[tokio::test]
async fn response_hold_times_out_with_the_timeout_response() {
    let (be, mut seen) = backend(|_| async {
        // 1 s is raised to Pushpin's minimum of 5 s.
        Answer::new(200, "nothing yet\n")
            .header("Grip-Hold", "response")
            .header("Grip-Channel", "quiet")
            .header("Grip-Timeout", "1")
    })
    .await;
    let (gw, _api) = start(&[format!("* {be}")]).await;
    let started = Instant::now();
    let mut client = open(gw.addr(), "/", &mut seen).await;
    let got = read_all(&mut client, Duration::from_secs(10)).await;
    let waited = started.elapsed();
    assert_eq!(split(&got).1, "nothing yet\n", "{got}");
    assert!(
        waited >= Duration::from_millis(4500),
        "timeout raised to 5 s, took {waited:?}"
    );
}

#[tokio::test]
async fn stream_hold_streams_publishes_until_close() {
    let (be, mut seen) = backend(|_| async {
        Answer::new(200, "stream open\n")
            .header("Grip-Hold", "stream")
            .header("Grip-Channel", "s1, s2")
            .header("Content-Type", "text/event-stream")
            .header("Content-Length", "12")
    })
    .await;
    let (gw, api) = start(&[format!("* {be}")]).await;
    let mut client = open(gw.addr(), "/stream", &mut seen).await;
    let head = read_until(&mut client, "stream open\n", Duration::from_secs(5)).await;
    assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("content-length"),
        "{head}"
    );
    assert!(head.ends_with("c\r\nstream open\n\r\n"), "{head}");
    publish(
        api,
        r#"{"items":[{"channel":"s1","formats":{"http-stream":{"content":"data: one\n\n"}}}]}"#,
    )
    .await;
    assert!(read_until(&mut client, "data: one", Duration::from_secs(5))
        .await
        .ends_with("b\r\ndata: one\n\n\r\n"));
    publish(
        api,
        r#"{"items":[{"channel":"s2","formats":{"http-stream":{"content":"data: two\n\n"}}}]}"#,
    )
    .await;
    assert!(read_until(&mut client, "data: two", Duration::from_secs(5))
        .await
        .contains("data: two"));
    publish(
        api,
        r#"{"items":[{"channel":"s1","formats":{"http-stream":{"action":"close"}}}]}"#,
    )
    .await;
    assert_eq!(
        read_all(&mut client, Duration::from_secs(5)).await,
        "0\r\n\r\n"
    );
}

#[tokio::test]
async fn stream_keep_alives_are_sent_while_idle() {
    let (be, mut seen) = backend(|_| async {
        Answer::new(200, "")
            .header("Grip-Hold", "stream")
            .header("Grip-Channel", "ka")
            .header("Grip-Keep-Alive", "ping\\n; format=cstring; timeout=1")
    })
    .await;
    let (gw, _api) = start(&[format!("* {be}")]).await;
    let mut client = open(gw.addr(), "/", &mut seen).await;
    let got = read_until(
        &mut client,
        "5\r\nping\n\r\n5\r\nping\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(
        got.contains("5\r\nping\n\r\n5\r\nping\n\r\n"),
        "two keep-alives within 5 s: {got}"
    );
}

#[tokio::test]
async fn grip_status_without_hold_answers_at_once() {
    let (be, _seen) =
        backend(|_| async { Answer::new(200, "gone\n").header("Grip-Status", "404 Custom") }).await;
    let (gw, _api) = start(&[format!("* {be}")]).await;
    let got = get(gw.addr(), "/", "").await;
    assert!(got.starts_with("HTTP/1.1 404 Custom\r\n"), "{got}");
    assert_eq!(split(&got).1, "gone\n");
}

#[tokio::test]
async fn grip_instruct_body_replaces_the_backends_response() {
    let body = r#"{"hold":{"mode":"response","channels":[{"name":"j1"}],"timeout":55},"response":{"code":200,"headers":{"X-A":"1"},"body":"json timeout\n"}}"#;
    let (be, mut seen) = backend(move |_| async move {
        Answer::new(200, body)
            .header("Content-Type", "application/grip-instruct")
            .header("X-Dropped", "1")
    })
    .await;
    let (gw, api) = start(&[format!("* {be}")]).await;
    let mut client = open(gw.addr(), "/", &mut seen).await;
    publish(
        api,
        r#"{"items":[{"channel":"j1","formats":{"http-response":{"body":"via json\n"}}}]}"#,
    )
    .await;
    let got = read_all(&mut client, Duration::from_secs(5)).await;
    let (head, body) = split(&got);
    assert_eq!(body, "via json\n");
    assert!(
        head.contains("X-A: 1") && !head.contains("x-dropped"),
        "{head}"
    );
}

#[tokio::test]
async fn bad_instructions_give_502_with_pushpins_debug_text() {
    let (be, _seen) =
        backend(|_| async { Answer::new(200, "").header("Grip-Hold", "forever") }).await;
    let (gw, _api) = start(&[format!("* {be}"), format!("debug.test,debug {be}")]).await;
    let got = get(gw.addr(), "/", "").await;
    assert!(got.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{got}");
    assert_eq!(split(&got).1, "Error while proxying to origin.\n");
    let got = raw(
        gw.addr(),
        b"GET / HTTP/1.1\r\nHost: debug.test\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(
        split(&got).1,
        "Failed to parse accept instructions: Grip-Hold must be set to either 'response' or 'stream'\n"
    );
}

#[tokio::test]
async fn route_prefix_applies_to_channels() {
    let (be, mut seen) = backend(|_| async {
        Answer::new(200, "t\n")
            .header("Grip-Hold", "response")
            .header("Grip-Channel", "news")
    })
    .await;
    let (gw, api) = start(&[format!("*,prefix=app1_ {be}")]).await;
    let mut client = open(gw.addr(), "/", &mut seen).await;
    publish(
        api,
        r#"{"items":[{"channel":"news","formats":{"http-response":{"body":"unprefixed\n"}}}]}"#,
    )
    .await;
    publish(
        api,
        r#"{"items":[{"channel":"app1_news","formats":{"http-response":{"body":"prefixed\n"}}}]}"#,
    )
    .await;
    assert_eq!(
        split(&read_all(&mut client, Duration::from_secs(5)).await).1,
        "prefixed\n"
    );
}

#[tokio::test]
async fn test_backend_holds_on_its_channel() {
    let (gw, api) = start(&["* test".to_string()]).await;
    assert_eq!(
        split(&get(gw.addr(), "/", "").await).1,
        "Hello from the Pushpin test handler!\n"
    );
    assert!(get(gw.addr(), "/nope", "")
        .await
        .starts_with("HTTP/1.1 404 Not Found\r\n"));
    let mut client = TcpStream::connect(gw.addr()).await.unwrap();
    client
        .write_all(b"GET /stream HTTP/1.1\r\nHost: h\r\n\r\n")
        .await
        .unwrap();
    assert!(
        read_until(&mut client, "[stream opened]\n", Duration::from_secs(5))
            .await
            .contains("10\r\n[stream opened]\n\r\n")
    );
    publish(
        api,
        r#"{"items":[{"channel":"test","formats":{"http-stream":{"content":"hello\n"}}}]}"#,
    )
    .await;
    assert!(read_until(&mut client, "hello", Duration::from_secs(5))
        .await
        .contains("6\r\nhello\n\r\n"));
}

#[tokio::test]
async fn publish_api_statuses_and_texts_match_pushpin() {
    let (_gw, api) = start(&["* test".to_string()]).await;
    let get_root = raw(
        api,
        b"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(split(&get_root).1, "Pushpin API\n");
    assert!(get_root.contains("Connection: close"), "{get_root}");
    let cases: &[(&str, &str, &str)] = &[
        ("GET /publish HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 405 Method Not Allowed", "Method not allowed: GET.\n"),
        ("POST /publish/ HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "HTTP/1.1 411 Length Required", "Request requires Content-Length.\n"),
        ("POST /publish/ HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\n{", "HTTP/1.1 400 Bad Request", "Body is not valid JSON.\n"),
        ("POST /publish/ HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n[]", "HTTP/1.1 400 Bad Request", "Invalid format.\n"),
        ("POST /publish/ HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}", "HTTP/1.1 400 Bad Request", "Invalid format: object does not contain 'items'\n"),
        ("POST /publish/ HTTP/1.1\r\nHost: h\r\nAccept: image/png\r\nContent-Length: 2\r\n\r\n{}", "HTTP/1.1 406 Not Acceptable", "Not Acceptable. Supported formats are text/plain and application/json.\n"),
        ("GET /nope HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 404 Not Found", "Not Found\n"),
    ];
    for (req, status, body) in cases {
        let got = raw(api, req.as_bytes(), Duration::from_secs(5)).await;
        assert!(got.starts_with(status), "{req:?} -> {got}");
        assert_eq!(split(&got).1, *body, "{req:?}");
    }
    let json = r#"{"items":[{"channel":"c","formats":{"http-stream":{"content":"x"}}}]}"#;
    let req = format!("POST /publish HTTP/1.1\r\nHost: h\r\nAccept: text/plain, application/json\r\nContent-Length: {}\r\n\r\n{json}", json.len());
    assert_eq!(
        split(&raw(api, req.as_bytes(), Duration::from_secs(5)).await).1,
        "{\"message\":\"Published\"}\n"
    );
}

#[tokio::test]
async fn a_bad_item_rejects_the_whole_batch() {
    let (be, mut seen) = backend(|_| async {
        Answer::new(200, "t\n")
            .header("Grip-Hold", "response")
            .header("Grip-Channel", "batch")
    })
    .await;
    let (gw, api) = start(&[format!("* {be}")]).await;
    let mut client = open(gw.addr(), "/", &mut seen).await;
    let reply = publish(api, r#"{"items":[{"channel":"batch","formats":{"http-response":{"body":"first\n"}}},{"formats":{"http-response":{"body":"no channel"}}}]}"#).await;
    assert_eq!(
        split(&reply).1,
        "Invalid format: publish item object does not contain 'channel'\n"
    );
    // Nothing was delivered: the valid first item is published once the batch is fixed.
    publish(
        api,
        r#"{"items":[{"channel":"batch","formats":{"http-response":{"body":"resent\n"}}}]}"#,
    )
    .await;
    assert_eq!(
        split(&read_all(&mut client, Duration::from_secs(5)).await).1,
        "resent\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_clients_leave_nothing_subscribed() {
    let (mut gw, api) = start(&["* test".to_string()]).await;
    let mut clients = Vec::with_capacity(10_000);
    for chunk in 0..50 {
        let opened: Vec<_> = (0..200)
            .map(|i| {
                let addr = gw.addr();
                tokio::spawn(async move {
                    let mut sock = TcpStream::connect(addr).await.unwrap();
                    let path = format!("/stream?channel=leak{}", (chunk * 200 + i) % 100);
                    sock.write_all(format!("GET {path} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes())
                        .await
                        .unwrap();
                    let opened =
                        read_until(&mut sock, "[stream opened]", Duration::from_secs(10)).await;
                    assert!(opened.contains("[stream opened]"), "{opened}");
                    sock
                })
            })
            .collect();
        for task in opened {
            clients.push(task.await.unwrap());
        }
    }
    assert_eq!(clients.len(), 10_000);
    // Every stream is live: a publish to one channel reaches its 100 subscribers.
    publish(
        api,
        r#"{"items":[{"channel":"leak7","formats":{"http-stream":{"content":"ping\n"}}}]}"#,
    )
    .await;
    let mut pinged = 0;
    for (i, sock) in clients.iter_mut().enumerate().filter(|(i, _)| i % 100 == 7) {
        let got = read_until(sock, "ping", Duration::from_secs(5)).await;
        assert!(got.contains("ping"), "client {i}: {got}");
        pinged += 1;
    }
    assert_eq!(pinged, 100);
    drop(clients);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = gw.terminate().await;
    assert!(status.success());
    let log = gw.log();
    assert!(log.contains("channels=0 subscribers=0 dropped=0"), "{log}");
}

#[tokio::test]
async fn message_rate_paces_deliveries_and_message_hwm_drops_the_excess() {
    // 10 per second lets one delivery go at once (a 10 ms tick's worth, at least one); five may
    // wait for their turn, so of ten subscribers four miss the message.
    let (mut gw, api) =
        start_with(&["* test".to_string()], "message_rate=10\nmessage_hwm=5\n").await;
    let mut clients = Vec::new();
    for _ in 0..10 {
        let mut sock = TcpStream::connect(gw.addr()).await.unwrap();
        sock.write_all(b"GET /stream?channel=paced HTTP/1.1\r\nHost: h\r\n\r\n")
            .await
            .unwrap();
        let opened = read_until(&mut sock, "[stream opened]", Duration::from_secs(5)).await;
        assert!(opened.contains("[stream opened]"), "{opened}");
        clients.push(sock);
    }
    publish(
        api,
        r#"{"items":[{"channel":"paced","formats":{"http-stream":{"content":"tick\n"}}}]}"#,
    )
    .await;
    let mut received = 0;
    for sock in &mut clients {
        if read_until(sock, "tick", Duration::from_secs(1))
            .await
            .contains("tick")
        {
            received += 1;
        }
    }
    assert_eq!(received, 6);
    drop(clients);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(gw.terminate().await.success());
    let log = gw.log();
    assert!(log.contains("exceeded publish hwm"), "{log}");
    assert!(log.contains("over_hwm=4"), "{log}");
}

#[tokio::test]
async fn a_burst_of_publishes_arrives_whole_and_in_order() {
    // Items that queue up together are written together; the chunk framing must stay exact.
    let (gw, api) = start(&["* test".to_string()]).await;
    let mut sock = TcpStream::connect(gw.addr()).await.unwrap();
    sock.write_all(b"GET /stream?channel=burst HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    // Up to the end of the first chunk, so what follows starts at a chunk boundary.
    let opened = read_until(&mut sock, "[stream opened]\n\r\n", Duration::from_secs(5)).await;
    assert!(opened.ends_with("[stream opened]\n\r\n"), "{opened}");
    let items: Vec<String> = (0..80)
        .map(|i| {
            format!(r#"{{"channel":"burst","formats":{{"http-stream":{{"content":"m{i}\n"}}}}}}"#)
        })
        .chain([r#"{"channel":"burst","formats":{"http-stream":{"action":"close"}}}"#.to_string()])
        .collect();
    publish(api, &format!(r#"{{"items":[{}]}}"#, items.join(","))).await;
    let rest = read_all(&mut sock, Duration::from_secs(5)).await;
    let body = dechunk(rest.as_bytes());
    let expected: String = (0..80).map(|i| format!("m{i}\n")).collect();
    assert_eq!(body, expected);
}

/// The body of a chunked stream, checking every chunk's framing; panics on a malformed one.
fn dechunk(mut raw: &[u8]) -> String {
    let mut out = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..line_end]).unwrap(), 16)
            .expect("hex chunk size");
        raw = &raw[line_end + 2..];
        if size == 0 {
            assert_eq!(raw, b"\r\n", "last chunk");
            return String::from_utf8(out).unwrap();
        }
        out.extend_from_slice(&raw[..size]);
        assert_eq!(&raw[size..size + 2], b"\r\n", "chunk end");
        raw = &raw[size + 2..];
    }
}
