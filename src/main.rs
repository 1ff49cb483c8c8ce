//! The `relata` binary: parses the command line and hands over to the library.

/// mimalloc instead of the system allocator: the read path allocates per row and per
/// field, and glibc malloc/free was 16% of a profile under load (bench/README.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let cli = relata::cli::Cli::from_env_and_args();
    let logs = relata::cli::init_logging(cli.settings.log);
    let result = relata::cli::run(cli).await;
    // `exit` runs no destructors: the queued log lines are written out first.
    drop(logs);
    let code = result.unwrap_or_else(|err| {
        eprintln!("error: {}", relata::cli::error_text(&err));
        1
    });
    std::process::exit(code)
}
