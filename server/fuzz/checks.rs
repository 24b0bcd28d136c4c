//! The checks behind every fuzz target of the server crate, shared with
//! `server/tests/fuzz_corpus.rs`, which replays the committed corpora on stable: each function
//! takes any bytes and panics only on a real bug (a parser panic, a broken limit, or a property
//! that does not hold).
//!
//! Targets that need more than one input split theirs at NUL bytes ([`fields`]); the last field
//! keeps any further NULs.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fmt::Write as _;

use bytes::{Bytes, BytesMut};
use gripway::backend::http1::response::{self, Framing};
use gripway::config::routes::Jsonp as JsonpSettings;
use gripway::config::routes::{HostMatch, Proto, Route, Target, TargetKind, MAX_ROUTES};
use gripway::config::{ConfigError, Routes, Settings};
use gripway::frontend::body::{BodyDecoder, BodyError, Decoded, MAX_CHUNK_LINE, MAX_TRAILERS};
use gripway::frontend::request::{self, BodyFraming, HeadError, Version, MAX_HEADERS};
use gripway::proxy::jsonp::{self, Callback, JsonpError, Response};
use gripway::session::filters::{FilterError, Filters};
use protocol::grip::Channel;
use protocol::publish::Item;
use protocol::Headers;

/// `data` split at NUL bytes into `N` fields; missing fields are empty, the last keeps the rest.
fn fields<const N: usize>(data: &[u8]) -> [&[u8]; N] {
    let mut out = [&[][..]; N];
    let mut parts = data.splitn(N, |&b| b == 0);
    for slot in out.iter_mut() {
        match parts.next() {
            Some(part) => *slot = part,
            None => break,
        }
    }
    out
}

/// Text as a config or routes file would be read (lossy: the files are read as UTF-8).
fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

fn is_token(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b))
}

/// A header value a proxy may pass on: no line breaks, no NUL.
fn is_field_value(v: &[u8]) -> bool {
    !v.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0)
}

// ---------------------------------------------------------------------------------------------
// frontend::request

/// Any bytes after a first byte that picks the head limit (32 to 8192 bytes): parsing must not
/// panic, must respect the limit (never asking for more bytes once `max` are buffered, never
/// accepting a longer head), must report a complete head at no shorter prefix, must keep the
/// field count within [`MAX_HEADERS`] and the fields free of line breaks, and the head must
/// re-encode to bytes that parse to the same head.
pub fn request_head(data: &[u8]) {
    let Some((&limit, buf)) = data.split_first() else {
        return;
    };
    let max = (usize::from(limit) + 1) * 32;
    match request::parse(buf, max) {
        Ok(None) => assert!(
            buf.len() < max,
            "waits for more with {} buffered",
            buf.len()
        ),
        Err(HeadError::TooLarge) => assert!(buf.len() >= max, "too large at {}", buf.len()),
        Err(e) => assert!(e.status() == 400 || e.status() == 431, "{e:?}"),
        Ok(Some((head, len))) => {
            assert!(len <= max && len <= buf.len(), "len {len} max {max}");
            assert!(head.headers.len() <= MAX_HEADERS);
            assert!(is_token(&head.method), "method {:?}", head.method);
            assert!(!head.target.is_empty());
            assert!(!head.target.iter().any(|b| b.is_ascii_whitespace()));
            for (name, value) in head.headers.iter() {
                assert!(is_token(name), "name {name:?}");
                assert!(is_field_value(value), "value {value:?}");
            }
            match head.framing {
                BodyFraming::Empty => {}
                BodyFraming::Length(n) => {
                    assert!(n > 0);
                    assert!(!head.headers.contains("transfer-encoding"));
                }
                BodyFraming::Chunked => {
                    assert_eq!(head.version, Version::Http11);
                    assert!(!head.headers.contains("content-length"));
                }
            }
            // Read in pieces, the head is found at the same place: no prefix completes it.
            for k in prefixes(len) {
                match request::parse(&buf[..k], max) {
                    Ok(None) => {}
                    other => panic!("prefix {k} of {len}: {other:?}"),
                }
            }
            // The head alone parses to the same head.
            let (again, again_len) = request::parse(&buf[..len], max).unwrap().unwrap();
            assert_eq!(again_len, len);
            assert_same_request(&head, &again);

            // Written back out canonically, it parses to the same head.
            let mut out = Vec::new();
            out.extend_from_slice(&head.method);
            out.push(b' ');
            out.extend_from_slice(&head.target);
            out.extend_from_slice(match head.version {
                Version::Http10 => b" HTTP/1.0\r\n",
                Version::Http11 => b" HTTP/1.1\r\n",
            });
            for (name, value) in head.headers.iter() {
                out.extend_from_slice(name);
                out.extend_from_slice(b": ");
                out.extend_from_slice(value);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"\r\n");
            let (again, again_len) = request::parse(&out, usize::MAX).unwrap().unwrap();
            assert_eq!(again_len, out.len());
            assert_same_request(&head, &again);
        }
    }
}

