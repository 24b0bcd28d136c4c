//! One `zhttp/` request, from its first packet to the end of the worker's answer (§2.2, §2.3).
//!
//! A session is a task that owns everything about the exchange: the sequence numbers of both
//! directions, the credits each side holds, the worker's address (its `from`, to which later
//! packets go), and the response body on its way to the client. The client side sees a
//! [`ResponseStream`]: the head, then a [`StreamBody`] that says whether it ended cleanly.
//!
//! Flow control: the request offers the worker [`INITIAL_CREDITS`] bytes; each body piece the
//! client takes is granted back. A worker that sends beyond its credits, or out of sequence,
//! is cancelled. Request bodies too large to go in the first packet follow it as the worker
//! grants credits.

use std::collections::VecDeque;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use protocol::zhttp::{self, Condition, Id, PacketType};
use protocol::Headers;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{interval_at, sleep_until, Instant};

use super::{encode, Shared, StreamError};
use crate::frontend::body::BodyError;

/// Response bytes a worker may send before it hears back (what Pushpin offers).
pub const INITIAL_CREDITS: u32 = 200_000;
/// How often a session tells its worker it is still there.
pub const KEEP_ALIVE: Duration = Duration::from_secs(45);
/// How long a session lasts without a word from its worker.
pub const EXPIRE: Duration = Duration::from_secs(60);
/// Packets a session's inbox holds; a worker within its credits sends far fewer unread.
pub(super) const INBOX: usize = 64;
/// Body pieces between the session and its client.
const CLIENT_QUEUE: usize = 4;
/// Small body pieces are joined up to this size while the client is behind.
const JOIN_LIMIT: usize = 16 * 1024;

/// The start of a worker's answer.
#[derive(Debug)]
pub struct Head {
    /// Status code.
    pub code: u16,
    /// Reason phrase, if the worker sent one.
    pub reason: Option<Bytes>,
    /// Header fields.
    pub headers: Headers,
    /// Whether body follows the first packet (`more`).
    pub more: bool,
}

/// A worker's answer: the head, and the body as it comes.
pub struct ResponseStream {
    /// The head.
    pub head: Head,
    /// The body.
    pub body: StreamBody,
}

enum Piece {
    Data(Bytes),
    End,
    Failed(StreamError),
}

/// The body of a worker's answer. A session that stops without saying the body ended yields an
/// error, never a clean end, so a cut-off body is not taken for a whole one.
pub struct StreamBody {
    rx: mpsc::Receiver<Piece>,
    done: bool,
}

impl StreamBody {
    /// The next piece; `None` after the last one.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, StreamError>>> {
        if self.done {
            return Poll::Ready(None);
        }
        let piece = std::task::ready!(self.rx.poll_recv(cx));
        Poll::Ready(match piece {
            Some(Piece::Data(bytes)) => Some(Ok(bytes)),
            Some(Piece::End) => {
                self.done = true;
                None
            }
            Some(Piece::Failed(e)) => {
                self.done = true;
                Some(Err(e))
            }
            None => {
                self.done = true;
                Some(Err(StreamError::Unreachable))
            }
        })
    }

    /// The whole body, failing past `limit` bytes.
    pub async fn read_to_end(mut self, limit: usize) -> Result<Bytes, StreamError> {
        let mut out = BytesMut::new();
        while let Some(piece) = std::future::poll_fn(|cx| self.poll_next(cx)).await {
            let piece = piece?;
            if out.len() + piece.len() > limit {
                return Err(StreamError::TooLarge);
            }
            out.extend_from_slice(&piece);
        }
        Ok(out.freeze())
    }
}

