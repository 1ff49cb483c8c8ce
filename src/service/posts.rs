//! Posts: the one-to-many side of a user, the parent of comments, favorites and tags.
//!
//! Who may do what to a post is decided in [`authorize`], and nowhere else. A post's slug
//! is unique by the database's decision: a new post goes in with
//! `INSERT … ON CONFLICT (slug) DO NOTHING`, and a slug already taken (two posts with one
//! title drawing the same suffix) is drawn again.

use sea_orm::sea_query::{
    Alias, Asterisk, DynIden, Expr, ExprTrait, Func, IntoIden, OnConflict, Query, SelectStatement,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, PaginatorTrait,
    QueryFilter, QuerySelect, QueryTrait, Set,
};

use crate::domain::slug;
use crate::domain::tag_name::{TagList, TagName};
use crate::domain::text::{Content, Description, Title};
use crate::domain::viewer::Viewer;
use crate::entity::{
    comment, favorite, follow, post, post_count, post_tag, tag, tag_post_count, user,
    user_post_count,
};
use crate::error::{AppError, Result, foreign_key_violation};
use crate::service::auth::UncheckedToken;
use crate::service::like;
use crate::service::lookup;
use crate::service::profiles::{self, Person};
use crate::service::tags;
use crate::service::with_write::{WithWrite, columns_of};
use crate::store::page::{self, Fetched, ListScope, PageRequest};
use crate::store::read::{Fields, Reader};
use crate::store::{Db, Writer};
use crate::wire::repr::{CascadePreview, order};

/// A post to create, already validated.
pub struct NewPost {
    pub title: Title,
    pub description: Option<Description>,
    pub content: Content,
    pub tags: TagList,
}

/// The fields a PATCH changes; `None` leaves a field as it is (`tags: Some(empty)`
/// removes every tag).
#[derive(Default)]
pub struct PostChanges {
    pub title: Option<Title>,
    pub description: Option<Description>,
    pub content: Option<Content>,
    pub tags: Option<TagList>,
}

/// The filters of a post list (`GET /posts`, `GET /users/{id}/posts`, `GET /feed`,
/// `GET /tags/{name}/posts`).
#[derive(Debug, Default)]
pub struct PostFilter {
    pub author_id: Option<i64>,
    /// A case-insensitive substring of the title, matched literally (`%` and `_` too).
    pub title_contains: Option<String>,
    /// Posts tagged with every one of these names (compared in their normal form, so a
    /// name no tag has selects nothing).
    pub tagged: Vec<String>,
    /// Posts this user favorited.
    pub favorited_by: Option<i64>,
    /// Posts by the users this user follows (the feed).
    pub followed_by: Option<i64>,
}

impl PostFilter {
    /// The list these filters select at `path`: a cursor is bound to its filters
    /// (SPEC §5 "Cursors"), the feed's to its caller.
    pub fn scope(&self, path: impl Into<String>) -> ListScope {
        let tags = self
            .tagged
            .iter()
            .map(|t| TagName::normalize(t))
            .collect::<Vec<_>>()
            .join(",");
        ListScope::new(path)
            .filter("author_id", self.author_id)
            .filter("q", self.title_contains.as_deref())
            .filter("tag", (!tags.is_empty()).then_some(tags))
            .filter("favorited_by", self.favorited_by)
            .filter("followed_by", self.followed_by)
    }
}

/// What a caller wants to do to an existing post.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostAction {
    Edit,
    Delete,
}

/// SPEC §4's "who" for posts: the author and admins edit; the author, moderators and
/// admins delete. 403 otherwise.
pub fn authorize(viewer: &Viewer, action: PostAction, post: &post::Model) -> Result<()> {
    let is_author = viewer.id == post.author_id;
    let allowed = match action {
        PostAction::Edit => is_author || viewer.is_admin,
        PostAction::Delete => is_author || viewer.is_moderator || viewer.is_admin,
    };
    if allowed {
        Ok(())
    } else {
        Err(AppError::forbidden())
    }
}

