//! `relata seed`: deterministic demo data, fast.
//!
//! The same `--seed` on an empty database gives the same rows. Rows go in as multi-row
//! `INSERT`s of a few hundred rows each (on PostgreSQL, `INSERT … SELECT * FROM UNNEST(…)`
//! of ten thousand rows, one array parameter per column), inside one transaction per table, with ids chosen
//! up front (after the current maximum) so that posts can point at users and comments at
//! posts without reading anything back. Every user shares one argon2id hash of the demo
//! password: hashing 10 000 passwords would take minutes and prove nothing.
//!
//! API 1.1's relationships are drawn from a second generator (so that the 1.0 data of a
//! seed stays as it was): each user follows a few others, popular users more often; each
//! post carries 0–4 tags from a vocabulary of 50, some tags far more common than others;
//! and favorites lean towards a few posts, so that counts differ.

use chrono::{DateTime, Duration, TimeZone, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::sea_query::{
    Alias, ArrayType, Expr, ExprTrait, Func, InsertStatement, IntoIden, IntoTableRef,
    PostgresQueryBuilder, Query, SimpleExpr, Value,
};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, Statement, TransactionTrait,
    TryInsertResult,
};

use crate::domain::slug;
use crate::entity::{
    comment, favorite, follow, post, post_tag, profile, role, tag, user, user_role,
};
use crate::error::{AppError, Result};

/// What to create.
#[derive(Clone, Debug)]
pub struct SeedPlan {
    pub users: u64,
    pub posts_per_user: u64,
    pub comments_per_post: u64,
    pub seed: u64,
}

/// What was created.
#[derive(Debug, Default)]
pub struct SeedReport {
    pub users: u64,
    pub profiles: u64,
    pub posts: u64,
    pub comments: u64,
    pub assignments: u64,
    pub follows: u64,
    pub favorites: u64,
    /// Tags created by this seed (the vocabulary, less the names that existed).
    pub tags: u64,
    pub post_tags: u64,
    /// The first seeded user id; seeded users are named `user<id>`.
    pub first_user_id: i64,
}

/// The password every seeded user logs in with.
pub const DEMO_PASSWORD: &str = "relata-demo-password";

const WORDS: &[&str] = &[
    "river", "garden", "signal", "copper", "lantern", "harbor", "meadow", "orbit", "quartz",
    "violet", "ember", "summit", "canyon", "willow", "falcon", "tundra", "marble", "cobalt",
    "prairie", "nebula", "saffron", "glacier", "thistle", "beacon",
];

/// The tag vocabulary.
const TAGS: &[&str] = &[
    "rust",
    "sql",
    "sqlite",
    "postgres",
    "orm",
    "http",
    "rest",
    "api",
    "async",
    "tokio",
    "axum",
    "testing",
    "design",
    "performance",
    "security",
    "auth",
    "json",
    "docs",
    "cli",
    "linux",
    "web",
    "frontend",
    "backend",
    "devops",
    "cloud",
    "data",
    "ml",
    "ai",
    "math",
    "music",
    "travel",
    "food",
    "books",
    "film",
    "art",
    "photo",
    "garden",
    "hiking",
    "sport",
    "chess",
    "games",
    "history",
    "science",
    "space",
    "climate",
    "health",
    "career",
    "c++",
    "c#",
    "node.js",
];

/// Follows per user: 1 to this many.
const MAX_FOLLOWS: usize = 8;
/// Favorites per user: 0 to this many.
const MAX_FAVORITES: usize = 6;
/// Tags per post: 0 to this many.
const MAX_TAGS: usize = 4;

/// An index in `0..n` that favours the low end (about a third of the draws land in the
/// first twentieth), so that some users, posts and tags collect far more than others.
fn skewed(rng: &mut StdRng, n: usize) -> usize {
    let u: f64 = rng.random();
    ((u * u * u) * n as f64) as usize % n.max(1)
}

