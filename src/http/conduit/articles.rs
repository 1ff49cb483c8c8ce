//! `/api/articles`: lists (offset-paged, with the filters `tag`, `author`, `favorited`),
//! the feed, one article, writing, and favoriting; over `service::posts`,
//! `service::favorites` and the include loader of `relations`.

use crate::http::common::json::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;

use super::error::{ConduitError, ErrorsBody, Refusals, Result};
use super::extract::{
    Auth, Body, ConduitPath, ConduitQuery, Given, MaybePending, Pending, filter_text,
};
use super::view::{self, ArticleBody, ArticleList};
use crate::domain::tag_name::TagList;
use crate::domain::text::{Content, Description, Title};
use crate::domain::viewer::Viewer;
use crate::entity::post;
use crate::http::state::AppState;
use crate::service::favorites;
use crate::service::posts::{self, ByUsername, NewPost, PostAction, PostChanges, PostFilter};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/articles", get(list_articles).post(create_article))
        .route("/articles/feed", get(feed_articles))
        .route(
            "/articles/{slug}",
            get(get_article).put(update_article).delete(delete_article),
        )
        .route(
            "/articles/{slug}/favorite",
            post(favorite_article).delete(unfavorite_article),
        )
}

/// The statements of a list read: the count and the page, then the authors (with the
/// viewer's `following`), tags and favorite counts, and with a token the token check and
/// the viewer's favorites.
fn list_budget(token: bool) -> usize {
    5 + 2 * usize::from(token)
}

/// The statements of one article's read: the article with its author, the author's
/// profile, favorite count and the viewer's marks (`view::article_by_slug`), then its
/// tags, and with a token the token check.
fn one_budget(token: bool) -> usize {
    2 + usize::from(token)
}

/// `limit` and `offset`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// 1–100, default 20.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// 0 or more, default 0.
    #[param(value_type = Option<u32>, minimum = 0, maximum = 2147483647)]
    pub offset: Option<String>,
}

/// The filters of `GET /api/articles`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ArticleFilter {
    /// Articles with this tag.
    pub tag: Option<String>,
    /// Articles by this user (a username, case-insensitive).
    pub author: Option<String>,
    /// Articles this user favorited (a username, case-insensitive).
    pub favorited: Option<String>,
}

/// Reads one page of posts and renders it. The token check goes in one flight with the
/// count and the page, and wins over them (401 before a refused filter or paging).
async fn list(
    state: &AppState,
    auth: MaybePending,
    filter: Result<(PostFilter, ByUsername)>,
    paging: std::result::Result<ConduitQuery<Paging>, ConduitError>,
) -> Result<Json<ArticleList>> {
    let handle = state.db();
    let db = handle.read()?;
    let page = async {
        let (filter, by_name) = filter?;
        let ConduitQuery(paging) = paging?;
        let (limit, offset) =
            super::extract::paging(paging.limit.as_deref(), paging.offset.as_deref())?;
        Ok::<_, ConduitError>(posts::list_offset(&db, &filter, &by_name, limit, offset).await?)
    };
    let (caller, (rows, total)) = auth.check_with(&db, page).await?;
    let viewer = caller.as_ref().map(|c| &c.viewer);
    let articles = view::articles(&db, viewer, rows)
        .await?
        .into_iter()
        .map(|(summary, _body)| summary)
        .collect();
    Ok(Json(ArticleList {
        articles,
        articles_count: total,
    }))
}

/// Articles, newest first; items have no `body`.
#[utoipa::path(get, path = "/api/articles", tag = "conduit", operation_id = "conduit_list_articles",
    summary = "Conduit: list articles",
    security((), ("bearer" = [])),
    params(ArticleFilter, Paging),
    responses(
        (status = 200, description = "A page of articles and the number of matches", body = ArticleList),
        (status = 401, description = "A token was sent and does not work", body = ErrorsBody),
        (status = 422, description = "`limit` or `offset` out of range", body = ErrorsBody),
    ))]
pub async fn list_articles(
    State(state): State<AppState>,
    auth: MaybePending,
    filter: std::result::Result<ConduitQuery<ArticleFilter>, ConduitError>,
    page: std::result::Result<ConduitQuery<Paging>, ConduitError>,
) -> Result<Json<ArticleList>> {
    crate::store::set_budget(list_budget(auth.0.is_some()));
    let filter = filter.and_then(|ConduitQuery(filter)| {
        let post_filter = PostFilter {
            tagged: filter_text("tag", filter.tag)?.into_iter().collect(),
            ..Default::default()
        };
        let by_name = ByUsername {
            author: filter_text("author", filter.author)?,
            favorited_by: filter_text("favorited", filter.favorited)?,
        };
        Ok((post_filter, by_name))
    });
    list(&state, auth, filter, page).await
}

