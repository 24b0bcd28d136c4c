//! Rewriting a client request for the backend (§3.1), once, before it is sent.
//!
//! In order: hop-by-hop fields go (those Pushpin removes, plus any named in `Connection`); the
//! client's `Grip-*` fields go unless it is a trusted upstream; `Grip-Sig` and `Grip-Feature` are
//! added on GRIP routes; `X-Forwarded-Proto` and `X-Forwarded-For` follow the config; the route's
//! `header=` options apply; the path is rewritten (`path_rem`, `replace_beg`); and `Host` becomes
//! the authority of the URI actually requested.

use bytes::Bytes;
use protocol::Headers;

use crate::config::routes::{Route, Target, TargetKind};
use crate::config::settings::{ForwardedFor, ForwardedProto, Proxy};

/// The features Pushpin 1.36 announces in `Grip-Feature`, byte for byte.
pub const GRIP_FEATURE: &str =
    "status, session, link:next, filter:skip-self, filter:skip-users, filter:require-sub, filter:build-id, filter:var-subst";

/// Removed from every forwarded request (§3.1 item 1).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "accept-encoding",
    "content-encoding",
    "transfer-encoding",
    "expect",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
];

/// What rewriting needs to know about the client and its request.
#[derive(Clone, Debug)]
pub struct ClientInfo<'a> {
    /// The client's IP address, for `X-Forwarded-For: append`; empty for a unix-socket client.
    pub peer_ip: String,
    /// The client used TLS (or a trusted `X-Forwarded-Proto` says so).
    pub https: bool,
    /// The client is a trusted GRIP upstream (its `Grip-Sig` validated against `upstream_key`).
    pub trusted: bool,
    /// The path and query the client asked for.
    pub path: &'a str,
    /// A `Grip-Sig` token for this request, when the route signs.
    pub grip_sig: Option<String>,
}

/// The request as it goes to the backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// The host and port in the URI and `Host` (after `as_host` / target `host=`).
    pub authority: String,
    /// Path and query after route rewriting.
    pub path: String,
    /// Header fields to send.
    pub headers: Headers,
}

/// Rewrites a client request for `target` of `route`.
pub fn rewrite(
    headers: &Headers,
    route: &Route,
    target: &Target,
    proxy: &Proxy,
    client: &ClientInfo<'_>,
) -> Outgoing {
    let mut out = headers.clone();
    strip_hop_by_hop(&mut out);
    if proxy.accept_pushpin_route {
        out.remove("pushpin-route");
    }
    let grip_route = !route.no_grip;
    if !client.trusted {
        out.retain(|name, _| !starts_with_ignore_case(name, b"grip-"));
        if grip_route {
            if let Some(sig) = &client.grip_sig {
                out.push("Grip-Sig", sig.clone());
            }
            out.push("Grip-Feature", GRIP_FEATURE);
        }
    }
    forwarded_proto(&mut out, proxy, client.https);
    let rule = if client.trusted {
        &proxy.x_forwarded_for_trusted
    } else {
        &proxy.x_forwarded_for
    };
    forwarded_for(&mut out, rule, &client.peer_ip);
    for (name, value) in &route.headers {
        if value.is_empty() {
            out.remove(name);
        } else {
            out.set(
                Bytes::copy_from_slice(name.as_bytes()),
                Bytes::copy_from_slice(value.as_bytes()),
            );
        }
    }
    let authority = authority(headers, route, target);
    out.set("Host", Bytes::copy_from_slice(authority.as_bytes()));
    Outgoing {
        scheme: if target.ssl { "https" } else { "http" },
        authority,
        path: rewrite_path(client.path, route),
        headers: out,
    }
}

