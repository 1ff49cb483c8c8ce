//! The parameters every GET shares: paging (`limit`, `cursor`, `count`) and expansion
//! (`include`, `counts`, `include_limit`, `viewer`).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Deserialize;

use super::query::{AppQuery, de_bool_flag};
use crate::error::AppError;

/// `include`, `counts`, `include_limit` and `viewer`, taken by every GET.
#[derive(Debug, Default, Deserialize)]
pub struct IncludeParams {
    pub include: Option<String>,
    pub counts: Option<String>,
    pub include_limit: Option<String>,
    /// `true` adds the caller's side of the relationships (SPEC §5).
    #[serde(default, deserialize_with = "de_bool_flag")]
    pub viewer: bool,
}

/// Paging parameters of every list: `limit`, `cursor`, `count`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size, 1–100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page (opaque; a tampered one is 400).
    pub cursor: Option<String>,
    /// `true` adds `total`, the size of the whole collection.
    #[serde(default, deserialize_with = "de_bool_flag")]
    #[param(value_type = Option<bool>, default = false)]
    pub count: bool,
}

/// The query of every list: its paging, then its expansion, each read as [`AppQuery`]
/// reads it (400 for either, paging first).
#[derive(Debug, Default)]
pub struct ListQuery {
    pub list: ListParams,
    pub include: IncludeParams,
}

impl<S: Send + Sync> FromRequestParts<S> for ListQuery {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let AppQuery(list) = AppQuery::from_request_parts(parts, state).await?;
        let AppQuery(include) = AppQuery::from_request_parts(parts, state).await?;
        Ok(ListQuery { list, include })
    }
}

/// Default page size.
pub const DEFAULT_LIMIT: u64 = 20;
/// Largest page size.
pub const MAX_LIMIT: u64 = 100;

/// Parses an integer parameter in `1..=max`, answering 400 naming the parameter.
pub fn parse_bounded(
    name: &str,
    raw: Option<&str>,
    default: u64,
    max: u64,
) -> Result<u64, AppError> {
    match raw {
        None => Ok(default),
        Some(s) => match s.trim().parse::<u64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(AppError::bad_request(
                "invalid_query",
                format!("`{name}` must be an integer from 1 to {max}."),
            )),
        },
    }
}

impl ListParams {
    /// The page size, 1–100 (default 20).
    pub fn limit(&self) -> Result<u64, AppError> {
        parse_bounded("limit", self.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)
    }
}
