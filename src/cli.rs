//! The `relata` command line: serve, migrate, admin, seed, check, backup, openapi. Each
//! command only reads its arguments and prints; the work is done by the library (the
//! operator tools live in `service::{seed, check, backup}`).

use std::time::Duration;

use clap::{Parser, Subcommand};
use sea_orm_migration::MigratorTrait;

use crate::config::{LogFormat, Settings};
use crate::migration::Migrator;

/// What `relata --help` says relata is.
const ABOUT: &str = "Relata: a REST service for a community and publishing app whose data is \
relationships (users, profiles, posts, comments, roles, follows, favorites, tags), with \
eager loading in a fixed number of SQL statements, on SQLite or PostgreSQL. It serves its \
own API under /api/v1 and the RealWorld (Conduit) API under /api.";

#[derive(Parser, Debug)]
#[command(
    name = "relata",
    version = crate::version::DESCRIPTION,
    about = ABOUT,
    long_about = ABOUT,
    after_help = "Every setting is also read from its environment variable (shown in [env: …]). \
Docs: README.md and docs/ in the source, and /docs on a running server."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub settings: Settings,
}

impl Cli {
    /// The command line and the environment, as `relata` reads them; a setting of the wrong
    /// form ends the process here (status 2) with a message saying what it accepts.
    pub fn from_env_and_args() -> Self {
        use clap::{CommandFactory, FromArgMatches};
        let mut command = Cli::command().mut_args(crate::config::unset_if_empty);
        command
            .try_get_matches_from_mut(std::env::args_os())
            .and_then(|mut matches| Cli::from_arg_matches_mut(&mut matches))
            .unwrap_or_else(|e| e.format(&mut command).exit())
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Migrate the database, then serve HTTP until SIGINT or SIGTERM, then drain. Another
    /// `relata serve` may bind the same address meanwhile (a restart without a failed
    /// request: see `drain`).
    Serve,
    /// Apply pending migrations; `relata migrate status` lists them, `relata migrate down
    /// [N]` rolls back the last N.
    Migrate {
        #[command(subcommand)]
        action: Option<MigrateAction>,
    },
    /// Integrity report: each table's row count, orphan rows, unindexed foreign keys and
    /// post counters that disagree with a count; exits 1 when it finds any of those, or
    /// when the database does not exist (a SQLite file that is not there is named, and
    /// never created).
    Check,
    /// Copy the live SQLite database into DEST, consistently, while it is in use (SQLite's
    /// `VACUUM INTO`). Refuses (exit 1) when DEST exists or its directory does not. On
    /// PostgreSQL it copies nothing: it prints the `pg_dump` and `pg_restore` commands for
    /// DATABASE_URL and exits 3.
    #[command(
        after_help = "Restore a SQLite backup: stop relata, replace the database file \
                            (and remove its -wal and -shm files), start relata."
    )]
    Backup {
        /// The file to write; it must not exist yet, and its directory must.
        dest: std::path::PathBuf,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Fill the database with deterministic demo data.
    Seed {
        #[arg(long, default_value_t = 100)]
        users: u64,
        #[arg(long, default_value_t = 5)]
        posts_per_user: u64,
        #[arg(long, default_value_t = 3)]
        comments_per_post: u64,
        /// Random seed: the same seed on an empty database gives the same data.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Posts of the first seeded user (default: --posts-per-user), e.g. to page deep
        /// into one user's posts.
        #[arg(long)]
        first_user_posts: Option<u64>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Accounts from the shell: create an admin, grant a role.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdminAction {
    /// Create a user holding the `admin` role and print their id.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input (the only way: a
        /// password on the command line would show in `ps` and the shell's history).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Assign ROLE to USERNAME (recorded with no assigner).
    Grant { username: String, role: String },
}

#[derive(Subcommand, Debug)]
pub enum MigrateAction {
    /// List every migration and whether it is applied.
    Status,
    /// Roll back the last N applied migrations (default 1), newest first, each with its
    /// `down`; `relata migrate` applies them again.
    Down {
        /// How many migrations to roll back.
        #[arg(default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        n: u32,
    },
}

/// Exit status of `relata backup` on PostgreSQL: nothing was copied, and the output says
/// which `pg_dump` command to run instead. Distinct from 1 (refused or failed), so that a
/// script can tell "use pg_dump" from "something went wrong".
pub const EXIT_BACKUP_USE_PG_DUMP: i32 = 3;

/// Sets up logging: human-readable, or JSON with `RELATA_LOG=json`; level from `RUST_LOG`.
pub fn init_logging(format: LogFormat) -> LogGuard {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // A request's line goes to a thread of its own, which writes what has gathered in
    // one `write(2)`: under load the write on the request's thread was half the cost of
    // its log line (bench/README.md, design 15). Lossless (`log_writer`).
    let (writer, guard) = crate::log_writer::spawn(std::io::stderr(), "relata-log")
        .expect("the log writer's thread starts");
    // Colours only for a terminal: a log file or a collector gets plain text (and the
    // styling was a measurable part of each request's log line).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(terminal)
        .with_writer(writer);
    if format == LogFormat::Json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init();
    } else {
        builder.init();
    }
    LogGuard { _writer: guard }
}

/// Keeps the log writer's thread; dropping it writes out the lines still queued.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    _writer: crate::log_writer::LogWriterGuard,
}

