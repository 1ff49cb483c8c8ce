//! Path parameters: [`AppPath`] answers 400 for anything that does not parse, and [`Id`]
//! is a row id as a path holds it (1..2^63−1).

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use super::query::holds_encoded_nul;
use crate::error::AppError;

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
