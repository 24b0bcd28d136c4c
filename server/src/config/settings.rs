//! `pushpin.conf` keys (§9) turned into typed settings, with Pushpin's defaults.
//!
//! Every key is read through `Reader`, which records what was used: after reading, keys that
//! Pushpin knows but gripway has no use for (process wiring such as `condure_bin`) are listed at
//! debug level, and keys nobody knows are warned about. Every bad value is collected with its file
//! and line before loading fails.
//!
//! Substitutions are Pushpin's: `{rundir}`, `{ipc_prefix}` and `{libdir}` in socket specs, and
//! `port_offset` added to every `tcp://` port of the publish and command specs and to
//! `push_in_http_port` (not to `http_port` or route targets).
//!
//! Differences from Pushpin, on purpose:
//! - `push_in_http_max_headers_size` / `push_in_http_max_body_size` are honoured (1.36 reads the
//!   wrong key names and ignores them).
//! - `push_in_http_auth_key` (new) makes the publish API require `Authorization: Bearer <key>`.
//! - `[runner] tls_handshake_timeout` (new, seconds, default 10): how long a client on an
//!   `https_ports` listener has to finish its TLS handshake before it is dropped.
//! - `[runner] client_head_timeout` (new, seconds, default 60, Pushpin's fixed value): how long a
//!   client may take to send a request head, counted from connecting or from the previous reply.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};

use super::error::ConfigError;
use super::ini::{Entry, Ini};

/// Pushpin keys gripway reads but has no use for: accepted silently (debug log).
const KNOWN_UNUSED: &[(&str, &str)] = &[
    ("global", "include"),
    ("global", "stats_connection_send"),
    ("runner", "services"),
    ("runner", "logdir"),
    ("runner", "condure_bin"),
    ("runner", "mongrel2_bin"),
    ("runner", "m2sh_bin"),
    ("runner", "zurl_bin"),
    ("runner", "allow_compression"),
    ("proxy", "sockjs_url"),
    ("proxy", "updates_check"),
    ("proxy", "organization_name"),
    ("proxy", "workers"),
    ("proxy", "stats_report_interval"),
    ("proxy", "prometheus_port"),
    ("proxy", "prometheus_prefix"),
    ("handler", "ipc_file_mode"),
    ("handler", "share_all"),
    ("handler", "state_spec"),
    ("handler", "message_block_size"),
    ("handler", "prometheus_port"),
    ("handler", "prometheus_prefix"),
];

/// Sections that only wire Pushpin's own processes together (internal.conf, zurl, mongrel2).
const INTERNAL_SECTIONS: &[&str] = &[
    "zurl",
    "mongrel2",
    "m2adapter",
    "condure",
    "connmgr",
    "internal",
];

/// All settings gripway takes from `pushpin.conf`.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// `[global]`.
    pub global: Global,
    /// `[runner]`: the client listener.
    pub runner: Runner,
    /// `[proxy]`: request handling and signing.
    pub proxy: Proxy,
    /// `[handler]`: sessions, publish inputs, stats.
    pub handler: Handler,
}

/// `[global]` settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Global {
    /// `rundir`: where ipc sockets live.
    pub rundir: String,
    /// `ipc_prefix`: prefix of ipc socket names.
    pub ipc_prefix: String,
    /// `port_offset`: added to tcp ports of the handler's specs and `push_in_http_port`.
    pub port_offset: u16,
    /// `stats_connection_ttl` (s).
    pub stats_connection_ttl: u32,
}

/// `[runner]` settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Runner {
    /// `http_port`: client listeners (`port`, `addr:port` or `[v6]:port`, comma-separated).
    pub http_listeners: Vec<SocketAddr>,
    /// `https_ports`: TLS client listeners, same syntax as `http_port`. Identities come from
    /// `<config dir>/runner/certs` ([`crate::config::certs`]).
    pub https_listeners: Vec<SocketAddr>,
    /// `local_ports`: unix-socket client listeners (paths, with `{rundir}` and `{ipc_prefix}`
    /// substituted).
    pub local_ports: Vec<String>,
    /// `tls_handshake_timeout` (gripway, seconds): time allowed for a TLS handshake.
    pub tls_handshake_timeout: std::time::Duration,
    /// `client_head_timeout` (gripway, seconds): time allowed for a request head.
    pub client_head_timeout: std::time::Duration,
    /// `log_level`: 0 error … 3 debug, 4+ trace.
    pub log_level: u8,
    /// `client_buffer_size`: largest client request head, in bytes.
    pub client_buffer_size: usize,
    /// `client_maxconn`: most concurrent client connections.
    pub client_maxconn: usize,
}

