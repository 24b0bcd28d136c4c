//! What a client connection runs over: plain TCP, TLS over TCP, or a unix socket.
//!
//! [`conn`](super::conn) is generic over [`ClientStream`], so each kind of socket gets its own
//! compiled copy of the connection driver: the plain TCP path pays nothing (no boxing, no dynamic
//! dispatch) for the other two existing.

use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::server::TlsStream;

/// How long a TLS connection's `close_notify` may take to leave before the socket is dropped
/// anyway: a client that stopped reading must not keep its task alive.
const CLOSE_NOTIFY_TIMEOUT: Duration = Duration::from_secs(1);

/// A byte stream to one client.
pub trait ClientStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Ends the connection after the last reply. Plain sockets need nothing: dropping them
    /// closes them. TLS sends `close_notify`, without which a client reading a body delimited
    /// by the connection's end cannot tell it from a cut connection (OpenSSL 3 reports an error).
    fn close(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

impl ClientStream for TcpStream {}

impl ClientStream for UnixStream {}

impl ClientStream for TlsStream<TcpStream> {
    async fn close(&mut self) {
        let _ = tokio::time::timeout(CLOSE_NOTIFY_TIMEOUT, self.shutdown()).await;
    }
}

/// Who is at the other end of a client connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The client's IP address; `None` on a unix socket, which has none.
    pub ip: Option<IpAddr>,
    /// The client connected with TLS.
    pub tls: bool,
}

impl Peer {
    /// A client on a plain TCP listener.
    pub fn tcp(ip: IpAddr) -> Self {
        Peer {
            ip: Some(ip),
            tls: false,
        }
    }

    /// A client on a TLS listener.
    pub fn tls(ip: IpAddr) -> Self {
        Peer {
            ip: Some(ip),
            tls: true,
        }
    }

    /// A client on a unix-socket listener.
    pub fn local() -> Self {
        Peer {
            ip: None,
            tls: false,
        }
    }
}
