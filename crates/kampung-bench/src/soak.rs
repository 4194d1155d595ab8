//! The soak: many durable single-record edits to one imported village (what
//! a village office does all day, for years), or crossings logged one by one
//! (a checkpoint, a traveller at a time), sampling the store's disk and the
//! process's memory as they go. `scripts/bench-soak` writes the table
//! (`BENCHMARKS-soak.md`) and the curve (`docs/soak.png`).

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use kampung_core::{Resident, VillageCode};
use kampung_store::crossing::{Crossing, Decision};
use kampung_store::storage::sled_storage::SledStorage;
use kampung_store::Registry;
use serde::{Deserialize, Serialize};

use crate::measure::{self, nanos, Percentiles};

#[derive(Debug, Clone, clap::Args)]
pub struct SoakArgs {
    /// What each write is: `edit` (a resident's name corrected) or `crossing`.
    #[arg(long, default_value = "edit")]
    pub kind: Kind,
    /// Durable writes in all.
    #[arg(long, default_value_t = 100_000)]
    pub writes: usize,
    /// Take a sample of disk and memory every this many writes.
    #[arg(long, default_value_t = 2_000)]
    pub every: usize,
    /// Residents imported first.
    #[arg(long, default_value_t = 8_000)]
    pub residents: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where to write the samples as CSV.
    #[arg(long)]
    pub csv: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
pub enum Kind {
    Edit,
    Crossing,
}

/// The state after `writes` writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sample {
    pub writes: usize,
    pub elapsed_s: f64,
    /// Sum of file lengths of the sled directory / blocks allocated.
    pub disk_apparent: u64,
    pub disk_allocated: u64,
    pub rss: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SoakResult {
    pub kind: Kind,
    pub residents: usize,
    pub writes: usize,
    pub samples: Vec<Sample>,
    /// Disk right after the import (before any write).
    pub disk_start: u64,
    /// (last − first sample) / writes: what a write costs in the long run.
    pub bytes_per_write: f64,
    /// RSS at the end against the sample at 10 % (after warm-up).
    pub rss_growth_after_warmup: f64,
    pub latency: Percentiles,
}

/// A sled store at `path` holding one imported village of `residents`
/// (Kampunganyar's code), its writes signed by `signer` if given.
pub fn imported_village(
    path: &std::path::Path,
    residents: usize,
    seed: u64,
    signer: Option<kampung_mesh::identity::Keypair>,
) -> anyhow::Result<(
    VillageCode,
    Vec<kampung_core::Resident>,
    Registry<SledStorage>,
)> {
    let code = VillageCode::parse("35.10.15.2012").map_err(|e| anyhow::anyhow!("{e}"))?;
    let records = kampung_gen::village_residents(code, residents.max(1), seed);
    let mut reg = Registry::open(SledStorage::open(path)?, crate::actor(), crate::THIS_YEAR)?;
    if let Some(signer) = signer {
        reg.set_signer(std::sync::Arc::new(signer));
    }
    reg.write(code, &records, measure::now_ms(), &mut |_| {})?;
    reg.checkpoint()?;
    Ok((code, records, reg))
}

pub fn run(args: &SoakArgs) -> anyhow::Result<SoakResult> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let path = dir.path().join("registry");
    // Signed as a node signs: a node holds each write's signature beside
    // its change, and that is part of what a write costs in memory.
    let signer = kampung_mesh::identity::Keypair::generate_ed25519();
    let (code, records, mut reg) =
        imported_village(&path, args.residents, args.seed, Some(signer))?;
    let disk_start = measure::dir_size(&path)?.apparent;
    let peer = "12D3KooWKetapangHarbourCheckpointSoak0000000000000001";
    let mut samples = Vec::new();
    let mut times = Vec::with_capacity(args.writes);
    let start = Instant::now();
    let every = args.every.max(1);
    let sample = |writes: usize| -> anyhow::Result<Sample> {
        let disk = measure::dir_size(&path)?;
        Ok(Sample {
            writes,
            elapsed_s: start.elapsed().as_secs_f64(),
            disk_apparent: disk.apparent,
            disk_allocated: disk.allocated,
            rss: measure::memory()?.rss,
        })
    };
    samples.push(sample(0)?);
    for i in 0..args.writes {
        let t = Instant::now();
        match args.kind {
            Kind::Edit => {
                let mut r = records[i % records.len()].clone();
                // Alternate, so every write really changes the record.
                if (i / records.len()) % 2 == 0 {
                    r.full_name.push_str(" Putra");
                }
                reg.write(
                    code,
                    std::slice::from_ref(&r),
                    measure::now_ms(),
                    &mut |_| {},
                )?;
            }
            Kind::Crossing => {
                let r = &records[i % records.len()];
                let crossing = allowed_in(r, "Bripka Agus");
                reg.record_check(peer, &crossing, None, measure::now_ms())?;
            }
        }
        times.push(nanos(t.elapsed()));
        if (i + 1) % every == 0 || i + 1 == args.writes {
            let s = sample(i + 1)?;
            eprintln!(
                "soak: {} writes, disk {:.1} MB, RSS {:.1} MB",
                s.writes,
                measure::mb(s.disk_apparent),
                measure::mb(s.rss)
            );
            samples.push(s);
        }
    }
    if let Some(csv) = &args.csv {
        let mut f =
            std::fs::File::create(csv).with_context(|| format!("creating {}", csv.display()))?;
        writeln!(f, "writes,elapsed_s,disk_apparent,disk_allocated,rss")?;
        for s in &samples {
            writeln!(
                f,
                "{},{:.3},{},{},{}",
                s.writes, s.elapsed_s, s.disk_apparent, s.disk_allocated, s.rss
            )?;
        }
    }
    let first = samples.first().map_or(0, |s| s.disk_apparent) as f64;
    let last = samples.last().map_or(0, |s| s.disk_apparent) as f64;
    let warm = samples
        .iter()
        .find(|s| s.writes >= args.writes / 10)
        .map_or(1, |s| s.rss.max(1)) as f64;
    let end_rss = samples.last().map_or(0, |s| s.rss) as f64;
    Ok(SoakResult {
        kind: args.kind,
        residents: records.len(),
        writes: args.writes,
        disk_start,
        bytes_per_write: (last - first) / args.writes.max(1) as f64,
        rss_growth_after_warmup: end_rss / warm - 1.0,
        latency: Percentiles::of(times),
        samples,
    })
}