/// One post, or 404.
pub async fn find(db: &Reader<'_>, id: i64) -> Result<post::Model> {
    lookup::find::<post::Entity>(db, id, "Post").await
}

/// The filtered posts, in no order yet (the page adds the default order and the cursor).
pub fn filtered(backend: DbBackend, owner: Option<i64>, filter: &PostFilter) -> SelectStatement {
    let mut select = post::Entity::find();
    // The owner of a relationship endpoint and the `author_id` filter both apply.
    for author_id in [owner, filter.author_id].into_iter().flatten() {
        select = select.filter(post::Column::AuthorId.eq(author_id));
    }
    if let Some(needle) = &filter.title_contains {
        select = select.filter(like::contains_case_insensitive(
            backend,
            Expr::col((post::Entity, post::Column::Title)),
            needle,
        ));
    }
    for name in &filter.tagged {
        let tagged = Query::select()
            .column((post_tag::Entity, post_tag::Column::PostId))
            .from(post_tag::Entity)
            .inner_join(
                tag::Entity,
                Expr::col((tag::Entity, tag::Column::Id))
                    .equals((post_tag::Entity, post_tag::Column::TagId)),
            )
            .and_where(Expr::col((tag::Entity, tag::Column::Name)).eq(TagName::normalize(name)))
            .to_owned();
        select = select.filter(post::Column::Id.in_subquery(tagged));
    }
    if let Some(user_id) = filter.favorited_by {
        let favorites = Query::select()
            .column(favorite::Column::PostId)
            .from(favorite::Entity)
            .and_where(Expr::col(favorite::Column::UserId).eq(user_id))
            .to_owned();
        select = select.filter(post::Column::Id.in_subquery(favorites));
    }
    if let Some(user_id) = filter.followed_by {
        let followed = Query::select()
            .column(follow::Column::FolloweeId)
            .from(follow::Entity)
            .and_where(Expr::col(follow::Column::FollowerId).eq(user_id))
            .to_owned();
        select = select.filter(post::Column::AuthorId.in_subquery(followed));
    }
    select.into_query()
}

/// One page of posts, newest first, of `owner` when given (`/users/{id}/posts`), else of
/// everyone; one statement (two with `count=true`).
pub async fn list(
    db: &Reader<'_>,
    owner: Option<i64>,
    filter: &PostFilter,
    page: &PageRequest,
) -> Result<Fetched<post::Model>> {
    let stmt = filtered(db.backend(), owner, filter);
    page::fetch(db, stmt, &order::posts(), page).await
}

/// Filters by username (compared case-insensitively), for the faces that name users by
/// username rather than by id (Conduit's `author=` and `favorited=`). A name no user has
/// selects nothing.
#[derive(Debug, Default)]
pub struct ByUsername {
    pub author: Option<String>,
    pub favorited_by: Option<String>,
}

/// `SELECT id FROM users WHERE lower(username) = lower(name)`.
fn user_named(name: &str) -> SelectStatement {
    Query::select()
        .column((user::Entity, user::Column::Id))
        .from(user::Entity)
        .and_where(
            Expr::expr(Func::lower(Expr::col((
                user::Entity,
                user::Column::Username,
            ))))
            .eq(name.to_lowercase()),
        )
        .to_owned()
}

