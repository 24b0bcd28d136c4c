//! The HTTP publish API on `push_in_http_addr:push_in_http_port` (§5.2).
//!
//! Same paths, statuses and texts as Pushpin 1.36 (checked against the reference): `GET /` says
//! `Pushpin API`; `POST /publish` (one trailing slash allowed) takes `{"items": [...]}`; other
//! methods get 405 with `Allow: POST`; a POST without `Content-Length` gets 411; unknown paths
//! 404. The reply is `Published` as text or `{"message":"Published"}` as JSON, chosen by
//! `Accept` the way Pushpin chooses (the last acceptable type listed wins); error bodies are
//! always text. Every reply closes the connection, as Pushpin's do.
//!
//! Batches are atomic: every item is validated before any is delivered, so a 400 means nothing
//! was published and the publisher can fix and resend the whole batch without duplicates.
//!
//! Differences from Pushpin, on purpose:
//! - the header and body limits (`push_in_http_max_headers_size`, `…_max_body_size`) apply;
//!   Pushpin 1.36 reads the wrong keys and ignores them;
//! - with `push_in_http_auth_key` set, `/publish` requires `Authorization: Bearer <key>` (401
//!   otherwise); Pushpin has no authentication and relies on listening on localhost.
//! - `POST /recover` is not served yet (it belongs with prev-id recovery).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use protocol::publish;

use crate::frontend::conn::{Handler, Reply, Request, RequestBody};
use crate::frontend::request::{BodyFraming, HeadError};
use crate::frontend::response::ResponseHead;
use crate::hub::Hub;

/// Limits and options of the publish API.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Largest request body (`push_in_http_max_body_size`).
    pub max_body: usize,
    /// Bearer key required on `/publish`; empty = none.
    pub auth_key: String,
}

/// The publish API handler.
pub struct PublishApi {
    hub: Arc<Hub>,
    config: ApiConfig,
}

impl PublishApi {
    /// An API publishing into `hub`.
    pub fn new(hub: Arc<Hub>, config: ApiConfig) -> Arc<Self> {
        Arc::new(PublishApi { hub, config })
    }

    async fn serve(self: Arc<Self>, req: Request) -> Reply {
        let path = route_path(&req.head.target);
        let mut reply = match path {
            "/" => text(200, "Pushpin API\n"),
            "/publish" => self.publish(req).await,
            _ => text(404, "Not Found\n"),
        };
        reply.close = true;
        reply
    }

    async fn publish(&self, req: Request) -> Reply {
        if req.head.method != "POST" {
            let mut reply = text(
                405,
                format!(
                    "Method not allowed: {}.\n",
                    String::from_utf8_lossy(&req.head.method)
                ),
            );
            reply.head.headers.push("Allow", "POST");
            return reply;
        }
        if !self.authorized(&req) {
            let mut reply = text(401, "Unauthorized.\n");
            reply.head.headers.push("WWW-Authenticate", "Bearer");
            return reply;
        }
        let Some(format) = reply_format(req.head.headers.get("accept")) else {
            return text(
                406,
                "Not Acceptable. Supported formats are text/plain and application/json.\n",
            );
        };
        let length = match req.head.framing {
            BodyFraming::Chunked => return text(411, "Request requires Content-Length.\n"),
            _ if !req.head.headers.contains("content-length") => {
                return text(411, "Request requires Content-Length.\n")
            }
            BodyFraming::Length(n) => n,
            BodyFraming::Empty => 0,
        };
        if length > self.config.max_body as u64 {
            return text(400, "Request body too large.\n");
        }
        let body = match read_body(req.body, self.config.max_body).await {
            Ok(body) => body,
            Err(reply) => return reply,
        };
        let items = match publish::parse_http_body(&body) {
            Ok(items) => items,
            Err(e) => return text(400, format!("{e}\n")),
        };
        for item in items {
            self.hub.publish(item);
        }
        match format {
            Format::Text => text(200, "Published\n"),
            Format::Json => {
                let mut head = ResponseHead::new(200);
                head.headers.push("Content-Type", "application/json");
                Reply::full(head, "{\"message\":\"Published\"}\n")
            }
        }
    }