/// Articles by the users the caller follows, newest first.
#[utoipa::path(get, path = "/api/articles/feed", tag = "conduit", operation_id = "conduit_feed_articles",
    summary = "Conduit: the caller's feed",
    security(("bearer" = [])),
    params(Paging),
    responses(
        (status = 200, description = "A page of articles and the number of matches", body = ArticleList),
        (status = 401, description = "`token: is missing`", body = ErrorsBody),
        (status = 422, description = "`limit` or `offset` out of range", body = ErrorsBody),
    ))]
pub async fn feed_articles(
    State(state): State<AppState>,
    Pending(pending): Pending,
    page: std::result::Result<ConduitQuery<Paging>, ConduitError>,
) -> Result<Json<ArticleList>> {
    crate::store::set_budget(list_budget(true));
    // Built with the token's user before the check, which the page waits for.
    let filter = PostFilter {
        followed_by: Some(pending.viewer_id()),
        ..Default::default()
    };
    let auth = MaybePending(Some(pending));
    list(&state, auth, Ok((filter, ByUsername::default())), page).await
}

/// The post with this slug, or 404 `article`.
async fn find(state: &AppState, slug: &str) -> Result<post::Model> {
    // The service's 404 ("Post not found.") becomes `article: not found`.
    Ok(posts::find_by_slug(&state.db().read()?, slug).await?)
}

/// One post rendered for `viewer`, read after a write.
async fn render(state: &AppState, viewer: &Viewer, post: post::Model) -> Result<Json<ArticleBody>> {
    Ok(Json(
        view::article(&state.db().read()?, Some(viewer), post).await?,
    ))
}

const BLANK: &str = "can't be blank";

/// `tagList`: each tag trimmed and lower-cased, at most 10, no repeats.
fn tag_list(
    refusals: &mut Refusals,
    given: Given<Vec<String>>,
    on_create: bool,
) -> Option<TagList> {
    match given {
        Given::Absent if on_create => refusals.check("tagList", TagList::parse(&[])),
        Given::Absent => None,
        Given::Null => {
            refusals.reject("tagList", "must be an array of strings, not null");
            None
        }
        Given::Value(names) => refusals.check("tagList", TagList::parse(&names)),
    }
}

/// `POST /api/articles`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewArticle {
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    #[schema(min_length = 1, max_length = 1000)]
    pub description: String,
    #[schema(min_length = 1, max_length = 100000)]
    pub body: String,
    /// Tag names in order: at most 10, none twice.
    #[schema(max_items = 10)]
    pub tag_list: Option<Vec<String>>,
}

/// `{"article": {…}}`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewArticleRequest {
    pub article: NewArticle,
}

/// A new article by the caller, with its tags, in one transaction. The token is checked
/// with the write (on PostgreSQL inside its statement:
/// `posts::create_for_token_with_author`), which also reads the caller's profile, and the
/// answer is made from what the request knows (a new article has no favorites, and its
/// author cannot follow themselves): on PostgreSQL the request is one statement. A body
/// refused is 422 only once the token passed its check (401 first).
#[utoipa::path(post, path = "/api/articles", tag = "conduit", operation_id = "conduit_create_article",
    summary = "Conduit: write an article",
    security(("bearer" = [])),
    request_body = NewArticleRequest,
    responses(
        (status = 201, description = "The new article", body = ArticleBody),
        (status = 401, description = "`token: is missing`", body = ErrorsBody),
        (status = 413, description = "The body is too large", body = ErrorsBody),
        (status = 415, description = "The body is not sent as `application/json`", body = ErrorsBody),
        (status = 422, description = "A field is blank or invalid, or the body is not JSON", body = ErrorsBody),
    ))]