fn assert_same_request(a: &request::RequestHead, b: &request::RequestHead) {
    assert_eq!(a.method, b.method);
    assert_eq!(a.target, b.target);
    assert_eq!(a.version, b.version);
    assert_eq!(a.headers, b.headers);
    assert_eq!(a.framing, b.framing);
    assert_eq!(a.keep_alive, b.keep_alive);
    assert_eq!(a.expect_continue, b.expect_continue);
    assert_eq!(a.websocket, b.websocket);
}

/// Up to 40 prefix lengths below `len`: evenly spread, plus the last few.
fn prefixes(len: usize) -> Vec<usize> {
    let mut ks: Vec<usize> = (0..32).map(|i| len * i / 32).collect();
    ks.extend((1..=8).filter_map(|d| len.checked_sub(d)));
    ks.retain(|&k| k < len);
    ks.sort_unstable();
    ks.dedup();
    ks
}

// ---------------------------------------------------------------------------------------------
// frontend::body

/// What decoding a whole input gave.
#[derive(Debug, PartialEq, Eq)]
struct BodyOutcome {
    /// The body data, pieces joined.
    data: Vec<u8>,
    /// `Ok(true)`: the body ended; `Ok(false)`: the decoder wants more.
    end: Result<bool, BodyError>,
    /// What the decoder left unread (the next request's bytes, or a partial line).
    leftover: Vec<u8>,
}

/// Feeds `input` to a decoder in pieces of the sizes `cuts` cycles through (0 = whole).
fn decode_in_pieces(framing: BodyFraming, input: &[u8], cuts: &[usize]) -> BodyOutcome {
    let mut decoder = BodyDecoder::new(framing);
    let mut buf = BytesMut::new();
    let mut data = Vec::new();
    let mut rest = input;
    let mut cut = cuts.iter().copied().cycle();
    let mut calls = 0usize;
    loop {
        // Decode what is buffered.
        let end = loop {
            calls += 1;
            assert!(
                calls <= 4 * input.len() + 16,
                "the decoder makes no progress"
            );
            match decoder.decode(&mut buf) {
                Ok(Decoded::Data(piece)) => {
                    assert!(!piece.is_empty(), "an empty data piece");
                    data.extend_from_slice(&piece);
                }
                Ok(Decoded::NeedMore) => break None,
                Ok(Decoded::Done) => break Some(Ok(true)),
                Err(e) => break Some(Err(e)),
            }
        };
        if let Some(end) = end {
            if end == Ok(true) {
                assert!(decoder.is_done());
            }
            buf.extend_from_slice(rest);
            return BodyOutcome {
                data,
                end,
                leftover: buf.to_vec(),
            };
        }
        assert!(!decoder.is_done());
        if rest.is_empty() {
            return BodyOutcome {
                data,
                end: Ok(false),
                leftover: buf.to_vec(),
            };
        }
        let n = match cut.next().unwrap_or(0) {
            0 => rest.len(),
            n => n.min(rest.len()),
        };
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
    }
}

