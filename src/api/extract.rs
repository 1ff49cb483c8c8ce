//! Extractors that parse and validate requests at the edge, so that every malformed input
//! becomes the same problem+json as every other error (SPEC §3).
//!
//! - [`AppJson`]: JSON bodies (415 without a JSON content type, 413 over the limit, 400 for
//!   bad syntax, 422 for unknown fields, wrong types and missing fields, naming the field);
//! - [`AppPath`] and [`Id`]: path parameters (400 for anything that is not 1..2^63−1);
//! - [`AppQuery`]: query strings (400);
//! - [`AuthUser`] / [`MaybeAuthUser`]: the bearer token (401 with `WWW-Authenticate`);
//! - [`ListParams`] / [`IncludeParams`]: `limit`, `cursor`, `count`, `include`, `counts`.

use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::{StatusCode, header, request::Parts};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::error::{AppError, FieldError};
use crate::service::auth::{self, Viewer};
use crate::state::AppState;

/// A JSON request body, deserialized with every failure mapped to SPEC §3's statuses.
pub struct AppJson<T>(pub T);

fn is_json_content_type(parts: &axum::http::HeaderMap) -> bool {
    let Some(value) = parts
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AppJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json_content_type(req.headers()) {
            return Err(AppError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Request bodies must be sent with Content-Type: application/json.",
            ));
        }
        let bytes =
            Bytes::from_request(req, state)
                .await
                .map_err(|rejection: BytesRejection| {
                    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        AppError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "payload_too_large",
                            "The request body is larger than 1 MiB.",
                        )
                    } else {
                        AppError::bad_request(
                            "malformed_body",
                            "The request body could not be read.",
                        )
                    }
                })?;
        parse_json(&bytes).map(AppJson)
    }
}

/// A JSON body checked for form only (415, 413, 400), whose shape is checked later with
/// [`JsonBody::parse`] (422). SPEC §3 orders the answers 401, then the request's form, then
/// 404, then 403, then 422: a handler takes a `JsonBody`, finds the row and checks the
/// caller first, and only then parses the fields.
pub struct JsonBody(pub serde_json::Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        AppJson::<serde_json::Value>::from_request(req, state)
            .await
            .map(|AppJson(v)| JsonBody(v))
    }
}

impl JsonBody {
    /// Deserializes the body into `T`: 422 naming the field for unknown fields, wrong
    /// types and missing fields.
    pub fn parse<T: DeserializeOwned>(self) -> Result<T, AppError> {
        serde_path_to_error::deserialize(self.0).map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner();
            AppError::validation(vec![json_field_error(&path, &inner)])
        })
    }
}

/// Parses a JSON document into `T`: syntax errors (invalid UTF-8, nesting past serde_json's
/// limit of 128 levels included) are 400; a document that is not an object, a string
/// holding NUL, and shape errors are 422 naming the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        AppError::bad_request(
            "malformed_json",
            format!("The request body is not valid JSON: {e}"),
        )
    })?;
    // serde reads a struct from an array too (`["t", "c"]` as a post), which no client
    // means: every body of the API is an object.
    if !value.is_object() {
        return Err(AppError::invalid_field("body", "must be a JSON object"));
    }
    // PostgreSQL cannot store U+0000 in text, and no field of the API needs it; refusing it
    // here keeps both databases answering the same.
    if let Some(field) = first_nul(&value, "") {
        return Err(AppError::invalid_field(
            field,
            "must not contain the NUL character (U+0000)",
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        AppError::validation(vec![json_field_error(&path, &inner)])
    })
}

/// The path (`a.b[0]` style, as serde_path_to_error writes it) of the first string or key
/// holding NUL, if any.
fn first_nul(value: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    let here = || {
        if path.is_empty() {
            "body".to_string()
        } else {
            path.to_string()
        }
    };
    match value {
        Value::String(s) if s.contains('\0') => Some(here()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| first_nul(v, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let field = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if k.contains('\0') {
                Some(here())
            } else {
                first_nul(v, &field)
            }
        }),
        _ => None,
    }
}

fn json_field_error(path: &str, err: &serde_json::Error) -> FieldError {
    let message = err.to_string();
    // serde's text ends with " at line L column C", which says nothing to a client.
    let message = match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    // For unknown and missing fields serde names the field in the message, not the path.
    let named = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_string)
    };
    let field = named("unknown field `")
        .or_else(|| named("missing field `"))
        .map(|f| {
            // For an unknown field the path already ends with the field itself.
            if path == "." || path.is_empty() {
                f
            } else if path == f || path.ends_with(&format!(".{f}")) {
                // For an unknown field the path already ends with its name.
                path.to_string()
            } else {
                format!("{path}.{f}")
            }
        })
        .unwrap_or_else(|| {
            if path == "." || path.is_empty() {
                "body".to_string()
            } else {
                path.to_string()
            }
        });
    FieldError::new(field, message)
}

