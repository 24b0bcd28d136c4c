//! Response holds (long-polling, §6.2): wait for a published `http-response` or the timeout.
//!
//! The session is a future owned by the client's connection: it subscribes the connection's
//! queue to each channel, then waits. The first `http-response` `send` on any of them becomes the
//! reply, laid over the timeout response (§6.2 item 3); when the timeout passes, the timeout
//! response is sent as it is. If the client leaves first, the connection drops this future and
//! the subscription guards unsubscribe.

use bytes::Bytes;
use protocol::grip::Response;
use protocol::publish::{Action, HttpResponse};
use protocol::Headers;

use crate::frontend::conn::Reply;
use crate::frontend::response::ResponseHead;
use crate::hub::Message;

use super::Subscriber;

/// Held response sessions only ever deliver one message, but several may arrive together.
pub const QUEUE: usize = 8;

/// Waits for the first published response, or the timeout; returns the reply.
pub async fn hold(
    timeout_response: Response,
    timeout_secs: u32,
    mut subscriber: Subscriber,
) -> Reply {
    let deadline = tokio::time::sleep(std::time::Duration::from_secs(u64::from(timeout_secs)));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            message = subscriber.queue.recv() => match message {
                Some(message) => {
                    if let Some(reply) = deliver(&timeout_response, &message) {
                        drop(subscriber.subscriptions);
                        return reply;
                    }
                }
                // Every subscription was refused (no channels): only the timeout is left.
                None => {
                    deadline.as_mut().await;
                    return to_reply(&timeout_response);
                }
            },
            _ = &mut deadline => return to_reply(&timeout_response),
        }
    }
}

/// The reply for a published item, if it carries an `http-response` to send.
fn deliver(timeout_response: &Response, message: &Message) -> Option<Reply> {
    let published = message.http_response.as_ref()?;
    match published.action {
        Action::Send => Some(overlay(timeout_response, published)),
        // `close` parses but means nothing for held responses; `hint` and `refresh` re-ask the
        // backend, which needs the retry path (not built yet): wait on.
        _ => None,
    }
}

/// The timeout response's headers with the published ones laid over them (same names
/// replaced), the published status and body (§6.2 item 3). Published `Grip-*` fields are
/// dropped, and the names a published `Grip-Expose-Headers` lists are removed (Pushpin's quirk,
/// §5.1).
pub fn overlay(timeout_response: &Response, published: &HttpResponse) -> Reply {
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
    Reply::full(head, published.body.clone())
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