/// Decodes `input` whole, byte by byte and in pieces chosen by `seed`; asserts every way gives
/// the same outcome and that the decoder's limits and framing hold. Returns the outcome.
fn check_body(framing: BodyFraming, input: &[u8], seed: u8) -> BodyOutcome {
    let whole = decode_in_pieces(framing, input, &[0]);
    let bytewise = decode_in_pieces(framing, input, &[1]);
    assert_eq!(whole, bytewise, "whole vs byte by byte");
    let cuts = [usize::from(seed % 13) + 1, usize::from(seed / 13) + 1];
    let pieces = decode_in_pieces(framing, input, &cuts);
    assert_eq!(whole, pieces, "whole vs pieces {cuts:?}");

    assert!(whole.data.len() + whole.leftover.len() <= input.len());
    match framing {
        BodyFraming::Empty => {
            assert_eq!(whole.end, Ok(true));
            assert_eq!(whole.leftover, input);
        }
        BodyFraming::Length(n) => {
            assert!(whole.data.len() as u64 <= n);
            assert_eq!(input[..whole.data.len()], whole.data[..]);
            match whole.end {
                Ok(true) => assert_eq!(whole.data.len() as u64, n),
                Ok(false) => assert_eq!(whole.data.len(), input.len()),
                Err(e) => panic!("a length-delimited body failed: {e:?}"),
            }
        }
        BodyFraming::Chunked => {
            // Waiting for more holds at most one unfinished line.
            if whole.end == Ok(false) {
                assert!(
                    whole.leftover.len() <= MAX_CHUNK_LINE.max(MAX_TRAILERS) + 1,
                    "holds {} bytes",
                    whole.leftover.len()
                );
            }
            // A complete body re-encodes as one chunk to the same data.
            if whole.end == Ok(true) {
                let mut again = format!("{:x}\r\n", whole.data.len()).into_bytes();
                if whole.data.is_empty() {
                    again.clear();
                } else {
                    again.extend_from_slice(&whole.data);
                    again.extend_from_slice(b"\r\n");
                }
                again.extend_from_slice(b"0\r\n\r\n");
                let re = decode_in_pieces(BodyFraming::Chunked, &again, &[0]);
                assert_eq!(re.end, Ok(true));
                assert_eq!(re.data, whole.data);
                assert!(re.leftover.is_empty());
            }
        }
    }
    whole
}

/// A first byte picking the framing (`Empty`, a 16-bit `Content-Length`, a huge one, or
/// chunked), a byte choosing how to cut the input, then the body bytes: decoding must not
/// panic or stall, must give the same data, end and leftover however the input is cut, and
/// must keep its limits.
pub fn request_body(data: &[u8]) {
    let (framing, rest) = match data {
        [0, ..] | [] => (BodyFraming::Empty, data.get(1..).unwrap_or_default()),
        [1, a, b, rest @ ..] => (
            BodyFraming::Length(u64::from(u16::from_le_bytes([*a, *b]))),
            rest,
        ),
        [2, shift, rest @ ..] => (BodyFraming::Length(u64::MAX >> (shift % 64)), rest),
        [_, rest @ ..] => (BodyFraming::Chunked, rest),
    };
    let Some((&seed, input)) = rest.split_first() else {
        return;
    };
    check_body(framing, input, seed);
}

// ---------------------------------------------------------------------------------------------
// backend::http1::response

/// A first byte whose low bit says the request was `HEAD`, then what a backend sent: heads are
/// read as the exchange reads them (interim 1xx skipped), then the body as its framing says.
/// Parsing must not panic, must respect its limits, must find a head at no shorter prefix, keep
/// fields and reason free of line breaks, follow RFC 9112 §6.3's framing rules, re-encode to a
/// head that parses the same; the body must decode the same however it is cut.
pub fn response(data: &[u8]) {
    let Some((&flags, mut buf)) = data.split_first() else {
        return;
    };
    let head_request = flags & 1 == 1;
    let head = loop {
        match response::parse(buf, head_request) {
            Ok(None) => {
                assert!(buf.len() < response::MAX_HEAD);
                return;
            }
            Err(response::HeadError::TooLarge) => {
                assert!(buf.len() >= response::MAX_HEAD);
                return;
            }
            Err(_) => return,
            Ok(Some((head, len))) => {
                check_response_head(buf, &head, len, head_request);
                buf = &buf[len..];
                if !head.is_interim() {
                    break head;
                }
            }
        }
    };
    match head.framing {
        Framing::Empty | Framing::Close => {}
        Framing::Length(n) => {
            check_body(BodyFraming::Length(n), buf, flags);
        }
        Framing::Chunked => {
            check_body(BodyFraming::Chunked, buf, flags);
        }
    }
}

