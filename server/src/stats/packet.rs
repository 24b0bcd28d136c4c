//! Stats packets (§5.6) and their encodings: one frame `<type> T<tnetstring dict>`, or
//! `<type> J<json object>` with `stats_format=json`.
//!
//! Fields are written in sorted key order in both encodings: Pushpin's JSON is sorted (Qt's
//! `QJsonObject`), its tnetstring in hash order, which no reader can rely on. Integers are
//! integers (`ttl`, `count`, `subscribers` …), flags are `true` and only ever present when true
//! (`ssl`, `unavailable`), as Pushpin writes them.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use protocol::tnetstring::Writer;

use super::conn::{ConnKind, Counter, COUNTERS};
use crate::hub::{Message, Mode};

/// How packets are encoded (`stats_format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// `T` + tnetstring (the default).
    #[default]
    TnetString,
    /// `J` + compact JSON.
    Json,
}

/// One `report`: a route's totals over `duration_ms`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The route's explicit id (none: everything else).
    pub route: Option<Arc<str>>,
    /// Most connections open at once.
    pub connections: u64,
    /// Connection-minutes.
    pub minutes: u64,
    /// Items published.
    pub received: u64,
    /// Deliveries to sessions.
    pub sent: u64,
    /// Deliveries to response holds.
    pub http_response_sent: u64,
    /// Milliseconds covered.
    pub duration_ms: u64,
    /// Byte and message counters, in the order of [`Counter::ALL`].
    pub counters: [u64; COUNTERS],
}

/// A stats packet.
#[derive(Clone, Debug)]
pub enum Packet {
    /// A connection is open (sent when it opens, then as a refresh).
    Conn {
        /// The connection's number; the id is `<from>:<id>`.
        id: u64,
        /// The route's explicit id.
        route: Option<Arc<str>>,
        /// `http` or `ws`.
        kind: ConnKind,
        /// The client's address.
        peer: Option<IpAddr>,
        /// Sent only when true.
        ssl: bool,
        /// Seconds until a consumer may forget it (`stats_connection_ttl`).
        ttl: u32,
    },
    /// A connection closed.
    ConnGone {
        /// The connection's number.
        id: u64,
        /// The route's explicit id.
        route: Option<Arc<str>>,
    },
    /// Sessions in `mode` are subscribed to `channel` (sent at first, on changes, as a refresh).
    Sub {
        /// The sessions' mode.
        mode: Mode,
        /// The channel.
        channel: Arc<str>,
        /// Seconds until a consumer may forget it (`stats_subscription_ttl`).
        ttl: u32,
        /// How many sessions.
        subscribers: usize,
    },
    /// No session in `mode` is subscribed to `channel` any more.
    SubGone {
        /// The sessions' mode.
        mode: Mode,
        /// The channel.
        channel: Arc<str>,
    },
    /// An item went to `count` sessions in `mode`.
    Message {
        /// The item.
        message: Message,
        /// Its receivers.
        count: usize,
        /// Which of its formats (`http-response`, `http-stream`, `ws-message`).
        mode: Mode,
    },
    /// Requests on a route.
    Activity {
        /// The route's explicit id.
        route: Option<Arc<str>>,
        /// How many.
        count: u64,
    },
    /// Totals of one route.
    Report(Report),
    /// Requests received, all routes.
    Counts {
        /// How many.
        requests_received: u64,
    },
}

/// A value in a packet.
enum Field<'a> {
    Str(Cow<'a, str>),
    Int(u64),
    True,
}

