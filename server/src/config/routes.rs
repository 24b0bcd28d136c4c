//! The routes file (§8): one rule per line, `<condition> <target> [<target> …]`.
//!
//! A part is a value followed by comma-separated options (`value,opt,opt=val`); values may be
//! double-quoted with `\\` and `\"` escapes, so a header value can hold commas and spaces. A
//! condition whose first element is an option (`path_beg=/x,…`) has an empty value, as does one
//! written `,opt=…`. `#` at the start of a part starts a comment.
//!
//! Parsing only builds the table; choosing a route for a request is the router's job. Unknown
//! options are kept as warnings rather than errors, so a routes file written for a newer Pushpin
//! still loads; a malformed value (a port that is not a number, `proto=ftp`) is an error.

use super::error::{ConfigError, Located};

/// Most rules a routes file may hold; far above real use, it bounds a runaway generated file.
pub const MAX_ROUTES: usize = 10_000;

/// Which hosts a rule applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostMatch {
    /// `*`: any host not named by another rule.
    Any,
    /// An exact host name, compared without the port.
    Exact(String),
    /// Empty: the rule is reachable only by its `id` (`Pushpin-Route` header).
    IdOnly,
}

/// The protocol a rule is limited to (`proto=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// Plain HTTP requests.
    Http,
    /// WebSocket upgrades.
    Ws,
}

/// JSON-P settings of a route (§6.8).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Jsonp {
    /// `jsonp_mode=basic` wraps only the body; extended (the default) wraps the whole response.
    pub basic: bool,
    /// `jsonp_cb=`: the callback query parameter name (default `callback`).
    pub callback_param: Option<String>,
    /// `jsonp_body=`: the body query parameter name.
    pub body_param: Option<String>,
    /// `jsonp_defcb=`: the default callback name.
    pub default_callback: Option<String>,
    /// `jsonp_defmethod=`: the method used when `_method` is absent.
    pub default_method: Option<String>,
}

/// One rule of the routes file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Where the rule is, for logs and errors.
    pub line: usize,
    /// `id=`: names the route in stats and for `Pushpin-Route`.
    pub id: Option<String>,
    /// The condition's host part.
    pub host: HostMatch,
    /// `path_beg=`: the path must start with this.
    pub path_beg: Option<String>,
    /// `proto=`.
    pub proto: Option<Proto>,
    /// `ssl=yes|no`.
    pub ssl: Option<bool>,
    /// `sig_iss=`: used only together with `sig_key`.
    pub sig_iss: Option<String>,
    /// `sig_key=`: used only together with `sig_iss`.
    pub sig_key: Option<String>,
    /// `prefix=`: prepended to every channel the route's sessions subscribe to.
    pub prefix: String,
    /// `orig_headers`: copy client headers under the `eb9bf0f5-` prefix.
    pub orig_headers: bool,
    /// `as_host=`: rewrite the URI host before forwarding.
    pub as_host: Option<String>,
    /// `path_rem=N`: strip N leading path characters.
    pub path_rem: Option<usize>,
    /// `replace_beg=`: replace `path_beg` with this.
    pub replace_beg: Option<String>,
    /// `header=Name:value` (repeatable): set a request header; an empty value removes it.
    pub headers: Vec<(String, String)>,
    /// `debug`: detailed error bodies.
    pub debug: bool,
    /// `aco`: CORS and JSON-P.
    pub aco: bool,
    /// JSON-P tuning.
    pub jsonp: Jsonp,
    /// `session`: use the state service.
    pub session: bool,
    /// `sockjs=<path>`.
    pub sockjs: Option<String>,
    /// `sockjs_as_path=<path>`.
    pub sockjs_as_path: Option<String>,
    /// `no_grip`: a plain proxy route.
    pub no_grip: bool,
    /// `log_level=N`.
    pub log_level: Option<i32>,
    /// Where requests go, tried in order on connect failure.
    pub targets: Vec<Target>,
}

