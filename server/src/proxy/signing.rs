//! `Grip-Sig` on requests to backends, and recognising trusted upstream proxies (§3.2-3.3).
//!
//! Requests are signed with `sig_key`/`sig_iss`, or with a route's own `sig_key` and `sig_iss`
//! when it sets both (Pushpin ignores one without the other). Tokens expire an hour after they
//! are made; since `exp` has one-second resolution, the token for the default key is made once a
//! second and shared, keeping HMAC off the per-request path.
//!
//! A client whose `Grip-Sig` verifies against `upstream_key` (with `exp` in the future) is a
//! trusted GRIP proxy. An empty `upstream_key` trusts nobody: Pushpin 1.36 treats it as an empty
//! HMAC secret, so anyone can forge trust (a documented bug gripway fixes).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use protocol::sig::{self, Key};
use protocol::Headers;

use crate::config::keys::load_key;
use crate::config::routes::Route;
use crate::config::settings::Proxy;

/// Signs backend requests and checks upstream tokens.
pub struct Signer {
    key: Key,
    iss: String,
    upstream: Key,
    config_dir: PathBuf,
    cached: Mutex<Option<(i64, Arc<str>)>>,
    route_keys: Mutex<HashMap<String, Arc<Key>>>,
}

impl Signer {
    /// A signer for the `[proxy]` settings; keys were validated when the config loaded.
    pub fn new(proxy: &Proxy, config_dir: PathBuf) -> Result<Signer, String> {
        Ok(Signer {
            key: load_key(&proxy.sig_key, &config_dir)?,
            iss: proxy.sig_iss.clone(),
            upstream: load_key(&proxy.upstream_key, &config_dir)?,
            config_dir,
            cached: Mutex::new(None),
            route_keys: Mutex::new(HashMap::new()),
        })
    }

    /// The `Grip-Sig` for a request on `route`, or None when there is no key.
    pub fn token(&self, route: &Route) -> Option<String> {
        let now = unix_now();
        if let (Some(iss), Some(key)) = (&route.sig_iss, &route.sig_key) {
            let key = self.route_key(key)?;
            return sig::sign(&key, iss, now + sig::TOKEN_LIFETIME_SECS).ok();
        }
        if self.key.is_none() {
            return None;
        }
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, token)) = cached.as_ref() {
            if *at == now {
                return Some(token.to_string());
            }
        }
        let token = sig::sign(&self.key, &self.iss, now + sig::TOKEN_LIFETIME_SECS).ok()?;
        *cached = Some((now, Arc::from(token.as_str())));
        Some(token)
    }

    /// True when the request's `Grip-Sig` verifies against `upstream_key`.
    pub fn is_trusted(&self, headers: &Headers) -> bool {
        if self.upstream.is_none() {
            return false;
        }
        headers
            .get("grip-sig")
            .is_some_and(|token| sig::verify(token, &self.upstream, unix_now()).is_ok())
    }

    fn route_key(&self, value: &str) -> Option<Arc<Key>> {
        let mut keys = self.route_keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = keys.get(value) {
            return Some(key.clone());
        }
        match load_key(value, &self.config_dir) {
            Ok(key) => {
                let key = Arc::new(key);
                keys.insert(value.to_owned(), key.clone());
                Some(key)
            }
            Err(e) => {
                tracing::warn!(error = %e, "route sig_key unusable; request sent unsigned");
                None
            }
        }
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::routes::Routes;

    fn proxy(sig_key: &str, upstream_key: &str) -> Proxy {
        let mut p = crate::config::load(&crate::config::Options::default())
            .unwrap()
            .settings
            .proxy;
        p.sig_key = sig_key.into();
        p.upstream_key = upstream_key.into();
        p
    }

    fn route(line: &str) -> Route {
        Routes::parse("r", line).unwrap().routes.remove(0)
    }

    #[test]
    fn signs_with_the_default_or_the_routes_key() {
        let s = Signer::new(&proxy("changeme", ""), PathBuf::new()).unwrap();
        let plain = route("* b:1");
        let token = s.token(&plain).unwrap();
        let claims = sig::verify(token.as_bytes(), &Key::hmac(b"changeme"), unix_now()).unwrap();
        assert_eq!(claims.iss.as_deref(), Some("pushpin"));
        assert_eq!(s.token(&plain).unwrap(), token, "cached within the second");
        let own = route("*,sig_iss=me,sig_key=secret b:1");
        let token = s.token(&own).unwrap();
        assert_eq!(
            sig::verify(token.as_bytes(), &Key::hmac(b"secret"), unix_now())
                .unwrap()
                .iss
                .as_deref(),
            Some("me")
        );
        let half = route("*,sig_key=secret b:1");
        assert!(sig::verify(
            s.token(&half).unwrap().as_bytes(),
            &Key::hmac(b"changeme"),
            unix_now()
        )
        .is_ok());
    }

    #[test]
    fn empty_keys_sign_nothing_and_trust_nobody() {
        let s = Signer::new(&proxy("", ""), PathBuf::new()).unwrap();
        assert!(s.token(&route("* b:1")).is_none());
        // A token made with the empty secret: Pushpin 1.36 trusts it, gripway does not.
        let forged = empty_secret_token();
        let headers: Headers = [("Grip-Sig", forged)].into_iter().collect();
        assert!(!s.is_trusted(&headers));
        // The token is well formed (under another key it fails on its signature, not its
        // syntax), so what refused it above is the empty-key rule.
        assert!(matches!(
            sig::verify(empty_secret_token().as_bytes(), &Key::hmac(b"k"), 0),
            Err(e) if e.kind() == "bad_signature"
        ));
    }

    #[test]
    fn upstream_tokens_are_checked() {
        let s = Signer::new(&proxy("changeme", "upkey"), PathBuf::new()).unwrap();
        let good = sig::sign(&Key::hmac(b"upkey"), "edge", unix_now() + 60).unwrap();
        let bad = sig::sign(&Key::hmac(b"other"), "edge", unix_now() + 60).unwrap();
        let expired = sig::sign(&Key::hmac(b"upkey"), "edge", unix_now() - 1).unwrap();
        let with = |t: String| -> Headers { [("Grip-Sig", t)].into_iter().collect() };
        assert!(s.is_trusted(&with(good)));
        assert!(!s.is_trusted(&with(bad)));
        assert!(!s.is_trusted(&with(expired)));
        assert!(!s.is_trusted(&Headers::new()));
    }

    /// HS256 over `{"exp":4102444800,"iss":"x"}` with the empty secret (computed with Python's
    /// hmac module): the token Pushpin 1.36 accepts when `upstream_key` is empty.
    fn empty_secret_token() -> String {
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDAsImlzcyI6IngifQ.Pplx2Cv0K-CEJhfuLwj0Pc45njgkAEDTbXnvGRLx5xo".to_owned()
    }
}
