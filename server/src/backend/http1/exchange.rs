//! One request and its response head on one connection, and the rule for sending it again when
//! a pooled connection turns out to be dead.

use std::io;

use bytes::{Buf, Bytes, BytesMut};
use http::Method;
use protocol::Headers;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::WriteHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::body::ResponseBody;
use super::conn::{self, Conn};
use super::pool::Pool;
use super::request::{self, RequestError};
use super::response::{self, Head, HeadError};
use super::BackendResponse;
use crate::backend::http::OutBody;
use crate::frontend::body::BodyError;
use crate::frontend::response::{chunk_prefix, LAST_CHUNK};

/// Why sending a request to a target failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No connection could be made: the next target may be tried.
    #[error("connecting: {0}")]
    Connect(io::Error),
    /// Connected, then the exchange failed.
    #[error(transparent)]
    Failed(#[from] ExchangeError),
}

/// Why an exchange on an open connection failed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// The request could not be written as asked.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// Writing the request failed, and nothing came back.
    #[error("sending the request: {0}")]
    Write(io::Error),
    /// The connection closed, or was reset, before any byte of a response.
    #[error("connection closed before any response")]
    NoResponse,
    /// The connection closed in the middle of the response head.
    #[error("connection closed in the middle of the response head")]
    CutHead,
    /// Reading the response failed.
    #[error("reading the response: {0}")]
    Read(io::Error),
    /// The response head is unusable.
    #[error(transparent)]
    Head(#[from] HeadError),
    /// The client's request body was malformed or cut short.
    #[error("request body: {0}")]
    RequestBody(BodyError),
    /// A streamed body's length did not match its `Content-Length`.
    #[error("request body length does not match its Content-Length")]
    BodyLength,
}

/// Whether a request that failed on a connection taken from the pool is sent again, once, on a
/// new connection to the same target.
///
/// A server may close an idle keep-alive connection at any time (its own idle timeout), and the
/// pool only learns of it when the FIN has been seen; a request written just as the server closes
/// then fails with a write error, or with end of stream or a reset before any byte of a response.
/// The rule: send again only when (1) the connection came from the pool (a new connection that
/// fails is a failing server, not a race), (2) not a single byte of a response arrived (once one
/// has, the server has acted on the request), and (3) the body was buffered (a streamed body has
/// been consumed and cannot be sent twice; such a body never goes on a pooled connection). The
/// method is not considered: this is what libcurl,
/// which Pushpin's zurl sends requests with, and browsers do, since a server that closes an idle
/// connection has not read the request. The residual risk, a server that read the request and
/// then died without answering, is theirs too.
fn may_send_again(e: &ExchangeError) -> bool {
    matches!(e, ExchangeError::Write(_) | ExchangeError::NoResponse)
}