/// Starts a session for `request` and waits for the head of the answer.
pub(super) async fn open(
    shared: Arc<Shared>,
    mut request: zhttp::Request,
    rest: Option<mpsc::Receiver<Result<Bytes, BodyError>>>,
) -> Result<ResponseStream, StreamError> {
    let id = Bytes::from(format!(
        "{:016x}{:016x}",
        fastrand::u64(..),
        fastrand::u64(..)
    ));
    request.id = Id::Single(id.clone());
    request.from = Some(shared.address.clone());
    request.seq = Some(0);
    request.stream = true;
    request.credits = Some(INITIAL_CREDITS);
    request.ext.multi = true;
    request.more = rest.is_some();
    request.max_size = None;
    let (inbox_tx, inbox) = mpsc::channel(INBOX);
    shared.sessions().insert(id.clone(), inbox_tx);
    let session = Session {
        shared,
        id,
        inbox,
        out_seq: 1,
        in_seq: 0,
        worker: None,
        send_credits: 0,
        recv_credits: INITIAL_CREDITS,
        heard: Instant::now(),
    };
    let (head_tx, head_rx) = oneshot::channel();
    tokio::spawn(session.run(encode(&request), rest, head_tx));
    head_rx.await.unwrap_or(Err(StreamError::Unreachable))
}

/// How a session ended early.
enum Failure {
    /// The client went away: the worker is told.
    ClientGone,
    /// The worker ended it (error or cancel): nothing to tell it.
    ByWorker(StreamError),
    /// It went wrong on the worker's side in a way it may not know (silence, a broken
    /// protocol): the worker is told.
    Broken(StreamError),
}

/// What one packet from the worker amounts to.
enum Received {
    Nothing,
    Data {
        head: Option<Head>,
        body: Bytes,
        more: bool,
    },
}

/// The request body still to send, as the worker grants credits.
struct RequestBody {
    rx: Option<mpsc::Receiver<Result<Bytes, BodyError>>>,
    /// Bytes taken from `rx` and not yet covered by credits.
    unsent: Bytes,
}

impl RequestBody {
    fn wants_to_send(&self) -> bool {
        self.rx.is_some() || !self.unsent.is_empty()
    }

    async fn next(&mut self) -> Option<Result<Bytes, BodyError>> {
        if !self.unsent.is_empty() {
            return Some(Ok(std::mem::take(&mut self.unsent)));
        }
        match self.rx.as_mut() {
            Some(rx) => rx.recv().await,
            None => std::future::pending().await,
        }
    }
}

struct Session {
    shared: Arc<Shared>,
    id: Bytes,
    inbox: mpsc::Receiver<zhttp::Response>,
    /// Our next `seq`.
    out_seq: u32,
    /// The worker's next `seq`.
    in_seq: u32,
    /// The worker's `from`: where later packets go.
    worker: Option<Bytes>,
    /// Request bytes the worker has room for.
    send_credits: u32,
    /// Response bytes the worker may still send.
    recv_credits: u32,
    /// When the worker was last heard from.
    heard: Instant,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.shared.sessions().remove(&self.id);
    }
}

type HeadSender = oneshot::Sender<Result<ResponseStream, StreamError>>;

impl Session {
    async fn run(
        mut self,
        first: Bytes,
        rest: Option<mpsc::Receiver<Result<Bytes, BodyError>>>,
        head_tx: HeadSender,
    ) {
        let mut head_tx = Some(head_tx);
        let mut body_tx = None;
        let body = RequestBody {
            rx: rest,
            unsent: Bytes::new(),
        };
        let outcome = self.drive(first, body, &mut head_tx, &mut body_tx).await;
        if let Err(failure) = outcome {
            self.fail(failure, head_tx, body_tx).await;
        }
    }

