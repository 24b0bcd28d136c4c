//! A minimal HTTP/1.1 backend for proxy benchmarks: answers every request with a short body,
//! keep-alive, on the loopback port given as the first argument. Fast enough that the proxy
//! under test, not the backend, is what the benchmark measures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;

use tokio::net::TcpListener;

#[tokio::main]
async fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(18800);
    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(|_req| async {
                Ok::<_, Infallible>(
                    hyper::Response::builder()
                        .header("Content-Type", "text/plain")
                        .body(http_body_util::Full::new(bytes::Bytes::from_static(
                            b"hello\n",
                        )))
                        .unwrap(),
                )
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(sock), svc)
                .await;
        });
    }
}
