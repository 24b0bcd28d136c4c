//! JSON-P through the real binary (§6.8), for what the differential scenarios cannot show:
//! gripway's refusal of unsafe callback names, held responses, and the size bound.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::time::Duration;

use support::holds::{open, publish, read_all, start};
use support::{backend, get, split, Answer};

#[tokio::test]
async fn a_callback_that_is_not_a_function_reference_is_refused() {
    let (be, _seen) = backend(|_| async { Answer::new(200, "x") }).await;
    let (gw, _api) = start(&[format!("*,aco {be}")]).await;
    // Pushpin 1.36 writes these out verbatim, which lets a link run script in the page.
    for callback in [
        "bad%20name",
        "alert(1)%3Bcb",
        "cb%3C%2Fscript%3E",
        "%E2%80%A8",
    ] {
        let reply = get(gw.addr(), &format!("/?callback={callback}"), "").await;
        let (head, body) = split(&reply);
        assert!(head.starts_with("HTTP/1.1 400 "), "{callback}: {head}");
        assert_eq!(body, "Invalid callback parameter.\n");
        assert!(head.contains("Access-Control-Allow-Origin: *"), "{head}");
    }
}

#[tokio::test]
async fn the_backend_gets_the_method_body_and_headers_the_call_asks_for() {
    let (be, mut seen) = backend(|_| async { Answer::new(200, "ok") }).await;
    let (gw, _api) = start(&[format!("*,aco {be}")]).await;
    let headers = "%7B%22X-Extra%22%3A%22yes%22%2C%22Host%22%3A%22evil.test%22%7D";
    let reply = get(
        gw.addr(),
        &format!("/api?a=1&callback=cb&_method=PATCH&_body=%7B%7D&_headers={headers}"),
        "",
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
    let request = seen.recv().await.unwrap();
    assert_eq!(request.method, "PATCH");
    assert_eq!(request.path, "/api?a=1");
    assert_eq!(&request.body[..], b"{}");
    assert_eq!(request.header("x-extra"), Some("yes"));
    assert_eq!(request.header("host"), Some("example.com"));
}

#[tokio::test]
async fn a_held_response_is_delivered_as_script() {
    let (be, mut seen) = backend(|_| async {
        Answer::new(200, "timeout\n")
            .header("Grip-Hold", "response")
            .header("Grip-Channel", "jp")
            .header("Content-Type", "text/plain")
    })
    .await;
    let (gw, api) = start(&[format!("*,aco {be}")]).await;
    let mut client = open(gw.addr(), "/poll?callback=cb", &mut seen).await;
    let item = r#"{"items":[{"channel":"jp","formats":{"http-response":{"code":201,"reason":"Made","headers":{"X-P":"2"},"body":"pub\n"}}}]}"#;
    assert!(publish(api, item).await.starts_with("HTTP/1.1 200"));
    let reply = read_all(&mut client, Duration::from_secs(5)).await;
    let (head, body) = split(&reply);
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(
        head.contains("Content-Type: application/javascript"),
        "{head}"
    );
    assert!(
        !head.contains("X-P"),
        "published headers go inside the script: {head}"
    );
    let call = script_argument(body, "cb");
    assert_eq!(call["code"], 201);
    assert_eq!(call["reason"], "Made");
    assert_eq!(call["body"], "pub\n");
    let headers = call["headers"].as_object().unwrap();
    let field = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str().unwrap().to_owned())
    };
    assert_eq!(field("x-p").as_deref(), Some("2"));
    assert_eq!(field("content-type").as_deref(), Some("text/plain"));
    assert_eq!(field("content-length").as_deref(), Some("4"));
}

/// The JSON value a JSON-P script passes to `callback`.
fn script_argument(script: &str, callback: &str) -> serde_json::Value {
    let json = script
        .strip_prefix(&format!("/**/{callback}("))
        .and_then(|rest| rest.strip_suffix(");\n"))
        .unwrap_or_else(|| panic!("not a call of {callback}: {script}"));
    serde_json::from_str(json).unwrap()
}

#[tokio::test]
async fn a_held_response_that_times_out_is_delivered_as_script() {
    let (be, mut seen) = backend(|_| async {
        Answer::new(200, "timeout\n")
            .header("Grip-Hold", "response")
            .header("Grip-Channel", "jp-t")
            .header("Grip-Timeout", "1")
    })
    .await;
    let (gw, _api) = start(&[format!("*,aco {be}")]).await;
    let mut client = open(gw.addr(), "/poll?callback=cb", &mut seen).await;
    let reply = read_all(&mut client, Duration::from_secs(10)).await;
    let (head, body) = split(&reply);
    assert!(
        head.contains("Content-Type: application/javascript"),
        "{head}"
    );
    let call = script_argument(body, "cb");
    assert_eq!(
        (&call["code"], &call["body"]),
        (&200.into(), &"timeout\n".into())
    );
}

#[tokio::test]
async fn a_response_too_large_to_wrap_is_an_error() {
    let big = "x".repeat(1_000_001);
    let (be, _seen) = backend(move |_| {
        let big = big.clone();
        async move { Answer::new(200, big) }
    })
    .await;
    let (gw, _api) = start(&[format!("*,aco {be}")]).await;
    let reply = get(gw.addr(), "/?callback=cb", "").await;
    let (head, body) = split(&reply);
    assert!(head.starts_with("HTTP/1.1 500 "), "{head}");
    assert_eq!(body, "Upstream response could not be JSON-P encoded.\n");
}

#[tokio::test]
async fn routes_without_aco_pass_the_callback_to_the_backend() {
    let (be, mut seen) = backend(|_| async { Answer::new(200, "plain") }).await;
    let (gw, _api) = start(&[format!("* {be}")]).await;
    let reply = get(gw.addr(), "/?callback=cb", "").await;
    assert_eq!(split(&reply).1, "plain");
    assert_eq!(seen.recv().await.unwrap().path, "/?callback=cb");
}
