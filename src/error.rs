//! The one error type of the service and its RFC 9457 `application/problem+json` form.
//!
//! Every failure, from an extractor rejection to a database error, becomes an [`AppError`]
//! with a status, a stable machine `code`, and a detail safe to show. A 5xx keeps its cause
//! in the response extensions, where the logging layer writes it, and never in the body.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sea_orm::sqlx::error::{DatabaseError, ErrorKind};
use sea_orm::{DbErr, RuntimeErr};
use serde::Serialize;

/// Shorthand used by every fallible function of the service.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// One invalid field of a 422 answer.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An error answer: status, stable `code`, human `detail`, and extras. Its text (for logs
/// and the command line) is `422 validation_failed: …`, followed by the cause of a 5xx.
#[derive(Debug, thiserror::Error)]
#[error(
    "{} {code}: {detail}{}",
    .status.as_u16(),
    .source.as_ref().map(|cause| format!(" ({cause:#})")).unwrap_or_default()
)]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    pub retry_after: Option<u64>,
    /// The internal cause of a 5xx; logged, never shown.
    #[source]
    pub source: Option<anyhow::Error>,
}

/// The cause of a 5xx, left in the response extensions for the logging layer.
#[derive(Clone, Debug)]
pub struct InternalCause(pub Arc<String>);

/// The problem+json body.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// A stable machine word, e.g. `not_found`, `username_taken`.
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        AppError {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            source: None,
        }
    }

    /// 400 for a malformed request (`code` names what was wrong).
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 401 with `WWW-Authenticate: Bearer`.
    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail)
    }

    /// 401 for a request that needs a token and sent none.
    pub fn token_required() -> Self {
        Self::unauthorized("missing_token", "This endpoint needs a bearer token.")
    }

    /// 403 with the default `forbidden` code.
    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "You are not allowed to do this.",
        )
    }

    /// 404 naming what was not found.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found."),
        )
    }

    /// 409 with a specific code.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    /// 422 with one entry per invalid field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "The request body has invalid fields.",
        );
        e.errors = errors;
        e
    }

    /// 422 for one field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    /// 429 with `Retry-After`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many attempts; try again later.",
        );
        e.retry_after = Some(retry_after_secs.max(1));
        e
    }

    /// The same error, saying `detail` instead.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    /// 500 whose cause is logged and not shown.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "The server failed to answer this request.",
        );
        e.source = Some(cause.into());
        e
    }

    /// 503 for a dependency that does not answer.
    pub fn unavailable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, detail)
    }

    /// The problem body of this error.
    pub fn problem(&self) -> Problem {
        Problem {
            kind: "about:blank".to_string(),
            title: self
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_string(),
            errors: if self.errors.is_empty() && self.status != StatusCode::UNPROCESSABLE_ENTITY {
                None
            } else {
                Some(self.errors.clone())
            },
        }
    }
}

/// A database failure that is the database's state rather than a bug: it cannot be
/// reached, it is shutting down or read-only (503, try again), or its disk is full (507).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outage {
    Unavailable,
    StorageFull,
}

/// Which outage, if any, a database error reports.
pub fn outage(err: &DbErr) -> Option<Outage> {
    match err {
        // A pool that cannot hand out a connection, or a connection that broke.
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => Some(Outage::Unavailable),
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            sqlx_outage(e)
        }
        _ => None,
    }
}

fn sqlx_outage(err: &sea_orm::sqlx::Error) -> Option<Outage> {
    use sea_orm::sqlx::Error;
    match err {
        Error::Io(_)
        | Error::Tls(_)
        | Error::Protocol(_)
        | Error::PoolTimedOut
        | Error::PoolClosed
        | Error::WorkerCrashed => Some(Outage::Unavailable),
        Error::Database(db) => {
            let code = db.code()?;
            if db
                .try_downcast_ref::<sea_orm::sqlx::postgres::PgDatabaseError>()
                .is_some()
            {
                postgres_outage(&code)
            } else {
                sqlite_outage(code.parse().ok()?)
            }
        }
        _ => None,
    }
}

