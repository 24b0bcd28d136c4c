//! `vectors/grip.json`: GRIP instructions and the header-parameter syntax. The file's
//! `description` defines each field; in short, a case parses a backend `response`, a parameter
//! list (`params_list`, `params_item`, `split_list`) or renders one value (`render_value`).
//!
//! Every parsed `Instruct` is also rendered in both forms and parsed again.

use bytes::{Bytes, BytesMut};
use protocol::grip::params::{self, Item, Param};
use protocol::grip::{is_grip, HoldMode, Instruct, KeepAliveMode, Limits, Response};
use protocol::Headers;
use serde_json::{json, Value as Json};

use crate::support::{check_eq, from_hex, to_hex, trials as load_trials, Case};

pub fn trials() -> Vec<libtest_mimic::Trial> {
    load_trials("grip", run)
}

fn run(case: &Case) -> Result<(), String> {
    if let Some(input) = case.get("response") {
        return run_response(case, input);
    }
    if let Some(text) = case.str("params_list") {
        let got = params::parse_list(&text_bytes(text), &limits(case).params);
        return check_params(
            case,
            got.map(|items| json!(items.iter().map(item_json).collect::<Vec<_>>())),
            |v| {
                let items: Vec<Item> = v.as_array().unwrap().iter().map(item_from_json).collect();
                params::render_list(&items)
            },
        );
    }
    if let Some(text) = case.str("params_item") {
        let got = params::parse_item(&text_bytes(text), &limits(case).params);
        return check_params(case, got.map(|item| item_json(&item)), |v| {
            params::render_item(&item_from_json(v))
        });
    }
    if let Some(text) = case.str("split_list") {
        let got = params::split_list(&text_bytes(text), &limits(case).params);
        return check_params(
            case,
            got.map(|items| json!(items.iter().map(bytes_json).collect::<Vec<_>>())),
            |_| unreachable!("split_list has no renderer"),
        );
    }
    if let Some(value) = case.get("render_value") {
        let mut out = BytesMut::new();
        let got = params::render_value(&bytes_from_json(value), &mut out).map(|()| out.freeze());
        return match (got, case.error()) {
            (Err(e), Some(kind)) => check_eq("error kind", e.kind(), kind),
            (Ok(b), Some(kind)) => Err(format!("rendered {b:?}, want error {kind}")),
            (Err(e), None) => Err(format!("render failed: {e}")),
            (Ok(b), None) => check_eq("encoded", &b[..], case.str("encoded").unwrap().as_bytes()),
        };
    }
    Err("case has no input field".into())
}

// === responses ===

fn run_response(case: &Case, input: &Json) -> Result<(), String> {
    let response = response_from_json(input);
    if let Some(want) = case.get("is_grip").and_then(Json::as_bool) {
        check_eq("is_grip", is_grip(&response.headers), want)?;
    }
    let parsed = Instruct::parse_with(response, &limits(case));
    if let Some(kind) = case.error() {
        let e = match parsed {
            Ok(v) => return Err(format!("parsed {:#}, want error {kind}", instruct_json(&v))),
            Err(e) => e,
        };
        check_eq("error kind", e.kind(), kind)?;
        if let Some(message) = case.str("message") {
            check_eq("message", e.to_string().as_str(), message)?;
        }
        return Ok(());
    }
    let Some(want) = case.get("value") else {
        return Ok(()); // an is_grip-only case
    };
    let parsed = parsed.map_err(|e| format!("parse failed: {e} ({})", e.kind()))?;
    check_eq("value", &instruct_json(&parsed), &canonical(want))?;
    check_rendering(case, &parsed)?;
    round_trip(&parsed)
}

fn check_rendering(case: &Case, parsed: &Instruct) -> Result<(), String> {
    if let Some(want) = case.get("rendered_headers") {
        let headers = parsed.grip_headers().map_err(|e| e.to_string())?;
        check_eq(
            "rendered headers",
            &headers_json(&headers),
            &canonical(want),
        )?;
    }
    if let Some(kind) = case.str("rendered_headers_error") {
        match parsed.grip_headers() {
            Ok(h) => return Err(format!("rendered {h:?}, want error {kind}")),
            Err(e) => check_eq("render error kind", e.kind(), kind)?,
        }
    }
    if let Some(want) = case.str("rendered_json") {
        check_eq(
            "rendered json",
            parsed.to_json().map_err(|e| e.to_string())?.as_str(),
            want,
        )?;
    }
    Ok(())
}

/// Both renderings, when they succeed, must parse back to the same value.
fn round_trip(parsed: &Instruct) -> Result<(), String> {
    for (form, rendered) in [
        ("headers", parsed.to_response()),
        ("json", parsed.to_json_response()),
    ] {
        let Ok(rendered) = rendered else { continue };
        let back = Instruct::parse(rendered)
            .map_err(|e| format!("{form} form does not parse back: {e}"))?;
        check_eq(
            &format!("{form} round trip"),
            &instruct_json(&back),
            &instruct_json(parsed),
        )?;
    }
    Ok(())
}

