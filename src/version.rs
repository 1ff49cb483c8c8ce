//! Which build this is: the crate's version, the git revision it was built from (recorded
//! by `build.rs`) and the API version of SPEC it serves. Read by `GET /api/v1/version`, the
//! `relata_build_info` metric, the start-up log line and `relata --version`.

use serde::Serialize;

/// A build of Relata.
#[derive(Clone, Copy, Debug, Serialize, utoipa::ToSchema)]
pub struct Version {
    /// The crate's version.
    pub version: &'static str,
    /// The git commit the binary was built from (`unknown` outside a git checkout).
    pub git_revision: &'static str,
    /// The API version of SPEC this build serves.
    pub api_version: &'static str,
}

/// This build.
pub const BUILD: Version = Version {
    version: env!("CARGO_PKG_VERSION"),
    git_revision: env!("RELATA_GIT_REVISION"),
    api_version: "1.2",
};

/// The build in one line, as `relata --version` prints it.
pub const DESCRIPTION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("RELATA_GIT_REVISION"),
    ", API 1.2)"
);
