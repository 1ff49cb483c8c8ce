//! Typed settings: defaults, then the environment (SPEC §1), then command-line flags.

use std::time::Duration;

/// Everything `relata serve` needs to run, resolved once at start-up.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `sqlite://path.db` or `postgres://…` (`DATABASE_URL`).
    pub database_url: String,
    /// Listen address (`RELATA_BIND`, `--bind`).
    pub bind: String,
    /// HS256 secret (`RELATA_JWT_SECRET`); when `None`, one is generated once and kept in
    /// the database.
    pub jwt_secret: Option<String>,
    /// Lifetime of access tokens (`RELATA_ACCESS_TTL_SECS`, default 15 minutes).
    pub access_ttl: Duration,
    /// Lifetime of refresh tokens (`RELATA_REFRESH_TTL_SECS`, default 30 days).
    pub refresh_ttl: Duration,
    /// Fail a request that runs more SQL statements than its budget (`RELATA_STRICT_BUDGET=1`).
    pub strict_budget: bool,
    /// Largest number of pooled database connections (`RELATA_DB_MAX_CONNECTIONS`).
    pub max_connections: u32,
    /// Origins allowed by CORS (`RELATA_CORS_ORIGINS`, comma-separated); empty = CORS off.
    pub cors_origins: Vec<String>,
    /// Time a request may take before it is answered 503 (`RELATA_REQUEST_TIMEOUT_SECS`).
    pub request_timeout: Duration,
    /// Time a client has to send a request's headers (`RELATA_HEADER_TIMEOUT_SECS`).
    pub header_read_timeout: Duration,
    /// Most HTTP connections served at once (`RELATA_MAX_HTTP_CONNECTIONS`).
    pub max_http_connections: usize,
    /// Time between sweeps of expired tokens and old login attempts
    /// (`RELATA_SWEEP_INTERVAL_SECS`, default 5 minutes).
    pub sweep_interval: Duration,
    /// Serve the Conduit (RealWorld) face under `/api` (`RELATA_CONDUIT`, on unless `off`).
    pub conduit: bool,
    /// Lifetime of the tokens the Conduit face issues (`RELATA_CONDUIT_TOKEN_TTL_SECS`,
    /// default 7 days: Conduit front-ends have no refresh flow).
    pub conduit_token_ttl: Duration,
}

/// The default database: `relata.db` in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://relata.db";
/// The default listen address.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

fn env_flag(name: &str) -> bool {
    matches!(
        std::env::var(name).as_deref(),
        Ok("1") | Ok("true") | Ok("yes") | Ok("on")
    )
}

/// A switch that is on unless set to `off`, `0`, `false` or `no`.
fn env_switch_on(name: &str) -> bool {
    !matches!(
        std::env::var(name)
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref(),
        Ok("off") | Ok("0") | Ok("false") | Ok("no")
    )
}

/// The default lifetime of a Conduit token: 7 days.
pub const DEFAULT_CONDUIT_TOKEN_TTL_SECS: u64 = 7 * 24 * 3600;

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

impl Settings {
    /// Defaults overridden by the environment.
    pub fn from_env() -> Self {
        let non_empty = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Settings {
            database_url: non_empty("DATABASE_URL")
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string()),
            bind: non_empty("RELATA_BIND").unwrap_or_else(|| DEFAULT_BIND.to_string()),
            jwt_secret: non_empty("RELATA_JWT_SECRET"),
            access_ttl: Duration::from_secs(env_number("RELATA_ACCESS_TTL_SECS", 15 * 60)),
            refresh_ttl: Duration::from_secs(env_number("RELATA_REFRESH_TTL_SECS", 30 * 24 * 3600)),
            strict_budget: env_flag("RELATA_STRICT_BUDGET"),
            max_connections: env_number("RELATA_DB_MAX_CONNECTIONS", 10),
            cors_origins: non_empty("RELATA_CORS_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|o| o.trim().to_string())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            request_timeout: Duration::from_secs(env_number("RELATA_REQUEST_TIMEOUT_SECS", 30)),
            header_read_timeout: Duration::from_secs(env_number("RELATA_HEADER_TIMEOUT_SECS", 10)),
            max_http_connections: env_number("RELATA_MAX_HTTP_CONNECTIONS", 1024),
            sweep_interval: Duration::from_secs(env_number("RELATA_SWEEP_INTERVAL_SECS", 300)),
            conduit: env_switch_on("RELATA_CONDUIT"),
            conduit_token_ttl: Duration::from_secs(env_number(
                "RELATA_CONDUIT_TOKEN_TTL_SECS",
                DEFAULT_CONDUIT_TOKEN_TTL_SECS,
            )),
        }
    }

    /// Settings for a test or tool that supplies its own database.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Settings {
            database_url: database_url.into(),
            bind: "127.0.0.1:0".to_string(),
            jwt_secret: None,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            strict_budget: true,
            max_connections: 10,
            cors_origins: Vec::new(),
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            max_http_connections: 1024,
            sweep_interval: Duration::from_secs(300),
            conduit: true,
            conduit_token_ttl: Duration::from_secs(DEFAULT_CONDUIT_TOKEN_TTL_SECS),
        }
    }
}
