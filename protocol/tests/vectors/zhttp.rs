//! `vectors/zhttp.json`: decode, compare with the JSON spelling, encode, decode again; plus one
//! trial checking that the cases cover every field, packet type and error kind.
//!
//! The decoded packet is turned into its JSON spelling field by field here, independently of the
//! codec's encoder, so a decoder and encoder that agree on a wrong mapping still fail.

use std::collections::BTreeSet;

use bytes::Bytes;
use libtest_mimic::{Failed, Trial};
use protocol::headers::Headers;
use protocol::tnetstring::Value;
use protocol::zhttp::{Error, Ext, Id, Limits, Request, Response};
use serde_json::Value as Json;

use crate::support::{check_eq, load, tnet_from_json, trials as load_trials, Case};

pub fn trials() -> Vec<Trial> {
    let mut trials = load_trials("zhttp", run);
    trials.push(Trial::test("zhttp::coverage", || {
        coverage().map_err(Failed::from)
    }));
    trials
}

fn limits(case: &Case) -> Limits {
    let mut limits = Limits::default();
    let Some(l) = case.get("limits") else {
        return limits;
    };
    let n = |json: &Json, key: &str| json.get(key).and_then(Json::as_u64).map(|n| n as usize);
    if let Some(n) = n(l, "max_ids") {
        limits.max_ids = n;
    }
    if let Some(n) = n(l, "max_headers") {
        limits.max_headers = n;
    }
    if let Some(v) = l.get("value") {
        if let Some(n) = n(v, "max_depth") {
            limits.value.max_depth = n;
        }
        if let Some(n) = n(v, "max_size") {
            limits.value.max_size = n;
        }
        if let Some(n) = n(v, "max_items") {
            limits.value.max_items = n;
        }
    }
    limits
}

/// A packet type as the vectors use it.
trait Packet: Sized + PartialEq + std::fmt::Debug {
    fn parse_with(input: &Bytes, limits: &Limits) -> Result<Self, Error>;
    fn to_bytes(&self) -> Bytes;
    fn encoded_len(&self) -> usize;
    /// The JSON spelling of the description, as a tnetstring dict.
    fn spelling(&self) -> Value;
}

impl Packet for Request {
    fn parse_with(input: &Bytes, limits: &Limits) -> Result<Self, Error> {
        Request::parse_with(input, limits)
    }
    fn to_bytes(&self) -> Bytes {
        Request::to_bytes(self)
    }
    fn encoded_len(&self) -> usize {
        Request::encoded_len(self)
    }
    fn spelling(&self) -> Value {
        let mut s = Spelling::default();
        s.bytes("from", self.from.as_ref());
        s.put("id", Some(id(&self.id)));
        s.int("seq", self.seq.map(i64::from));
        s.put("type", packet_type(self.ty));
        s.bytes("condition", condition(self.condition.as_ref()).as_ref());
        s.int("code", self.code.map(i64::from));
        s.bytes("method", self.method.as_ref());
        s.bytes("uri", self.uri.as_ref());
        s.put("headers", headers(&self.headers));
        s.bytes("body", Some(&self.body).filter(|b| !b.is_empty()));
        s.put(
            "content-type",
            self.content_type.map(|c| Value::from(c.as_str())),
        );
        s.flag("more", self.more);
        s.flag("stream", self.stream);
        s.int("credits", self.credits.map(i64::from));
        s.int("max-size", self.max_size.map(i64::from));
        s.int("timeout", self.timeout.map(i64::from));
        s.put("user-data", self.user_data.clone());
        s.bytes("peer-address", self.peer_address.as_ref());
        s.int("peer-port", self.peer_port.map(i64::from));
        s.bytes("connect-host", self.connect_host.as_ref());
        s.int("connect-port", self.connect_port.map(i64::from));
        s.flag("ignore-policies", self.ignore_policies);
        s.flag("trust-connect-host", self.trust_connect_host);
        s.flag("ignore-tls-errors", self.ignore_tls_errors);
        s.flag("follow-redirects", self.follow_redirects);
        s.bytes("client-cert", self.client_cert.as_ref());
        s.bytes("client-key", self.client_key.as_ref());
        s.put("passthrough", self.passthrough.clone());
        s.flag("router-resp", self.router_resp);
        s.put("ext", ext(&self.ext));
        s.into_value()
    }
}

