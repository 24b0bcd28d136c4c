//! Test support: the real gripway binary on loopback, in-process backends, raw HTTP clients.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub mod holds;

/// A free loopback port (bound and released; fine for tests on a quiet machine).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running gripway process, killed on drop.
pub struct Gripway {
    pub child: Child,
    pub port: u16,
    pub dir: std::path::PathBuf,
}

impl Gripway {
    /// Starts gripway on a free client port with these extra arguments, and waits until it accepts.
    pub async fn start(args: &[&str]) -> Gripway {
        let port = free_port();
        Self::start_on(port, args).await
    }

    pub async fn start_on(port: u16, args: &[&str]) -> Gripway {
        let dir = instance_dir(port);
        std::fs::create_dir_all(&dir).unwrap();
        // Tests run in parallel: unless the test brings its own config, give this instance a
        // publish port of its own (the default, 5561, would be shared by every instance).
        let mut config_args = Vec::new();
        if !args.contains(&"--config") {
            let conf = dir.join("pushpin.conf");
            std::fs::write(
                &conf,
                format!("[handler]\npush_in_http_port={}\n", free_port()),
            )
            .unwrap();
            config_args = vec!["--config".to_string(), conf.to_str().unwrap().to_string()];
        }
        let child = Command::new(env!("CARGO_BIN_EXE_gripway"))
            .arg("--port")
            .arg(port.to_string())
            .args(&config_args)
            .args(args)
            .env("GRIPWAY_LOG", "gripway=debug")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
            .spawn()
            .unwrap();
        let g = Gripway { child, port, dir };
        wait_for_port(port).await;
        g
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }

    /// Sends SIGTERM and waits (bounded) for the process to exit.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "gripway did not exit after SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Gripway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The folder an instance on client port `port` keeps its log in (removed when it is dropped); a
/// test may put its config there before starting it.
pub fn instance_dir(port: u16) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("gripway-test-{}-{port}", std::process::id()))
}

pub async fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "nothing listening on {port}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What a test backend received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A response from a test backend.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

impl Answer {
    pub fn new(status: u16, body: impl Into<Bytes>) -> Self {
        Answer {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// An HTTP backend on a free loopback port, answering with `handle`; every request it saw is
/// sent on the returned channel.
pub async fn backend<F, Fut>(handle: F) -> (SocketAddr, tokio::sync::mpsc::UnboundedReceiver<Seen>)
where
    F: Fn(Seen) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Answer> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let handle = Arc::new(handle);
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let handle = handle.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    let handle = handle.clone();
                    let tx = tx.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let seen = Seen {
                            method: parts.method.to_string(),
                            path: parts
                                .uri
                                .path_and_query()
                                .map(|p| p.to_string())
                                .unwrap_or_default(),
                            headers: parts
                                .headers
                                .iter()
                                .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
                                .collect(),
                            body,
                        };
                        let _ = tx.send(seen.clone());
                        let answer = handle(seen).await;
                        let mut resp = hyper::Response::builder().status(answer.status);
                        for (n, v) in answer.headers {
                            resp = resp.header(n, v);
                        }
                        Ok::<_, Infallible>(resp.body(Full::new(answer.body)).unwrap())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(sock), svc)
                    .await;
            });
        }
    });
    (addr, rx)
}

/// Sends raw bytes and reads the reply until the server closes or `timeout` passes.
pub async fn raw(addr: SocketAddr, request: &[u8], timeout: Duration) -> String {
    let mut sock = TcpStream::connect(addr).await.unwrap();
    sock.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(timeout, sock.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// A GET with `Connection: close`, returning the whole raw reply.
pub async fn get(addr: SocketAddr, path: &str, extra_headers: &str) -> String {
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: example.com\r\n{extra_headers}Connection: close\r\n\r\n"
    );
    raw(addr, req.as_bytes(), Duration::from_secs(10)).await
}

/// Splits a raw reply into its head and body.
pub fn split(reply: &str) -> (&str, &str) {
    reply.split_once("\r\n\r\n").unwrap_or((reply, ""))
}
