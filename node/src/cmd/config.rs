//! `kampung config check FILE`: a configuration read and checked as `run`
//! reads it, without starting anything.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kampung_runtime::config::{Config, ConfigError};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Read a configuration file and check every field as `kampung run
    /// --config FILE` would (addresses by libp2p's own parser), without
    /// starting the node; say what it would use. Exits 1 if it is invalid.
    #[command(after_help = "Example:\n  kampung config check /etc/kampung/kampung.toml")]
    Check {
        /// The TOML configuration (see node/kampung.example.toml).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::Check { file } => check(&file),
    }
}

fn check(file: &Path) -> anyhow::Result<ExitCode> {
    let config = match Config::load(file) {
        Ok(c) => c,
        // Reading and parsing errors name the file already.
        Err(e @ (ConfigError::Read { .. } | ConfigError::Parse { .. })) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            return Ok(ExitCode::FAILURE);
        }
    };
    println!("{}: valid", file.display());
    let data = match kampung_datadir::DataDir::open(&config.data) {
        Ok(d) => format!("a {} node", d.role().tag()),
        Err(e) => format!("not usable yet: {e}"),
    };
    println!("  data directory   {} ({data})", config.data.display());
    println!("  mesh listens on  {}", config.network.listen.join(", "));
    println!(
        "  bootstrap peers  {}",
        if config.network.bootstrap.is_empty() {
            "none".to_string()
        } else {
            config.network.bootstrap.join(", ")
        }
    );
    println!(
        "  pages and API    {}{}",
        config.api.listen,
        if config.api.insecure_http {
            " (plain HTTP: passwords cross the LAN in clear text)"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}
