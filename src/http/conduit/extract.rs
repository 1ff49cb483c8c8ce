//! What the Conduit face reads from a request: its token (`Authorization: Token <jwt>`,
//! or `Bearer <jwt>`: checked before the handler runs, [`Auth`] and [`MaybeAuth`], or, for
//! a GET or a new article or comment, verified here and checked in one flight with the
//! handler's first reads, [`Pending`] and [`MaybePending`]), its body (wrapped, `{"user": {…}}`, unknown fields ignored) and its
//! query. Every refusal is a [`ConduitError`].

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::{ConduitError, Refusals, Result};
use crate::http::common::authorization;
use crate::http::common::request_body::{self, BodyRefusal};
use crate::http::state::AppState;
use crate::jwt::Audience;
use crate::service::auth::{UncheckedToken, Viewer};
use crate::store::read::Reader;

/// The caller with the token they sent (a user answer echoes it back).
#[derive(Clone, Debug)]
pub struct Caller {
    pub viewer: Viewer,
    pub token: String,
}

/// A required token: 401 `token: is missing` without one.
pub struct Auth(pub Caller);

/// An optional token: anonymous without one, still 401 with one that does not work.
pub struct MaybeAuth(pub Option<Caller>);

impl MaybeAuth {
    pub fn viewer(&self) -> Option<&Viewer> {
        self.0.as_ref().map(|c| &c.viewer)
    }
}

/// The token of `Authorization: Token <jwt>` (or `Bearer <jwt>`), if one was sent; 401
/// `token: is invalid` for a header of another form.
fn sent_token(parts: &Parts) -> Result<Option<&str>> {
    authorization::token(parts, &["token", "bearer"])
        .map_err(|_| ConduitError::new(StatusCode::UNAUTHORIZED, "token", "is invalid"))
}

impl FromRequestParts<AppState> for MaybeAuth {
    type Rejection = ConduitError;

    /// Checks the token on a read unit of its own: for the handlers that must know the
    /// caller before they read (their rights) or write.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let MaybePending(pending) = MaybePending::from_request_parts(parts, state).await?;
        let Some(pending) = pending else {
            return Ok(MaybeAuth(None));
        };
        Ok(MaybeAuth(Some(pending.check(&state.db().read()?).await?)))
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ConduitError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        MaybeAuth::from_request_parts(parts, state)
            .await?
            .0
            .map(Auth)
            .ok_or_else(ConduitError::token_missing)
    }
}

/// A sent token whose signature and expiry are verified (no statement yet), to be
/// checked on the handler's own read unit, in one flight with its first reads
/// ([`MaybePending::check_with`]): a GET then pays no round trip of its own for the
/// token. Only [`PendingCaller::check`] turns it into a [`Caller`].
pub struct PendingCaller {
    unchecked: UncheckedToken,
    token: String,
}

impl PendingCaller {
    /// The id the token names, before the check: for building statements only.
    pub fn viewer_id(&self) -> i64 {
        self.unchecked.user_id()
    }

    /// The token, for a write that checks it in its own statement.
    pub fn into_unchecked(self) -> UncheckedToken {
        self.unchecked
    }

    /// The caller, once the token's row says it still works (401 otherwise).
    pub async fn check(self, db: &Reader<'_>) -> Result<Caller> {
        let viewer = self.unchecked.check(db).await?;
        Ok(Caller {
            viewer,
            token: self.token,
        })
    }
}

/// An optional token, not yet checked: anonymous without one; a token that is malformed,
/// badly signed or expired is 401 at once, and one that was revoked (or whose user is
/// gone) is 401 from [`MaybePending::check_with`].
pub struct MaybePending(pub Option<PendingCaller>);

impl MaybePending {
    /// The id the token names, before the check.
    pub fn viewer_id(&self) -> Option<i64> {
        self.0.as_ref().map(PendingCaller::viewer_id)
    }

    /// Runs `reads` and the token check concurrently on `db` (on PostgreSQL, one
    /// pipelined flight). A failed check wins over whatever `reads` answered (401 before
    /// 404, CONDUIT.md), and what they read is dropped unseen.
    pub async fn check_with<T>(
        self,
        db: &Reader<'_>,
        reads: impl Future<Output = Result<T>>,
    ) -> Result<(Option<Caller>, T)> {
        let check = async {
            match self.0 {
                Some(pending) => pending.check(db).await.map(Some),
                None => Ok(None),
            }
        };
        let (caller, read) = futures::future::join(check, reads).await;
        let caller = caller?;
        Ok((caller, read?))
    }
}

