//! Passwords, tokens, sessions and the authenticated caller.
//!
//! Access tokens are HS256 JWTs (`sub`, `exp`, `iat`, `jti`), signed and verified by
//! [`crate::jwt`]; any other algorithm, `none` included, is refused. Checking a token is one SQL statement that reads the user,
//! whether they are active, their admin/moderator roles and whether the token's `jti` was
//! revoked, so revocation and deactivation take effect at once in every process.
//!
//! A password change starts a new session epoch for its user (`session_epochs`); every
//! access token carries the epoch it was issued in, and the same statement refuses one
//! from an earlier epoch, except the token that made the change (SPEC §6).
//!
//! Passwords are argon2id, hashed and verified on the blocking pool, at most
//! [`Passwords`]' bound at once. A login session is a
//! `refresh_tokens` row holding the SHA-256 digest of 256 random bits and the `jti` of the
//! access token issued with it; refreshing deletes the row and makes a new one (rotation),
//! logging out deletes it and records the access token's `jti` in `revoked_tokens`. Login
//! attempts are rows of `login_attempts`, reserved before the password is verified, so
//! throttling holds across processes and against parallel bursts.

mod caller;
mod login;
mod passwords;
mod secret;
mod sessions;
mod throttle;

pub use crate::domain::viewer::Viewer;
pub use caller::{InStatement, UncheckedToken, authenticate, authenticate_for};
pub use login::{check_current_password, login, login_without_session};
pub use passwords::Passwords;
pub use secret::load_or_create_secret;
pub use sessions::{Issuer, TokenPair, end_other_sessions, issue_conduit_token, logout, refresh};
pub use throttle::{FAILED_LOGIN_WINDOW, MAX_FAILED_LOGINS};