/// The number of posts that `filter` and `by_name` select, read from the counters the
/// database keeps (migration `m0004_post_counts`): the sum of one counter's slots, a few
/// rows (for the feed, a few per followed author) where counting would read every
/// matching post. `None` for a title search or filters combined, which no counter holds:
/// those are counted.
fn counted(filter: &PostFilter, by_name: &ByUsername) -> Option<SelectStatement> {
    let given = usize::from(filter.author_id.is_some())
        + usize::from(filter.title_contains.is_some())
        + filter.tagged.len()
        + usize::from(filter.favorited_by.is_some())
        + usize::from(filter.followed_by.is_some())
        + usize::from(by_name.author.is_some())
        + usize::from(by_name.favorited_by.is_some());
    let sum = |table: DynIden, column: DynIden| {
        let total = Func::coalesce([Expr::from(Func::sum(Expr::col(column))), Expr::val(0i64)]);
        Query::select()
            .expr_as(
                Func::cast_as(total, Alias::new("BIGINT")),
                Alias::new("total"),
            )
            .from(table)
            .to_owned()
    };
    // The counters of the users `user_id = …` or `user_id IN (…)` selects.
    let user_id = || Expr::col(user_post_count::Column::UserId);
    let of_users = |column: user_post_count::Column, users: Expr| {
        let mut stmt = sum(user_post_count::Entity.into_iden(), column.into_iden());
        stmt.and_where(users);
        stmt
    };
    use user_post_count::Column::{Favorites, Posts};
    match given {
        0 => Some(sum(
            post_count::Entity.into_iden(),
            post_count::Column::Posts.into_iden(),
        )),
        1 => {
            if let Some(name) = filter.tagged.first() {
                let tag = Query::select()
                    .column(tag::Column::Id)
                    .from(tag::Entity)
                    .and_where(Expr::col(tag::Column::Name).eq(TagName::normalize(name)))
                    .to_owned();
                let mut stmt = sum(
                    tag_post_count::Entity.into_iden(),
                    tag_post_count::Column::Posts.into_iden(),
                );
                stmt.and_where(Expr::col(tag_post_count::Column::TagId).in_subquery(tag));
                Some(stmt)
            } else if let Some(id) = filter.author_id {
                Some(of_users(Posts, user_id().eq(id)))
            } else if let Some(id) = filter.favorited_by {
                Some(of_users(Favorites, user_id().eq(id)))
            } else if let Some(id) = filter.followed_by {
                // Summed followee by followee, each an index lookup of its counter rows.
                // Written as `user_id IN (SELECT followee_id …)`, PostgreSQL hashed the
                // followees and scanned every counter row (its estimate prefers that for a
                // few followees): 0.89 against 0.17 ms on the Conduit data set.
                let of_followee = Query::select()
                    .expr(Func::sum(Expr::col((user_post_count::Entity, Posts))))
                    .from(user_post_count::Entity)
                    .and_where(
                        Expr::col((user_post_count::Entity, user_post_count::Column::UserId))
                            .equals((follow::Entity, follow::Column::FolloweeId)),
                    )
                    .to_owned();
                let per_followee = Expr::SubQuery(None, Box::new(of_followee.into()));
                let total = Func::coalesce([Expr::from(Func::sum(per_followee)), Expr::val(0i64)]);
                Some(
                    Query::select()
                        .expr_as(
                            Func::cast_as(total, Alias::new("BIGINT")),
                            Alias::new("total"),
                        )
                        .from(follow::Entity)
                        .and_where(Expr::col((follow::Entity, follow::Column::FollowerId)).eq(id))
                        .to_owned(),
                )
            } else if let Some(name) = &by_name.author {
                Some(of_users(Posts, user_id().in_subquery(user_named(name))))
            } else {
                by_name
                    .favorited_by
                    .as_ref()
                    .map(|name| of_users(Favorites, user_id().in_subquery(user_named(name))))
            }
        }
        _ => None,
    }
}

/// One page of posts by offset, newest first (ties by id, newest first), and the number
/// of matches before `limit`/`offset`: two statements, whatever `limit` is. The Conduit
/// face pages this way; `/api/v1` keeps keyset paging ([`list`]).
pub async fn list_offset(
    db: &Reader<'_>,
    filter: &PostFilter,
    by_name: &ByUsername,
    limit: u64,
    offset: u64,
) -> Result<(Vec<post::Model>, u64)> {
    let mut stmt = filtered(db.backend(), None, filter);
    if let Some(name) = &by_name.author {
        stmt.and_where(
            Expr::col((post::Entity, post::Column::AuthorId)).in_subquery(user_named(name)),
        );
    }
    if let Some(name) = &by_name.favorited_by {
        let favorites = Query::select()
            .column((favorite::Entity, favorite::Column::PostId))
            .from(favorite::Entity)
            .and_where(
                Expr::col((favorite::Entity, favorite::Column::UserId))
                    .in_subquery(user_named(name)),
            )
            .to_owned();
        stmt.and_where(Expr::col((post::Entity, post::Column::Id)).in_subquery(favorites));
    }
    let count = counted(filter, by_name).unwrap_or_else(|| {
        Query::select()
            .expr_as(Func::count(Expr::col(Asterisk)), Alias::new("total"))
            .from_subquery(stmt.clone(), Alias::new("filtered"))
            .to_owned()
    });
    order::posts().apply_order(&mut stmt);
    stmt.limit(limit).offset(offset);
    // Neither needs the other: on PostgreSQL they go in one flight.
    let (total, rows) = futures::future::join(db.first::<i64>(&count), db.all(&stmt)).await;
    let total = total?.unwrap_or(0);
    Ok((rows?, Ord::max(total, 0) as u64))
}

