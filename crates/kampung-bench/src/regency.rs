//! The whole regency (~1.7 M residents in 217 villages) imported with
//! `write_many` into a fresh sled directory.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use kampung_store::storage::sled_storage::SledStorage;
use kampung_store::{Registry, Storage};
use serde::{Deserialize, Serialize};

use crate::measure::{self, DiskUsage};

#[derive(Debug, Clone, clap::Args)]
pub struct RegencyArgs {
    /// Seed of the synthetic population.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Sled directory to import into (must not exist or be empty); kept
    /// afterwards so that `open DIR` can reuse it. Default: a temporary
    /// directory, removed at the end.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Threads building Automerge changes (default: the available cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Import only the first N villages (a quick smoke run; default: all 217).
    #[arg(long)]
    pub villages: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegencyResult {
    pub seed: u64,
    pub villages: usize,
    pub residents: usize,
    pub threads: usize,
    /// Generating the synthetic residents (not part of the import).
    pub generate_s: f64,
    /// `write_many`, durable and with the index checkpointed.
    pub import_s: f64,
    /// CPU time of the import, all threads: `import_cpu_s / import_s` is
    /// how many cores it actually got.
    pub import_cpu_s: f64,
    pub residents_per_s: f64,
    /// Recursive size of the directory after the registry is dropped.
    pub disk: DiskUsage,
    pub disk_bytes_per_resident: f64,
    pub sled_size_on_disk: u64,
    /// Kept directory, if any.
    pub dir: Option<PathBuf>,
}

pub fn run(args: &RegencyArgs) -> anyhow::Result<RegencyResult> {
    match &args.dir {
        Some(dir) => {
            let fresh = !dir.exists()
                || std::fs::read_dir(dir)
                    .with_context(|| format!("listing {}", dir.display()))?
                    .next()
                    .is_none();
            anyhow::ensure!(
                fresh,
                "{} is not empty: the regency import needs a fresh directory",
                dir.display()
            );
            let mut r = import(args, dir)?;
            r.dir = Some(dir.clone());
            Ok(r)
        }
        None => {
            let tmp = tempfile::tempdir().context("creating a temporary directory")?;
            import(args, &tmp.path().join("registry"))
        }
    }
}

fn import(args: &RegencyArgs, dir: &Path) -> anyhow::Result<RegencyResult> {
    let threads = args.threads.unwrap_or_else(measure::cores).max(1);
    eprintln!("regency: generating residents (seed {})", args.seed);
    let t = Instant::now();
    let batches: Vec<_> = kampung_gen::regency_residents(args.seed)
        .take(args.villages.unwrap_or(usize::MAX))
        .collect();
    let generate_s = t.elapsed().as_secs_f64();
    let villages = batches.len();
    let residents: usize = batches.iter().map(|(_, r)| r.len()).sum();
    eprintln!(
        "regency: {residents} residents in {villages} villages generated in {generate_s:.1} s; importing on {threads} threads"
    );

    let mut reg = Registry::open(SledStorage::open(dir)?, crate::actor(), crate::THIS_YEAR)?;
    let mut done = 0usize;
    let cpu = measure::cpu_seconds()?;
    let t = Instant::now();
    reg.write_many(
        batches.into_iter(),
        threads,
        measure::now_ms(),
        &mut |_, _| {
            done += 1;
            if done % 25 == 0 {
                eprintln!(
                    "regency: {done}/{villages} villages written, {:.0} s",
                    t.elapsed().as_secs_f64()
                );
            }
        },
    )?;
    let import_s = t.elapsed().as_secs_f64();
    let import_cpu_s = measure::cpu_seconds()? - cpu;
    anyhow::ensure!(
        reg.niks() == residents,
        "the index holds {} NIKs after importing {residents} residents",
        reg.niks()
    );
    let sled_size_on_disk = reg.storage().size_on_disk()?;
    drop(reg);
    let disk = measure::dir_size(dir)?;
    eprintln!(
        "regency: imported in {import_s:.1} s (CPU {import_cpu_s:.1} s), {:.1} MB on disk",
        measure::mb(disk.apparent)
    );
    Ok(RegencyResult {
        seed: args.seed,
        villages,
        residents,
        threads,
        generate_s,
        import_s,
        import_cpu_s,
        residents_per_s: residents as f64 / import_s,
        disk,
        disk_bytes_per_resident: disk.apparent as f64 / residents as f64,
        sled_size_on_disk,
        dir: None,
    })
}

pub fn print(r: &RegencyResult) {
    println!(
        "regency (seed {}): {} residents in {} villages",
        r.seed, r.residents, r.villages
    );
    println!("  generation: {:.1} s", r.generate_s);
    println!(
        "  write_many on {} threads: {:.1} s, {:.0} residents/s; CPU {:.1} s ({:.2} cores busy, {:.0} CPU-µs/resident)",
        r.threads,
        r.import_s,
        r.residents_per_s,
        r.import_cpu_s,
        r.import_cpu_s / r.import_s,
        r.import_cpu_s * 1e6 / r.residents as f64
    );
    println!(
        "  disk: {:.1} MB ({:.1} MB allocated), {:.0} bytes/resident; sled size_on_disk {:.1} MB",
        measure::mb(r.disk.apparent),
        measure::mb(r.disk.allocated),
        r.disk_bytes_per_resident,
        measure::mb(r.sled_size_on_disk)
    );
    if let Some(dir) = &r.dir {
        println!("  kept in {}", dir.display());
    }
}
