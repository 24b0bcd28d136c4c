//! One client connection: reads requests, hands them to the [`Handler`], writes the replies.
//!
//! The driver is generic over the [`ClientStream`] it runs on (TCP, TLS, unix socket) and only
//! reads, writes and flushes it: whatever is specific to one kind of socket happens in the
//! listener before [`serve`] is called.
//!
//! Memory is the design constraint (see the module doc of `frontend`): between requests and while
//! a reply is held, the connection owns no read buffer, only the socket. A buffer exists while a
//! head is being read and is dropped once the head is parsed, unless the client already sent the
//! next bytes (a body or a pipelined request), which are kept.
//!
//! While a handler is working or a reply body is streaming, the driver also watches the socket: if
//! the client goes away, the handler's future or the body source is dropped at once, which is how
//! a held session learns that its client left (its subscriptions are guards that unsubscribe on
//! drop).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::sync::mpsc;

use super::body::{BodyDecoder, BodyError, Decoded};
use super::request::{self, BodyFraming, HeadError, RequestHead, Version};
use super::response::{self, Framing, ResponseHead};
use super::stream::{ClientStream, Peer};

/// How many body pieces may wait between the socket and the handler before reading pauses.
const BODY_QUEUE: usize = 8;
/// Size of each read from the client.
const READ_CHUNK: usize = 4096;
/// How long a connection may take to send a whole request head, counted from when the server
/// starts waiting for it (connection open, or the previous reply sent). A client that says
/// nothing, or trickles a head byte by byte, would otherwise hold a `client_maxconn` slot
/// forever. Pushpin closes silent connections after the same 60 seconds.
const HEAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A request as the handler sees it.
pub struct Request {
    /// The parsed head.
    pub head: RequestHead,
    /// The body, streamed as it arrives.
    pub body: RequestBody,
    /// Who sent it, and over what.
    pub peer: Peer,
}

/// A request body: nothing, or pieces arriving on a channel (an `Err` means the client sent a
/// malformed body or went away, and nothing more will come).
pub enum RequestBody {
    /// No body.
    Empty,
    /// Pieces in order; the channel closes after the last one.
    Stream(mpsc::Receiver<Result<Bytes, BodyError>>),
}

/// A reply to a client.
pub struct Reply {
    /// Status and headers.
    pub head: ResponseHead,
    /// The body.
    pub body: ReplyBody,
    /// Close the connection after this reply (`Connection: close`), whatever the client asked.
    pub close: bool,
}

/// A reply body.
pub enum ReplyBody {
    /// All of it, length known.
    Full(Bytes),
    /// Produced over time; `len` when the total is known in advance.
    Stream {
        /// The total length, if known (sets `Content-Length`).
        len: Option<u64>,
        /// Where the pieces come from.
        source: Box<dyn BodySource>,
    },
    /// No body: the reply is a `101` and the connection switches to another protocol.
    Upgrade(Box<dyn Upgrade>),
}

impl Reply {
    /// A complete reply.
    pub fn full(head: ResponseHead, body: impl Into<Bytes>) -> Self {
        Reply {
            head,
            body: ReplyBody::Full(body.into()),
            close: false,
        }
    }

    /// A plain-text reply with a standard reason phrase, as Pushpin's proxy errors look
    /// (`Content-Type: text/plain`, explicit length).
    pub fn text(code: u16, text: impl Into<Bytes>) -> Self {
        let mut head = ResponseHead::new(code);
        head.headers.push("Content-Type", "text/plain");
        Reply::full(head, text)
    }
}

/// What a `101 Switching Protocols` reply hands the connection to (a WebSocket session): it
/// runs on the client's socket once the head is written, and the connection ends with it.
pub trait Upgrade: Send {
    /// Runs the new protocol on `io`.
    fn run<'a>(self: Box<Self>, io: Upgraded<'a>) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
}

