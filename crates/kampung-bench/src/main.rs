//! Whole-system benchmarks of the village mesh's store, against the targets of
//! the product brief: a village import, the regency import, opening a regency
//! replica (time, memory), lookup latency from the index, disk use.
//!
//! `kampung-bench all` runs everything and prints one Markdown table;
//! `scripts/bench` builds it in release mode and writes `BENCHMARKS.md`.
//! Criterion micro-benchmarks of the lookup hot path live in
//! `crates/kampung-store/benches/lookup.rs`.

/// The allocator `kampung run` uses (see `node/src/main.rs`; built the
/// same, without transparent huge pages), so that the memory measured here
/// is what a node would hold.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod commit;
mod growth;
mod measure;
mod open;
mod regency;
mod replay;
mod soak;
mod table;
mod village;

use std::process::{Command, Stdio};

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde::{Deserialize, Serialize};

/// Century pivot for NIK birth years, as the generator uses.
const THIS_YEAR: i32 = kampung_gen::THIS_YEAR;

/// The Automerge actor of the benchmark's writes.
fn actor() -> automerge::ActorId {
    automerge::ActorId::from(vec![1u8; 32])
}

#[derive(Debug, Parser)]
#[command(
    name = "kampung-bench",
    about = "Throughput, latency, memory and disk of the village store, against the brief's targets"
)]
struct Cli {
    /// Print the results as JSON instead of text (or, for `all`, instead of the table).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Import one village (8,000 residents by default), durable, into fresh sled directories.
    Village(village::VillageArgs),
    /// Generate the whole regency (~1.7 M residents), then import it with `write_many`.
    Regency(regency::RegencyArgs),
    /// Open a regency directory in this process: open time, memory, lookup latency.
    Open(open::OpenArgs),
    /// Everything above, `open` in a fresh process, as one Markdown table.
    All(AllArgs),
    /// Many durable single writes in a row: disk and memory as they go.
    Soak(soak::SoakArgs),
    /// Durable single writes from several writers at once, through the store thread.
    Commit(commit::CommitArgs),
    /// Days of crossings on a regency store: bytes each carries for its
    /// replay, the replay of all of them, one person's history.
    Replay(replay::ReplayArgs),
    /// A year of a busy checkpoint, monthly logs and the policy's
    /// retention: disk and memory at each month's end.
    Growth(growth::GrowthArgs),
}

#[derive(Debug, Clone, clap::Args)]
struct AllArgs {
    /// Seed of the synthetic population and of the query shuffle.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Runs of the village import.
    #[arg(long, default_value_t = 5)]
    village_runs: usize,
    /// Lookups to time.
    #[arg(long, default_value_t = 200_000)]
    queries: usize,
}

/// Everything `all` measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AllResult {
    machine: measure::Machine,
    village: village::VillageResult,
    regency: regency::RegencyResult,
    open: open::OpenResult,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if matches!(cli.command, Cmd::Soak(_)) {
        // The soak measures a running node's memory: the allocator's
        // settings of `kampung run`.
        kampung_node::process::restart_with_allocator_settings();
    }
    match cli.command {
        Cmd::Village(args) => {
            let r = village::run(&args)?;
            emit(cli.json, &r, village::print)
        }
        Cmd::Regency(args) => {
            let r = regency::run(&args)?;
            emit(cli.json, &r, regency::print)
        }
        Cmd::Open(args) => {
            let r = open::run(&args)?;
            emit(cli.json, &r, open::print)
        }
        Cmd::Soak(args) => {
            let r = soak::run(&args)?;
            emit(cli.json, &r, soak::print)
        }
        Cmd::Commit(args) => {
            let r = commit::run_many(&args)?;
            emit(cli.json, &r, |r| commit::print_many(r))
        }
        Cmd::Replay(args) => {
            let r = replay::run(&args)?;
            emit(cli.json, &r, replay::print)
        }
        Cmd::Growth(args) => {
            let r = growth::run(&args)?;
            emit(cli.json, &r, growth::print)
        }
        Cmd::All(args) => {
            let r = all(&args)?;
            emit(cli.json, &r, |r| print!("{}", table::render(r)))
        }
    }
}

fn emit<T: Serialize>(json: bool, value: &T, text: impl Fn(&T)) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        text(value);
    }
    Ok(())
}

fn all(args: &AllArgs) -> anyhow::Result<AllResult> {
    let machine = measure::machine();
    let village = village::run(&village::VillageArgs {
        village: "35.10.15.2012".to_string(),
        residents: 8_000,
        runs: args.village_runs,
        seed: args.seed,
        edits: 200,
    })?;
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let dir = tmp.path().join("regency");
    let regency = regency::run(&regency::RegencyArgs {
        seed: args.seed,
        dir: Some(dir.clone()),
        threads: None,
        villages: None,
    })?;
    // A fresh process, so that its memory holds only what opening leaves loaded.
    let exe = std::env::current_exe().context("finding this executable")?;
    let out = Command::new(&exe)
        .arg("--json")
        .arg("open")
        .arg(&dir)
        .arg("--queries")
        .arg(args.queries.to_string())
        .arg("--seed")
        .arg(args.seed.to_string())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {} open", exe.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "{} open {} failed: {}",
        exe.display(),
        dir.display(),
        out.status
    );
    let open: open::OpenResult =
        serde_json::from_slice(&out.stdout).context("reading the JSON of `open`")?;
    Ok(AllResult {
        machine,
        village,
        regency,
        open,
    })
}