/// `k` distinct draws of [`skewed`] in `0..n` (fewer when `n` is small), leaving out
/// `except`.
fn distinct_skewed(rng: &mut StdRng, n: usize, k: usize, except: Option<usize>) -> Vec<usize> {
    let available = n - usize::from(except.is_some_and(|e| e < n));
    let k = k.min(available);
    let mut out = Vec::with_capacity(k);
    let mut tries = 0;
    while out.len() < k && tries < 50 * (k + 1) {
        tries += 1;
        let i = skewed(rng, n);
        if Some(i) != except && !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

fn phrase(rng: &mut StdRng, words: usize) -> String {
    let mut out = String::new();
    for i in 0..words {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(WORDS[rng.random_range(0..WORDS.len())]);
    }
    out
}

/// Rows per multi-row INSERT: well under SQLite's and PostgreSQL's parameter limits.
const BATCH_ROWS: usize = 500;
/// Rows per `UNNEST` insert on PostgreSQL, whose parameters are one array per column.
/// 500-row VALUES lists (3 000 bound parameters each) spent most of the seed's time in
/// PostgreSQL's parsing and binding; see bench/README.md for the measurements.
const UNNEST_ROWS: usize = 10_000;

/// The PostgreSQL array type and cast of a column holding `v`.
fn array_type(v: &Value) -> Option<(ArrayType, &'static str)> {
    Some(match v {
        Value::BigInt(_) => (ArrayType::BigInt, "bigint"),
        Value::Int(_) => (ArrayType::Int, "integer"),
        Value::String(_) => (ArrayType::String, "text"),
        Value::Bool(_) => (ArrayType::Bool, "boolean"),
        Value::ChronoDateTimeUtc(_) => (ArrayType::ChronoDateTimeUtc, "timestamptz"),
        _ => return None,
    })
}

/// `INSERT INTO t (cols) SELECT * FROM UNNEST($1::type[], …)` for `rows`, when every
/// value is a non-null plain value of one type per column that [`array_type`] knows.
fn unnest_insert(template: &InsertStatement, rows: &[Vec<SimpleExpr>]) -> Option<Statement> {
    let width = rows.first()?.len();
    let mut columns: Vec<Vec<Value>> = vec![Vec::with_capacity(rows.len()); width];
    for row in rows {
        if row.len() != width {
            return None;
        }
        for (column, expr) in columns.iter_mut().zip(row) {
            match expr {
                SimpleExpr::Value(v) if v.is_some() => column.push(v.clone()),
                _ => return None,
            }
        }
    }
    let mut sql = template.to_string(PostgresQueryBuilder);
    sql.push_str(" SELECT * FROM UNNEST(");
    let mut values = Vec::with_capacity(width);
    for (i, column) in columns.into_iter().enumerate() {
        let (ty, cast) = array_type(column.first()?)?;
        if column
            .iter()
            .any(|v| array_type(v).map(|t| t.1) != Some(cast))
        {
            return None;
        }
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("${}::{cast}[]", i + 1));
        values.push(Value::Array(ty, Some(Box::new(column))));
    }
    sql.push(')');
    Some(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
}

async fn max_id<C: ConnectionTrait>(db: &C, table: &str) -> Result<i64> {
    let stmt = Query::select()
        .expr_as(
            Func::coalesce([
                Func::max(Expr::col(Alias::new("id"))).into(),
                Expr::val(0i64),
            ]),
            Alias::new("m"),
        )
        .from(Alias::new(table))
        .to_owned();
    let row = db.query_one(&stmt).await?;
    Ok(match row {
        Some(r) => r.try_get::<i64>("", "m")?,
        None => 0,
    })
}

/// Sends the rows of `insert` in batches as they fill, reporting progress.
struct Batcher<'a, C: ConnectionTrait> {
    db: &'a C,
    template: InsertStatement,
    pending: Vec<Vec<SimpleExpr>>,
    bar: &'a ProgressBar,
}

impl<'a, C: ConnectionTrait> Batcher<'a, C> {
    fn new(db: &'a C, template: InsertStatement, bar: &'a ProgressBar) -> Self {
        Batcher {
            db,
            template,
            pending: Vec::with_capacity(BATCH_ROWS),
            bar,
        }
    }

    /// A batcher of `INSERT INTO table (columns)`.
    fn insert_into<T: IntoTableRef, I: IntoIden>(
        db: &'a C,
        table: T,
        columns: impl IntoIterator<Item = I>,
        bar: &'a ProgressBar,
    ) -> Self {
        let template = Query::insert()
            .into_table(table)
            .columns(columns)
            .to_owned();
        Batcher::new(db, template, bar)
    }

    fn batch_rows(&self) -> usize {
        match self.db.get_database_backend() {
            DbBackend::Postgres => UNNEST_ROWS,
            _ => BATCH_ROWS,
        }
    }

    async fn push(&mut self, row: Vec<SimpleExpr>) -> Result<()> {
        self.pending.push(row);
        if self.pending.len() >= self.batch_rows() {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let n = self.pending.len() as u64;
        if self.db.get_database_backend() == DbBackend::Postgres
            && let Some(stmt) = unnest_insert(&self.template, &self.pending)
        {
            self.db.execute_raw(stmt).await?;
            self.pending.clear();
            self.bar.inc(n);
            return Ok(());
        }
        let mut stmt = self.template.clone();
        for row in self.pending.drain(..) {
            stmt.values(row)
                .map_err(|e| AppError::internal(anyhow::anyhow!("building a seed insert: {e}")))?;
        }
        self.db.execute(&stmt).await?;
        self.bar.inc(n);
        Ok(())
    }
}

/// PostgreSQL identity columns do not advance when ids are given explicitly; move them on.
async fn resync_sequence(db: &DatabaseConnection, table: &str) -> Result<()> {
    if db.get_database_backend() == DbBackend::Postgres {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), 1))"
        );
        db.execute_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await?;
    }
    Ok(())
}

