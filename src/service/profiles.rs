//! Profiles: the one-to-one side of a user. The database keeps it one-to-one (`user_id`
//! is UNIQUE, I4); `PUT` replaces the whole profile with an upsert on that key, so
//! concurrent first PUTs leave one row, exactly one of them creating it.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
    QueryTrait, Set,
};

use crate::domain::text::{Bio, Location};
use crate::domain::url::AbsoluteUrl;
use crate::domain::viewer::Viewer;
use crate::entity::{profile, user};
use crate::error::{AppError, Result, foreign_key_violation};
use crate::relations::viewer::Mark;
use crate::store::Writer;
use crate::store::read::{FromRow, Reader, Row};

/// A whole profile as PUT sends it, already validated; `None` is an empty field.
pub struct ProfileFields {
    pub avatar_url: Option<AbsoluteUrl>,
    pub website: Option<AbsoluteUrl>,
    pub bio: Option<Bio>,
    pub location: Option<Location>,
}

/// Whether a PUT created the profile (201) or replaced it (200).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Replaced,
}

/// SPEC §4's "who" for changing a user's profile: that user and admins. 403 otherwise.
pub fn authorize(viewer: &Viewer, user_id: i64) -> Result<()> {
    if viewer.id == user_id || viewer.is_admin {
        Ok(())
    } else {
        Err(AppError::forbidden())
    }
}

/// The profile of user `user_id`, in one statement; 404 saying whether the user or only
/// their profile is missing.
pub async fn find_by_user(db: &Reader<'_>, user_id: i64) -> Result<profile::Model> {
    let stmt = user::Entity::find_by_id(user_id)
        .find_also_related(profile::Entity)
        .limit(1)
        .into_query();
    match db.first::<UserAndProfile>(&stmt).await? {
        None => Err(AppError::not_found("User")),
        Some(UserAndProfile(None)) => Err(AppError::not_found("Profile")),
        Some(UserAndProfile(Some(profile))) => Ok(profile),
    }
}

/// A row of `users LEFT JOIN profiles`: the user's columns, then the profile's (all
/// null when there is none).
struct UserAndProfile(Option<profile::Model>);

impl FromRow for UserAndProfile {
    fn from_row<R: Row>(row: &R) -> std::result::Result<Self, sea_orm::DbErr> {
        let profile_at = <user::Model as crate::store::read::Fields>::FIELDS.len();
        let profile_id: Option<i64> = row.get(profile_at)?;
        match profile_id {
            None => Ok(UserAndProfile(None)),
            Some(_) => {
                profile::Model::from_row(&row.skip(profile_at)).map(|p| UserAndProfile(Some(p)))
            }
        }
    }
}

/// A user as the Conduit face shows them: the account and the profile's `bio` and
/// `avatar_url` (`None` without a profile).
#[derive(Clone, Debug)]
pub struct Person {
    pub user: user::Model,
    pub bio: Option<String>,
    pub avatar_url: Option<String>,
}

impl FromRow for Person {
    /// A row of `users LEFT JOIN profiles`: the user's columns, then the profile's.
    fn from_row<R: Row>(row: &R) -> std::result::Result<Self, sea_orm::DbErr> {
        let user = user::Model::from_row(row)?;
        let UserAndProfile(profile) = UserAndProfile::from_row(row)?;
        let (bio, avatar_url) = profile.map_or((None, None), |p| (p.bio, p.avatar_url));
        Ok(Person {
            user,
            bio,
            avatar_url,
        })
    }
}

/// The users with their profiles, as `filter` narrows them: one statement.
fn people(filter: Expr) -> sea_orm::sea_query::SelectStatement {
    user::Entity::find()
        .find_also_related(profile::Entity)
        .filter(filter)
        .limit(1)
        .into_query()
}

/// User `id` with their profile's bio and avatar: one statement; `None` when absent.
pub async fn person(db: &Reader<'_>, id: i64) -> Result<Option<Person>> {
    let stmt = people(Expr::col((user::Entity, user::Column::Id)).eq(id));
    Ok(db.first(&stmt).await?)
}

/// The user called `username` (compared case-insensitively), with their profile's bio
/// and avatar: one statement; `None` when nobody is.
pub async fn person_named(db: &Reader<'_>, username: &str) -> Result<Option<Person>> {
    Ok(person_named_seen_by(db, username, None)
        .await?
        .map(|(person, _)| person))
}

/// A [`Person`] and whether the viewer follows them.
struct SeenPerson(Person, bool);

impl FromRow for SeenPerson {
    /// A row of [`person_named_seen_by`]'s statement: a [`Person`]'s columns, then the
    /// viewer's `following` mark.
    fn from_row<R: Row>(row: &R) -> std::result::Result<Self, sea_orm::DbErr> {
        use crate::store::read::Fields;
        let person = Person::from_row(row)?;
        let at = <user::Model as Fields>::FIELDS.len() + <profile::Model as Fields>::FIELDS.len();
        Ok(SeenPerson(person, row.get(at)?))
    }
}

/// [`person_named`], and whether `viewer_id` follows them (false without a viewer), in
/// the same statement: the profile a viewer asks for costs one statement, not two.
pub async fn person_named_seen_by(
    db: &Reader<'_>,
    username: &str,
    viewer_id: Option<i64>,
) -> Result<Option<(Person, bool)>> {
    // PostgreSQL cannot compare text holding NUL, and no username holds one.
    if username.contains('\0') {
        return Ok(None);
    }
    let lower = Func::lower(Expr::col((user::Entity, user::Column::Username)));
    let mut stmt = people(Expr::expr(lower).eq(username.to_lowercase()));
    let Some(viewer_id) = viewer_id else {
        let person: Option<Person> = db.first(&stmt).await?;
        return Ok(person.map(|p| (p, false)));
    };
    stmt.expr_as(Mark::Following.exists(viewer_id), Alias::new("following"));
    let seen: Option<SeenPerson> = db.first(&stmt).await?;
    Ok(seen.map(|SeenPerson(person, following)| (person, following)))
}

