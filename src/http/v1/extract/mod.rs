//! Extractors that parse and validate requests at the edge, so that every malformed input
//! becomes the same problem+json as every other error (SPEC §3), one file per kind:
//!
//! - [`json`]: JSON bodies (415, 413, 400 for the form; 422 naming every bad field);
//! - [`path`]: path parameters and [`Id`] (400 for anything that is not 1..2^63−1);
//! - [`query`]: query strings (400), the search text and `dry_run`;
//! - [`paging`]: `limit`, `cursor`, `count`, `include`, `counts`, `include_limit`;
//! - [`auth`]: the bearer token, [`AuthUser`] / [`MaybeAuthUser`] (401 with
//!   `WWW-Authenticate`).

pub mod auth;
pub mod json;
pub mod paging;
pub mod path;
pub mod query;

pub use auth::{AuthUser, MaybeAuthUser, PendingUser};
pub use json::{JsonBody, Parsed, de_present, non_null, required};
pub use paging::{
    DEFAULT_LIMIT, IncludeParams, IncludeQuery, ListParams, ListQuery, MAX_LIMIT, parse_bounded,
};
pub use path::{AppPath, Id};
pub use query::{AppQuery, DryRunParams, search_text};
