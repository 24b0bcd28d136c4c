//! Reading `Grip-Sig` keys from configuration strings (§3.2): inline, `base64:` or `file:` PEM.
//!
//! `file:` paths are relative to the config file's folder, as in Pushpin. This is the one place
//! a key file is read.

use std::path::Path;

use protocol::sig::{Key, KeyConfig};

/// Turns a key setting into a key; an empty setting is no key.
pub fn load_key(value: &str, config_dir: &Path) -> Result<Key, String> {
    match KeyConfig::parse(value).map_err(|e| e.to_string())? {
        KeyConfig::Key(key) => Ok(key),
        KeyConfig::File(path) => {
            let path = config_dir.join(path);
            let pem = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            Key::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))
        }
    }
}
