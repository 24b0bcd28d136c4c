//! The stats task: owns the PUB socket bound at `stats_spec` and the [`Engine`], and turns the
//! hooks' events and its timers into packets.
//!
//! Events are taken in batches, `GATHER` after the first of a burst. Timers: a one-second tick
//! (refreshes, changed subscription counts, lingers, and connections that closed while their
//! event was lost), the 100 ms activity window, and the report interval
//! (`stats_report_interval`; 0 sends no reports). A PUB socket drops what a slow or absent
//! subscriber cannot take, so sending never blocks this task for long, and nothing else waits
//! for it.
//!
//! Packets are encoded only while some subscriber is connected (the socket's monitor says who
//! connects and leaves; its queue holds 1,024 events, read before every send): a PUB without
//! subscribers tells nobody anything, and encoding is most of this task's work. The state is
//! kept either way, so a subscriber that connects later hears of every open connection and
//! subscription at their next refresh.
//!
//! Cost, measured with `GET /` on the test route (release build, `wrk -t1 -c50 -d4s`, the
//! gripway process's CPU time per request, best of 5 runs on the 2-core machine): 7.2 µs with
//! no `stats_spec`, 7.7 µs with the socket bound and nobody subscribed, 10.1 µs with a SUB
//! reading every packet (three per request; most of the difference is the `zeromq` crate's PUB
//! send path). All of it is spent on this task and the socket's, not while a request waits.
//!
//! An `ipc://` spec gets its folder created, and a socket file left by a process that died is
//! replaced; a socket another process answers on fails start-up as a taken port does, and a
//! path that is not a socket is never removed. (Pushpin's libzmq removes whatever is there.)

use std::collections::{HashMap, HashSet};
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};
use zeromq::{Socket, SocketEvent, SocketSend, ZmqMessage};

use super::engine::{Engine, EngineConfig};
use super::packet::{Format, Packet};
use super::{Feed, Query, Stats};
use crate::hub::{Hub, Mode};
use crate::publish::zmq_inputs::InputError;

/// How often refreshes and lingers are looked at (Pushpin's one second).
const TICK: Duration = Duration::from_secs(1);

/// How long events gather in the queue before the task takes them. Taking each event as it
/// comes would wake this task, often on another thread, once per event; gathered, senders wake
/// nobody while the task sleeps. Pushpin's stats run on a 10 ms timer wheel too.
const GATHER: Duration = Duration::from_millis(10);

/// Most events taken in one go before the packets they made are sent.
const BATCH: usize = 65_536;

/// What the publisher needs to know.
#[derive(Clone, Debug)]
pub struct PublisherConfig {
    /// Timings of refreshes and lingers.
    pub engine: EngineConfig,
    /// `stats_report_interval`; `None` sends no reports.
    pub report_interval: Option<Duration>,
    /// `stats_format`.
    pub format: Format,
    /// The `from` of every packet.
    pub from: String,
}

/// The `from` of this process's packets, as its ZHTTP packets name it.
pub fn instance_id() -> String {
    format!("gripway_{}", std::process::id())
}

/// The socket's next connection event, if one is waiting.
type Monitor = Box<dyn FnMut() -> Option<SocketEvent> + Send>;

/// A bound stats socket.
pub struct StatsPublisher {
    socket: zeromq::PubSocket,
    monitor: Monitor,
    /// Identities of the subscribers connected now.
    peers: HashSet<Vec<u8>>,
}

impl StatsPublisher {
    /// Binds a PUB socket at `spec`.
    pub async fn bind(spec: &str) -> Result<StatsPublisher, InputError> {
        if let Some(path) = spec.strip_prefix("ipc://") {
            prepare_ipc(Path::new(path))
                .map_err(|e| InputError::new(spec, zeromq::ZmqError::Network(e)))?;
        }
        let mut socket = zeromq::PubSocket::new();
        let mut events = socket.monitor();
        let monitor: Monitor = Box::new(move || events.try_recv().ok());
        socket
            .bind(spec)
            .await
            .map_err(|source| InputError::new(spec, source))?;
        Ok(StatsPublisher {
            socket,
            monitor,
            peers: HashSet::new(),
        })
    }

