//! Backend response bodies: read whole with a limit, or piece by piece as the client side writes.
//!
//! Framing reuses the client side's decoder (`frontend::body`: `Content-Length` and chunked, with
//! its limits and typed errors; trailers are dropped); a body delimited by the connection closing
//! is read until end of stream. Pieces are views of the connection's read buffer, not copies.
//! When the body ends cleanly on a keep-alive connection, the connection goes back to the pool at
//! once; a body dropped before its end closes the connection with it.

use std::io;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};

use super::conn::Conn;
use super::pool::Pool;
use super::response::Framing;
use crate::frontend::body::{BodyDecoder, BodyError, Decoded};
use crate::frontend::request::BodyFraming;

/// Why a response body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Longer than the caller's limit.
    #[error("body too large")]
    TooLarge,
    /// The backend closed the connection before the body's end.
    #[error("connection closed before the end of the response body")]
    Cut,
    /// The chunked framing is broken.
    #[error("malformed response body: {0}")]
    Malformed(BodyError),
    /// Reading from the backend failed.
    #[error("reading the response body: {0}")]
    Io(io::Error),
}

/// A backend response body.
#[derive(Debug)]
pub struct ResponseBody {
    state: State,
    /// The whole length, when `Content-Length` (or the status) says it.
    len: Option<u64>,
    /// Bytes handed out so far.
    taken: u64,
}

#[derive(Debug)]
enum State {
    Done,
    Reading(Reading),
}

#[derive(Debug)]
struct Reading {
    conn: Conn,
    decoder: Decoder,
    /// Where the connection goes when the body has been read to its end; `None` when it must
    /// not be reused.
    pool: Option<Pool>,
}

#[derive(Debug)]
enum Decoder {
    Framed(BodyDecoder),
    UntilClose,
}

enum Step {
    Piece(Bytes, bool),
    End,
    Read,
    Fail(ReadError),
}

impl ResponseBody {
    /// The body framed as `framing` on `conn`, whose buffer starts with it. `reuse`: the pool the
    /// connection returns to once the body has been read, if it may be reused.
    pub(crate) fn new(conn: Conn, framing: Framing, reuse: Option<Pool>) -> Self {
        let (decoder, len) = match framing {
            Framing::Empty => {
                if let Some(pool) = reuse {
                    pool.put(conn);
                }
                return ResponseBody {
                    state: State::Done,
                    len: Some(0),
                    taken: 0,
                };
            }
            Framing::Length(n) => (
                Decoder::Framed(BodyDecoder::new(BodyFraming::Length(n))),
                Some(n),
            ),
            Framing::Chunked => (
                Decoder::Framed(BodyDecoder::new(BodyFraming::Chunked)),
                None,
            ),
            Framing::Close => (Decoder::UntilClose, None),
        };
        let pool = match decoder {
            Decoder::UntilClose => None,
            Decoder::Framed(_) => reuse,
        };
        ResponseBody {
            state: State::Reading(Reading {
                conn,
                decoder,
                pool,
            }),
            len,
            taken: 0,
        }
    }

    /// The body's whole length, when known in advance (`Content-Length`, or no body at all).
    pub fn exact_len(&self) -> Option<u64> {
        self.len
    }

    /// The whole body, if it has already arrived with the head and nothing was taken yet: then no
    /// read is needed, and the connection is released now.
    pub fn take_buffered(&mut self) -> Option<Bytes> {
        if self.taken != 0 {
            return None;
        }
        let n = usize::try_from(self.len?).ok()?;
        let data = match &mut self.state {
            State::Done => return (n == 0).then(Bytes::new),
            State::Reading(r) if r.conn.buf.len() >= n => r.conn.buf.split_to(n).freeze(),
            State::Reading(_) => return None,
        };
        self.taken = n as u64;
        self.finish();
        Some(data)
    }