/// What kind of backend a target is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// `host:port` or `[v6]:port`: an HTTP(S)/WS server.
    Http {
        /// Host name or IP address (without brackets).
        host: String,
        /// TCP port.
        port: u16,
    },
    /// `zhttp/<spec>`: a streaming ZHTTP worker (§2.7).
    Zhttp(String),
    /// `zhttpreq/<spec>`: a request/response ZHTTP worker (§2.6).
    ZhttpReq(String),
    /// `test`: the built-in test backend.
    Test,
}

/// One target of a rule, with its options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The backend.
    pub kind: TargetKind,
    /// `ssl`: https/wss to the backend.
    pub ssl: bool,
    /// `untrusted`.
    pub untrusted: bool,
    /// `trust_connect_host`.
    pub trust_connect_host: bool,
    /// `insecure`: ignore TLS errors.
    pub insecure: bool,
    /// `host=`: override the URI host / Host header.
    pub host: Option<String>,
    /// `sub=` (repeatable): implicit WebSocket subscriptions.
    pub subs: Vec<String>,
    /// `over_http`: WebSocket-over-HTTP.
    pub over_http: bool,
    /// `one_event`: one WebSocket-over-HTTP event per request.
    pub one_event: bool,
    /// `ipc_file_mode=` (octal) for ipc sockets of zhttp targets.
    pub ipc_file_mode: Option<u32>,
    /// `client_cert=`.
    pub client_cert: Option<String>,
    /// `client_key=`.
    pub client_key: Option<String>,
}

/// A parsed routes file and the warnings it produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Routes {
    /// Rules in file order.
    pub routes: Vec<Route>,
    /// Things that were ignored, with their place (`file:line: …`).
    pub warnings: Vec<String>,
}

impl Routes {
    /// Parses a routes file (or the lines given with `--route`); `file` names it in messages.
    pub fn parse(file: &str, text: &str) -> Result<Routes, Vec<ConfigError>> {
        let mut routes = Routes::default();
        let mut errors = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let at = Located::new(file, index + 1);
            match parse_rule(raw, at, &mut routes.warnings) {
                Ok(Some(route)) if routes.routes.len() >= MAX_ROUTES => {
                    let _ = route;
                    errors.push(at.error(format!("more than {MAX_ROUTES} routes")));
                    break;
                }
                Ok(Some(route)) => routes.routes.push(route),
                Ok(None) => {}
                Err(message) => errors.push(at.error(message)),
            }
        }
        if errors.is_empty() {
            Ok(routes)
        } else {
            Err(errors)
        }
    }
}

/// One option: `name` or `name=value`.
struct Opt {
    name: String,
    value: Option<String>,
}

/// A part: its value and options.
struct Part {
    value: String,
    opts: Vec<Opt>,
}

fn parse_rule(
    raw: &str,
    at: Located<'_>,
    warnings: &mut Vec<String>,
) -> Result<Option<Route>, String> {
    let parts = split_unquoted(&raw.trim().replace('\t', " "), ' ')?
        .into_iter()
        .filter(|p| !p.is_empty())
        .take_while(|p| !p.starts_with('#'))
        .map(parse_part)
        .collect::<Result<Vec<_>, _>>()?;
    let mut parts = parts.into_iter();
    let Some(condition) = parts.next() else {
        return Ok(None);
    };
    let mut route = parse_condition(condition, at, warnings)?;
    route.targets = parts
        .map(|p| parse_target(p, at, warnings))
        .collect::<Result<Vec<_>, _>>()?;
    if route.targets.is_empty() {
        return Err("rule has no target".into());
    }
    Ok(Some(route))
}

fn parse_part(text: &str) -> Result<Part, String> {
    let mut elements = split_unquoted(text, ',')?.into_iter();
    let first = elements.next().unwrap_or_default();
    let mut opts = Vec::new();
    // `path_beg=/x,…` as the first element means the value is empty and this is an option.
    let value = if contains_unquoted(first, '=') {
        opts.push(parse_opt(first)?);
        String::new()
    } else {
        unquote(first)?
    };
    for element in elements.filter(|e| !e.is_empty()) {
        opts.push(parse_opt(element)?);
    }
    Ok(Part { value, opts })
}

