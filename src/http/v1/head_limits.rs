//! Limits on a request's head (its URL and headers), checked before routing so that an
//! overlong URL is 414 and too many or too large headers are 431, as problem+json like
//! every other error.
//!
//! hyper refuses what is past its own parser limits with a bare status line and no body;
//! those limits are set above ours (see [`HYPER_MAX_HEADERS`]) so that hyper only answers
//! bare where our answer could not be reached: a URL over hyper's fixed 64 KiB
//! (`u16::MAX - 1` bytes), more than [`HYPER_MAX_HEADERS`] headers, or a head larger than
//! hyper's read buffer (about 400 KiB).

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// Longest URL (path and query) we answer: 32 KiB. The longest valid request is far
/// shorter (a 1 024-character cursor, 32 include paths, a 200-character `q`).
pub const MAX_URL_BYTES: usize = 32 * 1024;
/// Most header fields a request may carry.
pub const MAX_HEADERS: usize = 100;
/// Largest total size of the header fields (names and values): 32 KiB.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// hyper's own header count limit (HTTP/1), above [`MAX_HEADERS`] so that a request with
/// somewhat too many headers reaches our check and gets a problem+json 431.
pub const HYPER_MAX_HEADERS: usize = 4 * MAX_HEADERS;

/// Answers 414 or 431 for a head past the limits; otherwise passes the request on.
pub async fn refuse_oversized_head(req: Request, next: Next) -> Response {
    let url_bytes = req
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().len())
        .unwrap_or(0);
    if url_bytes > MAX_URL_BYTES {
        return AppError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("The URL is {url_bytes} bytes long; at most {MAX_URL_BYTES} are accepted."),
        )
        .into_response();
    }
    let headers = req.headers();
    if headers.len() > MAX_HEADERS {
        return too_large_headers(format!(
            "The request has {} header fields; at most {MAX_HEADERS} are accepted.",
            headers.len()
        ));
    }
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return too_large_headers(format!(
            "The request's header fields hold {header_bytes} bytes; at most {MAX_HEADER_BYTES} are accepted."
        ));
    }
    next.run(req).await
}

fn too_large_headers(detail: String) -> Response {
    AppError::new(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "headers_too_large",
        detail,
    )
    .into_response()
}