/// The client's socket after a `101`, and the bytes the client already sent past the request
/// head (a WebSocket client may send its first frame without waiting).
pub struct Upgraded<'a> {
    /// The socket.
    pub io: &'a mut (dyn UpgradedIo + 'a),
    /// Bytes read but not yet used.
    pub early: Bytes,
}

/// A client socket, whatever its kind, once upgraded.
pub trait UpgradedIo: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> UpgradedIo for T {}

/// A streamed reply body. `Ready(None)` ends the body; an `Err` ends the connection.
pub trait BodySource: Send {
    /// The next piece of the body.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>>;
}

/// What the server does with requests.
pub trait Handler: Send + Sync + 'static {
    /// Produces the reply to one request.
    fn handle(&self, request: Request) -> Pin<Box<dyn Future<Output = Reply> + Send>>;

    /// The reply to a request whose head could not be read (the connection closes after it).
    fn head_error(&self, error: &HeadError) -> Reply {
        Reply::text(
            error.status(),
            format!("{}\n", capitalise(&error.to_string())),
        )
    }
}

/// Limits the driver applies to a connection.
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    /// Largest request head (`client_buffer_size`).
    pub max_head: usize,
    /// How long a request head may take to arrive (`client_head_timeout`; 60 s by default, as Pushpin).
    pub head_timeout: std::time::Duration,
}

impl ConnLimits {
    /// Limits with heads of at most `max_head` bytes and the default head timeout.
    pub fn new(max_head: usize) -> Self {
        ConnLimits {
            max_head,
            head_timeout: HEAD_TIMEOUT,
        }
    }
}

/// Serves requests on one client connection until it closes.
pub async fn serve<S: ClientStream>(
    mut sock: S,
    peer: Peer,
    handler: Arc<dyn Handler>,
    limits: ConnLimits,
) {
    serve_requests(&mut sock, peer, handler, limits).await;
    sock.close().await;
}

async fn serve_requests<S: ClientStream>(
    sock: &mut S,
    peer: Peer,
    handler: Arc<dyn Handler>,
    limits: ConnLimits,
) {
    let mut pending = BytesMut::new();
    loop {
        let reading = read_head(sock, &mut pending, limits.max_head);
        let head = match tokio::time::timeout(limits.head_timeout, reading).await {
            Ok(Ok(Some(head))) => head,
            Ok(Ok(None)) | Err(_) => return,
            Ok(Err(e)) => {
                // Boxed: a cold path that would otherwise size every connection's future.
                let reply = handler.head_error(&e);
                let _ = Box::pin(write_reply(sock, reply, Version::Http11, false)).await;
                return;
            }
        };
        // The task's future is allocated once, at the size of its largest state, for the
        // connection's whole life. Waiting for the handler is boxed, so its state exists only
        // while it lasts; the state a held stream lives in (writing the reply) stays small.
        let received = Box::pin(receive_reply(
            sock,
            &mut pending,
            head,
            peer,
            handler.as_ref(),
        ))
        .await;
        let Ok(Some((reply, version, keep_alive))) = received else {
            return;
        };
        match write_reply_watching(sock, &mut pending, reply, version, keep_alive).await {
            Ok(true) => {}
            Ok(false) | Err(_) => return,
        }
        if pending.is_empty() {
            // Keep no buffer while idle between requests (a body read may have reserved one).
            pending = BytesMut::new();
        }
    }
}

/// Reads until a whole head is parsed. `Ok(None)`: the client closed cleanly between requests.
async fn read_head<S: ClientStream>(
    sock: &mut S,
    pending: &mut BytesMut,
    max_head: usize,
) -> Result<Option<RequestHead>, HeadError> {
    loop {
        if !pending.is_empty() {
            if let Some((head, used)) = request::parse(pending, max_head)? {
                let _ = pending.split_to(used);
                if pending.is_empty() {
                    // Free the read reservation now: a held request may last for hours.
                    *pending = BytesMut::new();
                }
                return Ok(Some(head));
            }
        }
        pending.reserve(READ_CHUNK);
        match sock.read_buf(pending).await {
            Ok(0) if pending.is_empty() => return Ok(None),
            Ok(0) => return Err(HeadError::Malformed("connection closed mid-head")),
            Ok(_) => {}
            Err(_) => return Ok(None),
        }
    }
}