/// Resolves when the process receives SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown signal received; draining");
}

/// An error as one line for the terminal: its message, then each cause that the message
/// does not already say (SeaORM's and sqlx's errors repeat their cause in their own
/// message, which `{:#}` would print twice).
pub fn error_text(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// Runs one command; the exit code is the result.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    let settings = cli.settings;
    match cli.command {
        Command::Serve => serve(settings).await,
        Command::Migrate { action } => migrate(&settings, action).await,
        Command::Backup { dest } => backup(&settings.database_url, &dest).await,
        Command::Seed {
            users,
            posts_per_user,
            comments_per_post,
            seed,
            first_user_posts,
            quiet,
        } => {
            let plan = crate::ops::seed::SeedPlan {
                users,
                posts_per_user,
                comments_per_post,
                seed,
            };
            seed_database(&settings, &plan, first_user_posts, quiet).await
        }
        Command::Openapi => print_openapi(),
        Command::Admin { action } => {
            let state = crate::build_state(settings).await?;
            admin(&state, action).await?;
            Ok(0)
        }
        Command::Check => check(&settings).await,
    }
}

/// `relata serve`: listens until a shutdown signal, then drains.
async fn serve(settings: Settings) -> anyhow::Result<i32> {
    let database = settings.database_url_shown();
    let app = crate::Application::build(settings).await?;
    crate::http::common::drain::warn_if_queued_connections_are_reset();
    let address = app.address();
    tracing::info!(
        %address,
        %database,
        docs = %format!("http://{address}/docs"),
        version = crate::version::DESCRIPTION,
        "relata is listening"
    );
    app.run_until(shutdown_signal(), Duration::from_secs(20))
        .await?;
    Ok(0)
}

/// `relata migrate [status | down [N]]`.
async fn migrate(settings: &Settings, action: Option<MigrateAction>) -> anyhow::Result<i32> {
    match action {
        None => {
            let db = crate::store::connect_configured(settings, 1, false).await?;
            Migrator::up(&db, None).await?;
            println!("migrations applied");
        }
        Some(MigrateAction::Status) => {
            let db = crate::store::connect_configured(settings, 1, false).await?;
            for m in Migrator::get_migration_with_status(&db).await? {
                println!(
                    "{:<10} {}",
                    format!("{:?}", m.status()).to_lowercase(),
                    m.name()
                );
            }
        }
        Some(MigrateAction::Down { n }) => {
            // Rolling back a database that is not there is a mistyped path, not
            // a request for an empty database.
            let db = crate::store::connect_configured(settings, 1, true).await?;
            let applied_before = applied_migrations(&db).await?;
            Migrator::down(&db, Some(n)).await?;
            let applied_after = applied_migrations(&db).await?;
            let rolled_back: Vec<&String> = applied_before
                .iter()
                .rev()
                .filter(|name| !applied_after.contains(name))
                .collect();
            if rolled_back.is_empty() {
                println!("no applied migration to roll back");
            }
            for name in rolled_back {
                println!("rolled back {name}");
            }
        }
    }
    Ok(0)
}

/// `relata seed`: the data set of `plan`, with a progress bar unless `quiet`.
async fn seed_database(
    settings: &Settings,
    plan: &crate::ops::seed::SeedPlan,
    first_user_posts: Option<u64>,
    quiet: bool,
) -> anyhow::Result<i32> {
    let db = crate::store::connect_configured(settings, 2, false).await?;
    crate::store::migrate(&db).await?;
    let bar = crate::ops::seed::progress_bar(quiet);
    let started = std::time::Instant::now();
    let report = crate::ops::seed::run_with_first_user_posts(&db, plan, first_user_posts, &bar)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let elapsed = started.elapsed();
    let rows = report.users
        + report.profiles
        + report.posts
        + report.comments
        + report.assignments
        + report.follows
        + report.favorites
        + report.tags
        + report.post_tags;
    println!(
        "seeded {} users ({} with a profile), {} posts, {} comments, {} role assignments, {} follows, {} favorites, {} tags, {} post tags: {rows} rows in {:.1}s",
        report.users,
        report.profiles,
        report.posts,
        report.comments,
        report.assignments,
        report.follows,
        report.favorites,
        report.tags,
        report.post_tags,
        elapsed.as_secs_f64()
    );
    println!(
        "every seeded user (user{} … user{}) logs in with the password: {}",
        report.first_user_id,
        report.first_user_id + report.users as i64 - 1,
        crate::ops::seed::DEMO_PASSWORD
    );
    Ok(0)
}