    fn authorized(&self, req: &Request) -> bool {
        if self.config.auth_key.is_empty() {
            return true;
        }
        let expected = format!("Bearer {}", self.config.auth_key);
        req.head
            .headers
            .get("authorization")
            .is_some_and(|v| constant_time_eq(v, expected.as_bytes()))
    }
}

/// The publish API's own handle for client connections.
pub struct PublishApiHandler(pub Arc<PublishApi>);

impl Handler for PublishApiHandler {
    fn handle(&self, request: Request) -> Pin<Box<dyn Future<Output = Reply> + Send>> {
        Box::pin(self.0.clone().serve(request))
    }

    fn head_error(&self, error: &HeadError) -> Reply {
        let mut reply = match error {
            HeadError::TooLarge | HeadError::TooManyHeaders => {
                text(400, "Request header too large.\n")
            }
            _ => text(400, "Bad Request.\n"),
        };
        reply.close = true;
        reply
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

/// Pushpin's choice: with no `Accept`, text; otherwise the last listed type it can produce
/// (quality values are not weighed), or None (406) when there is none.
fn reply_format(accept: Option<&Bytes>) -> Option<Format> {
    let Some(accept) = accept else {
        return Some(Format::Text);
    };
    let mut chosen = None;
    for entry in accept.split(|&b| b == b',') {
        let media = entry
            .split(|&b| b == b';')
            .next()
            .unwrap_or_default()
            .trim_ascii();
        let lower = media.to_ascii_lowercase();
        match lower.as_slice() {
            b"text/plain" | b"text/*" | b"*/*" | b"*" => chosen = Some(Format::Text),
            b"application/json" | b"application/*" => chosen = Some(Format::Json),
            _ => {}
        }
    }
    chosen
}

async fn read_body(body: RequestBody, max: usize) -> Result<Bytes, Reply> {
    let RequestBody::Stream(mut rx) = body else {
        return Ok(Bytes::new());
    };
    let mut buf = BytesMut::new();
    while let Some(piece) = rx.recv().await {
        let piece = piece.map_err(|e| text(400, format!("{e}\n")))?;
        if buf.len() + piece.len() > max {
            return Err(text(400, "Request body too large.\n"));
        }
        buf.extend_from_slice(&piece);
    }
    Ok(buf.freeze())
}

/// The path without query, one trailing slash removed (`/publish/` is `/publish`).
fn route_path(target: &[u8]) -> &str {
    let text = std::str::from_utf8(target).unwrap_or("");
    let path = text.split('?').next().unwrap_or_default();
    match path.strip_suffix('/') {
        Some("") | None => path,
        Some(trimmed) => trimmed,
    }
}

fn text(code: u16, body: impl Into<Bytes>) -> Reply {
    Reply::text(code, body)
}

/// Compares secrets without an early exit, so timing does not reveal how much of a key matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation_matches_pushpin() {
        let f = |s: &'static str| reply_format(Some(&Bytes::from_static(s.as_bytes())));
        assert_eq!(reply_format(None), Some(Format::Text));
        assert_eq!(f("application/json"), Some(Format::Json));
        assert_eq!(f("text/plain, application/json"), Some(Format::Json));
        assert_eq!(f("application/json, text/plain"), Some(Format::Text));
        assert_eq!(f("application/*"), Some(Format::Json));
        assert_eq!(f("application/json;q=0.5"), Some(Format::Json));
        assert_eq!(f("image/png"), None);
        assert_eq!(f("text/html"), None);
    }

    #[test]
    fn paths() {
        assert_eq!(route_path(b"/publish/"), "/publish");
        assert_eq!(route_path(b"/publish"), "/publish");
        assert_eq!(route_path(b"/publish//"), "/publish/");
        assert_eq!(route_path(b"/"), "/");
        assert_eq!(route_path(b"/publish/?x=1"), "/publish");
    }

    #[test]
    fn secrets_compare() {
        assert!(constant_time_eq(b"Bearer k", b"Bearer k"));
        assert!(!constant_time_eq(b"Bearer k", b"Bearer j"));
        assert!(!constant_time_eq(b"Bearer", b"Bearer k"));
    }
}
