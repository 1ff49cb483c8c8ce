//! Typed settings: defaults, then the environment (SPEC §1), then command-line flags.
//!
//! Each setting is defined once, as a field of [`Settings`] with its flag, variable,
//! default and accepted form; clap reads all three sources. A value that is not of the
//! accepted form stops the process at start-up with a message naming the variable (or
//! flag) and that form, instead of quietly running on the default.

use std::sync::Arc;
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;

/// Everything `relata` needs to run, resolved once at start-up.
///
/// The `--help` of every command lists these under "Settings"; docs/operations.md's
/// Configuration table says the same.
#[derive(Clone, Debug, clap::Args)]
#[command(next_help_heading = "Settings")]
pub struct Settings {
    /// The database: `sqlite://PATH` (created when missing, except by `check`, `backup` and
    /// `migrate down`, which need an existing one) or `postgres://…`.
    #[arg(long, global = true, env = "DATABASE_URL", default_value = "sqlite://relata.db",
          value_parser = database_url())]
    pub database_url: String,
    /// Listen address, HOST:PORT.
    #[arg(long, global = true, env = "RELATA_BIND", default_value = "127.0.0.1:8080",
          value_parser = address())]
    pub bind: String,
    /// HS256 secret for access tokens; when unset, one is generated once and kept in the
    /// database, so that restarts and sibling processes agree.
    #[arg(long, global = true, env = "RELATA_JWT_SECRET", hide_env_values = true,
          value_parser = secret())]
    pub jwt_secret: Option<String>,
    /// Log lines as `json` objects or as human-readable `text`.
    #[arg(long, global = true, env = "RELATA_LOG", default_value = "text",
          value_parser = log_format())]
    pub log: LogFormat,
    /// Lifetime of access tokens, in seconds (15 minutes).
    #[arg(long = "access-ttl-secs", global = true, env = "RELATA_ACCESS_TTL_SECS",
          value_name = "SECS",
          default_value = "900", value_parser = seconds())]
    pub access_ttl: Duration,
    /// Lifetime of refresh tokens, in seconds (30 days).
    #[arg(long = "refresh-ttl-secs", global = true, env = "RELATA_REFRESH_TTL_SECS",
          value_name = "SECS",
          default_value = "2592000", value_parser = seconds())]
    pub refresh_ttl: Duration,
    /// Fail a request that runs more SQL statements than its budget.
    #[arg(long, global = true, env = "RELATA_STRICT_BUDGET",
          action = clap::ArgAction::SetTrue, value_parser = switch())]
    pub strict_budget: bool,
    /// Largest number of pooled database connections (on PostgreSQL, of each pool: writes, reads).
    #[arg(long = "db-max-connections", global = true, env = "RELATA_DB_MAX_CONNECTIONS",
          default_value = "10", value_name = "N",
          value_parser = count(10_000))]
    pub max_connections: u32,
    /// Origins allowed by CORS, comma-separated; none = CORS off.
    #[arg(long, global = true, env = "RELATA_CORS_ORIGINS", default_value = "",
          value_parser = origins())]
    // Fully qualified so that clap takes the whole list as one value.
    pub cors_origins: ::std::vec::Vec<String>,
    /// Time a request may take before it is answered 503, in seconds.
    #[arg(long = "request-timeout-secs", global = true, env = "RELATA_REQUEST_TIMEOUT_SECS",
          value_name = "SECS",
          default_value = "30", value_parser = seconds())]
    pub request_timeout: Duration,
    /// Time a client has to send a request's headers, in seconds.
    #[arg(long = "header-timeout-secs", global = true, env = "RELATA_HEADER_TIMEOUT_SECS",
          value_name = "SECS",
          default_value = "10", value_parser = seconds())]
    pub header_read_timeout: Duration,
    /// Most HTTP connections served at once; more wait in the kernel's backlog.
    #[arg(long = "max-http-connections", global = true, env = "RELATA_MAX_HTTP_CONNECTIONS",
          default_value = "1024", value_name = "N",
          value_parser = count(1_000_000).map(|n| n as usize))]
    pub max_http_connections: usize,
    /// Time between sweeps of expired tokens and old login attempts, in seconds (5 minutes).
    #[arg(long = "sweep-interval-secs", global = true, env = "RELATA_SWEEP_INTERVAL_SECS",
          value_name = "SECS",
          default_value = "300", value_parser = seconds())]
    pub sweep_interval: Duration,
    /// Serve the Conduit (RealWorld) face under `/api`; `off` leaves it unmounted.
    #[arg(long, global = true, env = "RELATA_CONDUIT", default_value = "on",
          value_name = "on|off", action = clap::ArgAction::Set, value_parser = switch())]
    pub conduit: bool,
    /// Lifetime of the tokens the Conduit face issues, in seconds (7 days: Conduit
    /// front-ends have no refresh flow).
    #[arg(long = "conduit-token-ttl-secs", global = true, env = "RELATA_CONDUIT_TOKEN_TTL_SECS",
          value_name = "SECS",
          default_value = "604800", value_parser = seconds())]
    pub conduit_token_ttl: Duration,
    /// Time `relata` waits for the database when it starts (then it stops, naming the
    /// database), in seconds.
    #[arg(long = "db-connect-timeout-secs", global = true, env = "RELATA_DB_CONNECT_TIMEOUT_SECS",
          value_name = "SECS",
          default_value = "10", value_parser = seconds())]
    pub db_connect_timeout: Duration,
    /// Time a request's body may stall (no byte arriving) before it is answered 408, in
    /// seconds; at most half the request timeout is used.
    #[arg(long = "body-timeout-secs", global = true, env = "RELATA_BODY_TIMEOUT_SECS",
          value_name = "SECS",
          default_value = "10", value_parser = seconds())]
    pub body_timeout: Duration,
    /// Most items (top-level and included objects) one response may hold; past it a GET is
    /// 400 `response_too_large`.
    #[arg(long = "max-response-items", global = true, env = "RELATA_MAX_RESPONSE_ITEMS",
          default_value = "20000", value_name = "N",
          value_parser = count(10_000_000).map(u64::from))]
    pub max_response_items: u64,
    /// Most HTTP connections one client address may hold at once; 0 = no cap.
    #[arg(long = "max-connections-per-client", global = true,
          env = "RELATA_MAX_CONNECTIONS_PER_CLIENT",
          default_value = "256", value_name = "N",
          value_parser = count_or_off(1_000_000).map(|n| n as usize))]
    pub max_connections_per_client: usize,
    /// Registrations one client address may make per minute (both faces); 0 = no limit.
    #[arg(long = "registrations-per-minute", global = true,
          env = "RELATA_REGISTRATIONS_PER_MINUTE",
          default_value = "120", value_name = "N",
          value_parser = count_or_off(1_000_000))]
    pub registrations_per_minute: u32,
    /// Login attempts one client address may make per minute (both faces); 0 = no limit.
    #[arg(long = "logins-per-minute", global = true, env = "RELATA_LOGINS_PER_MINUTE",
          default_value = "600", value_name = "N",
          value_parser = count_or_off(1_000_000))]
    pub logins_per_minute: u32,
    /// Password hashes computed at once by this process; 0 = half the CPU cores (at least 1).
    #[arg(long = "max-concurrent-hashes", global = true, env = "RELATA_MAX_CONCURRENT_HASHES",
          default_value = "0", value_name = "N",
          value_parser = count_or_off(1_024))]
    pub max_concurrent_hashes: u32,
    /// Streaming replicas of the PostgreSQL `DATABASE_URL` that serve reads, as
    /// comma-separated `postgres://` URLs; none = every read on `DATABASE_URL`.
    #[arg(long, global = true, env = "RELATA_READ_REPLICAS", default_value = "",
          value_parser = replica_urls())]
    // Fully qualified so that clap takes the whole list as one value.
    pub read_replicas: ::std::vec::Vec<String>,
    /// Staleness an anonymous read may see, in milliseconds, in exchange for skipping the
    /// primary's WAL position; unset = none (every read sees every answered write).
    #[arg(long = "replica-max-lag-ms", global = true, env = "RELATA_REPLICA_MAX_LAG_MS",
          value_name = "MS", value_parser = millis())]
    pub replica_max_lag: Option<Duration>,
}