/// 404 for a slug no post can have, before it reaches the database: PostgreSQL cannot
/// compare text holding NUL, and no slug holds one.
pub fn check_slug(slug: &str) -> Result<()> {
    if slug.contains('\0') {
        return Err(AppError::not_found("Post"));
    }
    Ok(())
}

/// The post with this slug, or 404.
pub async fn find_by_slug(db: &Reader<'_>, slug: &str) -> Result<post::Model> {
    check_slug(slug)?;
    let stmt = post::Entity::find()
        .filter(post::Column::Slug.eq(slug))
        .limit(1)
        .into_query();
    db.first(&stmt)
        .await?
        .ok_or_else(|| AppError::not_found("Post"))
}

/// Tries a new slug this many times before giving up; each try collides only if another
/// post took the same title and the same random suffix.
const SLUG_TRIES: usize = 5;

/// Creates a post by `author_id` with its tags, atomically, once the caller was checked
/// (SQLite's way: on PostgreSQL [`create_checked`] checks and writes in one statement).
/// 404 when the author vanished meanwhile. The post, then (with tags) the names and the
/// post's tag rows ([`tags::add_to_new_post`]) in one transaction; a post without tags is
/// one `INSERT`, atomic on its own, with no `BEGIN`/`COMMIT` around it.
async fn create(writer: Writer<'_>, author_id: i64, new: NewPost) -> Result<post::Model> {
    if new.tags.is_empty() {
        return insert(&writer, author_id, new, Autocommit::Yes).await;
    }
    let txn = writer.begin().await?;
    let created = insert(&txn, author_id, new, Autocommit::No).await?;
    txn.commit().await?;
    Ok(created)
}

/// A new post by the bearer of `token`, checked with the write, answering the checked
/// caller and their profile with the post (for an answer made without reading back).
///
/// - PostgreSQL: one statement in all, token check, profile, post and tags
///   ([`insert_with_tags`] with [`WithWrite::checked`]): no round trip goes before the
///   write, and nothing is written for a token that no longer works.
/// - SQLite (no round trips to save): the check and the profile on a read unit, then
///   [`create`].
pub async fn create_for_token_with_author(
    db: &mut Db<'_>,
    token: UncheckedToken,
    new: NewPost,
) -> Result<(Viewer, Person, post::Model)> {
    let (viewer, author, post) = create_checked(db, token, new, true).await?;
    let author = author.ok_or_else(|| AppError::not_found("User"))?;
    Ok((viewer, author, post))
}

/// [`create_for_token_with_author`] for an answer that does not show the author: on SQLite the
/// check alone, then [`create`].
pub async fn create_for_token(
    db: &mut Db<'_>,
    token: UncheckedToken,
    new: NewPost,
) -> Result<(Viewer, post::Model)> {
    let (viewer, _, post) = create_checked(db, token, new, false).await?;
    Ok((viewer, post))
}

