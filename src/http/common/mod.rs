//! What both faces share: [`authorization`] (the token a request sends), [`observe`] (request id, tracing, metrics, statement counts),
//! [`request_body`] (bodies that stall or are too large end cleanly), [`limits`]
//! (connections, registrations and logins per client address) and [`json`] (response
//! bodies).

pub mod authorization;
pub mod drain;
pub mod json;
pub mod limits;
pub mod observe;
pub mod request_body;
