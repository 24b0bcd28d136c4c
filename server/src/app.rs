//! Running gripway: starting every part from a loaded [`Config`] and stopping them in order.
//!
//! Start-up binds every listener before serving anything, so a port in use fails the start with a
//! clear error instead of leaving a half-started server. Shutdown (SIGTERM or SIGINT in `main`)
//! closes the listeners at once and gives open connections [`SHUTDOWN_GRACE`] to finish.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::command::{CommandSocket, Endpoints};
use crate::config::{certs, https_identities, reload, Config, RoutesSource};
use crate::frontend::conn::ConnLimits;
use crate::frontend::listener::{ListenAddr, Listener};
use crate::frontend::tls::TlsAcceptor;
use crate::gateway::{Gateway, GatewayConfig, GatewayHandler};
use crate::hub::sequencer::SequencerSettings;
use crate::hub::{Hub, HubOptions};
use crate::publish::http_api::{ApiConfig, PublishApi, PublishApiHandler};
use crate::publish::zmq_inputs::{PullInput, SubInput};
use crate::router::RouteTable;
use crate::stats::engine::EngineConfig;
use crate::stats::packet::Format;
use crate::stats::publisher::{self, PublisherConfig};
use crate::stats::subscriptions::SubTimes;
use crate::stats::{Stats, StatsPublisher};

/// Publishers connected to the HTTP API at once; publishing is short requests from few services.
const PUBLISH_MAXCONN: usize = 1024;

/// How long open connections may run on after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A started server: its bound addresses, and a handle to stop it.
pub struct Running {
    /// Client listeners (plain, TLS, unix), as bound (port 0 resolved).
    pub client_addrs: Vec<ListenAddr>,
    /// The HTTP publish API's address, when enabled.
    pub publish_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
    hub: Arc<Hub>,
    gateway: Arc<Gateway>,
}

impl Running {
    /// Waits until every part has ended (after a shutdown was sent, or a failure),
    /// then logs what the hub still holds: after every connection has closed, nothing should be
    /// subscribed, and a leak shows here.
    pub async fn wait(&mut self) {
        while self.tasks.join_next().await.is_some() {}
        let (channels, subscribers) = self.hub.counts();
        let dropped = self.hub.dropped_total();
        let over_hwm = self.gateway.over_limit_total();
        tracing::info!(
            channels,
            subscribers,
            dropped,
            over_hwm,
            "stopped; hub subscriptions left, and items dropped for full queues and past message_hwm"
        );
    }

    /// A sender that stops the server when `true` is sent.
    pub fn shutdown_handle(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }
}