fn parse_opt(element: &str) -> Result<Opt, String> {
    let pieces = split_unquoted(element, '=')?;
    let name = unquote(pieces.first().copied().unwrap_or_default())?;
    // Rejoin on '=' so `header=X-A:a=b` keeps its value whole.
    let value = match element.find('=') {
        Some(i) if pieces.len() > 1 => Some(unquote(element.get(i + 1..).unwrap_or_default())?),
        _ => None,
    };
    Ok(Opt { name, value })
}

fn parse_condition(
    part: Part,
    at: Located<'_>,
    warnings: &mut Vec<String>,
) -> Result<Route, String> {
    let host = match part.value.as_str() {
        "" => HostMatch::IdOnly,
        "*" => HostMatch::Any,
        host => HostMatch::Exact(host.to_ascii_lowercase()),
    };
    let mut route = Route {
        line: at.line,
        id: None,
        host,
        path_beg: None,
        proto: None,
        ssl: None,
        sig_iss: None,
        sig_key: None,
        prefix: String::new(),
        orig_headers: false,
        as_host: None,
        path_rem: None,
        replace_beg: None,
        headers: Vec::new(),
        debug: false,
        aco: false,
        jsonp: Jsonp::default(),
        session: false,
        sockjs: None,
        sockjs_as_path: None,
        no_grip: false,
        log_level: None,
        targets: Vec::new(),
    };
    for opt in part.opts {
        apply_condition_opt(&mut route, opt, at, warnings)?;
    }
    if route.sig_iss.is_some() != route.sig_key.is_some() {
        warnings.push(
            at.error("sig_iss and sig_key are used only together; ignoring the one given")
                .to_string(),
        );
    }
    Ok(route)
}

fn apply_condition_opt(
    route: &mut Route,
    opt: Opt,
    at: Located<'_>,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    let name = opt.name.as_str();
    let value = opt.value;
    match name {
        "id" => route.id = Some(required(name, value)?),
        "path_beg" => {
            let p = required(name, value)?;
            if p.is_empty() {
                return Err("path_beg must not be empty".into());
            }
            route.path_beg = Some(p);
        }
        "proto" => {
            route.proto = Some(match required(name, value)?.as_str() {
                "http" => Proto::Http,
                "ws" => Proto::Ws,
                other => return Err(format!("proto must be 'http' or 'ws', not '{other}'")),
            })
        }
        "ssl" => route.ssl = Some(yes_no(name, &required(name, value)?)?),
        "sig_iss" => route.sig_iss = Some(required(name, value)?),
        "sig_key" => route.sig_key = Some(required(name, value)?),
        "prefix" => route.prefix = required(name, value)?,
        "orig_headers" => route.orig_headers = true,
        "as_host" => route.as_host = Some(required(name, value)?),
        "path_rem" => {
            let n = required(name, value)?;
            route.path_rem = Some(
                n.parse()
                    .map_err(|_| format!("path_rem must be a number, not '{n}'"))?,
            );
        }
        "replace_beg" => route.replace_beg = Some(required(name, value)?),
        "header" => {
            let h = required(name, value)?;
            let (n, v) = h
                .split_once(':')
                .ok_or_else(|| format!("header must be 'Name:value', not '{h}'"))?;
            route
                .headers
                .push((n.trim().to_owned(), v.trim().to_owned()));
        }
        "debug" => route.debug = true,
        "aco" => route.aco = true,
        "jsonp_mode" => {
            route.jsonp.basic = match required(name, value)?.as_str() {
                "basic" => true,
                "extended" => false,
                other => {
                    return Err(format!(
                        "jsonp_mode must be 'basic' or 'extended', not '{other}'"
                    ))
                }
            }
        }
        "jsonp_cb" => route.jsonp.callback_param = Some(required(name, value)?),
        "jsonp_body" => route.jsonp.body_param = Some(required(name, value)?),
        "jsonp_defcb" => route.jsonp.default_callback = Some(required(name, value)?),
        "jsonp_defmethod" => {
            let m = required(name, value)?;
            // It becomes the backend request's method as it is: an empty or spaced one would
            // break the request line (found by fuzzing the JSON-P rewrite).
            if !is_token(&m) {
                return Err(format!("jsonp_defmethod must be a method name, not '{m}'"));
            }
            route.jsonp.default_method = Some(m);
        }
        "session" => route.session = true,
        "sockjs" => route.sockjs = Some(required(name, value)?),
        "sockjs_as_path" => route.sockjs_as_path = Some(required(name, value)?),
        "no_grip" => route.no_grip = true,
        "log_level" => {
            let n = required(name, value)?;
            route.log_level = Some(
                n.parse()
                    .map_err(|_| format!("log_level must be a number, not '{n}'"))?,
            );
        }
        other => warnings.push(
            at.error(format!("unknown condition option '{other}' ignored"))
                .to_string(),
        ),
    }
    Ok(())
}

