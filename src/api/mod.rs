//! The HTTP API under `/api/v1`: one module per resource, each with its `router()`, plus
//! the layers every response goes through (statement counting and the query budget).

pub mod auth;
pub mod comments;
pub mod docs;
pub mod extract;
pub mod favorites;
pub mod follows;
pub mod head_limits;
pub mod health;
pub mod openapi;
pub mod posts;
pub mod profiles;
pub mod respond;
pub mod roles;
pub mod tags;
pub mod users;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::state::AppState;

/// Every `/api/v1` route, with the statement-counting layer around it.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(openapi::router())
        .merge(profiles::router())
        .merge(posts::router())
        .merge(comments::router())
        .merge(auth::router())
        .merge(users::router())
        .merge(roles::router())
        .merge(follows::router())
        .merge(favorites::router())
        .merge(tags::router())
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn(crate::observe::remember_route))
        .layer(middleware::from_fn_with_state(state, count_statements))
}

/// 404 for a path no route serves, under `/api/v1` and everywhere else.
pub async fn unknown_route() -> AppError {
    AppError::not_found("Route")
}

async fn method_not_allowed() -> AppError {
    AppError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This method is not allowed on this route.",
    )
}

/// Reads the request's statement counter (opened by `observe`), reports them in `X-Query-Count` and
/// `Server-Timing`, and enforces the query budget that the handler declared.
pub async fn count_statements(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    let method = req.method().clone();
    let mut res = next.run(req).await;
    let Some(stats) = crate::db::current_stats() else {
        return res;
    };
    let used = stats.statements();
    if let Some(budget) = stats.budget()
        && used > budget
        && method == Method::GET
    {
        tracing::error!(%route, statements = used, budget, "query budget exceeded: {method} {route} ran {used} statements, budget {budget}");
        if state.settings.strict_budget {
            res = AppError::internal(anyhow::anyhow!(
                "query budget exceeded on {route}: {used} statements, budget {budget}"
            ))
            .into_response();
        }
    }
    let headers = res.headers_mut();
    headers.insert("x-query-count", HeaderValue::from(used));
    let ms = stats.db_time().as_secs_f64() * 1000.0;
    if let Ok(v) = HeaderValue::from_str(&format!("db;dur={ms:.3}")) {
        headers.insert("server-timing", v);
    }
    res
}