impl Packet {
    /// The frame's type word.
    pub fn kind(&self) -> &'static str {
        match self {
            Packet::Conn { .. } | Packet::ConnGone { .. } => "conn",
            Packet::Sub { .. } | Packet::SubGone { .. } => "sub",
            Packet::Message { .. } => "message",
            Packet::Activity { .. } => "activity",
            Packet::Report(_) => "report",
            Packet::Counts { .. } => "counts",
        }
    }

    /// The whole frame, `from` naming this process.
    pub fn encode(&self, from: &str, format: Format) -> Bytes {
        let mut fields = self.fields(from);
        fields.sort_by_key(|(key, _)| *key);
        let mut out = BytesMut::with_capacity(128);
        out.put_slice(self.kind().as_bytes());
        match format {
            Format::TnetString => {
                out.put_slice(b" T");
                write_tnetstring(&mut out, &fields);
            }
            Format::Json => {
                out.put_slice(b" J");
                write_json(&mut out, &fields);
            }
        }
        out.freeze()
    }

    fn fields<'a>(&'a self, from: &'a str) -> Vec<(&'static str, Field<'a>)> {
        let mut f = vec![("from", Field::Str(Cow::Borrowed(from)))];
        let route = |f: &mut Vec<_>, route: &'a Option<Arc<str>>| {
            if let Some(route) = route {
                f.push(("route", Field::Str(Cow::Borrowed(route.as_ref()))));
            }
        };
        match self {
            Packet::Conn {
                id,
                route: r,
                kind,
                peer,
                ssl,
                ttl,
            } => {
                route(&mut f, r);
                f.push(("id", Field::Str(Cow::Owned(format!("{from}:{id}")))));
                f.push(("type", Field::Str(Cow::Borrowed(kind.as_str()))));
                if let Some(peer) = peer {
                    f.push(("peer-address", Field::Str(Cow::Owned(peer.to_string()))));
                }
                if *ssl {
                    f.push(("ssl", Field::True));
                }
                f.push(("ttl", Field::Int(u64::from(*ttl))));
            }
            Packet::ConnGone { id, route: r } => {
                route(&mut f, r);
                f.push(("id", Field::Str(Cow::Owned(format!("{from}:{id}")))));
                f.push(("unavailable", Field::True));
            }
            Packet::Sub {
                mode,
                channel,
                ttl,
                subscribers,
            } => {
                f.push(("mode", Field::Str(Cow::Borrowed(mode.as_str()))));
                f.push(("channel", Field::Str(Cow::Borrowed(channel.as_ref()))));
                f.push(("ttl", Field::Int(u64::from(*ttl))));
                f.push(("subscribers", Field::Int(*subscribers as u64)));
            }
            Packet::SubGone { mode, channel } => {
                f.push(("mode", Field::Str(Cow::Borrowed(mode.as_str()))));
                f.push(("channel", Field::Str(Cow::Borrowed(channel.as_ref()))));
                f.push(("unavailable", Field::True));
            }
            Packet::Message {
                message,
                count,
                mode,
            } => {
                f.push(("channel", Field::Str(Cow::Borrowed(&message.channel))));
                if let Some(id) = &message.id {
                    f.push(("item-id", Field::Str(Cow::Borrowed(id))));
                }
                f.push(("count", Field::Int(*count as u64)));
                f.push(("transport", Field::Str(Cow::Borrowed(transport(*mode)))));
            }
            Packet::Activity { route: r, count } => {
                route(&mut f, r);
                f.push(("count", Field::Int(*count)));
            }
            Packet::Report(report) => {
                route(&mut f, &report.route);
                f.push(("connections", Field::Int(report.connections)));
                f.push(("minutes", Field::Int(report.minutes)));
                f.push(("received", Field::Int(report.received)));
                f.push(("sent", Field::Int(report.sent)));
                f.push(("http-response-sent", Field::Int(report.http_response_sent)));
                f.push(("duration", Field::Int(report.duration_ms)));
                for (counter, value) in Counter::ALL.iter().zip(report.counters) {
                    f.push((counter.name(), Field::Int(value)));
                }
            }
            Packet::Counts { requests_received } => {
                f.push(("requests-received", Field::Int(*requests_received)));
            }
        }
        f
    }
}

/// The `transport` of deliveries to sessions in `mode`: the item format they receive.
pub fn transport(mode: Mode) -> &'static str {
    match mode {
        Mode::Response => "http-response",
        Mode::Stream => "http-stream",
        Mode::Ws => "ws-message",
    }
}