fn parse_target(part: Part, at: Located<'_>, warnings: &mut Vec<String>) -> Result<Target, String> {
    let kind = parse_target_kind(&part.value)?;
    let mut target = Target {
        kind,
        ssl: false,
        untrusted: false,
        trust_connect_host: false,
        insecure: false,
        host: None,
        subs: Vec::new(),
        over_http: false,
        one_event: false,
        ipc_file_mode: None,
        client_cert: None,
        client_key: None,
    };
    for opt in part.opts {
        let name = opt.name.as_str();
        let value = opt.value;
        match name {
            "ssl" => target.ssl = true,
            "untrusted" => target.untrusted = true,
            "trust_connect_host" => target.trust_connect_host = true,
            "insecure" => target.insecure = true,
            "host" => target.host = Some(required(name, value)?),
            "sub" => target.subs.push(required(name, value)?),
            "over_http" => target.over_http = true,
            "one_event" => target.one_event = true,
            "ipc_file_mode" => {
                let m = required(name, value)?;
                target.ipc_file_mode = Some(
                    u32::from_str_radix(&m, 8)
                        .map_err(|_| format!("ipc_file_mode must be octal, not '{m}'"))?,
                );
            }
            "client_cert" => target.client_cert = Some(required(name, value)?),
            "client_key" => target.client_key = Some(required(name, value)?),
            other => warnings.push(
                at.error(format!("unknown target option '{other}' ignored"))
                    .to_string(),
            ),
        }
    }
    Ok(target)
}

fn parse_target_kind(value: &str) -> Result<TargetKind, String> {
    if value == "test" {
        return Ok(TargetKind::Test);
    }
    if let Some(spec) = value.strip_prefix("zhttpreq/") {
        return zmq_spec(spec).map(TargetKind::ZhttpReq);
    }
    if let Some(spec) = value.strip_prefix("zhttp/") {
        return zmq_spec(spec).map(TargetKind::Zhttp);
    }
    let (host, port) = split_host_port(value).ok_or_else(|| {
        format!("target must be 'host:port', 'zhttp/…', 'zhttpreq/…' or 'test', not '{value}'")
    })?;
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("target port must be 1-65535, not '{port}'"))?;
    Ok(TargetKind::Http {
        host: host.to_owned(),
        port,
    })
}

/// `host:port` or `[v6]:port`.
pub(crate) fn split_host_port(value: &str) -> Option<(&str, &str)> {
    if let Some(rest) = value.strip_prefix('[') {
        let (host, port) = rest.split_once("]:")?;
        return Some((host, port));
    }
    let (host, port) = value.rsplit_once(':')?;
    (!host.is_empty() && !host.contains(':')).then_some((host, port))
}

