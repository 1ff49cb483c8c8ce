//! Passwords: argon2id, hashed and verified on the blocking pool, at most [`Passwords`]'
//! bound at once (a burst of logins cannot take every core).

use std::sync::LazyLock;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::domain::password::Password;
use crate::error::{AppError, Result};
use crate::jwt::random_hex;

/// A hash of a random password with the same parameters as real ones: logins for unknown
/// users are verified against it so that they take as long as wrong passwords.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking(&random_hex(16)).unwrap_or_default());

fn hash_blocking(password: &str) -> std::result::Result<String, argon2::password_hash::Error> {
    // A random 16-byte salt from the operating system, as before.
    PasswordHasher::<PasswordHash>::hash_password(&Argon2::default(), password.as_bytes())
        .map(|hash| hash.to_string())
}

fn verify_blocking(stored: Option<String>, password: &str) -> bool {
    let known = stored.is_some();
    // Forced on both paths, so that the one-off cost of making the dummy hash cannot tell
    // the first unknown login from a known one.
    let dummy = &*DUMMY_HASH;
    let hash = stored.unwrap_or_else(|| dummy.clone());
    let matched = PasswordHash::new(&hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    });
    known && matched
}

/// Password hashing and verification for one process, at most `concurrent` at once.
///
/// Each argon2id hash costs 19 MiB and tens of milliseconds of a core; without a bound a
/// flood of logins or registrations would take every core and the memory with it. Past
/// the bound a request waits its turn, at most [`Passwords::QUEUE_WAIT`], then is refused
/// with 429 and `Retry-After` rather than left to time out.
pub struct Passwords {
    permits: tokio::sync::Semaphore,
    queue_wait: Duration,
}

impl Passwords {
    /// How long a request waits for a turn to hash before it is refused.
    pub const QUEUE_WAIT: Duration = Duration::from_secs(5);

    pub fn new(concurrent: usize) -> Self {
        Self::with_queue_wait(concurrent, Self::QUEUE_WAIT)
    }

    fn with_queue_wait(concurrent: usize, queue_wait: Duration) -> Self {
        Passwords {
            permits: tokio::sync::Semaphore::new(concurrent.max(1)),
            queue_wait,
        }
    }

    /// Runs `work` on the blocking pool once a turn is free.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let _turn = tokio::time::timeout(self.queue_wait, self.permits.acquire())
            .await
            .map_err(|_| {
                AppError::rate_limited(1).with_detail(
                    "Too many passwords are being checked at once; try again in a second.",
                )
            })?
            .map_err(|e| AppError::internal(anyhow::anyhow!("the hashing bound closed: {e}")))?;
        Ok(tokio::task::spawn_blocking(work).await?)
    }

    /// The argon2id hash of `password`.
    pub async fn hash(&self, password: &Password) -> Result<String> {
        let password = password.expose().to_string();
        self.run(move || hash_blocking(&password))
            .await?
            .map_err(|e| AppError::internal(anyhow::anyhow!("hashing a password: {e}")))
    }

    /// Whether `password` matches `stored`; with no stored hash (unknown user) it checks
    /// the dummy hash and answers false, taking the same time.
    pub async fn verify(&self, stored: Option<String>, password: &str) -> Result<bool> {
        let password = password.to_string();
        self.run(move || verify_blocking(stored, &password)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stored hashes outlive the crate that made them: this one was made by argon2 0.5
    /// (`relata seed`'s demo password) before the move to argon2 0.6.
    #[tokio::test]
    async fn a_hash_made_by_argon2_0_5_still_verifies() {
        let stored = "$argon2id$v=19$m=19456,t=2,p=1$eWeF3ACcShjkmYqcuzh1xQ$U3nOThIY41+Cn6TKS8ak6TBUWRwVD2TaBdHyu45f+EU";
        let demo = crate::ops::seed::DEMO_PASSWORD;
        let passwords = Passwords::new(1);
        assert!(passwords.verify(Some(stored.into()), demo).await.unwrap());
        assert!(
            !passwords
                .verify(Some(stored.into()), "wrong")
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_new_hash_keeps_the_parameters_and_salt_length_of_before() {
        let hash = hash_blocking("password123").unwrap();
        let prefix = "$argon2id$v=19$m=19456,t=2,p=1$";
        assert!(hash.starts_with(prefix), "{hash}");
        let salt = hash[prefix.len()..].split('$').next().unwrap();
        assert_eq!(salt.len(), 22, "16 bytes of salt, unpadded base64: {hash}");
        assert!(
            Passwords::new(1)
                .verify(Some(hash), "password123")
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn past_the_bound_a_hash_waits_its_turn_and_then_is_refused() {
        let passwords = Passwords::with_queue_wait(1, Duration::from_millis(50));
        let held = passwords.permits.acquire().await.unwrap();
        let refused = passwords.verify(None, "password123").await.unwrap_err();
        assert_eq!(refused.status, axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.retry_after, Some(1));
        drop(held);
    }
}
