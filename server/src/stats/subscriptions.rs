//! `sub` packets: what the stats consumers are told about each (mode, channel), and when.
//!
//! A pure table driven by subscriber counts and a clock, as Pushpin's handler behaves (observed):
//! - the first session on a (mode, channel) is announced at once;
//! - a changed count is announced at the next tick (one per second), so a burst of subscribes
//!   costs one packet;
//! - every (mode, channel) is announced again ¾ of `stats_subscription_ttl` after the last time,
//!   so a consumer that expires entries after `ttl` keeps it;
//! - when the last session leaves, `unavailable` goes at once, except for response holds, which
//!   linger `subscription_linger` seconds first: a long-poll that comes back within that time
//!   continues the same subscription (announced again at once, as Pushpin does).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::packet::Packet;
use crate::hub::Mode;

/// Timing of `sub` packets.
#[derive(Clone, Copy, Debug)]
pub struct SubTimes {
    /// `stats_subscription_ttl`, in seconds, sent in each packet.
    pub ttl: u32,
    /// `subscription_linger`.
    pub linger: Duration,
}

impl SubTimes {
    /// How often a (mode, channel) is announced again: ¾ of the ttl, at least a second.
    fn refresh(&self) -> Duration {
        (Duration::from_secs(u64::from(self.ttl)) * 3 / 4).max(Duration::from_secs(1))
    }
}

struct Entry {
    count: usize,
    last_sent: Instant,
    /// The count changed since it was last sent.
    changed: bool,
    /// No session left: `unavailable` is due then (response holds only).
    linger_until: Option<Instant>,
}

/// Every (mode, channel) the consumers know of.
pub struct Subscriptions {
    times: SubTimes,
    entries: HashMap<(Mode, Arc<str>), Entry>,
}

impl Subscriptions {
    /// An empty table.
    pub fn new(times: SubTimes) -> Self {
        Subscriptions {
            times,
            entries: HashMap::new(),
        }
    }

    /// (mode, channel) pairs known, lingering ones included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `channel` has `count` sessions in `mode` now.
    pub fn set(
        &mut self,
        mode: Mode,
        channel: &Arc<str>,
        count: usize,
        now: Instant,
        out: &mut Vec<Packet>,
    ) {
        let key = (mode, channel.clone());
        let Some(entry) = self.entries.get_mut(&key) else {
            if count > 0 {
                self.entries.insert(
                    key,
                    Entry {
                        count,
                        last_sent: now,
                        changed: false,
                        linger_until: None,
                    },
                );
                out.push(self.packet(mode, channel, count));
            }
            return;
        };
        if count == 0 {
            if entry.linger_until.is_some() {
                return;
            }
            if mode == Mode::Response && !self.times.linger.is_zero() {
                entry.linger_until = Some(now + self.times.linger);
            } else {
                self.entries.remove(&key);
                out.push(Packet::SubGone {
                    mode,
                    channel: channel.clone(),
                });
            }
            return;
        }
        let was = entry.count;
        entry.count = count;
        if entry.linger_until.take().is_some() {
            entry.last_sent = now;
            entry.changed = false;
            out.push(self.packet(mode, channel, count));
        } else if count != was {
            entry.changed = true;
        }
    }

    /// What is due at `now`: changed counts, refreshes, and lingers that ran out.
    pub fn tick(&mut self, now: Instant, out: &mut Vec<Packet>) {
        let refresh = self.times.refresh();
        let ttl = self.times.ttl;
        self.entries.retain(|(mode, channel), entry| {
            if let Some(until) = entry.linger_until {
                if now >= until {
                    out.push(Packet::SubGone {
                        mode: *mode,
                        channel: channel.clone(),
                    });
                    return false;
                }
                return true;
            }
            if entry.changed || now >= entry.last_sent + refresh {
                entry.changed = false;
                entry.last_sent = now;
                out.push(Packet::Sub {
                    mode: *mode,
                    channel: channel.clone(),
                    ttl,
                    subscribers: entry.count,
                });
            }
            true
        });
    }

    /// Makes the table agree with `counts` (every channel that has sessions, and how many per
    /// mode), after change events were lost.
    pub fn resync(
        &mut self,
        counts: &HashMap<(Mode, Arc<str>), usize>,
        now: Instant,
        out: &mut Vec<Packet>,
    ) {
        let gone: Vec<(Mode, Arc<str>)> = self
            .entries
            .keys()
            .filter(|key| !counts.contains_key(*key))
            .cloned()
            .collect();
        for (mode, channel) in gone {
            self.set(mode, &channel, 0, now, out);
        }
        for ((mode, channel), count) in counts {
            self.set(*mode, channel, *count, now, out);
        }
    }

