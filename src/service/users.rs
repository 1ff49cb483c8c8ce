//! Accounts: registration, reading, changing and deleting users, who may do which
//! ([`policy`]), the last-admin rule, and the cascade preview of a user's deletion.
//!
//! Uniqueness is the database's decision: a new or changed username or email is written,
//! and a unique violation becomes 409 `username_taken` / `email_taken`.

use std::collections::BTreeMap;

use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, Func, Query};
use sea_orm::{
    ActiveModelTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryTrait, Set,
};

use crate::domain::display_name::DisplayName;
use crate::domain::email::Email;
use crate::domain::password::Password;
use crate::domain::text::Bio;
use crate::domain::url::AbsoluteUrl;
use crate::domain::username::Username;
use crate::entity::{role, user};
use crate::error::{AppError, Result, unique_violation};
use crate::service::auth::{self, Passwords, Viewer};
use crate::service::counts::{col, count_where, read_counts};
use crate::service::like;
use crate::service::{profiles, roles};
use crate::store::page::{self, Fetched, PageRequest};
use crate::store::read::Reader;
use crate::store::{Db, Writer};
use crate::time;
use crate::wire::repr::{CascadePreview, order};

/// Who may do what to a user account (SPEC §4), in one place.
pub mod policy {
    use crate::domain::viewer::Viewer;
    use crate::error::{AppError, Result};

    /// Changing or deleting an account: the user themself, or an admin.
    pub fn ensure_may_manage(viewer: &Viewer, user_id: i64) -> Result<()> {
        if viewer.is_admin || viewer.id == user_id {
            Ok(())
        } else {
            Err(AppError::forbidden())
        }
    }

    /// Activating or deactivating an account: admins only.
    pub fn ensure_may_set_active(viewer: &Viewer) -> Result<()> {
        if viewer.is_admin {
            Ok(())
        } else {
            Err(AppError::new(
                axum::http::StatusCode::FORBIDDEN,
                "forbidden",
                "Only admins may change `is_active`.",
            ))
        }
    }

    /// Whether changing a password needs the current one: yes, except for admins.
    pub fn needs_current_password(viewer: &Viewer) -> bool {
        !viewer.is_admin
    }
}

/// A new account, every field already valid.
#[derive(Debug)]
pub struct NewAccount {
    pub username: Username,
    pub email: Email,
    pub password: Password,
    pub display_name: Option<DisplayName>,
}

/// Maps a unique violation on `users` to its 409; anything else stays a server error.
fn account_conflict(err: DbErr) -> AppError {
    match unique_violation(&err) {
        // SQLite names the column (`users.email`) or the index
        // (`ux_users_username_lower`), PostgreSQL the constraint (`users_email_key`).
        Some(message) if message.contains("email") => {
            AppError::conflict("email_taken", "This email is already registered.")
        }
        Some(message) if message.contains("username") => {
            AppError::conflict("username_taken", "This username is already taken.")
        }
        _ => err.into(),
    }
}

/// Inserts a user whose password is already hashed.
pub async fn insert_account(
    db: &Writer<'_>,
    account: &NewAccount,
    password_hash: String,
) -> Result<user::Model> {
    let now = time::now();
    user::ActiveModel {
        username: Set(account.username.as_str().to_string()),
        email: Set(account.email.as_str().to_string()),
        password_hash: Set(password_hash),
        display_name: Set(account.display_name.clone().map(DisplayName::into_inner)),
        is_active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(account_conflict)
}

/// Creates an account (`POST /auth/register`, `POST /api/users`).
#[tracing::instrument(skip_all, fields(username = account.username.as_str()))]
pub async fn register(
    db: &mut Db<'_>,
    passwords: &Passwords,
    account: NewAccount,
) -> Result<user::Model> {
    create(db, passwords, account, None).await
}

/// Creates an account holding the `admin` role, in one transaction (`relata admin create`).
pub async fn create_admin(
    db: &mut Db<'_>,
    passwords: &Passwords,
    account: NewAccount,
) -> Result<user::Model> {
    create(db, passwords, account, Some(role::ADMIN)).await
}

/// Creates an account, holding `role` when one is named, in one transaction. The password
/// is hashed before the write begins, so that no writer waits on a hash; the transaction
/// makes a failed commit (a full disk) an error: on its own, SQLite commits an INSERT …
/// RETURNING only after the returned row was read, and that commit's error is lost
/// (docs/guarantees.md).
async fn create(
    db: &mut Db<'_>,
    passwords: &Passwords,
    account: NewAccount,
    role: Option<&str>,
) -> Result<user::Model> {
    let hash = passwords.hash(&account.password).await?;
    let txn = db.write().await.begin().await?;
    let created = insert_account(&txn, &account, hash).await?;
    if let Some(name) = role {
        let role = roles::find(&txn.read(), name).await?;
        roles::assign(&txn, created.id, role.id, None).await?;
    }
    txn.commit().await?;
    Ok(created)
}

/// One user; 404 when absent.
pub async fn find(db: &Reader<'_>, id: i64) -> Result<user::Model> {
    crate::service::lookup::find::<user::Entity>(db, id, "User").await
}

/// One user by username, compared case-insensitively; 404 when absent.
pub async fn find_by_username(db: &Writer<'_>, username: &str) -> Result<user::Model> {
    user::Entity::find()
        .filter(
            Expr::expr(Func::lower(Expr::col((
                user::Entity,
                user::Column::Username,
            ))))
            .eq(username.to_lowercase()),
        )
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("User"))
}