/// Hashes the demo password once.
pub async fn demo_password_hash() -> Result<String> {
    tokio::task::spawn_blocking(|| {
        use argon2::password_hash::{PasswordHasher, phc::PasswordHash};
        PasswordHasher::<PasswordHash>::hash_password(
            &argon2::Argon2::default(),
            DEMO_PASSWORD.as_bytes(),
        )
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal(anyhow::anyhow!("hashing the demo password: {e}")))
    })
    .await?
}

/// Fills the database per `plan`, showing progress on `bar`.
pub async fn run(
    db: &DatabaseConnection,
    plan: &SeedPlan,
    bar: &ProgressBar,
) -> Result<SeedReport> {
    run_with_first_user_posts(db, plan, None, bar).await
}

/// The most rows a seed of `plan` (with `first_user_posts` posts for its first user)
/// writes: the progress bar's total. Follows, tags and favorites are drawn at random, so
/// they count at their most; the bar is closed at what was written, and never passes its
/// total.
pub fn rows_at_most(plan: &SeedPlan, first_user_posts: u64) -> u64 {
    let extra_posts = first_user_posts.saturating_sub(plan.posts_per_user);
    let posts = plan.users * plan.posts_per_user + extra_posts;
    let relationships = plan.users * Ord::min(MAX_FOLLOWS as u64, plan.users.saturating_sub(1))
        + posts * Ord::min(MAX_TAGS as u64, TAGS.len() as u64)
        + plan.users * Ord::min(MAX_FAVORITES as u64, posts);
    plan.users * (1 + plan.posts_per_user * (1 + plan.comments_per_post))
        + plan.users
        + extra_posts * (1 + plan.comments_per_post)
        + TAGS.len() as u64
        + relationships
}

/// [`run`], with `first_user_posts` posts (instead of `plan.posts_per_user`) for the first
/// seeded user: the benchmark pages deep into one user's posts without seeding everyone
/// with that many.
pub async fn run_with_first_user_posts(
    db: &DatabaseConnection,
    plan: &SeedPlan,
    first_user_posts: Option<u64>,
    bar: &ProgressBar,
) -> Result<SeedReport> {
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let first_user_posts = first_user_posts.unwrap_or(plan.posts_per_user);
    bar.set_length(rows_at_most(plan, first_user_posts));
    let at = Start {
        first_user: max_id(db, "users").await? + 1,
        first_post: max_id(db, "posts").await? + 1,
        first_comment: max_id(db, "comments").await? + 1,
        users: plan.users as i64,
        epoch: Utc
            .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_else(Utc::now),
    };
    let mut report = SeedReport {
        first_user_id: at.first_user,
        ..Default::default()
    };
    seed_users(db, &at, &mut rng, &mut report, bar).await?;
    seed_posts(db, plan, &at, first_user_posts, &mut rng, &mut report, bar).await?;
    seed_moderators(db, &at, &mut rng, &mut report, bar).await?;
    seed_relationships(db, plan, at.first_user, at.first_post, &mut report, bar).await?;
    bar.set_length(bar.position());
    settle(db).await?;
    bar.finish();
    Ok(report)
}

