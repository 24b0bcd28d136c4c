//! JSON-P for `aco` routes (§6.8): a `GET` with a callback parameter is answered with script.
//!
//! Browsers that cannot use CORS load the URL with a `<script>` tag; the reply calls the named
//! callback with the response. Query parameters let such a client shape the backend request:
//! `_method`, `_headers` (a JSON object) and `_body` (or the route's own body parameter,
//! `jsonp_body`, whose value is sent as `application/json`). They are removed from the URI the
//! backend sees.
//!
//! Extended mode (the default) passes `{"code", "reason", "headers", "body"}`; basic mode passes
//! the body as it is, which must then be JSON. Either way the client gets `200` with
//! `application/javascript`, because a script tag cannot see a status.
//!
//! Behaviour follows Pushpin 1.36, probed on the reference, with one deliberate difference: the
//! callback name must look like a JavaScript function reference (letters, digits, `_`, `$`, `.`,
//! `[`, `]`). Pushpin writes any name verbatim, which lets a link inject script into the page.

use bytes::Bytes;
use percent_encoding::percent_decode_str;
use protocol::Headers;

use crate::config::routes::Jsonp as JsonpSettings;

/// Longest callback name accepted.
const MAX_CALLBACK: usize = 256;
/// Most headers `_headers` may add.
const MAX_EXTRA_HEADERS: usize = 64;

/// Why a JSON-P request was refused (the texts are Pushpin's, as the client gets them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JsonpError {
    /// The callback is empty or not a function reference.
    #[error("Invalid callback parameter.")]
    Callback,
    /// `_method` is not an HTTP method token.
    #[error("Invalid _method parameter.")]
    Method,
    /// `_headers` is not a JSON object of strings.
    #[error("Invalid _headers parameter.")]
    Headers,
    /// The route's body parameter is empty.
    #[error("Invalid body parameter.")]
    Body,
}

/// How the reply is wrapped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Callback {
    /// The function the script calls.
    pub name: String,
    /// Basic mode: the body alone is passed.
    pub basic: bool,
}

/// The backend request a JSON-P call asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// How to wrap the reply.
    pub callback: Callback,
    /// The method to send.
    pub method: Bytes,
    /// The request target without the JSON-P parameters.
    pub target: Bytes,
    /// Headers to add to the client's own.
    pub headers: Headers,
    /// The body to send, if the call gave one.
    pub body: Option<Bytes>,
}

/// The JSON-P call in a request, if it is one.
pub fn detect(
    method: &[u8],
    target: &[u8],
    settings: &JsonpSettings,
) -> Result<Option<Call>, JsonpError> {
    if method != b"GET" {
        return Ok(None);
    }
    let Ok(target) = std::str::from_utf8(target) else {
        return Ok(None);
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let params = Params::parse(query);
    let cb_param = settings.callback_param.as_deref().unwrap_or("callback");
    let body_param = settings.body_param.as_deref().unwrap_or("_body");
    let body = match params.get(body_param) {
        Some(b) if b.is_empty() && settings.body_param.is_some() => return Err(JsonpError::Body),
        other => other,
    };
    let name = match (params.get(cb_param), &settings.default_callback, &body) {
        (Some(name), _, _) => name,
        (None, Some(default), Some(_)) => default.clone(),
        _ => return Ok(None),
    };
    if !is_function_reference(&name) {
        return Err(JsonpError::Callback);
    }
    let method = match params.get("_method") {
        Some(m) if is_token(&m) => Bytes::from(m),
        Some(_) => return Err(JsonpError::Method),
        None => Bytes::from(default_method(settings)),
    };
    let mut headers = match params.get("_headers") {
        Some(json) => extra_headers(&json)?,
        None => Headers::new(),
    };
    // A route that names its own body parameter has clients sending JSON documents in it.
    if body.is_some() && settings.body_param.is_some() {
        headers.set("Content-Type", "application/json");
    }
    let removed = [cb_param, "_method", "_headers", body_param];
    Ok(Some(Call {
        callback: Callback {
            name,
            basic: settings.basic,
        },
        method,
        target: Bytes::from(params.target_without(path, &removed)),
        headers,
        body: body.map(Bytes::from),
    }))
}

fn default_method(settings: &JsonpSettings) -> String {
    match &settings.default_method {
        Some(m) => m.clone(),
        None if settings.basic => "POST".into(),
        None => "GET".into(),
    }
}

/// The fields of a reply the callback is given.
pub struct Response<'a> {
    /// Status code.
    pub code: u16,
    /// Reason phrase.
    pub reason: &'a [u8],
    /// Header fields (framing fields are dropped; `Content-Length` is the body's).
    pub headers: &'a Headers,
    /// The whole body.
    pub body: &'a [u8],
}

