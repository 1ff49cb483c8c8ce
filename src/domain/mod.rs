//! Newtypes parsed at the edge (SPEC §4 "Validation"): a value of one of these types has
//! been checked once, so services never hold an invalid username, email or role name.
//! Each `parse` returns the value or a message fit for a 422 `errors` entry.

/// `as_str` and `into_inner` for newtypes over a `String` that has passed its rule.
macro_rules! string_accessors {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }
    };
}

pub mod display_name;
pub mod email;
pub mod password;
pub mod role_description;
pub mod role_name;
pub mod slug;
pub mod tag_name;
pub mod text;
pub mod url;
pub mod username;
pub mod viewer;

/// Checks that `raw` holds `min..=max` characters (not bytes), or says so in a 422 message.
fn length_within(raw: &str, min: usize, max: usize) -> Result<(), String> {
    if (min..=max).contains(&raw.chars().count()) {
        Ok(())
    } else {
        Err(format!("must be {min} to {max} characters long"))
    }
}