/// Where a seed run starts: the first free id of each table it numbers itself, how many
/// users it adds, and the instant its timestamps count from.
struct Start {
    first_user: i64,
    first_post: i64,
    first_comment: i64,
    users: i64,
    epoch: DateTime<Utc>,
}

/// Users, with a profile for about half of them.
async fn seed_users(
    db: &DatabaseConnection,
    at: &Start,
    rng: &mut StdRng,
    report: &mut SeedReport,
    bar: &ProgressBar,
) -> Result<()> {
    let Start {
        first_user,
        users,
        epoch,
        ..
    } = *at;
    let hash = demo_password_hash().await?;
    let txn = db.begin().await?;
    {
        let mut users_out = Batcher::insert_into(
            &txn,
            user::Entity,
            [
                user::Column::Id,
                user::Column::Username,
                user::Column::Email,
                user::Column::PasswordHash,
                user::Column::DisplayName,
                user::Column::IsActive,
                user::Column::CreatedAt,
                user::Column::UpdatedAt,
            ],
            bar,
        );
        for i in 0..users {
            let id = first_user + i;
            let at = epoch + Duration::seconds(i);
            let display = phrase(rng, 2);
            users_out
                .push(vec![
                    id.into(),
                    format!("user{id}").into(),
                    format!("user{id}@example.com").into(),
                    hash.clone().into(),
                    Some(display).into(),
                    true.into(),
                    at.into(),
                    at.into(),
                ])
                .await?;
            report.users += 1;
        }
        users_out.flush().await?;
    }
    {
        let mut profiles_out = Batcher::insert_into(
            &txn,
            profile::Entity,
            [
                profile::Column::UserId,
                profile::Column::Website,
                profile::Column::Bio,
                profile::Column::Location,
                profile::Column::CreatedAt,
                profile::Column::UpdatedAt,
            ],
            bar,
        );
        for i in 0..users {
            let with_profile = rng.random_bool(0.5);
            if !with_profile {
                bar.inc(1);
                continue;
            }
            let id = first_user + i;
            let at = epoch + Duration::seconds(i) + Duration::minutes(5);
            profiles_out
                .push(vec![
                    id.into(),
                    Some(format!("https://example.com/user{id}")).into(),
                    Some(phrase(rng, 8)).into(),
                    Some(phrase(rng, 1)).into(),
                    at.into(),
                    at.into(),
                ])
                .await?;
            report.profiles += 1;
        }
        profiles_out.flush().await?;
    }
    txn.commit().await?;
    resync_sequence(db, "users").await?;
    resync_sequence(db, "profiles").await?;
    Ok(())
}