/// The script that calls `callback` with `response`.
pub fn render(callback: &Callback, response: &Response<'_>) -> Bytes {
    let mut out = format!("/**/{}(", callback.name);
    if callback.basic {
        // Whitespace around a JSON document means nothing; Pushpin drops it too.
        out.push_str(String::from_utf8_lossy(response.body.trim_ascii()).as_ref());
    } else {
        out.push_str(&format!(
            "{{\"code\": {}, \"reason\": {}, \"headers\": {}, \"body\": {}}}",
            response.code,
            js_string(response.reason),
            headers_object(response.headers, response.body.len()),
            js_string(response.body),
        ));
    }
    out.push_str(");\n");
    Bytes::from(out)
}

/// The header fields as a compact JSON object, names sorted, repeated names joined with `, `.
fn headers_object(headers: &Headers, body_len: usize) -> String {
    let mut fields: Vec<(String, String)> = Vec::with_capacity(headers.len() + 1);
    for (name, value) in headers.iter() {
        let name = String::from_utf8_lossy(name);
        if is_framing(&name) {
            continue;
        }
        let value = String::from_utf8_lossy(value);
        match fields
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            Some((_, joined)) => {
                joined.push_str(", ");
                joined.push_str(&value);
            }
            None => fields.push((name.into_owned(), value.into_owned())),
        }
    }
    fields.push(("Content-Length".into(), body_len.to_string()));
    fields.sort();
    let members: Vec<String> = fields
        .iter()
        .map(|(n, v)| format!("{}:{}", js_string(n.as_bytes()), js_string(v.as_bytes())))
        .collect();
    format!("{{{}}}", members.join(","))
}

fn is_framing(name: &str) -> bool {
    [
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
    ]
    .iter()
    .any(|f| name.eq_ignore_ascii_case(f))
}

/// A JSON string literal that is also safe inside JavaScript source: bytes that are not UTF-8
/// become U+FFFD, and U+2028/U+2029 (line terminators in older JavaScript) are escaped.
fn js_string(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let json = serde_json::Value::String(text.into_owned()).to_string();
    json.replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// `_headers`: a JSON object of string values. Fields that describe the connection or the
/// message framing are the proxy's to set and are ignored, as Pushpin ignores them.
fn extra_headers(json: &str) -> Result<Headers, JsonpError> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(json) else {
        return Err(JsonpError::Headers);
    };
    if map.len() > MAX_EXTRA_HEADERS {
        return Err(JsonpError::Headers);
    }
    let mut headers = Headers::with_capacity(map.len());
    for (name, value) in map {
        let serde_json::Value::String(value) = value else {
            return Err(JsonpError::Headers);
        };
        if !is_token(&name) || value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(JsonpError::Headers);
        }
        let reserved = ["host", "content-length", "transfer-encoding", "connection"]
            .iter()
            .any(|r| name.eq_ignore_ascii_case(r));
        if !reserved {
            headers.push(name, value);
        }
    }
    Ok(headers)
}

/// Letters, digits, `_`, `$`, `.`, `[` and `]`: names like `cb`, `jQuery123_456` or `a.b[0]`.
fn is_function_reference(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_CALLBACK
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_$.[]".contains(&b))
}

/// An HTTP token (RFC 9110 §5.6.2), as methods and header names must be.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The query's parameters: raw pieces kept for rebuilding, names and values percent-decoded.
struct Params<'a> {
    pieces: Vec<(&'a str, String, String)>,
}

impl<'a> Params<'a> {
    fn parse(query: &'a str) -> Self {
        let pieces = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|raw| {
                let (name, value) = raw.split_once('=').unwrap_or((raw, ""));
                (raw, decode(name), decode(value))
            })
            .collect();
        Params { pieces }
    }

    /// The first value of `name`.
    fn get(&self, name: &str) -> Option<String> {
        self.pieces
            .iter()
            .find(|(_, n, _)| n == name)
            .map(|(_, _, v)| v.clone())
    }

    /// `path` with the query minus every parameter named in `removed`.
    fn target_without(&self, path: &str, removed: &[&str]) -> String {
        let kept: Vec<&str> = self
            .pieces
            .iter()
            .filter(|(_, n, _)| !removed.contains(&n.as_str()))
            .map(|(raw, _, _)| *raw)
            .collect();
        if kept.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", kept.join("&"))
        }
    }
}

