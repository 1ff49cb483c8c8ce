//! Limits per client address (SPEC §6), so that one client cannot hurt the others: the
//! HTTP connections it holds at once, the registrations and logins it may attempt per
//! minute, and its share of the process's password hashing: at most
//! [`PASSWORD_CHECKS_PER_CLIENT`] of its logins and registrations are in the hashing
//! queue at once, the rest wait behind them, so that a flood from one address cannot
//! push a login from another to the back of a long queue.
//!
//! The address is the peer of the TCP connection, as the accept loop saw it
//! ([`ClientAddr`]). These limits are each process's own: they protect that process's
//! connections and cores, so with N processes behind a load balancer a client gets N
//! times the allowance (the per-account login throttle, which guards passwords, is kept
//! in the database and shared). Behind a reverse proxy every client has the proxy's
//! address: raise the limits, or turn them off (0) and let the proxy limit.
//!
//! Rates are governor's GCRA: a client may spend a minute's allowance at once, and one
//! more attempt becomes available every `60 / N` seconds.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::Settings;
use crate::error::AppError;

/// The address of the client a request came from, set by the accept loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// The address, with an IPv4 address mapped into IPv6 read as the IPv4 one, so that
    /// one client has one key whichever way it connected.
    pub fn new(ip: IpAddr) -> Self {
        ClientAddr(ip.to_canonical())
    }
}

/// The client address of a request, for a handler: `None` when the request did not come
/// through the accept loop (a test driving the router directly).
pub struct Client(pub Option<ClientAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Client(parts.extensions.get::<ClientAddr>().copied()))
    }
}

/// Logins and registrations one client address may have in the hashing queue at once;
/// more wait their turn (see the module comment).
pub const PASSWORD_CHECKS_PER_CLIENT: usize = 2;

/// Keys kept by a rate limiter before the ones that are back to a full allowance are
/// forgotten.
const FORGET_AFTER_KEYS: usize = 10_000;

/// A per-minute allowance per client address.
struct PerMinute {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    what: &'static str,
}

impl PerMinute {
    fn new(per_minute: u32, what: &'static str) -> Option<Self> {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute)?);
        Some(PerMinute {
            limiter: DefaultKeyedRateLimiter::hashmap(quota),
            what,
        })
    }

    fn check(&self, client: ClientAddr) -> Result<(), AppError> {
        if self.limiter.len() > FORGET_AFTER_KEYS {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&client.0).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            AppError::rate_limited(secs).with_detail(format!(
                "Too many {} from this address; try again in {} seconds.",
                self.what,
                secs.max(1)
            ))
        })
    }
}

/// The limits of one process, per client address.
pub struct ClientLimits {
    max_connections: usize,
    connections: Mutex<HashMap<IpAddr, usize>>,
    registrations: Option<PerMinute>,
    logins: Option<PerMinute>,
    password_checks: Mutex<HashMap<IpAddr, Arc<tokio::sync::Semaphore>>>,
    /// How long a login or registration waits for its client's turn before it is refused
    /// (429): two thirds of the request timeout, so that the answer is a 429 the client
    /// can act on rather than the timeout's 503. Fifty people behind one address logging
    /// in at once all get in, one hash after another.
    password_turn_wait: Duration,
}

/// A client's turn at checking or hashing a password; dropping it lets the next of its
/// requests in.
pub struct PasswordTurn {
    limits: Arc<ClientLimits>,
    ip: IpAddr,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Drop for PasswordTurn {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut queues = self
            .limits
            .password_checks
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Forget an address with nothing in flight or waiting.
        let idle = queues.get(&self.ip).is_some_and(|q| {
            Arc::strong_count(q) == 1 && q.available_permits() == PASSWORD_CHECKS_PER_CLIENT
        });
        if idle {
            queues.remove(&self.ip);
        }
    }
}

/// One connection a client holds; dropping it gives the slot back.
pub struct ConnectionSlot {
    limits: Arc<ClientLimits>,
    ip: IpAddr,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut held = self
            .limits
            .connections
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = held.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.ip);
            }
        }
    }
}

impl ClientLimits {
    pub fn new(settings: &Settings) -> Self {
        ClientLimits {
            max_connections: settings.max_connections_per_client,
            connections: Mutex::new(HashMap::new()),
            registrations: PerMinute::new(settings.registrations_per_minute, "registrations"),
            logins: PerMinute::new(settings.logins_per_minute, "login attempts"),
            password_checks: Mutex::new(HashMap::new()),
            password_turn_wait: settings.request_timeout * 2 / 3,
        }
    }

