//! Operability: request ids, one span and one log line per request, metrics and the
//! request timeout, assembled from maintained layers around our own statement counter.
//!
//! From the outside in ([`layers`]): a client's unusable `X-Request-Id` is dropped,
//! tower-http gives every request an id (the client's, else a UUID) and echoes it in the
//! response, and its `TraceLayer` opens the request's span and writes its log line;
//! [`measure`] opens the statement counter (see `db`) and records the request in
//! [`Metrics`]; tower's timeout answers a request that takes too long with 503
//! problem+json. [`layers`] applies these together with the layers around them
//! (compression, the drain, the body guard outside; the head and body limits inside) in
//! one `Router::layer`, which is what a request pays per layer. Inside each face's router,
//! [`count_statements`] reports the statements in `X-Query-Count` and enforces the query
//! budget, for `/api/v1` and `/api` alike. The matched route reaches the outer layers from
//! inside the router through the response extensions ([`remember_route`]), so unmatched
//! paths are counted under one label instead of one label per path a client invents.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::error::{AppError, InternalCause};
use crate::http::common::{drain, request_body};
use crate::http::state::AppState;
use crate::http::v1::head_limits;
use crate::metrics::Metrics;

/// The header that carries a request's id, in both directions.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The route a request matched, carried out of the router in the response extensions.
#[derive(Clone, Debug)]
pub struct RouteLabel(pub String);

/// The statements a request sent, carried out to its log line.
#[derive(Clone, Copy, Debug)]
pub struct Statements(pub usize);

/// With read replicas, the server a request's reads went to last (`primary`,
/// `replicaN`) and how long choosing it took, carried out to its log line.
#[derive(Clone, Debug)]
pub struct ReadServer(pub String, pub Duration);

/// A face's routes (`/api/v1`, `/api`) with what every route of both carries: its
/// matched route remembered for the log line and the metrics, and the statement counter
/// behind `X-Query-Count`, `Server-Timing` and the query budget. Called once the face's
/// routes and fallbacks are in place, as `route_layer` only wraps routes present then.
pub fn counted_face(routes: Router<AppState>, state: AppState) -> Router<AppState> {
    routes
        .route_layer(middleware::from_fn(remember_route))
        .layer(middleware::from_fn_with_state(state, count_statements))
}

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

/// Wraps `router` in every layer between the connection and the routes, outermost first:
/// compression, the drain's `Connection: close` ([`drain`]), the body guard
/// ([`request_body`]), the operational layers listed in the module comment, the head
/// limits (414, 431) and the body limit.
///
/// One `ServiceBuilder`, applied with a single `Router::layer`: each `Router::layer` wraps
/// every route in a boxed service that a request clones and whose future it boxes, so
/// six of them cost every request six clones and six boxed futures more than one
/// (bench/README.md, "Profile of the common path").
///
/// The body guard and the drain are outside the timeout, so that a request answered by
/// the timeout layer still says `Connection: close` when its body was left unread, or when
/// the server drains.
pub fn layers(router: Router, state: &AppState) -> Router {
    let timeout = state.settings.request_timeout;
    router.layer(
        ServiceBuilder::new()
            .layer(crate::compression())
            .layer(middleware::from_fn_with_state(
                state.clone(),
                drain::close_while_draining,
            ))
            .layer(middleware::from_fn_with_state(
                state.clone(),
                request_body::guard,
            ))
            .map_request(drop_unusable_request_id)
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(request_span)
                    .on_request(())
                    .on_response(log_response)
                    // `log_response` already logs a 5xx, with its cause.
                    .on_failure(()),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(middleware::from_fn_with_state(
                state.metrics.clone(),
                measure,
            ))
            .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                AppError::unavailable("timeout", "The request took too long and was stopped.")
            }))
            .timeout(timeout)
            .layer(middleware::from_fn(head_limits::refuse_oversized_head))
            .layer(DefaultBodyLimit::max(request_body::BODY_LIMIT)),
    )
}

/// Removes a client's `X-Request-Id` that would be a poor log key (empty, over 128 bytes,
/// or holding spaces or control characters), so that the request gets a UUID instead.
fn drop_unusable_request_id(mut req: Request) -> Request {
    let usable = req.headers().get(&REQUEST_ID).is_none_or(|v| {
        let v = v.as_bytes();
        !v.is_empty() && v.len() <= 128 && v.iter().all(|b| b.is_ascii_graphic())
    });
    if !usable {
        req.headers_mut().remove(&REQUEST_ID);
    }
    req
}

/// The longest path a log line repeats; a longer one is cut, marked with `…`.
const LOGGED_PATH_CHARS: usize = 200;

