//! The `relata` binary: parses the command line and hands over to the library.

use clap::Parser;

/// mimalloc instead of the system allocator: the read path allocates per row and per
/// field, and glibc malloc/free was 16% of a profile under load (bench/README.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    relata::cli::init_logging();
    let cli = relata::cli::Cli::parse();
    match relata::cli::run(cli).await {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::exit(1);
        }
    }
}
