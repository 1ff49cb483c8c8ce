//! Keeps the authentication tables bounded: refresh tokens past their expiry, revocations
//! of access tokens that have expired anyway, and login attempts older than the throttle
//! window are deleted at start-up and then periodically by `relata serve`
//! (`RELATA_SWEEP_INTERVAL_SECS`). None of them can affect an answer any more: an expired
//! refresh token is refused as expired or unknown alike, an expired access token is
//! refused before its revocation is looked up, and old attempts fall outside the window.

use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::entity::{login_attempt, refresh_token, revoked_token};
use crate::error::Result;
use crate::service::auth::FAILED_LOGIN_WINDOW;
use crate::store::{Store, Writer};

/// Rows one sweep deleted, per table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub refresh_tokens: u64,
    pub revoked_tokens: u64,
    pub login_attempts: u64,
}

impl Swept {
    pub fn total(&self) -> u64 {
        self.refresh_tokens + self.revoked_tokens + self.login_attempts
    }
}

/// Deletes every row that expired before `now`; one statement per table, each on its own
/// so that a sweep never holds SQLite's writer for long.
pub async fn sweep(db: &Writer<'_>, now: chrono::DateTime<chrono::Utc>) -> Result<Swept> {
    let refresh_tokens = refresh_token::Entity::delete_many()
        .filter(refresh_token::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?
        .rows_affected;
    let revoked_tokens = revoked_token::Entity::delete_many()
        .filter(revoked_token::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?
        .rows_affected;
    let login_attempts = login_attempt::Entity::delete_many()
        .filter(login_attempt::Column::AttemptedAt.lte(now - FAILED_LOGIN_WINDOW))
        .exec(db)
        .await?
        .rows_affected;
    Ok(Swept {
        refresh_tokens,
        revoked_tokens,
        login_attempts,
    })
}

/// Sweeps every `interval` until the task is dropped; a failed sweep (the database is
/// down, say) is logged and retried at the next tick.
pub async fn sweep_every(store: Store, interval: Duration) {
    let mut ticks = tokio::time::interval(interval.max(Duration::from_secs(1)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick completes at once; start-up has just swept.
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let mut db = store.db();
        let swept = sweep(&db.write().await, crate::time::now()).await;
        match swept {
            Ok(swept) if swept.total() > 0 => tracing::info!(
                refresh_tokens = swept.refresh_tokens,
                revoked_tokens = swept.revoked_tokens,
                login_attempts = swept.login_attempts,
                "swept expired authentication rows"
            ),
            Ok(_) => {}
            Err(err) => tracing::warn!(%err, "sweeping expired authentication rows failed"),
        }
    }
}