/// A page of users in id order; `prefix` keeps those whose username starts with it,
/// compared case-insensitively.
pub async fn list(
    db: &Reader<'_>,
    prefix: Option<&str>,
    req: &PageRequest,
) -> Result<Fetched<user::Model>> {
    let mut select = user::Entity::find();
    if let Some(prefix) = prefix.filter(|p| !p.is_empty()) {
        select = select.filter(like::starts_with_case_insensitive(
            db.backend(),
            Expr::col((user::Entity, user::Column::Username)),
            prefix,
        ));
    }
    page::fetch(db, select.into_query(), &order::users(), req).await
}

/// A change to an account, every field already valid. `None` leaves a field alone;
/// `display_name: Some(None)` clears it.
#[derive(Debug, Default)]
pub struct AccountChanges {
    /// A new username (API 1.1); tokens issued before the change stay valid.
    pub username: Option<Username>,
    pub display_name: Option<Option<DisplayName>>,
    pub email: Option<Email>,
    pub password: Option<Password>,
    pub is_active: Option<bool>,
}

/// Applies `changes` to `target`. A new password ends the user's other sessions (SPEC §6:
/// [`auth::end_other_sessions`]; the caller's own session continues when the caller is
/// that user); deactivating the last active admin is refused (409 `last_admin`).
#[tracing::instrument(skip_all, fields(user_id = target.id))]
pub async fn update(
    db: &mut Db<'_>,
    passwords: &Passwords,
    viewer: &Viewer,
    target: user::Model,
    changes: AccountChanges,
) -> Result<user::Model> {
    update_with_profile(
        db,
        passwords,
        viewer,
        target,
        changes,
        ProfileChanges::default(),
    )
    .await
}

/// The profile fields a Conduit user carries (`bio`, `image`): `None` leaves a field
/// alone, `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct ProfileChanges {
    pub bio: Option<Option<Bio>>,
    pub avatar_url: Option<Option<AbsoluteUrl>>,
}

/// [`update`], and the profile's `bio` and `avatar_url` in the same transaction (the
/// profile is created when the user has none), so that a refused change (409) writes
/// nothing.
#[tracing::instrument(skip_all, fields(user_id = target.id))]
pub async fn update_with_profile(
    db: &mut Db<'_>,
    passwords: &Passwords,
    viewer: &Viewer,
    target: user::Model,
    changes: AccountChanges,
    profile: ProfileChanges,
) -> Result<user::Model> {
    let password_hash = match &changes.password {
        Some(password) => Some(passwords.hash(password).await?),
        None => None,
    };
    let deactivating = changes.is_active == Some(false) && target.is_active;
    let mut row = target.clone().into_active_model();
    if let Some(username) = changes.username {
        row.username = Set(username.into_inner());
    }
    if let Some(display_name) = changes.display_name {
        row.display_name = Set(display_name.map(DisplayName::into_inner));
    }
    if let Some(email) = changes.email {
        row.email = Set(email.into_inner());
    }
    if let Some(hash) = &password_hash {
        row.password_hash = Set(hash.clone());
    }
    if let Some(is_active) = changes.is_active {
        row.is_active = Set(is_active);
    }
    let profile_changes = profile.bio.is_some() || profile.avatar_url.is_some();
    if !row.is_changed() && !profile_changes {
        return Ok(target);
    }
    let txn = db.write().await.begin().await?;
    let updated = if row.is_changed() {
        row.updated_at = Set(time::now());
        if deactivating {
            roles::ensure_not_last_admin(&txn, target.id).await?;
        }
        row.update(&txn).await.map_err(account_conflict)?
    } else {
        target.clone()
    };
    if password_hash.is_some() {
        let own_session = (viewer.id == target.id).then_some(viewer);
        auth::end_other_sessions(&txn, target.id, own_session).await?;
    }
    profiles::set_bio_and_avatar(&txn, target.id, profile.bio, profile.avatar_url).await?;
    txn.commit().await?;
    Ok(updated)
}

