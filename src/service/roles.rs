//! Roles and their assignments: the many-to-many between users and roles through
//! `user_roles`, an association object that records when and by whom a role was assigned.
//!
//! Who may do what is [`policy`]; reading needs a token (the extractor's job), changing
//! needs `admin`. Uniqueness (of names, and of one assignment per user and role) is the
//! database's decision.

use std::collections::BTreeMap;

use sea_orm::sea_query::{Condition, Expr, ExprTrait, LockType, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QuerySelect, QueryTrait, Set, TryInsertResult,
};

use crate::domain::role_description::RoleDescription;
use crate::domain::role_name::RoleName;
use crate::domain::viewer::Viewer;
use crate::entity::{role, user, user_role};
use crate::error::{AppError, Result, unique_violation};
use crate::relations::sql::{
    RoleAssignmentRow, UserAssignmentRow, assignments_of_roles, assignments_of_users,
};
use crate::service::counts::{col, count_where, read_counts};
use crate::store::Writer;
use crate::store::page::{self, Fetched, PageRequest};
use crate::store::read::Reader;
use crate::time;
use crate::wire::repr::CascadePreview;
use crate::wire::repr::order;

/// Who may do what with roles (SPEC §4), in one place.
pub mod policy {
    use crate::domain::viewer::Viewer;
    use crate::error::{AppError, Result};

    /// Creating, changing and deleting roles, and assigning them: admins only.
    pub fn ensure_may_manage(viewer: &Viewer) -> Result<()> {
        if viewer.is_admin {
            Ok(())
        } else {
            Err(AppError::forbidden())
        }
    }
}

/// One role by name; 404 when absent (a name that breaks the naming rule names no role).
pub async fn find(db: &Reader<'_>, name: &str) -> Result<role::Model> {
    let stmt = role::Entity::find()
        .filter(role::Column::Name.eq(name))
        .limit(1)
        .into_query();
    db.first(&stmt)
        .await?
        .ok_or_else(|| AppError::not_found("Role"))
}

/// A page of roles by name.
pub async fn list(db: &Reader<'_>, req: &PageRequest) -> Result<Fetched<role::Model>> {
    page::fetch(db, role::Entity::find().into_query(), &order::roles(), req).await
}