/// `relata openapi`: the OpenAPI document on standard output.
fn print_openapi() -> anyhow::Result<i32> {
    use std::io::Write;
    let document = crate::http::v1::openapi::document().to_pretty_json()?;
    // `relata openapi | head` closes the pipe early; that is not a failure.
    match writeln!(std::io::stdout().lock(), "{document}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(0),
    }
}

/// `relata check`: the schema and the data agree with the entities.
async fn check(settings: &Settings) -> anyhow::Result<i32> {
    let db = crate::store::connect_configured(settings, 1, true).await?;
    let report = crate::ops::check::run(&db)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    for (table, rows) in &report.row_counts {
        println!("rows: {table} {rows}");
    }
    println!("foreign keys checked: {}", report.foreign_keys.len());
    for (fk, n) in &report.orphans {
        println!(
            "orphans: {n} row(s) of {}.{} name no {}.{}",
            fk.table, fk.column, fk.parent_table, fk.parent_column
        );
    }
    for fk in &report.unindexed {
        println!("unindexed: {}.{} leads no index", fk.table, fk.column);
    }
    for (table, n) in &report.miscounted {
        println!("miscounted: {n} row(s) of {table} disagree with a count of what they count");
    }
    if report.is_clean() {
        println!(
            "ok: no orphan rows, every foreign-key column leads an index, every post counter agrees"
        );
        Ok(0)
    } else {
        Ok(1)
    }
}

/// The names of the applied migrations, oldest first.
async fn applied_migrations(db: &sea_orm::DatabaseConnection) -> anyhow::Result<Vec<String>> {
    use sea_orm_migration::MigrationStatus;
    Ok(Migrator::get_migration_with_status(db)
        .await?
        .iter()
        .filter(|m| m.status() == MigrationStatus::Applied)
        .map(|m| m.name().to_string())
        .collect())
}

/// Runs `relata backup DEST`: the copy on SQLite; the `pg_dump` command on PostgreSQL.
async fn backup(database_url: &str, dest: &std::path::Path) -> anyhow::Result<i32> {
    use crate::ops::backup;
    if backup::is_postgres_url(database_url) {
        let advice = backup::pg_dump_advice(database_url, dest);
        println!(
            "relata backup copies SQLite databases only; PostgreSQL is backed up with pg_dump:"
        );
        println!("  {}", advice.dump);
        println!("and restored with pg_restore:");
        println!("  {}", advice.restore);
        if advice.password_hidden {
            println!(
                "The password is left out of these commands: give it in the PGPASSWORD environment variable or in ~/.pgpass."
            );
        }
        println!("Nothing was copied (exit status {EXIT_BACKUP_USE_PG_DUMP}).");
        return Ok(EXIT_BACKUP_USE_PG_DUMP);
    }
    let copied = backup::sqlite(database_url, dest).await?;
    println!("backup: {}", copied.destination.display());
    println!("source: {}", copied.source.display());
    println!("size: {} bytes", copied.bytes);
    println!("took: {:.3} s", copied.took.as_secs_f64());
    Ok(0)
}

/// Runs `relata admin …`; a refusal (invalid field, name taken) is an error whose text is
/// the API's detail.
async fn admin(state: &crate::http::state::AppState, action: AdminAction) -> anyhow::Result<()> {
    use crate::domain::{email::Email, password::Password, username::Username};
    use crate::service::{roles, users};
    let refused = |e: crate::error::AppError| {
        let fields: Vec<String> = e
            .errors
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect();
        if fields.is_empty() {
            anyhow::anyhow!("{}", e.detail)
        } else {
            anyhow::anyhow!("{} ({})", e.detail, fields.join("; "))
        }
    };
    match action {
        AdminAction::Create {
            username,
            email,
            password_stdin: _,
        } => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            let password = line.trim_end_matches(['\r', '\n']);
            let mut fields = crate::error::FieldErrors::default();
            let username = fields.check("username", Username::parse(&username));
            let email = fields.check("email", Email::parse(&email));
            let password = fields.check("password", Password::parse(password));
            fields.into_result().map_err(refused)?;
            let (Some(username), Some(email), Some(password)) = (username, email, password) else {
                anyhow::bail!("invalid arguments");
            };
            let account = users::NewAccount {
                username,
                email,
                password,
                display_name: None,
            };
            let created = users::create_admin(&mut state.db(), &state.passwords, account)
                .await
                .map_err(refused)?;
            println!("{}", created.id);
        }
        AdminAction::Grant { username, role } => {
            let user = users::find_by_username(&state.db().write().await, &username)
                .await
                .map_err(refused)?;
            let role = roles::find(&state.db().read()?, &role)
                .await
                .map_err(refused)?;
            if roles::assign(&state.db().write().await, user.id, role.id, None)
                .await
                .map_err(refused)?
            {
                println!("granted {} to {}", role.name, user.username);
            } else {
                println!("{} already holds {}", user.username, role.name);
            }
        }
    }
    Ok(())
}