/// How `X-Forwarded-Proto` is set (`set_x_forwarded_protocol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForwardedProto {
    /// Not set.
    Off,
    /// `proto-only`: `X-Forwarded-Proto` for https/wss clients.
    ProtoOnly,
    /// `true`: also the deprecated `X-Forwarded-Protocol`.
    Both,
}

/// One step of an `x_forwarded_for` rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForwardedFor {
    /// `truncate:N`: keep the last N entries.
    Truncate(usize),
    /// `append`: add the client's address.
    Append,
}

/// `[proxy]` settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Proxy {
    /// `routesfile`, resolved against the config file's folder.
    pub routesfile: Option<String>,
    /// `debug`: detailed error bodies for every route.
    pub debug: bool,
    /// `auto_cross_origin`: CORS/JSON-P for every route.
    pub auto_cross_origin: bool,
    /// `accept_x_forwarded_protocol`: trust a client's `X-Forwarded-Proto`.
    pub accept_x_forwarded_protocol: bool,
    /// `set_x_forwarded_protocol`.
    pub set_x_forwarded_protocol: ForwardedProto,
    /// `x_forwarded_for`.
    pub x_forwarded_for: Vec<ForwardedFor>,
    /// `x_forwarded_for_trusted`.
    pub x_forwarded_for_trusted: Vec<ForwardedFor>,
    /// `orig_headers_need_mark`.
    pub orig_headers_need_mark: Vec<String>,
    /// `accept_pushpin_route`: the `Pushpin-Route` header picks a route by id.
    pub accept_pushpin_route: bool,
    /// `cdn_loop`: value appended to `CDN-Loop`.
    pub cdn_loop: Option<String>,
    /// `log_from`.
    pub log_from: bool,
    /// `log_user_agent`.
    pub log_user_agent: bool,
    /// `sig_iss`: issuer of `Grip-Sig`.
    pub sig_iss: String,
    /// `sig_key`: key for `Grip-Sig`; empty = requests are not signed (Pushpin 1.36 signs with an
    /// empty secret).
    pub sig_key: String,
    /// `upstream_key`: key that marks a client as a trusted GRIP proxy; empty = nobody is trusted
    /// (Pushpin 1.36 trusts tokens signed with the empty secret).
    pub upstream_key: String,
    /// `max_open_requests`: cap on concurrent sessions (None = no cap).
    pub max_open_requests: Option<usize>,
}

/// `[handler]` settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Handler {
    /// `push_in_spec`: ZMQ PULL publish input.
    pub push_in_spec: Option<String>,
    /// `push_in_sub_specs` (+ legacy `push_in_sub_spec`): ZMQ SUB publish inputs.
    pub push_in_sub_specs: Vec<String>,
    /// `push_in_sub_connect`: connect the SUB socket instead of binding it.
    pub push_in_sub_connect: bool,
    /// `push_in_http_addr`/`push_in_http_port`: the HTTP publish API.
    pub push_in_http: Option<SocketAddr>,
    /// `push_in_http_max_headers_size`.
    pub push_in_http_max_headers_size: usize,
    /// `push_in_http_max_body_size`.
    pub push_in_http_max_body_size: usize,
    /// `push_in_http_auth_key` (gripway): bearer key the publish API requires; empty = none.
    pub push_in_http_auth_key: String,
    /// `stats_spec`: ZMQ PUB stats output (none when the key is missing or empty, as in Pushpin).
    pub stats_spec: Option<String>,
    /// `command_spec`: ZMQ command socket.
    pub command_spec: Option<String>,
    /// `message_rate`: deliveries per second (None = unlimited).
    pub message_rate: Option<u32>,
    /// `message_hwm`: queued deliveries before dropping (None = unlimited).
    pub message_hwm: Option<u32>,
    /// `message_wait` (ms): how long out-of-order items are held.
    pub message_wait_ms: u32,
    /// `id_cache_ttl` (s): de-duplication window; 0 = off.
    pub id_cache_ttl: u32,
    /// `connection_subscription_max`: channels per connection.
    pub connection_subscription_max: usize,
    /// `subscription_linger` (s).
    pub subscription_linger: u32,
    /// `stats_subscription_ttl` (s).
    pub stats_subscription_ttl: u32,
    /// `stats_report_interval` (s).
    pub stats_report_interval: u32,
    /// `stats_format`: true for `json`, false for `tnetstring`.
    pub stats_json: bool,
    /// `update_on_first_subscription` (1.41 key): re-ask the backend 1 s after a channel's first
    /// subscriber (§6.2 item 5).
    pub update_on_first_subscription: bool,
}