    /// The next piece of the body; `Ready(None)` at its end. After an error nothing more comes.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, ReadError>>> {
        loop {
            let State::Reading(r) = &mut self.state else {
                return Poll::Ready(None);
            };
            let step = match &mut r.decoder {
                Decoder::Framed(d) => match d.decode(&mut r.conn.buf) {
                    Ok(Decoded::Data(piece)) => Step::Piece(piece, d.is_done()),
                    Ok(Decoded::Done) => Step::End,
                    Ok(Decoded::NeedMore) => Step::Read,
                    Err(e) => Step::Fail(ReadError::Malformed(e)),
                },
                Decoder::UntilClose if r.conn.buf.is_empty() => Step::Read,
                Decoder::UntilClose => Step::Piece(r.conn.buf.split().freeze(), false),
            };
            match step {
                Step::Piece(piece, done) => {
                    self.taken += piece.len() as u64;
                    if done {
                        self.finish();
                    }
                    return Poll::Ready(Some(Ok(piece)));
                }
                Step::End => {
                    self.finish();
                    return Poll::Ready(None);
                }
                Step::Fail(e) => {
                    self.state = State::Done;
                    return Poll::Ready(Some(Err(e)));
                }
                Step::Read => {}
            }
            let until_close = matches!(r.decoder, Decoder::UntilClose);
            match r.conn.poll_fill(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(0)) => {
                    self.state = State::Done;
                    return Poll::Ready(if until_close {
                        None
                    } else {
                        Some(Err(ReadError::Cut))
                    });
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => {
                    self.state = State::Done;
                    return Poll::Ready(Some(Err(ReadError::Io(e))));
                }
            }
        }
    }

    /// Reads the whole body, failing with [`ReadError::TooLarge`] past `limit` bytes. The result
    /// is its own allocation, so keeping it (a held GRIP response) keeps no read buffer alive.
    pub async fn read_to_end(mut self, limit: usize) -> Result<Bytes, ReadError> {
        if self.len.is_some_and(|n| n > limit as u64) {
            return Err(ReadError::TooLarge);
        }
        let mut out = BytesMut::new();
        while let Some(piece) = std::future::poll_fn(|cx| self.poll_next(cx)).await {
            let piece = piece?;
            if out.len() + piece.len() > limit {
                return Err(ReadError::TooLarge);
            }
            out.extend_from_slice(&piece);
        }
        Ok(out.freeze())
    }

    /// The body has been read to its end: the connection goes back to the pool if it may.
    fn finish(&mut self) {
        if let State::Reading(r) = std::mem::replace(&mut self.state, State::Done) {
            if let Some(pool) = r.pool {
                pool.put(r.conn);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::super::pool::Pool;
    use super::super::testing::{request, Backend, Reply};
    use super::*;

    /// One response from a backend that sends `bytes` (then closes, if `close`).
    async fn fetch(
        bytes: &'static [u8],
        close: bool,
        method: Method,
    ) -> (super::super::BackendResponse, Pool, Backend) {
        let reply = if close {
            Reply::SendAndClose(bytes)
        } else {
            Reply::Send(bytes)
        };
        let backend = Backend::start(vec![reply]).await;
        let pool = Pool::new();
        let response = request(&pool, &backend.target, method).await.unwrap();
        (response, pool, backend)
    }

    #[tokio::test]
    async fn content_length() {
        let (r, pool, be) = fetch(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            false,
            Method::GET,
        )
        .await;
        assert_eq!(r.body.exact_len(), Some(5));
        assert_eq!(r.body.read_to_end(100).await.unwrap(), "hello");
        assert_eq!(pool.idle_count(&be.target), 1);
    }

    #[tokio::test]
    async fn chunked_with_trailers_dropped() {
        let (r, pool, be) = fetch(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n",
            false,
            Method::GET,
        )
        .await;
        assert_eq!(r.body.exact_len(), None);
        assert_eq!(r.body.read_to_end(100).await.unwrap(), "hello world");
        assert_eq!(pool.idle_count(&be.target), 1);
    }

    #[tokio::test]
    async fn until_close() {
        let (r, pool, be) = fetch(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end",
            true,
            Method::GET,
        )
        .await;
        assert_eq!(r.body.exact_len(), None);
        assert_eq!(r.body.read_to_end(100).await.unwrap(), "until the end");
        assert_eq!(pool.idle_count(&be.target), 0);
    }

    #[tokio::test]
    async fn no_body_for_head_204_304() {
        let (r, pool, be) = fetch(
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
            false,
            Method::HEAD,
        )
        .await;
        assert_eq!(r.headers.get("content-length").unwrap(), "10");
        assert_eq!(r.body.exact_len(), Some(0));
        assert_eq!(r.body.read_to_end(100).await.unwrap(), "");
        assert_eq!(pool.idle_count(&be.target), 1, "reusable at once");
        for status in [
            &b"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n"[..],
            b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            let (mut r, pool, be) = fetch(status, false, Method::GET).await;
            assert_eq!(r.body.take_buffered().unwrap(), "");
            assert_eq!(pool.idle_count(&be.target), 1);
        }
    }

    #[tokio::test]
    async fn cut_and_malformed_bodies_are_errors() {
        let (r, pool, be) = fetch(
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
            true,
            Method::GET,
        )
        .await;
        assert!(matches!(r.body.read_to_end(100).await, Err(ReadError::Cut)));
        assert_eq!(pool.idle_count(&be.target), 0);
        let (r, _, _) = fetch(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
            true,
            Method::GET,
        )
        .await;
        assert!(matches!(r.body.read_to_end(100).await, Err(ReadError::Cut)));
        let (r, pool, be) = fetch(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            false,
            Method::GET,
        )
        .await;
        assert!(matches!(
            r.body.read_to_end(100).await,
            Err(ReadError::Malformed(BodyError::BadChunkSize))
        ));
        assert_eq!(pool.idle_count(&be.target), 0);
    }

    #[tokio::test]
    async fn limits() {
        let (r, _, _) = fetch(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            false,
            Method::GET,
        )
        .await;
        assert!(matches!(
            r.body.read_to_end(4).await,
            Err(ReadError::TooLarge)
        ));
        let (r, _, _) = fetch(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n",
            false,
            Method::GET,
        )
        .await;
        assert!(matches!(
            r.body.read_to_end(8).await,
            Err(ReadError::TooLarge)
        ));
    }

    #[tokio::test]
    async fn pieces_are_streamed_and_the_whole_can_be_taken() {
        let (mut r, pool, be) = fetch(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            false,
            Method::GET,
        )
        .await;
        assert!(r.body.take_buffered().is_none(), "chunked is streamed");
        let mut pieces = Vec::new();
        while let Some(piece) = std::future::poll_fn(|cx| r.body.poll_next(cx)).await {
            pieces.push(piece.unwrap());
        }
        assert_eq!(pieces, ["abc", "de"]);
        assert_eq!(pool.idle_count(&be.target), 1);

        // Head and body written at once arrive in one read on loopback.
        let (mut r, pool, be) = fetch(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            false,
            Method::GET,
        )
        .await;
        assert_eq!(r.body.take_buffered().unwrap(), "hello");
        assert_eq!(pool.idle_count(&be.target), 1, "released when taken");
        assert!(std::future::poll_fn(|cx| r.body.poll_next(cx))
            .await
            .is_none());
    }
}
