//! `GET /docs`: Swagger UI, the interactive page users know, rendering the document served
//! at `/api/v1/openapi.json`. Its files are compiled into the binary (`utoipa-swagger-ui`
//! with `vendored`: not even the build downloads them), so the page works offline.
//! `GET /` redirects to it.

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use utoipa_swagger_ui::Config;

use crate::error::AppError;
use crate::http::state::AppState;

/// The page's settings: our document, "Try it out" open, and the token kept across reloads.
/// No validator: Swagger UI's default sends the document's URL to validator.swagger.io,
/// which leaks the host name to a third party and shows a broken badge offline.
static CONFIG: LazyLock<Arc<Config<'static>>> = LazyLock::new(|| {
    Arc::new(
        Config::new(["/api/v1/openapi.json"])
            .validator_url("none")
            .try_it_out_enabled(true)
            .persist_authorization(true)
            .display_request_duration(true),
    )
});

/// The documentation page and its files.
pub fn router() -> Router<AppState> {
    Router::new()
        // A browser opening the bare address finds the documentation.
        .route("/", get(|| async { Redirect::temporary("/docs") }))
        .route("/docs", get(get_docs_page))
        .route("/docs/", get(|| docs_file(String::new())))
        .route(
            "/docs/{*file}",
            get(|Path(file): Path<String>| docs_file(file)),
        )
}

/// The page itself, at `/docs/` (its files are addressed relative to that).
#[utoipa::path(get, path = "/docs", tag = "docs",
    summary = "The interactive API documentation page (Swagger UI)",
    description = "Redirects to `/docs/`, which renders `/api/v1/openapi.json` and sends requests from the browser. Its script and style are served by the binary, so it works offline.",
    responses((status = 303, description = "To `/docs/`, the HTML page")))]
pub async fn get_docs_page() -> Redirect {
    Redirect::to("/docs/")
}

/// One file of Swagger UI (`index.html` for the empty name).
async fn docs_file(file: String) -> Response {
    match utoipa_swagger_ui::serve(&file, CONFIG.clone()) {
        Ok(Some(found)) => {
            let mut res = (StatusCode::OK, found.bytes.into_owned()).into_response();
            if let Ok(kind) = HeaderValue::from_str(&found.content_type) {
                res.headers_mut().insert(header::CONTENT_TYPE, kind);
            }
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            res
        }
        Ok(None) => AppError::not_found("Documentation file").into_response(),
        Err(err) => AppError::internal(anyhow::anyhow!("serving {file}: {err}")).into_response(),
    }
}