/// Reads one request's body into the handler and waits for its reply. `Ok(None)` when the
/// connection is done (the client left, or an error reply was already written).
async fn receive_reply<S: ClientStream>(
    sock: &mut S,
    pending: &mut BytesMut,
    head: RequestHead,
    peer: Peer,
    handler: &dyn Handler,
) -> io::Result<Option<(Reply, Version, bool)>> {
    let version = head.version;
    let keep_alive = head.keep_alive && !head.websocket;
    if head.expect_continue && head.framing != BodyFraming::Empty {
        sock.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        sock.flush().await?;
    }
    let mut decoder = BodyDecoder::new(head.framing);
    let (body, mut body_tx) = if decoder.is_done() {
        (RequestBody::Empty, None)
    } else {
        let (tx, rx) = mpsc::channel(BODY_QUEUE);
        (RequestBody::Stream(rx), Some(tx))
    };
    let mut reply_fut = handler.handle(Request { head, body, peer });

    // Feed the body while the handler runs; afterwards, watch for the client leaving.
    let mut early_reply = None;
    while let Some(tx) = body_tx.as_ref() {
        tokio::select! {
            reply = &mut reply_fut => {
                early_reply = Some(reply);
                break;
            }
            fed = feed_body(sock, pending, &mut decoder, tx) => match fed {
                Ok(true) => body_tx = None,
                Ok(false) => {}
                Err(FeedError::Client(e)) => {
                    if let Some(tx) = body_tx.take() {
                        let _ = tx.try_send(Err(e));
                    }
                    drop(reply_fut);
                    let text = format!("{}\n", capitalise(&e.to_string()));
                    write_reply(sock, Reply::text(400, text), version, false).await?;
                    return Ok(None);
                }
                Err(FeedError::Gone) => return Ok(None),
            },
        }
    }
    let reply = match early_reply {
        Some(reply) => reply,
        None => loop {
            tokio::select! {
                reply = &mut reply_fut => break reply,
                gone = client_gone(sock, pending) => if gone {
                    return Ok(None);
                },
            }
        },
    };
    let keep_alive = keep_alive && decoder.is_done() && !reply.close;
    Ok(Some((reply, version, keep_alive)))
}

enum FeedError {
    Client(BodyError),
    Gone,
}

/// Moves decoded body pieces to the handler; reads from the socket when the buffer runs dry.
/// `Ok(true)` when the body is complete.
async fn feed_body<S: ClientStream>(
    sock: &mut S,
    pending: &mut BytesMut,
    decoder: &mut BodyDecoder,
    tx: &mpsc::Sender<Result<Bytes, BodyError>>,
) -> Result<bool, FeedError> {
    match decoder.decode(pending).map_err(FeedError::Client)? {
        Decoded::Data(piece) => {
            // If the handler stopped reading the body, keep draining it so the connection stays in sync.
            let _ = tx.send(Ok(piece)).await;
            Ok(false)
        }
        Decoded::Done => Ok(true),
        Decoded::NeedMore => {
            pending.reserve(READ_CHUNK);
            match sock.read_buf(pending).await {
                Ok(0) | Err(_) => Err(FeedError::Gone),
                Ok(_) => Ok(false),
            }
        }
    }
}

