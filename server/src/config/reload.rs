//! Reloading the routes file when it changes (Pushpin reloads about a second after a change),
//! and the TLS identities when a file in the certs folder changes (a renewed certificate is
//! used without a restart, as in Pushpin).
//!
//! The files' modification times and lengths are checked once a second; when one changes the
//! files are read again. Files that no longer load are reported and the old routes or
//! identities stay in force, so a half-saved edit never takes them away. Open connections are
//! untouched: only new requests (new handshakes) see the change.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::certs::{self, Certs};
use super::{load_routes, Routes, RoutesSource};

/// How often the file is checked.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Calls `apply` with the new routes each time the file at `path` changes and still parses,
/// until `apply` returns false.
pub async fn watch_routes(path: PathBuf, mut apply: impl FnMut(Routes) -> bool) {
    let mut last = stamp(&path);
    let source = RoutesSource::File(path.clone());
    loop {
        tokio::time::sleep(POLL_INTERVAL).await;
        let now = stamp(&path);
        if now == last {
            continue;
        }
        last = now;
        match load_routes(&source, &[]) {
            Ok(routes) => {
                for w in &routes.warnings {
                    tracing::warn!("{w}");
                }
                tracing::info!(file = %path.display(), routes = routes.routes.len(), "routes reloaded");
                if !apply(routes) {
                    return;
                }
            }
            Err(errors) => {
                tracing::error!(file = %path.display(), "routes not reloaded, keeping the previous ones:\n{errors}");
            }
        }
    }
}

/// Calls `apply` with the new identities each time a `.crt` or `.key` file in `dir` changes and
/// the set still loads with every name in `required`, until `apply` returns false.
pub async fn watch_certs(
    dir: PathBuf,
    required: Vec<String>,
    mut apply: impl FnMut(Certs) -> bool,
) {
    let mut last = certs::stamp(&dir);
    loop {
        tokio::time::sleep(POLL_INTERVAL).await;
        let now = certs::stamp(&dir);
        if now == last {
            continue;
        }
        last = now;
        match Certs::load(&dir, &required) {
            Ok((certs, warnings)) => {
                for w in &warnings {
                    tracing::warn!("{w}");
                }
                tracing::info!(dir = %dir.display(), identities = certs.len(), "TLS identities reloaded");
                if !apply(certs) {
                    return;
                }
            }
            Err(errors) => {
                let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
                tracing::error!(
                    dir = %dir.display(),
                    "TLS identities not reloaded, keeping the previous ones:\n{}",
                    errors.join("\n")
                );
            }
        }
    }
}

fn stamp(path: &PathBuf) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}
