//! `/tags`: every tag, by name in code-point order, with `counts=posts`. A tag's posts
//! are `/tags/{name}/posts` (in `api::posts`, with the other post lists).

use crate::http::common::json::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

use crate::error::Result;
use crate::http::state::AppState;
use crate::http::v1::extract::{ListParams, ListQuery, MaybeAuthUser};
use crate::http::v1::openapi::parts::{CallerErrors, TagIncludes, TagPage};
use crate::http::v1::respond::ListRead;
use crate::relations::Resource;
use crate::service::tags;
use crate::store::page::ListScope;
use crate::wire::item::{Item, Page};
use crate::wire::repr::{TagOut, order};

pub fn router() -> Router<AppState> {
    Router::new().route("/tags", get(list_tags))
}

/// Tags by name.
#[utoipa::path(get, path = "/api/v1/tags", tag = "tags",
    summary = "List tags by name",
    security((), ("bearer" = [])),
    params(ListParams, TagIncludes),
    responses(
        (status = 200, description = "A page of tags", body = TagPage),
        CallerErrors,
    ))]
pub async fn list_tags(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    query: ListQuery,
) -> Result<Json<Page>> {
    let read = ListRead::prepare(
        Resource::Tag,
        order::tags(),
        ListScope::new("/tags"),
        &query,
        viewer.as_ref(),
    )?;
    let handle = state.db();
    let db = handle.read()?;
    let fetched = tags::list(&db, &read.page).await?;
    read.respond(&db, fetched, |tag| Item::from(TagOut::from(&tag)))
        .await
}