/// A path parameter, with parse failures answered 400.
pub struct AppPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for AppPath<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if holds_encoded_nul(parts.uri.path()) {
            return Err(AppError::bad_request(
                "invalid_path",
                "Path parameters must not contain the NUL character (%00).",
            ));
        }
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| AppPath(v))
            .map_err(|rejection: PathRejection| {
                // axum prefixes its text with "Invalid URL: ", which is not what went wrong.
                let text = rejection.body_text();
                let reason = text.strip_prefix("Invalid URL: ").unwrap_or(&text);
                AppError::bad_request("invalid_path", format!("Invalid path parameter: {reason}"))
            })
    }
}

/// A query string, with parse failures answered 400.
pub struct AppQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for AppQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or("");
        if holds_encoded_nul(raw) {
            return Err(AppError::bad_request(
                "invalid_query",
                "Query parameters must not contain the NUL character (%00).",
            ));
        }
        // axum decodes invalid UTF-8 lossily (as U+FFFD), which would search for text the
        // client never sent.
        if std::str::from_utf8(&percent_decode(raw)).is_err() {
            return Err(AppError::bad_request(
                "invalid_query",
                "Query parameters must be percent-encoded UTF-8.",
            ));
        }
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| AppQuery(v))
            .map_err(|rejection: QueryRejection| {
                AppError::bad_request(
                    "invalid_query",
                    format!("Invalid query parameter: {}", rejection.body_text()),
                )
            })
    }
}

/// Whether a raw (still percent-encoded) path or query decodes to a NUL byte: a raw NUL
/// cannot be in a URI, and decoding is one pass, so `%00` is the only way to write one.
fn holds_encoded_nul(raw: &str) -> bool {
    raw.as_bytes().windows(3).any(|w| w == b"%00")
}

/// Percent-decodes `raw` into bytes (`+` is left as it is: it decodes to a space, which
/// is valid UTF-8 either way).
fn percent_decode(raw: &str) -> Vec<u8> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// A search text (`q`) of at most `max_chars` characters: longer ones could match nothing
/// the field can hold, and would only make the database work. 400 naming the parameter.
pub fn search_text(raw: Option<String>, max_chars: usize) -> Result<Option<String>, AppError> {
    match raw {
        Some(q) if q.chars().count() > max_chars => Err(AppError::bad_request(
            "invalid_query",
            format!("`q` must be at most {max_chars} characters long."),
        )),
        Some(q) if q.is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// A row id as it appears in a path: an integer in 1..2^63−1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Id(pub i64);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        match raw.parse::<i64>() {
            Ok(n) if n >= 1 && !raw.starts_with('+') => Ok(Id(n)),
            _ => Err(serde::de::Error::custom(format!(
                "`{}` is not an id (an integer from 1 to 9223372036854775807)",
                raw.chars().take(40).collect::<String>()
            ))),
        }
    }
}

/// Deserializes a query value that must be `true` or `false`.
fn de_bool_flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match String::deserialize(d)?.as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(serde::de::Error::custom(format!(
            "expected true or false, got `{}`",
            other.chars().take(40).collect::<String>()
        ))),
    }
}

/// For a body field that may be absent but not `null` (`#[serde(default, deserialize_with
/// = "non_null")]`): absent is `None`, `null` is refused with 422 naming the field, as
/// for any other value of the wrong type.
pub fn non_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A body field that must be present, for [`crate::error::FieldErrors::check`].
pub fn required<T>(value: Option<T>) -> Result<T, String> {
    value.ok_or_else(|| "is required".to_string())
}

/// `include`, `counts` and `include_limit`, taken by every GET.
#[derive(Debug, Default, Deserialize)]
pub struct IncludeParams {
    pub include: Option<String>,
    pub counts: Option<String>,
    pub include_limit: Option<String>,
}

/// Paging parameters of every list: `limit`, `cursor`, `count`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size, 1–100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page (opaque; a tampered one is 400).
    pub cursor: Option<String>,
    /// `true` adds `total`, the size of the whole collection.
    #[serde(default, deserialize_with = "de_bool_flag")]
    #[param(value_type = Option<bool>, default = false)]
    pub count: bool,
}

