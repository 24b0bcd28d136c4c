//! The built-in `test` backend (§8), as Pushpin's test handler answers (checked against 1.36):
//! `/` says hello, `/response` holds a long-poll and `/stream` a stream on the channel named by
//! `?channel=` (default `test`; a held response times out with `nothing for now`), anything else is 404. Its GRIP answers go through the same
//! instruct path as a real backend's, so the default configuration exercises real holds.

use bytes::Bytes;
use protocol::grip;
use protocol::Headers;

/// The test backend's answer to `path_and_query`.
pub fn respond(path_and_query: &str) -> grip::Response {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let channel = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("channel="))
        .filter(|c| !c.is_empty())
        .unwrap_or("test");
    match path {
        "/" => text(200, "Hello from the Pushpin test handler!\n", &[]),
        "/response" => text(
            200,
            "nothing for now\n",
            &[("Grip-Hold", "response"), ("Grip-Channel", channel)],
        ),
        "/stream" => text(
            200,
            "[stream opened]\n",
            &[("Grip-Hold", "stream"), ("Grip-Channel", channel)],
        ),
        _ => text(404, "no such test resource\n", &[]),
    }
}

fn text(code: u16, body: &'static str, grip: &[(&'static str, &str)]) -> grip::Response {
    let mut headers = Headers::new();
    headers.push("Content-Type", "text/plain");
    for (name, value) in grip {
        headers.push(*name, Bytes::copy_from_slice(value.as_bytes()));
    }
    grip::Response {
        code,
        reason: Bytes::from_static(crate::frontend::response::reason_phrase(code).as_bytes()),
        headers,
        body: Bytes::from_static(body.as_bytes()),
    }
}