    /// Publishes until `shutdown` turns true or every [`Stats`] handle is gone.
    pub async fn run(
        mut self,
        stats: Stats,
        feed: Feed,
        hub: Arc<Hub>,
        config: PublisherConfig,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let Feed {
            mut events,
            mut queries,
        } = feed;
        let mut engine = Engine::new(config.engine);
        let mut tick = tokio::time::interval_at(Instant::now() + TICK, TICK);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut reports = config.report_interval.map(|every| {
            let mut i = tokio::time::interval_at(Instant::now() + every, every);
            i.set_missed_tick_behavior(MissedTickBehavior::Delay);
            i
        });
        let mut out = Vec::new();
        let mut dropped_logged = 0;
        loop {
            let activity_due = engine.activity_due();
            tokio::select! {
                event = events.recv() => {
                    let Some(event) = event else { return };
                    tokio::time::sleep(GATHER).await;
                    let now = Instant::now();
                    engine.apply(event, now, &mut out);
                    for _ in 1..BATCH {
                        let Ok(event) = events.try_recv() else { break };
                        engine.apply(event, now, &mut out);
                    }
                }
                _ = tick.tick() => {
                    let now = Instant::now();
                    if stats.take_lost() {
                        engine.resync_subscriptions(&subscriber_counts(&hub), now, &mut out);
                    }
                    engine.tick(now, &mut out);
                    dropped_logged = log_dropped(&stats, dropped_logged);
                }
                _ = sleep_until(activity_due), if activity_due.is_some() => {
                    engine.flush_activity(&mut out);
                }
                _ = next_report(&mut reports) => engine.report(Instant::now(), &mut out),
                Some(query) = queries.recv() => {
                    // Events still queued may open or close the connections asked about.
                    let now = Instant::now();
                    while let Ok(event) = events.try_recv() {
                        engine.apply(event, now, &mut out);
                    }
                    answer(&engine, query);
                }
                _ = shutdown.changed() => return,
            }
            self.send(&mut out, &config).await;
        }
    }

    /// Takes in the subscribers that connected or left since the last call.
    fn follow_peers(&mut self) {
        while let Some(event) = (self.monitor)() {
            match event {
                SocketEvent::Accepted(_, peer) => {
                    self.peers.insert(peer.to_vec());
                }
                SocketEvent::Disconnected(peer) => {
                    self.peers.remove(&peer[..]);
                }
                _ => {}
            }
        }
    }

    async fn send(&mut self, packets: &mut Vec<Packet>, config: &PublisherConfig) {
        self.follow_peers();
        if self.peers.is_empty() {
            packets.clear();
            return;
        }
        for packet in packets.drain(..) {
            let frame = packet.encode(&config.from, config.format);
            if let Err(e) = self.socket.send(ZmqMessage::from(frame)).await {
                tracing::debug!(error = %e, "stats packet not sent");
            }
        }
    }
}

fn answer(engine: &Engine, query: Query) {
    let open = query
        .ids
        .into_iter()
        .filter(|&id| engine.is_open(id))
        .collect();
    // The asker may have given up waiting.
    let _ = query.reply.send(open);
}

/// Every (mode, channel) with sessions, and how many, as the hub has them now.
fn subscriber_counts(hub: &Hub) -> HashMap<(Mode, Arc<str>), usize> {
    let mut counts = HashMap::new();
    for (channel, modes) in hub.subscriber_counts() {
        for mode in Mode::ALL {
            let n = modes.get(mode);
            if n > 0 {
                counts.insert((mode, channel.clone()), n);
            }
        }
    }
    counts
}

/// Warns when events were dropped since the last warning; returns the total warned about.
fn log_dropped(stats: &Stats, logged: u64) -> u64 {
    let dropped = stats.dropped_total();
    if dropped > logged {
        tracing::warn!(
            dropped = dropped - logged,
            total = dropped,
            "stats queue full: events dropped (stats lag; requests and publishes do not)"
        );
    }
    dropped
}

async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due).await,
        None => std::future::pending().await,
    }
}

async fn next_report(reports: &mut Option<tokio::time::Interval>) {
    match reports {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Makes room for an ipc socket at `path`: its folder, and no stale socket file.
fn prepare_ipc(path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    "another process is listening on this socket",
                ));
            }
            tracing::debug!(path = %path.display(), "removing a stale stats socket file");
            std::fs::remove_file(path)
        }
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "a file that is not a socket is in the way (not removed)",
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipc_paths_get_their_folder_and_lose_stale_sockets() {
        let dir = std::env::temp_dir().join(format!("gripway-stats-ipc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("sub").join("stats");
        prepare_ipc(&path).unwrap();
        assert!(path.parent().unwrap().is_dir());
        // A socket nobody listens on any more.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        prepare_ipc(&path).unwrap();
        assert!(!path.exists());
        // A live one is left alone.
        let live = std::os::unix::net::UnixListener::bind(&path).unwrap();
        assert_eq!(
            prepare_ipc(&path).unwrap_err().kind(),
            io::ErrorKind::AddrInUse
        );
        drop(live);
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"not a socket").unwrap();
        assert_eq!(
            prepare_ipc(&path).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