/// Binds every listener and starts serving.
pub async fn start(config: Config) -> std::io::Result<Running> {
    let settings = &config.settings;
    let (routes_tx, routes_rx) = watch::channel(Arc::new(RouteTable::new(config.routes.clone())));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (stats, stats_feed) = match &settings.handler.stats_spec {
        Some(spec) => {
            let socket = StatsPublisher::bind(spec)
                .await
                .map_err(|e| std::io::Error::other(format!("stats_spec {e}")))?;
            tracing::info!(%spec, "publishing stats (ZMQ PUB)");
            let (stats, feed) = Stats::channel(crate::stats::QUEUE);
            (stats, Some((socket, feed)))
        }
        None => (Stats::disabled(), None),
    };
    let hub = Hub::new(HubOptions {
        sequencing: SequencerSettings {
            message_wait: Duration::from_millis(u64::from(settings.handler.message_wait_ms)),
            id_cache_ttl: Duration::from_secs(u64::from(settings.handler.id_cache_ttl)),
        },
        refresh_first: settings.handler.update_on_first_subscription,
        channel_events: !settings.handler.push_in_sub_specs.is_empty(),
        stats: stats.clone(),
    });
    let gateway_config = GatewayConfig {
        proxy: settings.proxy.clone(),
        subscription_max: settings.handler.connection_subscription_max,
        config_dir: config.config_dir.clone(),
        message_rate: settings.handler.message_rate,
        message_hwm: settings.handler.message_hwm,
        stats: stats.clone(),
    };
    let gateway =
        Gateway::new(routes_rx, gateway_config, hub.clone()).map_err(std::io::Error::other)?;
    gateway
        .bind_workers(&config.routes.routes)
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let handler = Arc::new(GatewayHandler(gateway.clone()));
    let limits = ConnLimits {
        max_head: settings.runner.client_buffer_size,
        head_timeout: settings.runner.client_head_timeout,
    };
    let maxconn = Arc::new(Semaphore::new(settings.runner.client_maxconn));

    let mut listeners = Vec::new();
    for addr in &settings.runner.http_listeners {
        let listener = Listener::bind(*addr)
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("client listener {addr}: {e}")))?;
        listeners.push(listener);
    }
    // `config::load` loaded the identities whenever there are TLS listeners.
    let certs_rx = config
        .certs
        .clone()
        .map(|loaded| watch::channel(Arc::new(loaded)));
    if let Some((_, certs)) = &certs_rx {
        for addr in &settings.runner.https_listeners {
            let tls = TlsAcceptor::new(
                addr.port(),
                certs.clone(),
                settings.runner.tls_handshake_timeout,
            )
            .map_err(std::io::Error::other)?;
            let listener = Listener::bind_tls(*addr, tls).await.map_err(|e| {
                std::io::Error::new(e.kind(), format!("TLS client listener {addr}: {e}"))
            })?;
            listeners.push(listener);
        }
    }
    for path in &settings.runner.local_ports {
        let listener = Listener::bind_local(std::path::Path::new(path))
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("client listener {path}: {e}")))?;
        listeners.push(listener);
    }
    let publish_listener =
        match settings.handler.push_in_http {
            Some(addr) => Some(Listener::bind(addr).await.map_err(|e| {
                std::io::Error::new(e.kind(), format!("publish listener {addr}: {e}"))
            })?),
            None => None,
        };
    let mut tasks = JoinSet::new();
    tasks.spawn(hub.clone().run_expiry(shutdown_rx.clone()));
    tasks.spawn(hub.clone().run_refresh(shutdown_rx.clone()));
    if let Some((socket, feed)) = stats_feed {
        let config = publisher_config(settings);
        tasks.spawn(socket.run(
            stats.clone(),
            feed,
            hub.clone(),
            config,
            shutdown_rx.clone(),
        ));
    }
    if let Some(spec) = &settings.handler.push_in_spec {
        let input = PullInput::bind(spec)
            .await
            .map_err(|e| std::io::Error::other(format!("push_in_spec {e}")))?;
        tracing::info!(%spec, "listening for publishers (ZMQ PULL)");
        tasks.spawn(input.run(hub.clone(), shutdown_rx.clone()));
    }
    if let Some(spec) = &settings.handler.command_spec {
        let socket = CommandSocket::bind(spec)
            .await
            .map_err(|e| std::io::Error::other(format!("command_spec {e}")))?;
        tracing::info!(%spec, "listening for commands (ZMQ)");
        let endpoints = Endpoints {
            command: Some(spec.clone()),
            publish_pull: settings.handler.push_in_spec.clone(),
            publish_sub: if settings.handler.push_in_sub_connect {
                None
            } else {
                settings.handler.push_in_sub_specs.first().cloned()
            },
        };
        let stats = stats.clone();
        tasks.spawn(socket.run(hub.clone(), stats, endpoints, shutdown_rx.clone()));
    }
    let sub_specs = &settings.handler.push_in_sub_specs;
    if let (false, Some(events)) = (sub_specs.is_empty(), hub.follow_channels()) {
        let connect = settings.handler.push_in_sub_connect;
        let input = SubInput::open(sub_specs, connect)
            .await
            .map_err(|e| std::io::Error::other(format!("push_in_sub_specs {e}")))?;
        tracing::info!(specs = ?sub_specs, connect, "listening for publishers (ZMQ SUB)");
        tasks.spawn(input.run(hub.clone(), events, shutdown_rx.clone()));
    }
    let mut publish_addr = None;
    if let Some(listener) = publish_listener {
        let addr = listener.local_addr()?;
        tracing::info!(%addr, "listening for publishers (HTTP)");
        publish_addr = Some(addr);
        let api = PublishApi::new(
            hub.clone(),
            ApiConfig {
                max_body: settings.handler.push_in_http_max_body_size,
                auth_key: settings.handler.push_in_http_auth_key.clone(),
            },
        );
        let api_limits = ConnLimits::new(settings.handler.push_in_http_max_headers_size);
        tasks.spawn(listener.run(
            Arc::new(PublishApiHandler(api)),
            api_limits,
            Arc::new(Semaphore::new(PUBLISH_MAXCONN)),
            shutdown_rx.clone(),
            SHUTDOWN_GRACE,
        ));
    }
    let mut client_addrs = Vec::new();
    for listener in listeners {
        let addr = listener.listen_addr()?;
        tracing::info!(%addr, "listening for clients");
        client_addrs.push(addr);
        tasks.spawn(listener.run(
            handler.clone(),
            limits,
            maxconn.clone(),
            shutdown_rx.clone(),
            SHUTDOWN_GRACE,
        ));
    }
    if let Some((certs_tx, _)) = certs_rx {
        let dir = certs::certs_dir(&config.config_dir);
        let required = https_identities(settings);
        let mut shutdown = shutdown_rx.clone();
        tasks.spawn(async move {
            tokio::select! {
                _ = reload::watch_certs(dir, required, move |loaded| certs_tx.send(Arc::new(loaded)).is_ok()) => {}
                _ = shutdown.changed() => {}
            }
        });
    }
    if let RoutesSource::File(path) = config.routes_source.clone() {
        let mut shutdown = shutdown_rx.clone();
        tasks.spawn(async move {
            tokio::select! {
                _ = reload::watch_routes(path, move |routes| routes_tx.send(Arc::new(RouteTable::new(routes))).is_ok()) => {}
                _ = shutdown.changed() => {}
            }
        });
    }
    Ok(Running {
        client_addrs,
        publish_addr,
        shutdown: shutdown_tx,
        tasks,
        hub,
        gateway,
    })
}

/// The stats publisher's settings, from `pushpin.conf`.
fn publisher_config(settings: &crate::config::settings::Settings) -> PublisherConfig {
    let handler = &settings.handler;
    PublisherConfig {
        engine: EngineConfig {
            conn_ttl: settings.global.stats_connection_ttl,
            subs: SubTimes {
                ttl: handler.stats_subscription_ttl,
                linger: Duration::from_secs(u64::from(handler.subscription_linger)),
            },
        },
        report_interval: (handler.stats_report_interval > 0)
            .then(|| Duration::from_secs(u64::from(handler.stats_report_interval))),
        format: if handler.stats_json {
            Format::Json
        } else {
            Format::TnetString
        },
        from: publisher::instance_id(),
    }
}
