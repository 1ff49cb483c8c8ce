//! The authenticated caller: checking a token is one SQL statement that reads the user,
//! whether they are active, their admin/moderator roles, whether the token's `jti` was
//! revoked and the user's session epoch, so revocation, deactivation and a password
//! change take effect at once in every process (SPEC §6). The token's signature and
//! expiry are verified first, with no statement ([`UncheckedToken::verify`]), so a GET
//! can send the check in one flight with its own reads ([`UncheckedToken::check`]), and a
//! write on PostgreSQL can make it inside its own statement ([`InStatement`]).

use std::sync::LazyLock;

use sea_orm::DbBackend;
use sea_orm::sea_query::{Expr, ExprTrait, Query, Value};

use crate::domain::viewer::Viewer;
use crate::entity::{revoked_token, role, session_epoch, user, user_role};
use crate::error::{AppError, Result};
use crate::jwt::{Audience, CONDUIT_AUDIENCE, Claims, JwtKeys, decode_token};
use crate::store::read::{Built, Reader, ShapeCache};

struct CallerRow {
    id: i64,
    username: String,
    is_active: bool,
    is_admin: bool,
    is_moderator: bool,
    revoked: bool,
    /// The user's session epoch; `None` (no row) is epoch 0.
    epoch: Option<i64>,
    /// The token that made the last password change, which outlives it.
    kept_jti: Option<String>,
}

crate::from_row!(CallerRow {
    id,
    username,
    is_active,
    is_admin,
    is_moderator,
    revoked,
    epoch,
    kept_jti,
});

fn has_role(role_name: &str) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .expr(Expr::val(1))
        .from(user_role::Entity)
        .inner_join(
            role::Entity,
            Expr::col((role::Entity, role::Column::Id))
                .equals((user_role::Entity, user_role::Column::RoleId)),
        )
        .and_where(
            Expr::col((user_role::Entity, user_role::Column::UserId))
                .equals((user::Entity, user::Column::Id)),
        )
        .and_where(Expr::col((role::Entity, role::Column::Name)).eq(role_name))
        .to_owned()
}

/// The text of [`caller_built`]'s statement, built once.
static CALLER: LazyLock<ShapeCache<()>> = LazyLock::new(ShapeCache::default);

/// The statement of [`authenticate_for`]: the caller's row, whether they hold the admin
/// and moderator roles, whether token `jti` is revoked, and their session epoch.
fn caller_built(backend: DbBackend, user_id: i64, jti: &str) -> Built {
    let values = vec![
        Value::Int(Some(1)),
        Value::String(Some(role::ADMIN.to_string())),
        Value::Int(Some(1)),
        Value::String(Some(role::MODERATOR.to_string())),
        Value::Int(Some(1)),
        Value::String(Some(jti.to_string())),
        Value::BigInt(Some(user_id)),
    ];
    CALLER.get(backend, (), values, || {
        let revoked = Query::select()
            .expr(Expr::val(1))
            .from(revoked_token::Entity)
            .and_where(Expr::col((revoked_token::Entity, revoked_token::Column::Jti)).eq(jti))
            .to_owned();
        Query::select()
            .columns([
                (user::Entity, user::Column::Id),
                (user::Entity, user::Column::Username),
                (user::Entity, user::Column::IsActive),
            ])
            .expr_as(Expr::exists(has_role(role::ADMIN)), "is_admin")
            .expr_as(Expr::exists(has_role(role::MODERATOR)), "is_moderator")
            .expr_as(Expr::exists(revoked), "revoked")
            .columns([
                (session_epoch::Entity, session_epoch::Column::Epoch),
                (session_epoch::Entity, session_epoch::Column::KeptJti),
            ])
            .from(user::Entity)
            .left_join(
                session_epoch::Entity,
                Expr::col((session_epoch::Entity, session_epoch::Column::UserId))
                    .equals((user::Entity, user::Column::Id)),
            )
            .and_where(Expr::col((user::Entity, user::Column::Id)).eq(user_id))
            .to_owned()
    })
}

/// Turns a bearer token into the caller, in one statement; 401 when the token is bad,
/// expired or revoked, from a session epoch its user's password change ended, or its user
/// is gone or deactivated.
pub async fn authenticate(db: &Reader<'_>, keys: &JwtKeys, token: &str) -> Result<Viewer> {
    authenticate_for(db, keys, token, Audience::Api).await
}

/// [`authenticate`] for the face `audience` (the Conduit face also takes its own tokens).
pub async fn authenticate_for(
    db: &Reader<'_>,
    keys: &JwtKeys,
    token: &str,
    audience: Audience,
) -> Result<Viewer> {
    UncheckedToken::verify(keys, token, audience)?
        .check(db)
        .await
}

/// The token check inside a write's own statement (PostgreSQL), built by
/// [`UncheckedToken::in_statement`]: the write runs only where `good` holds, and the
/// statement also selects the `caller` row ([`InStatement::COLUMNS`] columns, first), which
/// [`UncheckedToken::judge_row`] turns into the caller or the 401 the check on its own
/// would answer. Checked and written in one snapshot, so nothing lands for a token that
/// no longer works, and no round trip goes before the write.
pub struct InStatement {
    /// `caller AS (…)`, for the statement's `WITH`; its values are `$1…`.
    pub cte: String,
    /// A condition that holds when the token still works.
    pub good: String,
    /// The values of `cte` and `good`, the statement's first; the write's own follow.
    pub values: Vec<Value>,
}

