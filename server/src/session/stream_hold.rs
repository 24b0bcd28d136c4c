//! Stream holds (§6.3): the initial response now, then published `http-stream` content as it
//! comes, keep-alives while idle, until a `close` or the client leaves.
//!
//! The session is the reply's body source, polled by the client connection: no task of its own.
//! Keep-alives follow `Grip-Keep-Alive`: in `idle` mode the timer restarts after every write, in
//! `interval` mode only when it fires; each arming is shortened by a random 0-999 ms, as Pushpin
//! does, so that many streams opened together do not send their keep-alives in one burst.
//!
//! A filter error ends the stream without its last chunk, so the client can tell it was cut off
//! (Pushpin ends it too).
//!
//! Slow clients: the session's queue holds [`QUEUE`] items (Pushpin's per-session limit); past it
//! the hub drops items for this session only and counts them.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use protocol::grip::{KeepAlive, KeepAliveMode};
use protocol::publish::Action;
use tokio::time::{Instant, Sleep};

use crate::frontend::conn::BodySource;

use super::Subscriber;

/// Items a stream session may have queued before the hub drops for it (Pushpin's limit).
pub const QUEUE: usize = 100;

/// A held stream, as a reply body.
pub struct StreamHold {
    initial: Option<Bytes>,
    subscriber: Subscriber,
    keep_alive: Option<(KeepAlive, Pin<Box<Sleep>>)>,
}

impl StreamHold {
    /// A stream that first sends `initial`, then what is published to the subscriber's channels.
    pub fn new(initial: Bytes, subscriber: Subscriber, keep_alive: Option<KeepAlive>) -> Self {
        let keep_alive = keep_alive.map(|ka| {
            let sleep = Box::pin(tokio::time::sleep_until(next_keep_alive(&ka)));
            (ka, sleep)
        });
        StreamHold {
            initial: Some(initial).filter(|b| !b.is_empty()),
            subscriber,
            keep_alive,
        }
    }

    fn wrote(&mut self) {
        if let Some((ka, sleep)) = &mut self.keep_alive {
            if ka.mode == KeepAliveMode::Idle {
                sleep.as_mut().reset(next_keep_alive(ka));
            }
        }
    }
}

impl BodySource for StreamHold {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        if let Some(initial) = self.initial.take() {
            self.wrote();
            return Poll::Ready(Some(Ok(initial)));
        }
        // Ready(None): no channels left to listen on; keep-alives (if any) carry on.
        while let Poll::Ready(Some(message)) = self.subscriber.queue.poll_recv(cx) {
            let Some(stream) = message.http_stream.as_ref() else {
                continue;
            };
            match stream.action {
                Action::Send if stream.content.is_empty() => continue,
                Action::Send => {
                    let filters = stream.content_filters.as_deref();
                    let content = match self.subscriber.filter(&message, filters, &stream.content) {
                        Ok(Some(content)) => content.into_owned(),
                        Ok(None) => continue,
                        Err(e) => {
                            tracing::debug!(error = %e, "stream session ended by its filters");
                            return Poll::Ready(Some(Err(io::Error::other(e))));
                        }
                    };
                    self.wrote();
                    return Poll::Ready(Some(Ok(content)));
                }
                Action::Close => return Poll::Ready(None),
                // `hint` re-fetches the next link, which needs the link path (not built yet);
                // `refresh` has no meaning for streams.
                _ => continue,
            }
        }
        if let Some((ka, sleep)) = &mut self.keep_alive {
            if sleep.as_mut().poll(cx).is_ready() {
                sleep.as_mut().reset(next_keep_alive(ka));
                return Poll::Ready(Some(Ok(ka.data.clone())));
            }
        }
        Poll::Pending
    }
}

/// When the next keep-alive is due: its timeout, shortened by a random 0-999 ms.
fn next_keep_alive(ka: &KeepAlive) -> Instant {
    let full = Duration::from_secs(u64::from(ka.timeout));
    let jitter = Duration::from_millis(fastrand::u64(0..1000));
    Instant::now() + full.saturating_sub(jitter)
}