/// Creates or wholly replaces the profile of `user_id`, in one write transaction:
/// `INSERT … ON CONFLICT (user_id) DO NOTHING RETURNING *` creates it when there is none
/// (a row back means this request created it); when a row exists — possibly inserted by
/// a concurrent PUT that won — the `UPDATE` replaces it. 404 when the user does not exist
/// (the foreign key refuses the row).
pub async fn replace(
    db: Writer<'_>,
    user_id: i64,
    fields: ProfileFields,
) -> Result<(profile::Model, Outcome)> {
    let row = ProfileRow {
        avatar_url: fields.avatar_url.map(AbsoluteUrl::into_inner),
        website: fields.website.map(AbsoluteUrl::into_inner),
        bio: fields.bio.map(Bio::into_inner),
        location: fields.location.map(Location::into_inner),
    };
    let txn = db.begin().await?;
    let now = crate::time::now();
    // A concurrent DELETE can remove the row between the INSERT that saw it and the
    // UPDATE; the next round's INSERT then creates it. A few rounds settle any such race.
    for _ in 0..3 {
        if let Some(created) = insert_if_absent(&txn, user_id, &row, now).await? {
            txn.commit().await?;
            return Ok((created, Outcome::Created));
        }
        let replaced = profile::Entity::update_many()
            .set(row.active_model(now))
            .filter(profile::Column::UserId.eq(user_id))
            .exec_with_returning(&txn)
            .await?;
        if let Some(replaced) = replaced.into_iter().next() {
            txn.commit().await?;
            return Ok((replaced, Outcome::Replaced));
        }
    }
    Err(AppError::conflict(
        "concurrent_update",
        "The profile kept changing while it was being replaced; try again.",
    ))
}

/// The replaceable columns of a profile.
struct ProfileRow {
    avatar_url: Option<String>,
    website: Option<String>,
    bio: Option<String>,
    location: Option<String>,
}

impl ProfileRow {
    /// These columns and `updated_at`, for an `UPDATE`.
    fn active_model(&self, now: chrono::DateTime<chrono::Utc>) -> profile::ActiveModel {
        profile::ActiveModel {
            avatar_url: Set(self.avatar_url.clone()),
            website: Set(self.website.clone()),
            bio: Set(self.bio.clone()),
            location: Set(self.location.clone()),
            updated_at: Set(now),
            ..Default::default()
        }
    }
}

/// Inserts the profile unless `user_id` already has one; the row when it was inserted.
async fn insert_if_absent(
    db: &Writer<'_>,
    user_id: i64,
    row: &ProfileRow,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<profile::Model>> {
    let mut insert = profile::Entity::insert(profile::ActiveModel {
        user_id: Set(user_id),
        created_at: Set(now),
        ..row.active_model(now)
    })
    .on_conflict(
        OnConflict::column(profile::Column::UserId)
            .do_nothing()
            .to_owned(),
    )
    .into_query();
    insert.returning_all();
    let stmt = db.get_database_backend().build(&insert);
    profile::Model::find_by_statement(stmt)
        .one(db)
        .await
        .map_err(|err| {
            if foreign_key_violation(&err) {
                AppError::not_found("User")
            } else {
                err.into()
            }
        })
}

/// Deletes the profile of `user_id`; 404 when there is none.
pub async fn delete_by_user(db: &Writer<'_>, user_id: i64) -> Result<()> {
    let result = profile::Entity::delete_many()
        .filter(profile::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(AppError::not_found("Profile"));
    }
    Ok(())
}

/// Sets the `bio` and/or `avatar_url` of `user_id`'s profile, leaving its other fields
/// alone (`None`: unchanged; `Some(None)`: cleared), and creates the profile when the user
/// has none: one `INSERT … ON CONFLICT (user_id) DO UPDATE` of just those columns, so
/// concurrent first writes leave one row. Run it in the caller's transaction. Nothing is
/// written when neither is given.
pub async fn set_bio_and_avatar(
    db: &Writer<'_>,
    user_id: i64,
    bio: Option<Option<Bio>>,
    avatar_url: Option<Option<AbsoluteUrl>>,
) -> Result<()> {
    if bio.is_none() && avatar_url.is_none() {
        return Ok(());
    }
    let now = crate::time::now();
    let mut update = vec![profile::Column::UpdatedAt];
    if bio.is_some() {
        update.push(profile::Column::Bio);
    }
    if avatar_url.is_some() {
        update.push(profile::Column::AvatarUrl);
    }
    profile::Entity::insert(profile::ActiveModel {
        user_id: Set(user_id),
        bio: Set(bio.flatten().map(Bio::into_inner)),
        avatar_url: Set(avatar_url.flatten().map(AbsoluteUrl::into_inner)),
        website: Set(None),
        location: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(profile::Column::UserId)
            .update_columns(update)
            .to_owned(),
    )
    .exec_without_returning(db)
    .await
    .map_err(|err| {
        if foreign_key_violation(&err) {
            AppError::not_found("User")
        } else {
            AppError::from(err)
        }
    })?;
    Ok(())
}