/// The two above; the profile is read only when `with_author` (on PostgreSQL it comes
/// with the write's statement either way).
async fn create_checked(
    db: &mut Db<'_>,
    token: UncheckedToken,
    new: NewPost,
    with_author: bool,
) -> Result<(Viewer, Option<Person>, post::Model)> {
    if db.backend() != DbBackend::Postgres {
        let (viewer, author) = {
            let reader = db.read()?;
            let author_id = token.user_id();
            let author = async {
                if with_author {
                    profiles::person(&reader, author_id).await
                } else {
                    Ok(None)
                }
            };
            let (viewer, author) = futures::future::join(token.check(&reader), author).await;
            (viewer?, author?)
        };
        let post = create(db.write().await, viewer.id, new).await?;
        return Ok((viewer, author, post));
    }
    let writer = db.write().await;
    let created_columns = columns_of("created", <post::Model as Fields>::FIELDS);
    let now = crate::time::now();
    let description = new.description.as_ref().map_or("", |d| d.as_ref());
    for _ in 0..SLUG_TRIES {
        let row = PostRow {
            author_id: token.user_id(),
            title: new.title.as_ref(),
            slug: slug::generate(new.title.as_ref()),
            description,
            content: new.content.as_ref(),
            at: now,
        };
        let write = insert_with_tags(&row, &new.tags, WithWrite::checked(&token));
        let joins = "LEFT JOIN created ON true";
        // A foreign key refuses the post when its author was deleted since the check.
        let written = write
            .run_checked(&writer, &token, &created_columns, joins, "User")
            .await?;
        if let Some(post) = written.written::<post::Model>()? {
            return Ok((written.viewer, Some(written.author), post));
        }
        // The token works and nothing went in: the slug (or a tag met midway) was taken.
    }
    Err(AppError::internal(anyhow::anyhow!(
        "no free slug for a post after {SLUG_TRIES} tries"
    )))
}

/// Whether an insert commits on its own (no transaction around it).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Autocommit {
    Yes,
    No,
}

