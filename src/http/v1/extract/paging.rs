//! The parameters every GET shares: paging (`limit`, `cursor`, `count`) and expansion
//! (`include`, `counts`, `include_limit`, `viewer`).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Deserialize;

use super::query::{AppQuery, de_bool_flag};
use crate::error::AppError;
use crate::http::state::AppState;

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

/// `include`, `counts`, `include_limit` and `viewer` as a GET sent them (read as
/// [`AppQuery`] reads them, 400 when they do not parse), with the most objects its answer
/// may hold (`RELATA_MAX_RESPONSE_ITEMS`).
#[derive(Debug)]
pub struct IncludeQuery {
    pub params: IncludeParams,
    pub ceiling: u64,
}

impl FromRequestParts<AppState> for IncludeQuery {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let AppQuery(params) = AppQuery::from_request_parts(parts, state).await?;
        Ok(IncludeQuery {
            params,
            ceiling: state.settings.max_response_items,
        })
    }
}

/// The query of every list: its paging, then its expansion (400 for either, paging
/// first).
#[derive(Debug)]
pub struct ListQuery {
    pub list: ListParams,
    pub include: IncludeQuery,
}

impl FromRequestParts<AppState> for ListQuery {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let AppQuery(list) = AppQuery::from_request_parts(parts, state).await?;
        let include = IncludeQuery::from_request_parts(parts, state).await?;
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
