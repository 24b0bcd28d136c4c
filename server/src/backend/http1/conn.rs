//! One connection to a backend: the socket, its read buffer, and the target it belongs to.

use std::io;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use tokio::net::TcpStream;

/// How long to wait for a TCP connection to a target (name lookup included).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Size of each read from a backend: a typical response head and body in one read, and large
/// bodies in pieces the client side writes at once.
const READ_CHUNK: usize = 16 * 1024;

/// A connection to one target.
#[derive(Debug)]
pub struct Conn {
    pub(crate) stream: TcpStream,
    /// Bytes read and not yet consumed. Empty whenever the connection is idle in the pool.
    pub(crate) buf: BytesMut,
    /// The `host:port` the connection was made to: its pool key.
    pub(crate) target: Arc<str>,
}

impl Conn {
    /// Connects to `target` (`host:port`) with [`CONNECT_TIMEOUT`], with `TCP_NODELAY` set.
    pub async fn connect(target: &str) -> io::Result<Conn> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: BytesMut::new(),
            target: Arc::from(target),
        })
    }

    /// Reads what the socket has into the buffer; `Ready(Ok(0))` at end of stream.
    pub fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        poll_fill(&self.stream, &mut self.buf, cx)
    }

    /// Reads what the socket has into the buffer, waiting for something; `Ok(0)` at end of stream.
    pub async fn fill(&mut self) -> io::Result<usize> {
        std::future::poll_fn(|cx| self.poll_fill(cx)).await
    }

    /// False when the server has closed the connection or sent bytes nobody asked for, as far as
    /// the runtime has seen: a check that costs no system call while nothing has happened.
    pub fn looks_open(&self) -> bool {
        let mut probe = [0u8; 1];
        match self.stream.try_read(&mut probe) {
            Err(e) => e.kind() == io::ErrorKind::WouldBlock,
            Ok(_) => false,
        }
    }
}

/// Reads what `stream` has into `buf`; `Ready(Ok(0))` at end of stream. Takes the stream shared,
/// so a request body can be written while the response is read.
pub fn poll_fill(
    stream: &TcpStream,
    buf: &mut BytesMut,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    loop {
        if buf.capacity() - buf.len() < READ_CHUNK / 4 {
            buf.reserve(READ_CHUNK);
        }
        match stream.try_read_buf(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if let Err(e) = std::task::ready!(stream.poll_read_ready(cx)) {
                    return Poll::Ready(Err(e));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            result => return Poll::Ready(result),
        }
    }
}
