//! One village's full import into a fresh sled directory, as `kampung import`
//! does it: one durable `write` (one Automerge change per resident, flushed
//! before it returns), then a `checkpoint` of the index.

use std::time::Instant;

use anyhow::Context;
use kampung_core::{Resident, VillageCode};
use kampung_store::storage::sled_storage::SledStorage;
use kampung_store::{DocId, Registry, Storage};
use serde::{Deserialize, Serialize};

use crate::measure::{self, nanos, DiskUsage, Percentiles};

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
    /// Single-record corrections timed after a separate import (0: none).
    #[arg(long, default_value_t = 200)]
    pub edits: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VillageRun {
    /// `Registry::write`: until the write is durable.
    pub write_s: f64,
    /// CPU time of the write + checkpoint (less than the wall time when
    /// other processes took the cores).
    pub cpu_s: f64,
    /// `Registry::checkpoint` after it (persists the index).
    pub checkpoint_s: f64,
    /// Recursive size of the sled directory after the registry is dropped.
    pub disk: DiskUsage,
    /// What sled's own `size_on_disk` said before the drop.
    pub sled_size_on_disk: u64,
    /// Snapshot plus chunks of the village's Automerge document.
    pub doc_bytes: u64,
    /// Reopen, then `Registry::compact` (load the document, save it as one
    /// compressed snapshot, drop the chunks): not part of the import, it
    /// shows what the same data costs once compacted.
    pub compact_s: f64,
    pub compacted_doc_bytes: u64,
    pub compacted_disk: DiskUsage,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VillageResult {
    pub village: String,
    pub residents: usize,
    pub runs: Vec<VillageRun>,
    /// Median and max of write + checkpoint: what a village office waits for.
    pub median_s: f64,
    pub max_s: f64,
    /// Median CPU seconds of the same.
    pub median_cpu_s: f64,
    pub residents_per_s: f64,
    /// Median over runs.
    pub disk_bytes: u64,
    pub disk_bytes_per_resident: f64,
    pub doc_bytes: u64,
    pub doc_bytes_per_resident: f64,
    /// After `Registry::compact` (median over runs).
    pub compacted_disk_bytes: u64,
    pub compacted_doc_bytes: u64,
    pub edits: Option<Edits>,
}

/// Single-record corrections to an imported village, each its own durable
/// `write` (what a village office does all day).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Edits {
    pub edits: usize,
    pub latency: Percentiles,
    /// Directory size right after the import, and after the edits (closed).
    pub disk_before: DiskUsage,
    pub disk_after: DiskUsage,
    pub disk_growth_per_edit: f64,
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
        let cpu = measure::cpu_seconds()?;
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
        let cpu_s = measure::cpu_seconds()? - cpu;
        let doc_bytes = stored_bytes(&reg, code)?;
        let sled_size_on_disk = reg.storage().size_on_disk()?;
        drop(reg);
        let disk = measure::dir_size(&path)?;

        let mut reg = Registry::open(SledStorage::open(&path)?, crate::actor(), crate::THIS_YEAR)?;
        let t = Instant::now();
        reg.compact(code)?;
        let compact_s = t.elapsed().as_secs_f64();
        let compacted_doc_bytes = stored_bytes(&reg, code)?;
        drop(reg);
        let compacted_disk = measure::dir_size(&path)?;
        eprintln!(
            "village run {}/{}: write {write_s:.3} s + checkpoint {checkpoint_s:.3} s, {} bytes on disk; \
             compacted: {} bytes on disk",
            i + 1,
            args.runs,
            disk.apparent,
            compacted_disk.apparent
        );
        runs.push(VillageRun {
            write_s,
            cpu_s,
            checkpoint_s,
            disk,
            sled_size_on_disk,
            doc_bytes,
            compact_s,
            compacted_doc_bytes,
            compacted_disk,
        });
    }
    let totals: Vec<f64> = runs.iter().map(|r| r.write_s + r.checkpoint_s).collect();
    let median_s = measure::median(&totals);
    let max_s = totals.iter().copied().fold(0.0, f64::max);
    let median_cpu_s = measure::median(&runs.iter().map(|r| r.cpu_s).collect::<Vec<_>>());
    let disk: Vec<f64> = runs.iter().map(|r| r.disk.apparent as f64).collect();
    let disk_bytes = measure::median(&disk) as u64;
    let doc_bytes = runs.last().map_or(0, |r| r.doc_bytes);
    let compacted: Vec<f64> = runs
        .iter()
        .map(|r| r.compacted_disk.apparent as f64)
        .collect();
    let compacted_disk_bytes = measure::median(&compacted) as u64;
    let compacted_doc_bytes = runs.last().map_or(0, |r| r.compacted_doc_bytes);
    let n = records.len() as f64;
    let edits = match args.edits.min(records.len()) {
        0 => None,
        count => Some(edit(code, &records, count)?),
    };
    Ok(VillageResult {
        village: code.to_string(),
        residents: records.len(),
        runs,
        median_s,
        max_s,
        median_cpu_s,
        residents_per_s: n / median_s,
        disk_bytes,
        disk_bytes_per_resident: disk_bytes as f64 / n,
        doc_bytes,
        doc_bytes_per_resident: doc_bytes as f64 / n,
        compacted_disk_bytes,
        compacted_doc_bytes,
        edits,
    })
}