/// How log lines are written (`RELATA_LOG`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for Settings {
    /// The defaults alone, whatever the environment holds: the `default_value`s above,
    /// so that they are written once.
    fn default() -> Self {
        use clap::{Args, FromArgMatches};
        let command = Settings::augment_args(clap::Command::new("relata"))
            .mut_args(|arg| arg.env(None::<&'static str>));
        let matches = command
            .try_get_matches_from(["relata"])
            .expect("the defaults are of their accepted forms");
        Settings::from_arg_matches(&matches).expect("every setting has a default")
    }
}

impl Settings {
    /// Password hashes computed at once: the setting, or when it is 0 half the CPU cores
    /// (at least one), so that a flood of logins leaves cores for every other request.
    pub fn concurrent_hashes(&self) -> usize {
        match self.max_concurrent_hashes {
            0 => std::thread::available_parallelism().map_or(1, |n| (usize::from(n) / 2).max(1)),
            n => n as usize,
        }
    }

    /// `DATABASE_URL` fit for a log line: a password in it is shown as `***`.
    pub fn database_url_shown(&self) -> String {
        match url::Url::parse(&self.database_url) {
            Ok(mut parsed) if parsed.password().is_some() => {
                let _ = parsed.set_password(Some("***"));
                parsed.to_string()
            }
            _ => self.database_url.clone(),
        }
    }

    /// How long a body may stall before it is answered 408: the body timeout, but at
    /// most half the request timeout, so that a stalled body is always answered 408 and
    /// never left to the request timeout's 503.
    pub fn body_stall_timeout(&self) -> Duration {
        self.body_timeout.min(self.request_timeout / 2)
    }

    /// Settings for a test or tool that supplies its own database: the defaults, on a free
    /// port, with the statement budget enforced.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Settings {
            database_url: database_url.into(),
            bind: "127.0.0.1:0".to_string(),
            strict_budget: true,
            ..Settings::default()
        }
    }
}

