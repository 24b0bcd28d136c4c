//! gripway's own HTTP/1.1 client for backends: pooled keep-alive connections that keep header
//! names as they are written, in both directions.
//!
//! Why not hyper's pooled client: hyper represents header names as `http::HeaderName`, which is
//! lower case. Its `preserve_header_case` option records the original case in
//! `hyper::ext::HeaderCaseMap`, which is `pub(crate)`: only hyper's own server can read it, and
//! the client side here is gripway's own HTTP/1 layer (`frontend`). Pushpin 1.36 passes a
//! backend's header names on with their case (`X-Custom`, and `Access-Control-Expose-Headers:
//! Server, Date, X-Custom` built from them), and JSON-P's extended mode writes them into a JSON
//! object that JavaScript reads case-sensitively (`headers["Content-Type"]`). So requests are
//! written with the names the rewrite step produced, and responses are parsed into
//! [`protocol::Headers`], which keeps case and order.
//!
//! One concept per file:
//! - [`request`]: writing a request head (socket-free);
//! - [`response`]: parsing a response head and choosing its body framing (socket-free);
//! - [`body`]: reading a response body, whole or piece by piece, with the client side's decoder;
//! - [`conn`]: one connection and its read buffer;
//! - [`pool`]: idle keep-alive connections per target;
//! - [`exchange`]: one request on one connection, and when a dead pooled connection is retried.

pub mod body;
pub mod conn;
pub mod exchange;
pub mod pool;
pub mod request;
pub mod response;

use bytes::Bytes;
use protocol::Headers;

pub use body::{ReadError, ResponseBody};

/// A backend's response: the head as sent, and a body still to be read.
#[derive(Debug)]
pub struct BackendResponse {
    /// The status code.
    pub code: u16,
    /// The reason phrase, byte for byte as sent.
    pub reason: Bytes,
    /// The header fields in the order sent, names in their original case.
    pub headers: Headers,
    /// The body.
    pub body: ResponseBody,
}

/// A scripted backend on loopback for this module's tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// What the backend does with one request.
    pub(crate) enum Reply {
        /// Writes these bytes and keeps the connection open for the next request.
        Send(&'static [u8]),
        /// Writes these bytes, then closes the connection.
        SendAndClose(&'static [u8]),
        /// Closes the connection without answering.
        Close,
    }

    /// A backend answering the requests it reads, on any connection, with `replies` in order.
    pub(crate) struct Backend {
        pub target: String,
        pub connections: Arc<AtomicUsize>,
        pub requests: Arc<Mutex<Vec<Vec<u8>>>>,
    }

    impl Backend {
        pub(crate) async fn start(replies: Vec<Reply>) -> Backend {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let target = listener.local_addr().unwrap().to_string();
            let connections = Arc::new(AtomicUsize::new(0));
            let requests = Arc::new(Mutex::new(Vec::new()));
            let replies = Arc::new(Mutex::new(VecDeque::from(replies)));
            let (c, r) = (connections.clone(), requests.clone());
            tokio::spawn(async move {
                while let Ok((sock, _)) = listener.accept().await {
                    c.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(serve(sock, replies.clone(), r.clone()));
                }
            });
            Backend {
                target,
                connections,
                requests,
            }
        }

        pub(crate) fn connections(&self) -> usize {
            self.connections.load(Ordering::SeqCst)
        }

        pub(crate) fn requests(&self) -> Vec<String> {
            let seen = self.requests.lock().unwrap();
            seen.iter()
                .map(|r| String::from_utf8_lossy(r).into_owned())
                .collect()
        }
    }

    /// Sends a bodiless request with `method` to `target` through `pool`.
    pub(crate) async fn request(
        pool: &super::pool::Pool,
        target: &str,
        method: http::Method,
    ) -> Result<super::BackendResponse, super::exchange::SendError> {
        let body = crate::backend::http::OutBody::Full(bytes::Bytes::new());
        super::exchange::send(pool, target, &method, "/", &protocol::Headers::new(), body).await
    }

    async fn serve(
        mut sock: TcpStream,
        replies: Arc<Mutex<VecDeque<Reply>>>,
        requests: Arc<Mutex<Vec<Vec<u8>>>>,
    ) {
        let mut buf = Vec::new();
        loop {
            let Some(request) = read_request(&mut sock, &mut buf).await else {
                return;
            };
            requests.lock().unwrap().push(request);
            let reply = replies.lock().unwrap().pop_front();
            match reply {
                Some(Reply::Send(bytes)) => {
                    if sock.write_all(bytes).await.is_err() {
                        return;
                    }
                }
                Some(Reply::SendAndClose(bytes)) => {
                    let _ = sock.write_all(bytes).await;
                    return;
                }
                Some(Reply::Close) | None => return,
            }
        }
    }

    /// One request with a Content-Length or chunked body (or none).
    async fn read_request(sock: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                if head.contains("\r\ntransfer-encoding: chunked") {
                    if let Some(last) = buf[end..].windows(5).position(|w| w == b"0\r\n\r\n") {
                        return Some(buf.drain(..end + last + 5).collect());
                    }
                } else {
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    if buf.len() >= end + 4 + len {
                        return Some(buf.drain(..end + 4 + len).collect());
                    }
                }
            }
            let mut chunk = [0u8; 4096];
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}
