//! TLS identities for the `https_ports` listeners: PEM certificate and key pairs in
//! `<config dir>/runner/certs` (§9), as Pushpin's condure reads them.
//!
//! Each identity is a pair of files named `<name>.crt` (the certificate chain, leaf first) and
//! `<name>.key` (its private key: PKCS#8, PKCS#1 RSA or SEC1 EC). A listener on port `P` uses
//! `default_P` unless the client's SNI names another identity (`example.com.crt` serves
//! `example.com`). Observed in Pushpin 1.36: the same names and formats, and a new pair put in
//! place is used without a restart.
//!
//! Differences from Pushpin, on purpose: Pushpin reads a pair when a handshake asks for it, so a
//! missing or broken `default_P` only shows as failing handshakes. gripway reads every pair at
//! start-up and refuses to start when a port's default identity is missing or any pair is
//! broken, naming the file. Changes are picked up by polling ([`crate::config::reload`]); a set
//! that no longer loads is reported and the previous one stays in use.
//!
//! This is the one place certificate files are read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::error::ConfigError;

/// Certificate and key files larger than this are refused (a chain is a few KiB).
const MAX_PEM_SIZE: u64 = 1024 * 1024;

/// The folder identities are read from, for a config file in `config_dir`.
pub fn certs_dir(config_dir: &Path) -> PathBuf {
    config_dir.join("runner").join("certs")
}

/// The identity a listener on `port` serves when SNI names no other.
pub fn default_name(port: u16) -> String {
    format!("default_{port}")
}

/// Why an identity could not be loaded. Each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// A file could not be read (missing, unreadable, too large).
    #[error("{}: {message}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A file is not the PEM it should be.
    #[error("{}: {message}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The key does not belong to the certificate, or rustls cannot use it.
    #[error("{}: {message}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

impl CertError {
    /// The file at fault.
    pub fn path(&self) -> &Path {
        match self {
            CertError::Read { path, .. }
            | CertError::Pem { path, .. }
            | CertError::Key { path, .. } => path,
        }
    }
}

impl From<CertError> for ConfigError {
    fn from(e: CertError) -> Self {
        let file = e.path().display().to_string();
        let message = match e {
            CertError::Read { message, .. }
            | CertError::Pem { message, .. }
            | CertError::Key { message, .. } => message,
        };
        ConfigError::file(&file, format!("TLS identity: {message}"))
    }
}

/// The crypto provider TLS uses: ring (aws-lc-rs would need cmake and a C toolchain to build).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A loaded set of identities, by name in lower case.
#[derive(Clone, Debug, Default)]
pub struct Certs {
    by_name: HashMap<String, Arc<CertifiedKey>>,
}

impl Certs {
    /// Reads every pair in `dir`. Each name in `required` must be present. A `.crt` without a
    /// `.key` is not an identity (a CA bundle kept alongside, say) and is skipped with a warning,
    /// returned for the caller to log.
    pub fn load(dir: &Path, required: &[String]) -> Result<(Certs, Vec<String>), Vec<CertError>> {
        let provider = provider();
        let mut by_name = HashMap::new();
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        for name in required {
            match load_pair(dir, name, &provider) {
                Ok(key) => {
                    by_name.insert(name.to_ascii_lowercase(), key);
                }
                Err(e) => errors.push(e),
            }
        }
        // A missing folder was reported above through the required pairs; with none
        // required, no folder is no identities.
        let names = crt_names(dir).unwrap_or_default();
        for name in names {
            let lower = name.to_ascii_lowercase();
            if by_name.contains_key(&lower) || required.contains(&name) {
                continue;
            }
            let key_path = dir.join(format!("{name}.key"));
            if !key_path.exists() {
                warnings.push(format!(
                    "{}: no {name}.key beside it, so it is not used as a TLS identity",
                    dir.join(format!("{name}.crt")).display()
                ));
                continue;
            }
            match load_pair(dir, &name, &provider) {
                Ok(key) => {
                    by_name.insert(lower, key);
                }
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok((Certs { by_name }, warnings))
        } else {
            Err(errors)
        }
    }

    /// The identity named `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&Arc<CertifiedKey>> {
        match self.by_name.get(name) {
            Some(key) => Some(key),
            None => self.by_name.get(&name.to_ascii_lowercase()),
        }
    }

    /// How many identities are loaded.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// No identity is loaded.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// What the identity files in `dir` look like now (names, sizes, times), to notice changes.
pub fn stamp(dir: &Path) -> Vec<(String, u64, Option<std::time::SystemTime>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<_> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if !(name.ends_with(".crt") || name.ends_with(".key")) {
                return None;
            }
            // Follow symlinks: certbot-style setups link to the live files.
            let meta = std::fs::metadata(e.path()).ok()?;
            Some((name, meta.len(), meta.modified().ok()))
        })
        .collect();
    out.sort();
    out
}

/// The names of the `.crt` files in `dir`, sorted.
fn crt_names(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".crt"))
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    Ok(names)
}

