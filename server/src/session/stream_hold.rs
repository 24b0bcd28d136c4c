//! Stream holds (§6.3): the initial response now, then published `http-stream` content as it
//! comes, keep-alives while idle, until a `close` or the client leaves.
//!
//! The session is the reply's body source, polled by the client connection: no task of its own.
//! Keep-alives follow `Grip-Keep-Alive`: in `idle` mode the timer restarts after every write, in
//! `interval` mode only when it fires; each arming is shortened by a random 0-999 ms, as Pushpin
//! does, so that many streams opened together do not send their keep-alives in one burst.
//!
//! `Grip-Link` next (§6.5): the stream fetches its next link on `hint`/`refresh`, on a gap in a
//! `prev-id` channel (with `Grip-Last`, §6.4), and when the link's timeout passes. While a fetch
//! is in flight the queue is not read; the answer's body is appended to the stream, and its
//! instructions replace the channels, keep-alive and link. An answer without a hold ends the
//! stream after its body, unless it links on (paging). A failed fetch is retried after 1 s,
//! doubling, with jitter; after [`MAX_FETCHES`] the stream ends with
//! an error. `Grip-Link rel=gone` is told when the stream ends.
//!
//! A filter error or a failed link ends the stream without its last chunk, so the client can
//! tell it was cut off (Pushpin ends it too).
//!
//! Slow clients: the session's queue holds [`QUEUE`] items; past it the hub drops items for this
//! session only and counts them. A burst that size reaches a client that reads (Pushpin
//! delivered a 1,000-item burst whole in the benchmarks); only a client that stops reading loses
//! items, and never slows the publisher or anyone else.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use protocol::grip::{self, HoldMode, KeepAlive, KeepAliveMode, NextLink};
use protocol::publish::Action;
use tokio::time::{Instant, Sleep};

use crate::frontend::conn::BodySource;

use super::links::{retry_delay, Fetch, SessionBackend, MAX_FETCHES};
use super::order::Order;
use super::Subscriber;

/// Items a stream session may have queued before the hub drops for it. A queue takes memory
/// only for what is in it (slots come in blocks of 32 as items arrive), and each item is a
/// pointer to the one shared copy, so an idle session pays nothing for the bound.
pub const QUEUE: usize = 1024;

/// A held stream, as a reply body.
pub struct StreamHold {
    initial: Option<Bytes>,
    /// `None` once an answer without a hold has replaced the subscription (paging).
    subscriber: Option<Subscriber>,
    keep_alive: Option<(KeepAlive, Pin<Box<Sleep>>)>,
    /// Present when the stream came from a backend that can be asked again.
    links: Option<Box<Links>>,
    ended: bool,
}

/// Next-link state.
struct Links {
    backend: Arc<dyn SessionBackend>,
    next: Option<NextLink>,
    gone: Option<String>,
    /// Fires the link's timeout.
    timer: Option<Pin<Box<Sleep>>>,
    fetch: Option<Fetch>,
    /// The `Grip-Last` values of the fetch in flight, for its retries.
    grip_last: Vec<String>,
    /// Fetches of the current link so far.
    attempt: u32,
    retry: Option<Pin<Box<Sleep>>>,
}

/// What the instructions that opened the stream say about links.
pub struct LinkInstructions {
    /// `Grip-Link: <uri>; rel=next`.
    pub next: Option<NextLink>,
    /// `Grip-Link: <uri>; rel=gone`.
    pub gone: Option<String>,
}

impl StreamHold {
    /// A stream that first sends `initial`, then what is published to the subscriber's channels.
    pub fn new(initial: Bytes, subscriber: Subscriber, keep_alive: Option<KeepAlive>) -> Self {
        StreamHold {
            initial: Some(initial).filter(|b| !b.is_empty()),
            subscriber: Some(subscriber),
            keep_alive: keep_alive.map(arm),
            links: None,
            ended: false,
        }
    }

