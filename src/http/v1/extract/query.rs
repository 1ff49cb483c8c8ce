//! Query strings: [`AppQuery`] answers 400 for anything that does not parse, for NUL and
//! for bytes that are not UTF-8; plus the small parsers the query types share.

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::error::AppError;

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
        // client never sent. (`+` stays as it is here: it decodes to a space, valid either
        // way.)
        if percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .is_err()
        {
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
pub(super) fn holds_encoded_nul(raw: &str) -> bool {
    raw.as_bytes().windows(3).any(|w| w == b"%00")
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

/// Deserializes a query value that must be `true` or `false`.
pub(super) fn de_bool_flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match String::deserialize(d)?.as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(serde::de::Error::custom(format!(
            "expected true or false, got `{}`",
            other.chars().take(40).collect::<String>()
        ))),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn only_a_percent_encoded_zero_byte_counts_as_nul() {
        assert!(holds_encoded_nul("q=a%00b"));
        assert!(holds_encoded_nul("%00"));
        // `%2500` is the text `%00`, not a NUL.
        assert!(!holds_encoded_nul("q=%2500"));
        assert!(!holds_encoded_nul("q=100"));
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
