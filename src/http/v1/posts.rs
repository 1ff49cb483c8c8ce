//! Posts: `/posts`, `/posts/{id}`, and the lists of posts reached through a relationship:
//! `/users/{id}/posts`, `/tags/{name}/posts` and the caller's `/feed`.
//!
//! Mutating handlers follow SPEC §3's order: the token (401) and the body's form
//! (415/413/400) are checked by the extractors, then the post is found (404), then the
//! caller is authorized (403), and only then are the fields validated (422).

use crate::http::common::json::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::domain::tag_name::{TagList, TagName};
use crate::domain::text::{Content, Description, Title};
use crate::entity::{post, user};
use crate::error::{FieldErrors, Result};
use crate::http::state::AppState;
use crate::http::v1::extract::{
    AppPath, AppQuery, AuthUser, DryRunParams, Id, IncludeQuery, JsonBody, ListParams, ListQuery,
    MaybeAuthUser, PendingUser, non_null, required, search_text,
};
use crate::http::v1::openapi::parts::{
    BodyErrors, CallerErrors, GuardedRowErrors, PostIncludes, PostPage, PostPath, RowErrors,
    TagPath, UserPath,
};
use crate::http::v1::respond::{ListRead, OneRead, created};
use crate::relations::{Find, Resource};
use crate::service::lookup;
use crate::service::posts::{self, NewPost, PostAction, PostChanges, PostFilter};
use crate::service::tags;
use crate::wire::item::{Item, Page};
use crate::wire::repr::{CascadePreview, PostOut, order};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/posts", get(list_posts).post(create_post))
        .route(
            "/posts/{id}",
            get(get_post).patch(update_post).delete(delete_post),
        )
        .route("/users/{id}/posts", get(list_user_posts))
        .route("/tags/{name}/posts", get(list_tag_posts))
        .route("/feed", get(list_feed))
}

fn post_item(post: &post::Model) -> Item {
    Item::from(PostOut::from(post))
}

/// The filters `/posts` and `/users/{id}/posts` take.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PostFilterParams {
    /// Only this author's posts (an id naming no user gives an empty list).
    #[param(value_type = Option<i64>, minimum = 1)]
    pub author_id: Option<Id>,
    /// Case-insensitive title substring; empty means no filter.
    pub q: Option<String>,
    /// Only posts with this tag (trimmed and lower-cased; a name no tag has gives an
    /// empty list).
    pub tag: Option<String>,
    /// Only posts this user favorited.
    #[param(value_type = Option<i64>, minimum = 1)]
    pub favorited_by: Option<Id>,
}

impl PostFilterParams {
    /// The filter, or 400 for a `q` longer than any title.
    fn into_filter(self) -> Result<PostFilter> {
        Ok(PostFilter {
            author_id: self.author_id.map(|Id(id)| id),
            title_contains: search_text(self.q, Title::MAX_CHARS)?,
            tagged: self.tag.into_iter().collect(),
            favorited_by: self.favorited_by.map(|Id(id)| id),
            followed_by: None,
        })
    }
}

/// `tags` of a POST or PATCH: every name valid, at most 10, none twice (422 naming
/// `tags`).
fn parse_tags(raw: Vec<String>) -> std::result::Result<TagList, String> {
    TagList::parse(&raw)
}

/// `description` of a POST or PATCH, when given: at most 1 000 characters (422 naming
/// `description`).
fn parse_description(raw: Option<String>) -> std::result::Result<Option<Description>, String> {
    raw.as_deref().map(Description::parse).transpose()
}

/// `POST /posts`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePostRequest {
    /// 1–200 characters after trimming; stored trimmed.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200)]
    pub title: Option<String>,
    /// At most 100 000 characters; may be empty.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, required = true, max_length = 100000)]
    pub content: Option<String>,
    /// At most 1 000 characters; empty when absent.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, required = false, max_length = 1000)]
    pub description: Option<String>,
    /// Tag names in the order to show them: at most 10, each
    /// `^[a-z0-9][a-z0-9_.+#-]{0,49}$` once trimmed and lower-cased, none twice.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = Vec<String>, required = false, max_items = 10)]
    pub tags: Option<Vec<String>>,
}

impl CreatePostRequest {
    fn validate(self, mut errors: FieldErrors) -> Result<NewPost> {
        let title = errors.check("title", required(self.title).and_then(|t| Title::parse(&t)));
        let content = errors.check(
            "content",
            required(self.content).and_then(|c| Content::parse(&c)),
        );
        let description = errors.check("description", parse_description(self.description));
        let tags = errors.check("tags", parse_tags(self.tags.unwrap_or_default()));
        errors
            .finish(title.zip(content).zip(description.zip(tags)))
            .map(|((title, content), (description, tags))| NewPost {
                title,
                description,
                content,
                tags,
            })
    }
}