/// PostgreSQL SQLSTATEs of an outage: disk full (53100), other insufficient resources
/// (class 53), connection exceptions (class 08), shutdown or start-up in progress (57P),
/// a read-only transaction (25006: a standby, or `default_transaction_read_only`), and a
/// transaction PostgreSQL aborted to break a deadlock (40P01) or a serialization conflict
/// (40001): nothing of it was written and the same request may succeed when sent again.
pub(crate) fn postgres_outage(sqlstate: &str) -> Option<Outage> {
    match sqlstate {
        "53100" => Some(Outage::StorageFull),
        "25006" | "57P01" | "57P02" | "57P03" | "40P01" | "40001" => Some(Outage::Unavailable),
        s if s.starts_with("53") || s.starts_with("08") => Some(Outage::Unavailable),
        _ => None,
    }
}

/// SQLite result codes of an outage (the primary code is the low byte of an extended
/// one): full (13) is 507; busy (5), locked (6), out of memory (7), read-only (8), I/O
/// error (10), cannot open (14) and a WAL lock protocol failure (15) are 503.
fn sqlite_outage(extended: i64) -> Option<Outage> {
    match extended & 0xff {
        13 => Some(Outage::StorageFull),
        5 | 6 | 7 | 8 | 10 | 14 | 15 => Some(Outage::Unavailable),
        _ => None,
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        let mut e = match outage(&err) {
            Some(Outage::Unavailable) => {
                AppError::unavailable("database_unavailable", "The database is unavailable.")
            }
            Some(Outage::StorageFull) => AppError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "storage_full",
                "The database has no space left; nothing was written.",
            ),
            None => return AppError::internal(err),
        };
        e.source = Some(err.into());
        e
    }
}

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        AppError::internal(err)
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(err: tokio::task::JoinError) -> Self {
        AppError::internal(err)
    }
}

/// Which unique constraint a database error broke, if any, as the constraint name (PG)
/// or the `table.column` text of the message (SQLite). `None` when it was not a unique
/// violation.
pub fn unique_violation(err: &DbErr) -> Option<String> {
    database_error(err)
        .filter(|e| e.kind() == ErrorKind::UniqueViolation)
        .map(|e| e.message().to_string())
}

/// Whether a database error is a foreign-key violation.
pub fn foreign_key_violation(err: &DbErr) -> bool {
    database_error(err).is_some_and(|e| e.kind() == ErrorKind::ForeignKeyViolation)
}

/// The database's own error behind `err`, from whichever executor ran the statement
/// (sqlx's drivers, or the direct SQLite connections, which report theirs the same way).
fn database_error(err: &DbErr) -> Option<&dyn DatabaseError> {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            e.as_database_error()
        }
        _ => None,
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut res = (self.status, body).into_response();
        let headers = res.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status.is_server_error() {
            let cause = match &self.source {
                Some(source) => format!("{source:#}"),
                None => self.detail.clone(),
            };
            res.extensions_mut().insert(InternalCause(Arc::new(cause)));
        }
        res
    }
}

/// Collects the refusals of several fields, so that one 422 names every bad field
/// (SPEC §4) instead of only the first one found. A field is refused once: the first
/// reason found (its type, say) stands, and later checks of the same field add nothing.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// The parsed value of `field`, or `None` after recording why it was refused.
    pub fn check<T>(&mut self, field: &str, parsed: std::result::Result<T, String>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(message) => {
                self.reject(field, message);
                None
            }
        }
    }

    /// Records a refusal found outside a `parse` (a missing field, say).
    pub fn reject(&mut self, field: &str, message: impl Into<String>) {
        if !self.0.iter().any(|e| e.field == field) {
            self.0.push(FieldError::new(field, message));
        }
    }

    /// Whether no field was refused.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The 422 naming every refused field.
    pub fn into_error(self) -> AppError {
        AppError::validation(self.0)
    }

    /// `Ok` when no field was refused, else 422 with one entry per refused field.
    pub fn into_result(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.into_error())
        }
    }

    /// `value` when no field was refused, else 422 with one entry per refused field.
    /// `value` is the checked fields combined (e.g. with `Option::zip`), so it is only
    /// `None` when something was refused.
    pub fn finish<T>(self, value: Option<T>) -> Result<T> {
        match value {
            Some(value) if self.0.is_empty() => Ok(value),
            _ if !self.0.is_empty() => Err(self.into_error()),
            _ => Err(AppError::internal(anyhow::anyhow!(
                "a field was missing although none was refused"
            ))),
        }
    }
}
