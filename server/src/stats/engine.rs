//! The state behind the stats packets: open connections, subscriptions, pending activity and the
//! reports, driven by [`Event`]s and a clock. No socket and no task: the publisher calls it and
//! sends what it returns, and tests call it with instants of their own.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::conn::ConnInfo;
use super::packet::Packet;
use super::report::Reports;
use super::subscriptions::{SubTimes, Subscriptions};
use super::Event;
use crate::hub::Mode;

/// How long requests are gathered into one `activity` and `counts` packet (Pushpin's 100 ms).
pub const ACTIVITY_WINDOW: Duration = Duration::from_millis(100);

/// A minute of connection time.
const MINUTE: Duration = Duration::from_secs(60);

/// Timing settings.
#[derive(Clone, Copy, Debug)]
pub struct EngineConfig {
    /// `stats_connection_ttl`, seconds.
    pub conn_ttl: u32,
    /// `stats_subscription_ttl` and `subscription_linger`.
    pub subs: SubTimes,
}

struct OpenConn {
    info: Arc<ConnInfo>,
    last_sent: Instant,
    /// Connection-minutes are counted up to here.
    minutes_from: Instant,
}

/// Everything the stats know.
pub struct Engine {
    config: EngineConfig,
    conns: HashMap<u64, OpenConn>,
    open_per_route: HashMap<Option<Arc<str>>, usize>,
    subs: Subscriptions,
    reports: Reports,
    activity: HashMap<Option<Arc<str>>, u64>,
    requests: u64,
    activity_due: Option<Instant>,
}

impl Engine {
    /// Nothing known yet.
    pub fn new(config: EngineConfig) -> Self {
        Engine {
            config,
            conns: HashMap::new(),
            open_per_route: HashMap::new(),
            subs: Subscriptions::new(config.subs),
            reports: Reports::default(),
            activity: HashMap::new(),
            requests: 0,
            activity_due: None,
        }
    }

    /// Connections open.
    pub fn open_connections(&self) -> usize {
        self.conns.len()
    }

    /// Whether connection `id` is open (known, and its guard not dropped).
    pub fn is_open(&self, id: u64) -> bool {
        self.conns.get(&id).is_some_and(|c| !c.info.is_closed())
    }

    /// Takes in one event; packets due at once go to `out`.
    pub fn apply(&mut self, event: Event, now: Instant, out: &mut Vec<Packet>) {
        match event {
            Event::Opened(info) => self.open(info, now, out),
            Event::Closed(info) => self.close(info.id, now, out),
            Event::Subscribers {
                mode,
                channel,
                count,
            } => self.subs.set(mode, &channel, count, now, out),
            Event::Published { message, sessions } => {
                self.reports.received(now);
                for mode in Mode::ALL {
                    let has_format = match mode {
                        Mode::Response => message.http_response.is_some(),
                        Mode::Stream => message.http_stream.is_some(),
                        Mode::Ws => message.ws_message.is_some(),
                    };
                    let count = sessions.get(mode);
                    if has_format && count > 0 {
                        self.reports.sent(count, mode == Mode::Response, now);
                        out.push(Packet::Message {
                            message: message.clone(),
                            count,
                            mode,
                        });
                    }
                }
            }
        }
    }

    fn open(&mut self, info: Arc<ConnInfo>, now: Instant, out: &mut Vec<Packet>) {
        if info.is_closed() {
            // Opened and done before the task saw it (a quick response): both packets, so
            // consumers count it, as Pushpin's are for every routed request.
            out.push(self.conn_packet(&info));
            self.count_open(&info.conn.route, 1, now);
            self.reports.minutes(&info.conn.route, 1, now);
            self.count_open(&info.conn.route, -1, now);
            self.reports
                .counters(&info.conn.route, info.take_counters(), now);
            out.push(gone_packet(&info));
        } else {
            out.push(self.conn_packet(&info));
            self.count_open(&info.conn.route, 1, now);
            // A connection counts its first minute when it opens (minutes round up).
            self.reports.minutes(&info.conn.route, 1, now);
            self.conns.insert(
                info.id,
                OpenConn {
                    info: info.clone(),
                    last_sent: now,
                    minutes_from: now,
                },
            );
        }
        *self.activity.entry(info.conn.route.clone()).or_insert(0) += 1;
        self.requests += 1;
        self.activity_due.get_or_insert(now + ACTIVITY_WINDOW);
    }

    fn close(&mut self, id: u64, now: Instant, out: &mut Vec<Packet>) {
        let Some(mut conn) = self.conns.remove(&id) else {
            return;
        };
        self.count_minutes(&mut conn, now);
        let route = &conn.info.conn.route;
        self.reports.counters(route, conn.info.take_counters(), now);
        self.count_open(route, -1, now);
        out.push(gone_packet(&conn.info));
    }