/// Reads settings out of an [`Ini`], remembering which keys were used.
pub(crate) struct Reader<'a> {
    ini: &'a Ini,
    file: &'a str,
    libdir: &'a str,
    used: HashSet<(&'static str, &'static str)>,
    errors: Vec<ConfigError>,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(ini: &'a Ini, file: &'a str, libdir: &'a str) -> Self {
        Reader {
            ini,
            file,
            libdir,
            used: HashSet::new(),
            errors: Vec::new(),
        }
    }

    fn entry(&mut self, section: &'static str, key: &'static str) -> Option<&'a Entry> {
        self.used.insert((section, key));
        self.ini.get(section, key)
    }

    fn fail(&mut self, entry: &Entry, message: String) {
        self.errors.push(ConfigError {
            file: self.file.to_owned(),
            line: Some(entry.line),
            message: format!("[{}] {}: {}", entry.section, entry.key, message),
        });
    }

    fn string(&mut self, section: &'static str, key: &'static str, default: &str) -> String {
        self.entry(section, key)
            .map_or_else(|| default.to_owned(), |e| e.value.clone())
    }

    fn optional(
        &mut self,
        section: &'static str,
        key: &'static str,
        default: Option<&str>,
    ) -> Option<String> {
        match self.entry(section, key) {
            Some(e) if e.value.is_empty() => None,
            Some(e) => Some(e.value.clone()),
            None => default.map(str::to_owned),
        }
    }

    fn list(&mut self, section: &'static str, key: &'static str, default: &[&str]) -> Vec<String> {
        match self.entry(section, key) {
            Some(e) => split_list(&e.value),
            None => default.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn bool(&mut self, section: &'static str, key: &'static str, default: bool) -> bool {
        let Some(e) = self.entry(section, key) else {
            return default;
        };
        match e.value.as_str() {
            "true" => true,
            "false" => false,
            other => {
                self.fail(e, format!("expected 'true' or 'false', not '{other}'"));
                default
            }
        }
    }

    fn number<T: std::str::FromStr + Copy>(
        &mut self,
        section: &'static str,
        key: &'static str,
        default: T,
    ) -> T {
        let Some(e) = self.entry(section, key) else {
            return default;
        };
        match e.value.parse() {
            Ok(n) => n,
            Err(_) => {
                self.fail(
                    e,
                    format!("expected a whole number in range, not '{}'", e.value),
                );
                default
            }
        }
    }

    /// A number where a negative value means "no limit" (Pushpin's `-1`).
    fn limit(&mut self, section: &'static str, key: &'static str, default: i64) -> Option<u32> {
        let n: i64 = self.number(section, key, default);
        if n < 0 {
            None
        } else {
            Some(u32::try_from(n).unwrap_or(u32::MAX))
        }
    }

    /// A ZMQ spec with `{rundir}`-style substitutions and the port offset applied.
    fn resolve_spec(&self, raw: &str, global: &Global) -> String {
        let s = raw
            .replace("{rundir}", &global.rundir)
            .replace("{ipc_prefix}", &global.ipc_prefix)
            .replace("{libdir}", self.libdir);
        offset_tcp_port(&s, global.port_offset)
    }

    /// Errors, and the keys present in the file that nothing read.
    pub(crate) fn finish(self) -> (Vec<ConfigError>, Vec<String>, Vec<String>) {
        let mut unknown = Vec::new();
        let mut unused = Vec::new();
        for e in self.ini.entries() {
            let key = (e.section.as_str(), e.key.as_str());
            if self.used.iter().any(|(s, k)| (*s, *k) == key) {
                continue;
            }
            let place = format!("{}:{}: [{}] {}", self.file, e.line, e.section, e.key);
            if KNOWN_UNUSED.contains(&key)
                || INTERNAL_SECTIONS.contains(&key.0)
                || key.1.ends_with("_specs")
                || key.1.ends_with("_spec")
            {
                unused.push(place);
            } else {
                unknown.push(place);
            }
        }
        (self.errors, unknown, unused)
    }
}

/// What reading `pushpin.conf` text gave: the settings, and what was wrong or left unread.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The settings, with defaults in place of bad values.
    pub settings: Settings,
    /// Bad values, each with its file and line; loading fails if there is any.
    pub errors: Vec<ConfigError>,
    /// `file:line: [section] key` of keys nobody knows (the caller warns).
    pub unknown: Vec<String>,
    /// `file:line: [section] key` of Pushpin keys gripway has no use for (debug level).
    pub unused: Vec<String>,
}

