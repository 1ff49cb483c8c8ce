//! Integration tests: the real router over HTTP on a fresh database per test, on SQLite
//! always and on PostgreSQL when `TEST_DATABASE_URL` is set (see `helpers`).

mod helpers;

mod auth;
mod bounds;
mod budget;
mod comments;
mod concurrency;
mod conduit;
mod conduit_faces;
mod counts;
mod cursors;
mod errors;
mod favorites;
mod follows;
mod foundation;
mod hostile;
mod identity;
mod includes_1_1;
mod limits;
mod openapi;
mod operations;
mod posts;
mod profiles;
mod relationships;
mod roles;
mod roundtrips;
mod seed;
mod sessions;
mod sweep;
mod tags;
mod throttle;
mod users;
