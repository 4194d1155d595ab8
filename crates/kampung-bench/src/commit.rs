//! Durable single edits under concurrent writers: what a village office with
//! several clerks, or a checkpoint with several gates, asks of its node. Each
//! writer corrects one resident at a time (or logs one crossing) through the
//! store thread, as the API does, and waits until the write is durable; the
//! latency of each write is what a person waits. `scripts/bench-commit`
//! writes the table (`BENCHMARKS-commit.md`).

use std::time::Instant;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::measure::{self, nanos, Percentiles};
use crate::soak::{allowed_in, imported_village, Kind};

#[derive(Debug, Clone, clap::Args)]
pub struct CommitArgs {
    /// What each write is: `edit` (a resident's name corrected) or `crossing`.
    #[arg(long, default_value = "edit")]
    pub kind: Kind,
    /// Writers writing at once, each waiting for its write before the next.
    #[arg(long, default_value_t = 10)]
    pub writers: usize,
    /// Durable writes per writer.
    #[arg(long, default_value_t = 300)]
    pub writes: usize,
    /// Residents imported first.
    #[arg(long, default_value_t = 8_000)]
    pub residents: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Most queued writes made durable by one flush (1: a flush per write).
    #[arg(long, default_value_t = kampung_runtime::store::GROUP_MAX)]
    pub group: usize,
    /// Runs, each on a store of its own (seeds `seed`, `seed + 1`, ...): a
    /// p99 on a shared two-core machine moves from run to run, so the table
    /// gives its spread and how many runs meet the target.
    #[arg(long, default_value_t = 1)]
    pub runs: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommitResult {
    pub kind: Kind,
    pub writers: usize,
    pub writes: usize,
    pub group: usize,
    pub seconds: f64,
    pub latency: Percentiles,
}

pub fn run(args: &CommitArgs) -> anyhow::Result<CommitResult> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    // Signed as a node signs, so each write costs what it costs in a node.
    let signer = kampung_mesh::identity::Keypair::generate_ed25519();
    let (code, records, reg) = imported_village(
        &dir.path().join("registry"),
        args.residents,
        args.seed,
        Some(signer),
    )?;
    let (store, join) = kampung_runtime::store::spawn_store_with(
        reg,
        kampung_runtime::store::accept_all(),
        args.group,
    );
    let writers = args.writers.max(1);
    let peer = "12D3KooWKetapangHarbourCheckpointCommit00000000000001";
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let start = Instant::now();
    let times: Vec<u64> = runtime.block_on(async {
        let mut tasks = Vec::new();
        for w in 0..writers {
            let store = store.clone();
            let records = records.clone();
            let (kind, writes) = (args.kind, args.writes);
            tasks.push(tokio::spawn(async move {
                let mut times = Vec::with_capacity(writes);
                for i in 0..writes {
                    // Each writer its own residents: no two edit one record.
                    let r = &records[(i * writers + w) % records.len()];
                    let t = Instant::now();
                    match kind {
                        Kind::Edit => {
                            let mut r = r.clone();
                            r.full_name
                                .push_str(if i % 2 == 0 { " Putra" } else { " Putri" });
                            store
                                .write(code, vec![r], measure::now_ms(), None)
                                .await
                                .map_err(|e| anyhow::anyhow!("{e}"))??;
                        }
                        Kind::Crossing => {
                            let crossing = allowed_in(r, &format!("Petugas {w}"));
                            store
                                .record_check(
                                    peer.to_string(),
                                    crossing,
                                    None,
                                    None,
                                    measure::now_ms(),
                                )
                                .await
                                .map_err(|e| anyhow::anyhow!("{e}"))??;
                        }
                    }
                    times.push(nanos(t.elapsed()));
                }
                anyhow::Ok(times)
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await??);
        }
        store.stop().await;
        anyhow::Ok(all)
    })?;
    let seconds = start.elapsed().as_secs_f64();
    join.join()
        .map_err(|_| anyhow::anyhow!("the store thread panicked"))??;
    Ok(CommitResult {
        kind: args.kind,
        writers,
        writes: times.len(),
        group: args.group.max(1),
        seconds,
        latency: Percentiles::of(times),
    })
}

/// `args.runs` runs, each on a fresh store.
pub fn run_many(args: &CommitArgs) -> anyhow::Result<Vec<CommitResult>> {
    (0..args.runs.max(1) as u64)
        .map(|i| {
            run(&CommitArgs {
                seed: args.seed + i,
                ..args.clone()
            })
        })
        .collect()
}

/// The p99 target of a durable single write, in microseconds.
const TARGET_P99_US: f64 = 10_000.0;

/// One row of `scripts/bench-commit`'s table: one run, or the spread of several.
pub fn print_many(rs: &[CommitResult]) {
    let [first, ..] = rs else { return };
    if rs.len() == 1 {
        return print(first);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let p99: Vec<f64> = rs.iter().map(|r| r.latency.p99_us).collect();
    let met = p99.iter().filter(|p| **p <= TARGET_P99_US).count();
    let lo = p99.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = p99.iter().copied().fold(0.0, f64::max);
    println!(
        "| {} writers at once, {} durable single writes ({}), {}; {} runs | p99 ≤ 10 ms | p99 {:.1} / {:.1} / {:.1} ms (least / median / most of the runs); p50 {:.1} ms, max {:.1} ms, {:.0} writes/s (medians) | {} of {} runs |",
        first.writers,
        first.writes,
        what(first.kind),
        how(first.group),
        rs.len(),
        lo / 1000.0,
        median(p99.clone()) / 1000.0,
        hi / 1000.0,
        median(rs.iter().map(|r| r.latency.p50_us).collect()) / 1000.0,
        median(rs.iter().map(|r| r.latency.max_us).collect()) / 1000.0,
        median(rs.iter().map(|r| r.writes as f64 / r.seconds.max(1e-9)).collect()),
        if met == rs.len() { format!("yes, {met}") } else { format!("**{met}**") },
        rs.len()
    );
}

fn what(kind: Kind) -> &'static str {
    match kind {
        Kind::Edit => "residents corrected",
        Kind::Crossing => "crossings logged",
    }
}

fn how(group: usize) -> String {
    if group > 1 {
        format!("group commit (≤ {group} writes a flush)")
    } else {
        "a flush per write".to_string()
    }
}

/// One row of `scripts/bench-commit`'s table.
pub fn print(r: &CommitResult) {
    println!(
        "| {} writers at once, {} durable single writes ({}), {} | p99 ≤ 10 ms | {:.0} µs / {:.0} µs / {:.0} µs (p50 / p99 / max); {:.0} writes/s | {} |",
        r.writers,
        r.writes,
        what(r.kind),
        how(r.group),
        r.latency.p50_us,
        r.latency.p99_us,
        r.latency.max_us,
        r.writes as f64 / r.seconds.max(1e-9),
        if r.latency.p99_us <= TARGET_P99_US { "yes" } else { "**no**" }
    );
}