fn check_response_head(buf: &[u8], head: &response::Head, len: usize, head_request: bool) {
    assert!(len <= buf.len() && len <= response::MAX_HEAD);
    assert!(head.headers.len() <= response::MAX_HEADERS);
    assert!(head.code <= 999);
    assert!(is_field_value(&head.reason), "reason {:?}", head.reason);
    for (name, value) in head.headers.iter() {
        assert!(is_token(name), "name {name:?}");
        assert!(is_field_value(value), "value {value:?}");
    }
    let bodiless =
        head_request || (100..200).contains(&head.code) || matches!(head.code, 204 | 304);
    match head.framing {
        Framing::Empty => {}
        _ if bodiless => panic!("{} response has framing {:?}", head.code, head.framing),
        Framing::Length(n) => assert!(n > 0),
        Framing::Chunked => assert_eq!(head.version, response::Version::Http11),
        Framing::Close => assert!(!head.keep_alive),
    }
    if head.code == 101 {
        assert!(!head.keep_alive);
    }
    for k in prefixes(len) {
        match response::parse(&buf[..k], head_request) {
            Ok(None) => {}
            other => panic!("prefix {k} of {len}: {other:?}"),
        }
    }
    let (again, again_len) = response::parse(&buf[..len], head_request).unwrap().unwrap();
    assert_eq!((&again, again_len), (head, len));

    let mut out = match head.version {
        response::Version::Http10 => b"HTTP/1.0 ".to_vec(),
        response::Version::Http11 => b"HTTP/1.1 ".to_vec(),
    };
    out.extend_from_slice(format!("{:03} ", head.code).as_bytes());
    out.extend_from_slice(&head.reason);
    out.extend_from_slice(b"\r\n");
    for (name, value) in head.headers.iter() {
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    let (again, again_len) = response::parse(&out, head_request).unwrap().unwrap();
    assert_eq!((&again, again_len), (head, out.len()));
}

// ---------------------------------------------------------------------------------------------
// config

/// How many lines `text` has as the parsers count them (at least 1: errors may name line 1 of an
/// empty file).
fn line_count(text: &str) -> usize {
    text.lines().count().max(1)
}

fn assert_located(errors: &[ConfigError], file: &str, lines: usize) {
    for e in errors {
        assert_eq!(e.file, file);
        let line = e.line.unwrap_or_else(|| panic!("no line: {e}"));
        assert!((1..=lines).contains(&line), "line {line} of {lines}: {e}");
        assert!(e.to_string().starts_with(&format!("{file}:{line}: ")));
    }
}

/// `file:line: …` with the line within the file.
fn assert_place(message: &str, file: &str, lines: usize) -> usize {
    let rest = message
        .strip_prefix(file)
        .and_then(|r| r.strip_prefix(':'))
        .unwrap_or_else(|| panic!("{message:?} does not start with {file}:"));
    let line: usize = rest.split(':').next().unwrap().parse().unwrap();
    assert!(
        (1..=lines).contains(&line),
        "line {line} of {lines}: {message}"
    );
    line
}

/// Any bytes as `pushpin.conf`: parsing must not panic; it succeeds or gives typed errors, each
/// naming the file and a line within it; every unknown or unused key names its line too; and a
/// comment line put in front changes nothing but moving every line number by one.
pub fn settings(data: &[u8]) {
    const FILE: &str = "pushpin.conf";
    let text = text(data);
    let lines = line_count(&text);
    let shifted = Settings::parse(FILE, &format!("# moved\n{text}"));
    match Settings::parse(FILE, &text) {
        Err(errors) => {
            assert!(!errors.is_empty());
            assert_located(&errors, FILE, lines);
            let moved = shifted.unwrap_err();
            assert_eq!(moved, shift_lines(&errors));
        }
        Ok(parsed) => {
            assert_located(&parsed.errors, FILE, lines);
            for place in parsed.unknown.iter().chain(&parsed.unused) {
                assert_place(place, FILE, lines);
            }
            let moved = shifted.unwrap();
            assert_eq!(moved.settings, parsed.settings);
            assert_eq!(moved.errors, shift_lines(&parsed.errors));
            assert_eq!(moved.unknown.len(), parsed.unknown.len());
            assert_eq!(moved.unused.len(), parsed.unused.len());
            // Values the server relies on being usable.
            let s = &parsed.settings;
            assert!(!s.runner.tls_handshake_timeout.is_zero());
            assert!(!s.runner.client_head_timeout.is_zero());
        }
    }
}

fn shift_lines(errors: &[ConfigError]) -> Vec<ConfigError> {
    errors
        .iter()
        .map(|e| ConfigError {
            line: e.line.map(|l| l + 1),
            ..e.clone()
        })
        .collect()
}

/// Any bytes as a routes file: parsing must not panic; errors name the file and a line within
/// it; routes and warnings name their lines (in order, within the file); every rule has a
/// target; a blank line in front moves every line by one; and the table written back out
/// (values quoted, options in a fixed order) parses to the same table.
pub fn routes(data: &[u8]) {
    const FILE: &str = "routes";
    let text = text(data);
    let lines = line_count(&text);
    let shifted = Routes::parse(FILE, &format!("\n{text}"));
    let parsed = match Routes::parse(FILE, &text) {
        Err(errors) => {
            assert!(!errors.is_empty());
            assert_located(&errors, FILE, lines);
            let moved = shifted.unwrap_err();
            assert_eq!(moved.len(), errors.len());
            for (m, e) in moved.iter().zip(&errors) {
                assert_eq!(m.line, e.line.map(|l| l + 1));
                assert_eq!(m.message, e.message);
            }
            return;
        }
        Ok(parsed) => parsed,
    };
    assert!(parsed.routes.len() <= MAX_ROUTES);
    let mut last = 0;
    for route in &parsed.routes {
        assert!(
            route.line > last && route.line <= lines,
            "line {}",
            route.line
        );
        last = route.line;
        assert!(!route.targets.is_empty());
        assert!(route.path_beg.as_ref().is_none_or(|p| !p.is_empty()));
        if let Some(method) = &route.jsonp.default_method {
            assert!(is_token(method.as_bytes()), "jsonp_defmethod {method:?}");
        }
        if let HostMatch::Exact(host) = &route.host {
            assert!(!host.is_empty() && host != "*");
            assert_eq!(*host, host.to_ascii_lowercase());
        }
        for target in &route.targets {
            if let TargetKind::Http { port, .. } = target.kind {
                assert_ne!(port, 0);
            }
        }
    }
    for warning in &parsed.warnings {
        assert_place(warning, FILE, lines);
    }
    let moved = shifted.unwrap();
    assert_eq!(moved.routes.len(), parsed.routes.len());
    for (m, r) in moved.routes.iter().zip(&parsed.routes) {
        assert_eq!(m.line, r.line + 1);
        assert_eq!(
            Route {
                line: r.line,
                ..m.clone()
            },
            *r
        );
    }
    assert_eq!(moved.warnings.len(), parsed.warnings.len());

    let written = write_routes(&parsed.routes);
    let again = Routes::parse(FILE, &written)
        .unwrap_or_else(|e| panic!("written back {written:?} fails: {e:?}"));
    assert_eq!(again.routes, parsed.routes, "written back as {written:?}");
}

/// A routes file for `routes`, each rule on its own line number.
fn write_routes(routes: &[Route]) -> String {
    let mut out = String::new();
    let mut line = 1;
    for route in routes {
        while line < route.line {
            out.push('\n');
            line += 1;
        }
        out.push_str(&write_route(route));
        out.push('\n');
        line += 1;
    }
    out
}

fn quoted(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn write_route(r: &Route) -> String {
    let mut out = match &r.host {
        HostMatch::Any => "*".to_owned(),
        HostMatch::Exact(host) => quoted(host),
        HostMatch::IdOnly => "\"\"".to_owned(),
    };
    let mut opt = |name: &str, value: Option<&str>| {
        out.push(',');
        out.push_str(name);
        if let Some(v) = value {
            out.push('=');
            out.push_str(&quoted(v));
        }
    };
    let flags = [
        ("orig_headers", r.orig_headers),
        ("debug", r.debug),
        ("aco", r.aco),
        ("session", r.session),
        ("no_grip", r.no_grip),
        ("jsonp_mode=basic", r.jsonp.basic),
    ];
    for (name, set) in flags {
        if set {
            opt(name, None);
        }
    }
    let strings = [
        ("id", &r.id),
        ("path_beg", &r.path_beg),
        ("sig_iss", &r.sig_iss),
        ("sig_key", &r.sig_key),
        ("as_host", &r.as_host),
        ("replace_beg", &r.replace_beg),
        ("jsonp_cb", &r.jsonp.callback_param),
        ("jsonp_body", &r.jsonp.body_param),
        ("jsonp_defcb", &r.jsonp.default_callback),
        ("jsonp_defmethod", &r.jsonp.default_method),
        ("sockjs", &r.sockjs),
        ("sockjs_as_path", &r.sockjs_as_path),
    ];
    for (name, value) in strings {
        if let Some(v) = value {
            opt(name, Some(v));
        }
    }
    if !r.prefix.is_empty() {
        opt("prefix", Some(&r.prefix));
    }
    if let Some(p) = r.proto {
        opt("proto", Some(if p == Proto::Ws { "ws" } else { "http" }));
    }
    if let Some(ssl) = r.ssl {
        opt("ssl", Some(if ssl { "yes" } else { "no" }));
    }
    if let Some(n) = r.path_rem {
        opt("path_rem", Some(&n.to_string()));
    }
    if let Some(n) = r.log_level {
        opt("log_level", Some(&n.to_string()));
    }
    for (name, value) in &r.headers {
        opt("header", Some(&format!("{name}:{value}")));
    }
    for target in &r.targets {
        out.push(' ');
        out.push_str(&write_target(target));
    }
    out
}

fn write_target(t: &Target) -> String {
    let mut out = match &t.kind {
        TargetKind::Test => "test".to_owned(),
        TargetKind::Zhttp(spec) => quoted(&format!("zhttp/{spec}")),
        TargetKind::ZhttpReq(spec) => quoted(&format!("zhttpreq/{spec}")),
        TargetKind::Http { host, port } => {
            if host.is_empty() || host.contains(':') || host.starts_with('[') {
                quoted(&format!("[{host}]:{port}"))
            } else {
                quoted(&format!("{host}:{port}"))
            }
        }
    };
    let flags = [
        ("ssl", t.ssl),
        ("untrusted", t.untrusted),
        ("trust_connect_host", t.trust_connect_host),
        ("insecure", t.insecure),
        ("over_http", t.over_http),
        ("one_event", t.one_event),
    ];
    for (name, set) in flags {
        if set {
            let _ = write!(out, ",{name}");
        }
    }
    for (name, value) in [
        ("host", &t.host),
        ("client_cert", &t.client_cert),
        ("client_key", &t.client_key),
    ] {
        if let Some(v) = value {
            let _ = write!(out, ",{name}={}", quoted(v));
        }
    }
    for sub in &t.subs {
        let _ = write!(out, ",sub={}", quoted(sub));
    }
    if let Some(mode) = t.ipc_file_mode {
        let _ = write!(out, ",ipc_file_mode={mode:o}");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// proxy::jsonp

/// Letters, digits, `_`, `$`, `.`, `[` and `]`, 1 to 256 bytes: what `jsonp` promises a
/// callback name is (written out here, not taken from the module).
fn is_function_reference(name: &str) -> bool {
    (1..=256).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_$.[]".contains(&b))
}

/// NUL-separated fields: flags (bit 0 basic mode, bits 1-4 whether the route sets `jsonp_cb`,
/// `jsonp_body`, `jsonp_defcb`, `jsonp_defmethod`, bit 5 a method other than `GET`), method,
/// request target, the four route settings, then a reply's status (two bytes), reason, header
/// lines (`name: value`) and body. `detect` must not panic; a call it returns must have a valid
/// callback, a token method, headers a proxy may send, a target that is no longer a JSON-P
/// call; `render` must write `/**/name(…);\n`, in extended mode a JSON object holding the reply
/// (body and reason as text, `Content-Length` the body's), with U+2028/U+2029 escaped.
pub fn jsonp(data: &[u8]) {
    let [flags, method, target, cb, body_param, defcb, defmethod, status, reason, header_lines, body] =
        fields::<11>(data);
    let flags = flags.first().copied().unwrap_or(0);
    let setting = |bit: u8, value: &[u8]| (flags & (1 << bit) != 0).then(|| text(value));
    let settings = JsonpSettings {
        basic: flags & 1 != 0,
        callback_param: setting(1, cb),
        body_param: setting(2, body_param),
        default_callback: setting(3, defcb),
        // The routes file refuses a `jsonp_defmethod` that is not a method token (the
        // `routes` check asserts it), so a route never has one.
        default_method: setting(4, defmethod).filter(|m| is_token(m.as_bytes())),
    };
    let method: &[u8] = if flags & (1 << 5) != 0 {
        method
    } else {
        b"GET"
    };

    let detected = jsonp::detect(method, target, &settings);
    if method != b"GET" {
        assert_eq!(detected, Ok(None));
    }
    let callback = match detected {
        Ok(Some(call)) => {
            assert!(
                is_function_reference(&call.callback.name),
                "callback {:?}",
                call.callback.name
            );
            assert_eq!(call.callback.basic, settings.basic);
            assert!(is_token(&call.method), "method {:?}", call.method);
            assert!(call.headers.len() <= 65);
            for (name, value) in call.headers.iter() {
                assert!(is_token(name), "name {name:?}");
                assert!(is_field_value(value), "value {value:?}");
                for reserved in ["host", "content-length", "transfer-encoding", "connection"] {
                    assert!(
                        !name.eq_ignore_ascii_case(reserved.as_bytes()),
                        "{reserved}"
                    );
                }
            }
            let path = target.split(|&b| b == b'?').next().unwrap();
            assert!(call.target.starts_with(path));
            assert!(call.target.len() <= target.len());
            // The backend's request is not a JSON-P call in turn.
            assert_eq!(jsonp::detect(b"GET", &call.target, &settings), Ok(None));
            call.callback
        }
        Ok(None) => Callback {
            name: "cb".into(),
            basic: settings.basic,
        },
        Err(e) => {
            assert!(matches!(
                e,
                JsonpError::Callback | JsonpError::Method | JsonpError::Headers | JsonpError::Body
            ));
            return;
        }
    };

    let code = match status {
        [a, b, ..] => u16::from_le_bytes([*a, *b]) % 1000,
        _ => 200,
    };
    let headers: Headers = header_lines
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let at = line.iter().position(|&b| b == b':')?;
            Some((
                Bytes::copy_from_slice(&line[..at]),
                Bytes::copy_from_slice(line[at + 1..].trim_ascii()),
            ))
        })
        .collect();
    let out = jsonp::render(
        &callback,
        &Response {
            code,
            reason,
            headers: &headers,
            body,
        },
    );
    let out = std::str::from_utf8(&out).expect("the script is UTF-8");
    let inner = out
        .strip_prefix(&format!("/**/{}(", callback.name))
        .and_then(|rest| rest.strip_suffix(");\n"))
        .unwrap_or_else(|| panic!("not a call of {}: {out:?}", callback.name));
    if callback.basic {
        assert_eq!(inner, String::from_utf8_lossy(body.trim_ascii()));
        return;
    }
    assert!(!inner.contains(['\u{2028}', '\u{2029}']), "{inner:?}");
    let value: serde_json::Value = serde_json::from_str(inner).expect("the argument is JSON");
    assert_eq!(value["code"], u64::from(code));
    assert_eq!(value["reason"], *String::from_utf8_lossy(reason));
    assert_eq!(value["body"], *String::from_utf8_lossy(body));
    let object = value["headers"].as_object().expect("headers are an object");
    assert_eq!(object["Content-Length"], body.len().to_string());
    for (name, value) in object {
        assert!(value.is_string(), "{name}: {value}");
    }
}

// ---------------------------------------------------------------------------------------------
// session::filters

/// `%(name)s` → the value, `%%` → `%`, a lone `%` kept: written out independently of the
/// module. `Err(name)` for a name `lookup` lacks.
fn var_subst(content: &[u8], lookup: impl Fn(&str) -> Option<String>) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < content.len() {
        if content[i] != b'%' {
            out.push(content[i]);
            i += 1;
        } else if content.get(i + 1) == Some(&b'%') {
            out.push(b'%');
            i += 2;
        } else if content.get(i + 1) == Some(&b'(') {
            let start = i + 2;
            let end = (start..content.len().saturating_sub(1))
                .find(|&j| content[j] == b')' && content[j + 1] == b's');
            match end {
                Some(end) => {
                    let name = String::from_utf8_lossy(&content[start..end]).into_owned();
                    out.extend_from_slice(lookup(&name).ok_or(name)?.as_bytes());
                    i = end + 2;
                }
                None => {
                    out.push(b'%');
                    i += 1;
                }
            }
        } else {
            out.push(b'%');
            i += 1;
        }
    }
    Ok(out)
}

/// `name=value` lines.
fn pairs(data: &[u8]) -> Vec<(String, String)> {
    data.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|line| {
            let line = text(line);
            match line.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (line, String::new()),
            }
        })
        .collect()
}