    /// A stream that follows its `Grip-Link`s through `backend`. If a `prev-id` channel is
    /// already behind the hub's last id, recovery starts at once (§6.4).
    pub fn with_links(mut self, backend: Arc<dyn SessionBackend>, links: LinkInstructions) -> Self {
        let timer = links.next.as_ref().map(link_timer);
        let behind = self.subscriber.as_ref().and_then(|s| {
            s.order
                .published()
                .find(|(channel, id)| backend.last_id(channel).is_some_and(|last| last != *id))
                .map(|(channel, _)| channel.to_owned())
        });
        self.links = Some(Box::new(Links {
            backend,
            next: links.next,
            gone: links.gone,
            timer,
            fetch: None,
            grip_last: Vec::new(),
            attempt: 0,
            retry: None,
        }));
        if let Some(channel) = behind {
            // The result is a fetch in flight, or an error that ends the stream on first poll.
            if let Err(e) = self.recover(&channel) {
                tracing::debug!(error = %e, "stream cannot recover at start");
                self.ended = true;
            }
        }
        self
    }

    /// A stream that only pages: `initial` (a response without a hold), then its next links.
    pub fn paging(initial: Bytes, backend: Arc<dyn SessionBackend>, next: NextLink) -> Self {
        let mut hold = StreamHold {
            initial: Some(initial).filter(|b| !b.is_empty()),
            subscriber: None,
            keep_alive: None,
            links: None,
            ended: false,
        };
        hold = hold.with_links(
            backend,
            LinkInstructions {
                next: Some(next),
                gone: None,
            },
        );
        hold.start_fetch(Vec::new());
        hold
    }

    fn wrote(&mut self) {
        if let Some((ka, sleep)) = &mut self.keep_alive {
            if ka.mode == KeepAliveMode::Idle {
                sleep.as_mut().reset(next_keep_alive(ka));
            }
        }
        // The link's timeout counts from the last output.
        if let Some(links) = &mut self.links {
            if let (Some(timer), Some(next)) = (&mut links.timer, &links.next) {
                timer.as_mut().reset(Instant::now() + link_timeout(next));
            }
        }
    }

    /// Starts fetching the next link with `grip_last`; no-op without a link.
    fn start_fetch(&mut self, grip_last: Vec<String>) -> bool {
        let Some(links) = &mut self.links else {
            return false;
        };
        let Some(next) = &links.next else {
            return false;
        };
        links.fetch = Some(links.backend.fetch_link(&next.uri, grip_last.clone()));
        links.grip_last = grip_last;
        links.attempt = 1;
        links.retry = None;
        true
    }

    /// Recovers from a gap on `channel`: forget the hub's last id and fetch the next link with
    /// `Grip-Last`. Without a next link the stream cannot recover (Pushpin's error text).
    fn recover(&mut self, channel: &str) -> Result<(), String> {
        if let Some(links) = &self.links {
            links.backend.forget_last_id(channel);
        }
        let grip_last = self
            .subscriber
            .as_ref()
            .map(|s| s.order.grip_last())
            .unwrap_or_default();
        if self.start_fetch(grip_last) {
            Ok(())
        } else {
            Err(format!(
                "channel '{channel}' specifies prev-id, but no next link found"
            ))
        }
    }

    /// Applies a next link's answer; returns the body to append.
    fn apply(&mut self, response: &grip::Response) -> Result<Bytes, String> {
        let instruct = grip::Instruct::parse(response.clone()).map_err(|e| e.to_string())?;
        if instruct.hold == Some(HoldMode::Response) {
            return Err("Next link returned non-stream hold.".into());
        }
        let Some(links) = &mut self.links else {
            return Err("no link state".into());
        };
        links.next = instruct.next_link.clone();
        if instruct.gone_link.is_some() {
            links.gone = instruct.gone_link.clone();
        }
        links.timer = links.next.as_ref().map(link_timer);
        match instruct.hold {
            Some(_) => {
                if !instruct.channels.is_empty() {
                    self.subscriber = Some(links.backend.subscribe(&instruct));
                }
                if let Some(ka) = instruct.keep_alive.clone() {
                    self.keep_alive = Some(arm(ka));
                }
            }
            None => {
                // No hold: the stream is only pages now; it ends after the last one.
                self.subscriber = None;
                self.keep_alive = None;
                if links.next.is_some() {
                    let _ = self.start_fetch(Vec::new());
                } else {
                    self.ended = true;
                }
            }
        }
        Ok(instruct.response.body)
    }

