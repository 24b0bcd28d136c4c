//! Response holds (long-polling, §6.2): wait for a published `http-response` or the timeout.
//!
//! The session is a future owned by the client's connection: it subscribes the connection's
//! queue to each channel, then waits. A `hint` or `refresh`, or a gap on a `prev-id` channel,
//! ends the wait with [`Outcome::Replay`]: the gateway asks the backend again (with
//! `Grip-Last` for `prev-id` channels) and holds on as the new answer says. The first `http-response` `send` on any of them becomes the
//! reply, laid over the timeout response (§6.2 item 3); when the timeout passes, the timeout
//! response is sent as it is. If the client leaves first, the connection drops this future and
//! the subscription guards unsubscribe.
//!
//! A published `body-patch` (RFC 6902) is applied to the timeout body, which must be JSON; the
//! result is written compact with object keys sorted, as Pushpin writes it. A patch that cannot
//! be applied ends the hold with an error (a 502 for the client, as with Pushpin).

use bytes::Bytes;
use protocol::grip::Response;
use protocol::publish::{Action, HttpResponse};
use protocol::Headers;

use crate::frontend::conn::{Reply, ReplyBody};
use crate::frontend::response::ResponseHead;
use crate::hub::Message;

use super::filters::FilterError;
use super::order::Order;
use super::Subscriber;

/// Held response sessions only ever deliver one message, but several may arrive together.
pub const QUEUE: usize = 8;

/// Why a held response could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    /// A published `body-patch` could not be applied to the timeout body.
    #[error("filter error: body-patch: {0}")]
    Patch(String),
    /// A subscription filter failed.
    #[error(transparent)]
    Filter(#[from] FilterError),
}

/// How a held response ended.
pub enum Outcome {
    /// The reply for the client.
    Reply(Reply),
    /// Ask the backend again (§6.2 item 4, §6.4): a `hint` or `refresh`, or a gap on a
    /// `prev-id` channel.
    Replay {
        /// `Grip-Last` values to send.
        grip_last: Vec<String>,
        /// The channel with a gap (as published), whose hub last id is to be forgotten.
        gap: Option<String>,
    },
}

/// Waits for the first published response, or the timeout, or a reason to ask the backend
/// again. If a `prev-id` channel is already behind the hub (`behind`), that is at once.
pub async fn hold(
    timeout_response: &Response,
    deadline: tokio::time::Instant,
    subscriber: &mut Subscriber,
    behind: Option<String>,
) -> Result<Outcome, HoldError> {
    if let Some(channel) = behind {
        return Ok(Outcome::Replay {
            grip_last: subscriber.order.grip_last(),
            gap: Some(channel),
        });
    }
    let deadline = tokio::time::sleep_until(deadline);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            message = subscriber.queue.recv() => match message {
                Some(message) => {
                    if let Some(outcome) = deliver(timeout_response, &message, subscriber) {
                        return outcome;
                    }
                }
                // Every subscription was refused (no channels): only the timeout is left.
                None => {
                    deadline.as_mut().await;
                    return Ok(Outcome::Reply(to_reply(timeout_response)));
                }
            },
            _ = &mut deadline => return Ok(Outcome::Reply(to_reply(timeout_response))),
        }
    }
}

/// The reply for a published item, if it carries an `http-response` to send.
fn deliver(
    timeout_response: &Response,
    message: &Message,
    subscriber: &mut Subscriber,
) -> Option<Result<Outcome, HoldError>> {
    let published = message.http_response.as_ref()?;
    if matches!(published.action, Action::Hint | Action::Refresh) {
        return Some(Ok(Outcome::Replay {
            grip_last: subscriber.order.grip_last(),
            gap: None,
        }));
    }
    if let Order::Gap { channel } = subscriber.order.check(message) {
        return Some(Ok(Outcome::Replay {
            grip_last: subscriber.order.grip_last(),
            gap: Some(channel),
        }));
    }
    match published.action {
        Action::Send => {
            let filters = published.content_filters.as_deref();
            match subscriber.filter(message, filters, &published.body) {
                Ok(None) => None,
                Ok(Some(body)) => Some(overlay(timeout_response, published).map(|mut reply| {
                    // Filters read the published body; a body-patch result is left as it is.
                    if published.body_patch.is_none() {
                        reply.body = ReplyBody::Full(body.into_owned());
                    }
                    Outcome::Reply(reply)
                })),
                Err(e) => Some(Err(HoldError::Filter(e))),
            }
        }
        // `close` parses but means nothing for held responses.
        _ => None,
    }
}