impl FromRequestParts<AppState> for MaybePending {
    type Rejection = ConduitError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let Some(token) = sent_token(parts)? else {
            return Ok(MaybePending(None));
        };
        let unchecked = UncheckedToken::verify(&state.jwt, token, Audience::Conduit)?;
        Ok(MaybePending(Some(PendingCaller {
            unchecked,
            token: token.to_string(),
        })))
    }
}

/// A required token, not yet checked: 401 `token: is missing` without one.
pub struct Pending(pub PendingCaller);

impl Pending {
    /// [`MaybePending::check_with`] for a required token.
    pub async fn check_with<T>(
        self,
        db: &Reader<'_>,
        reads: impl Future<Output = Result<T>>,
    ) -> Result<(Caller, T)> {
        let (caller, read) = MaybePending(Some(self.0)).check_with(db, reads).await?;
        Ok((caller.ok_or_else(ConduitError::token_missing)?, read))
    }
}

impl FromRequestParts<AppState> for Pending {
    type Rejection = ConduitError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        MaybePending::from_request_parts(parts, state)
            .await?
            .0
            .map(Pending)
            .ok_or_else(ConduitError::token_missing)
    }
}

/// A request body, read but not yet parsed: the handler parses it after it has found
/// the row and checked the caller, since 404 and 403 come before 422 on this face.
pub struct Body(Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ConduitError;

    /// 415 unless the body is sent as JSON (so that a plain cross-site form cannot post
    /// one), 413 over the limit, 408 when it stalls.
    async fn from_request(req: Request, _: &S) -> Result<Self> {
        if !request_body::is_json(req.headers()) {
            return Err(ConduitError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "body",
                "must be sent with Content-Type: application/json",
            ));
        }
        request_body::read(req)
            .await
            .map(Body)
            .map_err(|refusal| match refusal {
                BodyRefusal::TooLarge => {
                    ConduitError::new(refusal.status(), "body", "is too large")
                }
                BodyRefusal::Stalled => {
                    ConduitError::new(refusal.status(), "body", "stopped arriving")
                }
                BodyRefusal::Broken => ConduitError::invalid("body", "could not be read"),
            })
    }
}

impl Body {
    /// The fields inside the wrapper `key` (`user`, `article`, `comment`). Malformed JSON
    /// or a body that is not an object is 422 `body`; a missing (or `null`) wrapper is an
    /// empty one, so its required fields are blank; a wrapper that is not an object is 422
    /// naming it.
    pub fn fields(&self, key: &str) -> Result<Fields> {
        let value: Value = serde_json::from_slice(&self.0)
            .map_err(|_| ConduitError::invalid("body", "is invalid JSON"))?;
        let Value::Object(mut body) = value else {
            return Err(ConduitError::invalid("body", "must be a JSON object"));
        };
        match body.remove(key) {
            None | Some(Value::Null) => Ok(Fields(Map::new())),
            Some(Value::Object(map)) => Ok(Fields(map)),
            Some(_) => Err(ConduitError::invalid(key, "must be an object")),
        }
    }
}

/// A field as a request sends it.
#[derive(Debug, PartialEq, Eq)]
pub enum Given<T> {
    Absent,
    Null,
    Value(T),
}

impl Given<String> {
    /// The text, or `None` when absent, `null` or empty once trimmed.
    pub fn non_blank(self) -> Option<String> {
        match self {
            Given::Value(s) if !s.trim().is_empty() => Some(s),
            _ => None,
        }
    }
}

/// The fields of a wrapper object; keys nobody asks for are ignored.
pub struct Fields(Map<String, Value>);

const NUL_MESSAGE: &str = "must not contain the NUL character";

impl Fields {
    /// A text field; any other type is refused (422 naming the field).
    pub fn text(&self, name: &str, refusals: &mut Refusals) -> Given<String> {
        match self.0.get(name) {
            None => Given::Absent,
            Some(Value::Null) => Given::Null,
            Some(Value::String(s)) if s.contains('\0') => {
                refusals.reject(name, NUL_MESSAGE);
                Given::Absent
            }
            Some(Value::String(s)) => Given::Value(s.clone()),
            Some(_) => {
                refusals.reject(name, "must be a string");
                Given::Absent
            }
        }
    }