/// NUL-separated fields: the session's meta (`name=value` lines), channel `c`'s filters
/// (comma-separated), channel `d`'s, the item's meta, the item's `content-filters` (`-` for
/// none, else comma-separated), then the content. `Filters::apply` must not panic; when
/// `var-subst` applies, its result must be the reference substitution's (an unknown name is the
/// same error), escaping every `%` as `%%` must give the content back, and content without `%`
/// must pass unchanged.
pub fn filters(data: &[u8]) {
    let [meta, c_filters, d_filters, item_meta, content_filters, content] = fields::<6>(data);
    let meta = pairs(meta);
    let list = |data: &[u8]| -> Vec<String> {
        text(data)
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let channels = [
        Channel {
            name: "c".into(),
            prev_id: None,
            filters: list(c_filters),
        },
        Channel {
            name: "d".into(),
            prev_id: None,
            filters: list(d_filters),
        },
    ];
    let Some(filters) = Filters::new(&channels, "p_", &meta) else {
        assert!(channels.iter().all(|c| c.filters.is_empty()));
        return;
    };
    let item = Item {
        meta: pairs(item_meta),
        ..Item::new("p_c")
    };
    let published = (content_filters != b"-").then(|| list(content_filters));
    let content = Bytes::copy_from_slice(content);
    let lookup = |name: &str| meta.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let var_subst_on = channels[0].filters.iter().any(|f| f == "var-subst");
    let result = filters.apply(&item, published.as_deref(), &content);
    if let Some(published) = &published {
        let expected: Vec<String> = channels[0]
            .filters
            .iter()
            .filter(|f| *f == "var-subst")
            .cloned()
            .collect();
        if *published != expected {
            assert!(
                matches!(result, Err(FilterError::ContentFiltersDiffer { .. })),
                "{result:?}"
            );
            return;
        }
    }
    match result {
        Ok(None) => {}
        Ok(Some(out)) if var_subst_on => {
            assert_eq!(Ok(out.to_vec()), var_subst(&content, lookup));
        }
        Ok(Some(out)) => assert_eq!(*out, content),
        Err(FilterError::UnknownVariable(name)) => {
            assert!(var_subst_on);
            assert!(lookup(&name).is_none(), "{name} is in the meta");
            assert_eq!(var_subst(&content, lookup), Err(name));
        }
        Err(e) => panic!("{e:?}"),
    }
    if var_subst_on {
        // With delivery filters out of the way (an item without meta on its own channel):
        let plain = Item::new("p_c");
        let mut escaped = Vec::new();
        for &b in content.iter() {
            escaped.push(b);
            if b == b'%' {
                escaped.push(b'%');
            }
        }
        let escaped = Bytes::from(escaped);
        if let Ok(Some(out)) = filters.apply(&plain, None, &escaped) {
            assert_eq!(*out, content, "%-escaped content comes back");
        }
        if !content.contains(&b'%') {
            if let Ok(Some(out)) = filters.apply(&plain, None, &content) {
                assert_eq!(*out, content);
            }
        }
    }
    // Another channel's item passes untouched.
    let other = Item::new("p_z");
    let out = filters.apply(&other, None, &content).unwrap().unwrap();
    assert_eq!(*out, content);
}
