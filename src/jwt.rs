//! Access tokens: the HS256 key pair, the claims, signing and verifying.
//!
//! Below the state and the services, so that both can hold and use the keys without
//! importing each other. Verifying a token here checks only the signature, the algorithm
//! and the expiry; whether its user and `jti` are still good is `service::auth`'s
//! question, answered from the database.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::{RngCore, TryRngCore};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, Result};

/// The shortest secret that is a full HS256 key (RFC 7518 §3.2: at least as long as the
/// hash, 256 bits).
pub const MIN_SECRET_BYTES: usize = 32;

/// The HS256 key pair built from the secret.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Self {
        JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }
}

/// The claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    pub iat: u64,
    pub jti: String,
    /// The audience: absent on `/api/v1` access tokens, [`CONDUIT_AUDIENCE`] on the
    /// tokens the Conduit face issues, which `/api/v1` refuses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// The user's session epoch when the token was issued (SPEC §6): a password change
    /// starts a new epoch, and tokens of an earlier one are refused. Tokens issued before
    /// API 1.2 carry none, which reads as epoch 0, the epoch of a password never changed.
    #[serde(default)]
    pub epoch: i64,
}

/// The `aud` of the tokens the Conduit face (`/api`) issues.
pub const CONDUIT_AUDIENCE: &str = "conduit";

/// Which tokens a face accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// `/api/v1`: access tokens without an audience only.
    Api,
    /// `/api`: Conduit tokens, and `/api/v1` access tokens too.
    Conduit,
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Random bytes from the operating system's generator, hex-encoded.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // Panics only when the operating system cannot supply randomness, as rand 0.8's
    // `OsRng` did.
    rand::rngs::OsRng.unwrap_err().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// Signs an access token for `user_id` in session epoch `epoch`; returns the token, its
/// `jti` and its expiry.
pub fn issue_access_token(
    keys: &JwtKeys,
    user_id: i64,
    epoch: i64,
    ttl_secs: u64,
) -> Result<(String, String, u64)> {
    issue_token(keys, user_id, epoch, ttl_secs, None)
}

/// Signs a token for `user_id` in session epoch `epoch` with audience `aud` (none for
/// `/api/v1` access tokens); returns the token, its `jti` and its expiry.
pub fn issue_token(
    keys: &JwtKeys,
    user_id: i64,
    epoch: i64,
    ttl_secs: u64,
    aud: Option<&str>,
) -> Result<(String, String, u64)> {
    let iat = unix_now();
    let exp = iat + ttl_secs;
    let jti = random_hex(16);
    let claims = Claims {
        sub: user_id.to_string(),
        exp,
        iat,
        jti: jti.clone(),
        aud: aud.map(str::to_string),
        epoch,
    };
    let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding)
        .map_err(|e| AppError::internal(anyhow::anyhow!("signing a token: {e}")))?;
    Ok((token, jti, exp))
}

/// Verifies signature, algorithm and expiry of an `/api/v1` access token; no database
/// access.
pub fn decode_access_token(keys: &JwtKeys, token: &str) -> Result<Claims> {
    decode_token(keys, token, Audience::Api)
}

/// Verifies signature, algorithm, expiry and audience of a token presented to the face
/// `audience`: `/api/v1` refuses Conduit tokens, `/api` takes both kinds.
pub fn decode_token(keys: &JwtKeys, token: &str, audience: Audience) -> Result<Claims> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "sub", "iat"]);
    // The audience is checked below, by face, rather than by the library's rule.
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Claims>(token, &keys.decoding, &validation)
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                AppError::unauthorized("token_expired", "The access token has expired.")
            }
            _ => AppError::unauthorized("invalid_token", "The access token is not valid."),
        })?;
    let accepted = matches!(
        (audience, claims.aud.as_deref()),
        (_, None) | (Audience::Conduit, Some(CONDUIT_AUDIENCE))
    );
    if accepted {
        Ok(claims)
    } else {
        Err(AppError::unauthorized(
            "invalid_token",
            "The access token is not valid here.",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_face_takes_only_the_tokens_meant_for_it() {
        let keys = JwtKeys::new(b"a test secret, long enough for HS256");
        let (api, _, _) = issue_access_token(&keys, 7, 0, 60).unwrap();
        let (conduit, _, _) = issue_token(&keys, 7, 0, 60, Some(CONDUIT_AUDIENCE)).unwrap();
        let (other, _, _) = issue_token(&keys, 7, 0, 60, Some("elsewhere")).unwrap();
        assert_eq!(decode_token(&keys, &api, Audience::Api).unwrap().sub, "7");
        assert!(decode_token(&keys, &api, Audience::Conduit).is_ok());
        assert!(decode_token(&keys, &conduit, Audience::Conduit).is_ok());
        assert!(decode_access_token(&keys, &conduit).is_err());
        assert!(decode_token(&keys, &other, Audience::Conduit).is_err());
        assert!(decode_token(&keys, &other, Audience::Api).is_err());
    }

    #[test]
    fn a_token_carries_its_epoch_and_one_without_reads_as_epoch_0() {
        let keys = JwtKeys::new(b"a test secret, long enough for HS256");
        let (token, _, _) = issue_access_token(&keys, 7, 3, 60).unwrap();
        assert_eq!(decode_access_token(&keys, &token).unwrap().epoch, 3);
        let before =
            serde_json::json!({"sub": "7", "exp": unix_now() + 60, "iat": unix_now(), "jti": "x"});
        let old =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &before, &keys.encoding).unwrap();
        assert_eq!(decode_access_token(&keys, &old).unwrap().epoch, 0);
    }
}