    /// Waits for `client`'s turn to check or hash a password (a login, a registration);
    /// 429 when it does not come within the wait. `None` for a request with no known
    /// address.
    pub async fn password_turn(
        self: &Arc<Self>,
        client: Option<ClientAddr>,
    ) -> Result<Option<PasswordTurn>, AppError> {
        let Some(client) = client else {
            return Ok(None);
        };
        let queue = self
            .password_checks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(client.0)
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(PASSWORD_CHECKS_PER_CLIENT)))
            .clone();
        let mut turn = PasswordTurn {
            limits: self.clone(),
            ip: client.0,
            permit: None,
        };
        take_turn(queue, self.password_turn_wait, &mut turn).await?;
        Ok(Some(turn))
    }

    /// A slot for one more connection from `client`, or `None` when it holds its share
    /// already.
    pub fn connect(self: &Arc<Self>, client: ClientAddr) -> Option<ConnectionSlot> {
        let mut held = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        let n = held.entry(client.0).or_default();
        if self.max_connections != 0 && *n >= self.max_connections {
            return None;
        }
        *n += 1;
        Some(ConnectionSlot {
            limits: self.clone(),
            ip: client.0,
        })
    }

    /// Spends one of `client`'s registrations, or 429 with `Retry-After`. A request with
    /// no known address (a test driving the router directly) is not limited.
    pub fn register(&self, client: Option<ClientAddr>) -> Result<(), AppError> {
        match (&self.registrations, client) {
            (Some(rate), Some(client)) => rate.check(client),
            _ => Ok(()),
        }
    }

    /// Spends one of `client`'s login attempts, or 429 with `Retry-After`.
    pub fn login(&self, client: Option<ClientAddr>) -> Result<(), AppError> {
        match (&self.logins, client) {
            (Some(rate), Some(client)) => rate.check(client),
            _ => Ok(()),
        }
    }
}

/// Waits for a permit of `queue` and puts it in `turn`; the permit owns the handle on
/// `queue`, so that the queue's users are the map, the permits and the waiters.
async fn take_turn(
    queue: Arc<tokio::sync::Semaphore>,
    wait: Duration,
    turn: &mut PasswordTurn,
) -> Result<(), AppError> {
    let permit = tokio::time::timeout(wait, queue.acquire_owned())
        .await
        .map_err(|_| {
            AppError::rate_limited(1).with_detail(
                "Too many logins or registrations from this address are waiting; try again in a second.",
            )
        })?
        .map_err(|e| AppError::internal(anyhow::anyhow!("a client's password queue closed: {e}")))?;
    turn.permit = Some(permit);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(tweak: impl FnOnce(&mut Settings)) -> Arc<ClientLimits> {
        let mut settings = Settings::default();
        tweak(&mut settings);
        Arc::new(ClientLimits::new(&settings))
    }

    fn addr(text: &str) -> ClientAddr {
        ClientAddr::new(text.parse().unwrap())
    }

    #[test]
    fn a_client_holds_at_most_its_share_of_connections_and_gets_them_back() {
        let limits = limits(|s| s.max_connections_per_client = 2);
        let a = addr("127.0.0.1");
        let first = limits.connect(a).unwrap();
        let _second = limits.connect(a).unwrap();
        assert!(limits.connect(a).is_none());
        assert!(
            limits.connect(addr("127.0.0.2")).is_some(),
            "another client"
        );
        drop(first);
        assert!(limits.connect(a).is_some());
    }

    #[test]
    fn an_ipv4_address_mapped_into_ipv6_is_the_same_client() {
        let limits = limits(|s| s.max_connections_per_client = 1);
        let _held = limits.connect(addr("127.0.0.1")).unwrap();
        assert!(limits.connect(addr("::ffff:127.0.0.1")).is_none());
    }

    #[test]
    fn past_a_minutes_allowance_registrations_are_429_with_retry_after() {
        let limits = limits(|s| s.registrations_per_minute = 3);
        let a = Some(addr("10.0.0.1"));
        for _ in 0..3 {
            limits.register(a).unwrap();
        }
        let refused = limits.register(a).unwrap_err();
        assert_eq!(refused.status.as_u16(), 429);
        let wait = refused.retry_after.unwrap();
        assert!(
            (1..=20).contains(&wait),
            "one comes back every 20 s: {wait}"
        );
        limits.register(Some(addr("10.0.0.2"))).unwrap();
        limits.login(a).unwrap();
    }

    #[tokio::test]
    async fn a_client_has_two_password_checks_in_flight_and_others_are_not_held_up() {
        let limits = limits(|_| {});
        let a = Some(addr("10.0.0.1"));
        let first = limits.password_turn(a).await.unwrap();
        let _second = limits.password_turn(a).await.unwrap();
        let third = {
            let limits = limits.clone();
            tokio::spawn(async move { limits.password_turn(a).await.map(|t| t.is_some()) })
        };
        tokio::task::yield_now().await;
        assert!(!third.is_finished(), "a third waits for its client's turn");
        let other = limits.password_turn(Some(addr("10.0.0.2"))).await.unwrap();
        assert!(other.is_some(), "another client goes ahead");
        drop(first);
        assert!(third.await.unwrap().unwrap());
        drop(other);
        let queues = limits.password_checks.lock().unwrap();
        assert!(
            !queues.contains_key(&addr("10.0.0.2").0),
            "an idle address is forgotten"
        );
    }

    #[test]
    fn zero_turns_a_limit_off() {
        let limits = limits(|s| {
            s.max_connections_per_client = 0;
            s.logins_per_minute = 0;
        });
        let a = addr("10.0.0.1");
        let _held: Vec<_> = (0..2000).map(|_| limits.connect(a).unwrap()).collect();
        for _ in 0..2000 {
            limits.login(Some(a)).unwrap();
        }
    }
}
