//! CORS headers for `aco` routes and `auto_cross_origin` (§6.8), as Pushpin adds them.
//!
//! Each header is added only when the response does not already have it, after the backend's
//! own fields: `Access-Control-Allow-Methods` (the requested method, or a fixed list),
//! `-Allow-Headers` (the requested headers, when asked), `-Expose-Headers` (every response field
//! that is not CORS-safelisted, `Access-Control-*`, `Grip-*` or hop-by-hop), `-Allow-Credentials:
//! true`, `-Allow-Origin` (the request's `Origin`, or `*`) and `-Max-Age: 3600`. There is no
//! preflight short-circuit: `OPTIONS` goes to the backend like any request. Verified against
//! Pushpin 1.36 (same headers, same order).

use bytes::Bytes;
use protocol::Headers;

const DEFAULT_METHODS: &str = "OPTIONS, HEAD, GET, POST, PUT, DELETE";

/// Fields a browser exposes anyway, and fields that describe the connection, not the resource.
const NOT_EXPOSED: &[&str] = &[
    "cache-control",
    "content-language",
    "content-length",
    "content-type",
    "expires",
    "last-modified",
    "pragma",
    "connection",
    "keep-alive",
    "transfer-encoding",
];

/// Adds the CORS fields to `response` for a request with headers `request`.
pub fn apply(request: &Headers, response: &mut Headers) {
    let expose = expose_list(response);
    let mut add = |name: &'static str, value: Bytes| {
        if !response.contains(name) {
            response.push(name, value);
        }
    };
    let methods = request
        .get("access-control-request-method")
        .cloned()
        .unwrap_or_else(|| Bytes::from_static(DEFAULT_METHODS.as_bytes()));
    add("Access-Control-Allow-Methods", methods);
    if let Some(h) = request.get("access-control-request-headers") {
        add("Access-Control-Allow-Headers", h.clone());
    }
    if !expose.is_empty() {
        add("Access-Control-Expose-Headers", Bytes::from(expose));
    }
    add(
        "Access-Control-Allow-Credentials",
        Bytes::from_static(b"true"),
    );
    let origin = request
        .get("origin")
        .cloned()
        .unwrap_or_else(|| Bytes::from_static(b"*"));
    add("Access-Control-Allow-Origin", origin);
    add("Access-Control-Max-Age", Bytes::from_static(b"3600"));
}

fn expose_list(response: &Headers) -> String {
    let mut names: Vec<&[u8]> = Vec::new();
    for (name, _) in response.iter() {
        let lower = name.to_ascii_lowercase();
        let hidden = NOT_EXPOSED.iter().any(|n| n.as_bytes() == lower.as_slice())
            || lower.starts_with(b"access-control-")
            || lower.starts_with(b"grip-");
        if !hidden && !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            names.push(name);
        }
    }
    names
        .iter()
        .map(|n| String::from_utf8_lossy(n))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> Headers {
        pairs.iter().copied().collect()
    }

    fn render(h: &Headers) -> Vec<String> {
        h.iter()
            .map(|(n, v)| {
                format!(
                    "{}: {}",
                    String::from_utf8_lossy(n),
                    String::from_utf8_lossy(v)
                )
            })
            .collect()
    }

    const BACKEND: &[(&str, &str)] = &[
        ("Server", "BaseHTTP/0.6 Python/3.11.7"),
        ("Date", "d"),
        ("Content-Type", "text/plain"),
        ("Content-Length", "159"),
    ];

    #[test]
    fn matches_pushpin_with_a_preflight_style_request() {
        let req = headers(&[
            ("Origin", "http://app.test"),
            ("Access-Control-Request-Method", "PUT"),
            ("Access-Control-Request-Headers", "X-A, X-B"),
        ]);
        let mut resp = headers(BACKEND);
        apply(&req, &mut resp);
        assert_eq!(
            render(&resp)[4..],
            [
                "Access-Control-Allow-Methods: PUT",
                "Access-Control-Allow-Headers: X-A, X-B",
                "Access-Control-Expose-Headers: Server, Date",
                "Access-Control-Allow-Credentials: true",
                "Access-Control-Allow-Origin: http://app.test",
                "Access-Control-Max-Age: 3600",
            ]
        );
    }

    #[test]
    fn matches_pushpin_with_a_bare_request() {
        let mut resp = headers(BACKEND);
        apply(&Headers::new(), &mut resp);
        assert_eq!(
            render(&resp)[4..],
            [
                "Access-Control-Allow-Methods: OPTIONS, HEAD, GET, POST, PUT, DELETE",
                "Access-Control-Expose-Headers: Server, Date",
                "Access-Control-Allow-Credentials: true",
                "Access-Control-Allow-Origin: *",
                "Access-Control-Max-Age: 3600",
            ]
        );
    }

    #[test]
    fn existing_fields_are_kept() {
        let mut resp = headers(&[
            ("Access-Control-Allow-Origin", "https://only.example"),
            ("X-Custom", "1"),
            ("Grip-Hold", "x"),
        ]);
        apply(&headers(&[("Origin", "http://other")]), &mut resp);
        assert_eq!(resp.get_all("access-control-allow-origin").count(), 1);
        assert_eq!(
            resp.get("access-control-allow-origin").unwrap(),
            "https://only.example"
        );
        assert_eq!(
            resp.get("access-control-expose-headers").unwrap(),
            "X-Custom"
        );
    }
}
