//! `kampung`: the node of the Banyuwangi village mesh.
//!
//! This binary only parses the command line, sets up logging and calls into
//! the libraries in `crates/`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

/// mimalloc instead of the system allocator: each HTTP request allocates and
/// frees a few dozen small buffers, and glibc's malloc took ~7% of a verdict's
/// CPU time in profiles (see BENCHMARKS-verdict.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "kampung", version, about = "A node of the Banyuwangi village mesh", long_about = None)]
struct Cli {
    /// The node's data directory [default: ./kampung-data, or `data` in the --config of `run`].
    #[arg(long, global = true, env = "KAMPUNG_DATA")]
    data: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the data directory of a new node: its key pair and its role.
    Init(cmd::init::Args),
    /// Import residents from a CSV or Excel file (the columns of `export`;
    /// `--dry-run` to see what it would do).
    Import(cmd::import::Args),
    /// Write this node's residents as CSV or Excel (the columns of `import`).
    Export(cmd::export::Args),
    /// Register, correct, move out or mark deceased one resident.
    #[command(subcommand)]
    Resident(cmd::resident::Command),
    /// The verdict for a NIK, from the local index.
    Lookup(cmd::lookup::Args),
    /// Generate a deterministic synthetic population as CSV.
    Gen(cmd::gen::Args),
    /// Banyuwangi's 217 villages and their codes (`--search glagah`).
    Villages(cmd::villages::Args),
    /// Check or rebuild the derived index.
    #[command(subcommand)]
    Index(cmd::index::Command),
    /// Run the node: join the mesh and serve the API until Ctrl-C.
    Run(cmd::run::Args),
    /// Show the running node's documents, freshness and mesh state.
    Status(cmd::status::Args),
    /// Show the running node's peers.
    Peers(cmd::status::Args),
    /// The mesh's root key on this node, and the certificates, revocations and
    /// policy it holds.
    #[command(subcommand)]
    Trust(cmd::trust::Command),
    /// Check every stored change against its signature and its writer's certificate.
    #[command(subcommand)]
    Audit(cmd::audit::Command),
    /// The regency administrator's root key: sign certificates, revocations
    /// and the policy (offline; needs no data directory).
    #[command(subcommand)]
    Admin(cmd::admin::Command),
    /// This node's people: accounts for officers, clerks, facility staff,
    /// auditors and operators.
    #[command(subcommand)]
    User(cmd::people::UserCommand),
    /// Tokens for programs that call this node's API.
    #[command(subcommand)]
    Token(cmd::people::TokenCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KAMPUNG_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,libp2p_kad=error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let data = cli
        .data
        .clone()
        .unwrap_or_else(|| PathBuf::from("./kampung-data"));
    let result = match cli.command {
        Command::Init(a) => cmd::init::run(&data, a),
        Command::Import(a) => cmd::import::run(&data, a),
        Command::Export(a) => cmd::export::run(&data, a),
        Command::Resident(c) => cmd::resident::run(&data, c),
        Command::Lookup(a) => cmd::lookup::run(&data, a),
        Command::Gen(a) => cmd::gen::run(a),
        Command::Villages(a) => cmd::villages::run(a),
        Command::Index(c) => cmd::index::run(&data, c),
        Command::Run(a) => cmd::run::run(cli.data.as_deref(), a),
        Command::Status(a) => cmd::status::status(&data, a),
        Command::Peers(a) => cmd::status::peers(&data, a),
        Command::Trust(c) => cmd::trust::run(&data, c),
        Command::Audit(c) => cmd::audit::run(&data, c),
        Command::Admin(c) => cmd::admin::run(c),
        Command::User(c) => cmd::people::user(&data, c),
        Command::Token(c) => cmd::people::token(&data, c),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
