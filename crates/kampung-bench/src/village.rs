//! One village's full import into a fresh sled directory, as `kampung import`
//! does it: one durable `write` (one Automerge change per resident, flushed
//! before it returns), then a `checkpoint` of the index.

use std::time::Instant;

use anyhow::Context;
use kampung_core::VillageCode;
use kampung_store::storage::sled_storage::SledStorage;
use kampung_store::{DocId, Registry, Storage};
use serde::{Deserialize, Serialize};

use crate::measure::{self, DiskUsage};

#[derive(Debug, Clone, clap::Args)]
pub struct VillageArgs {
    /// Village code to import into.
    #[arg(long, default_value = "35.10.15.2012")]
    pub village: String,
    /// Residents in the village.
    #[arg(long, default_value_t = 8_000)]
    pub residents: usize,
    /// Runs, each on a fresh temporary directory.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Seed of the synthetic population.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VillageRun {
    /// `Registry::write`: until the write is durable.
    pub write_s: f64,
    /// `Registry::checkpoint` after it (persists the index).
    pub checkpoint_s: f64,
    /// Recursive size of the sled directory after the registry is dropped.
    pub disk: DiskUsage,
    /// What sled's own `size_on_disk` said before the drop.
    pub sled_size_on_disk: u64,
    /// Snapshot plus chunks of the village's Automerge document.
    pub doc_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VillageResult {
    pub village: String,
    pub residents: usize,
    pub runs: Vec<VillageRun>,
    /// Median and max of write + checkpoint: what a village office waits for.
    pub median_s: f64,
    pub max_s: f64,
    pub residents_per_s: f64,
    /// Median over runs.
    pub disk_bytes: u64,
    pub disk_bytes_per_resident: f64,
    pub doc_bytes: u64,
    pub doc_bytes_per_resident: f64,
}

pub fn run(args: &VillageArgs) -> anyhow::Result<VillageResult> {
    let code = VillageCode::parse(&args.village)
        .map_err(|e| anyhow::anyhow!("--village {}: {e}", args.village))?;
    let records = kampung_gen::village_residents(code, args.residents, args.seed);
    anyhow::ensure!(
        records.len() == args.residents,
        "{} is not one of Banyuwangi's villages",
        args.village
    );
    let mut runs = Vec::with_capacity(args.runs);
    for i in 0..args.runs.max(1) {
        let dir = tempfile::tempdir().context("creating a temporary directory")?;
        let path = dir.path().join("registry");
        let mut reg = Registry::open(SledStorage::open(&path)?, crate::actor(), crate::THIS_YEAR)?;
        let t = Instant::now();
        let report = reg.write(code, &records, measure::now_ms(), &mut |_| {})?;
        let write_s = t.elapsed().as_secs_f64();
        anyhow::ensure!(
            report.added == records.len(),
            "expected {} residents added, the write reports {report:?}",
            records.len()
        );
        let t = Instant::now();
        reg.checkpoint()?;
        let checkpoint_s = t.elapsed().as_secs_f64();
        let stored = reg
            .storage()
            .load(&DocId::village(code))?
            .context("the village document is not stored after the write")?;
        let doc_bytes = stored.snapshot.as_ref().map_or(0, Vec::len)
            + stored.chunks.iter().map(|(_, c)| c.len()).sum::<usize>();
        let sled_size_on_disk = reg.storage().size_on_disk()?;
        drop(reg);
        let disk = measure::dir_size(&path)?;
        eprintln!(
            "village run {}/{}: write {write_s:.3} s + checkpoint {checkpoint_s:.3} s, {} bytes on disk",
            i + 1,
            args.runs,
            disk.apparent
        );
        runs.push(VillageRun {
            write_s,
            checkpoint_s,
            disk,
            sled_size_on_disk,
            doc_bytes: doc_bytes as u64,
        });
    }
    let totals: Vec<f64> = runs.iter().map(|r| r.write_s + r.checkpoint_s).collect();
    let median_s = measure::median(&totals);
    let max_s = totals.iter().copied().fold(0.0, f64::max);
    let disk: Vec<f64> = runs.iter().map(|r| r.disk.apparent as f64).collect();
    let disk_bytes = measure::median(&disk) as u64;
    let doc_bytes = runs.last().map_or(0, |r| r.doc_bytes);
    let n = records.len() as f64;
    Ok(VillageResult {
        village: code.to_string(),
        residents: records.len(),
        runs,
        median_s,
        max_s,
        residents_per_s: n / median_s,
        disk_bytes,
        disk_bytes_per_resident: disk_bytes as f64 / n,
        doc_bytes,
        doc_bytes_per_resident: doc_bytes as f64 / n,
    })
}

pub fn print(r: &VillageResult) {
    println!(
        "village {} ({} residents), {} runs on fresh sled directories",
        r.village,
        r.residents,
        r.runs.len()
    );
    for (i, run) in r.runs.iter().enumerate() {
        println!(
            "  run {}: write {:.3} s, checkpoint {:.3} s, disk {} bytes (allocated {}), sled size_on_disk {}",
            i + 1,
            run.write_s,
            run.checkpoint_s,
            run.disk.apparent,
            run.disk.allocated,
            run.sled_size_on_disk
        );
    }
    println!(
        "  import (write + checkpoint): median {:.3} s, max {:.3} s, {:.0} residents/s",
        r.median_s, r.max_s, r.residents_per_s
    );
    println!(
        "  disk: {} bytes, {:.0} bytes/resident; Automerge document: {} bytes, {:.1} bytes/resident",
        r.disk_bytes, r.disk_bytes_per_resident, r.doc_bytes, r.doc_bytes_per_resident
    );
}
