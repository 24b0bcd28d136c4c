//! `vectors/sig.json`: Grip-Sig keys from config strings and PEM, exact signed tokens, and
//! verification at a fixed `now`.

use protocol::sig::{self, Claims, Key, KeyConfig};
use serde_json::{json, Value as Json};

use crate::support::{check_eq, trials as load_trials, Case};

pub fn trials() -> Vec<libtest_mimic::Trial> {
    load_trials("sig", |case| match case.str("op") {
        Some("key") => run_key(case),
        Some("sign") => run_sign(case),
        Some("verify") => run_verify(case),
        other => Err(format!("unknown op {other:?}")),
    })
}

/// The case's key: `key` (a config string) or `key_pem`.
fn key(case: &Case) -> Result<KeyConfig, sig::Error> {
    if let Some(pem) = case.str("key_pem") {
        return Key::from_pem(pem.as_bytes()).map(KeyConfig::Key);
    }
    KeyConfig::parse(case.str("key").expect("case has key or key_pem"))
}

/// The case's key, failing the case if it is an error or a file.
fn usable_key(case: &Case) -> Result<Key, String> {
    match key(case) {
        Ok(KeyConfig::Key(key)) => Ok(key),
        Ok(KeyConfig::File(path)) => Err(format!("key is a file ({path})")),
        Err(e) => Err(format!("key failed: {e}")),
    }
}

fn run_key(case: &Case) -> Result<(), String> {
    let got = key(case).map(|config| match config {
        KeyConfig::File(path) => json!({ "file": path }),
        KeyConfig::Key(key) => json!({
            "algorithm": key.algorithm().map(|a| a.as_str()),
            "can_sign": key.can_sign(),
            "can_verify": key.can_verify(),
        }),
    });
    match case.error() {
        Some(kind) => check_eq("error kind", got.map_err(|e| e.kind()), Err(kind)),
        None => check_eq(
            "key",
            got.map_err(|e| e.kind()),
            Ok(case.get("value").cloned().unwrap()),
        ),
    }
}

fn run_sign(case: &Case) -> Result<(), String> {
    let key = usable_key(case)?;
    let iss = case.str("iss").expect("iss");
    let exp = case.get("exp").and_then(Json::as_i64).expect("exp");
    let token = sig::sign(&key, iss, exp);
    if let Some(kind) = case.error() {
        return check_eq("error kind", token.map_err(|e| e.kind()), Err(kind));
    }
    let token = token.map_err(|e| format!("sign failed: {e}"))?;
    check_eq("token", token.as_bytes(), case.wire().as_ref())?;
    if key.can_verify() {
        let claims = sig::verify(token.as_bytes(), &key, exp - 1);
        let want = Claims {
            exp,
            iss: Some(iss.to_owned()),
        };
        check_eq("verify(sign(claims))", claims, Ok(want))?;
    }
    Ok(())
}

fn run_verify(case: &Case) -> Result<(), String> {
    let key = usable_key(case)?;
    let now = case.get("now").and_then(Json::as_i64).expect("now");
    let got = sig::verify(&case.wire(), &key, now);
    if let Some(kind) = case.error() {
        return check_eq("error kind", got.map_err(|e| e.kind()), Err(kind));
    }
    let value = case.get("value").expect("value or error");
    let want = Claims {
        exp: value["exp"].as_i64().expect("exp"),
        iss: value["iss"].as_str().map(str::to_owned),
    };
    check_eq("claims", got, Ok(want))
}
