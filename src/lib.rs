//! Relata: a REST service whose data model is relationships between models (one-to-one,
//! one-to-many, many-to-many with an association object), with eager loading that runs a
//! fixed number of SQL statements per request. `main.rs` only parses the command line;
//! everything else lives here so that tests can drive it.

pub mod api;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod entity;
pub mod error;
pub mod migration;
pub mod service;
pub mod state;
pub mod time;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

use crate::config::Settings;
use crate::state::AppState;

/// Largest request body (SPEC §3).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The whole HTTP application for `state`.
pub fn build_router(state: AppState) -> Router {
    Router::new()
        .nest("/api/v1", api::router(state.clone()))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Connects, migrates and loads the token secret: everything a server or a test needs.
pub async fn build_state(settings: Settings) -> anyhow::Result<AppState> {
    let db = db::connect(&settings.database_url, settings.max_connections).await?;
    db::migrate(&db).await?;
    let secret = service::auth::load_or_create_secret(&db, settings.jwt_secret.as_deref())
        .await
        .map_err(|e| anyhow::anyhow!("loading the token secret: {e}"))?;
    let keys = service::auth::JwtKeys::new(&secret);
    Ok(AppState::new(db, keys, settings))
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
        Self::with_state(state, &bind).await
    }

    /// Binds `bind` for an existing state.
    pub async fn with_state(state: AppState, bind: &str) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(bind)
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

    /// Serves until `shutdown` completes, then lets in-flight requests finish for up to
    /// `grace` before returning.
    pub async fn run_until<F>(self, shutdown: F, grace: Duration) -> anyhow::Result<()>
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let server = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = tx.send(true);
        });
        let mut rx = rx;
        let serving = tokio::spawn(async move { server.await });
        tokio::pin!(serving);
        tokio::select! {
            res = &mut serving => { res??; return Ok(()); }
            _ = rx.wait_for(|stop| *stop) => {}
        }
        match tokio::time::timeout(grace, &mut serving).await {
            Ok(res) => res??,
            Err(_) => tracing::warn!(
                "in-flight requests did not finish within {grace:?}; stopping anyway"
            ),
        }
        Ok(())
    }
}