/// Import `records`, then correct the name of `count` of them one write at a time.
fn edit(code: VillageCode, records: &[Resident], count: usize) -> anyhow::Result<Edits> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let path = dir.path().join("registry");
    let mut reg = Registry::open(SledStorage::open(&path)?, crate::actor(), crate::THIS_YEAR)?;
    reg.write(code, records, measure::now_ms(), &mut |_| {})?;
    reg.checkpoint()?;
    drop(reg);
    let disk_before = measure::dir_size(&path)?;

    let mut reg = Registry::open(SledStorage::open(&path)?, crate::actor(), crate::THIS_YEAR)?;
    let mut times = Vec::with_capacity(count);
    for r in records.iter().take(count) {
        let mut corrected = r.clone();
        corrected.full_name.push_str(" Putra");
        let t = Instant::now();
        let report = reg.write(
            code,
            std::slice::from_ref(&corrected),
            measure::now_ms(),
            &mut |_| {},
        )?;
        times.push(nanos(t.elapsed()));
        anyhow::ensure!(
            report.changed == 1,
            "a correction of {} reports {report:?}",
            r.nik
        );
    }
    reg.checkpoint()?;
    drop(reg);
    let disk_after = measure::dir_size(&path)?;
    eprintln!(
        "village: {count} single-record edits, disk {} -> {} bytes",
        disk_before.apparent, disk_after.apparent
    );
    Ok(Edits {
        edits: count,
        latency: Percentiles::of(times),
        disk_before,
        disk_after,
        disk_growth_per_edit: (disk_after.apparent as f64 - disk_before.apparent as f64)
            / count as f64,
    })
}

/// Snapshot plus chunks of a village's stored documents: its cards and
/// its details.
fn stored_bytes<S: Storage>(reg: &Registry<S>, code: VillageCode) -> anyhow::Result<u64> {
    let mut bytes = 0;
    for id in [DocId::card(code), DocId::village(code)] {
        let stored = reg
            .storage()
            .load(&id)?
            .with_context(|| format!("{id} is not stored after the write"))?;
        bytes += stored.snapshot.as_ref().map_or(0, Vec::len)
            + stored.chunks.iter().map(|(_, c)| c.len()).sum::<usize>();
    }
    Ok(bytes as u64)
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
            "  run {}: write {:.3} s, checkpoint {:.3} s, disk {} bytes (allocated {}), sled size_on_disk {}; \
             compact {:.3} s -> document {} bytes, disk {} bytes",
            i + 1,
            run.write_s,
            run.checkpoint_s,
            run.disk.apparent,
            run.disk.allocated,
            run.sled_size_on_disk,
            run.compact_s,
            run.compacted_doc_bytes,
            run.compacted_disk.apparent
        );
    }
    println!(
        "  import (write + checkpoint): median {:.3} s (CPU {:.2} s), max {:.3} s, {:.0} residents/s",
        r.median_s, r.median_cpu_s, r.max_s, r.residents_per_s
    );
    println!(
        "  disk: {} bytes, {:.0} bytes/resident; Automerge document: {} bytes, {:.1} bytes/resident",
        r.disk_bytes, r.disk_bytes_per_resident, r.doc_bytes, r.doc_bytes_per_resident
    );
    println!(
        "  after compact: disk {} bytes, {:.0} bytes/resident; Automerge document {} bytes, {:.1} bytes/resident",
        r.compacted_disk_bytes,
        r.compacted_disk_bytes as f64 / r.residents as f64,
        r.compacted_doc_bytes,
        r.compacted_doc_bytes as f64 / r.residents as f64
    );
    if let Some(e) = &r.edits {
        println!(
            "  {} single-record edits, each a durable write: p50 {:.0} µs, p90 {:.0} µs, p99 {:.0} µs, max {:.0} µs; \
             disk {} -> {} bytes ({:.0} bytes per edit)",
            e.edits,
            e.latency.p50_us,
            e.latency.p90_us,
            e.latency.p99_us,
            e.latency.max_us,
            e.disk_before.apparent,
            e.disk_after.apparent,
            e.disk_growth_per_edit
        );
    }
}