/// Sends one request to `target`, on a pooled connection when there is one, and reads the head
/// of its response; the body is read as the caller pulls it.
pub async fn send(
    pool: &Pool,
    target: &str,
    method: &Method,
    path: &str,
    headers: &Headers,
    body: OutBody,
) -> Result<BackendResponse, SendError> {
    let head_request = method == Method::HEAD;
    let framing = match &body {
        OutBody::Full(b) => request::Framing::Length(b.len() as u64),
        OutBody::Stream(_) => request::declared_length(headers)
            .map_or(request::Framing::Chunked, request::Framing::Length),
    };
    let mut out = BytesMut::new();
    request::encode_head(
        method.as_str().as_bytes(),
        path.as_bytes(),
        headers,
        framing,
        &mut out,
    )
    .map_err(ExchangeError::from)?;
    let request_head = out.freeze();
    // A streamed body cannot be sent twice, so it never risks a pooled connection that may
    // have died meanwhile: it gets a new one (a handshake is little next to 100 KB of body).
    let pooled = match body {
        OutBody::Full(_) => pool.checkout(target),
        OutBody::Stream(_) => None,
    };
    let (mut conn, reused) = match pooled {
        Some(conn) => (conn, true),
        None => (
            Conn::connect(target).await.map_err(SendError::Connect)?,
            false,
        ),
    };
    let (head, sent) = match body {
        OutBody::Full(body) => {
            let mut result = send_full(&mut conn, &request_head, &body, head_request).await;
            if let Err(e) = &result {
                if reused && may_send_again(e) {
                    tracing::debug!(target = %target, error = %e, "pooled backend connection was closed, sending again on a new one");
                    conn = Conn::connect(target).await.map_err(SendError::Connect)?;
                    result = send_full(&mut conn, &request_head, &body, head_request).await;
                }
            }
            result?
        }
        OutBody::Stream(mut rx) => {
            let length = match framing {
                request::Framing::Length(n) => Some(n),
                request::Framing::Chunked => None,
            };
            send_stream(&mut conn, &request_head, &mut rx, length, head_request).await?
        }
    };
    let reuse = (head.keep_alive && sent).then(|| pool.clone());
    Ok(BackendResponse {
        code: head.code,
        reason: head.reason,
        headers: head.headers,
        body: ResponseBody::new(conn, head.framing, reuse),
    })
}

/// Writes the head and a buffered body in one vectored write, then reads the response head.
/// The flag says whether the whole request was written.
async fn send_full(
    conn: &mut Conn,
    request_head: &Bytes,
    body: &Bytes,
    head_request: bool,
) -> Result<(Head, bool), ExchangeError> {
    let mut out = request_head.clone().chain(body.clone());
    match conn.stream.write_all_buf(&mut out).await {
        Ok(()) => Ok((
            read_head(&conn.stream, &mut conn.buf, head_request).await?,
            true,
        )),
        // The backend may have answered early and closed (413, …): use its answer if it has one.
        Err(e) => match read_head(&conn.stream, &mut conn.buf, head_request).await {
            Ok(head) => Ok((head, false)),
            Err(ExchangeError::NoResponse | ExchangeError::Read(_)) => Err(ExchangeError::Write(e)),
            Err(other) => Err(other),
        },
    }
}

/// Writes the head and a streamed body while watching for the response: a backend may answer
/// before the body has all arrived (and then the connection is not reused).
async fn send_stream(
    conn: &mut Conn,
    request_head: &Bytes,
    rx: &mut mpsc::Receiver<Result<Bytes, BodyError>>,
    length: Option<u64>,
    head_request: bool,
) -> Result<(Head, bool), ExchangeError> {
    let Conn { stream, buf, .. } = conn;
    let (read_half, mut write_half) = stream.split();
    let write = write_stream(&mut write_half, request_head, rx, length);
    tokio::pin!(write);
    let mut sent = false;
    let mut write_error = None;
    loop {
        tokio::select! {
            written = &mut write, if !sent && write_error.is_none() => match written {
                Ok(()) => sent = true,
                Err(ExchangeError::Write(e)) => write_error = Some(e),
                Err(e) => return Err(e),
            },
            head = read_head(read_half.as_ref(), buf, head_request) => {
                return match (head, write_error) {
                    (Ok(head), _) => Ok((head, sent)),
                    (Err(ExchangeError::NoResponse | ExchangeError::Read(_)), Some(e)) => {
                        Err(ExchangeError::Write(e))
                    }
                    (Err(e), _) => Err(e),
                };
            }
        }
    }
}