/// The table of `scripts/bench-soak`.
pub fn print(r: &SoakResult) {
    let what = match r.kind {
        Kind::Edit => "single-record edits of an imported village",
        Kind::Crossing => "crossings logged one by one",
    };
    // sled reclaims its log in bursts: judge by the peak, not the last sample.
    let first = r.samples.first().map_or(0, |s| s.disk_apparent);
    let peak = r.samples.iter().map(|s| s.disk_apparent).max().unwrap_or(0);
    let peak_per_write = peak.saturating_sub(first) as f64 / r.writes.max(1) as f64;
    println!(
        "| {} durable {what} ({} residents) | ≤ 2 KB of disk per write | {:.0} bytes per write at the end, {:.0} at the peak ({:.1} MB -> {:.1} MB, peak {:.1} MB) | {} |",
        r.writes,
        r.residents,
        r.bytes_per_write,
        peak_per_write,
        measure::mb(first),
        measure::mb(r.samples.last().map_or(0, |s| s.disk_apparent)),
        measure::mb(peak),
        if peak_per_write <= 2048.0 { "yes" } else { "**no**" }
    );
    println!(
        "| the same: memory | RSS within 10 % after warm-up | {:+.1} % (10 %: {:.1} MB, end: {:.1} MB) | {} |",
        r.rss_growth_after_warmup * 100.0,
        measure::mb(
            r.samples
                .iter()
                .find(|s| s.writes >= r.writes / 10)
                .map_or(0, |s| s.rss)
        ),
        measure::mb(r.samples.last().map_or(0, |s| s.rss)),
        if r.rss_growth_after_warmup.abs() <= 0.10 { "yes" } else { "**no**" }
    );
    println!(
        "| the same: one durable write, p50 / p99 / max | — | {:.0} µs / {:.0} µs / {:.0} µs | — |",
        r.latency.p50_us, r.latency.p99_us, r.latency.max_us
    );
}

/// The crossing of a resident let in by `officer`, as a checkpoint logs it.
pub(crate) fn allowed_in(r: &Resident, officer: &str) -> Crossing {
    Crossing {
        at_ms: measure::now_ms(),
        nik: r.nik.to_string(),
        verdict: "resident".into(),
        explanation: "WARGA BANYUWANGI".into(),
        decision: Decision::AllowedIn,
        case_id: None,
        officer: Some(officer.into()),
        officer_id: None,
        note: None,
        basis: Vec::new(),
        state: None,
        policy: None,
        found_in: None,
        issued_in: None,
        rule: None,
    }
}
