//! `vectors/tnetstring.json`: decode, compare with the JSON spelling, encode, decode again.

use protocol::tnetstring::{Limits, Value};

use crate::support::{check_eq, tnet_from_json, trials as load_trials, Case};

pub fn trials() -> Vec<libtest_mimic::Trial> {
    load_trials("tnetstring", run)
}

fn limits(case: &Case) -> Limits {
    let mut limits = Limits::default();
    if let Some(l) = case.get("limits") {
        if let Some(n) = l.get("max_depth").and_then(|n| n.as_u64()) {
            limits.max_depth = n as usize;
        }
        if let Some(n) = l.get("max_size").and_then(|n| n.as_u64()) {
            limits.max_size = n as usize;
        }
        if let Some(n) = l.get("max_items").and_then(|n| n.as_u64()) {
            limits.max_items = n as usize;
        }
    }
    limits
}

fn run(case: &Case) -> Result<(), String> {
    let wire = case.wire();
    let decoded = Value::decode_with(&wire, &limits(case));
    if let Some(kind) = case.error() {
        return match decoded {
            Ok(v) => Err(format!("decoded {v:?}, want error {kind}")),
            Err(e) => check_eq("error kind", e.kind(), kind),
        };
    }
    let decoded = decoded.map_err(|e| format!("decode failed: {e}"))?;
    let want = tnet_from_json(
        case.get("value")
            .ok_or("case has neither value nor error")?,
    );
    check_eq("decoded value", &decoded, &want)?;

    // Our encoding: the wire itself, unless the case names the canonical form we write instead.
    let encoded = decoded.to_bytes();
    let canonical = case.bytes("encoded").unwrap_or_else(|| wire.clone());
    check_eq("encoded bytes", encoded.as_ref(), canonical.as_ref())?;
    check_eq(
        "decode(encode(value))",
        &Value::decode(&encoded).map_err(|e| e.to_string())?,
        &decoded,
    )
}
