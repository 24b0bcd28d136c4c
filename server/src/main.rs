//! The `gripway` binary: command line, logging, configuration, then [`gripway::app`].
//!
//! Flags are Pushpin's: `--config`, `--route` (repeatable), `--port`, `--verbose`, `--loglevel`.
//! A configuration error prints every problem with its file and line and exits with status 2.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use gripway::config::{self, Options};

/// A Pushpin-compatible realtime push gateway.
#[derive(Parser, Debug)]
#[command(name = "gripway", version, about)]
struct Cli {
    /// Config file (pushpin.conf syntax); without it, the embedded default config is used.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// A routes line, replacing the routes file (repeatable).
    #[arg(long = "route", value_name = "LINE")]
    routes: Vec<String>,
    /// Client port, replacing http_port.
    #[arg(long)]
    port: Option<u16>,
    /// Verbose logging (same as --loglevel 3).
    #[arg(long)]
    verbose: bool,
    /// Log level: 0 errors, 1 warnings, 2 info, 3 debug, 4 trace.
    #[arg(long, value_name = "N")]
    loglevel: Option<u8>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let options = Options {
        config: cli.config,
        routes: cli.routes,
        port: cli.port,
    };
    let config = match config::load(&options) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("gripway: configuration errors:\n{errors}");
            return ExitCode::from(2);
        }
    };
    let level = if cli.verbose { Some(3) } else { cli.loglevel };
    init_logging(level.unwrap_or(config.settings.runner.log_level));
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    for key in &config.unused {
        tracing::debug!("{key}: Pushpin setting not used by gripway");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gripway: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(config))
}

async fn run(config: config::Config) -> ExitCode {
    let mut running = match gripway::app::start(config).await {
        Ok(running) => running,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = running.shutdown_handle();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        let _ = shutdown.send(true);
    });
    running.wait().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

fn init_logging(level: u8) {
    let filter = match level {
        0 => "error",
        1 => "warn",
        2 => "info",
        3 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("GRIPWAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("gripway={filter},warn")));
    // Colour only for a person at a terminal, never in log files.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
}