pub async fn create_article(
    State(state): State<AppState>,
    Pending(pending): Pending,
    body: Body,
) -> Result<(StatusCode, Json<ArticleBody>)> {
    let mut handle = state.db();
    let new = match new_article(body) {
        Ok(new) => new,
        Err(refused) => {
            pending.check(&handle.read()?).await?;
            return Err(refused);
        }
    };
    let tag_list = new
        .tags
        .names()
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect();
    let (_, author, created) =
        posts::create_for_token_with_author(&mut handle, pending.into_unchecked(), new).await?;
    Ok((
        StatusCode::CREATED,
        Json(view::new_article(created, tag_list, &author)),
    ))
}

/// The article of `POST /api/articles`' body, or every field's refusal.
fn new_article(body: Body) -> Result<NewPost> {
    let fields = body.fields("article")?;
    let mut refusals = Refusals::default();
    let title = fields.text("title", &mut refusals);
    let description = fields.text("description", &mut refusals);
    let content = fields.text("body", &mut refusals);
    let tags = fields.texts("tagList", &mut refusals);
    let mut required = |field: &str, given: Given<String>| {
        let value = given.non_blank();
        if value.is_none() {
            refusals.reject(field, BLANK);
        }
        value
    };
    let title = required("title", title);
    let description = required("description", description);
    let content = required("body", content);
    let title = title.and_then(|t| refusals.check("title", Title::parse(&t)));
    let description =
        description.and_then(|d| refusals.check("description", Description::parse(&d)));
    let content = content.and_then(|c| refusals.check("body", Content::parse(&c)));
    let tags = tag_list(&mut refusals, tags, true);
    refusals.finish()?;
    let (Some(title), Some(description), Some(content), Some(tags)) =
        (title, description, content, tags)
    else {
        return Err(ConduitError::invalid("article", BLANK));
    };
    Ok(NewPost {
        title,
        description: Some(description),
        content,
        tags,
    })
}

/// One article.
#[utoipa::path(get, path = "/api/articles/{slug}", tag = "conduit", operation_id = "conduit_get_article",
    summary = "Conduit: an article",
    security((), ("bearer" = [])),
    params(("slug" = String, Path)),
    responses(
        (status = 200, description = "The article", body = ArticleBody),
        (status = 401, description = "A token was sent and does not work", body = ErrorsBody),
        (status = 404, description = "`article: not found`", body = ErrorsBody),
    ))]
pub async fn get_article(
    State(state): State<AppState>,
    auth: MaybePending,
    path: std::result::Result<ConduitPath<String>, ConduitError>,
) -> Result<Json<ArticleBody>> {
    crate::store::set_budget(one_budget(auth.0.is_some()));
    let handle = state.db();
    let db = handle.read()?;
    // The marks are read for the token's user before the check, in the same flight; a
    // failed check drops them unseen.
    let viewer_id = auth.viewer_id();
    let find = async {
        let ConduitPath(slug) = path?;
        view::article_by_slug(&db, viewer_id, &slug).await
    };
    let (_, article) = auth.check_with(&db, find).await?;
    Ok(Json(article))
}

/// `PUT /api/articles/{slug}`: any of the fields.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArticleChanges {
    #[schema(min_length = 1, max_length = 200)]
    pub title: Option<String>,
    /// May be empty.
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    #[schema(min_length = 1, max_length = 100000)]
    pub body: Option<String>,
    /// Replaces the tags: `[]` removes them all, absent keeps them.
    #[schema(max_items = 10)]
    pub tag_list: Option<Vec<String>>,
}

/// `{"article": {…}}`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct UpdateArticleRequest {
    pub article: ArticleChanges,
}

/// Changes an article (its author, or an admin); the slug stays, `updatedAt` is new.
#[utoipa::path(put, path = "/api/articles/{slug}", tag = "conduit", operation_id = "conduit_update_article",
    summary = "Conduit: change an article",
    security(("bearer" = [])),
    params(("slug" = String, Path)),
    request_body = UpdateArticleRequest,
    responses(
        (status = 200, description = "The article", body = ArticleBody),
        (status = 401, description = "`token: is missing`", body = ErrorsBody),
        (status = 403, description = "`article: forbidden`", body = ErrorsBody),
        (status = 404, description = "`article: not found`", body = ErrorsBody),
        (status = 413, description = "The body is too large", body = ErrorsBody),
        (status = 415, description = "The body is not sent as `application/json`", body = ErrorsBody),
        (status = 422, description = "A field is blank or invalid, or the body is not JSON", body = ErrorsBody),
    ))]
