//! TLS for the `https_ports` listeners: which identity a handshake gets, and the handshake itself.
//!
//! Each listener serves the identity named by the client's SNI when one of that name is loaded,
//! and its port's `default_<port>` otherwise (or without SNI), as Pushpin does
//! ([`crate::config::certs`] reads the files). The identities sit behind a `watch` channel, so a
//! reloaded set applies to the next handshake without touching open connections.
//!
//! ALPN offers `http/1.1`, then `http/1.0` (`curl --http1.0` offers only that, and an unmatched
//! offer fails the handshake): the client side speaks HTTP/1. Pushpin negotiates no ALPN at
//! all, which clients read as HTTP/1.1 too; a client offering only `h2` fails either way. A handshake must finish within the configured timeout,
//! so a client that connects and says nothing cannot hold a `client_maxconn` slot for long.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::server::TlsStream;

use crate::config::certs::{self, Certs};

/// Why a TLS listener could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rustls refused the protocol setup (a build without any usable protocol version).
    #[error("TLS setup: {0}")]
    Setup(#[from] rustls::Error),
}

/// The TLS side of one `https_ports` listener.
#[derive(Clone)]
pub struct TlsAcceptor {
    acceptor: tokio_rustls::TlsAcceptor,
    handshake_timeout: Duration,
}

impl TlsAcceptor {
    /// An acceptor for a listener on `port`, serving identities from `certs`.
    pub fn new(
        port: u16,
        certs: watch::Receiver<Arc<Certs>>,
        handshake_timeout: Duration,
    ) -> Result<Self, TlsError> {
        let resolver = PortResolver {
            default_name: certs::default_name(port),
            certs,
        };
        let mut config = ServerConfig::builder_with_provider(certs::provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(resolver));
        config.alpn_protocols = vec![b"http/1.1".to_vec(), b"http/1.0".to_vec()];
        Ok(TlsAcceptor {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            handshake_timeout,
        })
    }

    /// Runs the server side of the handshake on `sock`. `None` when it fails or times out; the
    /// socket is then dropped, and the reason logged at debug level (port scanners and clients
    /// that distrust the certificate do this all day).
    pub async fn handshake(&self, sock: TcpStream, peer: IpAddr) -> Option<TlsStream<TcpStream>> {
        match tokio::time::timeout(self.handshake_timeout, self.acceptor.accept(sock)).await {
            Ok(Ok(stream)) => Some(stream),
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                None
            }
            Err(_) => {
                tracing::debug!(%peer, timeout = ?self.handshake_timeout, "TLS handshake timed out");
                None
            }
        }
    }
}

/// Picks the identity for a handshake on one listener.
#[derive(Debug)]
struct PortResolver {
    default_name: String,
    certs: watch::Receiver<Arc<Certs>>,
}

impl ResolvesServerCert for PortResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let certs = self.certs.borrow();
        let named = hello.server_name().and_then(|name| certs.get(name));
        let chosen = named.or_else(|| certs.get(&self.default_name)).cloned();
        if chosen.is_none() {
            // Not expected: every loaded set holds each port's default identity. rustls then
            // refuses the handshake.
            tracing::warn!(identity = %self.default_name, "no TLS identity to serve");
        }
        chosen
    }
}
