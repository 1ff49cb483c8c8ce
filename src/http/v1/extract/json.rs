//! JSON request bodies: [`JsonBody`] checks the form of a body (415 without a JSON content
//! type, 413 over the limit, 408 for a body that stalls, 400 for bad syntax), and [`JsonBody::parse`] its shape, so
//! that a handler can find the row and check the caller in between (SPEC §3 orders 404
//! and 403 before 422).
//!
//! A 422 names every bad field at once: keys the type does not declare, values of the
//! wrong type, strings holding NUL, and — through the [`FieldErrors`] that [`Parsed`]
//! hands on — whatever the handler's own checks refuse. Field names come from
//! `serde_path_to_error`'s paths (`title`, `tags[1]`, `a.b`), never from serde's message
//! text. Request types declare their fields `Option` and check presence themselves
//! ([`required`]), so that a missing field is one refusal among the others rather than an
//! error that stops serde.

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::{Deserialize, forward_to_deserialize_any};
use serde_json::{Map, Value};

use crate::error::{AppError, FieldErrors};
use crate::http::common::request_body::{self, BodyRefusal};

/// A JSON body checked for form only; its shape is checked by [`JsonBody::parse`].
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = AppError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        if !request_body::is_json(req.headers()) {
            return Err(AppError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Request bodies must be sent with Content-Type: application/json.",
            ));
        }
        let bytes = request_body::read(req).await.map_err(|refusal| {
            let (code, detail) = match refusal {
                BodyRefusal::TooLarge => (
                    "payload_too_large",
                    "The request body is larger than 1 MiB.",
                ),
                BodyRefusal::Stalled => (
                    "body_timeout",
                    "The request body stopped arriving before it was complete.",
                ),
                BodyRefusal::Broken => ("malformed_body", "The request body could not be read."),
            };
            AppError::new(refusal.status(), code, detail)
        })?;
        // Syntax errors (invalid UTF-8, nesting past serde_json's limit of 128 levels
        // included) are 400.
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            AppError::bad_request(
                "malformed_json",
                format!("The request body is not valid JSON: {e}"),
            )
        })
    }
}

/// A body whose shape was read: the value serde built from the fields it could read, and
/// the refusals found on the way, for the handler's checks to add to.
pub struct Parsed<T> {
    pub value: T,
    pub fields: FieldErrors,
}

impl JsonBody {
    /// Reads the body as `T`, or 422 naming every field that kept `T` from being built.
    ///
    /// A body that is not an object is refused as a whole (serde would read a struct from
    /// an array, which no client means). Unknown keys are refused and set aside; then a
    /// value of the wrong type is refused and its key set aside, and `T` read again, until
    /// it builds. Refusals that let `T` build (an unknown key, a NUL) come back in
    /// [`Parsed::fields`], so the handler's own refusals join them in one 422.
    pub fn parse<T: DeserializeOwned>(self) -> Result<Parsed<T>, AppError> {
        let Value::Object(map) = self.0 else {
            return Err(AppError::invalid_field("body", "must be a JSON object"));
        };
        let mut fields = FieldErrors::default();
        // PostgreSQL cannot store U+0000 in text, and no field of the API needs it;
        // refusing it here keeps both databases answering the same.
        refuse_nul(&map, "", &mut fields);
        let mut body = map;
        if let Some(known) = field_names::<T>() {
            body.retain(|key, _| {
                let is_known = known.contains(&key.as_str());
                if !is_known {
                    fields.reject(key, unknown_field_message(key, known));
                }
                is_known
            });
        }
        let mut body = Value::Object(body);
        loop {
            match serde_path_to_error::deserialize::<_, T>(&body) {
                Ok(value) => return Ok(Parsed { value, fields }),
                Err(err) => {
                    let key = match err.path().iter().next() {
                        Some(serde_path_to_error::Segment::Map { key }) => Some(key.clone()),
                        _ => None,
                    };
                    fields.reject(&field_of(err.path()), err.inner().to_string());
                    let set_aside = match (&key, body.as_object_mut()) {
                        (Some(key), Some(map)) => map.remove(key).is_some(),
                        _ => false,
                    };
                    if !set_aside {
                        return Err(fields.into_error());
                    }
                }
            }
        }
    }
}

impl<T> Parsed<T> {
    /// Runs the handler's checks of the value (`T::validate`, say), which add their
    /// refusals to those of the shape, so that one 422 names them all.
    pub fn check<U>(
        self,
        checks: impl FnOnce(T, FieldErrors) -> Result<U, AppError>,
    ) -> Result<U, AppError> {
        checks(self.value, self.fields)
    }

