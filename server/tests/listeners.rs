//! TLS (`https_ports`) and unix-socket (`local_ports`) client listeners, through the real binary:
//! identities from `runner/certs` made at test time, SNI, `ssl=yes` routes, `X-Forwarded-Proto`,
//! held streams over TLS, start-up errors, the handshake timeout, certificate reload, and the
//! unix socket's file (stale file replaced, removed at shutdown).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use support::{backend, free_port, get, instance_dir, split, Answer, Gripway};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// Bounds every wait in this file; never a timing assertion.
const WAIT: Duration = Duration::from_secs(10);

/// A self-signed identity for `host`, written as `<dir>/<name>.crt` and `.key`.
fn write_identity(dir: &Path, name: &str, host: &str) -> CertificateDer<'static> {
    std::fs::create_dir_all(dir).unwrap();
    let made = rcgen::generate_simple_self_signed(vec![host.to_owned()]).unwrap();
    std::fs::write(dir.join(format!("{name}.crt")), made.cert.pem()).unwrap();
    std::fs::write(
        dir.join(format!("{name}.key")),
        made.key_pair.serialize_pem(),
    )
    .unwrap();
    made.cert.der().clone()
}

/// A gripway instance with a TLS listener (and the plain one), its config written into the
/// instance folder with `extra` lines under `[runner]` and `[proxy]` as given.
struct TlsSetup {
    gw: Gripway,
    https: u16,
    publish: u16,
    default_cert: CertificateDer<'static>,
}

fn certs_dir(port: u16) -> PathBuf {
    instance_dir(port).join("runner").join("certs")
}

/// Writes `pushpin.conf` for an instance on client port `port`; returns its path.
fn write_config(port: u16, runner: &str, proxy: &str, publish: u16) -> PathBuf {
    let dir = instance_dir(port);
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("pushpin.conf");
    std::fs::write(
        &conf,
        format!("[runner]\n{runner}\n[proxy]\n{proxy}\n[handler]\npush_in_http_port={publish}\n"),
    )
    .unwrap();
    conf
}

