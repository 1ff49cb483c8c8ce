//! `/api/tags`: every tag that some article has.

use crate::http::common::json::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

use super::error::Result;
use super::view::TagList;
use crate::http::state::AppState;
use crate::service::tags;

pub fn router() -> Router<AppState> {
    Router::new().route("/tags", get(list_tags))
}

/// Every tag that at least one article has, by name (code-point order).
#[utoipa::path(get, path = "/api/tags", tag = "conduit", operation_id = "conduit_list_tags",
    summary = "Conduit: the tags in use",
    responses((status = 200, description = "The tags, by name", body = TagList)))]
pub async fn list_tags(State(state): State<AppState>) -> Result<Json<TagList>> {
    crate::store::set_budget(1);
    let tags = tags::names_in_use(&state.db().read()?).await?;
    Ok(Json(TagList { tags }))
}