/// Percent-decoding as Pushpin does it: `+` stays a plus sign.
fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extended() -> JsonpSettings {
        JsonpSettings::default()
    }

    fn call(target: &str, settings: &JsonpSettings) -> Result<Option<Call>, JsonpError> {
        detect(b"GET", target.as_bytes(), settings)
    }

    #[test]
    fn only_get_requests_with_a_callback_are_calls() {
        assert_eq!(call("/a?x=1", &extended()), Ok(None));
        assert_eq!(detect(b"POST", b"/a?callback=cb", &extended()), Ok(None));
        let c = call("/a?callback=cb", &extended()).unwrap().unwrap();
        assert_eq!(c.callback.name, "cb");
        assert_eq!(c.method, "GET");
        assert_eq!(c.target, "/a");
        assert_eq!(c.body, None);
    }

    #[test]
    fn jsonp_parameters_are_removed_and_others_kept_as_sent() {
        let c = call(
            "/a?x=1&callback=cb&_method=POST&y=%20z&_body=hi&_headers=%7B%7D",
            &extended(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.target, "/a?x=1&y=%20z");
        assert_eq!(c.method, "POST");
        assert_eq!(c.body.as_deref(), Some(&b"hi"[..]));
    }

    #[test]
    fn bad_parameters_are_refused_with_pushpins_texts() {
        let s = extended();
        assert_eq!(call("/?callback=", &s), Err(JsonpError::Callback));
        assert_eq!(call("/?callback=a%20b", &s), Err(JsonpError::Callback));
        assert_eq!(
            call("/?callback=x%3Balert(1)", &s),
            Err(JsonpError::Callback)
        );
        assert_eq!(
            call("/?callback=cb&_method=a%20b", &s),
            Err(JsonpError::Method)
        );
        assert_eq!(
            call("/?callback=cb&_headers=no", &s),
            Err(JsonpError::Headers)
        );
        assert_eq!(
            call("/?callback=cb&_headers=%5B1%5D", &s),
            Err(JsonpError::Headers)
        );
        assert_eq!(
            call("/?callback=cb&_headers=%7B%22a%22%3A1%7D", &s),
            Err(JsonpError::Headers)
        );
        assert_eq!(
            JsonpError::Callback.to_string(),
            "Invalid callback parameter."
        );
    }

    #[test]
    fn function_references_with_members_and_indexes_are_allowed() {
        for ok in ["cb", "jQuery1_2", "a.b[0]", "$x"] {
            assert!(is_function_reference(ok), "{ok}");
        }
    }

    #[test]
    fn extra_headers_skip_the_proxys_own_fields() {
        let c = call(
            "/?callback=cb&_headers=%7B%22X-A%22%3A%22b%22%2C%22Host%22%3A%22evil%22%7D",
            &extended(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.headers.get("x-a").map(|v| v.as_ref()), Some(&b"b"[..]));
        assert!(!c.headers.contains("host"));
    }

    #[test]
    fn basic_mode_posts_and_the_body_parameter_is_json() {
        let s = JsonpSettings {
            basic: true,
            callback_param: Some("cbk".into()),
            body_param: Some("b".into()),
            default_callback: Some("dcb".into()),
            default_method: None,
        };
        assert_eq!(call("/?callback=x", &s), Ok(None));
        let c = call("/e?b=hello&z=1", &s).unwrap().unwrap();
        assert_eq!(c.callback.name, "dcb");
        assert_eq!(c.method, "POST");
        assert_eq!(c.target, "/e?z=1");
        assert_eq!(c.body.as_deref(), Some(&b"hello"[..]));
        assert_eq!(
            c.headers.get("content-type").map(|v| v.as_ref()),
            Some(&b"application/json"[..])
        );
        assert_eq!(call("/?b=", &s), Err(JsonpError::Body));
        assert_eq!(
            call("/?cbk=x3&b=1", &s).unwrap().unwrap().callback.name,
            "x3"
        );
        // The route's body parameter replaces `_body`.
        let put = call("/?cbk=cb&_method=PUT&_body=x", &s).unwrap().unwrap();
        assert_eq!((put.target.as_ref(), put.body), (&b"/?_body=x"[..], None));
    }

    #[test]
    fn extended_rendering_matches_pushpins_layout() {
        let headers: Headers = [
            ("X-Custom", "1"),
            ("Content-Type", "text/plain"),
            ("Transfer-Encoding", "chunked"),
        ]
        .into_iter()
        .collect();
        let out = render(
            &Callback {
                name: "cb".into(),
                basic: false,
            },
            &Response {
                code: 200,
                reason: b"OK",
                headers: &headers,
                body: b"GET /echo\n\"q\"\xff\xe2\x80\xa8",
            },
        );
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "/**/cb({\"code\": 200, \"reason\": \"OK\", \"headers\": \
             {\"Content-Length\":\"17\",\"Content-Type\":\"text/plain\",\"X-Custom\":\"1\"}, \
             \"body\": \"GET /echo\\n\\\"q\\\"\u{fffd}\\u2028\"});\n"
        );
    }

    #[test]
    fn basic_rendering_passes_the_body() {
        let out = render(
            &Callback {
                name: "cb".into(),
                basic: true,
            },
            &Response {
                code: 404,
                reason: b"Not Found",
                headers: &Headers::new(),
                body: b" {\"a\": 1}\n",
            },
        );
        assert_eq!(&out[..], b"/**/cb({\"a\": 1});\n");
    }
}
