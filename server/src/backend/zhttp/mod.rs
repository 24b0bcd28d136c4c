//! `zhttp/<spec>` route targets (§2.7): streaming ZeroMQ workers.
//!
//! gripway binds three sockets per spec ([`Endpoints`]): a PUSH that hands each request's first
//! packet to one worker, a ROUTER that sends the later packets of a request (credits,
//! keep-alives, request body, cancel) to the worker that answered it, addressed by that worker's
//! `from`, and a SUB on which every worker publishes its packets as `<our address> T…`.
//!
//! Each request is a session with its own task (`session.rs`): sequence numbers both ways, flow
//! control by credits (the worker may send at most the bytes granted; more is a violation and
//! ends the session), keep-alives every 45 s, expiry after 60 s of silence, and a `cancel` to
//! the worker when the client goes away. The response body reaches the client through a small
//! queue; credits go back to the worker as the client takes the body, so a slow client slows
//! its worker, not anyone else.
//!
//! The socket tasks never wait on a session: a session's inbox is bounded, and a worker that
//! overfills it (by ignoring flow control) loses that session. A worker that stops reading its
//! ROUTER delays control packets by at most [`ROUTER_SEND_TIMEOUT`] each, then they are dropped.

mod endpoints;
mod session;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use protocol::zhttp::{self, Id};
use tokio::sync::{mpsc, oneshot};
use zeromq::{Socket, SocketRecv, SocketSend, ZmqMessage};

pub use self::endpoints::{Endpoints, SpecError};
pub use self::session::{Head, ResponseStream, StreamBody, EXPIRE, INITIAL_CREDITS, KEEP_ALIVE};
use crate::frontend::body::BodyError;

/// How often a first packet is offered again while no worker is connected.
const RETRY: Duration = Duration::from_millis(50);
/// First packets waiting for the PUSH socket; a full queue makes requests wait.
const PUSH_QUEUE: usize = 1024;
/// Later packets waiting for the ROUTER socket.
const ROUTER_QUEUE: usize = 4096;
/// How long one ROUTER send may wait for a worker that does not read.
pub const ROUTER_SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a `zhttp/` target cannot be bound.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// The spec does not name endpoints.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A socket could not be bound.
    #[error("{endpoint}: {source}")]
    Zmq {
        /// The endpoint that failed.
        endpoint: String,
        /// What ZeroMQ said.
        source: zeromq::ZmqError,
    },
}

/// The live sessions: each one's inbox, by request id.
type Sessions = Mutex<HashMap<Bytes, mpsc::Sender<zhttp::Response>>>;

/// What the sessions share with the socket tasks.
struct Shared {
    /// Our address: the `from` of our packets, and the prefix of the workers' answers.
    address: Bytes,
    push: mpsc::Sender<(Bytes, Bytes)>,
    router: mpsc::Sender<(Bytes, Bytes)>,
    sessions: Sessions,
}

