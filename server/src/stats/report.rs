//! `report` packets: totals per route over each `stats_report_interval`.
//!
//! One report per route with an explicit id, and one without a route for the rest, created when
//! something first happens on its route. At each interval every report is sent and starts again;
//! a report whose `connections` was 0 is then dropped, until its route sees activity again (as
//! Pushpin does, observed: an idle route sends one report of zeros, then nothing).
//!
//! `connections` is the most connections open at once since the last report: when a report
//! starts it is "stale", and the next change of the route's open connections (or the next
//! report) sets it to the number open; each later change raises it if higher.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::time::Instant;

use super::conn::COUNTERS;
use super::packet::{Packet, Report};

/// A route's report in progress.
struct RouteReport {
    started: Instant,
    connections: u64,
    /// `connections` is from before the last report: the next count replaces it.
    stale: bool,
    minutes: u64,
    received: u64,
    sent: u64,
    http_response_sent: u64,
    counters: [u64; COUNTERS],
}

impl RouteReport {
    fn new(now: Instant) -> Self {
        RouteReport {
            started: now,
            connections: 0,
            stale: true,
            minutes: 0,
            received: 0,
            sent: 0,
            http_response_sent: 0,
            counters: [0; COUNTERS],
        }
    }

    fn open_now(&mut self, open: usize) {
        let open = open as u64;
        self.connections = if self.stale {
            open
        } else {
            self.connections.max(open)
        };
        self.stale = false;
    }
}

/// The reports of every route.
#[derive(Default)]
pub struct Reports {
    routes: HashMap<Option<Arc<str>>, RouteReport>,
}

impl Reports {
    fn route(&mut self, route: &Option<Arc<str>>, now: Instant) -> &mut RouteReport {
        self.routes
            .entry(route.clone())
            .or_insert_with(|| RouteReport::new(now))
    }

    /// `route` has `open` connections now (one opened or closed).
    pub fn connections(&mut self, route: &Option<Arc<str>>, open: usize, now: Instant) {
        self.route(route, now).open_now(open);
    }

    /// Adds connection-minutes to `route`.
    pub fn minutes(&mut self, route: &Option<Arc<str>>, minutes: u64, now: Instant) {
        let report = self.route(route, now);
        report.minutes = report.minutes.saturating_add(minutes);
    }

    /// An item was published (counted without a route, as Pushpin does).
    pub fn received(&mut self, now: Instant) {
        let report = self.route(&None, now);
        report.received = report.received.saturating_add(1);
    }

    /// An item went to `count` sessions, `response` ones if it was their format (counted without
    /// a route, as Pushpin 1.36 does).
    pub fn sent(&mut self, count: usize, response: bool, now: Instant) {
        let report = self.route(&None, now);
        let count = count as u64;
        report.sent = report.sent.saturating_add(count);
        if response {
            report.http_response_sent = report.http_response_sent.saturating_add(count);
        }
    }

    /// Adds a connection's byte and message counts to `route`.
    pub fn counters(&mut self, route: &Option<Arc<str>>, counts: [u64; COUNTERS], now: Instant) {
        if counts.iter().all(|&n| n == 0) {
            return;
        }
        let report = self.route(route, now);
        for (total, n) in report.counters.iter_mut().zip(counts) {
            *total = total.saturating_add(n);
        }
    }

    /// Every report, ended at `now` (`open` says how many connections a route has open); then
    /// each starts again, and those that had no connection are forgotten.
    pub fn flush(
        &mut self,
        now: Instant,
        open: impl Fn(&Option<Arc<str>>) -> usize,
    ) -> Vec<Packet> {
        let mut out = Vec::with_capacity(self.routes.len());
        self.routes.retain(|route, report| {
            if report.stale {
                report.open_now(open(route));
            }
            let duration = now.saturating_duration_since(report.started);
            out.push(Packet::Report(Report {
                route: route.clone(),
                connections: report.connections,
                minutes: report.minutes,
                received: report.received,
                sent: report.sent,
                http_response_sent: report.http_response_sent,
                duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
                counters: report.counters,
            }));
            let had_connections = report.connections > 0;
            *report = RouteReport {
                connections: report.connections,
                ..RouteReport::new(now)
            };
            had_connections
        });
        // The route-less report first, then the routes by name: a stable order for readers.
        out.sort_by(|a, b| match (a, b) {
            (Packet::Report(a), Packet::Report(b)) => a.route.cmp(&b.route),
            _ => std::cmp::Ordering::Equal,
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn reports(packets: Vec<Packet>) -> Vec<Report> {
        packets
            .into_iter()
            .map(|p| match p {
                Packet::Report(r) => r,
                other => panic!("not a report: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn connections_is_the_most_open_at_once_and_idle_reports_stop() {
        let mut r = Reports::default();
        let t0 = Instant::now();
        let api: Option<Arc<str>> = Some(Arc::from("api"));
        r.connections(&api, 1, t0);
        r.connections(&api, 2, t0);
        r.connections(&api, 1, t0);
        r.minutes(&api, 2, t0);
        let first = reports(r.flush(t0 + Duration::from_secs(10), |_| 1));
        assert_eq!(first.len(), 1);
        assert_eq!((first[0].connections, first[0].minutes), (2, 2));
        assert_eq!(first[0].duration_ms, 10_000);
        // Still one open: reported, with the count taken at report time.
        let second = reports(r.flush(t0 + Duration::from_secs(20), |_| 1));
        assert_eq!((second[0].connections, second[0].minutes), (1, 0));
        // It closed: a report of zeros, once.
        r.connections(&api, 0, t0 + Duration::from_secs(25));
        let third = reports(r.flush(t0 + Duration::from_secs(30), |_| 0));
        assert_eq!(third[0].connections, 0);
        assert!(r.flush(t0 + Duration::from_secs(40), |_| 0).is_empty());
    }

    #[test]
    fn items_and_deliveries_go_to_the_report_without_a_route() {
        let mut r = Reports::default();
        let t0 = Instant::now();
        r.received(t0);
        r.sent(3, true, t0);
        r.sent(2, false, t0);
        let api: Option<Arc<str>> = Some(Arc::from("api"));
        let mut counts = [0; COUNTERS];
        counts[0] = 57;
        r.counters(&api, counts, t0);
        let out = reports(r.flush(t0, |_| 0));
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].route, None);
        assert_eq!(
            (out[0].received, out[0].sent, out[0].http_response_sent),
            (1, 5, 3)
        );
        assert_eq!(out[1].route.as_deref(), Some("api"));
        assert_eq!(out[1].counters[0], 57);
    }
}
