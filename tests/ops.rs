//! The operator commands of "Operating Relata", run as the real binary: `relata check`
//! refusing a database that does not exist instead of creating it.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::BIN;

/// Runs `relata ARGS` on the database `url`, from `dir`.
fn relata(dir: &Path, url: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("DATABASE_URL", url)
        .env_remove("RELATA_LOG")
        .output()
        .expect("relata runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `relata ARGS` and asserts it succeeded; returns its standard output.
#[track_caller]
fn relata_ok(dir: &Path, url: &str, args: &[&str]) -> String {
    let out = relata(dir, url, args);
    assert!(
        out.status.success(),
        "relata {args:?} failed ({}): {}{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

// ---------------------------------------------------------------------------------------
// relata check on a database that is not there
// ---------------------------------------------------------------------------------------

#[test]
fn check_on_a_missing_sqlite_file_names_it_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "sqlite://typo.db".to_string(),
        sqlite_url(&dir.path().join("elsewhere.db")),
    ] {
        let out = relata(dir.path(), &url, &["check"]);
        assert_eq!(out.status.code(), Some(1), "{url}: {}", stdout(&out));
        let message = stderr(&out);
        let named = url.trim_start_matches("sqlite://");
        assert!(
            message.contains(&format!("no SQLite database at {named}")),
            "{message}"
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "check created something for {url}"
        );
    }
    // The commands that set a database up still create it.
    relata_ok(dir.path(), "sqlite://typo.db", &["migrate"]);
    assert!(dir.path().join("typo.db").is_file());
    let report = relata_ok(dir.path(), "sqlite://typo.db", &["check"]);
    assert!(report.contains("ok: no orphan rows"), "{report}");
}
