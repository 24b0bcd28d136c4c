//! What a held stream needs from the rest of the server to follow `Grip-Link` next (§6.5):
//! fetch the link, subscribe to what the next response names, and tell the hub about gaps.
//!
//! The gateway implements [`SessionBackend`] once per held stream (it knows the route, the
//! client's request and the backend client); the session only drives it. Keeping this a trait
//! keeps the session free of HTTP and routing, and testable with a fake.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use protocol::grip;

use super::Subscriber;

/// A fetch in flight.
pub type Fetch = Pin<Box<dyn Future<Output = Result<Arc<grip::Response>, String>> + Send>>;

/// First wait before fetching a failed link again; it doubles each time (§6.5).
pub const RETRY_FIRST: Duration = Duration::from_secs(1);
/// Fetches of one link before the stream ends with an error (Pushpin: 1 + 5 retries).
pub const MAX_FETCHES: u32 = 6;

/// The server side of a held stream.
pub trait SessionBackend: Send + Sync {
    /// GETs the next link `uri` (as the backend wrote it; relative to the session's request)
    /// with one `Grip-Last` header per value; identical fetches from many sessions may share
    /// one backend request.
    fn fetch_link(&self, uri: &str, grip_last: Vec<String>) -> Fetch;

    /// Subscribes a new queue as `instruct` says (a next response's channels and meta).
    fn subscribe(&self, instruct: &grip::Instruct) -> Subscriber;

    /// Forgets the hub's last id of `channel` (as published), so the next item goes through
    /// whatever its `prev-id` (recovery after a gap, §6.4).
    fn forget_last_id(&self, channel: &str);

    /// The hub's last id of `channel` (as published), if it knows one.
    fn last_id(&self, channel: &str) -> Option<String>;

    /// Tells the backend the session ended: a `POST` with an empty body to `uri`
    /// (`Grip-Link: <uri>; rel=gone`, Pushpin 1.41+). Fire and forget.
    fn gone(&self, uri: &str);
}

/// How long to wait before fetch number `attempt` (2 or more) of a failing link: one second,
/// doubling, plus up to a second of jitter so that many sessions do not retry in step.
pub fn retry_delay(attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(2).min(10);
    RETRY_FIRST * 2u32.pow(doublings) + Duration::from_millis(fastrand::u64(0..1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_one_second_doubling_with_jitter() {
        for (attempt, base) in [(2, 1), (3, 2), (4, 4), (6, 16)] {
            let d = retry_delay(attempt);
            assert!(
                d >= Duration::from_secs(base) && d < Duration::from_secs(base + 1),
                "{attempt}: {d:?}"
            );
        }
    }
}