    /// The value, or 422 when any field was refused: for bodies whose types are their
    /// whole check.
    pub fn finish(self) -> Result<T, AppError> {
        self.fields.finish(Some(self.value))
    }
}

/// The field a path names; the body itself for the root.
fn field_of(path: &serde_path_to_error::Path) -> String {
    if path.iter().next().is_none() {
        "body".to_string()
    } else {
        path.to_string()
    }
}

fn unknown_field_message(key: &str, known: &[&str]) -> String {
    let known: Vec<String> = known.iter().map(|f| format!("`{f}`")).collect();
    let key: String = key.chars().take(40).collect();
    format!(
        "unknown field `{key}`, expected one of {}",
        known.join(", ")
    )
}

/// Refuses every string value and key holding NUL, each under its path.
fn refuse_nul(map: &Map<String, Value>, path: &str, fields: &mut FieldErrors) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    const MESSAGE: &str = "must not contain the NUL character (U+0000)";
    for (key, value) in map {
        if key.contains('\0') {
            fields.reject(if path.is_empty() { "body" } else { path }, MESSAGE);
            continue;
        }
        refuse_nul_in(value, &join(key), fields);
    }
    fn refuse_nul_in(value: &Value, path: &str, fields: &mut FieldErrors) {
        match value {
            Value::String(s) if s.contains('\0') => fields.reject(path, MESSAGE),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    refuse_nul_in(item, &format!("{path}[{i}]"), fields);
                }
            }
            Value::Object(map) => refuse_nul(map, path, fields),
            _ => {}
        }
    }
}

/// The field names a struct type declares, read from what its `Deserialize` asks for;
/// `None` for anything else (a map, a `Value`).
fn field_names<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    let mut probe = FieldNameProbe(None);
    let _ = T::deserialize(&mut probe);
    probe.0
}

/// A deserializer that only records the field list a struct's `Deserialize` passes to
/// `deserialize_struct`, and fails.
struct FieldNameProbe(Option<&'static [&'static str]>);

impl<'de> Deserializer<'de> for &mut FieldNameProbe {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = Some(fields);
        Err(de::Error::custom("field names read"))
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
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

/// For a PATCH field that may be absent, `null` or a value: with `#[serde(default)]`,
/// absent is `None`, `null` is `Some(None)` and a value is `Some(Some(v))`.
pub fn de_present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A body field that must be present, for [`FieldErrors::check`].
pub fn required<T>(value: Option<T>) -> Result<T, String> {
    value.ok_or_else(|| "is required".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Post {
        title: Option<String>,
        tags: Option<Vec<String>>,
        draft: Option<bool>,
    }

    fn refused(err: AppError) -> Vec<String> {
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        err.errors.into_iter().map(|f| f.field).collect()
    }

    fn parse(body: Value) -> Result<Parsed<Post>, AppError> {
        JsonBody(body).parse::<Post>()
    }

    #[test]
    fn a_body_must_be_an_object() {
        let err = parse(serde_json::json!(["t", []])).err().expect("refused");
        assert_eq!(refused(err), ["body"]);
    }

    #[test]
    fn every_bad_field_is_named_unknown_ones_included() {
        let body = serde_json::json!({
            "title": 5, "tags": ["a", 7], "draft": true, "bogus": 1, "other": null
        });
        let err = parse(body).and_then(Parsed::finish).expect_err("refused");
        assert_eq!(refused(err), ["bogus", "other", "title", "tags[1]"]);
    }

    #[test]
    fn unknown_fields_and_nul_let_the_handler_add_its_own_refusals() {
        let body = serde_json::json!({"title": "ok", "tags": ["a", "b\u{0}"], "bogus": 1});
        let parsed = parse(body).expect("the type builds");
        assert_eq!(parsed.value.title.as_deref(), Some("ok"));
        let mut fields = parsed.fields;
        fields.reject("draft", "is required");
        let err = fields.into_result().expect_err("refused");
        assert_eq!(refused(err), ["tags[1]", "bogus", "draft"]);
    }

    #[test]
    fn a_field_refused_by_its_type_is_not_refused_again_by_the_handler() {
        // `title` is set aside, the type builds, and the refusal stays.
        let parsed = parse(serde_json::json!({"title": 5})).expect("builds without title");
        let mut fields = parsed.fields;
        fields.check("title", required(parsed.value.title));
        let err = fields.into_result().expect_err("refused");
        assert_eq!(err.errors.len(), 1);
        assert!(
            err.errors[0].message.contains("invalid type"),
            "{:?}",
            err.errors
        );
    }

    #[test]
    fn a_well_formed_body_parses() {
        let parsed = parse(serde_json::json!({"title": "ok", "tags": []})).expect("parses");
        assert!(parsed.finish().is_ok());
    }
}
