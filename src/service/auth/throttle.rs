//! The login throttle: attempts are rows of `login_attempts`, reserved before the password
//! is verified, so the limit (SPEC §4: 5 failures within 15 minutes) holds across
//! processes and against parallel bursts.

use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
};
use sha2::{Digest, Sha256};

use crate::entity::login_attempt;
use crate::error::{AppError, Result};
use crate::store::Writer;
use crate::time;

/// Failures that lock a login (SPEC §4: 5 within 15 minutes).
pub const MAX_FAILED_LOGINS: usize = 5;
/// The window failures are counted in.
pub const FAILED_LOGIN_WINDOW: chrono::Duration = chrono::Duration::minutes(15);

/// The form failures are recorded under: trimmed, lower-case, bounded.
pub(super) fn login_key(login: &str) -> String {
    login.trim().to_lowercase().chars().take(254).collect()
}

/// Whose allowance an attempt draws on: failures for this login text, or for the user it
/// names. Counting by user too means the username and the email of one account share one
/// allowance.
pub(super) fn attempts_of(key: &str, user_id: Option<i64>) -> Condition {
    let mut who = Condition::any().add(login_attempt::Column::Login.eq(key));
    if let Some(id) = user_id {
        who = who.add(login_attempt::Column::UserId.eq(id));
    }
    who
}

/// The PostgreSQL advisory lock that serialises the throttle checks of one account (or of
/// one login text naming no account): the first 8 bytes of a digest of what it names, the
/// same in every process.
fn throttle_lock_key(key: &str, user_id: Option<i64>) -> i64 {
    let subject = match user_id {
        Some(id) => format!("relata login throttle: user {id}"),
        None => format!("relata login throttle: login {key}"),
    };
    let digest = Sha256::digest(subject.as_bytes());
    i64::from_be_bytes(digest[..8].try_into().unwrap_or_default())
}

/// Reserves one of the login's [`MAX_FAILED_LOGINS`] attempts before its password is
/// verified, or refuses with 429 when the window holds that many already.
///
/// The reservation is a `login_attempts` row written first and counted with the others in
/// one transaction that no other attempt on the same account can interleave with: on
/// PostgreSQL a transaction-scoped advisory lock keyed by the account, on SQLite the
/// database's single writer (the insert comes first, so the count reads after every
/// committed reservation). Attempts in flight therefore count as failures until they are
/// resolved, and a burst of parallel attempts cannot all pass the check. Other accounts
/// take other locks, and the lock is released before the password is verified.
pub(super) async fn reserve_attempt(
    db: Writer<'_>,
    key: &str,
    user_id: Option<i64>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<i64> {
    let txn = db.begin().await?;
    let backend = txn.get_database_backend();
    if backend == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            "SELECT pg_advisory_xact_lock($1)",
            [throttle_lock_key(key, user_id).into()],
        ))
        .await?;
    }
    let reserved = login_attempt::ActiveModel {
        login: Set(key.to_string()),
        user_id: Set(user_id),
        attempted_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?
    .id;
    // The newest attempts besides this one, newest first; one more than the allowance,
    // so that this one's own row cannot hide the fifth.
    // Whole rows, read by column name: a write unit's SeaORM rows on SQLite are not read
    // by position (store/write/direct.rs), which `into_tuple` would do.
    let others: Vec<(i64, chrono::DateTime<chrono::Utc>)> = login_attempt::Entity::find()
        .filter(attempts_of(key, user_id))
        .filter(login_attempt::Column::AttemptedAt.gt(now - FAILED_LOGIN_WINDOW))
        .order_by_desc(login_attempt::Column::AttemptedAt)
        .order_by_desc(login_attempt::Column::Id)
        .limit(MAX_FAILED_LOGINS as u64 + 1)
        .all(&txn)
        .await?
        .into_iter()
        .filter(|attempt| attempt.id != reserved)
        .map(|attempt| (attempt.id, attempt.attempted_at))
        .collect();
    if others.len() >= MAX_FAILED_LOGINS {
        // Refused attempts are not recorded: dropping the transaction rolls the
        // reservation back. The lock lifts when the oldest of the newest five leaves the
        // window.
        drop(txn);
        let unlocks_at = others[MAX_FAILED_LOGINS - 1].1 + FAILED_LOGIN_WINDOW;
        let wait = Ord::max((unlocks_at - now).num_seconds(), 1);
        return Err(AppError::rate_limited(wait as u64));
    }
    txn.commit().await?;
    Ok(reserved)
}

/// Keeps a reservation as the record of a failure. A success of the same account may have
/// cleared it while this password was verified; then the failure is recorded anew.
pub(super) async fn record_failure(
    db: Writer<'_>,
    reserved: i64,
    key: &str,
    user_id: Option<i64>,
) -> Result<()> {
    let kept = login_attempt::Entity::update_many()
        .col_expr(
            login_attempt::Column::AttemptedAt,
            Expr::col(login_attempt::Column::AttemptedAt),
        )
        .filter(login_attempt::Column::Id.eq(reserved))
        .exec(&db)
        .await?;
    if kept.rows_affected == 0 {
        login_attempt::Entity::insert(login_attempt::ActiveModel {
            login: Set(key.to_string()),
            user_id: Set(user_id),
            attempted_at: Set(time::now()),
            ..Default::default()
        })
        .exec_without_returning(&db)
        .await?;
    }
    Ok(())
}
