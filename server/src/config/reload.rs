//! Reloading the routes file when it changes (Pushpin reloads about a second after a change).
//!
//! The file's modification time and length are checked once a second; when either changes the
//! file is parsed again. A file that no longer parses is reported and the old routes stay in
//! force, so a half-saved edit never takes routes away. Open connections are untouched: only new
//! requests see the new table.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

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

fn stamp(path: &PathBuf) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}