/// Creates a role; 409 `role_exists` when the name is taken.
#[tracing::instrument(skip_all, fields(role = name.as_str()))]
pub async fn create(
    db: &Writer<'_>,
    name: RoleName,
    description: Option<RoleDescription>,
) -> Result<role::Model> {
    role::ActiveModel {
        name: Set(name.into_inner()),
        description: Set(description.map(RoleDescription::into_inner)),
        created_at: Set(time::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|err| match unique_violation(&err) {
        Some(_) => AppError::conflict("role_exists", "A role with this name already exists."),
        None => err.into(),
    })
}

/// Sets a role's description (`None` clears it).
pub async fn update_description(
    db: &Writer<'_>,
    target: role::Model,
    description: Option<RoleDescription>,
) -> Result<role::Model> {
    let description = description.map(RoleDescription::into_inner);
    if description == target.description {
        return Ok(target);
    }
    let mut row = target.into_active_model();
    row.description = Set(description);
    Ok(row.update(db).await?)
}

/// 409 for the `admin` role, which everything else relies on.
fn ensure_deletable(target: &role::Model) -> Result<()> {
    if target.name == role::ADMIN {
        Err(AppError::conflict(
            "protected_role",
            "The admin role cannot be deleted.",
        ))
    } else {
        Ok(())
    }
}

/// Deletes a role and, by cascade, its assignments; with `dry_run` only reports what
/// would go. The `admin` role is refused either way.
#[tracing::instrument(skip(db, target), fields(role = target.name))]
pub async fn delete(
    db: &Writer<'_>,
    target: &role::Model,
    dry_run: bool,
) -> Result<Option<CascadePreview>> {
    ensure_deletable(target)?;
    if dry_run {
        let by_role = |table: &'static str, column: &'static str| {
            count_where(
                table,
                Condition::all().add(col(table, column).eq(target.id)),
            )
        };
        let delete = read_counts(
            db,
            vec![
                ("roles", by_role("roles", "id")),
                ("user_roles", by_role("user_roles", "role_id")),
            ],
        )
        .await?;
        return Ok(Some(CascadePreview {
            delete,
            set_null: BTreeMap::new(),
        }));
    }
    let deleted = role::Entity::delete_by_id(target.id).exec(db).await?;
    if deleted.rows_affected == 0 {
        return Err(AppError::not_found("Role"));
    }
    Ok(None)
}

/// A page of one user's assignments, as seen from the user.
pub async fn assignments_of_user(
    db: &Reader<'_>,
    user_id: i64,
    req: &PageRequest,
) -> Result<Fetched<UserAssignmentRow>> {
    let mut stmt = assignments_of_users()?;
    stmt.and_where(Expr::col((user_role::Entity, user_role::Column::UserId)).eq(user_id));
    page::fetch(db, stmt, &order::user_assignments(), req).await
}

/// A page of one role's assignments, as seen from the role.
pub async fn assignments_of_role(
    db: &Reader<'_>,
    role_id: i64,
    req: &PageRequest,
) -> Result<Fetched<RoleAssignmentRow>> {
    let mut stmt = assignments_of_roles()?;
    stmt.and_where(Expr::col((user_role::Entity, user_role::Column::RoleId)).eq(role_id));
    page::fetch(db, stmt, &order::role_assignments(), req).await
}

/// Gives `role_id` to `user_id`, recording now and `assigned_by`; true when the row was
/// created, false when the user already held the role (left unchanged). One statement,
/// `INSERT … ON CONFLICT DO NOTHING`, so concurrent assignments cannot collide.
pub async fn assign(
    db: &Writer<'_>,
    user_id: i64,
    role_id: i64,
    assigned_by: Option<i64>,
) -> Result<bool> {
    let inserted = user_role::Entity::insert(user_role::ActiveModel {
        user_id: Set(user_id),
        role_id: Set(role_id),
        assigned_at: Set(time::now()),
        assigned_by: Set(assigned_by),
    })
    .on_conflict_do_nothing_on([user_role::Column::UserId, user_role::Column::RoleId])
    .exec_without_returning(db)
    .await
    .map_err(|err| {
        // The user or role vanished between the caller's lookup and this insert.
        if crate::error::foreign_key_violation(&err) {
            AppError::not_found("User or role")
        } else {
            err.into()
        }
    })?;
    Ok(matches!(inserted, TryInsertResult::Inserted(n) if n > 0))
}

/// One assignment, as seen from its user; 404 when the user does not hold the role.
pub async fn assignment(db: &Writer<'_>, user_id: i64, role_id: i64) -> Result<UserAssignmentRow> {
    let mut stmt = assignments_of_users()?;
    stmt.and_where(Expr::col((user_role::Entity, user_role::Column::UserId)).eq(user_id))
        .and_where(Expr::col((user_role::Entity, user_role::Column::RoleId)).eq(role_id));
    db.read()
        .first(&stmt)
        .await?
        .ok_or_else(|| AppError::not_found("Role assignment"))
}

/// `PUT /users/{id}/roles/{name}`: assigns and reads the assignment back, in one
/// transaction; true when it was created.
pub async fn grant(
    db: Writer<'_>,
    viewer: Option<&Viewer>,
    user_id: i64,
    target: &role::Model,
) -> Result<(bool, UserAssignmentRow)> {
    let txn = db.begin().await?;
    let created = assign(&txn, user_id, target.id, viewer.map(|v| v.id)).await?;
    let row = assignment(&txn, user_id, target.id).await?;
    txn.commit().await?;
    Ok((created, row))
}

/// Takes `target` from `user_id`: 404 when not held; removing `admin` from the last
/// active admin is refused (409 `last_admin`).
#[tracing::instrument(skip(db, target), fields(role = target.name))]
pub async fn revoke(db: Writer<'_>, user_id: i64, target: &role::Model) -> Result<()> {
    let txn = db.begin().await?;
    if target.name == role::ADMIN {
        ensure_not_last_admin(&txn, user_id).await?;
    }
    let deleted = user_role::Entity::delete_many()
        .filter(user_role::Column::UserId.eq(user_id))
        .filter(user_role::Column::RoleId.eq(target.id))
        .exec(&txn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(AppError::not_found("Role assignment"));
    }
    txn.commit().await?;
    Ok(())
}

/// 409 `last_admin` when `user_id` is the only active user holding `admin`.
///
/// On PostgreSQL the admin rows are locked (`FOR UPDATE`) until the caller's transaction
/// ends, so two admins removing each other at once cannot both pass; on SQLite the write
/// transaction already excludes every other writer.
pub async fn ensure_not_last_admin(db: &Writer<'_>, user_id: i64) -> Result<()> {
    let admins = Query::select()
        .column((user_role::Entity, user_role::Column::UserId))
        .from(user_role::Entity)
        .inner_join(
            role::Entity,
            Expr::col((role::Entity, role::Column::Id))
                .equals((user_role::Entity, user_role::Column::RoleId)),
        )
        .inner_join(
            user::Entity,
            Expr::col((user::Entity, user::Column::Id))
                .equals((user_role::Entity, user_role::Column::UserId)),
        )
        .and_where(Expr::col((role::Entity, role::Column::Name)).eq(role::ADMIN))
        .and_where(Expr::col((user::Entity, user::Column::IsActive)).eq(true))
        .lock(LockType::Update)
        .to_owned();
    let ids: Vec<i64> = db
        .query_all(&admins)
        .await?
        .iter()
        .map(|row| row.try_get::<i64>("", "user_id"))
        .collect::<std::result::Result<_, _>>()?;
    if ids == [user_id] {
        Err(AppError::conflict(
            "last_admin",
            "This is the last active admin; make another admin first.",
        ))
    } else {
        Ok(())
    }
}
