//! Newtypes parsed at the edge (SPEC §4 "Validation"): a value of one of these types has
//! been checked once, so services never hold an invalid username, email or role name.
//! Each `parse` returns the value or a message fit for a 422 `errors` entry.

pub mod display_name;
pub mod email;
pub mod password;
pub mod role_description;
pub mod role_name;
pub mod text;
pub mod url;
pub mod username;

use crate::error::{AppError, FieldError};

/// Collects the invalid fields of one request so that a 422 names all of them at once,
/// not just the first.
#[derive(Debug, Default)]
pub struct Fields {
    errors: Vec<FieldError>,
}

impl Fields {
    /// Keeps the parsed value, or records the message under `field`.
    pub fn check<T>(&mut self, field: &str, parsed: Result<T, String>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(message) => {
                self.errors.push(FieldError::new(field, message));
                None
            }
        }
    }

    /// Records a problem found outside a `parse` (a missing field, say).
    pub fn reject(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// `Ok` when every field was valid, else one 422 listing them all.
    pub fn finish(self) -> Result<(), AppError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::validation(self.errors))
        }
    }
}
