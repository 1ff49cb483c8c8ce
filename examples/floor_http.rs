//! The benchmark's HTTP floor: a bare axum server that answers every request with bytes
//! captured from the real server, so that wrk against it measures HTTP, routing and the
//! load generator itself, and nothing of Relata.
//!
//! `floor_http ADDR DIR` serves `DIR/<name>.json` at `/<name>` (any method): 201 for a
//! POST (with a `Location`, as Relata answers a creation), 200 otherwise. The bodies are
//! read once at start-up. The response carries the same extra headers as Relata's
//! (`X-Query-Count`, `Server-Timing`, `X-Request-Id`) so that the bytes on the wire are
//! the same size.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::serve::ListenerExt;

type Bodies = Arc<HashMap<String, Bytes>>;

async fn answer(
    State(bodies): State<Bodies>,
    method: Method,
    Path(name): Path<String>,
) -> Response {
    let Some(body) = bodies.get(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let status = if method == Method::POST {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut res = (status, body.clone()).into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert("x-query-count", HeaderValue::from_static("5"));
    headers.insert("server-timing", HeaderValue::from_static("db;dur=0.123"));
    headers.insert(
        "x-request-id",
        HeaderValue::from_static("00000000-0000-0000-0000-000000000000"),
    );
    if method == Method::POST {
        headers.insert(
            header::LOCATION,
            HeaderValue::from_static("/api/v1/posts/1"),
        );
    }
    res
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(dir)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: floor_http ADDR DIR (serves DIR/<name>.json at /<name>)");
    };
    let mut bodies = HashMap::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            bodies.insert(stem.to_string(), Bytes::from(std::fs::read(&path)?));
        }
    }
    eprintln!("floor_http: {} bodies from {dir} on {addr}", bodies.len());
    let app = Router::new()
        .route("/{name}", any(answer))
        .with_state(Arc::new(bodies));
    // Relata sets TCP_NODELAY on every connection; so does the floor.
    let listener = tokio::net::TcpListener::bind(&addr).await?.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await?;
    Ok(())
}