/// Resolves when the client's side shows activity: `true` if it closed. Bytes it sends early (a
/// pipelined request) are kept in `pending`, up to a bound past which reading simply pauses.
///
/// The read goes into a buffer on the stack of one poll, never into the future's state or the
/// heap, so a connection waiting here owns no read buffer. On TLS the read also processes what
/// the TLS layer receives (a `close_notify` reads as the end of the stream).
async fn client_gone<S: ClientStream>(sock: &mut S, pending: &mut BytesMut) -> bool {
    const MAX_EARLY: usize = 64 * 1024;
    if pending.len() >= MAX_EARLY {
        return std::future::pending().await;
    }
    std::future::poll_fn(|cx| {
        let mut scratch = [0u8; 512];
        let mut buf = ReadBuf::new(&mut scratch);
        match Pin::new(&mut *sock).poll_read(cx, &mut buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(_)) => Poll::Ready(true),
            Poll::Ready(Ok(())) if buf.filled().is_empty() => Poll::Ready(true),
            Poll::Ready(Ok(())) => {
                pending.extend_from_slice(buf.filled());
                Poll::Ready(false)
            }
        }
    })
    .await
}

/// Writes a reply without watching the client (for errors on a connection about to close).
async fn write_reply<S: ClientStream>(
    sock: &mut S,
    reply: Reply,
    version: Version,
    keep_alive: bool,
) -> io::Result<bool> {
    let mut scratch = BytesMut::new();
    write_reply_watching(sock, &mut scratch, reply, version, keep_alive).await
}

/// Writes a reply; while a streamed body waits for its next piece, watches for the client leaving.
/// `Ok(true)` if the connection may carry another request.
///
/// Every write is followed by a flush: a no-op on plain sockets, but TLS may keep encrypted
/// bytes back when the socket is full, and a held stream may wait long for its next write.
async fn write_reply_watching<S: ClientStream>(
    sock: &mut S,
    pending: &mut BytesMut,
    reply: Reply,
    version: Version,
    keep_alive: bool,
) -> io::Result<bool> {
    let mut out = BytesMut::new();
    match reply.body {
        ReplyBody::Full(body) => {
            let framing = Framing::Length(body.len() as u64);
            response::encode_head(&reply.head, framing, version, keep_alive, &mut out);
            out.extend_from_slice(&body);
            sock.write_all(&out).await?;
            sock.flush().await?;
            Ok(keep_alive)
        }
        ReplyBody::Upgrade(upgrade) => {
            response::encode_switching_head(&reply.head, &mut out);
            // Nothing of the reply is needed once written: the new protocol may run for hours.
            drop(reply.head);
            sock.write_all(&out).await?;
            sock.flush().await?;
            drop(out);
            let early = std::mem::take(pending).freeze();
            upgrade.run(Upgraded { io: sock, early }).await;
            Ok(false)
        }
        ReplyBody::Stream { len, mut source } => {
            let framing = Framing::choose(len, version);
            response::encode_head(&reply.head, framing, version, keep_alive, &mut out);
            sock.write_all(&out).await?;
            sock.flush().await?;
            drop(out);
            let mut sent: u64 = 0;
            let mut batch = Batch::default();
            while !batch.ended {
                tokio::select! {
                    () = std::future::poll_fn(|cx| batch.fill(source.as_mut(), cx)) => {}
                    gone = client_gone(sock, pending) => {
                        if gone {
                            return Ok(false);
                        }
                        continue;
                    }
                };
                if batch.failed {
                    return Ok(false);
                }
                if !batch.pieces.is_empty() {
                    sent += batch.pieces.iter().map(|p| p.len() as u64).sum::<u64>();
                    write_pieces(sock, framing, &batch.pieces).await?;
                    sock.flush().await?;
                    batch.clear();
                }
            }
            match framing {
                Framing::Chunked => {
                    sock.write_all(response::LAST_CHUNK).await?;
                    sock.flush().await?;
                }
                Framing::Length(n) if n != sent => return Ok(false),
                _ => {}
            }
            Ok(keep_alive && framing != Framing::Close)
        }
    }
}

/// Most body pieces written with one system call. When a publisher sends faster than a client
/// reads, or many messages arrive at once, a stream's queue holds several pieces: writing them
/// together costs one `writev` instead of one each, and a loopback or TLS write costs far more
/// than the bytes in it. 64 pieces is 192 slices, well under `IOV_MAX` (1024).
const MAX_BATCH: usize = 64;

