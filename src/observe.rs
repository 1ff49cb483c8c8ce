//! Operability: request ids, one log line and one span per request, Prometheus metrics,
//! and the request timeout.
//!
//! The outer [`observe`] layer opens the request's statement counter (see `db`), gives the
//! request an id (the client's `X-Request-Id`, else a new UUID) echoed in the response,
//! enforces the timeout, and records route, status, latency and statements in the log and
//! in [`Metrics`]. The matched route reaches it from inside the router through the
//! response extensions ([`remember_route`]), so unmatched paths are counted under one label
//! instead of one label per path a client invents.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const STATEMENT_BUCKETS: &[f64] = &[
    0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 50.0,
];

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    total: u64,
}

impl Histogram {
    fn observe(&mut self, buckets: &[f64], value: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; buckets.len()];
        }
        for (i, upper) in buckets.iter().enumerate() {
            if value <= *upper {
                self.counts[i] += 1;
            }
        }
        self.sum += value;
        self.total += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str, buckets: &[f64]) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, upper) in buckets.iter().enumerate() {
            let n = self.counts.get(i).copied().unwrap_or(0);
            out.push_str(&format!(
                "{name}_bucket{{{labels}{sep}le=\"{upper}\"}} {n}\n"
            ));
        }
        out.push_str(&format!(
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}\n",
            self.total
        ));
        out.push_str(&format!("{name}_sum{{{labels}}} {}\n", self.sum));
        out.push_str(&format!("{name}_count{{{labels}}} {}\n", self.total));
    }
}

#[derive(Default)]
struct MetricsInner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<(String, String), Histogram>,
    statements: BTreeMap<(String, String), Histogram>,
}

/// Request metrics of this process, rendered in the Prometheus text format.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<MetricsInner>,
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    fn record(&self, method: &str, route: &str, status: u16, latency: Duration, statements: usize) {
        let Ok(mut m) = self.inner.lock() else { return };
        *m.requests
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        m.latency
            .entry((method.to_string(), route.to_string()))
            .or_default()
            .observe(LATENCY_BUCKETS, latency.as_secs_f64());
        m.statements
            .entry((method.to_string(), route.to_string()))
            .or_default()
            .observe(STATEMENT_BUCKETS, statements as f64);
    }

    /// The Prometheus text exposition, with the database pool gauges of `state`.
    pub fn render(&self, state: &AppState) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP relata_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE relata_http_requests_total counter\n");
        if let Ok(m) = self.inner.lock() {
            for ((method, route, status), n) in &m.requests {
                out.push_str(&format!(
                    "relata_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}\n",
                    escape_label(method),
                    escape_label(route)
                ));
            }
            out.push_str("# HELP relata_http_request_duration_seconds Time to answer a request.\n");
            out.push_str("# TYPE relata_http_request_duration_seconds histogram\n");
            for ((method, route), h) in &m.latency {
                let labels = format!(
                    "method=\"{}\",route=\"{}\"",
                    escape_label(method),
                    escape_label(route)
                );
                h.render(
                    &mut out,
                    "relata_http_request_duration_seconds",
                    &labels,
                    LATENCY_BUCKETS,
                );
            }
            out.push_str(
                "# HELP relata_db_statements_per_request SQL statements sent per request.\n",
            );
            out.push_str("# TYPE relata_db_statements_per_request histogram\n");
            for ((method, route), h) in &m.statements {
                let labels = format!(
                    "method=\"{}\",route=\"{}\"",
                    escape_label(method),
                    escape_label(route)
                );
                h.render(
                    &mut out,
                    "relata_db_statements_per_request",
                    &labels,
                    STATEMENT_BUCKETS,
                );
            }
        }
        let (size, idle, max) = crate::db::pool_status(&state.db);
        out.push_str("# HELP relata_db_pool_connections Open database connections.\n");
        out.push_str("# TYPE relata_db_pool_connections gauge\n");
        out.push_str(&format!("relata_db_pool_connections {size}\n"));
        out.push_str("# HELP relata_db_pool_idle_connections Idle database connections.\n");
        out.push_str("# TYPE relata_db_pool_idle_connections gauge\n");
        out.push_str(&format!("relata_db_pool_idle_connections {idle}\n"));
        out.push_str("# HELP relata_db_pool_max_connections Largest pool size.\n");
        out.push_str("# TYPE relata_db_pool_max_connections gauge\n");
        out.push_str(&format!("relata_db_pool_max_connections {max}\n"));
        out
    }
}

/// `GET /metrics`.
pub async fn get_metrics(State(state): State<AppState>) -> Response {
    let body = state.metrics.render(&state);
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
