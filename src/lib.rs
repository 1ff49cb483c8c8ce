//! Relata: a REST service whose data model is relationships between models (one-to-one,
//! one-to-many, many-to-many with an association object), with eager loading that runs a
//! fixed number of SQL statements per request. `main.rs` only parses the command line;
//! everything else lives here so that tests can drive it.

pub mod cli;
pub mod config;
pub mod domain;
pub mod entity;
pub mod error;
pub mod http;
pub mod jwt;
pub mod log_writer;
pub mod metrics;
pub mod migration;
pub mod ops;
pub mod relations;
pub mod service;
pub mod store;
pub mod time;
pub mod version;
pub mod wire;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::middleware;
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{And, DefaultPredicate, Predicate, SizeAbove};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::Settings;
use crate::http::common::limits::ClientAddr;
use crate::http::common::{drain, observe};
use crate::http::state::AppState;
use crate::http::{conduit, v1};

pub use crate::http::common::request_body::BODY_LIMIT;

/// The whole HTTP application for `state`.
pub fn build_router(state: AppState) -> Router {
    let mut router = Router::new().nest("/api/v1", v1::router(state.clone()));
    if state.settings.conduit {
        router = router.nest("/api", conduit::router(state.clone()));
    }
    let router = router
        .route("/metrics", get(observe::get_metrics))
        .merge(v1::docs::router())
        .fallback(v1::unknown_route)
        .route_layer(middleware::from_fn(observe::remember_route))
        .with_state(state.clone());
    // Every layer between the connection and the routes, applied at once (see
    // `observe::layers`): compression, drain, body guard, observe, head limits, body limit.
    let router = observe::layers(router, &state);
    match cors_layer(&state.settings.cors_origins) {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// Bodies of [`COMPRESS_ABOVE`] bytes or more are compressed with gzip or brotli when the
/// client's `Accept-Encoding` asks for one (tower-http's negotiation; brotli preferred at
/// equal weight); smaller ones cost more to compress than they save.
pub(crate) fn compression() -> CompressionLayer<And<DefaultPredicate, SizeAbove>> {
    CompressionLayer::new()
        .gzip(true)
        .br(true)
        .quality(CompressionLevel::Fastest)
        .compress_when(DefaultPredicate::new().and(SizeAbove::new(COMPRESS_ABOVE)))
}

/// The smallest body worth compressing, in bytes.
pub const COMPRESS_ABOVE: u16 = 1024;

/// CORS for the configured origins; `None` (CORS off) when there are none.
fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    use axum::http::{HeaderName, HeaderValue, Method, header};
    // `*` allows any origin (tokens travel in a header, never in cookies).
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let origins: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        if origins.is_empty() {
            return None;
        }
        AllowOrigin::list(origins)
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("x-request-id"),
            ])
            .expose_headers([
                HeaderName::from_static("x-query-count"),
                HeaderName::from_static("server-timing"),
                HeaderName::from_static("x-request-id"),
                header::LOCATION,
            ])
            .max_age(Duration::from_secs(600)),
    )
}

/// Connects, migrates and loads the token secret: everything a server or a test needs.
pub async fn build_state(settings: Settings) -> anyhow::Result<AppState> {
    let db = store::connect_configured(&settings, settings.max_connections, false).await?;
    store::migrate(&db).await?;
    let secret = service::auth::load_or_create_secret(&db, settings.jwt_secret.as_deref())
        .await
        .map_err(|e| anyhow::anyhow!("loading the token secret: {e}"))?;
    if secret.len() < jwt::MIN_SECRET_BYTES {
        // Refusing would stop every deployment (and every client's test harness) that
        // set a short secret before; the warning says what to do instead.
        tracing::warn!(
            bytes = secret.len(),
            "RELATA_JWT_SECRET is shorter than {} bytes, the size of an HS256 key (RFC 7518 \
             §3.2): tokens signed with it can be forged by guessing it; set a random secret \
             of at least {} bytes (e.g. `openssl rand -hex 32`), or unset it to have one \
             generated and stored in the database",
            jwt::MIN_SECRET_BYTES,
            jwt::MIN_SECRET_BYTES
        );
    }
    let keys = jwt::JwtKeys::new(&secret);
    let replicas = store::Replicas::start(&settings).await?;
    Ok(AppState::new(db, keys, settings, replicas))
}