    fn count_open(&mut self, route: &Option<Arc<str>>, delta: isize, now: Instant) {
        let open = self.open_per_route.entry(route.clone()).or_insert(0);
        *open = open.saturating_add_signed(delta);
        let now_open = *open;
        if now_open == 0 {
            self.open_per_route.remove(route);
        }
        self.reports.connections(route, now_open, now);
    }

    fn count_minutes(&mut self, conn: &mut OpenConn, now: Instant) {
        let whole = now.saturating_duration_since(conn.minutes_from).as_secs() / 60;
        if whole > 0 {
            conn.minutes_from += MINUTE * u32::try_from(whole).unwrap_or(u32::MAX);
            self.reports.minutes(&conn.info.conn.route, whole, now);
        }
    }

    fn conn_packet(&self, info: &ConnInfo) -> Packet {
        Packet::Conn {
            id: info.id,
            route: info.conn.route.clone(),
            kind: info.conn.kind,
            peer: info.conn.peer,
            ssl: info.conn.ssl,
            ttl: self.config.conn_ttl,
        }
    }

    /// The one-second tick: connections that closed unseen, refreshes, subscriptions due.
    pub fn tick(&mut self, now: Instant, out: &mut Vec<Packet>) {
        let refresh = (Duration::from_secs(u64::from(self.config.conn_ttl)) * 3 / 4)
            .max(Duration::from_secs(1));
        let closed: Vec<u64> = self
            .conns
            .values()
            .filter(|c| c.info.is_closed())
            .map(|c| c.info.id)
            .collect();
        for id in closed {
            self.close(id, now, out);
        }
        let due: Vec<u64> = self
            .conns
            .values()
            .filter(|c| now >= c.last_sent + refresh)
            .map(|c| c.info.id)
            .collect();
        for id in due {
            if let Some(mut conn) = self.conns.remove(&id) {
                self.count_minutes(&mut conn, now);
                conn.last_sent = now;
                out.push(self.conn_packet(&conn.info));
                self.conns.insert(id, conn);
            }
        }
        self.subs.tick(now, out);
    }

    /// Makes the subscriptions agree with the hub's counts, after events were lost.
    pub fn resync_subscriptions(
        &mut self,
        counts: &HashMap<(Mode, Arc<str>), usize>,
        now: Instant,
        out: &mut Vec<Packet>,
    ) {
        self.subs.resync(counts, now, out);
    }

    /// When the gathered activity is due, if any is waiting.
    pub fn activity_due(&self) -> Option<Instant> {
        self.activity_due
    }

    /// The gathered `activity` (one per route) and `counts` packets.
    pub fn flush_activity(&mut self, out: &mut Vec<Packet>) {
        self.activity_due = None;
        let mut routes: Vec<(Option<Arc<str>>, u64)> = self.activity.drain().collect();
        routes.sort();
        for (route, count) in routes {
            out.push(Packet::Activity { route, count });
        }
        if self.requests > 0 {
            out.push(Packet::Counts {
                requests_received: std::mem::take(&mut self.requests),
            });
        }
    }

    /// The `report` packets, ending the interval at `now`.
    pub fn report(&mut self, now: Instant, out: &mut Vec<Packet>) {
        for conn in self.conns.values() {
            let counts = conn.info.take_counters();
            self.reports.counters(&conn.info.conn.route, counts, now);
        }
        let open = &self.open_per_route;
        out.extend(
            self.reports
                .flush(now, |route| open.get(route).copied().unwrap_or(0)),
        );
    }
}

fn gone_packet(info: &ConnInfo) -> Packet {
    Packet::ConnGone {
        id: info.id,
        route: info.conn.route.clone(),
    }
}

#[cfg(test)]
mod tests {
    use protocol::publish::{HttpResponse, HttpStream, Item};

    use super::*;
    use crate::hub::channels::ModeCounts;
    use crate::stats::conn::{Counter, NewConn};
    use crate::stats::packet::Report;
    use crate::stats::Stats;

    fn engine() -> Engine {
        Engine::new(EngineConfig {
            conn_ttl: 120,
            subs: SubTimes {
                ttl: 60,
                linger: Duration::from_secs(60),
            },
        })
    }

    /// Opens a connection through a real sink, returning the guard and its event.
    fn opened(
        stats: &Stats,
        rx: &mut tokio::sync::mpsc::Receiver<Event>,
        route: Option<&str>,
    ) -> (crate::stats::ConnGuard, Event) {
        let guard = stats.open(NewConn {
            route: route.map(Arc::from),
            ..NewConn::default()
        });
        (guard, rx.try_recv().unwrap())
    }

