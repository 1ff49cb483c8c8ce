//! The JWT signing secret: `RELATA_JWT_SECRET`, or one generated on first start and kept
//! in the `settings` table so that every process and restart signs alike.

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::entity::setting;
use crate::error::{AppError, Result};
use crate::jwt::random_hex;

const JWT_SECRET_KEY: &str = "jwt_secret";

/// The configured secret, or the one stored in the database (generated on first use, with
/// an insert that lets the first of several starting processes win).
pub async fn load_or_create_secret(
    db: &DatabaseConnection,
    configured: Option<&str>,
) -> Result<Vec<u8>> {
    if let Some(secret) = configured {
        return Ok(secret.as_bytes().to_vec());
    }
    let candidate = random_hex(32);
    setting::Entity::insert(setting::ActiveModel {
        key: sea_orm::Set(JWT_SECRET_KEY.to_string()),
        value: sea_orm::Set(candidate),
    })
    .on_conflict_do_nothing_on([setting::Column::Key])
    .exec(db)
    .await?;
    let stored = setting::Entity::find()
        .filter(setting::Column::Key.eq(JWT_SECRET_KEY))
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("the JWT secret was not stored")))?;
    Ok(stored.value.into_bytes())
}