/// A server bound to its address, ready to run.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl Application {
    /// Builds the state and binds `settings.bind` (port 0 picks a free port).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let bind = settings.bind.clone();
        let state = build_state(settings).await?;
        let swept = ops::sweep::sweep(&state.db().write().await, time::now())
            .await
            .map_err(|e| anyhow::anyhow!("sweeping expired rows at start-up: {e}"))?;
        tracing::info!(
            refresh_tokens = swept.refresh_tokens,
            revoked_tokens = swept.revoked_tokens,
            login_attempts = swept.login_attempts,
            "swept expired authentication rows at start-up"
        );
        Self::with_state(state, &bind).await
    }

    /// Binds `bind` for an existing state, sharing the address with any other `relata`
    /// bound to it (see [`drain::bind_shared`]).
    pub async fn with_state(state: AppState, bind: &str) -> anyhow::Result<Self> {
        let listener = drain::bind_shared(bind)
            .await
            .map_err(|e| anyhow::anyhow!("binding {bind}: {e}"))?;
        Ok(Application {
            listener,
            router: build_router(state.clone()),
            state,
        })
    }

    /// The address actually bound.
    pub fn address(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The state the server runs with.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then drains (see [`drain`]): stops accepting,
    /// answers each further request with `Connection: close`, leaves idle connections
    /// open for [`drain::IDLE_DRAIN`], and lets in-flight requests finish; all of it
    /// within `grace` of the shutdown.
    ///
    /// The accept loop is ours rather than `axum::serve` for the limits a public server
    /// needs: a cap on concurrent connections (past it, new connections wait in the
    /// kernel's backlog), a cap per client address (past it, a new connection from that
    /// address is closed at once, so that one client cannot take every slot), and a
    /// deadline for reading a request's headers, so a client that trickles bytes cannot
    /// hold a connection; the body timeout of `request_body` and the request timeout of
    /// `observe` bound the rest of the request. Each request carries its client's address
    /// ([`ClientAddr`]) for the per-address rate limits.
    pub async fn run_until<F>(self, shutdown: F, grace: Duration) -> anyhow::Result<()>
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
        use hyper_util::server::conn::auto;
        use hyper_util::server::graceful::GracefulShutdown;
        use hyper_util::service::TowerToHyperService;
        use tower::ServiceExt;

        let settings = self.state.settings.clone();
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(
            settings.max_http_connections.max(1),
        ));
        let graceful = GracefulShutdown::new();
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(settings.header_read_timeout)
            .max_headers(v1::head_limits::HYPER_MAX_HEADERS);
        let router = self.router;
        let sweeper = tokio::spawn(ops::sweep::sweep_every(
            self.state.store.clone(),
            settings.sweep_interval,
        ));
        tokio::pin!(shutdown);
        loop {
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => slot?,
                _ = &mut shutdown => break,
            };
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // Out of file descriptors and the like: pause instead of spinning.
                        tracing::warn!(%err, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = &mut shutdown => break,
            };
            let client = ClientAddr::new(peer.ip());
            let Some(client_slot) = self.state.limits.connect(client) else {
                tracing::debug!(client = %client.0, "closing a connection past the client's share");
                continue;
            };
            let _ = stream.set_nodelay(true);
            let service = router.clone().map_request(
                move |req: axum::http::Request<hyper::body::Incoming>| {
                    let mut req = req.map(axum::body::Body::new);
                    req.extensions_mut().insert(client);
                    req
                },
            );
            let connection = builder
                .serve_connection_with_upgrades(
                    TokioIo::new(stream),
                    TowerToHyperService::new(service),
                )
                .into_owned();
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                let _ = connection.await;
                drop(client_slot);
                drop(slot);
            });
        }
        // Draining before the listener closes, so that no answer from now on invites the
        // client to send another request on its connection.
        let grace_ends = tokio::time::Instant::now() + grace;
        self.state.start_draining();
        drop(self.listener);
        sweeper.abort();
        tracing::info!("draining: accepting no more connections");
        // Clients still sending on their connections get answers saying `Connection:
        // close` and close them; wait for that (or for the idle ones to stay idle) rather
        // than close a connection a request may be travelling on.
        let idle_drain_ends = grace_ends.min(tokio::time::Instant::now() + drain::IDLE_DRAIN);
        let capacity = settings.max_http_connections.max(1);
        while slots.available_permits() < capacity && tokio::time::Instant::now() < idle_drain_ends
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::select! {
            _ = graceful.shutdown() => {}
            _ = tokio::time::sleep_until(grace_ends) => {
                tracing::warn!("in-flight requests did not finish within {grace:?}; stopping anyway");
            }
        }
        Ok(())
    }
}