impl Shared {
    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<Bytes, mpsc::Sender<zhttp::Response>>> {
        // Every mutation is one insert or remove, so a poisoned map is still consistent.
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_live(&self, id: &Bytes) -> bool {
        self.sessions().contains_key(id)
    }

    /// Hands a worker's packet to its session. A session whose inbox is full has a worker that
    /// ignores flow control: it loses its inbox, which ends it.
    fn deliver(&self, id: &Bytes, packet: zhttp::Response) {
        let mut sessions = self.sessions();
        let Some(inbox) = sessions.get(id) else {
            tracing::debug!("zhttp packet for an unknown id dropped");
            return;
        };
        if let Err(e) = inbox.try_send(packet) {
            if matches!(e, mpsc::error::TrySendError::Full(_)) {
                tracing::warn!("zhttp worker overran its session's inbox; session ended");
            }
            sessions.remove(id);
        }
    }

    /// Splits a multi-id packet (batched keep-alives and credits) into one per session.
    fn dispatch(&self, packet: zhttp::Response) {
        match &packet.id {
            Id::Single(id) => {
                let id = id.clone();
                self.deliver(&id, packet);
            }
            Id::Multi(entries) => {
                for entry in entries {
                    let mut one = packet.clone();
                    one.id = Id::Single(entry.id.clone());
                    one.seq = entry.seq;
                    self.deliver(&entry.id, one);
                }
            }
        }
    }
}

/// The three bound sockets of one `zhttp/` spec.
pub struct ZhttpBackend {
    shared: Arc<Shared>,
    /// Dropped with the backend, which ends the receiving tasks.
    _stop: oneshot::Sender<()>,
}

impl ZhttpBackend {
    /// Binds the sockets of `spec` and starts their tasks (a tokio runtime must be running).
    pub async fn bind(spec: &str) -> Result<Arc<ZhttpBackend>, BindError> {
        let endpoints = Endpoints::from_spec(spec)?;
        let address = Bytes::from(crate::instance_id());
        let bind_failed = |endpoint: &str| {
            let endpoint = endpoint.to_owned();
            move |source| BindError::Zmq { endpoint, source }
        };
        let mut push = zeromq::PushSocket::new();
        push.bind(&endpoints.push)
            .await
            .map_err(bind_failed(&endpoints.push))?;
        let mut router = zeromq::RouterSocket::new();
        router
            .bind(&endpoints.router)
            .await
            .map_err(bind_failed(&endpoints.router))?;
        let mut sub = zeromq::SubSocket::new();
        sub.bind(&endpoints.sub)
            .await
            .map_err(bind_failed(&endpoints.sub))?;
        let prefix = zhttp::subscription(&address);
        // The address is ASCII (`gripway_<pid>`), so the prefix is text.
        sub.subscribe(&String::from_utf8_lossy(&prefix))
            .await
            .map_err(bind_failed(&endpoints.sub))?;

        let (push_tx, push_rx) = mpsc::channel(PUSH_QUEUE);
        let (router_tx, router_rx) = mpsc::channel(ROUTER_QUEUE);
        let shared = Arc::new(Shared {
            address,
            push: push_tx,
            router: router_tx,
            sessions: Mutex::default(),
        });
        let (stop, stopped) = oneshot::channel();
        let (router_send, router_recv) = router.split();
        let stopped = StopSignal::new(stopped);
        tokio::spawn(push_loop(push, push_rx, shared.clone()));
        tokio::spawn(router_send_loop(router_send, router_rx));
        tokio::spawn(router_recv_loop(
            router_recv,
            shared.clone(),
            stopped.clone(),
        ));
        tokio::spawn(sub_loop(sub, shared.clone(), stopped));
        Ok(Arc::new(ZhttpBackend {
            shared,
            _stop: stop,
        }))
    }

    /// Sends `request` to a worker and waits for the head of its answer. The request's own
    /// `id`, `seq`, `from`, `stream`, `credits` and `ext` are set here. `rest` is the request
    /// body still arriving from the client (then `request.body` holds none); it is sent as the
    /// worker grants credits.
    pub async fn open(
        &self,
        request: zhttp::Request,
        rest: Option<mpsc::Receiver<Result<Bytes, BodyError>>>,
    ) -> Result<ResponseStream, StreamError> {
        session::open(self.shared.clone(), request, rest).await
    }
}

/// Ends the receiving tasks when the backend is dropped; cloneable so both tasks can wait.
#[derive(Clone)]
struct StopSignal(tokio::sync::watch::Receiver<bool>);

impl StopSignal {
    fn new(stopped: oneshot::Receiver<()>) -> Self {
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let _ = stopped.await;
            let _ = tx.send(true);
        });
        StopSignal(rx)
    }

    async fn wait(&mut self) {
        let _ = self.0.wait_for(|stopped| *stopped).await;
    }
}