/// Inserts the post, drawing a new slug while the drawn one is taken, then its tags.
async fn insert(
    db: &Writer<'_>,
    author_id: i64,
    new: NewPost,
    autocommit: Autocommit,
) -> Result<post::Model> {
    let now = crate::time::now();
    let title = new.title.into_inner();
    let description = new
        .description
        .map(Description::into_inner)
        .unwrap_or_default();
    let content = new.content.into_inner();
    let author_gone = |err: sea_orm::DbErr| {
        if foreign_key_violation(&err) {
            AppError::not_found("User")
        } else {
            AppError::from(err)
        }
    };
    for _ in 0..SLUG_TRIES {
        let row = PostRow {
            author_id,
            title: &title,
            slug: slug::generate(&title),
            description: &description,
            content: &content,
            at: now,
        };
        let row = post::ActiveModel {
            author_id: Set(row.author_id),
            title: Set(title.clone()),
            slug: Set(row.slug),
            description: Set(description.clone()),
            content: Set(content.clone()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        let mut insert = post::Entity::insert(row)
            .on_conflict(
                OnConflict::column(post::Column::Slug)
                    .do_nothing()
                    .to_owned(),
            )
            .into_query();
        let created = if autocommit == Autocommit::Yes && !db.returning_reports_commit() {
            // SQLite commits an autocommit `INSERT … RETURNING` only after the returned row
            // was read, and sqlx-sqlite stops at that row, so a failed commit (a full disk)
            // would go unreported (docs/guarantees.md). A plain INSERT runs to its end,
            // commit included; the row is then read back by its new rowid.
            let done = db.execute(&insert).await.map_err(author_gone)?;
            match done.rows_affected() {
                0 => None,
                _ => {
                    post::Entity::find_by_id(done.last_insert_id() as i64)
                        .one(db)
                        .await?
                }
            }
        } else {
            insert.returning_all();
            post::Model::find_by_statement(db.get_database_backend().build(&insert))
                .one(db)
                .await
                .map_err(author_gone)?
        };
        if let Some(created) = created {
            tags::add_to_new_post(db, created.id, &new.tags).await?;
            return Ok(created);
        }
    }
    Err(AppError::internal(anyhow::anyhow!(
        "no free slug for a post after {SLUG_TRIES} tries"
    )))
}

/// The columns of a new post.
struct PostRow<'a> {
    author_id: i64,
    title: &'a str,
    slug: String,
    description: &'a str,
    content: &'a str,
    at: chrono::DateTime<chrono::Utc>,
}

/// PostgreSQL: the post and its tags in one statement (data-modifying `WITH`), whose
/// `created` holds the new post, or no row when its slug is taken.
///
/// The names no tag has yet go in first (in name order, so that two posts naming the same
/// new tags take them in one order); with the tags that had them already, read in the same
/// statement, they give every tag's id. The statement's snapshot cannot see a tag another
/// transaction committed while this one waited on it (its insert then does nothing): the
/// post goes in only when every name was found, so that case too answers no row, and the
/// next try, a new statement, sees that tag. The post's rows go in by tag id, the order in
/// which the tag counters' rows are locked (migration `m0004_post_counts`).
///
/// The names are bound in name order, each with its place in the author's order, so that
/// the text depends only on how many tags there are: PostgreSQL then plans each count once
/// per connection (after its first five custom plans), where a text per order of the names
/// was planned anew whenever its order was new to the connection (3 tags have 6 orders,
/// 10 have 3.6 million).
///
/// Every insert here runs under `write`'s check of the author's token
/// ([`WithWrite::checked`]); the caller ends the statement, which names `created`.
fn insert_with_tags(row: &PostRow<'_>, tags: &TagList, mut write: WithWrite) -> WithWrite {
    let mut names: Vec<(&str, i32)> = tags
        .names()
        .iter()
        .zip(0..)
        .map(|(name, position)| (name.as_str(), position))
        .collect();
    names.sort_unstable();
    let n = names.len();
    let guard = write.guard();
    let author = write.bind(row.author_id);
    let title = write.bind(row.title);
    let slug = write.bind(row.slug.as_str());
    let description = write.bind(row.description);
    let content = write.bind(row.content);
    let at = write.bind(row.at);
    let name: Vec<String> = names.iter().map(|(n, _)| write.bind(*n)).collect();
    let position: Vec<String> = names.iter().map(|&(_, p)| write.bind(p)).collect();
    let mut all_found = "true".to_string();
    if n > 0 {
        let new_names = name
            .iter()
            .map(|name| format!("({name}, {at})"))
            .collect::<Vec<_>>()
            .join(", ");
        write.cte(format!(
            "new_tags AS (\
               INSERT INTO tags (name, created_at) \
               SELECT * FROM (VALUES {new_names}) AS wanted WHERE true{guard} \
               ON CONFLICT (name) DO NOTHING RETURNING id, name)"
        ));
        write.cte(format!(
            "named AS (\
               SELECT id, name FROM new_tags \
               UNION ALL SELECT id, name FROM tags WHERE name IN ({}))",
            name.join(", ")
        ));
        all_found = format!("(SELECT COUNT(*) FROM named) = {n}");
    }
    write.cte(format!(
        "created AS (\
           INSERT INTO posts (author_id, title, slug, description, content, created_at, updated_at) \
           SELECT {author}, {title}, {slug}, {description}, {content}, {at}, {at} \
           WHERE {all_found}{guard} \
           ON CONFLICT (slug) DO NOTHING RETURNING *)"
    ));
    if n > 0 {
        let positions = name
            .iter()
            .zip(&position)
            .map(|(name, position)| format!("({name}, {position})"))
            .collect::<Vec<_>>()
            .join(", ");
        write.cte(format!(
            "tagged AS (\
               INSERT INTO post_tags (post_id, tag_id, position) \
               SELECT created.id, named.id, wanted.column2 \
               FROM created CROSS JOIN (VALUES {positions}) AS wanted \
               JOIN named ON named.name = wanted.column1 ORDER BY named.id)"
        ));
    }
    write
}

/// Applies `changes` to `post`, tags included, in one write transaction; 404 when it was
/// deleted meanwhile. A PATCH that changes nothing writes nothing and leaves `updated_at`
/// alone; the slug never changes.
pub async fn update(
    writer: Writer<'_>,
    post: post::Model,
    changes: PostChanges,
) -> Result<post::Model> {
    let txn = writer.begin().await?;
    let updated = apply(&txn, post, changes, false).await?;
    txn.commit().await?;
    Ok(updated)
}

/// [`update`], except that `updated_at` is set even when nothing else changes: the
/// Conduit face's PUT, after which `updatedAt` is always new.
pub async fn update_touching(
    writer: Writer<'_>,
    post: post::Model,
    changes: PostChanges,
) -> Result<post::Model> {
    let txn = writer.begin().await?;
    let updated = apply(&txn, post, changes, true).await?;
    txn.commit().await?;
    Ok(updated)
}

async fn apply(
    db: &Writer<'_>,
    post: post::Model,
    changes: PostChanges,
    touch: bool,
) -> Result<post::Model> {
    let tags_change = match changes.tags {
        Some(list) => {
            let current = tags::names_of_post(db, post.id).await?;
            let wanted: Vec<&str> = list.names().iter().map(TagName::as_str).collect();
            (current != wanted).then_some(list)
        }
        None => None,
    };
    if !touch
        && changes.title.is_none()
        && changes.description.is_none()
        && changes.content.is_none()
        && tags_change.is_none()
    {
        return Ok(post);
    }
    let mut update = post::Entity::update_many()
        .col_expr(post::Column::UpdatedAt, Expr::val(crate::time::now()))
        .filter(post::Column::Id.eq(post.id));
    if let Some(title) = changes.title {
        update = update.col_expr(post::Column::Title, Expr::val(title.into_inner()));
    }
    if let Some(description) = changes.description {
        update = update.col_expr(
            post::Column::Description,
            Expr::val(description.into_inner()),
        );
    }
    if let Some(content) = changes.content {
        update = update.col_expr(post::Column::Content, Expr::val(content.into_inner()));
    }
    let updated = update
        .exec_with_returning(db)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::not_found("Post"))?;
    if let Some(list) = tags_change {
        tags::set_for_post(db, updated.id, &list).await?;
    }
    Ok(updated)
}