/// Posts, newest spread over the year, then their comments by random seeded users.
async fn seed_posts(
    db: &DatabaseConnection,
    plan: &SeedPlan,
    at: &Start,
    first_user_posts: u64,
    rng: &mut StdRng,
    report: &mut SeedReport,
    bar: &ProgressBar,
) -> Result<()> {
    let Start {
        first_user,
        first_post,
        first_comment,
        users,
        epoch,
    } = *at;
    let txn = db.begin().await?;
    {
        let mut posts_out = Batcher::insert_into(
            &txn,
            post::Entity,
            [
                post::Column::Id,
                post::Column::AuthorId,
                post::Column::Title,
                post::Column::Slug,
                post::Column::Description,
                post::Column::Content,
                post::Column::CreatedAt,
                post::Column::UpdatedAt,
            ],
            bar,
        );
        let mut comments_out = Batcher::insert_into(
            &txn,
            comment::Entity,
            [
                comment::Column::Id,
                comment::Column::PostId,
                comment::Column::AuthorId,
                comment::Column::Body,
                comment::Column::CreatedAt,
                comment::Column::UpdatedAt,
            ],
            bar,
        );
        let mut post_id = first_post;
        let mut comment_id = first_comment;
        // Comments wait here until the batch holding their post has been sent.
        let mut held: Vec<Vec<SimpleExpr>> = Vec::new();
        for i in 0..users {
            let author = first_user + i;
            let posts = if i == 0 {
                first_user_posts
            } else {
                plan.posts_per_user
            };
            for _ in 0..posts {
                let at = epoch
                    + Duration::seconds(rng.random_range(0..365 * 24 * 3600))
                    + Duration::microseconds(rng.random_range(0..1_000_000));
                let title = phrase(rng, 4);
                let content = phrase(rng, 24);
                for c in 0..plan.comments_per_post {
                    let by = first_user + rng.random_range(0..users);
                    let cat = at
                        + Duration::minutes(1 + c as i64)
                        + Duration::microseconds(rng.random_range(0..1_000_000));
                    held.push(vec![
                        comment_id.into(),
                        post_id.into(),
                        by.into(),
                        phrase(rng, 10).into(),
                        cat.into(),
                        cat.into(),
                    ]);
                    comment_id += 1;
                    report.comments += 1;
                }
                // The post's id as the slug's suffix: unique, and no draw from the
                // generator, so the 1.0 columns come out as they did.
                let post_slug = slug::with_suffix(&title, &post_id.to_string());
                let description = content.split(' ').take(8).collect::<Vec<_>>().join(" ");
                posts_out
                    .push(vec![
                        post_id.into(),
                        author.into(),
                        title.into(),
                        post_slug.into(),
                        description.into(),
                        content.into(),
                        at.into(),
                        at.into(),
                    ])
                    .await?;
                post_id += 1;
                report.posts += 1;
                if posts_out.pending.is_empty() {
                    for row in held.drain(..) {
                        comments_out.push(row).await?;
                    }
                }
            }
        }
        posts_out.flush().await?;
        for row in held.drain(..) {
            comments_out.push(row).await?;
        }
        comments_out.flush().await?;
    }
    txn.commit().await?;
    resync_sequence(db, "posts").await?;
    resync_sequence(db, "comments").await?;
    Ok(())
}

/// About one seeded user in fifty is a moderator, assigned by the first seeded user.
async fn seed_moderators(
    db: &DatabaseConnection,
    at: &Start,
    rng: &mut StdRng,
    report: &mut SeedReport,
    bar: &ProgressBar,
) -> Result<()> {
    let Start {
        first_user,
        users,
        epoch,
        ..
    } = *at;
    let moderator = Query::select()
        .column(role::Column::Id)
        .from(role::Entity)
        .and_where(Expr::col(role::Column::Name).eq(role::MODERATOR))
        .to_owned();
    let moderator_id: Option<i64> = match db.query_one(&moderator).await? {
        Some(row) => Some(row.try_get("", "id")?),
        None => None,
    };
    if let Some(role_id) = moderator_id {
        let txn = db.begin().await?;
        let mut links = Batcher::insert_into(
            &txn,
            user_role::Entity,
            [
                user_role::Column::UserId,
                user_role::Column::RoleId,
                user_role::Column::AssignedAt,
                user_role::Column::AssignedBy,
            ],
            bar,
        );
        for i in 0..users {
            if i > 0 && rng.random_ratio(1, 50) {
                let at = epoch + Duration::days(1) + Duration::seconds(i);
                links
                    .push(vec![
                        (first_user + i).into(),
                        role_id.into(),
                        at.into(),
                        Some(first_user).into(),
                    ])
                    .await?;
                report.assignments += 1;
            }
        }
        links.flush().await?;
        txn.commit().await?;
    }
    Ok(())
}

/// Fresh statistics and visibility map: without the statistics PostgreSQL plans the
/// first queries on a freshly loaded database (the benchmark's) as if its tables were
/// empty; without the visibility map an index-only scan still reads every row's heap
/// page (S1's grouped count of posts: 1 571 buffers instead of 146, S1 ×1.24–1.30
/// once vacuumed; bench/README.md, design 18), until autovacuum gets round to them.
async fn settle(db: &DatabaseConnection) -> Result<()> {
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared("VACUUM (ANALYZE)").await?;
    } else {
        // Move the load out of the write-ahead log into the database file. SQLite only
        // does so by itself when the last connection closes or after a later write, and
        // until then every read searches a log of hundreds of megabytes: a server started
        // on a just-seeded 10k database answered S4 about 20% slower (bench/README.md).
        db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await?;
    }
    Ok(())
}

