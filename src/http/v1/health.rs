//! Health for people and orchestrators: `GET /api/v1/health` (SPEC §4: the service and its
//! database answer), `/health/live` (the process answers: restart it when this fails),
//! `/health/ready` (send it traffic: the database answers, its migrations are current
//! and the process is not draining), and `GET /api/v1/version` (which build this is).

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use sea_orm_migration::MigratorTrait;
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::http::state::AppState;
use crate::migration::Migrator;
use crate::version::{BUILD, Version};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(get_health))
        .route("/health/live", get(get_liveness))
        .route("/health/ready", get(get_readiness))
        .route("/version", get(get_version))
}

/// How long a probe waits for the database.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The health report.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub database: &'static str,
}

/// Whether the database answers a trivial query within [`PROBE_TIMEOUT`].
async fn database_answers(db: &DatabaseConnection) -> bool {
    let backend = db.get_database_backend();
    let probe = db.query_one_raw(Statement::from_string(backend, "SELECT 1"));
    matches!(tokio::time::timeout(PROBE_TIMEOUT, probe).await, Ok(Ok(_)))
}

fn database_unavailable() -> AppError {
    AppError::unavailable("database_unavailable", "The database does not answer.")
}

/// 200 when the database answers a trivial query, 503 otherwise.
#[utoipa::path(get, path = "/api/v1/health", tag = "health",
    summary = "Whether the service and its database answer",
    responses(
        (status = 200, description = "`{\"status\":\"ok\",\"database\":\"ok\"}`", body = Health),
        (status = 503, description = "The database does not answer (`database_unavailable`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_health(State(state): State<AppState>) -> Result<Json<Health>> {
    crate::store::set_budget(1);
    if database_answers(state.store.connection()).await {
        Ok(Json(Health {
            status: "ok",
            database: "ok",
        }))
    } else {
        Err(database_unavailable())
    }
}

/// The liveness report: the process answers.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Liveness {
    /// Always `alive`.
    pub status: &'static str,
}

/// 200 as long as the process answers HTTP; it reads nothing, so a slow or absent
/// database never makes an orchestrator restart a process that would recover.
#[utoipa::path(get, path = "/api/v1/health/live", tag = "health",
    summary = "Liveness: the process answers",
    responses((status = 200, description = "`{\"status\":\"alive\"}`", body = Liveness)))]
pub async fn get_liveness() -> Json<Liveness> {
    crate::store::set_budget(0);
    Json(Liveness { status: "alive" })
}

/// The readiness report.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// Always `ready` (a process that is not ready answers 503).
    pub status: &'static str,
    pub database: &'static str,
    /// Always `current`: the migrations this build knows are all applied.
    pub migrations: &'static str,
}

/// The migrations this build knows that the database has not applied, in one read of
/// the bookkeeping table (sea-orm-migration's own check would first create that table: no
/// probe should write).
async fn pending_migrations(
    db: &DatabaseConnection,
) -> std::result::Result<Vec<String>, sea_orm::DbErr> {
    let backend = db.get_database_backend();
    let applied: std::collections::HashSet<String> = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT version FROM seaql_migrations",
        ))
        .await?
        .iter()
        .filter_map(|row| row.try_get::<String>("", "version").ok())
        .collect();
    Ok(Migrator::migrations()
        .iter()
        .map(|m| m.name().to_string())
        .filter(|name| !applied.contains(name))
        .collect())
}

/// 200 when the database answers, every migration this build knows is applied and the
/// process is not draining; else 503 `not_ready`, saying which.
#[utoipa::path(get, path = "/api/v1/health/ready", tag = "health",
    summary = "Readiness: the process can serve traffic",
    responses(
        (status = 200, description = "`{\"status\":\"ready\",\"database\":\"ok\",\"migrations\":\"current\"}`", body = Readiness),
        (status = 503, description = "The database does not answer (`database_unavailable`), migrations are pending, or the process is draining (`not_ready`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_readiness(State(state): State<AppState>) -> Result<Json<Readiness>> {
    crate::store::set_budget(2);
    if state.is_draining() {
        return Err(AppError::unavailable(
            "not_ready",
            "This process is shutting down and finishing what it has.",
        ));
    }
    if !database_answers(state.store.connection()).await {
        return Err(database_unavailable());
    }
    let pending = tokio::time::timeout(PROBE_TIMEOUT, pending_migrations(state.store.connection()))
        .await
        .map_err(|_| database_unavailable())?
        .map_err(|_| database_unavailable())?;
    if !pending.is_empty() {
        return Err(AppError::unavailable(
            "not_ready",
            format!(
                "The migrations {} of this build are not applied; run `relata migrate`.",
                pending.join(", ")
            ),
        ));
    }
    Ok(Json(Readiness {
        status: "ready",
        database: "ok",
        migrations: "current",
    }))
}

/// The version and build of this process.
#[utoipa::path(get, path = "/api/v1/version", tag = "health",
    summary = "The version and build of this process",
    responses((status = 200, description = "The version, git revision and API version", body = Version)))]
pub async fn get_version() -> Json<Version> {
    crate::store::set_budget(0);
    Json(BUILD)
}