    /// Drives a fetch in flight (or its retry timer). `Ready(Some(..))`: output or an error;
    /// `Ready(None)`: nothing in flight.
    fn poll_fetch(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        let Some(links) = &mut self.links else {
            return Poll::Ready(None);
        };
        if let Some(retry) = &mut links.retry {
            if retry.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            links.retry = None;
            if let Some(next) = &links.next {
                links.fetch = Some(links.backend.fetch_link(&next.uri, links.grip_last.clone()));
            }
        }
        let Some(fetch) = &mut links.fetch else {
            return Poll::Ready(None);
        };
        let result = match fetch.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(result) => result,
        };
        links.fetch = None;
        // A backend error status is a failure to retry, like a connection failure; an answer
        // that cannot be used (a bad instruction, a response hold) ends the stream.
        let result = result.and_then(|response| {
            if (200..300).contains(&response.code) {
                Ok(response)
            } else {
                Err(format!("next link returned status {}", response.code))
            }
        });
        match result {
            Ok(response) => match self.apply(&response) {
                Ok(body) => Poll::Ready(Some(Ok(body))),
                Err(e) => Poll::Ready(Some(Err(io::Error::other(e)))),
            },
            Err(e) if links.attempt < MAX_FETCHES => {
                links.attempt += 1;
                tracing::debug!(error = %e, attempt = links.attempt, "next link failed; retrying");
                let delay = retry_delay(links.attempt);
                links.retry = Some(Box::pin(tokio::time::sleep(delay)));
                // Register the timer with this poll.
                self.poll_fetch(cx)
            }
            Err(e) => Poll::Ready(Some(Err(io::Error::other(format!(
                "next link failed {MAX_FETCHES} times: {e}"
            ))))),
        }
    }

    /// Reads the queue; `Ready` with output, the end, or an error.
    fn poll_queue(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        loop {
            let Some(subscriber) = &mut self.subscriber else {
                return Poll::Pending;
            };
            // Ready(None): no channels left to listen on; keep-alives (if any) carry on.
            let Poll::Ready(Some(message)) = subscriber.queue.poll_recv(cx) else {
                return Poll::Pending;
            };
            let Some(stream) = message.http_stream.as_ref() else {
                continue;
            };
            if matches!(stream.action, Action::Hint | Action::Refresh) {
                let grip_last = subscriber.order.grip_last();
                if self.start_fetch(grip_last) {
                    // Queued items are dropped: the next response says what the client needs.
                    self.drain_queue();
                    return Poll::Ready(Some(Ok(Bytes::new())));
                }
                continue;
            }
            if let Order::Gap { channel } = subscriber.order.check(&message) {
                self.drain_queue();
                return match self.recover(&channel) {
                    Ok(()) => Poll::Ready(Some(Ok(Bytes::new()))),
                    Err(e) => Poll::Ready(Some(Err(io::Error::other(e)))),
                };
            }
            match stream.action {
                Action::Close => return Poll::Ready(None),
                Action::Send if stream.content.is_empty() => continue,
                _ => {}
            }
            let filters = stream.content_filters.as_deref();
            return match subscriber.filter(&message, filters, &stream.content) {
                Ok(Some(content)) => Poll::Ready(Some(Ok(content.into_owned()))),
                Ok(None) => continue,
                Err(e) => {
                    tracing::debug!(error = %e, "stream session ended by its filters");
                    Poll::Ready(Some(Err(io::Error::other(e))))
                }
            };
        }
    }

    fn drain_queue(&mut self) {
        if let Some(subscriber) = &mut self.subscriber {
            while subscriber.queue.try_recv().is_ok() {}
        }
    }

    /// The link's timeout passed: fetch it (with `Grip-Last` for `prev-id` channels).
    fn poll_link_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let fired = self
            .links
            .as_mut()
            .and_then(|l| l.timer.as_mut())
            .is_some_and(|t| t.as_mut().poll(cx).is_ready());
        if fired {
            let grip_last = self
                .subscriber
                .as_ref()
                .map(|s| s.order.grip_last())
                .unwrap_or_default();
            return self.start_fetch(grip_last);
        }
        false
    }
}