fn zmq_spec(spec: &str) -> Result<String, String> {
    if spec.starts_with("tcp://") || spec.starts_with("ipc://") {
        Ok(spec.to_owned())
    } else {
        Err(format!(
            "ZeroMQ endpoint must start with tcp:// or ipc://, not '{spec}'"
        ))
    }
}

fn required(name: &str, value: Option<String>) -> Result<String, String> {
    value.ok_or_else(|| format!("option '{name}' needs a value ({name}=…)"))
}

/// An HTTP token (RFC 9110 §5.6.2), as a method must be.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn yes_no(name: &str, value: &str) -> Result<bool, String> {
    match value {
        "yes" => Ok(true),
        "no" => Ok(false),
        other => Err(format!("{name} must be 'yes' or 'no', not '{other}'")),
    }
}

/// Splits on `sep` outside double quotes (a backslash inside quotes escapes the next char).
fn split_unquoted(text: &str, sep: char) -> Result<Vec<&str>, String> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if in_quotes && c == '\\' {
            escaped = true;
        } else if c == '"' {
            in_quotes = !in_quotes;
        } else if !in_quotes && c == sep {
            pieces.push(text.get(start..i).unwrap_or_default());
            start = i + c.len_utf8();
        }
    }
    if in_quotes {
        return Err("unterminated quoted value".into());
    }
    pieces.push(text.get(start..).unwrap_or_default());
    Ok(pieces)
}

fn contains_unquoted(text: &str, c: char) -> bool {
    split_unquoted(text, c)
        .map(|p| p.len() > 1)
        .unwrap_or(false)
}

