//! The service layer: relationship logic, transactions and eager loading, one module per
//! resource. Functions take the connection or transaction explicitly.

pub mod auth;
pub mod check;
pub mod comments;
pub mod include;
pub mod item;
pub mod lookup;
pub mod page;
pub mod posts;
pub mod profiles;
pub mod read;
pub mod repr;
pub mod roles;
pub mod seed;
pub mod users;