impl Packet for Response {
    fn parse_with(input: &Bytes, limits: &Limits) -> Result<Self, Error> {
        Response::parse_with(input, limits)
    }
    fn to_bytes(&self) -> Bytes {
        Response::to_bytes(self)
    }
    fn encoded_len(&self) -> usize {
        Response::encoded_len(self)
    }
    fn spelling(&self) -> Value {
        let mut s = Spelling::default();
        s.bytes("from", self.from.as_ref());
        s.put("id", Some(id(&self.id)));
        s.int("seq", self.seq.map(i64::from));
        s.put("type", packet_type(self.ty));
        s.bytes("condition", condition(self.condition.as_ref()).as_ref());
        s.int("code", self.code.map(i64::from));
        s.bytes("reason", self.reason.as_ref());
        s.put("headers", headers(&self.headers));
        s.bytes("body", Some(&self.body).filter(|b| !b.is_empty()));
        s.put(
            "content-type",
            self.content_type.map(|c| Value::from(c.as_str())),
        );
        s.flag("more", self.more);
        s.int("credits", self.credits.map(i64::from));
        s.put("user-data", self.user_data.clone());
        s.put("ext", ext(&self.ext));
        s.into_value()
    }
}

/// The set fields of a packet, as a tnetstring dict in the vectors' spelling.
#[derive(Default)]
struct Spelling(Vec<(Bytes, Value)>);

impl Spelling {
    fn put(&mut self, key: &str, value: Option<Value>) {
        if let Some(value) = value {
            self.0.push((Bytes::copy_from_slice(key.as_bytes()), value));
        }
    }
    fn bytes(&mut self, key: &str, value: Option<&Bytes>) {
        self.put(key, value.cloned().map(Value::Bytes));
    }
    fn int(&mut self, key: &str, value: Option<i64>) {
        self.put(key, value.map(Value::Int));
    }
    fn flag(&mut self, key: &str, value: bool) {
        self.put(key, value.then_some(Value::Bool(true)));
    }
    fn into_value(self) -> Value {
        Value::Dict(self.0)
    }
}

fn id(id: &Id) -> Value {
    match id {
        Id::Single(id) => Value::Bytes(id.clone()),
        Id::Multi(entries) => Value::List(
            entries
                .iter()
                .map(|e| {
                    let mut s = Spelling::default();
                    s.bytes("id", Some(&e.id));
                    s.int("seq", e.seq.map(i64::from));
                    s.into_value()
                })
                .collect(),
        ),
    }
}

fn packet_type(ty: protocol::zhttp::PacketType) -> Option<Value> {
    (ty != protocol::zhttp::PacketType::Data).then(|| Value::from(ty.as_str()))
}

fn condition(c: Option<&protocol::zhttp::Condition>) -> Option<Bytes> {
    c.map(|c| Bytes::copy_from_slice(c.as_bytes()))
}

fn headers(headers: &Headers) -> Option<Value> {
    (!headers.is_empty()).then(|| {
        Value::List(
            headers
                .iter()
                .map(|(n, v)| Value::List(vec![Value::Bytes(n.clone()), Value::Bytes(v.clone())]))
                .collect(),
        )
    })
}

fn ext(ext: &Ext) -> Option<Value> {
    let mut s = Spelling::default();
    s.flag("multi", ext.multi);
    s.flag("quiet", ext.quiet);
    (!ext.is_empty()).then(|| s.into_value())
}

/// Top-level keys sorted: the vectors' objects compare without regard to key order.
fn sorted(value: Value) -> Value {
    match value {
        Value::Dict(mut entries) => {
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Dict(entries)
        }
        other => other,
    }
}

fn check_error(case: &Case, kind: &str, e: Error) -> Result<(), String> {
    check_eq("error kind", e.kind(), kind)?;
    if let Some(field) = case.str("field") {
        check_eq("error field", e.field(), Some(field))?;
    }
    if let Some(cause) = case.str("cause") {
        check_eq("error cause", e.cause().map(|c| c.kind()), Some(cause))?;
    }
    Ok(())
}

fn check_value<P: Packet>(case: &Case, decoded: &P) -> Result<(), String> {
    let want = tnet_from_json(
        case.get("value")
            .ok_or("case has neither value nor error")?,
    );
    check_eq("decoded value", sorted(decoded.spelling()), sorted(want))
}

fn run_packet<P: Packet>(case: &Case) -> Result<(), String> {
    let wire = case.wire();
    let decoded = P::parse_with(&wire, &limits(case));
    if let Some(kind) = case.error() {
        return match decoded {
            Ok(p) => Err(format!("decoded {p:?}, want error {kind}")),
            Err(e) => check_error(case, kind, e),
        };
    }
    let decoded = decoded.map_err(|e| format!("decode failed: {e} ({})", e.kind()))?;
    check_value(case, &decoded)?;
    let encoded = decoded.to_bytes();
    let canonical = case.bytes("encoded").unwrap_or_else(|| wire.clone());
    check_eq("encoded bytes", encoded.as_ref(), canonical.as_ref())?;
    if decoded.encoded_len() < encoded.len() {
        return Err(format!(
            "encoded_len {} < {}",
            decoded.encoded_len(),
            encoded.len()
        ));
    }
    let again = P::parse_with(&encoded, &limits(case)).map_err(|e| e.to_string())?;
    check_eq("decode(encode(packet))", &again, &decoded)
}