fn limits(case: &Case) -> Limits {
    let mut limits = Limits::default();
    let Some(given) = case.get("limits").and_then(Json::as_object) else {
        return limits;
    };
    for (name, n) in given {
        let n = n.as_u64().unwrap() as usize;
        match name.as_str() {
            "max_items" => limits.params.max_items = n,
            "max_params" => limits.params.max_params = n,
            "max_channels" => limits.max_channels = n,
            "max_filters" => limits.max_filters = n,
            "max_meta" => limits.max_meta = n,
            "max_headers" => limits.max_headers = n,
            "max_json_body" => limits.max_json_body = n,
            other => panic!("unknown limit {other}"),
        }
    }
    limits
}

// === params ===

fn check_params(
    case: &Case,
    got: Result<Json, params::Error>,
    render: impl Fn(&Json) -> Result<Bytes, params::Error>,
) -> Result<(), String> {
    let got = match (got, case.error()) {
        (Err(e), Some(kind)) => return check_eq("error kind", e.kind(), kind),
        (Ok(v), Some(kind)) => return Err(format!("parsed {v}, want error {kind}")),
        (Err(e), None) => return Err(format!("parse failed: {e}")),
        (Ok(v), None) => v,
    };
    check_eq("value", &got, &canonical(case.get("value").unwrap()))?;
    if let Some(want) = case.str("encoded") {
        let encoded = render(&got).map_err(|e| format!("render failed: {e}"))?;
        check_eq("encoded", &encoded[..], want.as_bytes())?;
    }
    Ok(())
}

fn item_json(item: &Item) -> Json {
    let params: Vec<Json> = item
        .params
        .iter()
        .map(|p| json!([bytes_json(&p.name), p.value.as_ref().map(bytes_json)]))
        .collect();
    json!({"value": bytes_json(&item.value), "params": params})
}

fn item_from_json(json: &Json) -> Item {
    let params = json["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Param {
            name: bytes_from_json(&p[0]),
            value: (!p[1].is_null()).then(|| bytes_from_json(&p[1])),
        })
        .collect();
    Item {
        value: bytes_from_json(&json["value"]),
        params,
    }
}

// === JSON spelling ===

fn text_bytes(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

/// Bytes from a JSON string (UTF-8 text) or `{"$hex": …}`.
fn bytes_from_json(json: &Json) -> Bytes {
    match json {
        Json::String(s) => text_bytes(s),
        Json::Object(o) => Bytes::from(from_hex(o["$hex"].as_str().unwrap())),
        other => panic!("not a byte string: {other}"),
    }
}

/// `json` with every `{"$hex": …}` that holds UTF-8 written as a string, the spelling
/// [`bytes_json`] produces: both spellings mean the same bytes.
fn canonical(json: &Json) -> Json {
    match json {
        Json::Array(items) => Json::Array(items.iter().map(canonical).collect()),
        Json::Object(o) if o.len() == 1 && o.contains_key("$hex") => {
            bytes_json(&bytes_from_json(json))
        }
        Json::Object(o) => Json::Object(o.iter().map(|(k, v)| (k.clone(), canonical(v))).collect()),
        other => other.clone(),
    }
}

/// The inverse of [`bytes_from_json`]: text when UTF-8, else `$hex`.
fn bytes_json(bytes: &Bytes) -> Json {
    match std::str::from_utf8(bytes) {
        Ok(s) => json!(s),
        Err(_) => json!({"$hex": to_hex(bytes)}),
    }
}

fn response_from_json(json: &Json) -> Response {
    let headers: Headers = json
        .get("headers")
        .and_then(Json::as_array)
        .map(|pairs| {
            pairs
                .iter()
                .map(|p| (bytes_from_json(&p[0]), bytes_from_json(&p[1])))
                .collect()
        })
        .unwrap_or_default();
    Response {
        code: json.get("code").map_or(200, |c| c.as_u64().unwrap() as u16),
        reason: json.get("reason").map_or(text_bytes("OK"), bytes_from_json),
        headers,
        body: json.get("body").map_or(Bytes::new(), bytes_from_json),
    }
}

fn headers_json(headers: &Headers) -> Json {
    json!(headers
        .iter()
        .map(|(n, v)| json!([bytes_json(n), bytes_json(v)]))
        .collect::<Vec<_>>())
}

fn instruct_json(i: &Instruct) -> Json {
    let hold = i.hold.map(|mode| match mode {
        HoldMode::Response => "response",
        HoldMode::Stream => "stream",
    });
    let channels: Vec<Json> = i
        .channels
        .iter()
        .map(|c| json!({"name": c.name, "prev_id": c.prev_id, "filters": c.filters}))
        .collect();
    let keep_alive = i.keep_alive.as_ref().map(|ka| {
        let mode = match ka.mode {
            KeepAliveMode::Idle => "idle",
            KeepAliveMode::Interval => "interval",
        };
        json!({"data": bytes_json(&ka.data), "timeout": ka.timeout, "mode": mode})
    });
    let next_link = i
        .next_link
        .as_ref()
        .map(|l| json!({"uri": l.uri, "timeout": l.timeout}));
    json!({
        "hold": hold,
        "channels": channels,
        "timeout": i.timeout,
        "keep_alive": keep_alive,
        "meta": i.meta.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        "next_link": next_link,
        "gone_link": i.gone_link,
        "response": {
            "code": i.response.code,
            "reason": bytes_json(&i.response.reason),
            "headers": headers_json(&i.response.headers),
            "body": bytes_json(&i.response.body),
        },
    })
}