impl BodySource for StreamHold {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        if let Some(initial) = self.initial.take() {
            self.wrote();
            return Poll::Ready(Some(Ok(initial)));
        }
        loop {
            if self.ended {
                return Poll::Ready(None);
            }
            let output = match self.poll_fetch(cx) {
                // Nothing in flight: read the queue.
                Poll::Ready(None) => self.poll_queue(cx),
                other => other,
            };
            match output {
                Poll::Ready(Some(Ok(piece))) if piece.is_empty() => continue,
                Poll::Ready(Some(Ok(piece))) => {
                    self.wrote();
                    return Poll::Ready(Some(Ok(piece)));
                }
                Poll::Ready(other) => return Poll::Ready(other),
                Poll::Pending => {}
            }
            if self.poll_link_timer(cx) {
                continue;
            }
            if let Some((ka, sleep)) = &mut self.keep_alive {
                if sleep.as_mut().poll(cx).is_ready() {
                    sleep.as_mut().reset(next_keep_alive(ka));
                    return Poll::Ready(Some(Ok(ka.data.clone())));
                }
            }
            return Poll::Pending;
        }
    }
}

impl Drop for StreamHold {
    fn drop(&mut self) {
        if let Some(links) = &self.links {
            if let Some(gone) = &links.gone {
                links.backend.gone(gone);
            }
        }
    }
}

fn arm(ka: KeepAlive) -> (KeepAlive, Pin<Box<Sleep>>) {
    let sleep = Box::pin(tokio::time::sleep_until(next_keep_alive(&ka)));
    (ka, sleep)
}

fn link_timeout(next: &NextLink) -> Duration {
    Duration::from_secs(u64::from(next.timeout.max(1)))
}

fn link_timer(next: &NextLink) -> Pin<Box<Sleep>> {
    Box::pin(tokio::time::sleep(link_timeout(next)))
}

