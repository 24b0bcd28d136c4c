//! The two ways the load generator publishes: a request to the HTTP publish API per message, or
//! one `J` + JSON frame per item on a ZeroMQ PUSH socket connected to the server's PULL input
//! (`push_in_spec`, spec §5.3).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zeromq::{Socket, SocketSend, ZmqMessage};

/// Where published items go.
pub enum Publisher {
    /// The HTTP publish API at this address, one connection per message.
    Http(SocketAddr),
    /// A connected PUSH socket.
    Push(zeromq::PushSocket),
}

impl Publisher {
    /// A PUSH socket connected to `endpoint` (`tcp://host:port`).
    pub async fn push(endpoint: &str) -> Publisher {
        let mut socket = zeromq::PushSocket::new();
        socket
            .connect(endpoint)
            .await
            .expect("PULL input reachable");
        Publisher::Push(socket)
    }

    /// Publishes one item, `item` being its JSON object.
    pub async fn send(&mut self, item: String) {
        match self {
            Publisher::Http(addr) => http(*addr, &item).await,
            Publisher::Push(socket) => {
                let mut frame = Vec::with_capacity(item.len() + 1);
                frame.push(b'J');
                frame.extend_from_slice(item.as_bytes());
                if let Err(e) = socket.send(ZmqMessage::from(frame)).await {
                    eprintln!("push failed: {e}");
                }
            }
        }
    }
}

async fn http(addr: SocketAddr, item: &str) {
    let body = format!(r#"{{"items":[{item}]}}"#);
    let req = format!(
        "POST /publish/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        body
    );
    let mut sock = TcpStream::connect(addr)
        .await
        .expect("publish API reachable");
    sock.write_all(req.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    let _ = sock.read_to_end(&mut reply).await;
    if !reply.starts_with(b"HTTP/1.1 200") {
        eprintln!("publish failed: {}", String::from_utf8_lossy(&reply));
    }
}