pub async fn update_article(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ConduitPath(slug): ConduitPath<String>,
    body: Body,
) -> Result<Json<ArticleBody>> {
    let post = find(&state, &slug).await?;
    posts::authorize(&caller.viewer, PostAction::Edit, &post)
        .map_err(|_| ConduitError::forbidden("article"))?;
    let fields = body.fields("article")?;
    let mut refusals = Refusals::default();
    let title = fields.text("title", &mut refusals);
    let description = fields.text("description", &mut refusals);
    let content = fields.text("body", &mut refusals);
    let tags = fields.texts("tagList", &mut refusals);
    let mut not_blank = |field: &str, given: Given<String>| match given {
        Given::Absent => None,
        Given::Value(s) if !s.trim().is_empty() => Some(s),
        _ => {
            refusals.reject(field, BLANK);
            None
        }
    };
    let title = not_blank("title", title);
    let content = not_blank("body", content);
    let title = title.and_then(|t| refusals.check("title", Title::parse(&t)));
    let content = content.and_then(|c| refusals.check("body", Content::parse(&c)));
    let description = match description {
        Given::Absent => None,
        Given::Null => {
            refusals.reject("description", "must be a string, not null");
            None
        }
        Given::Value(d) => refusals.check("description", Description::parse(&d)),
    };
    let tags = tag_list(&mut refusals, tags, false);
    refusals.finish()?;
    let changes = PostChanges {
        title,
        description,
        content,
        tags,
    };
    let updated = posts::update_touching(state.db().write().await, post, changes).await?;
    render(&state, &caller.viewer, updated).await
}

/// Deletes an article (its author, a moderator or an admin), its comments and favorites
/// with it.
#[utoipa::path(delete, path = "/api/articles/{slug}", tag = "conduit", operation_id = "conduit_delete_article",
    summary = "Conduit: delete an article",
    security(("bearer" = [])),
    params(("slug" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "`token: is missing`", body = ErrorsBody),
        (status = 403, description = "`article: forbidden`", body = ErrorsBody),
        (status = 404, description = "`article: not found`", body = ErrorsBody),
    ))]
pub async fn delete_article(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ConduitPath(slug): ConduitPath<String>,
) -> Result<StatusCode> {
    let post = find(&state, &slug).await?;
    posts::authorize(&caller.viewer, PostAction::Delete, &post)
        .map_err(|_| ConduitError::forbidden("article"))?;
    let mut db = state.db();
    let txn = db.write().await.begin().await?;
    posts::delete(&txn, &post).await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Favorites an article; twice is still 200, with one row.
#[utoipa::path(post, path = "/api/articles/{slug}/favorite", tag = "conduit", operation_id = "conduit_favorite_article",
    summary = "Conduit: favorite an article",
    security(("bearer" = [])),
    params(("slug" = String, Path)),
    responses(
        (status = 200, description = "The article, `favorited: true`", body = ArticleBody),
        (status = 401, description = "`token: is missing`", body = ErrorsBody),
        (status = 404, description = "`article: not found`", body = ErrorsBody),
    ))]
pub async fn favorite_article(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ConduitPath(slug): ConduitPath<String>,
) -> Result<Json<ArticleBody>> {
    let post = find(&state, &slug).await?;
    favorites::favorite(state.db().write().await, caller.viewer.id, post.id).await?;
    render(&state, &caller.viewer, post).await
}

/// Unfavorites an article; one not favorited is still 200, `favorited: false`.
#[utoipa::path(delete, path = "/api/articles/{slug}/favorite", tag = "conduit", operation_id = "conduit_unfavorite_article",
    summary = "Conduit: unfavorite an article",
    security(("bearer" = [])),
    params(("slug" = String, Path)),
    responses(
        (status = 200, description = "The article, `favorited: false`", body = ArticleBody),
        (status = 401, description = "`token: is missing`", body = ErrorsBody),
        (status = 404, description = "`article: not found`", body = ErrorsBody),
    ))]
pub async fn unfavorite_article(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ConduitPath(slug): ConduitPath<String>,
) -> Result<Json<ArticleBody>> {
    let post = find(&state, &slug).await?;
    match favorites::unfavorite(&state.db().write().await, caller.viewer.id, post.id).await {
        Ok(()) => {}
        // Not a favorite: nothing to undo.
        Err(e) if e.status == StatusCode::NOT_FOUND => {}
        Err(e) => return Err(e.into()),
    }
    render(&state, &caller.viewer, post).await
}