fn write_tnetstring(out: &mut BytesMut, fields: &[(&str, Field<'_>)]) {
    Writer::new(out).dict(|w| {
        for (key, value) in fields {
            w.str(key);
            match value {
                Field::Str(s) => w.str(s),
                Field::Int(n) => w.int(i64::try_from(*n).unwrap_or(i64::MAX)),
                Field::True => w.bool(true),
            }
        }
    });
}

fn write_json(out: &mut BytesMut, fields: &[(&str, Field<'_>)]) {
    let mut text = Vec::with_capacity(128);
    text.push(b'{');
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            text.push(b',');
        }
        json_string(&mut text, key);
        text.push(b':');
        match value {
            Field::Str(s) => json_string(&mut text, s),
            Field::Int(n) => text.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
            Field::True => text.extend_from_slice(b"true"),
        }
    }
    text.push(b'}');
    out.put_slice(&text);
}

fn json_string(out: &mut Vec<u8>, s: &str) {
    // Writing a str to a Vec cannot fail; if it ever did, an empty string keeps the JSON valid.
    if serde_json::to_writer(&mut *out, s).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}

#[cfg(test)]
mod tests {
    use protocol::publish::Item;

    use super::*;

    const FROM: &str = "gripway_42";

    fn t(p: &Packet) -> String {
        String::from_utf8(p.encode(FROM, Format::TnetString).to_vec()).unwrap()
    }

    fn j(p: &Packet) -> String {
        String::from_utf8(p.encode(FROM, Format::Json).to_vec()).unwrap()
    }

    fn conn(route: Option<&str>, ssl: bool, peer: Option<IpAddr>) -> Packet {
        Packet::Conn {
            id: 7,
            route: route.map(Arc::from),
            kind: ConnKind::Http,
            peer,
            ssl,
            ttl: 120,
        }
    }

    #[test]
    fn conn_packets() {
        let local = Some(IpAddr::from([127, 0, 0, 1]));
        assert_eq!(
            t(&conn(None, false, local)),
            "conn T96:4:from,10:gripway_42,2:id,12:gripway_42:7,12:peer-address,9:127.0.0.1,\
             3:ttl,3:120#4:type,4:http,}"
        );
        assert_eq!(
            t(&conn(Some("api"), true, None)),
            "conn T95:4:from,10:gripway_42,2:id,12:gripway_42:7,5:route,3:api,3:ssl,4:true!\
             3:ttl,3:120#4:type,4:http,}"
        );
        let gone = Packet::ConnGone { id: 7, route: None };
        assert_eq!(
            t(&gone),
            "conn T64:4:from,10:gripway_42,2:id,12:gripway_42:7,11:unavailable,4:true!}"
        );
        assert_eq!(
            j(&conn(Some("api"), false, local)),
            r#"conn J{"from":"gripway_42","id":"gripway_42:7","peer-address":"127.0.0.1","route":"api","ttl":120,"type":"http"}"#
        );
    }

    #[test]
    fn sub_packets() {
        let sub = Packet::Sub {
            mode: Mode::Stream,
            channel: Arc::from("ch1"),
            ttl: 60,
            subscribers: 2,
        };
        assert_eq!(
            t(&sub),
            "sub T83:7:channel,3:ch1,4:from,10:gripway_42,4:mode,6:stream,11:subscribers,1:2#\
             3:ttl,2:60#}"
        );
        let gone = Packet::SubGone {
            mode: Mode::Response,
            channel: Arc::from("ch2"),
        };
        assert_eq!(
            t(&gone),
            "sub T77:7:channel,3:ch2,4:from,10:gripway_42,4:mode,8:response,11:unavailable,4:true!}"
        );
        assert_eq!(
            j(&gone),
            r#"sub J{"channel":"ch2","from":"gripway_42","mode":"response","unavailable":true}"#
        );
    }

    #[test]
    fn message_packets_name_the_item_only_when_it_has_an_id() {
        let with_id = Item {
            id: Some("i1".into()),
            ..Item::new("ch1")
        };
        let p = Packet::Message {
            message: Arc::new(with_id),
            count: 1,
            mode: Mode::Stream,
        };
        assert_eq!(
            t(&p),
            "message T91:7:channel,3:ch1,5:count,1:1#4:from,10:gripway_42,7:item-id,2:i1,\
             9:transport,11:http-stream,}"
        );
        let p = Packet::Message {
            message: Arc::new(Item::new("say \"hi\"")),
            count: 3,
            mode: Mode::Response,
        };
        assert_eq!(
            j(&p),
            r#"message J{"channel":"say \"hi\"","count":3,"from":"gripway_42","transport":"http-response"}"#
        );
    }

    #[test]
    fn activity_and_counts_packets() {
        let activity = Packet::Activity {
            route: Some(Arc::from("r")),
            count: 2,
        };
        assert_eq!(
            t(&activity),
            "activity T45:5:count,1:2#4:from,10:gripway_42,5:route,1:r,}"
        );
        let counts = Packet::Counts {
            requests_received: 1,
        };
        assert_eq!(
            t(&counts),
            "counts T46:4:from,10:gripway_42,17:requests-received,1:1#}"
        );
        assert_eq!(
            j(&counts),
            r#"counts J{"from":"gripway_42","requests-received":1}"#
        );
    }

    #[test]
    fn report_packets_have_every_field_but_blocks() {
        let mut counters = [0; COUNTERS];
        counters[Counter::ClientHeaderBytesReceived.index()] = 57;
        let report = Packet::Report(Report {
            route: None,
            connections: 1,
            minutes: 2,
            received: 3,
            sent: 4,
            http_response_sent: 1,
            duration_ms: 10_000,
            counters,
        });
        let json = j(&report);
        assert_eq!(
            json,
            "report J{\"client-content-bytes-received\":0,\"client-content-bytes-sent\":0,\
             \"client-header-bytes-received\":57,\"client-header-bytes-sent\":0,\
             \"client-messages-received\":0,\"client-messages-sent\":0,\"connections\":1,\
             \"duration\":10000,\"from\":\"gripway_42\",\"http-response-sent\":1,\"minutes\":2,\
             \"received\":3,\"sent\":4,\"server-content-bytes-received\":0,\
             \"server-content-bytes-sent\":0,\"server-header-bytes-received\":0,\
             \"server-header-bytes-sent\":0,\"server-messages-received\":0,\
             \"server-messages-sent\":0}"
        );
        let tnet = t(&report);
        assert!(tnet.starts_with("report T"), "{tnet}");
        assert!(
            tnet.contains("28:client-header-bytes-received,2:57#"),
            "{tnet}"
        );
        assert!(!tnet.contains("blocks"), "{tnet}");
    }
}