    /// A list of texts; any other type is refused (422 naming the field).
    pub fn texts(&self, name: &str, refusals: &mut Refusals) -> Given<Vec<String>> {
        match self.0.get(name) {
            None => Given::Absent,
            Some(Value::Null) => Given::Null,
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(s) if s.contains('\0') => {
                            refusals.reject(name, NUL_MESSAGE);
                            return Given::Absent;
                        }
                        Value::String(s) => out.push(s.clone()),
                        _ => {
                            refusals.reject(name, "must be an array of strings");
                            return Given::Absent;
                        }
                    }
                }
                Given::Value(out)
            }
            Some(_) => {
                refusals.reject(name, "must be an array of strings");
                Given::Absent
            }
        }
    }
}

/// A query string. A value that is not percent-encoded UTF-8, or that holds NUL, is
/// refused as `/api/v1` refuses it (400, naming the parameter): decoded lossily it would
/// search for text the client never sent. One that does not parse is 422.
pub struct ConduitQuery<T>(pub T);

/// The first parameter of a raw query whose value is not percent-encoded UTF-8 or holds
/// NUL, with what is wrong with it.
fn malformed_parameter(raw: &str) -> Option<(String, &'static str)> {
    raw.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = percent_encoding::percent_decode_str(name)
            .decode_utf8_lossy()
            .into_owned();
        if value.as_bytes().windows(3).any(|w| w == b"%00") {
            Some((name, NUL_MESSAGE))
        } else if percent_encoding::percent_decode_str(value)
            .decode_utf8()
            .is_err()
        {
            Some((name, "must be percent-encoded UTF-8"))
        } else {
            None
        }
    })
}

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ConduitQuery<T> {
    type Rejection = ConduitError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        if let Some((name, message)) = malformed_parameter(parts.uri.query().unwrap_or("")) {
            return Err(ConduitError::new(StatusCode::BAD_REQUEST, &name, message));
        }
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ConduitQuery(v))
            .map_err(|rejection| ConduitError::invalid("query", rejection.body_text()))
    }
}

/// The largest `offset`: far past any real list, and within every database's range.
pub const MAX_OFFSET: u64 = i32::MAX as u64;

/// `limit` (1–100, default 20) and `offset` (0 up to [`MAX_OFFSET`], default 0); 422
/// naming the parameter otherwise.
pub fn paging(limit: Option<&str>, offset: Option<&str>) -> Result<(u64, u64)> {
    let mut refusals = Refusals::default();
    let limit = match limit {
        None => Some(20),
        Some(raw) => refusals.check(
            "limit",
            raw.trim()
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| "must be an integer from 1 to 100".to_string()),
        ),
    };
    let offset = match offset {
        None => Some(0),
        Some(raw) => refusals.check(
            "offset",
            raw.trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= MAX_OFFSET)
                .ok_or_else(|| format!("must be an integer from 0 to {MAX_OFFSET}")),
        ),
    };
    refusals.finish()?;
    Ok((limit.unwrap_or(20), offset.unwrap_or(0)))
}

/// A query filter that cannot match anything when it holds NUL (PostgreSQL cannot even
/// compare such text): 422 naming it.
pub fn filter_text(name: &str, raw: Option<String>) -> Result<Option<String>> {
    match raw {
        Some(s) if s.contains('\0') => Err(ConduitError::invalid(name, NUL_MESSAGE)),
        Some(s) if s.is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// A path parameter; one that does not decode (bytes that are not UTF-8) names nothing,
/// so it is 404 `what`.
pub struct ConduitPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ConduitPath<T> {
    type Rejection = ConduitError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| ConduitPath(v))
            .map_err(|_| {
                let path = parts.uri.path();
                let what = if path.contains("/comments/") {
                    "comment"
                } else if path.contains("/profiles/") {
                    "profile"
                } else {
                    "article"
                };
                ConduitError::not_found(what)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_that_is_not_utf8_or_holds_nul_is_named() {
        assert_eq!(
            malformed_parameter("limit=5&tag=%ff"),
            Some(("tag".to_string(), "must be percent-encoded UTF-8"))
        );
        assert_eq!(
            malformed_parameter("author=a%00b"),
            Some(("author".to_string(), NUL_MESSAGE))
        );
        assert_eq!(malformed_parameter("tag=caf%C3%A9&author=%2500"), None);
        assert_eq!(malformed_parameter(""), None);
    }
}
