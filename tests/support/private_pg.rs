//! A PostgreSQL server of the test's own: `initdb` and `pg_ctl` from the machine's
//! PostgreSQL installation, a data directory in a temporary directory and a free port, so
//! that a test may stop and start it without touching the machine's shared server.
//! `initdb` refuses to run as root; as root, the server runs as the `postgres` user.
//!
//! [`PrivatePostgres::replica`] adds a streaming replica of such a server
//! (`pg_basebackup -R`), optionally applying what it receives only after a delay.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A private PostgreSQL server, stopped and removed on drop.
pub struct PrivatePostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding `initdb` and `pg_ctl`.
fn postgres_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").exists() && bin.join("pg_ctl").exists()).then_some((version, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl PrivatePostgres {
    /// Creates and starts the server; `None` (after saying why) when this machine has no
    /// PostgreSQL binaries.
    pub fn start() -> Option<PrivatePostgres> {
        let server = PrivatePostgres::empty()?;
        let data = server.data_dir();
        server.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
            ],
        );
        server.start_again();
        Some(server)
    }

    /// A streaming replica of this (running) server: a base backup taken with `-R`, so
    /// that it starts in recovery and streams from here, on a port of its own. With
    /// `apply_delay`, it applies each transaction that long after the primary committed
    /// it (`recovery_min_apply_delay`), so that it lags for real.
    pub fn replica(&self, apply_delay: Option<std::time::Duration>) -> PrivatePostgres {
        let replica = PrivatePostgres::empty().expect("the primary's binaries are there");
        let data = replica.data_dir();
        let reach = self.client_args();
        let mut args: Vec<&str> = reach.iter().map(String::as_str).collect();
        args.extend([
            "-D",
            data.to_str().unwrap(),
            "-R",
            "-X",
            "stream",
            "--no-sync",
        ]);
        replica.run("pg_basebackup", &args);
        if let Some(delay) = apply_delay {
            use std::io::Write;
            let mut conf = std::fs::OpenOptions::new()
                .append(true)
                .open(data.join("postgresql.auto.conf"))
                .expect("pg_basebackup -R wrote postgresql.auto.conf");
            writeln!(conf, "recovery_min_apply_delay = '{}ms'", delay.as_millis()).unwrap();
        }
        replica.start_again();
        replica
    }

    /// How a client program (psql, pg_basebackup) reaches this server.
    fn client_args(&self) -> [String; 6] {
        [
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "postgres",
        ]
        .map(String::from)
    }

    /// Runs `sql` with psql on its `postgres` database; the rows, unaligned.
    pub fn query(&self, sql: &str) -> String {
        let out = self
            .command("psql")
            .args(self.client_args())
            .args(["-d", "postgres", "-X", "-A", "-t", "-c", sql])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A server not yet created: its binaries, a directory and a port.
    fn empty() -> Option<PrivatePostgres> {
        let Some(bin) = postgres_bin_dir() else {
            // Where it must run (CI sets RELATA_REQUIRE_POSTGRES), a missing PostgreSQL
            // fails the test instead of skipping it.
            assert!(
                std::env::var_os("RELATA_REQUIRE_POSTGRES").is_none(),
                "RELATA_REQUIRE_POSTGRES is set but there is no initdb/pg_ctl under /usr/lib/postgresql/*/bin"
            );
            eprintln!(
                "SKIPPED: no initdb/pg_ctl under /usr/lib/postgresql/*/bin; this test needs a PostgreSQL installation"
            );
            return None;
        };
        let dir = tempfile::tempdir().expect("a temporary directory");
        let as_postgres = is_root();
        if as_postgres {
            let status = Command::new("chown")
                .args(["postgres:postgres", dir.path().to_str().unwrap()])
                .status()
                .expect("chown runs");
            assert!(status.success(), "giving the data directory to postgres");
        }
        Some(PrivatePostgres {
            bin,
            dir,
            port: free_port(),
            as_postgres,
        })
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// One of the PostgreSQL programs, run as `postgres` when we are root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(&path);
            cmd
        } else {
            Command::new(&path)
        }
    }

    /// Runs one of the PostgreSQL programs; panics with its output when it fails.
    fn run(&self, program: &str, args: &[&str]) {
        let out = self
            .command(program)
            .args(args)
            .output()
            .expect("a PostgreSQL program runs");
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn pg_ctl(&self, args: &[&str]) {
        let data = self.data_dir();
        let mut all = vec!["-D", data.to_str().unwrap()];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all);
    }

    /// Starts the (stopped) server and waits until it accepts connections.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log");
        self.pg_ctl(&["-w", "-l", log.to_str().unwrap(), "-o", &options, "start"]);
    }

    /// Stops the server the way an operator's restart does: running transactions are
    /// rolled back, connections are closed, committed data stays.
    pub fn stop(&self) {
        self.pg_ctl(&["-w", "-m", "fast", "stop"]);
    }

    /// `postgres://` URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data_dir();
        let _ = self
            .command("pg_ctl")
            .args(["-D", data.to_str().unwrap(), "-m", "immediate", "stop"])
            .output();
    }
}
