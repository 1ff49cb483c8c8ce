//! Newtypes parsed at the edge (SPEC §4 "Validation"): a value of one of these types has
//! been checked once, so services never hold an invalid username, email or role name.
//! Each `parse` returns the value or a message fit for a 422 `errors` entry.

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