    /// Runs the exchange until the body has reached the client whole.
    async fn drive(
        &mut self,
        first: Bytes,
        mut body: RequestBody,
        head_tx: &mut Option<HeadSender>,
        body_tx: &mut Option<mpsc::Sender<Piece>>,
    ) -> Result<(), Failure> {
        if self
            .shared
            .push
            .send((self.id.clone(), first))
            .await
            .is_err()
        {
            return Err(Failure::ByWorker(StreamError::Unreachable));
        }
        let mut pending: VecDeque<Bytes> = VecDeque::new();
        let mut ended = false;
        let mut keep_alive = interval_at(Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
        loop {
            let can_send_body =
                body.wants_to_send() && self.send_credits > 0 && self.worker.is_some();
            tokio::select! {
                packet = self.inbox.recv() => {
                    // The inbox is taken away from a session whose worker overran it.
                    let packet = packet.ok_or(Failure::Broken(StreamError::Protocol(
                        "flow control ignored",
                    )))?;
                    if let Received::Data { head, body, more } = self.receive(packet)? {
                        if head_tx.is_some() {
                            let head = head.ok_or(Failure::Broken(StreamError::Protocol(
                                "response did not start with a status code",
                            )))?;
                            *body_tx = Some(start_client(head_tx, head)?);
                        }
                        queue_piece(&mut pending, body);
                        ended = !more;
                    }
                }
                _ = client_gone(head_tx, body_tx) => return Err(Failure::ClientGone),
                permit = client_room(body_tx.clone()), if !pending.is_empty() || ended => {
                    let permit = permit.ok_or(Failure::ClientGone)?;
                    let Some(piece) = pending.pop_front() else {
                        permit.send(Piece::End);
                        return Ok(());
                    };
                    let mut granted = piece.len();
                    permit.send(Piece::Data(piece));
                    granted += hand_over_more(body_tx, &mut pending);
                    // Once the worker has sent its last part it needs no more credits (Pushpin
                    // sends none then either).
                    if !ended {
                        self.grant(granted).await;
                    }
                }
                _ = sleep_until(self.heard + EXPIRE) => {
                    return Err(Failure::Broken(StreamError::Unreachable));
                }
                _ = keep_alive.tick() => self.send_control(PacketType::KeepAlive, None).await,
                piece = body.next(), if can_send_body => match piece {
                    Some(Ok(bytes)) => body.unsent = self.send_body(bytes).await,
                    Some(Err(_)) => return Err(Failure::ClientGone),
                    None => {
                        self.send_body_end().await;
                        body.rx = None;
                    }
                },
            }
        }
    }

    /// Checks a worker packet against the session (sequence, credits) and takes what it says.
    fn receive(&mut self, packet: zhttp::Response) -> Result<Received, Failure> {
        // A cancel may come out of sequence.
        if packet.ty == PacketType::Cancel {
            return Err(Failure::ByWorker(StreamError::Cancelled));
        }
        if let Some(seq) = packet.seq {
            if seq != self.in_seq {
                return Err(Failure::Broken(StreamError::Protocol(
                    "packet out of sequence",
                )));
            }
            self.in_seq = seq.wrapping_add(1);
        }
        self.heard = Instant::now();
        if let Some(from) = packet.from.filter(|f| !f.is_empty()) {
            self.worker = Some(from);
        }
        if let Some(credits) = packet.credits {
            self.send_credits = self.send_credits.saturating_add(credits);
        }
        match packet.ty {
            PacketType::Data => {
                let len = u32::try_from(packet.body.len()).unwrap_or(u32::MAX);
                self.recv_credits = self.recv_credits.checked_sub(len).ok_or(Failure::Broken(
                    StreamError::Protocol("body beyond the credits granted"),
                ))?;
                let head = packet.code.map(|code| Head {
                    code,
                    reason: packet.reason,
                    headers: packet.headers,
                    more: packet.more,
                });
                Ok(Received::Data {
                    head,
                    body: packet.body,
                    more: packet.more,
                })
            }
            PacketType::Error => {
                let condition = packet
                    .condition
                    .unwrap_or_else(|| Condition::Other(Bytes::from_static(b"undefined")));
                Err(Failure::ByWorker(StreamError::Condition(condition)))
            }
            // Credits and keep-alives did their work above; WebSocket and handoff packets have
            // no meaning in an HTTP exchange.
            _ => Ok(Received::Nothing),
        }
    }

    /// Gives the worker back `bytes` of credit for body the client has taken.
    async fn grant(&mut self, bytes: usize) {
        let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        self.recv_credits = self.recv_credits.saturating_add(bytes);
        self.send_control(PacketType::Credit, Some(bytes)).await;
    }

    /// Sends as much of `bytes` as the worker has credits for; returns the rest.
    async fn send_body(&mut self, mut bytes: Bytes) -> Bytes {
        let n = bytes.len().min(self.send_credits as usize);
        let now = bytes.split_to(n);
        self.send_credits -= n as u32;
        self.send_packet(zhttp::Request {
            body: now,
            more: true,
            ..zhttp::Request::default()
        })
        .await;
        bytes
    }

    async fn send_body_end(&mut self) {
        self.send_packet(zhttp::Request::default()).await;
    }

    async fn send_control(&mut self, ty: PacketType, credits: Option<u32>) {
        self.send_packet(zhttp::Request {
            ty,
            credits,
            ..zhttp::Request::default()
        })
        .await;
    }

    /// Sends a later packet to the worker (nothing, before the worker is known).
    async fn send_packet(&mut self, mut packet: zhttp::Request) {
        let Some(worker) = self.worker.clone() else {
            return;
        };
        packet.from = Some(self.shared.address.clone());
        packet.id = Id::Single(self.id.clone());
        packet.seq = Some(self.out_seq);
        self.out_seq = self.out_seq.wrapping_add(1);
        let _ = self.shared.router.send((worker, encode(&packet))).await;
    }

    /// Ends a failed session: the worker is told when it may not know, and the client gets the
    /// error (as a reply before the head, as a broken body after it).
    async fn fail(
        &mut self,
        failure: Failure,
        head_tx: Option<HeadSender>,
        body_tx: Option<mpsc::Sender<Piece>>,
    ) {
        let error = match failure {
            Failure::ClientGone => {
                self.send_control(PacketType::Cancel, None).await;
                return;
            }
            Failure::Broken(e) => {
                self.send_control(PacketType::Cancel, None).await;
                e
            }
            Failure::ByWorker(e) => e,
        };
        tracing::debug!(error = %error, "zhttp session failed");
        if let Some(tx) = head_tx {
            let _ = tx.send(Err(error));
        } else if let Some(tx) = body_tx {
            // If the queue is full the body ends without `End`, which reads as a failure too.
            let _ = tx.try_send(Piece::Failed(error));
        }
    }
}

/// Gives the client the head and returns where its body goes.
fn start_client(
    head_tx: &mut Option<HeadSender>,
    head: Head,
) -> Result<mpsc::Sender<Piece>, Failure> {
    let (tx, rx) = mpsc::channel(CLIENT_QUEUE);
    let stream = ResponseStream {
        head,
        body: StreamBody { rx, done: false },
    };
    match head_tx.take().map(|h| h.send(Ok(stream))) {
        Some(Ok(())) => Ok(tx),
        _ => Err(Failure::ClientGone),
    }
}

/// Queues a body piece, joining small ones so a worker sending many tiny packets does not
/// cost a queue entry each.
fn queue_piece(pending: &mut VecDeque<Bytes>, piece: Bytes) {
    if piece.is_empty() {
        return;
    }
    match pending.back_mut() {
        Some(last) if last.len() + piece.len() <= JOIN_LIMIT => {
            let mut joined = BytesMut::with_capacity(last.len() + piece.len());
            joined.extend_from_slice(last);
            joined.extend_from_slice(&piece);
            *last = joined.freeze();
        }
        _ => pending.push_back(piece),
    }
}

/// Moves queued pieces to the client while it has room; returns the bytes moved.
fn hand_over_more(body_tx: &Option<mpsc::Sender<Piece>>, pending: &mut VecDeque<Bytes>) -> usize {
    let Some(tx) = body_tx else { return 0 };
    let mut moved = 0;
    while !pending.is_empty() {
        let Ok(permit) = tx.try_reserve() else { break };
        if let Some(piece) = pending.pop_front() {
            moved += piece.len();
            permit.send(Piece::Data(piece));
        }
    }
    moved
}

/// Resolves when the client has gone: it dropped the wait for the head, or the body.
async fn client_gone(head_tx: &mut Option<HeadSender>, body_tx: &Option<mpsc::Sender<Piece>>) {
    match (head_tx.as_mut(), body_tx) {
        (Some(tx), _) => tx.closed().await,
        (None, Some(tx)) => tx.closed().await,
        (None, None) => std::future::pending().await,
    }
}

/// Room for one piece on the client's queue; `None` when the client has gone. (Owned, so the
/// wait borrows nothing the session changes.)
async fn client_room(body_tx: Option<mpsc::Sender<Piece>>) -> Option<mpsc::OwnedPermit<Piece>> {
    match body_tx {
        Some(tx) => tx.reserve_owned().await.ok(),
        None => std::future::pending().await,
    }
}