/// Follows, tags and favorites among the users and posts just seeded (`report` holds
/// how many), from a generator of their own.
async fn seed_relationships(
    db: &DatabaseConnection,
    plan: &SeedPlan,
    first_user: i64,
    first_post: i64,
    report: &mut SeedReport,
    bar: &ProgressBar,
) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(plan.seed ^ 0x0001_1000_5eed);
    let epoch: DateTime<Utc> = Utc
        .with_ymd_and_hms(2025, 6, 1, 0, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let users = report.users as usize;
    let posts = report.posts as usize;
    let txn = db.begin().await?;

    // The vocabulary, created unless a name exists already; then every id by name.
    let created = tag::Entity::insert_many(TAGS.iter().map(|name| tag::ActiveModel {
        name: sea_orm::Set(name.to_string()),
        created_at: sea_orm::Set(epoch),
        ..Default::default()
    }))
    .on_conflict_do_nothing_on([tag::Column::Name])
    .exec_without_returning(&txn)
    .await?;
    if let TryInsertResult::Inserted(n) = created {
        report.tags = n;
    }
    let names = Query::select()
        .columns([tag::Column::Id, tag::Column::Name])
        .from(tag::Entity)
        .and_where(Expr::col(tag::Column::Name).is_in(TAGS.iter().copied()))
        .to_owned();
    let mut tag_ids = Vec::with_capacity(TAGS.len());
    for row in txn.query_all(&names).await? {
        let name: String = row.try_get("", "name")?;
        let id: i64 = row.try_get("", "id")?;
        let index = TAGS.iter().position(|t| *t == name).unwrap_or(0);
        tag_ids.push((index, id));
    }
    tag_ids.sort_unstable();
    bar.inc(TAGS.len() as u64);

    {
        let mut out = Batcher::insert_into(
            &txn,
            follow::Entity,
            [
                follow::Column::FollowerId,
                follow::Column::FolloweeId,
                follow::Column::CreatedAt,
            ],
            bar,
        );
        for i in 0..users {
            let k = rng.random_range(1..=MAX_FOLLOWS);
            for followee in distinct_skewed(&mut rng, users, k, Some(i)) {
                let at = epoch + Duration::seconds(rng.random_range(0..180 * 24 * 3600));
                out.push(vec![
                    (first_user + i as i64).into(),
                    (first_user + followee as i64).into(),
                    at.into(),
                ])
                .await?;
                report.follows += 1;
            }
        }
        out.flush().await?;
    }
    if !tag_ids.is_empty() {
        let mut out = Batcher::insert_into(
            &txn,
            post_tag::Entity,
            [
                post_tag::Column::PostId,
                post_tag::Column::TagId,
                post_tag::Column::Position,
            ],
            bar,
        );
        for p in 0..posts {
            let k = rng.random_range(0..=MAX_TAGS);
            for (position, t) in distinct_skewed(&mut rng, tag_ids.len(), k, None)
                .into_iter()
                .enumerate()
            {
                out.push(vec![
                    (first_post + p as i64).into(),
                    tag_ids[t].1.into(),
                    (position as i32).into(),
                ])
                .await?;
                report.post_tags += 1;
            }
        }
        out.flush().await?;
    }
    if posts > 0 {
        let mut out = Batcher::insert_into(
            &txn,
            favorite::Entity,
            [
                favorite::Column::UserId,
                favorite::Column::PostId,
                favorite::Column::CreatedAt,
            ],
            bar,
        );
        for i in 0..users {
            let k = rng.random_range(0..=MAX_FAVORITES);
            for p in distinct_skewed(&mut rng, posts, k, None) {
                let at = epoch + Duration::seconds(rng.random_range(0..180 * 24 * 3600));
                out.push(vec![
                    (first_user + i as i64).into(),
                    (first_post + p as i64).into(),
                    at.into(),
                ])
                .await?;
                report.favorites += 1;
            }
        }
        out.flush().await?;
    }
    txn.commit().await?;
    resync_sequence(db, "tags").await?;
    Ok(())
}

/// A progress bar on standard error (hidden when `quiet`).
pub fn progress_bar(quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} rows ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}
