//! `GET /api/v1/health`: whether the service and its database answer.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use sea_orm::{ConnectionTrait, Statement};
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(get_health))
}

/// The health report.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub database: &'static str,
}

/// 200 when the database answers a trivial query, 503 otherwise.
#[utoipa::path(get, path = "/api/v1/health", tag = "health",
    summary = "Whether the service and its database answer",
    responses(
        (status = 200, description = "`{\"status\":\"ok\",\"database\":\"ok\"}`", body = Health),
        (status = 503, description = "The database does not answer (`database_unavailable`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_health(State(state): State<AppState>) -> Result<Json<Health>> {
    crate::db::set_budget(1);
    let backend = state.db.get_database_backend();
    let probe = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        state
            .db
            .query_one_raw(Statement::from_string(backend, "SELECT 1")),
    )
    .await;
    match probe {
        Ok(Ok(_)) => Ok(Json(Health {
            status: "ok",
            database: "ok",
        })),
        _ => Err(AppError::unavailable(
            "database_unavailable",
            "The database does not answer.",
        )),
    }
}
