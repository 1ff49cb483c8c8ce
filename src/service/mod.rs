//! The service layer: relationship logic, transactions and eager loading, one module per
//! resource. Functions take the connection they use (`&impl ConnectionTrait`, or
//! [`crate::db::Writer`] when they write in a transaction of their own) and the values they
//! need, never the application state; nothing here imports the HTTP layer.

pub mod auth;
pub mod check;
pub mod comments;
pub mod counts;
pub mod favorites;
pub mod follows;
pub mod include;
pub mod item;
pub mod linked;
pub mod lookup;
pub mod page;
pub mod posts;
pub mod profiles;
pub mod read;
pub mod repr;
pub mod roles;
pub mod seed;
pub mod sweep;
pub mod tags;
pub mod users;
