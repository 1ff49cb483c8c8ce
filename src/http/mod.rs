//! The HTTP layer: the two faces Relata serves over the same services and tables, and what
//! they share.
//!
//! - [`v1`]: the `/api/v1` API of SPEC §3–§6 (and `/api/v1/docs`, the OpenAPI document);
//! - [`conduit`]: the RealWorld ("Conduit") API under `/api` (CONDUIT.md);
//! - [`common`]: the layers every request passes whichever face answers it: request ids,
//!   tracing and metrics, the body guard, and the per-client limits.

pub mod common;
pub mod conduit;
pub mod state;
pub mod v1;