/// When the next keep-alive is due: its timeout, shortened by a random 0-999 ms.
fn next_keep_alive(ka: &KeepAlive) -> Instant {
    let full = Duration::from_secs(u64::from(ka.timeout));
    let jitter = Duration::from_millis(fastrand::u64(0..1000));
    Instant::now() + full.saturating_sub(jitter)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use protocol::grip::Channel;
    use protocol::publish::{HttpStream, Item};

    use super::*;
    use crate::hub::Hub;
    use crate::session::Subscribe;

    /// A backend that answers every link fetch with `answer` and records what it was asked.
    struct FakeBackend {
        hub: Arc<Hub>,
        answer: grip::Response,
        fetches: Mutex<Vec<(String, Vec<String>)>>,
        forgotten: Mutex<Vec<String>>,
    }

    impl SessionBackend for FakeBackend {
        fn fetch_link(&self, uri: &str, grip_last: Vec<String>) -> Fetch {
            self.fetches
                .lock()
                .unwrap()
                .push((uri.to_owned(), grip_last));
            Box::pin(std::future::ready(Ok(Arc::new(self.answer.clone()))))
        }

        fn subscribe(&self, instruct: &grip::Instruct) -> Subscriber {
            subscriber(&self.hub, &instruct.channels)
        }

        fn forget_last_id(&self, channel: &str) {
            self.forgotten.lock().unwrap().push(channel.to_owned());
        }

        fn last_id(&self, _channel: &str) -> Option<String> {
            None
        }

        fn gone(&self, _uri: &str) {}
    }

    fn hub() -> Arc<Hub> {
        Hub::for_tests()
    }

    fn subscriber(hub: &Hub, channels: &[Channel]) -> Subscriber {
        Subscriber::new(
            hub,
            Subscribe {
                channels,
                prefix: "",
                max: 20,
                meta: &[],
                limiter: None,
                mode: crate::hub::Mode::Stream,
            },
            QUEUE,
        )
    }

    fn answer(headers: &[(&'static str, &'static str)], body: &'static str) -> grip::Response {
        grip::Response {
            code: 200,
            reason: Bytes::from_static(b"OK"),
            headers: headers.iter().copied().collect(),
            body: Bytes::from_static(body.as_bytes()),
        }
    }

    fn send(hub: &Hub, channel: &str, content: &'static str, ids: (Option<&str>, Option<&str>)) {
        let mut item = Item::new(channel);
        item.id = ids.0.map(String::from);
        item.prev_id = ids.1.map(String::from);
        item.http_stream = Some(HttpStream::new(content));
        hub.publish(item);
    }

    fn action(hub: &Hub, channel: &str, action: Action) {
        let mut item = Item::new(channel);
        item.http_stream = Some(HttpStream {
            action,
            ..HttpStream::default()
        });
        hub.publish(item);
    }

    async fn next(hold: &mut StreamHold) -> Option<io::Result<Bytes>> {
        tokio::time::timeout(
            Duration::from_secs(5),
            std::future::poll_fn(|cx| hold.poll_next(cx)),
        )
        .await
        .expect("the stream produced nothing")
    }

    fn linked(
        hub: &Arc<Hub>,
        channels: &[Channel],
        answer: grip::Response,
    ) -> (StreamHold, Arc<FakeBackend>) {
        let backend = Arc::new(FakeBackend {
            hub: hub.clone(),
            answer,
            fetches: Mutex::default(),
            forgotten: Mutex::default(),
        });
        let hold = StreamHold::new(
            Bytes::from_static(b"open\n"),
            subscriber(hub, channels),
            None,
        )
        .with_links(
            backend.clone(),
            LinkInstructions {
                next: Some(NextLink::new("/next")),
                gone: None,
            },
        );
        (hold, backend)
    }

    #[tokio::test]
    async fn a_hint_fetches_the_next_link_and_its_channels_replace_the_old_ones() {
        let hub = hub();
        let answer = answer(
            &[("Grip-Hold", "stream"), ("Grip-Channel", "b")],
            "page two\n",
        );
        let (mut hold, backend) = linked(&hub, &[Channel::new("a")], answer);
        assert_eq!(&next(&mut hold).await.unwrap().unwrap()[..], b"open\n");
        action(&hub, "a", Action::Hint);
        assert_eq!(&next(&mut hold).await.unwrap().unwrap()[..], b"page two\n");
        assert_eq!(
            *backend.fetches.lock().unwrap(),
            [("/next".to_owned(), Vec::new())]
        );
        send(&hub, "a", "old channel\n", (None, None));
        send(&hub, "b", "new channel\n", (None, None));
        assert_eq!(
            &next(&mut hold).await.unwrap().unwrap()[..],
            b"new channel\n"
        );
    }

    #[tokio::test]
    async fn a_gap_recovers_through_the_next_link_with_grip_last() {
        let hub = hub();
        let channel = Channel {
            prev_id: Some("p0".into()),
            ..Channel::new("a")
        };
        let answer = answer(
            &[("Grip-Hold", "stream"), ("Grip-Channel", "a; prev-id=c")],
            "missed\n",
        );
        let (mut hold, backend) = linked(&hub, &[channel], answer);
        next(&mut hold).await;
        send(&hub, "a", "A\n", (Some("a1"), Some("p0")));
        assert_eq!(&next(&mut hold).await.unwrap().unwrap()[..], b"A\n");
        // Past the hub's sequencer (which would hold it back), as a `no-seq` item goes.
        let mut gap = Item::new("a");
        gap.id = Some("c".into());
        gap.prev_id = Some("b".into());
        gap.no_seq = true;
        gap.http_stream = Some(HttpStream::new("C\n"));
        hub.publish(gap);
        assert_eq!(&next(&mut hold).await.unwrap().unwrap()[..], b"missed\n");
        assert_eq!(
            *backend.fetches.lock().unwrap(),
            [("/next".to_owned(), vec!["a; last-id=a1".to_owned()])]
        );
        assert_eq!(*backend.forgotten.lock().unwrap(), ["a"]);
    }

    #[tokio::test]
    async fn a_gap_without_a_next_link_ends_the_stream_with_pushpins_error() {
        let hub = hub();
        let channel = Channel {
            prev_id: Some("p0".into()),
            ..Channel::new("a")
        };
        let mut hold = StreamHold::new(Bytes::new(), subscriber(&hub, &[channel]), None);
        send(&hub, "a", "C\n", (Some("c"), Some("b")));
        let err = next(&mut hold).await.unwrap().unwrap_err();
        assert_eq!(
            err.to_string(),
            "channel 'a' specifies prev-id, but no next link found"
        );
    }

    #[tokio::test]
    async fn an_answer_without_a_hold_ends_the_stream_after_its_body() {
        let hub = hub();
        let (mut hold, _backend) = linked(&hub, &[Channel::new("a")], answer(&[], "last page\n"));
        next(&mut hold).await;
        action(&hub, "a", Action::Hint);
        assert_eq!(&next(&mut hold).await.unwrap().unwrap()[..], b"last page\n");
        assert!(next(&mut hold).await.is_none());
    }
}
