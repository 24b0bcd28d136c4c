//! The session protocol against an in-process worker speaking ZHTTP over real sockets (ipc):
//! parts in order and credits back, request bodies paced by credits, and the ways a session
//! ends early (worker error, broken sequence, overrun credits, the client leaving).

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use protocol::zhttp::{self, Id, PacketType};
use tokio::sync::mpsc;
use zeromq::{Socket, SocketOptions, SocketRecv, SocketSend, ZmqMessage};

use super::*;

const WORKER: &[u8] = b"zworker";
const WAIT: Duration = Duration::from_secs(5);

/// A worker: PULL for requests, ROUTER (identity `zworker`) for later packets, PUB for answers.
struct Worker {
    pull: zeromq::PullSocket,
    router: zeromq::RouterSocket,
    publish: zeromq::PubSocket,
    path: String,
}

impl Worker {
    async fn start(name: &str) -> (Arc<ZhttpBackend>, Worker) {
        let path = format!("/tmp/gripway-zhttp-{}-{name}", std::process::id());
        let backend = ZhttpBackend::bind(&format!("ipc://{path}")).await.unwrap();
        let mut pull = zeromq::PullSocket::new();
        pull.connect(&format!("ipc://{path}-out")).await.unwrap();
        let mut options = SocketOptions::default();
        options.peer_identity(WORKER.try_into().unwrap());
        let mut router = zeromq::RouterSocket::with_options(options);
        router
            .connect(&format!("ipc://{path}-out-stream"))
            .await
            .unwrap();
        let mut publish = zeromq::PubSocket::new();
        publish.connect(&format!("ipc://{path}-in")).await.unwrap();
        // The SUB's subscription reaches the PUB shortly after connecting.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let worker = Worker {
            pull,
            router,
            publish,
            path,
        };
        (backend, worker)
    }

    async fn request(&mut self) -> zhttp::Request {
        let message = tokio::time::timeout(WAIT, self.pull.recv()).await.unwrap();
        let frame = message.unwrap().into_vec().pop().unwrap();
        zhttp::Request::parse(&frame).unwrap()
    }

    /// The next packet on the ROUTER, skipping keep-alives.
    async fn later_packet(&mut self) -> zhttp::Request {
        loop {
            let message = tokio::time::timeout(WAIT, self.router.recv())
                .await
                .unwrap();
            let frame = message.unwrap().into_vec().pop().unwrap();
            let packet = zhttp::Request::parse(&frame).unwrap();
            if packet.ty != PacketType::KeepAlive {
                return packet;
            }
        }
    }

    async fn answer(&mut self, to: &zhttp::Request, packet: zhttp::Response) {
        let mut packet = packet;
        packet.from = Some(Bytes::from_static(WORKER));
        packet.id = to.id.clone();
        let address = to.from.clone().unwrap();
        let frame = packet.to_addressed_bytes(&address).unwrap();
        self.publish.send(ZmqMessage::from(frame)).await.unwrap();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        for suffix in ["-out", "-out-stream", "-in"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path));
        }
    }
}

fn data(seq: u32, body: &[u8], more: bool) -> zhttp::Response {
    zhttp::Response {
        seq: Some(seq),
        body: Bytes::copy_from_slice(body),
        more,
        ..zhttp::Response::default()
    }
}

fn head(body: &[u8], more: bool) -> zhttp::Response {
    zhttp::Response {
        code: Some(200),
        reason: Some(Bytes::from_static(b"OK")),
        headers: [("Content-Type", "text/plain")].into_iter().collect(),
        ..data(0, body, more)
    }
}

fn get() -> zhttp::Request {
    zhttp::Request {
        method: Some(Bytes::from_static(b"GET")),
        uri: Some(Bytes::from_static(b"http://example.com/s")),
        ..zhttp::Request::default()
    }
}

async fn read_all(body: &mut StreamBody) -> Result<Vec<Bytes>, StreamError> {
    let mut pieces = Vec::new();
    while let Some(piece) = std::future::poll_fn(|cx| body.poll_next(cx)).await {
        pieces.push(piece?);
    }
    Ok(pieces)
}

#[tokio::test]
async fn parts_arrive_in_order_and_each_is_credited_back_as_the_client_takes_it() {
    let (backend, mut worker) = Worker::start("parts").await;
    // The test keeps the backend: its receiving tasks end when it is dropped.
    let opener = backend.clone();
    let open = tokio::spawn(async move { opener.open(get(), None).await });
    let request = worker.request().await;
    assert_eq!(request.seq, Some(0));
    assert!(request.stream && request.ext.multi);
    assert_eq!(request.credits, Some(INITIAL_CREDITS));
    worker.answer(&request, head(b"part1\n", true)).await;
    let mut stream = open.await.unwrap().unwrap();
    assert_eq!(stream.head.code, 200);
    assert!(stream.head.more);
    let first = std::future::poll_fn(|cx| stream.body.poll_next(cx)).await;
    assert_eq!(first.unwrap().unwrap(), &b"part1\n"[..]);
    let credit = worker.later_packet().await;
    assert_eq!(credit.ty, PacketType::Credit);
    assert_eq!(
        credit.seq,
        Some(1),
        "our packets count on from the request's 0"
    );
    assert_eq!(credit.credits, Some(6), "the part the client took");
    worker.answer(&request, data(1, b"part2\n", true)).await;
    let second = std::future::poll_fn(|cx| stream.body.poll_next(cx)).await;
    assert_eq!(second.unwrap().unwrap(), &b"part2\n"[..]);
    let credit = worker.later_packet().await;
    assert_eq!((credit.seq, credit.credits), (Some(2), Some(6)));
    worker.answer(&request, data(2, b"part3\n", false)).await;
    let rest = read_all(&mut stream.body).await.unwrap().concat();
    assert_eq!(rest, b"part3\n");
    drop(backend);
}