/// What deleting `post` would delete: the post, its comments, its favorites and its
/// `post_tags` rows (SPEC §3 "Cascade preview", §5); its tags stay.
pub async fn deletion_preview(db: &Writer<'_>, post: &post::Model) -> Result<CascadePreview> {
    let comments = comment::Entity::find()
        .filter(comment::Column::PostId.eq(post.id))
        .count(db)
        .await?;
    let favorites = favorite::Entity::find()
        .filter(favorite::Column::PostId.eq(post.id))
        .count(db)
        .await?;
    let post_tags = post_tag::Entity::find()
        .filter(post_tag::Column::PostId.eq(post.id))
        .count(db)
        .await?;
    let mut preview = CascadePreview::default();
    preview.delete.insert("posts", 1);
    preview.delete.insert("comments", comments);
    preview.delete.insert("favorites", favorites);
    preview.delete.insert("post_tags", post_tags);
    Ok(preview)
}

/// Deletes `post`; the database's `ON DELETE CASCADE` takes its comments, favorites and
/// `post_tags` rows in the same statement. 404 when it was deleted meanwhile.
pub async fn delete(db: &Writer<'_>, post: &post::Model) -> Result<()> {
    let result = post::Entity::delete_by_id(post.id).exec(db).await?;
    if result.rows_affected == 0 {
        return Err(AppError::not_found("Post"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_search_binds_its_pattern_on_both_backends() {
        let filter = PostFilter {
            title_contains: Some("50%_off!".into()),
            ..Default::default()
        };
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            let stmt = backend.build(&filtered(backend, None, &filter));
            assert!(
                stmt.sql.contains(r#"lower("posts"."title") LIKE lower("#),
                "{backend:?}: {}",
                stmt.sql
            );
            let values = stmt.values.expect("a bound pattern").0;
            assert_eq!(values, vec![sea_orm::Value::from("%50!%!_off!!%")]);
        }
    }
}