    fn packet(&self, mode: Mode, channel: &Arc<str>, subscribers: usize) -> Packet {
        Packet::Sub {
            mode,
            channel: channel.clone(),
            ttl: self.times.ttl,
            subscribers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Subscriptions {
        Subscriptions::new(SubTimes {
            ttl: 60,
            linger: Duration::from_secs(60),
        })
    }

    /// Each packet as (kind, mode, channel, subscribers or None when unavailable).
    fn seen(out: &mut Vec<Packet>) -> Vec<(&'static str, usize)> {
        out.drain(..)
            .map(|p| match p {
                Packet::Sub {
                    mode, subscribers, ..
                } => (mode.as_str(), subscribers),
                Packet::SubGone { mode, .. } => (mode.as_str(), usize::MAX),
                other => panic!("not a sub packet: {other:?}"),
            })
            .collect()
    }

    const GONE: usize = usize::MAX;

    #[test]
    fn first_at_once_changes_at_the_next_tick_refresh_at_three_quarters_of_ttl() {
        let mut subs = table();
        let ch: Arc<str> = Arc::from("c");
        let t0 = Instant::now();
        let mut out = Vec::new();
        subs.set(Mode::Stream, &ch, 1, t0, &mut out);
        assert_eq!(seen(&mut out), [("stream", 1)]);
        subs.set(Mode::Stream, &ch, 2, t0, &mut out);
        subs.set(Mode::Stream, &ch, 3, t0, &mut out);
        assert!(out.is_empty());
        subs.tick(t0 + Duration::from_secs(1), &mut out);
        assert_eq!(seen(&mut out), [("stream", 3)]);
        subs.tick(t0 + Duration::from_secs(45), &mut out);
        assert!(out.is_empty(), "44 s since the last one");
        subs.tick(t0 + Duration::from_secs(46), &mut out);
        assert_eq!(seen(&mut out), [("stream", 3)]);
    }

    #[test]
    fn streams_leave_at_once() {
        let mut subs = table();
        let ch: Arc<str> = Arc::from("c");
        let t0 = Instant::now();
        let mut out = Vec::new();
        subs.set(Mode::Stream, &ch, 1, t0, &mut out);
        subs.set(Mode::Stream, &ch, 0, t0, &mut out);
        assert_eq!(seen(&mut out), [("stream", 1), ("stream", GONE)]);
        assert!(subs.is_empty());
    }

    #[test]
    fn response_holds_linger_then_leave() {
        let mut subs = table();
        let ch: Arc<str> = Arc::from("c");
        let t0 = Instant::now();
        let mut out = Vec::new();
        subs.set(Mode::Response, &ch, 1, t0, &mut out);
        subs.set(Mode::Response, &ch, 0, t0, &mut out);
        assert_eq!(seen(&mut out), [("response", 1)]);
        // No refresh while lingering, even past the refresh time.
        subs.tick(t0 + Duration::from_secs(59), &mut out);
        assert!(out.is_empty());
        subs.tick(t0 + Duration::from_secs(60), &mut out);
        assert_eq!(seen(&mut out), [("response", GONE)]);
        assert!(subs.is_empty());
    }

    #[test]
    fn a_long_poll_back_within_the_linger_continues_the_subscription() {
        let mut subs = table();
        let ch: Arc<str> = Arc::from("c");
        let t0 = Instant::now();
        let mut out = Vec::new();
        subs.set(Mode::Response, &ch, 1, t0, &mut out);
        subs.set(Mode::Response, &ch, 0, t0, &mut out);
        subs.set(
            Mode::Response,
            &ch,
            1,
            t0 + Duration::from_secs(30),
            &mut out,
        );
        assert_eq!(seen(&mut out), [("response", 1), ("response", 1)]);
        subs.tick(t0 + Duration::from_secs(61), &mut out);
        assert!(out.is_empty(), "the linger was called off");
        assert_eq!(subs.len(), 1);
    }

    #[test]
    fn no_linger_configured_means_at_once() {
        let mut subs = Subscriptions::new(SubTimes {
            ttl: 60,
            linger: Duration::ZERO,
        });
        let ch: Arc<str> = Arc::from("c");
        let mut out = Vec::new();
        let t0 = Instant::now();
        subs.set(Mode::Response, &ch, 1, t0, &mut out);
        subs.set(Mode::Response, &ch, 0, t0, &mut out);
        assert_eq!(seen(&mut out), [("response", 1), ("response", GONE)]);
    }

    #[test]
    fn resync_announces_what_was_missed() {
        let mut subs = table();
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        let t0 = Instant::now();
        let mut out = Vec::new();
        subs.set(Mode::Stream, &a, 1, t0, &mut out);
        out.clear();
        let now: HashMap<(Mode, Arc<str>), usize> = [((Mode::Stream, b.clone()), 2)].into();
        subs.resync(&now, t0, &mut out);
        assert_eq!(seen(&mut out), [("stream", GONE), ("stream", 2)]);
    }
}