#[tokio::test]
async fn a_long_request_body_follows_as_the_worker_grants_credits() {
    let (backend, mut worker) = Worker::start("upload").await;
    let (tx, rx) = mpsc::channel(4);
    let open = tokio::spawn(async move { backend.open(get(), Some(rx)).await });
    tx.send(Ok(Bytes::from_static(b"0123456789abcdef")))
        .await
        .unwrap();
    drop(tx);
    let request = worker.request().await;
    assert!(request.more, "the body follows the first packet");
    assert!(request.body.is_empty());
    let grant = zhttp::Response {
        seq: Some(0),
        ty: PacketType::Credit,
        credits: Some(10),
        ..zhttp::Response::default()
    };
    worker.answer(&request, grant).await;
    let first = worker.later_packet().await;
    assert_eq!((&first.body[..], first.more), (&b"0123456789"[..], true));
    let more = zhttp::Response {
        seq: Some(1),
        ty: PacketType::Credit,
        credits: Some(100),
        ..zhttp::Response::default()
    };
    worker.answer(&request, more).await;
    let second = worker.later_packet().await;
    assert_eq!((&second.body[..], second.more), (&b"abcdef"[..], true));
    let last = worker.later_packet().await;
    assert_eq!((last.body.len(), last.more), (0, false));
    let mut answer = head(b"done", false);
    answer.seq = Some(2);
    worker.answer(&request, answer).await;
    let mut stream = open.await.unwrap().unwrap();
    assert_eq!(read_all(&mut stream.body).await.unwrap().concat(), b"done");
}

#[tokio::test]
async fn a_worker_error_fails_the_request() {
    let (backend, mut worker) = Worker::start("error").await;
    let open = tokio::spawn(async move { backend.open(get(), None).await });
    let request = worker.request().await;
    let error = zhttp::Response {
        seq: Some(0),
        ty: PacketType::Error,
        condition: Some(zhttp::Condition::LengthRequired),
        ..zhttp::Response::default()
    };
    worker.answer(&request, error).await;
    let failed = open.await.unwrap().err().unwrap();
    assert!(matches!(
        failed,
        StreamError::Condition(zhttp::Condition::LengthRequired)
    ));
}

#[tokio::test]
async fn a_packet_out_of_sequence_ends_the_session_with_a_cancel() {
    let (backend, mut worker) = Worker::start("seq").await;
    let open = tokio::spawn(async move { backend.open(get(), None).await });
    let request = worker.request().await;
    worker.answer(&request, head(b"a", true)).await;
    worker.answer(&request, data(2, b"c", true)).await;
    let mut stream = open.await.unwrap().unwrap();
    let outcome = read_all(&mut stream.body).await;
    assert!(
        matches!(outcome, Err(StreamError::Protocol(_))),
        "{outcome:?}"
    );
    let mut packet = worker.later_packet().await;
    while packet.ty == PacketType::Credit {
        packet = worker.later_packet().await;
    }
    assert_eq!(packet.ty, PacketType::Cancel);
}

#[tokio::test]
async fn a_worker_beyond_its_credits_is_cancelled() {
    let (backend, mut worker) = Worker::start("credits").await;
    let open = tokio::spawn(async move { backend.open(get(), None).await });
    let request = worker.request().await;
    let too_much = vec![b'x'; INITIAL_CREDITS as usize + 1];
    worker.answer(&request, head(&too_much, true)).await;
    let failed = open.await.unwrap().err().unwrap();
    assert!(matches!(failed, StreamError::Protocol(_)), "{failed:?}");
    assert_eq!(worker.later_packet().await.ty, PacketType::Cancel);
}

#[tokio::test]
async fn a_client_that_leaves_mid_body_cancels_the_worker() {
    let (backend, mut worker) = Worker::start("leave").await;
    let open = tokio::spawn(async move { backend.open(get(), None).await });
    let request = worker.request().await;
    worker.answer(&request, head(b"first", true)).await;
    let stream = open.await.unwrap().unwrap();
    drop(stream);
    let mut packet = worker.later_packet().await;
    while packet.ty == PacketType::Credit {
        packet = worker.later_packet().await;
    }
    assert_eq!(packet.ty, PacketType::Cancel);
    assert_eq!(packet.id, request.id);
}

#[tokio::test]
async fn batched_packets_reach_each_session_named() {
    let (backend, _worker) = Worker::start("multi").await;
    let (tx_a, mut rx_a) = mpsc::channel(session::INBOX);
    let (tx_b, mut rx_b) = mpsc::channel(session::INBOX);
    backend
        .shared
        .sessions()
        .insert(Bytes::from_static(b"a"), tx_a);
    backend
        .shared
        .sessions()
        .insert(Bytes::from_static(b"b"), tx_b);
    let keep_alive = zhttp::Response {
        id: Id::Multi(vec![
            zhttp::IdEntry {
                id: Bytes::from_static(b"a"),
                seq: Some(4),
            },
            zhttp::IdEntry {
                id: Bytes::from_static(b"b"),
                seq: Some(9),
            },
        ]),
        ty: PacketType::KeepAlive,
        ..zhttp::Response::default()
    };
    let mut encoded = BytesMut::new();
    keep_alive.encode(&mut encoded);
    parse_and_dispatch(&backend.shared, &encoded.freeze());
    let a = rx_a.recv().await.unwrap();
    let b = rx_b.recv().await.unwrap();
    assert_eq!(
        (a.id, a.seq),
        (Id::Single(Bytes::from_static(b"a")), Some(4))
    );
    assert_eq!(
        (b.id, b.seq),
        (Id::Single(Bytes::from_static(b"b")), Some(9))
    );
}