/// An environment variable that is set but empty counts as unset (a deployment's
/// `RELATA_BIND=` means "the default"), as it did before clap read the environment.
pub(crate) fn unset_if_empty(arg: clap::Arg) -> clap::Arg {
    let empty = arg
        .get_env()
        .and_then(std::env::var_os)
        .is_some_and(|v| v.to_string_lossy().trim().is_empty());
    if empty {
        arg.env(None::<&'static str>)
    } else {
        arg
    }
}

/// A value parser that accepts what `parse` accepts and otherwise says what it accepts,
/// naming the setting's variable and flag.
#[derive(Clone)]
struct Accepts<T> {
    form: String,
    parse: Arc<Parse<T>>,
}

/// Reads one value; `None` when it is not of the accepted form.
type Parse<T> = dyn Fn(&str) -> Option<T> + Send + Sync;

impl<T> Accepts<T> {
    fn new(
        form: impl Into<String>,
        parse: impl Fn(&str) -> Option<T> + Send + Sync + 'static,
    ) -> Self {
        Accepts {
            form: form.into(),
            parse: Arc::new(parse),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> TypedValueParser for Accepts<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        let text = value.to_str().map(str::trim);
        if let Some(parsed) = text.and_then(|t| (self.parse)(t)) {
            return Ok(parsed);
        }
        let name = match arg {
            Some(arg) => match (arg.get_env(), arg.get_long()) {
                (Some(env), Some(long)) => format!("{} (--{long})", env.to_string_lossy()),
                (None, Some(long)) => format!("--{long}"),
                _ => arg.get_id().to_string(),
            },
            None => "a setting".to_string(),
        };
        // A secret is not echoed back into the logs.
        let shown = if arg.is_some_and(|a| a.is_hide_env_values_set()) {
            String::new()
        } else {
            format!(" {:?}", value.to_string_lossy())
        };
        let message = format!(
            "invalid value{shown} for {name}: it accepts {}\n",
            self.form
        );
        Err(clap::Error::raw(ErrorKind::ValueValidation, message).with_cmd(cmd))
    }
}

fn database_url() -> Accepts<String> {
    Accepts::new("sqlite://PATH or postgres://USER@HOST/DATABASE", |s| {
        ["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|scheme| s.len() > scheme.len() && s.starts_with(scheme))
            .then(|| s.to_string())
    })
}

fn address() -> Accepts<String> {
    Accepts::new(
        "HOST:PORT, e.g. 127.0.0.1:8080, 0.0.0.0:80 or [::1]:8080",
        |s| {
            let (host, port) = s.rsplit_once(':')?;
            let named = !host.is_empty() && !host.contains(char::is_whitespace);
            (named && port.parse::<u16>().is_ok()).then(|| s.to_string())
        },
    )
}

fn secret() -> Accepts<String> {
    Accepts::new("any text of at least 1 character", |s| {
        (!s.is_empty()).then(|| s.to_string())
    })
}

fn log_format() -> Accepts<LogFormat> {
    Accepts::new("json or text", |s| match s.to_ascii_lowercase().as_str() {
        "json" => Some(LogFormat::Json),
        "text" => Some(LogFormat::Text),
        _ => None,
    })
}

/// Seconds, at most ten years: a longer time would overflow the clocks that add it.
fn seconds() -> Accepts<Duration> {
    Accepts::new("a whole number of seconds from 1 to 315360000", |s| {
        s.parse::<u64>()
            .ok()
            .filter(|n| (1..=315_360_000).contains(n))
            .map(Duration::from_secs)
    })
}

fn switch() -> Accepts<bool> {
    Accepts::new(
        "1, true, yes or on to turn it on; 0, false, no or off to leave it off",
        |s| match s.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Some(true),
            "0" | "false" | "no" | "off" => Some(false),
            _ => None,
        },
    )
}

fn count(max: u32) -> Accepts<u32> {
    Accepts::new(format!("a whole number from 1 to {max}"), move |s| {
        s.parse().ok().filter(|n| (1..=max).contains(n))
    })
}

/// A count where 0 has a meaning of its own (no limit, or "as many as cores").
fn count_or_off(max: u32) -> Accepts<u32> {
    Accepts::new(format!("a whole number from 0 to {max}"), move |s| {
        s.parse().ok().filter(|n| *n <= max)
    })
}

/// Milliseconds, at most an hour.
fn millis() -> Accepts<Duration> {
    Accepts::new("a whole number of milliseconds from 1 to 3600000", |s| {
        s.parse::<u64>()
            .ok()
            .filter(|n| (1..=3_600_000).contains(n))
            .map(Duration::from_millis)
    })
}

fn replica_urls() -> Accepts<Vec<String>> {
    Accepts::new(
        "comma-separated PostgreSQL URLs, each postgres://USER@HOST[:PORT]/DATABASE",
        |s| {
            s.split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(|u| {
                    ["postgres://", "postgresql://"]
                        .iter()
                        .any(|scheme| u.len() > scheme.len() && u.starts_with(scheme))
                        .then(|| u.to_string())
                })
                .collect()
        },
    )
}

fn origins() -> Accepts<Vec<String>> {
    Accepts::new(
        "comma-separated origins, each http(s)://HOST[:PORT], e.g. https://app.example, or * for any",
        |s| {
            s.split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(|o| {
                    // `*`: any origin (CONDUIT.md).
                    if o == "*" {
                        return Some(o.to_string());
                    }
                    let rest = o
                        .strip_prefix("https://")
                        .or_else(|| o.strip_prefix("http://"))?;
                    let plain = !rest.is_empty()
                        && !rest.contains('/')
                        && rest.bytes().all(|b| b.is_ascii_graphic());
                    plain.then(|| o.to_string())
                })
                .collect()
        },
    )
}

#[cfg(test)]
mod tests {
    //! One test per setting: a bad value is refused with the variable's name and the
    //! accepted form, a good one is taken. Values come in by flag here (the environment
    //! is process-wide and tests run in parallel); `tests/process.rs` sends one through
    //! the environment of the real binary.

    use super::*;
    use crate::cli::Cli;
    use clap::{Args, Parser};

    fn parse(args: &[&str]) -> Result<Settings, String> {
        let argv = ["relata"].iter().chain(args).chain(&["check"]);
        Cli::try_parse_from(argv)
            .map(|cli| cli.settings)
            .map_err(|e| e.to_string())
    }

    fn refused(flag: &str, value: &str, variable: &str, form: &str) {
        let err = parse(&[&format!("--{flag}={value}")]).expect_err(value);
        assert!(err.contains(variable), "names {variable}: {err}");
        assert!(err.contains(&format!("--{flag}")), "names --{flag}: {err}");
        assert!(err.contains(form), "says what it accepts ({form}): {err}");
    }

    #[test]
    fn the_defaults_are_those_of_spec_section_1() {
        let s = Settings::default();
        assert_eq!(s.database_url, "sqlite://relata.db");
        assert_eq!(s.bind, "127.0.0.1:8080");
        assert_eq!(s.jwt_secret, None);
        assert_eq!(s.log, LogFormat::Text);
        assert_eq!(s.access_ttl, Duration::from_secs(900));
        assert_eq!(s.refresh_ttl, Duration::from_secs(30 * 24 * 3600));
        assert!(!s.strict_budget);
        assert_eq!(s.max_connections, 10);
        assert!(s.cors_origins.is_empty());
        assert_eq!(s.request_timeout, Duration::from_secs(30));
        assert_eq!(s.header_read_timeout, Duration::from_secs(10));
        assert_eq!(s.max_http_connections, 1024);
        assert_eq!(s.sweep_interval, Duration::from_secs(300));
        assert!(s.conduit);
        assert_eq!(s.conduit_token_ttl, Duration::from_secs(7 * 24 * 3600));
        assert_eq!(s.body_timeout, Duration::from_secs(10));
        assert_eq!(s.max_response_items, 20_000);
        assert_eq!(s.max_connections_per_client, 256);
        assert_eq!(s.registrations_per_minute, 120);
        assert_eq!(s.logins_per_minute, 600);
        assert_eq!(s.max_concurrent_hashes, 0);
        assert!(s.read_replicas.is_empty());
        assert_eq!(s.replica_max_lag, None);
        assert!(s.concurrent_hashes() >= 1);
        assert_eq!(s.body_stall_timeout(), Duration::from_secs(10));
    }

    #[test]
    fn the_limits_of_api_1_2_take_counts_and_0_turns_the_per_client_ones_off() {
        let s = parse(&[
            "--max-response-items=500",
            "--max-connections-per-client=0",
            "--registrations-per-minute=0",
            "--logins-per-minute=10",
            "--max-concurrent-hashes=3",
            "--body-timeout-secs=2",
        ])
        .unwrap();
        assert_eq!(s.max_response_items, 500);
        assert_eq!(s.max_connections_per_client, 0);
        assert_eq!(s.registrations_per_minute, 0);
        assert_eq!(s.logins_per_minute, 10);
        assert_eq!(s.concurrent_hashes(), 3);
        assert_eq!(s.body_timeout, Duration::from_secs(2));
        refused(
            "max-response-items",
            "0",
            "RELATA_MAX_RESPONSE_ITEMS",
            "from 1 to",
        );
        refused(
            "logins-per-minute",
            "-1",
            "RELATA_LOGINS_PER_MINUTE",
            "from 0 to",
        );
        refused(
            "max-connections-per-client",
            "many",
            "RELATA_MAX_CONNECTIONS_PER_CLIENT",
            "from 0 to",
        );
    }

    #[test]
    fn a_database_password_is_never_shown() {
        let s = parse(&[
            "--database-url",
            "postgres://app:s3cret@db.example:5432/relata",
        ])
        .unwrap();
        assert_eq!(
            s.database_url_shown(),
            "postgres://app:***@db.example:5432/relata"
        );
        let s = parse(&["--database-url", "sqlite://relata.db"]).unwrap();
        assert_eq!(s.database_url_shown(), "sqlite://relata.db");
    }

    #[test]
    fn a_stalled_body_is_given_up_on_before_the_request_times_out() {
        let s = parse(&["--body-timeout-secs=30", "--request-timeout-secs=4"]).unwrap();
        assert_eq!(s.body_stall_timeout(), Duration::from_secs(2));
    }

    #[test]
    fn conduit_takes_a_switch_and_its_token_lifetime_whole_seconds() {
        assert!(!parse(&["--conduit", "off"]).unwrap().conduit);
        assert!(parse(&["--conduit=on"]).unwrap().conduit);
        refused("conduit", "maybe", "RELATA_CONDUIT", "1, true");
        let s = parse(&["--conduit-token-ttl-secs", "60"]).unwrap();
        assert_eq!(s.conduit_token_ttl, Duration::from_secs(60));
        refused(
            "conduit-token-ttl-secs",
            "7d",
            "RELATA_CONDUIT_TOKEN_TTL_SECS",
            "whole number of seconds",
        );
        assert_eq!(parse(&["--cors-origins", "*"]).unwrap().cors_origins, ["*"]);
    }

    #[test]
    fn database_url_takes_sqlite_or_postgres() {
        let s = parse(&["--database-url", "postgres://postgres@127.0.0.1/relata"]).unwrap();
        assert_eq!(s.database_url, "postgres://postgres@127.0.0.1/relata");
        refused(
            "database-url",
            "mysql://x",
            "DATABASE_URL",
            "sqlite://PATH or postgres://",
        );
    }

    #[test]
    fn read_replicas_take_postgres_urls_and_the_lag_milliseconds() {
        let s = parse(&[
            "--read-replicas",
            "postgres://r1/relata, postgresql://u@r2:5433/relata",
            "--replica-max-lag-ms=250",
        ])
        .unwrap();
        assert_eq!(
            s.read_replicas,
            ["postgres://r1/relata", "postgresql://u@r2:5433/relata"]
        );
        assert_eq!(s.replica_max_lag, Some(Duration::from_millis(250)));
        refused(
            "read-replicas",
            "postgres://r1/relata,sqlite://replica.db",
            "RELATA_READ_REPLICAS",
            "PostgreSQL URLs",
        );
        refused(
            "replica-max-lag-ms",
            "0",
            "RELATA_REPLICA_MAX_LAG_MS",
            "milliseconds from 1",
        );
    }

    #[test]
    fn bind_takes_host_and_port() {
        assert_eq!(parse(&["--bind", "[::1]:9000"]).unwrap().bind, "[::1]:9000");
        refused("bind", "8080", "RELATA_BIND", "HOST:PORT");
        refused("bind", "localhost:http", "RELATA_BIND", "HOST:PORT");
    }

    #[test]
    fn jwt_secret_takes_any_text_and_is_not_echoed() {
        let s = parse(&["--jwt-secret", "s3cret"]).unwrap();
        assert_eq!(s.jwt_secret.as_deref(), Some("s3cret"));
        let err = parse(&["--jwt-secret="]).unwrap_err();
        assert!(
            err.contains("RELATA_JWT_SECRET") && err.contains("at least 1"),
            "{err}"
        );
    }

    #[test]
    fn log_takes_json_or_text() {
        assert_eq!(parse(&["--log", "JSON"]).unwrap().log, LogFormat::Json);
        refused("log", "yaml", "RELATA_LOG", "json or text");
    }

    #[test]
    fn access_ttl_takes_whole_seconds() {
        let s = parse(&["--access-ttl-secs", "7200"]).unwrap();
        assert_eq!(s.access_ttl, Duration::from_secs(7200));
        refused(
            "access-ttl-secs",
            "15m",
            "RELATA_ACCESS_TTL_SECS",
            "whole number of seconds",
        );
        refused(
            "access-ttl-secs",
            "0",
            "RELATA_ACCESS_TTL_SECS",
            "from 1 to",
        );
    }

    #[test]
    fn refresh_ttl_takes_whole_seconds() {
        let s = parse(&["--refresh-ttl-secs", "60"]).unwrap();
        assert_eq!(s.refresh_ttl, Duration::from_secs(60));
        refused(
            "refresh-ttl-secs",
            "-1",
            "RELATA_REFRESH_TTL_SECS",
            "whole number of seconds",
        );
    }

    #[test]
    fn strict_budget_takes_a_switch() {
        assert!(parse(&["--strict-budget"]).unwrap().strict_budget);
        let err = parse(&["--strict-budget=maybe"]).unwrap_err();
        // A flag takes no value on the command line; a wrong one from the environment is
        // refused by the same parser, which `switch_accepts_…` pins down.
        assert!(err.contains("--strict-budget"), "{err}");
        let parser = switch();
        let cmd = Settings::augment_args(clap::Command::new("relata"));
        let arg = cmd
            .get_arguments()
            .find(|a| a.get_id() == "strict_budget")
            .unwrap();
        for (value, on) in [("1", true), ("ON", true), ("0", false), ("off", false)] {
            assert_eq!(
                parser.parse_ref(&cmd, Some(arg), value.as_ref()).unwrap(),
                on
            );
        }
        let err = parser
            .parse_ref(&cmd, Some(arg), "maybe".as_ref())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("RELATA_STRICT_BUDGET") && err.contains("1, true"),
            "{err}"
        );
    }

    #[test]
    fn db_max_connections_takes_a_count() {
        let s = parse(&["--db-max-connections", "20"]).unwrap();
        assert_eq!(s.max_connections, 20);
        refused(
            "db-max-connections",
            "ten",
            "RELATA_DB_MAX_CONNECTIONS",
            "whole number from 1",
        );
        refused(
            "db-max-connections",
            "0",
            "RELATA_DB_MAX_CONNECTIONS",
            "from 1 to 10000",
        );
    }

    #[test]
    fn cors_origins_takes_a_list_of_origins() {
        let s = parse(&[
            "--cors-origins",
            "https://a.example, http://b.example:8080,",
        ])
        .unwrap();
        assert_eq!(
            s.cors_origins,
            ["https://a.example", "http://b.example:8080"]
        );
        refused(
            "cors-origins",
            "a.example",
            "RELATA_CORS_ORIGINS",
            "http(s)://HOST",
        );
        refused(
            "cors-origins",
            "https://a.example/path",
            "RELATA_CORS_ORIGINS",
            "comma-separated origins",
        );
    }

    #[test]
    fn request_timeout_takes_whole_seconds() {
        let s = parse(&["--request-timeout-secs", "5"]).unwrap();
        assert_eq!(s.request_timeout, Duration::from_secs(5));
        refused(
            "request-timeout-secs",
            "1.5",
            "RELATA_REQUEST_TIMEOUT_SECS",
            "whole number",
        );
    }

    #[test]
    fn header_timeout_takes_whole_seconds() {
        let s = parse(&["--header-timeout-secs", "3"]).unwrap();
        assert_eq!(s.header_read_timeout, Duration::from_secs(3));
        refused(
            "header-timeout-secs",
            "",
            "RELATA_HEADER_TIMEOUT_SECS",
            "whole number",
        );
    }

    #[test]
    fn max_http_connections_takes_a_count() {
        let s = parse(&["--max-http-connections", "64"]).unwrap();
        assert_eq!(s.max_http_connections, 64);
        refused(
            "max-http-connections",
            "lots",
            "RELATA_MAX_HTTP_CONNECTIONS",
            "from 1 to 1000000",
        );
    }

    #[test]
    fn sweep_interval_takes_whole_seconds() {
        let s = parse(&["--sweep-interval-secs", "60"]).unwrap();
        assert_eq!(s.sweep_interval, Duration::from_secs(60));
        refused(
            "sweep-interval-secs",
            "0",
            "RELATA_SWEEP_INTERVAL_SECS",
            "from 1 to",
        );
    }

    #[test]
    fn a_setting_is_taken_after_the_subcommand_too() {
        let cli = Cli::try_parse_from(["relata", "serve", "--bind", "127.0.0.1:0"]).unwrap();
        assert_eq!(cli.settings.bind, "127.0.0.1:0");
    }
}