fn run_addressed(case: &Case) -> Result<(), String> {
    let wire = case.wire();
    let decoded = Response::parse_addressed_with(&wire, &limits(case));
    if let Some(kind) = case.error() {
        return match decoded {
            Ok(p) => Err(format!("decoded {p:?}, want error {kind}")),
            Err(e) => check_error(case, kind, e),
        };
    }
    let (address, decoded) = decoded.map_err(|e| format!("decode failed: {e}"))?;
    let want_address = case.bytes("address").ok_or("case has no address")?;
    check_eq("address", &address, &want_address)?;
    check_value(case, &decoded)?;
    let encoded = decoded
        .to_addressed_bytes(&address)
        .map_err(|e| e.to_string())?;
    let canonical = case.bytes("encoded").unwrap_or_else(|| wire.clone());
    check_eq("encoded bytes", encoded.as_ref(), canonical.as_ref())?;
    let (_, again) = Response::parse_addressed(&encoded).map_err(|e| e.to_string())?;
    check_eq("decode(encode(packet))", &again, &decoded)
}

fn run(case: &Case) -> Result<(), String> {
    match case.str("packet") {
        Some("request") => run_packet::<Request>(case),
        Some("response") => run_packet::<Response>(case),
        Some("addressed_response") => run_addressed(case),
        other => Err(format!("unknown packet {other:?}")),
    }
}

const KINDS: [&str; 10] = [
    "bad_prefix",
    "tnetstring",
    "not_a_dict",
    "wrong_type",
    "bad_value",
    "missing_field",
    "duplicate_field",
    "too_many_ids",
    "too_many_headers",
    "bad_address",
];

const REQUEST_FIELDS: [&str; 30] = [
    "from",
    "id",
    "seq",
    "type",
    "condition",
    "code",
    "method",
    "uri",
    "headers",
    "body",
    "content-type",
    "more",
    "stream",
    "credits",
    "max-size",
    "timeout",
    "user-data",
    "peer-address",
    "peer-port",
    "connect-host",
    "connect-port",
    "ignore-policies",
    "trust-connect-host",
    "ignore-tls-errors",
    "follow-redirects",
    "client-cert",
    "client-key",
    "passthrough",
    "router-resp",
    "ext",
];

const RESPONSE_FIELDS: [&str; 14] = [
    "from",
    "id",
    "seq",
    "type",
    "condition",
    "code",
    "reason",
    "headers",
    "body",
    "content-type",
    "more",
    "credits",
    "user-data",
    "ext",
];

const TYPES: [&str; 9] = [
    "error",
    "credit",
    "keep-alive",
    "cancel",
    "handoff-start",
    "handoff-proceed",
    "close",
    "ping",
    "pong",
];

/// Every error kind, every field (decoded and refused for its type) and every packet type in
/// both directions has a case.
fn coverage() -> Result<(), String> {
    let cases = load("zhttp");
    let mut kinds = BTreeSet::new();
    let mut wrong_type = BTreeSet::new();
    let mut decoded: [BTreeSet<String>; 2] = Default::default();
    let mut types: [BTreeSet<String>; 2] = Default::default();
    for case in &cases {
        let side = usize::from(case.str("packet") != Some("request"));
        if let Some(kind) = case.error() {
            kinds.insert(kind.to_owned());
            if kind == "wrong_type" {
                wrong_type.insert((side, case.str("field").unwrap_or("").to_owned()));
            }
            continue;
        }
        let value = case
            .get("value")
            .and_then(Json::as_object)
            .ok_or("no value")?;
        decoded[side].extend(value.keys().cloned());
        if let Some(ty) = value.get("type").and_then(Json::as_str) {
            types[side].insert(ty.to_owned());
        }
    }
    let mut missing = Vec::new();
    missing.extend(
        KINDS
            .iter()
            .filter(|k| !kinds.contains(**k))
            .map(|k| format!("kind {k}")),
    );
    for (side, fields) in [(0, &REQUEST_FIELDS[..]), (1, &RESPONSE_FIELDS[..])] {
        for field in fields {
            if !decoded[side].contains(*field) {
                missing.push(format!("decoded {field} (side {side})"));
            }
            let open = matches!(*field, "user-data" | "passthrough");
            if !open && !wrong_type.contains(&(side, (*field).to_owned())) {
                missing.push(format!("wrong_type {field} (side {side})"));
            }
        }
        for ty in TYPES {
            if !types[side].contains(ty) {
                missing.push(format!("type {ty} (side {side})"));
            }
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("vectors miss: {}", missing.join(", ")))
    }
}