fn load_pair(
    dir: &Path,
    name: &str,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, CertError> {
    let crt_path = dir.join(format!("{name}.crt"));
    let key_path = dir.join(format!("{name}.key"));
    let crt = read(&crt_path)?;
    let chain = CertificateDer::pem_slice_iter(&crt)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertError::Pem {
            path: crt_path.clone(),
            message: format!("not a PEM certificate chain: {}", pem_error(&e)),
        })?;
    if chain.is_empty() {
        return Err(CertError::Pem {
            path: crt_path,
            message: "no certificate in it (expected -----BEGIN CERTIFICATE-----)".into(),
        });
    }
    let key = read(&key_path)?;
    let key = PrivateKeyDer::from_pem_slice(&key).map_err(|e| CertError::Pem {
        path: key_path.clone(),
        message: format!(
            "no PEM private key in it (PKCS#8, PKCS#1 or SEC1): {}",
            pem_error(&e)
        ),
    })?;
    let certified = CertifiedKey::from_der(chain, key, provider).map_err(|e| CertError::Key {
        path: key_path,
        message: match e {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                format!("not the private key of the certificate in {name}.crt")
            }
            other => format!("unusable with {name}.crt: {other}"),
        },
    })?;
    Ok(Arc::new(certified))
}

/// A PEM error in words: the library's own text shows marker lines as lists of byte values.
fn pem_error(e: &rustls_pki_types::pem::Error) -> String {
    use rustls_pki_types::pem::Error;
    match e {
        Error::MissingSectionEnd { end_marker } => format!(
            "a section has no -----END {}----- line",
            String::from_utf8_lossy(end_marker)
        ),
        Error::IllegalSectionStart { line } => {
            format!("bad section start: {}", String::from_utf8_lossy(line))
        }
        Error::NoItemsFound => "nothing of the expected kind".into(),
        other => other.to_string(),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, CertError> {
    let fail = |message: String| CertError::Read {
        path: path.to_path_buf(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    if meta.len() > MAX_PEM_SIZE {
        return Err(fail("file is larger than 1 MiB".into()));
    }
    std::fs::read(path).map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh, empty folder for one test.
    fn folder(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gripway-certs-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Writes a self-signed pair `<name>.crt` / `<name>.key` for `host`.
    fn write_pair(dir: &Path, name: &str, host: &str) {
        let made = rcgen::generate_simple_self_signed(vec![host.to_owned()]).unwrap();
        std::fs::write(dir.join(format!("{name}.crt")), made.cert.pem()).unwrap();
        std::fs::write(
            dir.join(format!("{name}.key")),
            made.key_pair.serialize_pem(),
        )
        .unwrap();
    }

    fn messages(errors: Vec<CertError>) -> Vec<String> {
        errors.into_iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn loads_the_default_and_host_named_pairs() {
        let dir = folder("load");
        write_pair(&dir, "default_8443", "localhost");
        write_pair(&dir, "Example.COM", "example.com");
        std::fs::write(dir.join("README"), "not a cert").unwrap();
        std::fs::write(dir.join("ca-bundle.crt"), "kept alongside").unwrap();
        let (certs, warnings) = Certs::load(&dir, &["default_8443".into()]).unwrap();
        assert_eq!(certs.len(), 2);
        assert!(certs.get("default_8443").is_some());
        assert!(
            certs.get("example.com").is_some(),
            "names are case-insensitive"
        );
        assert!(certs.get("EXAMPLE.com").is_some());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("ca-bundle.crt"), "{warnings:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_default_names_the_file() {
        let dir = folder("missing");
        let errors = messages(Certs::load(&dir, &["default_443".into()]).unwrap_err());
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with(&format!("{}/default_443.crt: ", dir.display())),
            "{errors:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn broken_files_are_errors_naming_them() {
        let dir = folder("broken");
        write_pair(&dir, "default_443", "localhost");
        std::fs::write(dir.join("default_443.crt"), "-----BEGIN NOTHING-----\n").unwrap();
        write_pair(&dir, "a.example", "a.example");
        write_pair(&dir, "b.example", "b.example");
        // a.example's key belongs to b.example's certificate.
        std::fs::copy(dir.join("b.example.key"), dir.join("a.example.key")).unwrap();
        let errors = messages(Certs::load(&dir, &["default_443".into()]).unwrap_err());
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].ends_with(
                "default_443.crt: not a PEM certificate chain: a section has no -----END NOTHING----- line"
            ),
            "{errors:?}"
        );
        assert!(
            errors[1].ends_with(
                "a.example.key: not the private key of the certificate in a.example.crt"
            ),
            "{errors:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stamp_changes_when_a_pair_is_replaced() {
        let dir = folder("stamp");
        write_pair(&dir, "default_443", "localhost");
        let before = stamp(&dir);
        assert_eq!(before.len(), 2);
        std::thread::sleep(std::time::Duration::from_millis(20));
        write_pair(&dir, "default_443", "renewed.example");
        assert_ne!(stamp(&dir), before);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