async fn start_tls(proxy: &str, runner: &str, routes: &[&str]) -> TlsSetup {
    let port = free_port();
    let https = free_port();
    let publish = free_port();
    let default_cert = write_identity(
        &certs_dir(port),
        &format!("default_{https}"),
        "default.test",
    );
    let conf = write_config(
        port,
        &format!("https_ports=127.0.0.1:{https}\n{runner}"),
        proxy,
        publish,
    );
    let mut args = vec!["--config".to_owned(), conf.to_str().unwrap().to_owned()];
    for r in routes {
        args.push("--route".into());
        args.push((*r).to_owned());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let gw = Gripway::start_on(port, &args).await;
    TlsSetup {
        gw,
        https,
        publish,
        default_cert,
    }
}

fn client_config(roots: &[&CertificateDer<'static>], alpn: &[&[u8]]) -> Arc<ClientConfig> {
    let mut store = RootCertStore::empty();
    for cert in roots {
        store.add((*cert).clone()).unwrap();
    }
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(store)
            .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

async fn tls_connect(
    port: u16,
    server_name: &str,
    config: Arc<ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let sock = TcpStream::connect(("127.0.0.1", port)).await?;
    let name = ServerName::try_from(server_name.to_owned()).unwrap();
    tokio::time::timeout(WAIT, TlsConnector::from(config).connect(name, sock))
        .await
        .unwrap()
}

/// Sends `request` over TLS (SNI `default.test`, trusting `cert`) and reads until the server
/// closes; the read fails if the close comes without `close_notify`.
async fn tls_exchange(port: u16, cert: &CertificateDer<'static>, request: &str) -> String {
    let mut tls = tls_connect(port, "default.test", client_config(&[cert], &[b"http/1.1"]))
        .await
        .unwrap();
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, tls.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs gripway with `conf`, expecting it to stop by itself (a start-up error); kills it and
/// fails if it is still running after [`WAIT`]. Returns its status and standard error.
fn run_to_exit(port: u16, conf: &Path) -> (std::process::ExitStatus, String) {
    let log = instance_dir(port).join("exit.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_gripway"))
        .arg("--config")
        .arg(conf)
        .arg("--port")
        .arg(port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("gripway started although it should not have");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status, std::fs::read_to_string(&log).unwrap_or_default())
}

fn get_request(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
}

/// Reads from `stream` until `needle` has arrived; returns everything read.
async fn read_until<S: tokio::io::AsyncRead + Unpin>(stream: &mut S, needle: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + WAIT;
    while !String::from_utf8_lossy(&got).contains(needle) {
        let left = deadline.saturating_duration_since(Instant::now());
        let n = tokio::time::timeout(left, stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} in {:?}", String::from_utf8_lossy(&got)))
            .unwrap();
        assert!(
            n > 0,
            "closed before {needle:?}: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn tls_clients_reach_the_backend_marked_https() {
    let (be, mut seen) = backend(|_| async { Answer::new(200, "hi\n") }).await;
    let s = start_tls(
        "set_x_forwarded_protocol=proto-only\nx_forwarded_for=append",
        "",
        &[&format!("* {be}")],
    )
    .await;
    let reply = tls_exchange(s.https, &s.default_cert, &get_request("/secure?x=1")).await;
    let (head, body) = split(&reply);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert_eq!(body, "hi\n");
    let req = seen.recv().await.unwrap();
    assert_eq!(req.path, "/secure?x=1");
    assert_eq!(req.header("x-forwarded-proto"), Some("https"));
    assert_eq!(req.header("x-forwarded-for"), Some("127.0.0.1"));

    // The same instance's plain listener: no claim of https, even when the client makes one.
    let reply = get(s.gw.addr(), "/plain", "X-Forwarded-Proto: https\r\n").await;
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    let req = seen.recv().await.unwrap();
    assert_eq!(req.header("x-forwarded-proto"), None);
}

#[tokio::test]
async fn ssl_yes_routes_match_only_tls_clients() {
    let (tls_be, _) = backend(|_| async { Answer::new(200, "tls route\n") }).await;
    let (plain_be, _) = backend(|_| async { Answer::new(200, "plain route\n") }).await;
    let s = start_tls(
        "",
        "",
        &[&format!("*,ssl=yes {tls_be}"), &format!("* {plain_be}")],
    )
    .await;
    let reply = tls_exchange(s.https, &s.default_cert, &get_request("/")).await;
    assert_eq!(split(&reply).1, "tls route\n", "{reply}");
    let reply = get(s.gw.addr(), "/", "").await;
    assert_eq!(split(&reply).1, "plain route\n", "{reply}");
}

#[tokio::test]
async fn a_held_stream_over_tls_receives_a_published_item() {
    let s = start_tls("", "", &["* test"]).await;
    let mut tls = tls_connect(
        s.https,
        "default.test",
        client_config(&[&s.default_cert], &[b"http/1.1"]),
    )
    .await
    .unwrap();
    tls.write_all(b"GET /stream?channel=tls HTTP/1.1\r\nHost: example.com\r\n\r\n")
        .await
        .unwrap();
    let opened = read_until(&mut tls, "[stream opened]\n").await;
    assert!(opened.starts_with("HTTP/1.1 200 OK\r\n"), "{opened}");
    let item =
        r#"{"items":[{"channel":"tls","formats":{"http-stream":{"content":"over tls\n"}}}]}"#;
    let publish = format!(
        "POST /publish/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{item}",
        item.len()
    );
    let reply = support::raw(
        format!("127.0.0.1:{}", s.publish).parse().unwrap(),
        publish.as_bytes(),
        WAIT,
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    read_until(&mut tls, "over tls\n").await;
}

#[tokio::test]
async fn sni_picks_a_host_named_identity_else_the_default() {
    let s = start_tls("", "", &["* test"]).await;
    let alt = write_identity(&certs_dir(s.gw.port), "alt.example", "alt.example");
    // Identities are read at start-up and on change; wait until the new pair is served.
    let config = client_config(&[&s.default_cert, &alt], &[b"http/1.1"]);
    let deadline = Instant::now() + WAIT;
    let tls = loop {
        if let Ok(tls) = tls_connect(s.https, "alt.example", config.clone()).await {
            break tls;
        }
        assert!(Instant::now() < deadline, "alt.example never served");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(tls.get_ref().1.peer_certificates().unwrap()[0], alt);
    assert_eq!(
        tls.get_ref().1.alpn_protocol(),
        Some(&b"http/1.1"[..]),
        "ALPN"
    );
    // An SNI name with no identity of its own gets the port's default.
    let tls = tls_connect(s.https, "default.test", config.clone())
        .await
        .unwrap();
    assert_eq!(
        tls.get_ref().1.peer_certificates().unwrap()[0],
        s.default_cert
    );
}

#[tokio::test]
async fn a_renewed_default_identity_is_served_without_a_restart() {
    let s = start_tls("", "", &["* test"]).await;
    let https = s.https;
    let renewed = write_identity(
        &certs_dir(s.gw.port),
        &format!("default_{https}"),
        "default.test",
    );
    let config = client_config(&[&renewed], &[]);
    let deadline = Instant::now() + WAIT;
    while tls_connect(https, "default.test", config.clone())
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "the renewed identity was never served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A client that also speaks only HTTP/1.0 (ALPN `http/1.0`) is served.
    let mut tls = tls_connect(
        https,
        "default.test",
        client_config(&[&renewed], &[b"http/1.0"]),
    )
    .await
    .unwrap();
    tls.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, tls.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let reply = String::from_utf8(out).unwrap();
    assert!(reply.starts_with("HTTP/1.0 200 OK\r\n"), "{reply}");
}

#[tokio::test]
async fn a_silent_client_loses_its_slot_after_the_handshake_timeout() {
    // One connection at a time: the silent one holds the only slot until it is dropped.
    let s = start_tls("", "client_maxconn=1\ntls_handshake_timeout=1", &["* test"]).await;
    let mut silent = TcpStream::connect(("127.0.0.1", s.https)).await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(WAIT, silent.read(&mut buf))
        .await
        .expect("the silent client was not dropped")
        .unwrap_or(0);
    assert_eq!(
        n, 0,
        "the server sent something to a client that said nothing"
    );
    let reply = tls_exchange(s.https, &s.default_cert, &get_request("/")).await;
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
}

#[tokio::test]
async fn silent_and_trickling_clients_lose_their_slot_after_the_head_timeout() {
    // One connection at a time, and a one-second head timeout.
    let port = free_port();
    let conf = write_config(
        port,
        "client_maxconn=1\nclient_head_timeout=1",
        "",
        free_port(),
    );
    let conf = conf.to_str().unwrap().to_owned();
    let gw = Gripway::start_on(port, &["--config", &conf, "--route", "* test"]).await;
    let mut silent = TcpStream::connect(gw.addr()).await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(WAIT, silent.read(&mut buf))
        .await
        .expect("the silent client was not dropped")
        .unwrap_or(0);
    assert_eq!(
        n, 0,
        "the server sent something to a client that said nothing"
    );
    // A head sent a byte every 200 ms never completes within the second.
    let mut trickle = TcpStream::connect(gw.addr()).await.unwrap();
    let mut closed = false;
    for byte in b"GET / HTTP/1.1\r\nHost: h\r\n".iter().cycle().take(100) {
        if trickle.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        match tokio::time::timeout(Duration::from_millis(1), trickle.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            _ => {}
        }
    }
    assert!(closed, "a trickled head kept the connection open");
    let reply = get(gw.addr(), "/", "").await;
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
}

#[test]
fn a_missing_default_identity_stops_start_up_naming_the_file() {
    let port = free_port();
    let https = free_port();
    let conf = write_config(port, &format!("https_ports={https}"), "", free_port());
    let (status, stderr) = run_to_exit(port, &conf);
    let _ = std::fs::remove_dir_all(instance_dir(port));
    assert_eq!(status.code(), Some(2), "{stderr}");
    let file = certs_dir(port).join(format!("default_{https}.crt"));
    assert!(
        stderr.contains(&format!("{}: TLS identity: ", file.display())),
        "{stderr}"
    );
}

#[tokio::test]
async fn unix_socket_clients_are_served_and_the_socket_file_is_managed() {
    let port = free_port();
    let dir = instance_dir(port);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("gw.sock");
    // A socket file left by a process that is gone.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let (be, mut seen) = backend(|_| async { Answer::new(200, "local\n") }).await;
    let conf = write_config(
        port,
        &format!("local_ports={}", path.display()),
        "x_forwarded_for=append\nset_x_forwarded_protocol=proto-only",
        free_port(),
    );
    let mut gw = Gripway::start_on(
        port,
        &[
            "--config",
            conf.to_str().unwrap(),
            "--route",
            &format!("* {be}"),
        ],
    )
    .await;

    let mut sock = UnixStream::connect(&path).await.unwrap();
    sock.write_all(
        b"GET /over-unix HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-For: 9.9.9.9\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, sock.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let reply = String::from_utf8(out).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert_eq!(split(&reply).1, "local\n");
    let req = seen.recv().await.unwrap();
    assert_eq!(req.path, "/over-unix");
    // A unix client has no address: Pushpin appends an empty entry, and so does gripway.
    assert_eq!(req.header("x-forwarded-for"), Some("9.9.9.9,"));
    assert_eq!(req.header("x-forwarded-proto"), None);

    let status = gw.terminate().await;
    assert!(status.success(), "{status:?}");
    assert!(!path.exists(), "the socket file outlived the server");
}

#[tokio::test]
async fn a_file_in_the_way_of_a_unix_socket_is_left_alone() {
    let port = free_port();
    let dir = instance_dir(port);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("not-a-socket");
    std::fs::write(&path, "keep me").unwrap();
    let conf = write_config(
        port,
        &format!("local_ports={}", path.display()),
        "",
        free_port(),
    );
    let (status, stderr) = run_to_exit(port, &conf);
    let kept = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert_eq!(kept, "keep me");
}
