//! SeaORM 2 entities, one file per table of SPEC §2.
//!
//! The relationships are declared here once (`has_one`, `has_many`, `belongs_to`, `via`):
//! user 1–1 profile, user 1–n posts and comments, post 1–n comments, and users n–m roles
//! through `user_roles`, an association object with its own columns and a second foreign
//! key (`assigned_by`) to `users`. API 1.1 adds the self-referential users n–m users
//! (`follows`, two foreign keys to `users`), users n–m posts with data (`favorites`) and
//! the ordered posts n–m tags (`post_tags`).

pub mod comment;
pub mod favorite;
pub mod follow;
pub mod login_attempt;
pub mod post;
pub mod post_count;
pub mod post_tag;
pub mod profile;
pub mod refresh_token;
pub mod revoked_token;
pub mod role;
pub mod session_epoch;
pub mod setting;
pub mod tag;
pub mod tag_post_count;
pub mod user;
pub mod user_post_count;
pub mod user_role;
