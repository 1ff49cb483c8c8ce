//! The token of an `Authorization` header, read the same way on both faces: each names
//! the schemes it takes and answers a header of another form with its own 401.

use axum::http::header;
use axum::http::request::Parts;

/// An `Authorization` header that is not `<scheme> <token>` with one of the schemes
/// asked for, or whose token is empty.
pub struct Malformed;

/// The token of `Authorization: <scheme> <token>` for one of `schemes` (compared
/// case-insensitively); `None` when no such header was sent.
pub fn token<'a>(parts: &'a Parts, schemes: &[&str]) -> Result<Option<&'a str>, Malformed> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            schemes
                .iter()
                .any(|s| scheme.eq_ignore_ascii_case(s))
                .then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
        .map(Some)
        .ok_or(Malformed)
}