impl Settings {
    /// Reads `pushpin.conf` text; `file` names it in messages. `Err` holds the INI syntax errors
    /// (every malformed line); bad values are in [`Parsed::errors`], so that they can be reported
    /// together with the routes file's. The one way text becomes settings: [`crate::config::load`]
    /// and the fuzz target both call it.
    pub fn parse(file: &str, text: &str) -> Result<Parsed, Vec<ConfigError>> {
        let ini = Ini::parse(file, text)?;
        let mut reader = Reader::new(&ini, file, "");
        let settings = Settings::read(&mut reader);
        let (errors, unknown, unused) = reader.finish();
        Ok(Parsed {
            settings,
            errors,
            unknown,
            unused,
        })
    }

    /// Reads every setting, with Pushpin's defaults for keys the file does not set.
    pub(crate) fn read(r: &mut Reader<'_>) -> Settings {
        let global = Global {
            rundir: r.string("global", "rundir", "run"),
            ipc_prefix: r.string("global", "ipc_prefix", "pushpin-"),
            port_offset: r.number("global", "port_offset", 0),
            stats_connection_ttl: r.number("global", "stats_connection_ttl", 120),
        };
        let runner = read_runner(r, &global);
        let proxy = read_proxy(r);
        let handler = read_handler(r, &global);
        Settings {
            global,
            runner,
            proxy,
            handler,
        }
    }
}

fn read_runner(r: &mut Reader<'_>, global: &Global) -> Runner {
    let http_listeners = listen_addrs(r, "http_port")
        .unwrap_or_else(|| vec![SocketAddr::from(([0, 0, 0, 0], 7999))]);
    let https_listeners = listen_addrs(r, "https_ports").unwrap_or_default();
    let local_ports = r
        .list("runner", "local_ports", &[])
        .iter()
        .map(|path| {
            path.replace("{rundir}", &global.rundir)
                .replace("{ipc_prefix}", &global.ipc_prefix)
        })
        .collect();
    let handshake_secs: u64 = r.number("runner", "tls_handshake_timeout", 10);
    let head_secs: u64 = r.number("runner", "client_head_timeout", 60);
    Runner {
        http_listeners,
        https_listeners,
        local_ports,
        tls_handshake_timeout: std::time::Duration::from_secs(handshake_secs.max(1)),
        client_head_timeout: std::time::Duration::from_secs(head_secs.max(1)),
        log_level: r.number("runner", "log_level", 2),
        client_buffer_size: r.number("runner", "client_buffer_size", 8192),
        client_maxconn: r.number("runner", "client_maxconn", 50_000),
    }
}

