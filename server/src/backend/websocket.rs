//! Native WebSocket backends (§7.1): the opening handshake with the backend, done here rather
//! than by tungstenite so header names keep their case and a refusal comes back whole.
//!
//! The client's key and version are forwarded, so the backend's `Sec-WebSocket-Accept` is the
//! one the client expects. A `101` hands back the socket and any bytes read past the head (the
//! backend may send its first message at once); anything else is a refusal, passed to the
//! client with its body (bounded).

use bytes::{Bytes, BytesMut};
use protocol::Headers;
use tokio::io::AsyncWriteExt;

use super::http::BackendError;
use super::http1::conn::Conn;
use super::http1::request::{self, Framing as RequestFraming};
use super::http1::response::{self, Framing, Head};

/// Largest refusal body passed to the client.
pub const REFUSAL_LIMIT: usize = 100_000;

/// The backend's answer to the handshake.
pub enum Opened {
    /// `101`: the WebSocket is open.
    Upgraded {
        /// The socket.
        conn: Conn,
        /// The backend's head (its fields go to the client).
        head: Head,
    },
    /// Any other answer, with its body.
    Refused {
        /// The head.
        head: Head,
        /// The body, up to [`REFUSAL_LIMIT`].
        body: Bytes,
    },
}

/// Opens a WebSocket to the first target that accepts a connection.
pub async fn open(
    targets: &[String],
    path: &str,
    headers: &Headers,
) -> Result<Opened, BackendError> {
    let mut out = BytesMut::new();
    request::encode_head(
        b"GET",
        path.as_bytes(),
        headers,
        RequestFraming::Length(0),
        &mut out,
    )
    .map_err(|e| BackendError::Failed(e.to_string()))?;
    let mut conn = connect_any(targets).await?;
    conn.stream
        .write_all(&out)
        .await
        .map_err(|e| BackendError::Failed(e.to_string()))?;
    let head = read_head(&mut conn).await?;
    if head.code == 101 {
        return Ok(Opened::Upgraded { conn, head });
    }
    let body = read_refusal_body(&mut conn, head.framing).await;
    Ok(Opened::Refused { head, body })
}

async fn connect_any(targets: &[String]) -> Result<Conn, BackendError> {
    for target in targets {
        match Conn::connect(target).await {
            Ok(conn) => return Ok(conn),
            Err(e) => tracing::debug!(%target, error = %e, "WebSocket backend not reachable"),
        }
    }
    Err(BackendError::Unreachable(targets.join(" ")))
}

/// Reads the response head (skipping interim responses); bytes past it stay in `conn.buf`.
async fn read_head(conn: &mut Conn) -> Result<Head, BackendError> {
    loop {
        match response::parse(&conn.buf, false) {
            Ok(Some((head, used))) => {
                let _ = conn.buf.split_to(used);
                if head.is_interim() {
                    continue;
                }
                return Ok(head);
            }
            Ok(None) => {}
            Err(e) => return Err(BackendError::Failed(e.to_string())),
        }
        match conn.fill().await {
            Ok(0) => return Err(BackendError::Failed("connection closed mid-head".into())),
            Ok(_) => {}
            Err(e) => return Err(BackendError::Failed(e.to_string())),
        }
    }
}

/// What the backend sends of a refusal's body, up to [`REFUSAL_LIMIT`]. A chunked body is
/// taken up to the limit as it arrives and its chunk framing removed.
async fn read_refusal_body(conn: &mut Conn, framing: Framing) -> Bytes {
    let want = match framing {
        Framing::Empty => return Bytes::new(),
        Framing::Length(n) => usize::try_from(n).unwrap_or(usize::MAX).min(REFUSAL_LIMIT),
        Framing::Chunked | Framing::Close => REFUSAL_LIMIT,
    };
    let mut decoder = crate::frontend::body::BodyDecoder::new(match framing {
        Framing::Chunked => crate::frontend::request::BodyFraming::Chunked,
        _ => crate::frontend::request::BodyFraming::Length(want as u64),
    });
    let mut body = BytesMut::new();
    while body.len() < want && !decoder.is_done() {
        match decoder.decode(&mut conn.buf) {
            Ok(crate::frontend::body::Decoded::Data(piece)) => body.extend_from_slice(&piece),
            Ok(crate::frontend::body::Decoded::Done) | Err(_) => break,
            Ok(crate::frontend::body::Decoded::NeedMore) => match conn.fill().await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            },
        }
    }
    body.truncate(want);
    body.freeze()
}