/// The pieces of a streamed body that are ready now.
#[derive(Default)]
struct Batch {
    pieces: Vec<Bytes>,
    /// The body is complete: write what is here, then finish.
    ended: bool,
    /// The source failed: the response is cut off.
    failed: bool,
}

impl Batch {
    /// Empties the batch after a write. A burst may have grown it to [`MAX_BATCH`] slots; a held
    /// stream waits for hours between bursts, so a large buffer is freed rather than kept.
    fn clear(&mut self) {
        if self.pieces.capacity() > 4 {
            self.pieces = Vec::new();
        } else {
            self.pieces.clear();
        }
    }

    /// Takes every piece `source` has ready, up to [`MAX_BATCH`]; pending until there is at
    /// least one, or the body ends.
    fn fill(&mut self, source: &mut dyn BodySource, cx: &mut Context<'_>) -> Poll<()> {
        while self.pieces.len() < MAX_BATCH {
            match source.poll_next(cx) {
                Poll::Ready(Some(Ok(piece))) if piece.is_empty() => {}
                Poll::Ready(Some(Ok(piece))) => self.pieces.push(piece),
                Poll::Ready(Some(Err(_))) => {
                    self.failed = true;
                    return Poll::Ready(());
                }
                Poll::Ready(None) => {
                    self.ended = true;
                    return Poll::Ready(());
                }
                Poll::Pending if self.pieces.is_empty() => return Poll::Pending,
                Poll::Pending => break,
            }
        }
        Poll::Ready(())
    }
}

/// Chunked pieces totalling at most this many bytes are copied into one buffer for their write.
const GATHER_LIMIT: usize = 16 * 1024;

/// Writes body pieces with their chunk framing: small ones copied into one buffer, larger ones
/// gathered into one vectored write where the socket takes it all (the usual case).
async fn write_pieces<S: ClientStream>(
    sock: &mut S,
    framing: Framing,
    pieces: &[Bytes],
) -> io::Result<()> {
    let chunked = framing == Framing::Chunked;
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    if chunked && total <= GATHER_LIMIT {
        // Small pieces are copied into one buffer: the kernel's per-segment cost of a vectored
        // write (three segments a chunk) outweighs a short copy here. Measured on the PULL
        // fan-out bench (1,000 streams, small items): about 30% fewer CPU cycles per delivery.
        let mut out = BytesMut::with_capacity(total + pieces.len() * 12);
        for piece in pieces {
            out.extend_from_slice(response::chunk_prefix(piece.len()).as_bytes());
            out.extend_from_slice(piece);
            out.extend_from_slice(b"\r\n");
        }
        return sock.write_all(&out).await;
    }
    if let [piece] = pieces {
        let prefix = response::chunk_prefix(piece.len());
        let mut one = [
            io::IoSlice::new(if chunked { prefix.as_bytes() } else { b"" }),
            io::IoSlice::new(piece),
            io::IoSlice::new(if chunked { b"\r\n" } else { b"" }),
        ];
        return write_all_vectored(sock, &mut one).await;
    }
    let prefixes: Vec<response::ChunkPrefix> = pieces
        .iter()
        .map(|p| response::chunk_prefix(p.len()))
        .collect();
    let mut slices: Vec<io::IoSlice<'_>> = Vec::with_capacity(pieces.len() * 3);
    for (piece, prefix) in pieces.iter().zip(&prefixes) {
        if chunked {
            slices.push(io::IoSlice::new(prefix.as_bytes()));
        }
        slices.push(io::IoSlice::new(piece));
        if chunked {
            slices.push(io::IoSlice::new(b"\r\n"));
        }
    }
    write_all_vectored(sock, &mut slices).await
}

/// Writes every slice, continuing after short writes.
async fn write_all_vectored<S: ClientStream>(
    sock: &mut S,
    mut slices: &mut [io::IoSlice<'_>],
) -> io::Result<()> {
    io::IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        let written = sock.write_vectored(slices).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        io::IoSlice::advance_slices(&mut slices, written);
    }
    Ok(())
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