    fn kinds(out: &[Packet]) -> Vec<&'static str> {
        out.iter()
            .map(|p| match p {
                Packet::ConnGone { .. } | Packet::SubGone { .. } => "gone",
                other => other.kind(),
            })
            .collect()
    }

    fn report_of(out: &[Packet], route: Option<&str>) -> Report {
        out.iter()
            .find_map(|p| match p {
                Packet::Report(r) if r.route.as_deref() == route => Some(r.clone()),
                _ => None,
            })
            .expect("a report for the route")
    }

    #[test]
    fn a_request_opens_counts_activity_and_closes() {
        let (stats, feed) = Stats::channel(8);
        let mut rx = feed.events;
        let mut e = engine();
        let t0 = Instant::now();
        let mut out = Vec::new();
        let (guard, event) = opened(&stats, &mut rx, Some("api"));
        e.apply(event, t0, &mut out);
        assert_eq!(kinds(&out), ["conn"]);
        assert_eq!(e.activity_due(), Some(t0 + ACTIVITY_WINDOW));
        guard.add(Counter::ClientHeaderBytesReceived, 57);
        drop(guard);
        e.apply(rx.try_recv().unwrap(), t0, &mut out);
        assert_eq!(kinds(&out), ["conn", "gone"]);
        out.clear();
        e.flush_activity(&mut out);
        assert!(matches!(
            &out[..],
            [
                Packet::Activity {
                    count: 1,
                    route: Some(_)
                },
                Packet::Counts {
                    requests_received: 1
                }
            ]
        ));
        out.clear();
        e.report(t0 + Duration::from_secs(10), &mut out);
        let api = report_of(&out, Some("api"));
        assert_eq!((api.connections, api.minutes), (1, 1));
        assert_eq!(api.counters[Counter::ClientHeaderBytesReceived.index()], 57);
    }

    #[test]
    fn open_connections_are_refreshed_and_count_minutes() {
        let (stats, feed) = Stats::channel(8);
        let mut rx = feed.events;
        let mut e = engine();
        let t0 = Instant::now();
        let mut out = Vec::new();
        let (guard, event) = opened(&stats, &mut rx, None);
        e.apply(event, t0, &mut out);
        out.clear();
        e.tick(t0 + Duration::from_secs(89), &mut out);
        assert!(out.is_empty());
        e.tick(t0 + Duration::from_secs(90), &mut out);
        assert_eq!(kinds(&out), ["conn"]);
        out.clear();
        e.report(t0 + Duration::from_secs(91), &mut out);
        // One minute when it opened, one full minute since.
        assert_eq!(report_of(&out, None).minutes, 2);
        drop(guard);
    }

    #[test]
    fn a_lost_closing_event_is_found_at_the_next_tick() {
        let (stats, feed) = Stats::channel(8);
        let mut rx = feed.events;
        let mut e = engine();
        let t0 = Instant::now();
        let mut out = Vec::new();
        let (guard, event) = opened(&stats, &mut rx, None);
        e.apply(event, t0, &mut out);
        drop(guard);
        let _lost = rx.try_recv();
        out.clear();
        e.tick(t0 + Duration::from_secs(1), &mut out);
        assert_eq!(kinds(&out), ["gone"]);
        assert_eq!(e.open_connections(), 0);
    }

    #[test]
    fn message_packets_per_transport_with_sessions() {
        let mut e = engine();
        let t0 = Instant::now();
        let mut out = Vec::new();
        let item = Item {
            http_response: Some(HttpResponse::default()),
            http_stream: Some(HttpStream::default()),
            ..Item::new("c")
        };
        let channel: Arc<str> = Arc::from("c");
        e.apply(
            Event::Subscribers {
                mode: Mode::Stream,
                channel: channel.clone(),
                count: 2,
            },
            t0,
            &mut out,
        );
        let sessions = ModeCounts::new(0, 2, 0);
        e.apply(
            Event::Published {
                message: Arc::new(item),
                sessions,
            },
            t0,
            &mut out,
        );
        assert_eq!(kinds(&out), ["sub", "message"]);
        assert!(matches!(
            &out[1],
            Packet::Message {
                count: 2,
                mode: Mode::Stream,
                ..
            }
        ));
        out.clear();
        e.apply(
            Event::Published {
                message: Arc::new(Item::new("nobody")),
                sessions: ModeCounts::default(),
            },
            t0,
            &mut out,
        );
        assert!(out.is_empty());
        e.report(t0, &mut out);
        let all = report_of(&out, None);
        assert_eq!((all.received, all.sent, all.http_response_sent), (2, 2, 0));
    }
}