fn read_proxy(r: &mut Reader<'_>) -> Proxy {
    let set_xfp = match r
        .optional("proxy", "set_x_forwarded_protocol", None)
        .as_deref()
    {
        Some("true") => ForwardedProto::Both,
        Some("proto-only") => ForwardedProto::ProtoOnly,
        _ => ForwardedProto::Off,
    };
    Proxy {
        routesfile: r.optional("proxy", "routesfile", None),
        debug: r.bool("proxy", "debug", false),
        auto_cross_origin: r.bool("proxy", "auto_cross_origin", false),
        accept_x_forwarded_protocol: r.bool("proxy", "accept_x_forwarded_protocol", false),
        set_x_forwarded_protocol: set_xfp,
        x_forwarded_for: forwarded_for(r, "x_forwarded_for"),
        x_forwarded_for_trusted: forwarded_for(r, "x_forwarded_for_trusted"),
        orig_headers_need_mark: r.list("proxy", "orig_headers_need_mark", &[]),
        accept_pushpin_route: r.bool("proxy", "accept_pushpin_route", false),
        cdn_loop: r.optional("proxy", "cdn_loop", None),
        log_from: r.bool("proxy", "log_from", false),
        log_user_agent: r.bool("proxy", "log_user_agent", false),
        sig_iss: r.string("proxy", "sig_iss", "pushpin"),
        sig_key: r.string("proxy", "sig_key", ""),
        upstream_key: r.string("proxy", "upstream_key", ""),
        max_open_requests: r
            .limit("proxy", "max_open_requests", -1)
            .map(|n| n as usize),
    }
}

fn forwarded_for(r: &mut Reader<'_>, key: &'static str) -> Vec<ForwardedFor> {
    let Some(e) = r.entry("proxy", key) else {
        return Vec::new();
    };
    let mut rule = Vec::new();
    for item in split_list(&e.value) {
        match item.as_str() {
            "append" => rule.push(ForwardedFor::Append),
            other => match other.strip_prefix("truncate:").and_then(|n| n.parse().ok()) {
                Some(n) => rule.push(ForwardedFor::Truncate(n)),
                None => r.fail(e, format!("'{other}' is neither 'append' nor 'truncate:N'")),
            },
        }
    }
    rule
}

fn read_handler(r: &mut Reader<'_>, global: &Global) -> Handler {
    let mut push_in_sub_specs: Vec<String> = r
        .list("handler", "push_in_sub_specs", &[])
        .iter()
        .map(|s| r.resolve_spec(s, global))
        .collect();
    if let Some(legacy) = r.optional("handler", "push_in_sub_spec", None) {
        push_in_sub_specs.push(r.resolve_spec(&legacy, global));
    }
    let push_in_http = push_in_http_addr(r, global);
    Handler {
        push_in_spec: r
            .optional("handler", "push_in_spec", None)
            .map(|raw| r.resolve_spec(&raw, global)),
        push_in_sub_specs,
        push_in_sub_connect: r.bool("handler", "push_in_sub_connect", false),
        push_in_http,
        push_in_http_max_headers_size: r.number("handler", "push_in_http_max_headers_size", 10_000),
        push_in_http_max_body_size: r.number("handler", "push_in_http_max_body_size", 1_000_000),
        push_in_http_auth_key: r.string("handler", "push_in_http_auth_key", ""),
        stats_spec: r
            .optional("handler", "stats_spec", None)
            .map(|raw| r.resolve_spec(&raw, global)),
        command_spec: r
            .optional("handler", "command_spec", None)
            .map(|raw| r.resolve_spec(&raw, global)),
        message_rate: r.limit("handler", "message_rate", -1),
        message_hwm: r.limit("handler", "message_hwm", -1),
        message_wait_ms: r.number("handler", "message_wait", 5000),
        id_cache_ttl: r.number("handler", "id_cache_ttl", 0),
        connection_subscription_max: r.number("handler", "connection_subscription_max", 20),
        subscription_linger: r.number("handler", "subscription_linger", 60),
        stats_subscription_ttl: r.number("handler", "stats_subscription_ttl", 60),
        stats_report_interval: r.number("handler", "stats_report_interval", 10),
        stats_json: r.string("handler", "stats_format", "tnetstring") == "json",
        update_on_first_subscription: r.bool("handler", "update_on_first_subscription", true),
    }
}

