//! `GET /docs`: the interactive API page (`GET /` redirects to it). Its HTML, script and
//! style are compiled into the binary (no CDN), and it renders the document served at
//! `/api/v1/openapi.json`.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::state::AppState;

const INDEX: &str = include_str!("../../assets/docs/index.html");
const SCRIPT: &str = include_str!("../../assets/docs/docs.js");
const STYLE: &str = include_str!("../../assets/docs/docs.css");

/// The documentation page and its assets.
pub fn router() -> Router<AppState> {
    Router::new()
        // A browser opening the bare address finds the documentation.
        .route("/", get(|| async { Redirect::temporary("/docs") }))
        .route("/docs", get(get_docs_page))
        .route(
            "/docs/docs.js",
            get(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/docs/docs.css",
            get(|| async { asset(STYLE, "text/css; charset=utf-8") }),
        )
}

/// The page itself.
#[utoipa::path(get, path = "/docs", tag = "docs",
    summary = "The interactive API documentation page",
    description = "Renders `/api/v1/openapi.json` and sends requests from the browser. Its script and style are served by the binary, so it works offline.",
    responses((status = 200, description = "The HTML page", content_type = "text/html")))]
pub async fn get_docs_page() -> Response {
    asset(INDEX, "text/html; charset=utf-8")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut res = body.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}