/// `PATCH /posts/{id}`: any subset of the fields.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePostRequest {
    /// 1–200 characters after trimming; stored trimmed.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, required = false, min_length = 1, max_length = 200)]
    pub title: Option<String>,
    /// At most 100 000 characters.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, required = false, max_length = 100000)]
    pub content: Option<String>,
    /// At most 1 000 characters.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, required = false, max_length = 1000)]
    pub description: Option<String>,
    /// The post's tags, replacing all it had: `[]` removes them; absent keeps them;
    /// `null` is 422.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = Vec<String>, required = false, max_items = 10)]
    pub tags: Option<Vec<String>>,
}

impl UpdatePostRequest {
    fn validate(self, mut errors: FieldErrors) -> Result<PostChanges> {
        let title = errors.check("title", self.title.as_deref().map(Title::parse).transpose());
        let content = errors.check(
            "content",
            self.content.as_deref().map(Content::parse).transpose(),
        );
        let description = errors.check("description", parse_description(self.description));
        let tags = errors.check("tags", self.tags.map(parse_tags).transpose());
        errors
            .finish(title.zip(content).zip(description.zip(tags)))
            .map(|((title, content), (description, tags))| PostChanges {
                title,
                description,
                content,
                tags,
            })
    }
}

/// `GET /posts`: newest first; `author_id`, `q`.
#[utoipa::path(get, path = "/api/v1/posts", tag = "posts",
    summary = "List posts, newest first",
    security((), ("bearer" = [])),
    params(ListParams, PostIncludes, PostFilterParams),
    responses(
        (status = 200, description = "A page of posts", body = PostPage),
        CallerErrors,
    ))]
pub async fn list_posts(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    query: ListQuery,
    AppQuery(filter): AppQuery<PostFilterParams>,
) -> Result<Json<Page>> {
    let filter = filter.into_filter()?;
    let read = ListRead::prepare(
        Resource::Post,
        order::posts(),
        filter.scope("/posts"),
        &query,
        viewer.as_ref(),
    )?;
    let handle = state.db();
    let db = handle.read()?;
    let fetched = posts::list(&db, None, &filter, &read.page).await?;
    read.respond(&db, fetched, |p| post_item(&p)).await
}

/// `GET /users/{id}/posts`: that user's posts, filtered and paged in the database like
/// `/posts` (an `author_id` naming someone else as well selects nothing).
#[utoipa::path(get, path = "/api/v1/users/{id}/posts", tag = "posts",
    summary = "List a user's posts, newest first",
    security((), ("bearer" = [])),
    params(UserPath, ListParams, PostIncludes, PostFilterParams),
    responses(
        (status = 200, description = "A page of the user's posts", body = PostPage),
        RowErrors,
    ))]
pub async fn list_user_posts(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    AppPath(Id(user_id)): AppPath<Id>,
    query: ListQuery,
    AppQuery(filter): AppQuery<PostFilterParams>,
) -> Result<Json<Page>> {
    let filter = filter.into_filter()?;
    let read = ListRead::prepare(
        Resource::Post,
        order::posts(),
        filter.scope(format!("/users/{user_id}/posts")),
        &query,
        viewer.as_ref(),
    )?;
    let handle = state.db();
    let db = handle.read()?;
    lookup::require::<user::Entity>(&db, user_id, "User").await?;
    let fetched = posts::list(&db, Some(user_id), &filter, &read.page).await?;
    read.respond(&db, fetched, |p| post_item(&p)).await
}

/// `GET /tags/{name}/posts`: the tag's posts, newest first, filtered like `/posts`.
#[utoipa::path(get, path = "/api/v1/tags/{name}/posts", tag = "tags",
    summary = "List a tag's posts, newest first",
    description = "`name` is trimmed and lower-cased; a name naming no tag is 404.",
    security((), ("bearer" = [])),
    params(TagPath, ListParams, PostIncludes, PostFilterParams),
    responses(
        (status = 200, description = "A page of the tag's posts", body = PostPage),
        RowErrors,
    ))]
pub async fn list_tag_posts(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    AppPath(name): AppPath<String>,
    query: ListQuery,
    AppQuery(filter): AppQuery<PostFilterParams>,
) -> Result<Json<Page>> {
    let mut filter = filter.into_filter()?;
    let read = ListRead::prepare(
        Resource::Post,
        order::posts(),
        filter.scope(format!("/tags/{}/posts", TagName::normalize(&name))),
        &query,
        viewer.as_ref(),
    )?;
    let handle = state.db();
    let db = handle.read()?;
    let tag = tags::find_by_name(&db, &name).await?;
    // The path's tag and a `tag` filter both apply.
    filter.tagged.push(tag.name);
    let fetched = posts::list(&db, None, &filter, &read.page).await?;
    read.respond(&db, fetched, |p| post_item(&p)).await
}