/// The timeout response's headers with the published ones laid over them (same names
/// replaced), the published status and body (§6.2 item 3). Published `Grip-*` fields are
/// dropped, and the names a published `Grip-Expose-Headers` lists are removed (Pushpin's quirk,
/// §5.1).
pub fn overlay(timeout_response: &Response, published: &HttpResponse) -> Result<Reply, HoldError> {
    let mut headers: Headers = timeout_response.headers.clone();
    let remove: Vec<Bytes> = published
        .headers
        .get_all("grip-expose-headers")
        .flat_map(|v| v.split(|&b| b == b','))
        .map(|n| Bytes::copy_from_slice(n.trim_ascii()))
        .collect();
    for (name, value) in published.headers.iter() {
        if name.len() >= 5
            && name
                .get(..5)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"grip-"))
        {
            continue;
        }
        headers.set(name.clone(), value.clone());
    }
    for name in remove {
        if let Ok(name) = std::str::from_utf8(&name) {
            headers.remove(name);
        }
    }
    let head = ResponseHead {
        code: published.code(),
        reason: Bytes::copy_from_slice(published.reason().as_bytes()),
        headers,
    };
    let body = match &published.body_patch {
        Some(ops) => patched(&timeout_response.body, ops)?,
        None => published.body.clone(),
    };
    Ok(Reply::full(head, body))
}

/// The timeout body with the JSON Patch `ops` applied.
fn patched(body: &[u8], ops: &[serde_json::Value]) -> Result<Bytes, HoldError> {
    let mut doc: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| HoldError::Patch(format!("the held body is not JSON: {e}")))?;
    let patch: json_patch::Patch = serde_json::from_value(serde_json::Value::Array(ops.to_vec()))
        .map_err(|e| HoldError::Patch(e.to_string()))?;
    json_patch::patch(&mut doc, &patch).map_err(|e| HoldError::Patch(e.to_string()))?;
    sort_keys(&mut doc);
    Ok(Bytes::from(doc.to_string()))
}

/// Sorts every object's keys, as Qt's JSON writer orders them.
fn sort_keys(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(String, serde_json::Value)> =
                std::mem::take(map).into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (key, mut v) in entries {
                sort_keys(&mut v);
                map.insert(key, v);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// A GRIP response as the client gets it.
pub fn to_reply(response: &Response) -> Reply {
    let head = ResponseHead {
        code: response.code,
        reason: response.reason.clone(),
        headers: response.headers.clone(),
    };
    Reply::full(head, response.body.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeout_response(body: &str) -> Response {
        Response {
            code: 200,
            reason: Bytes::from_static(b"OK"),
            headers: [("Content-Type", "application/json"), ("X-Foo", "bar")]
                .into_iter()
                .collect(),
            body: Bytes::copy_from_slice(body.as_bytes()),
        }
    }

    fn body_of(reply: &Reply) -> &[u8] {
        match &reply.body {
            ReplyBody::Full(b) => b,
            _ => panic!("not a whole body"),
        }
    }

    fn patch(ops: serde_json::Value) -> HttpResponse {
        let serde_json::Value::Array(ops) = ops else {
            panic!("not a list")
        };
        HttpResponse {
            body_patch: Some(ops),
            ..HttpResponse::new("")
        }
    }

    #[test]
    fn published_headers_replace_same_named_ones_and_grip_fields_are_dropped() {
        let mut published = HttpResponse::new("hi");
        published.code = Some(201);
        published.headers.push("x-foo", "baz");
        published.headers.push("Grip-Channel", "nope");
        published.headers.push("X-New", "1");
        let reply = overlay(&timeout_response("{}"), &published).unwrap();
        assert_eq!(reply.head.code, 201);
        assert_eq!(&reply.head.reason[..], b"Created");
        assert_eq!(reply.head.headers.get("x-foo").unwrap(), "baz");
        assert!(!reply.head.headers.contains("grip-channel"));
        assert_eq!(reply.head.headers.get("x-new").unwrap(), "1");
        assert_eq!(body_of(&reply), b"hi");
    }

    #[test]
    fn body_patch_applies_to_the_timeout_body_and_writes_sorted_compact_json() {
        let published = patch(serde_json::json!([
            {"op": "replace", "path": "/b", "value": 2},
            {"op": "add", "path": "/a", "value": {"z": 1, "y": [true]}},
        ]));
        let reply = overlay(&timeout_response(r#"{"b": 1, "c": "é"}"#), &published).unwrap();
        assert_eq!(
            std::str::from_utf8(body_of(&reply)).unwrap(),
            r#"{"a":{"y":[true],"z":1},"b":2,"c":"é"}"#
        );
    }

    #[test]
    fn a_patch_that_cannot_apply_is_an_error() {
        let failing_test = patch(serde_json::json!([{"op": "test", "path": "/a", "value": 5}]));
        let Err(err) = overlay(&timeout_response(r#"{"a": 1}"#), &failing_test) else {
            panic!("the test operation should fail")
        };
        assert!(
            err.to_string().starts_with("filter error: body-patch: "),
            "{err}"
        );
        let add = patch(serde_json::json!([{"op": "add", "path": "/a", "value": 5}]));
        assert!(overlay(&timeout_response("plain"), &add).is_err());
        let malformed = patch(serde_json::json!([{"op": "explode"}]));
        assert!(overlay(&timeout_response("{}"), &malformed).is_err());
    }
}
