//! The service layer: relationship logic, transactions and eager loading, one module per
//! resource. Functions take the connection or transaction explicitly.

pub mod auth;
pub mod check;
pub mod include;
pub mod page;
pub mod repr;
pub mod roles;
pub mod users;
