//! Configuration: `pushpin.conf` (§9) and the routes file (§8), parsed into typed, validated values.
//!
//! This is the only module that reads configuration files; everything below receives the typed
//! values. [`load`] gathers every error from both files (with file and line) before failing, so an
//! operator sees all mistakes at once. Warnings (unknown keys and options) are returned for the
//! caller to log.

pub mod certs;
mod error;
mod ini;
pub mod keys;
pub mod reload;
pub mod routes;
pub mod settings;

use std::path::{Path, PathBuf};

pub use self::error::{ConfigError, ConfigErrors};
pub use self::routes::Routes;
pub use self::settings::Settings;

/// The embedded configuration used when no `--config` is given.
pub const DEFAULT_CONFIG: &str = include_str!("default.conf");
/// The routes used when neither `--route` nor a routes file is given: Pushpin's `test` backend.
pub const DEFAULT_ROUTES: &str = "* test\n";

/// What the command line says about configuration.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--config FILE`; None = the embedded default.
    pub config: Option<PathBuf>,
    /// `--route LINE` (repeatable): replaces the routes file.
    pub routes: Vec<String>,
    /// `--port PORT`: replaces `http_port`.
    pub port: Option<u16>,
}

/// Where the routes came from, so a file can be watched and reloaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoutesSource {
    /// The built-in `* test`.
    Default,
    /// `--route` lines.
    CommandLine,
    /// A routes file, reloaded when it changes.
    File(PathBuf),
}

/// A loaded configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The `pushpin.conf` settings.
    pub settings: Settings,
    /// The routing table.
    pub routes: Routes,
    /// Where the routes came from.
    pub routes_source: RoutesSource,
    /// Things that were ignored; the caller logs them as warnings.
    pub warnings: Vec<String>,
    /// Pushpin keys gripway does not use; the caller logs them at debug level.
    pub unused: Vec<String>,
    /// The config file's folder: `file:` keys and the routes file are relative to it.
    pub config_dir: PathBuf,
    /// The TLS identities, loaded when there are `https_ports` listeners.
    pub certs: Option<certs::Certs>,
}

/// Loads the configuration named by `options`.
pub fn load(options: &Options) -> Result<Config, ConfigErrors> {
    let (name, text) = match &options.config {
        Some(path) => (path.display().to_string(), read_file(path)?),
        None => (
            "<embedded default config>".to_owned(),
            DEFAULT_CONFIG.to_owned(),
        ),
    };
    let config_dir = options
        .config
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let settings::Parsed {
        mut settings,
        mut errors,
        unknown,
        unused,
    } = Settings::parse(&name, &text).map_err(ConfigErrors)?;
    if let Some(port) = options.port {
        settings.runner.http_listeners = vec![std::net::SocketAddr::from(([0, 0, 0, 0], port))];
    }
    let mut warnings: Vec<String> = unknown
        .into_iter()
        .map(|k| format!("{k}: unknown key ignored"))
        .collect();

    let routes_source = if !options.routes.is_empty() {
        RoutesSource::CommandLine
    } else if let Some(file) = &settings.proxy.routesfile {
        RoutesSource::File(config_dir.join(file))
    } else {
        RoutesSource::Default
    };
    let routes = match load_routes(&routes_source, &options.routes) {
        Ok(routes) => routes,
        Err(mut e) => {
            errors.append(&mut e.0);
            Routes::default()
        }
    };
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    warnings.extend(routes.warnings.iter().cloned());
    for (key, value) in [
        ("sig_key", &settings.proxy.sig_key),
        ("upstream_key", &settings.proxy.upstream_key),
    ] {
        if let Err(e) = keys::load_key(value, &config_dir) {
            errors.push(ConfigError::file(&name, format!("[proxy] {key}: {e}")));
        }
    }
    let certs = if settings.runner.https_listeners.is_empty() {
        None
    } else {
        let required = https_identities(&settings);
        match certs::Certs::load(&certs::certs_dir(&config_dir), &required) {
            Ok((certs, cert_warnings)) => {
                warnings.extend(cert_warnings);
                Some(certs)
            }
            Err(cert_errors) => {
                errors.extend(cert_errors.into_iter().map(ConfigError::from));
                None
            }
        }
    };
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    Ok(Config {
        settings,
        routes,
        routes_source,
        warnings,
        unused,
        config_dir,
        certs,
    })
}

/// The identities the `https_ports` listeners need: `default_<port>` for each port.
pub fn https_identities(settings: &Settings) -> Vec<String> {
    let mut names: Vec<String> = settings
        .runner
        .https_listeners
        .iter()
        .map(|addr| certs::default_name(addr.port()))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Reads the routes again (for reloads): from the same source as at start.
pub fn load_routes(source: &RoutesSource, lines: &[String]) -> Result<Routes, ConfigErrors> {
    match source {
        RoutesSource::Default => Routes::parse("<default routes>", DEFAULT_ROUTES),
        RoutesSource::CommandLine => Routes::parse("--route", &lines.join("\n")),
        RoutesSource::File(path) => {
            let text = read_file(path)?;
            Routes::parse(&path.display().to_string(), &text)
        }
    }
    .map_err(ConfigErrors)
}

fn read_file(path: &Path) -> Result<String, ConfigErrors> {
    let name = path.display().to_string();
    let fail = |message: String| ConfigErrors(vec![ConfigError::file(&name, message)]);
    let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    if meta.len() > ini::MAX_FILE_SIZE as u64 {
        return Err(fail("file is larger than 1 MiB".into()));
    }
    std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_loads_without_warnings() {
        let c = load(&Options::default()).unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!(c.routes_source, RoutesSource::Default);
        assert_eq!(c.routes.routes.len(), 1);
        assert_eq!(c.settings.runner.http_listeners[0].port(), 7999);
        assert_eq!(
            c.settings.handler.push_in_http.unwrap().to_string(),
            "127.0.0.1:5561"
        );
    }

    #[test]
    fn command_line_routes_and_port_win() {
        let c = load(&Options {
            routes: vec!["* 127.0.0.1:8080".into()],
            port: Some(9000),
            ..Options::default()
        })
        .unwrap();
        assert_eq!(c.routes_source, RoutesSource::CommandLine);
        assert_eq!(c.settings.runner.http_listeners[0].port(), 9000);
    }

    #[test]
    fn errors_from_both_files_are_reported_together() {
        let dir = std::env::temp_dir().join(format!("gripway-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("pushpin.conf"),
            "[proxy]\nroutesfile=routes\ndebug=maybe\n",
        )
        .unwrap();
        std::fs::write(dir.join("routes"), "* nowhere\n").unwrap();
        let errors = load(&Options {
            config: Some(dir.join("pushpin.conf")),
            ..Options::default()
        })
        .unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(errors.0.len(), 2, "{errors}");
        assert!(errors.0[0]
            .to_string()
            .ends_with("pushpin.conf:3: [proxy] debug: expected 'true' or 'false', not 'maybe'"));
        assert!(errors.0[1].to_string().ends_with("routes:1: target must be 'host:port', 'zhttp/…', 'zhttpreq/…' or 'test', not 'nowhere'"));
    }

    #[test]
    fn missing_config_file_is_an_error() {
        let errors = load(&Options {
            config: Some("/nonexistent/pushpin.conf".into()),
            ..Options::default()
        })
        .unwrap_err();
        assert!(errors
            .to_string()
            .starts_with("/nonexistent/pushpin.conf: "));
    }
}