async fn write_stream(
    out: &mut WriteHalf<'_>,
    request_head: &Bytes,
    rx: &mut mpsc::Receiver<Result<Bytes, BodyError>>,
    length: Option<u64>,
) -> Result<(), ExchangeError> {
    out.write_all(request_head)
        .await
        .map_err(ExchangeError::Write)?;
    let mut sent: u64 = 0;
    while let Some(piece) = rx.recv().await {
        let piece = piece.map_err(ExchangeError::RequestBody)?;
        if piece.is_empty() {
            continue;
        }
        sent += piece.len() as u64;
        let written = match length {
            Some(n) if sent > n => return Err(ExchangeError::BodyLength),
            Some(_) => out.write_all(&piece).await,
            None => {
                let prefix = chunk_prefix(piece.len());
                let mut chunk = prefix.as_bytes().chain(&piece[..]).chain(&b"\r\n"[..]);
                out.write_all_buf(&mut chunk).await
            }
        };
        written.map_err(ExchangeError::Write)?;
    }
    match length {
        Some(n) if sent != n => Err(ExchangeError::BodyLength),
        Some(_) => Ok(()),
        None => out
            .write_all(LAST_CHUNK)
            .await
            .map_err(ExchangeError::Write),
    }
}

/// Reads until a whole final response head is parsed (interim 1xx responses are skipped) and
/// takes it off the front of `buf`; what follows it is the start of the body. Cancel-safe: all
/// state is in `buf`.
async fn read_head(
    stream: &TcpStream,
    buf: &mut BytesMut,
    head_request: bool,
) -> Result<Head, ExchangeError> {
    let mut received = !buf.is_empty();
    loop {
        if !buf.is_empty() {
            if let Some((head, used)) = response::parse(buf, head_request)? {
                buf.advance(used);
                if head.is_interim() {
                    continue;
                }
                return Ok(head);
            }
        }
        match std::future::poll_fn(|cx| conn::poll_fill(stream, buf, cx)).await {
            Ok(0) if received => return Err(ExchangeError::CutHead),
            Ok(0) => return Err(ExchangeError::NoResponse),
            Ok(_) => received = true,
            Err(e) if !received && is_reset(&e) => return Err(ExchangeError::NoResponse),
            Err(e) => return Err(ExchangeError::Read(e)),
        }
    }
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

#[cfg(test)]
mod tests {
    use super::super::testing::{request, Backend, Reply};
    use super::*;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

    async fn read(response: BackendResponse) -> String {
        let body = response.body.read_to_end(1000).await.unwrap();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn the_request_is_written_as_given() {
        let be = Backend::start(vec![Reply::Send(OK)]).await;
        let headers: Headers = [
            ("Host", "example.com"),
            ("X-CamelCase-Header", "1"),
            ("lower-case", "2"),
            ("Grip-Sig", "t"),
        ]
        .into_iter()
        .collect();
        let body = OutBody::Full(Bytes::from_static(b"hello"));
        let r = send(
            &Pool::new(),
            &be.target,
            &Method::POST,
            "/p?q=1",
            &headers,
            body,
        )
        .await
        .unwrap();
        assert_eq!(read(r).await, "ok");
        assert_eq!(
            be.requests(),
            ["POST /p?q=1 HTTP/1.1\r\nHost: example.com\r\nX-CamelCase-Header: 1\r\nlower-case: 2\r\nGrip-Sig: t\r\nContent-Length: 5\r\n\r\nhello"]
        );
    }

    #[tokio::test]
    async fn streamed_bodies_are_chunked_unless_their_length_is_declared() {
        let be = Backend::start(vec![Reply::Send(OK), Reply::Send(OK)]).await;
        let pool = Pool::new();
        let stream = |pieces: &[&'static str]| {
            let (tx, rx) = mpsc::channel(4);
            for p in pieces {
                tx.try_send(Ok(Bytes::from_static(p.as_bytes()))).unwrap();
            }
            OutBody::Stream(rx)
        };
        let r = send(
            &pool,
            &be.target,
            &Method::PUT,
            "/",
            &Headers::new(),
            stream(&["abc", "de"]),
        )
        .await
        .unwrap();
        assert_eq!(read(r).await, "ok");
        let declared: Headers = [("Content-Length", "5")].into_iter().collect();
        let r = send(
            &pool,
            &be.target,
            &Method::PUT,
            "/",
            &declared,
            stream(&["abc", "de"]),
        )
        .await
        .unwrap();
        assert_eq!(read(r).await, "ok");
        assert_eq!(
            be.requests(),
            [
                "PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
                "PUT / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcde"
            ]
        );
        assert_eq!(be.connections(), 2, "each stream on a new connection");
        assert_eq!(
            pool.idle_count(&be.target),
            2,
            "both sent whole: both connections kept"
        );
        // Shorter than declared: an error, and the connection is not reused.
        let r = send(
            &pool,
            &be.target,
            &Method::PUT,
            "/",
            &declared,
            stream(&["abc"]),
        )
        .await;
        assert!(matches!(
            r,
            Err(SendError::Failed(ExchangeError::BodyLength))
        ));
    }

    #[tokio::test]
    async fn a_pooled_connection_closed_by_the_server_is_retried_once() {
        // The second request arrives on the pooled connection, which the server then closes
        // without answering; it is sent again on a new connection.
        for method in [Method::GET, Method::POST] {
            let be = Backend::start(vec![Reply::Send(OK), Reply::Close, Reply::Send(OK)]).await;
            let pool = Pool::new();
            assert_eq!(
                read(request(&pool, &be.target, Method::GET).await.unwrap()).await,
                "ok"
            );
            let again = request(&pool, &be.target, method.clone()).await.unwrap();
            assert_eq!(read(again).await, "ok", "{method}");
            assert_eq!(be.connections(), 2);
            assert_eq!(be.requests().len(), 3);
        }
    }

    #[tokio::test]
    async fn no_retry_on_a_new_connection_or_after_a_response_byte_and_streams_get_new_ones() {
        let be = Backend::start(vec![Reply::Close]).await;
        let r = request(&Pool::new(), &be.target, Method::GET).await;
        assert!(matches!(
            r,
            Err(SendError::Failed(ExchangeError::NoResponse))
        ));
        assert_eq!(be.connections(), 1);

        let be = Backend::start(vec![Reply::Send(OK), Reply::SendAndClose(b"HTTP/1.1 200")]).await;
        let pool = Pool::new();
        read(request(&pool, &be.target, Method::GET).await.unwrap()).await;
        let r = request(&pool, &be.target, Method::GET).await;
        assert!(matches!(r, Err(SendError::Failed(ExchangeError::CutHead))));
        assert_eq!(be.requests().len(), 2);

        // A streamed body is not risked on a pooled connection: it gets a new one.
        let be = Backend::start(vec![Reply::Send(OK), Reply::Send(OK)]).await;
        let pool = Pool::new();
        read(request(&pool, &be.target, Method::GET).await.unwrap()).await;
        let (tx, rx) = mpsc::channel(1);
        tx.try_send(Ok(Bytes::from_static(b"x"))).unwrap();
        drop(tx);
        let r = send(
            &pool,
            &be.target,
            &Method::POST,
            "/",
            &Headers::new(),
            OutBody::Stream(rx),
        )
        .await
        .unwrap();
        assert_eq!(read(r).await, "ok");
        assert_eq!(be.connections(), 2);
        assert_eq!(
            pool.idle_count(&be.target),
            2,
            "both kept for buffered requests"
        );
    }

    #[tokio::test]
    async fn interim_responses_are_skipped() {
        let be = Backend::start(vec![Reply::Send(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Made It\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nok",
        )])
        .await;
        let r = request(&Pool::new(), &be.target, Method::GET)
            .await
            .unwrap();
        assert_eq!((r.code, r.reason.as_ref()), (201, &b"Made It"[..]));
        assert_eq!(r.headers.len(), 2);
        assert_eq!(read(r).await, "ok");
    }

    #[tokio::test]
    async fn unreachable_targets_are_connect_errors() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let r = request(&Pool::new(), &format!("127.0.0.1:{port}"), Method::GET).await;
        assert!(matches!(r, Err(SendError::Connect(_))));
    }
}