/// `GET /feed`: posts by the users the caller follows, newest first.
#[utoipa::path(get, path = "/api/v1/feed", tag = "posts",
    summary = "List the posts of the users the caller follows, newest first",
    security(("bearer" = [])),
    params(ListParams, PostIncludes, PostFilterParams),
    responses(
        (status = 200, description = "A page of the caller's feed", body = PostPage),
        CallerErrors,
    ))]
pub async fn list_feed(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    query: ListQuery,
    AppQuery(filter): AppQuery<PostFilterParams>,
) -> Result<Json<Page>> {
    let mut filter = filter.into_filter()?;
    filter.followed_by = Some(viewer.id);
    let read = ListRead::prepare(
        Resource::Post,
        order::posts(),
        filter.scope("/feed"),
        &query,
        Some(&viewer),
    )?;
    let handle = state.db();
    let db = handle.read()?;
    let fetched = posts::list(&db, None, &filter, &read.page).await?;
    read.respond(&db, fetched, |p| post_item(&p)).await
}

/// `POST /posts`: the caller is the author.
#[utoipa::path(post, path = "/api/v1/posts", tag = "posts",
    summary = "Write a post",
    security(("bearer" = [])),
    request_body = CreatePostRequest,
    responses(
        (status = 201, description = "The new post", body = PostOut,
            headers(("Location" = String, description = "`/api/v1/posts/{id}`"))),
        CallerErrors, BodyErrors,
    ))]
pub async fn create_post(
    State(state): State<AppState>,
    PendingUser(token): PendingUser,
    body: Result<JsonBody>,
) -> Result<Response> {
    let mut db = state.db();
    let new = body.and_then(|body| {
        body.parse::<CreatePostRequest>()?
            .check(CreatePostRequest::validate)
    });
    let new = match new {
        Ok(new) => new,
        Err(refused) => {
            // 401 before the body's refusal.
            token.check(&db.read()?).await?;
            return Err(refused);
        }
    };
    // The token is checked with the write: on PostgreSQL inside its statement.
    let (_, post) = posts::create_for_token(&mut db, token, new).await?;
    Ok(created(
        format!("/api/v1/posts/{}", post.id),
        post_item(&post),
    ))
}

/// `GET /posts/{id}`.
#[utoipa::path(get, path = "/api/v1/posts/{id}", tag = "posts",
    summary = "Read a post",
    security((), ("bearer" = [])),
    params(PostPath, PostIncludes),
    responses(
        (status = 200, description = "The post", body = PostOut),
        RowErrors,
    ))]
pub async fn get_post(
    State(state): State<AppState>,
    MaybeAuthUser(viewer): MaybeAuthUser,
    AppPath(Id(id)): AppPath<Id>,
    include: IncludeQuery,
) -> Result<Json<Item>> {
    let read = OneRead::prepare(Resource::Post, &include, viewer.as_ref())?;
    let handle = state.db();
    let db = handle.read()?;
    read.respond_found(&db, Find::id(Resource::Post, id), "Post", |post| {
        post_item(&post)
    })
    .await
}

/// `PATCH /posts/{id}`: the author or an admin.
#[utoipa::path(patch, path = "/api/v1/posts/{id}", tag = "posts",
    summary = "Change a post",
    security(("bearer" = [])),
    params(PostPath),
    request_body = UpdatePostRequest,
    responses(
        (status = 200, description = "The changed post", body = PostOut),
        GuardedRowErrors, BodyErrors,
    ))]
pub async fn update_post(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    AppPath(Id(id)): AppPath<Id>,
    body: JsonBody,
) -> Result<Json<Item>> {
    let post = posts::find(&state.db().read()?, id).await?;
    posts::authorize(&viewer, PostAction::Edit, &post)?;
    let changes = body
        .parse::<UpdatePostRequest>()?
        .check(UpdatePostRequest::validate)?;
    let post = posts::update(state.db().write().await, post, changes).await?;
    Ok(Json(post_item(&post)))
}

/// `DELETE /posts/{id}`: the author, a moderator or an admin; its comments go with it.
/// With `dry_run=true`, the same checks, nothing deleted, and what would go.
#[utoipa::path(delete, path = "/api/v1/posts/{id}", tag = "posts",
    summary = "Delete a post and its comments",
    security(("bearer" = [])),
    params(PostPath, DryRunParams),
    responses(
        (status = 200, description = "With `dry_run=true`: what the delete would do, per table", body = CascadePreview),
        (status = 204, description = "Deleted"),
        GuardedRowErrors,
    ))]
pub async fn delete_post(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    AppPath(Id(id)): AppPath<Id>,
    AppQuery(params): AppQuery<DryRunParams>,
) -> Result<Response> {
    let post = posts::find(&state.db().read()?, id).await?;
    posts::authorize(&viewer, PostAction::Delete, &post)?;
    if params.dry_run {
        let preview = posts::deletion_preview(&state.db().write().await, &post).await?;
        return Ok(Json(preview).into_response());
    }
    posts::delete(&state.db().write().await, &post).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