/// What deleting user `id` would remove (I3), counted in one statement: the user, their
/// profile, posts, the comments they wrote and those on their posts (each once), their
/// role assignments and tokens, their follows in both directions, their favorites and
/// those of their posts, and their posts' `post_tags` rows; and the assignments they made
/// to others, which stay with `assigned_by` set to NULL.
pub async fn deletion_preview(db: &Writer<'_>, id: i64) -> Result<CascadePreview> {
    let by_user = |column: &'static str, table: &'static str| {
        count_where(table, Condition::all().add(col(table, column).eq(id)))
    };
    let their_posts = Query::select()
        .column(Alias::new("id"))
        .from(Alias::new("posts"))
        .and_where(col("posts", "author_id").eq(id))
        .to_owned();
    let comments = count_where(
        "comments",
        Condition::any()
            .add(col("comments", "author_id").eq(id))
            .add(col("comments", "post_id").in_subquery(their_posts.clone())),
    );
    let follows = count_where(
        "follows",
        Condition::any()
            .add(col("follows", "follower_id").eq(id))
            .add(col("follows", "followee_id").eq(id)),
    );
    let favorites = count_where(
        "favorites",
        Condition::any()
            .add(col("favorites", "user_id").eq(id))
            .add(col("favorites", "post_id").in_subquery(their_posts.clone())),
    );
    let post_tags = count_where(
        "post_tags",
        Condition::all().add(col("post_tags", "post_id").in_subquery(their_posts)),
    );
    let assigned_to_others = count_where(
        "user_roles",
        Condition::all()
            .add(col("user_roles", "assigned_by").eq(id))
            .add(col("user_roles", "user_id").ne(id)),
    );
    let counts = read_counts(
        db,
        vec![
            ("users", by_user("id", "users")),
            ("profiles", by_user("user_id", "profiles")),
            ("posts", by_user("author_id", "posts")),
            ("comments", comments),
            ("user_roles", by_user("user_id", "user_roles")),
            ("follows", follows),
            ("favorites", favorites),
            ("post_tags", post_tags),
            ("refresh_tokens", by_user("user_id", "refresh_tokens")),
            ("revoked_tokens", by_user("user_id", "revoked_tokens")),
            ("login_attempts", by_user("user_id", "login_attempts")),
            ("session_epochs", by_user("user_id", "session_epochs")),
            ("assigned_by", assigned_to_others),
        ],
    )
    .await?;
    let mut delete = counts;
    let set_null = delete.remove("assigned_by").unwrap_or(0);
    Ok(CascadePreview {
        delete,
        set_null: BTreeMap::from([("user_roles.assigned_by", set_null)]),
    })
}

/// Deletes user `id` and, through the foreign keys' cascades, everything I3 names, in one
/// transaction; with `dry_run` only reports what would go. The last active admin cannot
/// be deleted (409 `last_admin`), with or without `dry_run`.
#[tracing::instrument(skip(db))]
pub async fn delete(db: Writer<'_>, id: i64, dry_run: bool) -> Result<Option<CascadePreview>> {
    if dry_run {
        roles::ensure_not_last_admin(&db, id).await?;
        return deletion_preview(&db, id).await.map(Some);
    }
    let txn = db.begin().await?;
    roles::ensure_not_last_admin(&txn, id).await?;
    let deleted = user::Entity::delete_by_id(id).exec(&txn).await?;
    if deleted.rows_affected == 0 {
        return Err(AppError::not_found("User"));
    }
    txn.commit().await?;
    Ok(None)
}
