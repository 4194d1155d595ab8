//! `kampung`: the node of the Banyuwangi village mesh.
//!
//! This binary only parses the command line, sets up logging and calls into
//! the libraries in `crates/`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

mod cmd;

/// mimalloc instead of the system allocator: each HTTP request allocates and
/// frees a few dozen small buffers, and glibc's malloc took ~7% of a verdict's
/// CPU time in profiles (see BENCHMARKS-verdict.md). Built without
/// transparent huge pages (`no_thp`): with them every arena region mimalloc
/// touches takes a whole 2 MB page, and an idle node held 82 MB instead of
/// 42 MB (60 MB of huge pages; BENCHMARKS-regency-mesh.md runs 223 nodes).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "kampung", version = kampung_node::VERSION, about = "A node of the Banyuwangi village mesh", long_about = None)]
struct Cli {
    /// The node's data directory [default: ./kampung-data, or `data` in the --config of `run`].
    #[arg(long, global = true, env = "KAMPUNG_DATA")]
    data: Option<PathBuf>,
    /// How log lines are written to standard error: text, or json (one
    /// object per line, for journald or Loki). Which lines: KAMPUNG_LOG or
    /// RUST_LOG (`info`, `kampung_mesh=debug`, ...), warnings by default.
    #[arg(
        long,
        global = true,
        env = "KAMPUNG_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the data directory of a new node: its key pair and its role.
    #[command(
        after_help = "Examples:\n  kampung init --village \"Kampunganyar, Glagah\" --root root.pub\n  kampung init --checkpoint ketapang --root root.pub"
    )]
    Init(cmd::init::Args),
    /// Import residents from a CSV or Excel file (the columns of `export`;
    /// `--dry-run` to see what it would do).
    #[command(
        after_help = "Examples:\n  kampung import --dry-run warga.xlsx\n  kampung import warga.csv --confirm 3510155203850001"
    )]
    Import(cmd::import::Args),
    /// Write this node's residents as CSV or Excel (the columns of `import`),
    /// or a document as the raw Automerge file (`--automerge`).
    #[command(
        after_help = "Examples:\n  kampung export --out warga.xlsx\n  kampung export | head\n  kampung export --automerge 35.10.15.2012 --out desa.automerge\n  kampung export --automerge --all --out dokumen/"
    )]
    Export(cmd::export::Args),
    /// Register, correct, move out or mark deceased one resident.
    #[command(subcommand)]
    Resident(cmd::resident::Command),
    /// The verdict for a NIK, from the local index.
    #[command(
        after_help = "Examples:\n  kampung lookup \"3510 1552 0385 0001\"\n  kampung lookup 3510155203850001 --json"
    )]
    Lookup(cmd::lookup::Args),
    /// Generate a deterministic synthetic population as CSV.
    #[command(
        after_help = "Examples:\n  kampung gen --village 35.10.15.2012 --residents 500 --out warga.csv\n  kampung gen --regency --out regency/"
    )]
    Gen(cmd::gen::Args),
    /// Banyuwangi's 217 villages and their codes (`--search glagah`).
    #[command(after_help = "Example:\n  kampung villages --search glagah")]
    Villages(cmd::villages::Args),
    /// Check or rebuild the derived index.
    #[command(subcommand)]
    Index(cmd::index::Command),
    /// Run the node: join the mesh and serve the API until Ctrl-C.
    #[command(
        after_help = "Examples:\n  kampung run --listen /ip4/0.0.0.0/tcp/4001 --api 127.0.0.1:8080\n  kampung run --config /etc/kampung/kampung.toml"
    )]
    Run(cmd::run::Args),
    /// Show the running node's documents, freshness and mesh state.
    #[command(after_help = "Examples:\n  kampung status\n  kampung status --json")]
    Status(cmd::status::Args),
    /// Show the running node's peers.
    #[command(after_help = "Example:\n  kampung peers --json")]
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
    /// Write a backup of this node (running or not) to a file.
    #[command(
        after_help = "Examples:\n  kampung backup --out /var/backups/kampung/desa-$(date +%F).tar\n  kampung --data /var/lib/kampung backup --out desa.tar"
    )]
    Backup(cmd::backup::BackupArgs),
    /// On a stopped node, after a backup: take out every stored change the
    /// audit refuses (and what depends on them), rebuild the index, audit.
    #[command(
        after_help = "Examples:\n  kampung repair\n  kampung repair --backup /var/backups/kampung/before-repair.tar"
    )]
    Repair(cmd::repair::RepairArgs),
    /// On a stopped node whose store an earlier kampung wrote: back the
    /// data directory up, move the store to this version's layout, and
    /// count every village's residents before and after.
    #[command(
        after_help = "Examples:\n  kampung migrate\n  kampung migrate --backup /var/backups/kampung/before-upgrade.tar"
    )]
    Migrate(cmd::migrate::MigrateArgs),
    /// Restore a backup into a new data directory (--data; it must be empty).
    #[command(
        after_help = "Example:\n  kampung --data /var/lib/kampung restore desa-2026-12-01.tar\n  kampung run   # catches up from its peers"
    )]
    Restore(cmd::backup::RestoreArgs),
    /// Check a configuration file without starting the node.
    #[command(subcommand)]
    Config(cmd::config::Command),
    /// Print the shell completion script (the package installs bash's, zsh's and fish's).
    #[command(
        after_help = "Examples:\n  kampung completions bash > /etc/bash_completion.d/kampung\n  kampung completions zsh > ~/.zfunc/_kampung"
    )]
    Completions(cmd::manual::CompletionsArgs),
    /// Write the man pages: kampung(1) and one page per command.
    #[command(after_help = "Example:\n  kampung manpages --out /usr/local/share/man/man1")]
    Manpages(cmd::manual::ManpagesArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Run(_)) {
        kampung_node::process::restart_with_allocator_settings();
    }
    init_logs(cli.log_format);
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
        Command::Config(c) => cmd::config::run(c),
        Command::Backup(a) => cmd::backup::backup(&data, a),
        Command::Restore(a) => cmd::backup::restore_cmd(&data, a),
        Command::Repair(a) => cmd::repair::run(&data, a),
        Command::Migrate(a) => cmd::migrate::run(&data, a),
        Command::Completions(a) => cmd::manual::completions(Cli::command(), a),
        Command::Manpages(a) => cmd::manual::manpages(Cli::command(), a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to standard error: KAMPUNG_LOG, else the usual RUST_LOG, else
/// warnings; times in UTC (RFC 3339, `Z`); colours only on a terminal (a
/// log file or journald gets plain text).
fn init_logs(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("KAMPUNG_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,libp2p_kad=error"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => logs.json().with_ansi(false).init(),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every command a person can run, with its path (`kampung user add`).
    fn leaves(c: &clap::Command, path: String, out: &mut Vec<(String, clap::Command)>) {
        if c.get_subcommands().next().is_none() {
            out.push((path.clone(), c.clone()));
        }
        // (clap's own `help` subcommands aside)
        for s in c.get_subcommands().filter(|s| s.get_name() != "help") {
            leaves(s, format!("{path} {}", s.get_name()), out);
        }
    }

    /// Words of a shell command line: split on blanks; double quotes and
    /// `$(...)` kept together.
    fn words(line: &str) -> Vec<String> {
        let (mut out, mut word, mut quoted, mut depth) = (Vec::new(), String::new(), false, 0);
        for c in line.chars() {
            match c {
                '"' => quoted = !quoted,
                '(' if word.ends_with('$') => {
                    depth += 1;
                    word.push(c);
                }
                ')' if depth > 0 => {
                    depth -= 1;
                    word.push(c);
                }
                c if c.is_whitespace() && !quoted && depth == 0 => {
                    if !word.is_empty() {
                        out.push(std::mem::take(&mut word));
                    }
                }
                c => word.push(c),
            }
        }
        if !word.is_empty() {
            out.push(word);
        }
        out
    }

    /// A node's peer id, for the runbooks' placeholders.
    const PEER: &str = "12D3KooWQYwcYediWA1cKkTnHCocHhSw8rcuoJF4zBokVqiWzqRy";

    /// Every `kampung` command of the operators' runbooks is one this
    /// program accepts, with the flags it has.
    #[test]
    fn operations_runbook_commands_parse() {
        let doc = include_str!("../../docs/operations.md");
        let mut in_block = false;
        let mut checked = 0;
        for line in doc.lines() {
            if line.starts_with("```") {
                in_block = !in_block;
                continue;
            }
            if !in_block {
                continue;
            }
            // After `sudo -u kampung` (or a crontab's schedule before it);
            // without a comment at the end.
            const AS_KAMPUNG: &str = "sudo -u kampung ";
            let line = match line.find(AS_KAMPUNG) {
                Some(i) => &line[i + AS_KAMPUNG.len()..],
                None => line,
            };
            let Some(command) = line.strip_prefix("kampung ") else {
                continue;
            };
            let command = command.split(" #").next().unwrap_or_default();
            // The runbooks' placeholders, as an operator fills them in.
            let filled = command
                .replace("OLDPEER", PEER)
                .replace("PEER", PEER)
                .replace("CODE", "35.10.15.2012");
            let mut args = vec!["kampung".to_string()];
            args.extend(words(&filled));
            if let Err(e) = <super::Cli as clap::Parser>::try_parse_from(&args) {
                if !matches!(e.kind(), clap::error::ErrorKind::DisplayVersion) {
                    panic!("docs/operations.md: `kampung {command}`:\n{e}");
                }
            }
            checked += 1;
        }
        assert!(
            checked >= 20,
            "only {checked} commands found in docs/operations.md"
        );
    }

    #[test]
    fn every_flag_says_what_it_does_and_every_command_shows_an_example() {
        let mut cli = super::Cli::command();
        cli.build();
        let mut all = Vec::new();
        leaves(&cli, "kampung".into(), &mut all);
        let mut missing = Vec::new();
        for (path, c) in &all {
            if c.get_about().is_none() {
                missing.push(format!("{path}: no description"));
            }
            for a in c.get_arguments() {
                let id = a.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{path}: --{id} has no help text"));
                }
            }
            let after = c
                .get_after_help()
                .map(ToString::to_string)
                .unwrap_or_default();
            if !after.contains("Example") {
                missing.push(format!("{path}: no example"));
            }
        }
        assert!(missing.is_empty(), "{}", missing.join("\n"));
    }
}