/// Why a `zhttp/` request failed.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// No worker answered, or the session expired.
    #[error("zhttp service for route is unreachable.")]
    Unreachable,
    /// The worker answered with an error packet.
    #[error("zhttp service for route failed: {}", condition_text(.0))]
    Condition(zhttp::Condition),
    /// The worker cancelled the request.
    #[error("zhttp service for route cancelled the request.")]
    Cancelled,
    /// The worker broke the protocol (sequence, flow control, packet shape).
    #[error("zhttp service for route broke the protocol: {0}")]
    Protocol(&'static str),
    /// The response body was longer than the reader allows.
    #[error("zhttp response too large")]
    TooLarge,
}

fn condition_text(condition: &zhttp::Condition) -> String {
    String::from_utf8_lossy(condition.as_bytes()).into_owned()
}

/// Sends first packets round-robin over the connected workers; while none is connected, a
/// packet is offered again every [`RETRY`] until its session ends.
async fn push_loop(
    mut socket: zeromq::PushSocket,
    mut queue: mpsc::Receiver<(Bytes, Bytes)>,
    shared: Arc<Shared>,
) {
    while let Some((id, packet)) = queue.recv().await {
        while shared.is_live(&id) {
            let Ok(message) = ZmqMessage::try_from(vec![packet.clone()]) else {
                break;
            };
            match socket.send(message).await {
                Ok(()) => break,
                Err(_) => tokio::time::sleep(RETRY).await,
            }
        }
    }
}

/// Sends later packets to the worker named by each one's address.
async fn router_send_loop(
    mut socket: zeromq::RouterSendHalf,
    mut queue: mpsc::Receiver<(Bytes, Bytes)>,
) {
    while let Some((worker, packet)) = queue.recv().await {
        let Ok(message) = ZmqMessage::try_from(vec![worker, Bytes::new(), packet]) else {
            continue;
        };
        match tokio::time::timeout(ROUTER_SEND_TIMEOUT, socket.send(message)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(error = %e, "zhttp packet for a gone worker dropped"),
            Err(_) => tracing::warn!("zhttp worker not reading its ROUTER; packet dropped"),
        }
    }
}

/// Reads the ROUTER too: it keeps the socket's view of connected workers current, and a worker
/// may answer over it (`[worker, "", T…]`) rather than over PUB.
async fn router_recv_loop(
    mut socket: zeromq::RouterRecvHalf,
    shared: Arc<Shared>,
    mut stopped: StopSignal,
) {
    loop {
        let received = tokio::select! {
            received = socket.recv() => received,
            _ = stopped.wait() => return,
        };
        match received {
            Ok(message) => {
                if let Some(frame) = message.into_vec().pop() {
                    parse_and_dispatch(&shared, &frame);
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "zhttp ROUTER receive failed");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

/// Reads the workers' published packets, `<our address> T…`.
async fn sub_loop(mut socket: zeromq::SubSocket, shared: Arc<Shared>, mut stopped: StopSignal) {
    loop {
        let received = tokio::select! {
            received = socket.recv() => received,
            _ = stopped.wait() => return,
        };
        let message = match received {
            Ok(message) => message,
            Err(e) => {
                tracing::debug!(error = %e, "zhttp SUB receive failed");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        let Some(frame) = message.into_vec().into_iter().next() else {
            continue;
        };
        match zhttp::split_addressed(&frame) {
            Ok((address, packet)) if address == shared.address => {
                parse_and_dispatch(&shared, &packet)
            }
            Ok(_) => tracing::debug!("zhttp packet for another address dropped"),
            Err(e) => tracing::warn!(error = %e, "malformed zhttp frame dropped"),
        }
    }
}

fn parse_and_dispatch(shared: &Shared, packet: &Bytes) {
    match zhttp::Response::parse(packet) {
        Ok(response) => shared.dispatch(response),
        Err(e) => tracing::warn!(error = %e, "malformed zhttp packet dropped"),
    }
}

/// Encodes a packet for the wire.
fn encode(request: &zhttp::Request) -> Bytes {
    let mut out = BytesMut::with_capacity(request.encoded_len());
    request.encode(&mut out);
    out.freeze()
}

#[cfg(test)]
mod tests;