/// The span of one request: its id, method and path now, its route once it is known (the
/// path says what an unmatched request asked for; the route groups the matched ones).
fn request_span<B>(req: &axum::http::Request<B>) -> Span {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let path = req.uri().path();
    // Borrowed unless cut: the span formats it at once, so a copy would only be freed.
    let path: std::borrow::Cow<'_, str> = match path.char_indices().nth(LOGGED_PATH_CHARS) {
        Some((cut, _)) => format!("{}…", &path[..cut]).into(),
        None => path.into(),
    };
    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %path, route = tracing::field::Empty)
}

/// The label of the route `res` answered for.
fn route_of(res: &Response) -> &str {
    res.extensions()
        .get::<RouteLabel>()
        .map(|r| r.0.as_str())
        // Every route the application serves is matched (the API, `/metrics`, `/docs`);
        // anything else shares one label, or each path a client invents would add series.
        .unwrap_or("unmatched")
}

/// The request's log line: route, status, latency and statements; a 5xx at error level
/// with its internal cause.
fn log_response<B>(res: &axum::http::Response<B>, latency: Duration, span: &Span) {
    let route = res
        .extensions()
        .get::<RouteLabel>()
        .map_or("unmatched", |r| r.0.as_str());
    span.record("route", route);
    let statements = res.extensions().get::<Statements>().map_or(0, |s| s.0);
    let (read_server, read_wait_ms) = match res.extensions().get::<ReadServer>() {
        Some(ReadServer(server, wait)) => (
            Some(server.as_str()),
            Some((wait.as_secs_f64() * 1_000_000.0).round() / 1000.0),
        ),
        None => (None, None),
    };
    let status = res.status().as_u16();
    // Microseconds are as fine as a log reader needs (`0.631`, not `0.6314820000000001`).
    let latency_ms = (latency.as_secs_f64() * 1_000_000.0).round() / 1000.0;
    if res.status().is_server_error() {
        let cause = res
            .extensions()
            .get::<InternalCause>()
            .map(|c| c.0.as_str())
            .unwrap_or_default();
        tracing::error!(status, latency_ms, statements, read_server, read_wait_ms, %route, %cause, "request failed");
    } else {
        tracing::info!(status, latency_ms, statements, read_server, read_wait_ms, %route, "request");
    }
}

/// Opens the request's statement counter and records the answered request in the metrics.
async fn measure(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    // Only a GET without credentials may read as stale as RELATA_REPLICA_MAX_LAG_MS:
    // whoever signs in sees every write, their own and a revocation of their token, and
    // what a login or a registration checks is never stale.
    let anonymous = matches!(method, Method::GET | Method::HEAD)
        && !req.headers().contains_key(header::AUTHORIZATION)
        && !req.headers().contains_key(header::COOKIE);
    let (mut res, stats) = crate::store::with_stats(async {
        if anonymous && let Some(stats) = crate::store::current_stats() {
            stats.allow_lag();
        }
        next.run(req).await
    })
    .await;
    let statements = stats.statements();
    if let Some(server) = stats.read_server() {
        res.extensions_mut()
            .insert(ReadServer(server, stats.read_wait()));
    }
    metrics.record(
        method.as_str(),
        route_of(&res),
        res.status().as_u16(),
        started.elapsed(),
        statements,
    );
    res.extensions_mut().insert(Statements(statements));
    res
}

/// `GET /metrics`.
pub async fn get_metrics(State(state): State<AppState>) -> Response {
    let body = state.metrics.render(&state.store);
    let mut res = body.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}

/// Reads the request's statement counter (opened by [`measure`]), reports them in `X-Query-Count` and
/// `Server-Timing`, and enforces the query budget that the handler declared.
pub async fn count_statements(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // The route is only named when the budget is exceeded: the matched route (a shared
    // string) is kept, the path copied only for a request that matched none.
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let unmatched_path = matched.is_none().then(|| req.uri().path().to_string());
    let method = req.method().clone();
    let mut res = next.run(req).await;
    let Some(stats) = crate::store::current_stats() else {
        return res;
    };
    let used = stats.statements();
    if let Some(budget) = stats.budget()
        && used > budget
        && method == Method::GET
    {
        let route = matched
            .as_ref()
            .map_or(unmatched_path.as_deref().unwrap_or_default(), |p| {
                p.as_str()
            });
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
    let mut timing = format!("db;dur={ms:.3}");
    if let Some(server) = stats.read_server() {
        // Which server the reads went to and the wait to choose it (read replicas).
        let wait = stats.read_wait().as_secs_f64() * 1000.0;
        timing.push_str(&format!(", read;desc=\"{server}\";dur={wait:.3}"));
    }
    if let Ok(v) = HeaderValue::from_str(&timing) {
        headers.insert("server-timing", v);
    }
    res
}