impl InStatement {
    /// How many columns `caller.*` selects, before the write's own.
    pub const COLUMNS: usize = <CallerRow as crate::store::read::Fields>::FIELDS.len();
}

/// A bearer token whose signature, algorithm, audience and expiry are verified, which
/// needs no statement, but whose user row is not read yet: revocation, deactivation and a
/// password change are known only once [`UncheckedToken::check`] has run. That is the
/// one way from it to a [`Viewer`], so a read can go in one flight with the check (on
/// PostgreSQL, one round trip for both) without anything trusting the token before it.
#[must_use = "a token is only good once it is checked"]
#[derive(Debug)]
pub struct UncheckedToken {
    user_id: i64,
    claims: Claims,
}

impl UncheckedToken {
    /// Verifies `token` for the face `audience`; 401 when it is bad or expired.
    pub fn verify(keys: &JwtKeys, token: &str, audience: Audience) -> Result<Self> {
        let claims = decode_token(keys, token, audience)?;
        let user_id: i64 = claims.sub.parse().map_err(|_| {
            AppError::unauthorized("invalid_token", "The access token is not valid.")
        })?;
        Ok(UncheckedToken { user_id, claims })
    }

    /// [`InStatement`]'s answer: the caller from the first [`InStatement::COLUMNS`]
    /// columns of `row` (`None`: the statement answered no row, so no such user).
    pub fn judge_row<R: crate::store::read::Row>(&self, row: Option<&R>) -> Result<Viewer> {
        use crate::store::read::FromRow;
        let row = row.map(CallerRow::from_row).transpose()?;
        self.judge(row)
    }

    /// The id of the user the token names, not yet checked: enough to build statements
    /// with (whose answers are used only once the check passed).
    pub fn user_id(&self) -> i64 {
        self.user_id
    }

    /// The caller, in one statement on `db` (the read unit of the request, so that it
    /// reads where the request reads); 401 when the token was revoked, its session epoch
    /// ended, or its user is gone or deactivated.
    pub async fn check(self, db: &Reader<'_>) -> Result<Viewer> {
        let row: Option<CallerRow> = db
            .first(caller_built(db.backend(), self.user_id, &self.claims.jti))
            .await?;
        self.judge(row)
    }

    /// The check as part of a write's own statement on PostgreSQL, so that the write
    /// needs no round trip before it ([`InStatement`]).
    pub fn in_statement(&self) -> InStatement {
        let caller = caller_built(DbBackend::Postgres, self.user_id, &self.claims.jti);
        let n = caller.values.0.len();
        let mut values = caller.values.0;
        values.push(Value::BigInt(Some(self.claims.epoch)));
        values.push(Value::String(Some(self.claims.jti.clone())));
        InStatement {
            cte: format!("caller AS ({})", caller.sql),
            // What `judge` lets in: active, not revoked, and the token's epoch is the
            // user's (no row: 0) or the token made the last password change.
            good: format!(
                "EXISTS (SELECT 1 FROM caller WHERE caller.is_active AND NOT caller.revoked \
                 AND (COALESCE(caller.epoch, 0) = ${} OR caller.kept_jti = ${}))",
                n + 1,
                n + 2
            ),
            values,
        }
    }

    /// The caller from the row of the check's statement (`None`: no such user); 401 when
    /// the token was revoked, its session epoch ended, or its user is gone or
    /// deactivated.
    fn judge(&self, row: Option<CallerRow>) -> Result<Viewer> {
        // `in_statement`'s `good` says the same in SQL; `tests/api/roundtrips.rs`
        // (`an_article_or_comment_is_written_only_for_a_token_that_still_works`) meets each
        // rule on both.
        let claims = &self.claims;
        let ended = |r: &CallerRow| {
            claims.epoch != r.epoch.unwrap_or(0)
                && r.kept_jti.as_deref() != Some(claims.jti.as_str())
        };
        match row {
            Some(r) if r.is_active && !r.revoked && !ended(&r) => Ok(Viewer {
                id: r.id,
                username: r.username,
                is_admin: r.is_admin,
                is_moderator: r.is_moderator,
                conduit_token: claims.aud.as_deref() == Some(CONDUIT_AUDIENCE),
                jti: claims.jti.clone(),
                exp: claims.exp,
            }),
            Some(r) if r.revoked => Err(AppError::unauthorized(
                "invalid_token",
                "The access token has been revoked.",
            )),
            Some(r) if ended(&r) => Err(AppError::unauthorized(
                "invalid_token",
                "The access token was issued before the password was changed.",
            )),
            Some(_) => Err(AppError::unauthorized(
                "account_disabled",
                "This account is deactivated.",
            )),
            None => Err(AppError::unauthorized(
                "invalid_token",
                "The access token's user no longer exists.",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caller_statement_is_built_once() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            caller_built(backend, 7, "a");
            let again = caller_built(backend, 8, "b");
            assert!(
                CALLER.holds(backend, ()),
                "{backend:?}: its values disagree"
            );
            assert_eq!(again.values.0.last(), Some(&Value::BigInt(Some(8))));
        }
    }
}
