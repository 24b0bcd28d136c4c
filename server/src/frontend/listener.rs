//! Accepting client connections: plain TCP (`http_port`), TLS (`https_ports`) and unix sockets
//! (`local_ports`).
//!
//! Each accepted socket gets one task running [`conn::serve`] over its kind of stream; a TLS
//! socket first goes through its handshake in that task. At most `client_maxconn` connections are
//! served at once, a handshaking one included: past that, each listener holds the one connection
//! it has just accepted until a slot frees, and the others wait in the kernel's accept queue
//! rather than being accepted and dropped. On shutdown the listeners close at once and open
//! connections are given a grace period to finish.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UnixStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::conn::{self, ConnLimits, Handler};
use super::local::LocalListener;
use super::stream::Peer;
use super::tls::TlsAcceptor;

/// A bound client listener.
pub struct Listener {
    kind: Kind,
}

enum Kind {
    Tcp(TcpListener),
    Tls(TcpListener, TlsAcceptor),
    Local(LocalListener),
}

/// Where a listener listens, for logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenAddr {
    /// Plain TCP.
    Tcp(SocketAddr),
    /// TLS over TCP.
    Tls(SocketAddr),
    /// A unix socket at this path.
    Local(PathBuf),
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Tcp(addr) => write!(f, "http://{addr}"),
            ListenAddr::Tls(addr) => write!(f, "https://{addr}"),
            ListenAddr::Local(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// One accepted connection, before it is served.
enum Accepted {
    Tcp(TcpStream, SocketAddr),
    Tls(TcpStream, SocketAddr, TlsAcceptor),
    Local(UnixStream),
}

impl Listener {
    /// Binds a plain TCP listener at `addr` (port 0 picks a free port).
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Listener> {
        Ok(Listener {
            kind: Kind::Tcp(TcpListener::bind(addr).await?),
        })
    }

    /// Binds a TLS listener at `addr`.
    pub async fn bind_tls(addr: SocketAddr, tls: TlsAcceptor) -> std::io::Result<Listener> {
        Ok(Listener {
            kind: Kind::Tls(TcpListener::bind(addr).await?, tls),
        })
    }

    /// Binds a unix-socket listener at `path` (see [`LocalListener::bind`]).
    pub async fn bind_local(path: &Path) -> std::io::Result<Listener> {
        Ok(Listener {
            kind: Kind::Local(LocalListener::bind(path).await?),
        })
    }

    /// Where it listens (port 0 resolved).
    pub fn listen_addr(&self) -> std::io::Result<ListenAddr> {
        Ok(match &self.kind {
            Kind::Tcp(l) => ListenAddr::Tcp(l.local_addr()?),
            Kind::Tls(l, _) => ListenAddr::Tls(l.local_addr()?),
            Kind::Local(l) => ListenAddr::Local(l.path().to_path_buf()),
        })
    }

    /// The bound TCP address; an error for a unix socket.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match &self.kind {
            Kind::Tcp(l) | Kind::Tls(l, _) => l.local_addr(),
            Kind::Local(_) => Err(std::io::Error::other("a unix socket has no TCP address")),
        }
    }

    async fn accept(&self) -> std::io::Result<Accepted> {
        Ok(match &self.kind {
            Kind::Tcp(l) => {
                let (sock, peer) = l.accept().await?;
                Accepted::Tcp(sock, peer)
            }
            Kind::Tls(l, tls) => {
                let (sock, peer) = l.accept().await?;
                Accepted::Tls(sock, peer, tls.clone())
            }
            Kind::Local(l) => Accepted::Local(l.accept().await?),
        })
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
            let accepted = tokio::select! {
                accepted = self.accept() => accepted,
                _ = shutdown.changed() => break,
            };
            let accepted = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors or similar: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            // The slot is taken after accepting, not before: listeners share `client_maxconn`,
            // and a slot taken while waiting for a client would be held by each idle listener,
            // starving the others when the limit is small.
            let permit = tokio::select! {
                permit = maxconn.clone().acquire_owned() => match permit {
                    Ok(p) => p,
                    Err(_) => break,
                },
                _ = shutdown.changed() => break,
            };
            let handler = handler.clone();
            match accepted {
                Accepted::Tcp(sock, peer) => {
                    let _ = sock.set_nodelay(true);
                    conns.spawn(async move {
                        conn::serve(sock, Peer::tcp(peer.ip()), handler, limits).await;
                        drop(permit);
                    });
                }
                Accepted::Tls(sock, peer, tls) => {
                    let _ = sock.set_nodelay(true);
                    conns.spawn(async move {
                        if let Some(stream) = tls.handshake(sock, peer.ip()).await {
                            conn::serve(stream, Peer::tls(peer.ip()), handler, limits).await;
                        }
                        drop(permit);
                    });
                }
                Accepted::Local(sock) => {
                    conns.spawn(async move {
                        conn::serve(sock, Peer::local(), handler, limits).await;
                        drop(permit);
                    });
                }
            }
            // Reap finished connection tasks so the set does not grow with history.
            while conns.try_join_next().is_some() {}
        }
        drop(self.kind);
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