fn push_in_http_addr(r: &mut Reader<'_>, global: &Global) -> Option<SocketAddr> {
    let addr = r.string("handler", "push_in_http_addr", "127.0.0.1");
    let port: u16 = r.number("handler", "push_in_http_port", 5561);
    if port == 0 {
        return None;
    }
    let Ok(ip) = addr.parse::<IpAddr>() else {
        if let Some(e) = r.entry("handler", "push_in_http_addr") {
            r.fail(e, format!("'{addr}' is not an IP address"));
        }
        return None;
    };
    Some(SocketAddr::new(ip, port.saturating_add(global.port_offset)))
}

/// A list of listen addresses in `[runner] key`; `None` when the key is absent.
fn listen_addrs(r: &mut Reader<'_>, key: &'static str) -> Option<Vec<SocketAddr>> {
    let e = r.entry("runner", key)?;
    let mut addrs = Vec::new();
    for item in split_list(&e.value) {
        match parse_listen_addr(&item) {
            Some(addr) => addrs.push(addr),
            None => r.fail(e, format!("'{item}' is not a port, addr:port or [v6]:port")),
        }
    }
    Some(addrs)
}

/// `port`, `addr:port` or `[v6]:port`; a bare port listens on every IPv4 address, as Pushpin does.
fn parse_listen_addr(item: &str) -> Option<SocketAddr> {
    if let Ok(port) = item.parse::<u16>() {
        return Some(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    item.parse().ok()
}

/// A comma-separated list, items trimmed, empty items dropped.
fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Adds `offset` to the port of a `tcp://host:port` spec; other specs are returned unchanged.
fn offset_tcp_port(spec: &str, offset: u16) -> String {
    if offset == 0 {
        return spec.to_owned();
    }
    let Some(rest) = spec.strip_prefix("tcp://") else {
        return spec.to_owned();
    };
    match rest
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
    {
        Some((host, port)) => format!("tcp://{host}:{}", port.saturating_add(offset)),
        None => spec.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Settings, Vec<ConfigError>, Vec<String>, Vec<String>) {
        let ini = Ini::parse("p.conf", text).unwrap();
        let mut r = Reader::new(&ini, "p.conf", "/usr/lib/pushpin");
        let s = Settings::read(&mut r);
        let (errors, unknown, unused) = r.finish();
        (s, errors, unknown, unused)
    }

    #[test]
    fn debian_file_reads_cleanly() {
        let text = include_str!("testdata/debian-pushpin.conf");
        let (s, errors, unknown, _unused) = read(text);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(unknown.is_empty(), "{unknown:?}");
        assert_eq!(
            s.runner.http_listeners,
            [SocketAddr::from(([0, 0, 0, 0], 7999))]
        );
        assert_eq!(
            s.handler.push_in_http,
            Some("127.0.0.1:5561".parse().unwrap())
        );
        assert_eq!(
            s.handler.stats_spec.as_deref(),
            Some("ipc:///var/run/pushpin/pushpin-stats")
        );
        assert_eq!(s.handler.message_rate, Some(2500));
        assert_eq!(s.handler.id_cache_ttl, 60);
        assert_eq!(s.proxy.sig_key, "changeme");
        assert_eq!(s.proxy.upstream_key, "");
        assert_eq!(s.proxy.set_x_forwarded_protocol, ForwardedProto::ProtoOnly);
        assert_eq!(s.proxy.routesfile.as_deref(), Some("routes"));
    }

    #[test]
    fn code_fallbacks_when_keys_are_missing() {
        let (s, errors, _, _) = read("");
        assert!(errors.is_empty());
        assert_eq!(s.handler.message_rate, None);
        assert_eq!(s.handler.message_hwm, None);
        assert_eq!(s.handler.id_cache_ttl, 0);
        assert_eq!(s.handler.message_wait_ms, 5000);
        assert_eq!(s.handler.connection_subscription_max, 20);
        assert_eq!(s.proxy.set_x_forwarded_protocol, ForwardedProto::Off);
    }

    #[test]
    fn zmq_sockets_are_off_unless_configured() {
        // Pushpin has no fallback for these keys: without them there is no socket (the
        // shipped and embedded configs set them).
        let (s, _, _, _) = read("");
        assert_eq!(s.handler.push_in_spec, None);
        assert!(s.handler.push_in_sub_specs.is_empty());
        assert_eq!(s.handler.command_spec, None);
        assert_eq!(s.handler.stats_spec, None);
    }

    #[test]
    fn port_offset_applies_to_handler_specs_only() {
        let (s, _, _, _) = read(
            "[global]\nport_offset=1000\n[runner]\nhttp_port=18999\n[handler]\n\
             push_in_spec=tcp://127.0.0.1:5560\npush_in_sub_specs=tcp://127.0.0.1:5562\n\
             command_spec=tcp://127.0.0.1:5563\nstats_spec=tcp://127.0.0.1:5564\n",
        );
        assert_eq!(
            s.runner.http_listeners,
            [SocketAddr::from(([0, 0, 0, 0], 18999))]
        );
        assert_eq!(
            s.handler.push_in_spec.as_deref(),
            Some("tcp://127.0.0.1:6560")
        );
        assert_eq!(s.handler.push_in_sub_specs, ["tcp://127.0.0.1:6562"]);
        assert_eq!(
            s.handler.stats_spec.as_deref(),
            Some("tcp://127.0.0.1:6564")
        );
        assert_eq!(
            s.handler.command_spec.as_deref(),
            Some("tcp://127.0.0.1:6563")
        );
        assert_eq!(
            s.handler.push_in_http,
            Some("127.0.0.1:6561".parse().unwrap())
        );
    }

    #[test]
    fn listeners_and_rules() {
        let (s, errors, _, _) = read(
            "[runner]\nhttp_port=8000,127.0.0.1:8001,[::1]:8002\n[proxy]\nx_forwarded_for=truncate:0,append\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(s.runner.http_listeners.len(), 3);
        assert_eq!(
            s.proxy.x_forwarded_for,
            [ForwardedFor::Truncate(0), ForwardedFor::Append]
        );
    }

    #[test]
    fn tls_and_local_listeners() {
        let (s, errors, unknown, _) = read(
            "[global]\nrundir=/run/x\nipc_prefix=p-\n[runner]\nhttps_ports=443,127.0.0.1:8443\n\
             local_ports={rundir}/{ipc_prefix}server,/tmp/other\ntls_handshake_timeout=3\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert!(unknown.is_empty(), "{unknown:?}");
        assert_eq!(
            s.runner.https_listeners,
            [
                SocketAddr::from(([0, 0, 0, 0], 443)),
                SocketAddr::from(([127, 0, 0, 1], 8443))
            ]
        );
        assert_eq!(s.runner.local_ports, ["/run/x/p-server", "/tmp/other"]);
        assert_eq!(
            s.runner.tls_handshake_timeout,
            std::time::Duration::from_secs(3)
        );
        let (s, _, _, _) = read("[runner]\nhttps_ports=\n");
        assert!(s.runner.https_listeners.is_empty());
        assert_eq!(
            s.runner.tls_handshake_timeout,
            std::time::Duration::from_secs(10)
        );
        let (_, errors, _, _) = read("[runner]\nhttps_ports=https\n");
        assert_eq!(
            errors[0].to_string(),
            "p.conf:2: [runner] https_ports: 'https' is not a port, addr:port or [v6]:port"
        );
    }

    #[test]
    fn every_bad_value_is_reported_with_its_line() {
        let (_, errors, _, _) =
            read("[proxy]\ndebug=yes\n[handler]\nmessage_rate=fast\n[runner]\nhttp_port=eighty\n");
        let lines: Vec<_> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "p.conf:6: [runner] http_port: 'eighty' is not a port, addr:port or [v6]:port",
                "p.conf:2: [proxy] debug: expected 'true' or 'false', not 'yes'",
                "p.conf:4: [handler] message_rate: expected a whole number in range, not 'fast'",
            ]
        );
    }

    #[test]
    fn unknown_keys_are_listed_apart_from_known_unused_ones() {
        let (_, _, unknown, unused) = read("[proxy]\nsig_kye=x\nsockjs_url=u\n[zurl]\nin_spec=x\n");
        assert_eq!(unknown, ["p.conf:2: [proxy] sig_kye"]);
        assert_eq!(unused.len(), 2);
    }
}
