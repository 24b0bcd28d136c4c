//! `zhttpreq/<spec>` route targets (§2.6): ZeroMQ REP workers answering whole requests.
//!
//! gripway binds one DEALER per spec; workers connect REP sockets and ZeroMQ spreads requests
//! over them round-robin. A request goes out as `["", "T" + tnetstring]` with a fresh id, and the
//! worker's one reply is matched back by that id. A reply with an unknown id is dropped (its
//! client gave up); a malformed one is logged and dropped, never a crash. When no worker is
//! connected the request waits for one, retried every `RETRY` (50 ms), until the client's deadline
//! ([`TIMEOUT`], Pushpin's 60 s), after which the client gets a 502.
//!
//! The socket is split: one task sends, one receives, so a slow worker never holds up replies
//! from the others. Both end when the backend is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use protocol::zhttp::{self, Id, PacketType};
use tokio::sync::{mpsc, oneshot};
use zeromq::{Socket, SocketRecv, SocketSend, ZmqMessage};

/// How long a client waits for a worker's reply (Pushpin's request timeout).
pub const TIMEOUT: Duration = Duration::from_secs(60);
/// How often a request is offered again while no worker is connected.
const RETRY: Duration = Duration::from_millis(50);
/// Requests waiting to be sent; a full queue makes callers wait, which is bounded by their own
/// timeout.
const SEND_QUEUE: usize = 1024;
/// The largest response body a worker may send (Pushpin's `max-size`).
pub const MAX_SIZE: u32 = 1_000_000;

type Waiting = Arc<Mutex<HashMap<Bytes, oneshot::Sender<zhttp::Response>>>>;

/// Why a worker request failed.
#[derive(Debug, thiserror::Error)]
pub enum ZhttpError {
    /// No reply within [`TIMEOUT`], or no worker at all.
    #[error("zhttp service for route is unreachable.")]
    Unreachable,
    /// The worker's reply cannot be used.
    #[error("zhttp service sent an unusable response: {0}")]
    BadResponse(&'static str),
}

/// A bound DEALER for one `zhttpreq/` spec.
pub struct ZhttpReqBackend {
    outgoing: mpsc::Sender<(Bytes, Bytes)>,
    waiting: Waiting,
    /// Dropped with the backend, which ends the receiving task.
    _stop: oneshot::Sender<()>,
}

impl ZhttpReqBackend {
    /// Binds `spec` and starts its tasks (a tokio runtime must be running).
    pub async fn bind(spec: &str) -> Result<Arc<ZhttpReqBackend>, zeromq::ZmqError> {
        let mut socket = zeromq::DealerSocket::new();
        socket.bind(spec).await?;
        let (send_half, recv_half) = socket.split();
        let waiting: Waiting = Arc::default();
        let (outgoing, queue) = mpsc::channel(SEND_QUEUE);
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(send_loop(send_half, queue, waiting.clone()));
        tokio::spawn(recv_loop(recv_half, waiting.clone(), stopped));
        Ok(Arc::new(ZhttpReqBackend {
            outgoing,
            waiting,
            _stop: stop,
        }))
    }

    /// Sends `request` (its `id` is set here) and waits for the worker's reply.
    pub async fn call(&self, mut request: zhttp::Request) -> Result<zhttp::Response, ZhttpError> {
        let id = Bytes::from(format!(
            "{:016x}{:016x}",
            fastrand::u64(..),
            fastrand::u64(..)
        ));
        request.id = Id::Single(id.clone());
        let (tx, rx) = oneshot::channel();
        self.lock().insert(id.clone(), tx);
        // Removes the entry however this call ends: with a reply, a timeout, or its client
        // leaving (the future dropped), so a dead worker cannot make the map grow.
        let _waiting = Forget {
            waiting: &self.waiting,
            id: id.clone(),
        };
        let mut encoded = BytesMut::new();
        request.encode(&mut encoded);
        let outcome = tokio::time::timeout(TIMEOUT, async {
            self.outgoing
                .send((id.clone(), encoded.freeze()))
                .await
                .map_err(|_| ZhttpError::Unreachable)?;
            rx.await.map_err(|_| ZhttpError::Unreachable)
        })
        .await;
        let response = outcome.map_err(|_| ZhttpError::Unreachable)??;
        if response.more || response.ty != PacketType::Data {
            return Err(ZhttpError::BadResponse("not a single data packet"));
        }
        Ok(response)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Bytes, oneshot::Sender<zhttp::Response>>> {
        // Every mutation is one insert or remove, so a poisoned map is still consistent.
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Forgets a request id when dropped.
struct Forget<'a> {
    waiting: &'a Waiting,
    id: Bytes,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

async fn send_loop(
    mut socket: zeromq::DealerSendHalf,
    mut queue: mpsc::Receiver<(Bytes, Bytes)>,
    waiting: Waiting,
) {
    while let Some((id, packet)) = queue.recv().await {
        loop {
            let still_wanted = waiting
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(&id);
            if !still_wanted {
                break;
            }
            let frames = vec![Bytes::new(), packet.clone()];
            let Ok(message) = ZmqMessage::try_from(frames) else {
                break;
            };
            match socket.send(message).await {
                Ok(()) => break,
                // No worker connected yet: offer it again shortly, until its client gives up.
                Err(_) => tokio::time::sleep(RETRY).await,
            }
        }
    }
}

async fn recv_loop(
    mut socket: zeromq::DealerRecvHalf,
    waiting: Waiting,
    mut stopped: oneshot::Receiver<()>,
) {
    loop {
        let received = tokio::select! {
            received = socket.recv() => received,
            _ = &mut stopped => return,
        };
        let message = match received {
            Ok(message) => message,
            Err(e) => {
                tracing::debug!(error = %e, "zhttpreq receive failed");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        // [empty delimiter, packet]; a DEALER peer may leave the delimiter out.
        let Some(packet) = message.into_vec().pop() else {
            continue;
        };
        let response = match zhttp::Response::parse(&packet) {
            Ok(response) => response,
            Err(e) => {
                tracing::warn!(error = %e, "malformed zhttpreq reply dropped");
                continue;
            }
        };
        let Id::Single(id) = &response.id else {
            tracing::warn!("zhttpreq reply with a multi id dropped");
            continue;
        };
        let waiter = waiting.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
        match waiter {
            Some(tx) => {
                let _ = tx.send(response);
            }
            None => tracing::debug!("zhttpreq reply for an unknown id dropped"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_whose_client_leaves_leaves_nothing_waiting() {
        let spec = format!("ipc:///tmp/gripway-zreq-test-{}", std::process::id());
        let backend = ZhttpReqBackend::bind(&spec).await.unwrap();
        // No worker is connected: the call waits until it is dropped.
        let call = backend.call(zhttp::Request::default());
        let dropped = tokio::time::timeout(Duration::from_millis(200), call).await;
        assert!(dropped.is_err(), "no worker, so no reply");
        assert!(backend.lock().is_empty());
        let _ = std::fs::remove_file(spec.trim_start_matches("ipc://"));
    }
}