/// Removes double quotes and their escapes: `"a \"b\""` → `a "b"`; `pre"x"` → `prex`.
fn unquote(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut in_quotes = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => in_quotes = !in_quotes,
            '\\' if in_quotes => out.push(chars.next().ok_or("unterminated escape")?),
            c => out.push(c),
        }
    }
    if in_quotes {
        return Err("unterminated quoted value".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Routes {
        Routes::parse("routes", text).unwrap()
    }

    fn error(text: &str) -> String {
        Routes::parse("routes", text).unwrap_err()[0].to_string()
    }

    #[test]
    fn debian_default() {
        let r = parse("* test\n");
        assert_eq!(r.routes.len(), 1);
        assert_eq!(r.routes[0].host, HostMatch::Any);
        assert_eq!(r.routes[0].targets[0].kind, TargetKind::Test);
    }

    #[test]
    fn spec_example() {
        let r = parse(
            "# api.example.com, websocket via WOH, everything else to two app servers with failover\n\
             api.example.com,path_beg=/ws/,proto=ws,prefix=t1_ app1:8000,over_http,sub=global\n\
             api.example.com,id=api,sig_key=base64:c2VjcmV0 app1:8000 app2:8000\n\
             *,path_beg=/z/ zhttpreq/ipc:///run/app/zreq\n",
        );
        assert_eq!(r.routes.len(), 3);
        let ws = &r.routes[0];
        assert_eq!(ws.host, HostMatch::Exact("api.example.com".into()));
        assert_eq!(ws.path_beg.as_deref(), Some("/ws/"));
        assert_eq!(ws.proto, Some(Proto::Ws));
        assert_eq!(ws.prefix, "t1_");
        assert!(ws.targets[0].over_http);
        assert_eq!(ws.targets[0].subs, ["global"]);
        let api = &r.routes[1];
        assert_eq!(api.line, 3);
        assert_eq!(api.id.as_deref(), Some("api"));
        assert_eq!(api.targets.len(), 2);
        assert_eq!(
            api.targets[1].kind,
            TargetKind::Http {
                host: "app2".into(),
                port: 8000
            }
        );
        assert_eq!(
            r.warnings.len(),
            1,
            "sig_key without sig_iss warns: {:?}",
            r.warnings
        );
        assert_eq!(
            r.routes[2].targets[0].kind,
            TargetKind::ZhttpReq("ipc:///run/app/zreq".into())
        );
    }

    #[test]
    fn quoting_and_empty_conditions() {
        let r = parse(
            ",id=only \"host:80\"\n\
             path_beg=/a,header=\"X-A: a, b c\",header=X-B: 127.0.0.1:1,ssl\n\
             *,header=\"X-Q:\\\"q\\\"\" [::1]:8080 # trailing comment\n",
        );
        assert_eq!(r.routes[0].host, HostMatch::IdOnly);
        assert_eq!(r.routes[0].id.as_deref(), Some("only"));
        assert_eq!(r.routes[1].host, HostMatch::IdOnly);
        assert_eq!(r.routes[1].path_beg.as_deref(), Some("/a"));
        assert_eq!(
            r.routes[1].headers,
            [("X-A".into(), "a, b c".into()), ("X-B".into(), "".into())]
        );
        assert!(r.routes[1].targets[0].ssl);
        assert_eq!(r.routes[2].headers, [("X-Q".into(), "\"q\"".into())]);
        assert_eq!(
            r.routes[2].targets[0].kind,
            TargetKind::Http {
                host: "::1".into(),
                port: 8080
            }
        );
    }

    #[test]
    fn zhttp_targets_and_options() {
        let r = parse("* zhttp/tcp://127.0.0.1:17200,ipc_file_mode=660 zhttpreq/tcp://127.0.0.1:17100,untrusted,insecure\n");
        let t = &r.routes[0].targets;
        assert_eq!(t[0].kind, TargetKind::Zhttp("tcp://127.0.0.1:17200".into()));
        assert_eq!(t[0].ipc_file_mode, Some(0o660));
        assert!(t[1].untrusted && t[1].insecure);
    }

    #[test]
    fn unknown_options_warn() {
        let r = parse("*,frobnicate backend:80,wobble\n");
        assert_eq!(r.routes.len(), 1);
        assert_eq!(r.warnings.len(), 2);
        assert!(r.warnings[0].starts_with("routes:1: unknown condition option 'frobnicate'"));
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(error("\n* backend\n"), "routes:2: target must be 'host:port', 'zhttp/…', 'zhttpreq/…' or 'test', not 'backend'");
        assert_eq!(
            error("* backend:http\n"),
            "routes:1: target port must be 1-65535, not 'http'"
        );
        assert_eq!(
            error("*,proto=ftp test\n"),
            "routes:1: proto must be 'http' or 'ws', not 'ftp'"
        );
        assert_eq!(
            error("*,path_beg= test\n"),
            "routes:1: path_beg must not be empty"
        );
        assert_eq!(error("*\n"), "routes:1: rule has no target");
        assert_eq!(
            error("*,header=\"open test\n"),
            "routes:1: unterminated quoted value"
        );
        assert_eq!(
            error("* zhttp/127.0.0.1:1\n"),
            "routes:1: ZeroMQ endpoint must start with tcp:// or ipc://, not '127.0.0.1:1'"
        );
        assert_eq!(
            error("*,ssl=maybe test\n"),
            "routes:1: ssl must be 'yes' or 'no', not 'maybe'"
        );
    }

    #[test]
    fn jsonp_default_method_must_be_a_method_name() {
        let r = parse("*,aco,jsonp_defmethod=PUT test\n");
        assert_eq!(r.routes[0].jsonp.default_method.as_deref(), Some("PUT"));
        assert_eq!(
            error("*,aco,jsonp_defmethod= test\n"),
            "routes:1: jsonp_defmethod must be a method name, not ''"
        );
        assert_eq!(
            error("*,aco,jsonp_defmethod=\"GET /x\" test\n"),
            "routes:1: jsonp_defmethod must be a method name, not 'GET /x'"
        );
    }

    #[test]
    fn every_error_is_collected() {
        let errors = Routes::parse("routes", "* a\n* b\n* test\n").unwrap_err();
        assert_eq!(errors.len(), 2);
    }
}
