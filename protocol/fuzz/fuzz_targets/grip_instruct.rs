//! Any bytes as a backend response: `CODE\nName: value\n…\n\nbody` (a first line that is not a
//! number means 200). Parsing must not panic, and what parses must render to responses that
//! parse to the same instructions.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use protocol::grip::{is_grip, Instruct, Response};
use protocol::Headers;

fuzz_target!(|data: &[u8]| {
    let response = response(data);
    let _ = is_grip(&response.headers);
    if let Ok(parsed) = Instruct::parse(response) {
        for rendered in [parsed.to_response(), parsed.to_json_response()].into_iter().flatten() {
            assert_eq!(Instruct::parse(rendered).as_ref(), Ok(&parsed));
        }
    }
});

fn response(data: &[u8]) -> Response {
    let input = Bytes::copy_from_slice(data);
    let split = data.windows(2).position(|w| w == b"\n\n");
    let (head, body) = match split {
        Some(at) => (input.slice(..at), input.slice(at + 2..)),
        None => (input.clone(), Bytes::new()),
    };
    let mut lines = head.split(|&b| b == b'\n');
    let first = lines.next().unwrap_or_default();
    let code = std::str::from_utf8(first).ok().and_then(|s| s.trim().parse().ok());
    let mut headers = Headers::new();
    let fields = if code.is_some() { None } else { Some(first) };
    for line in fields.into_iter().chain(lines) {
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let value = &line[colon + 1..];
            let value = value.strip_prefix(b" ").unwrap_or(value);
            headers.push(head.slice_ref(&line[..colon]), head.slice_ref(value));
        }
    }
    Response {
        code: code.unwrap_or(200),
        headers,
        body,
        ..Response::default()
    }
}
