//! Records the git revision the binary is built from (`RELATA_GIT_REVISION`, read by
//! `GET /api/v1/version` and the `relata_build_info` metric), so that an operator can tell
//! which code a running process is. Outside a git checkout (a source tarball) it is
//! `unknown`. (Uncommitted changes are not flagged: build scripts rerun only when what they
//! watch changes, and watching every source file would rerun this one on every edit.)

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    println!("cargo:rerun-if-env-changed=RELATA_GIT_REVISION");
    // Rebuild when HEAD moves: HEAD itself (a checkout), and the ref it names (a commit).
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
        println!("cargo:rerun-if-changed={head}");
    }
    if let Some(name) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(reference) = git(&["rev-parse", "--git-path", &name])
    {
        println!("cargo:rerun-if-changed={reference}");
    }
    let revision = std::env::var("RELATA_GIT_REVISION")
        .ok()
        .filter(|r| !r.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=RELATA_GIT_REVISION={revision}");
}
