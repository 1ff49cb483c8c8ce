//! `/tags`: every tag, by name in code-point order. A tag's posts are
//! `/tags/{name}/posts` (in `api::posts`, with the other post lists).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::Value;

use crate::api::extract::{AppQuery, IncludeParams, ListParams, MaybeAuthUser};
use crate::api::openapi::parts::{BadRequest, TagPage, Unauthorized};
use crate::api::respond::PlainListRead;
use crate::error::Result;
use crate::service::repr::{self, TagOut, order};
use crate::service::tags;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/tags", get(list_tags))
}

/// Tags by name.
#[utoipa::path(get, path = "/api/v1/tags", tag = "tags",
    summary = "List tags by name",
    security((), ("bearer" = [])),
    params(ListParams),
    responses(
        (status = 200, description = "A page of tags", body = TagPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    ))]
pub async fn list_tags(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    AppQuery(list): AppQuery<ListParams>,
    AppQuery(include): AppQuery<IncludeParams>,
) -> Result<Json<Value>> {
    let read = PlainListRead::prepare(order::tags(), &list, &include, viewer.is_some())?;
    let fetched = tags::list(&state.db, &read.page).await?;
    Ok(read.respond(fetched, |tag| repr::item(&TagOut::from(&tag))))
}