/// `dry_run` of the deletes that offer a cascade preview (SPEC §3 "Cascade preview").
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DryRunParams {
    /// `true`: the same checks, nothing deleted, and 200 with what the delete would do,
    /// per table.
    #[serde(default, deserialize_with = "de_bool_flag")]
    #[param(value_type = Option<bool>, default = false)]
    pub dry_run: bool,
}

/// For a PATCH field that may be absent, `null` or a value: with `#[serde(default)]`,
/// absent is `None`, `null` is `Some(None)` and a value is `Some(Some(v))`.
pub fn de_present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Default page size.
pub const DEFAULT_LIMIT: u64 = 20;
/// Largest page size.
pub const MAX_LIMIT: u64 = 100;

/// Parses an integer parameter in `1..=max`, answering 400 naming the parameter.
pub fn parse_bounded(
    name: &str,
    raw: Option<&str>,
    default: u64,
    max: u64,
) -> Result<u64, AppError> {
    match raw {
        None => Ok(default),
        Some(s) => match s.trim().parse::<u64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(AppError::bad_request(
                "invalid_query",
                format!("`{name}` must be an integer from 1 to {max}."),
            )),
        },
    }
}

impl ListParams {
    /// The page size, 1–100 (default 20).
    pub fn limit(&self) -> Result<u64, AppError> {
        parse_bounded("limit", self.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)
    }
}

/// The authenticated caller; rejects with 401 when the token is missing or bad.
#[derive(Clone, Debug)]
pub struct AuthUser(pub Viewer);

/// The caller when a token was sent (a bad token is still 401), else anonymous.
#[derive(Clone, Debug)]
pub struct MaybeAuthUser(pub Option<Viewer>);

impl MaybeAuthUser {
    /// The viewer, or 401 when no token was sent.
    pub fn required(self) -> Result<Viewer, AppError> {
        self.0.ok_or_else(AppError::token_required)
    }
}

impl FromRequestParts<AppState> for MaybeAuthUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(viewer) = parts.extensions.get::<Viewer>() {
            return Ok(MaybeAuthUser(Some(viewer.clone())));
        }
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(MaybeAuthUser(None));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                AppError::unauthorized(
                    "invalid_token",
                    "The Authorization header must be `Bearer <token>`.",
                )
            })?;
        let viewer = auth::authenticate(&state.db, &state.jwt, token).await?;
        parts.extensions.insert(viewer.clone());
        Ok(MaybeAuthUser(Some(viewer)))
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        MaybeAuthUser::from_request_parts(parts, state)
            .await?
            .required()
            .map(AuthUser)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_percent_encoded_zero_byte_counts_as_nul() {
        assert!(holds_encoded_nul("q=a%00b"));
        assert!(holds_encoded_nul("%00"));
        // `%2500` is the text `%00`, not a NUL.
        assert!(!holds_encoded_nul("q=%2500"));
        assert!(!holds_encoded_nul("q=100"));
    }

    #[test]
    fn percent_decoding_keeps_bytes_so_invalid_utf8_shows() {
        assert_eq!(percent_decode("a%20b%C3%A9"), "a bé".as_bytes());
        assert!(std::str::from_utf8(&percent_decode("%FF%FE")).is_err());
        // A `%` not followed by two hex digits stays as it is.
        assert_eq!(percent_decode("100%"), b"100%");
        assert_eq!(percent_decode("%zz"), b"%zz");
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Post {
        title: String,
        tags: Vec<String>,
    }

    #[test]
    fn a_body_must_be_an_object_without_nul() {
        let array = parse_json::<Post>(br#"["t", []]"#).unwrap_err();
        assert_eq!(array.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(array.errors[0].field, "body");

        let nul = parse_json::<Post>(br#"{"title": "ok", "tags": ["a", "b\u0000"]}"#).unwrap_err();
        assert_eq!(nul.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(nul.errors[0].field, "tags[1]");

        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let deep = parse_json::<Post>(deep.as_bytes()).unwrap_err();
        assert_eq!(deep.status, StatusCode::BAD_REQUEST);

        assert!(parse_json::<Post>(br#"{"title": "ok", "tags": []}"#).is_ok());
    }

    #[test]
    fn a_search_text_is_bounded_and_empty_means_none() {
        assert_eq!(search_text(Some(String::new()), 3).unwrap(), None);
        assert_eq!(
            search_text(Some("abc".into()), 3).unwrap().as_deref(),
            Some("abc")
        );
        assert_eq!(
            search_text(Some("abcd".into()), 3).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }
}
