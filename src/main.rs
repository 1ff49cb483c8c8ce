//! The `relata` binary: parses the command line and hands over to the library.

use clap::Parser;

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
