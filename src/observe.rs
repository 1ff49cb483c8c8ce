//! Operability: request ids, one log line and one span per request, Prometheus metrics,
//! and the request timeout.
//!
//! The outer [`observe`] layer opens the request's statement counter (see `db`), gives the
//! request an id (the client's `X-Request-Id`, else a new UUID) echoed in the response,
//! enforces the timeout, and records route, status, latency and statements in the log and
//! in [`crate::metrics::Metrics`]. The matched route reaches it from inside the router through the
//! response extensions ([`remember_route`]), so unmatched paths are counted under one label
//! instead of one label per path a client invents.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::error::{AppError, InternalCause};
use crate::state::AppState;

/// The route a request matched, carried out of the router in the response extensions.
#[derive(Clone, Debug)]
pub struct RouteLabel(pub String);

/// Copies the matched route into the response (used as a `route_layer`).
pub async fn remember_route(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let mut res = next.run(req).await;
    if let Some(route) = route {
        res.extensions_mut().insert(RouteLabel(route));
    }
    res
}

/// `GET /metrics`.
pub async fn get_metrics(State(state): State<AppState>) -> Response {
    let body = state.metrics.render(&state.db);
    let mut res = body.into_response();
    res.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}

fn request_id(req: &Request) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// The outermost layer: request id, span, timeout, statement counter, log line, metrics.
pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    let method = req.method().to_string();
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = tracing::field::Empty);
    let timeout = state.settings.request_timeout;
    let run = async move {
        match tokio::time::timeout(timeout, next.run(req)).await {
            Ok(res) => res,
            Err(_) => {
                AppError::unavailable("timeout", "The request took too long and was stopped.")
                    .into_response()
            }
        }
    };
    let (mut res, stats) = crate::db::with_stats(run.instrument(span.clone())).await;
    let route = res
        .extensions()
        .get::<RouteLabel>()
        .map(|r| r.0.clone())
        // Every route the application serves is matched (the API, `/metrics`, `/docs`);
        // anything else shares one label, or each path a client invents would add series.
        .unwrap_or_else(|| "unmatched".to_string());
    let latency = started.elapsed();
    let status = res.status();
    let statements = stats.statements();
    span.record("route", route.as_str());
    let _enter = span.enter();
    if status.is_server_error() {
        let cause = res
            .extensions()
            .get::<InternalCause>()
            .map(|c| c.0.as_str().to_string())
            .unwrap_or_default();
        tracing::error!(status = status.as_u16(), latency_ms = latency.as_secs_f64() * 1000.0, statements, %route, cause = %cause, "request failed");
    } else {
        tracing::info!(status = status.as_u16(), latency_ms = latency.as_secs_f64() * 1000.0, statements, %route, "request");
    }
    state
        .metrics
        .record(&method, &route, status.as_u16(), latency, statements);
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}