fn strip_hop_by_hop(headers: &mut Headers) {
    let named: Vec<Vec<u8>> = headers
        .get_all("connection")
        .flat_map(|v| v.split(|&b| b == b','))
        .map(|t| t.trim_ascii().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    headers.retain(|name, _| {
        let lower = name.to_ascii_lowercase();
        !HOP_BY_HOP.iter().any(|h| h.as_bytes() == lower.as_slice()) && !named.contains(&lower)
    });
}

fn forwarded_proto(headers: &mut Headers, proxy: &Proxy, https: bool) {
    if proxy.set_x_forwarded_protocol == ForwardedProto::Off && !proxy.accept_x_forwarded_protocol {
        return;
    }
    headers.remove("x-forwarded-proto");
    headers.remove("x-forwarded-protocol");
    if !https {
        return;
    }
    match proxy.set_x_forwarded_protocol {
        ForwardedProto::Off => {}
        ForwardedProto::ProtoOnly => headers.push("X-Forwarded-Proto", "https"),
        ForwardedProto::Both => {
            headers.push("X-Forwarded-Proto", "https");
            headers.push("X-Forwarded-Protocol", "https");
        }
    }
}

fn forwarded_for(headers: &mut Headers, rule: &[ForwardedFor], peer_ip: &str) {
    if rule.is_empty() {
        return;
    }
    let mut values: Vec<String> = headers
        .get_all("x-forwarded-for")
        .flat_map(|v| v.split(|&b| b == b','))
        .map(|t| String::from_utf8_lossy(t).trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    for step in rule {
        match step {
            ForwardedFor::Truncate(n) => {
                let drop = values.len().saturating_sub(*n);
                values.drain(..drop);
            }
            ForwardedFor::Append => values.push(peer_ip.to_owned()),
        }
    }
    headers.remove("x-forwarded-for");
    // As Pushpin: the entries rejoined, and no header when that is empty. A unix-socket client
    // appends an empty entry, so `9.9.9.9` becomes `9.9.9.9, ` and nothing stays nothing.
    let joined = values.join(", ");
    if !joined.is_empty() {
        headers.push("X-Forwarded-For", joined);
    }
}

/// The authority the backend sees: the route's `as_host`, else the target's `host=`, else the
/// client's `Host`, else the target's own address.
fn authority(headers: &Headers, route: &Route, target: &Target) -> String {
    if let Some(h) = route.as_host.as_ref().or(target.host.as_ref()) {
        return h.clone();
    }
    if let Some(h) = headers
        .get("host")
        .and_then(|h| std::str::from_utf8(h).ok())
    {
        return h.to_owned();
    }
    match &target.kind {
        TargetKind::Http { host, port } if host.contains(':') => format!("[{host}]:{port}"),
        TargetKind::Http { host, port } => format!("{host}:{port}"),
        _ => "localhost".to_owned(),
    }
}

/// The path a route sends to its backend for the client path `path` (`path_beg`/`replace_beg`,
/// `path_rem`).
pub fn rewrite_path(path: &str, route: &Route) -> String {
    let mut p = path.to_owned();
    if let (Some(beg), Some(replacement)) = (&route.path_beg, &route.replace_beg) {
        if let Some(rest) = p.strip_prefix(beg.as_str()) {
            p = format!("{replacement}{rest}");
        }
    }
    if let Some(n) = route.path_rem {
        p = p.get(n.min(p.len())..).unwrap_or_default().to_owned();
        if !p.starts_with('/') {
            p.insert(0, '/');
        }
    }
    p
}

fn starts_with_ignore_case(name: &[u8], prefix: &[u8]) -> bool {
    name.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::routes::Routes;

    fn proxy(conf: &str) -> Proxy {
        let loaded = crate::config::load(&crate::config::Options::default()).unwrap();
        let mut p = loaded.settings.proxy;
        for line in conf.lines() {
            match line {
                "xff=append" => p.x_forwarded_for = vec![ForwardedFor::Append],
                "xff=truncate:1,append" => {
                    p.x_forwarded_for = vec![ForwardedFor::Truncate(1), ForwardedFor::Append]
                }
                _ => {}
            }
        }
        p
    }

    fn route(line: &str) -> Route {
        Routes::parse("r", line).unwrap().routes.remove(0)
    }

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        pairs
            .iter()
            .map(|(n, v)| {
                (
                    Bytes::copy_from_slice(n.as_bytes()),
                    Bytes::copy_from_slice(v.as_bytes()),
                )
            })
            .collect()
    }

    fn client(path: &str) -> ClientInfo<'_> {
        ClientInfo {
            peer_ip: "10.0.0.9".into(),
            https: false,
            trusted: false,
            path,
            grip_sig: Some("tok".into()),
        }
    }

    fn names(h: &Headers) -> Vec<String> {
        h.iter()
            .map(|(n, _)| String::from_utf8_lossy(n).into_owned())
            .collect()
    }

    #[test]
    fn plain_get_matches_pushpins_backend_request() {
        let r = route("* 127.0.0.1:18999");
        let h = headers(&[
            ("Host", "127.0.0.1:7999"),
            ("User-Agent", "curl/7.88.1"),
            ("Accept", "*/*"),
            ("Accept-Encoding", "gzip"),
            ("Connection", "keep-alive, X-Private"),
            ("X-Private", "1"),
            ("Grip-Foo", "spoofed"),
            ("X-Forwarded-For", "1.2.3.4"),
        ]);
        let out = rewrite(&h, &r, &r.targets[0], &proxy(""), &client("/plain"));
        assert_eq!(
            names(&out.headers),
            [
                "Host",
                "User-Agent",
                "Accept",
                "X-Forwarded-For",
                "Grip-Sig",
                "Grip-Feature"
            ]
        );
        assert_eq!(out.headers.get("grip-feature").unwrap(), GRIP_FEATURE);
        assert_eq!(
            out.headers.get("x-forwarded-for").unwrap(),
            "1.2.3.4",
            "empty rule passes it through"
        );
        assert_eq!(out.authority, "127.0.0.1:7999");
        assert_eq!(out.path, "/plain");
    }

    #[test]
    fn trusted_clients_and_no_grip_routes() {
        let r = route("* b:1");
        let h = headers(&[("Grip-Foo", "kept")]);
        let mut c = client("/");
        c.trusted = true;
        let out = rewrite(&h, &r, &r.targets[0], &proxy(""), &c);
        assert_eq!(out.headers.get("grip-foo").unwrap(), "kept");
        assert!(!out.headers.contains("grip-feature"));
        let r = route("*,no_grip b:1");
        let out = rewrite(&h, &r, &r.targets[0], &proxy(""), &client("/"));
        assert!(!out.headers.contains("grip-foo") && !out.headers.contains("grip-sig"));
    }

    #[test]
    fn forwarded_for_rules() {
        let r = route("* b:1");
        let h = headers(&[("X-Forwarded-For", "1.1.1.1, 2.2.2.2")]);
        let out = rewrite(&h, &r, &r.targets[0], &proxy("xff=append"), &client("/"));
        assert_eq!(
            out.headers.get("x-forwarded-for").unwrap(),
            "1.1.1.1, 2.2.2.2, 10.0.0.9"
        );
        let out = rewrite(
            &h,
            &r,
            &r.targets[0],
            &proxy("xff=truncate:1,append"),
            &client("/"),
        );
        assert_eq!(
            out.headers.get("x-forwarded-for").unwrap(),
            "2.2.2.2, 10.0.0.9"
        );
    }

    #[test]
    fn unix_socket_clients_append_an_empty_entry() {
        let r = route("* b:1");
        let mut c = client("/");
        c.peer_ip = String::new();
        let out = rewrite(&headers(&[]), &r, &r.targets[0], &proxy("xff=append"), &c);
        assert!(!out.headers.contains("x-forwarded-for"));
        let h = headers(&[("X-Forwarded-For", "9.9.9.9")]);
        let out = rewrite(&h, &r, &r.targets[0], &proxy("xff=append"), &c);
        assert_eq!(out.headers.get("x-forwarded-for").unwrap(), "9.9.9.9, ");
    }

    #[test]
    fn forwarded_proto_only_for_https_clients() {
        let r = route("* b:1");
        let h = headers(&[("X-Forwarded-Proto", "https")]);
        let out = rewrite(&h, &r, &r.targets[0], &proxy(""), &client("/"));
        assert!(
            !out.headers.contains("x-forwarded-proto"),
            "a plain-http client cannot claim https"
        );
        let mut c = client("/");
        c.https = true;
        let out = rewrite(&h, &r, &r.targets[0], &proxy(""), &c);
        assert_eq!(out.headers.get("x-forwarded-proto").unwrap(), "https");
    }

    #[test]
    fn route_options() {
        let r = route("*,path_beg=/api,replace_beg=/v2,as_host=api.internal:8080,header=X-A:1,header=User-Agent: b:1");
        let h = headers(&[("Host", "example.com"), ("User-Agent", "x")]);
        let out = rewrite(&h, &r, &r.targets[0], &proxy(""), &client("/api/items?x=1"));
        assert_eq!(out.path, "/v2/items?x=1");
        assert_eq!(out.authority, "api.internal:8080");
        assert_eq!(out.headers.get("host").unwrap(), "api.internal:8080");
        assert_eq!(out.headers.get("x-a").unwrap(), "1");
        assert!(!out.headers.contains("user-agent"));
        let r = route("*,path_rem=4 b:1");
        assert_eq!(
            rewrite(&h, &r, &r.targets[0], &proxy(""), &client("/abc/def")).path,
            "/def"
        );
    }
}
