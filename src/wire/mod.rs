//! Wire types: the JSON shapes of SPEC §3–§5 ([`repr`]) and the items an answer is made
//! of ([`item`]: a resource with its included relations and counts). Built from rows by
//! the services and the loader; serialised by the HTTP layer.

pub mod item;
pub mod repr;
