//! Accepting client connections on the `http_port` listeners.
//!
//! Each accepted socket gets one task running [`conn::serve`]. At most `client_maxconn`
//! connections are open at once: past that, new connections wait in the kernel's accept queue
//! rather than being accepted and dropped. On shutdown the listeners close at once and open
//! connections are given a grace period to finish.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::conn::{self, ConnLimits, Handler};

/// A bound client listener.
pub struct Listener {
    listener: TcpListener,
}

impl Listener {
    /// Binds `addr` (port 0 picks a free port).
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Listener> {
        Ok(Listener {
            listener: TcpListener::bind(addr).await?,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts clients until `shutdown` turns true, then waits up to `grace` for open connections.
    pub async fn run(
        self,
        handler: Arc<dyn Handler>,
        limits: ConnLimits,
        maxconn: Arc<Semaphore>,
        mut shutdown: watch::Receiver<bool>,
        grace: Duration,
    ) {
        let mut conns = JoinSet::new();
        loop {
            let permit = tokio::select! {
                permit = maxconn.clone().acquire_owned() => match permit {
                    Ok(p) => p,
                    Err(_) => break,
                },
                _ = shutdown.changed() => break,
            };
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                _ = shutdown.changed() => break,
            };
            let (sock, peer) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors or similar: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let handler = handler.clone();
            conns.spawn(async move {
                conn::serve(sock, peer, handler, limits).await;
                drop(permit);
            });
            // Reap finished connection tasks so the set does not grow with history.
            while conns.try_join_next().is_some() {}
        }
        drop(self.listener);
        let drained =
            tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::info!(
                open = conns.len(),
                "grace period over, closing remaining client connections"
            );
            conns.abort_all();
        }
    }
}
