//! A year of a busy checkpoint: does its node's disk and memory stay
//! bounded? Crossings are logged day after day as the node logs them (the
//! verdict from the index, its basis and registry state, group commits),
//! each month in a log of its own, and at the end of every day the node
//! sweeps what the policy's retention no longer keeps
//! (`Registry::expire`). At each month's end the store's size on disk and
//! the process's memory are sampled. `scripts/bench-growth` writes the
//! table (`BENCHMARKS-growth.md`).

use std::time::Instant;

use anyhow::Context;
use kampung_core::{LogMonth, Policy, Resident};
use kampung_store::crossing::{Crossing, Decision};
use kampung_store::Keep;
use serde::{Deserialize, Serialize};

use crate::measure::{self, Rng};

const PEER: &str = "12D3KooWKetapangHarbourCheckpointGrowth00000000000001";
const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, clap::Args)]
pub struct GrowthArgs {
    /// Days simulated.
    #[arg(long, default_value_t = 365)]
    pub days: usize,
    /// Crossings a day.
    #[arg(long, default_value_t = 3_000)]
    pub per_day: usize,
    /// The policy's retention: months a month's crossings are kept after it
    /// ends (0: for ever, to see the growth without it).
    #[arg(long, default_value_t = 3)]
    pub keep_months: u32,
    /// Residents of the village the travellers come from.
    #[arg(long, default_value_t = 8_000)]
    pub residents: usize,
    /// Of every ten travellers, how many are not residents.
    #[arg(long, default_value_t = 2)]
    pub non_residents_in_ten: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The first simulated day (`2026-01`: the 1st of January 2026, WIB).
    #[arg(long, default_value = "2026-01")]
    pub from: String,
}

/// The node at the end of one simulated month.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MonthSample {
    pub month: String,
    pub crossings_logged: usize,
    /// Crossings and monthly logs the node still holds.
    pub crossings_held: usize,
    pub logs_held: usize,
    /// Of those, the logs in memory.
    pub logs_in_memory: usize,
    pub disk_apparent: u64,
    pub disk_allocated: u64,
    /// At the month's last crossing (its log whole in memory), and after
    /// that day's sweep (measured before anything is read for this row).
    pub rss_full: u64,
    pub rss: u64,
    pub elapsed_s: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GrowthResult {
    pub days: usize,
    pub per_day: usize,
    pub keep_months: u32,
    pub residents: usize,
    pub disk_after_import: u64,
    pub rss_after_import: u64,
    pub logs_dropped: usize,
    pub bytes_dropped: u64,
    pub samples: Vec<MonthSample>,
}

/// A traveller's NIK: a resident's, or (`non_residents_in_ten` of ten) the
/// same digits issued in Kota Denpasar.
fn traveller(rng: &mut Rng, people: &[Resident], non_residents_in_ten: u64) -> String {
    let nik = people[rng.below(people.len() as u64) as usize]
        .nik
        .to_string();
    if rng.below(10) < non_residents_in_ten {
        format!("5171{}", &nik[4..])
    } else {
        nik
    }
}

pub fn run(args: &GrowthArgs) -> anyhow::Result<GrowthResult> {
    let from = LogMonth::parse(&args.from).context("--from is a month: 2026-01")?;
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let path = dir.path().join("registry");
    // Signed as a node signs: each crossing's signature is stored with it.
    let signer = kampung_mesh::identity::Keypair::generate_ed25519();
    let (_, people, mut reg) =
        crate::soak::imported_village(&path, args.residents, args.seed, Some(signer))?;
    let disk_after_import = measure::dir_size(&path)?.apparent;
    let rss_after_import = measure::memory()?.rss;
    let keep = Keep {
        crossing_months: args.keep_months,
        closed_case_days: 0,
    };
    let policy = Policy::default();
    let mut rng = Rng::new(args.seed);
    let start = Instant::now();
    let (mut logged, mut logs_dropped, mut bytes_dropped) = (0usize, 0usize, 0u64);
    let mut samples = Vec::new();
    let base = from.start_ms();
    for day in 0..args.days {
        let day_start = base + day as i64 * DAY_MS;
        reg.begin_group();
        for i in 0..args.per_day {
            let at_ms = day_start + (i as i64 * DAY_MS) / args.per_day.max(1) as i64;
            let nik = traveller(&mut rng, &people, args.non_residents_in_ten);
            let checked = reg.lookups().read().check_verdict(&nik, &policy, |_| None);
            let crossing = Crossing {
                officer: Some("Bripka Agus Santoso".into()),
                officer_id: Some("u-0001".into()),
                ..Crossing::of_check(at_ms, &nik, &checked, Decision::AllowedIn, policy.version)
            };
            reg.record_check_on(PEER, &crossing, None, &checked.state, at_ms)?;
            logged += 1;
            if i % 200 == 199 {
                reg.commit_group()?;
                reg.begin_group();
            }
        }
        reg.commit_group()?;
        let day_end = day_start + DAY_MS;
        let month_ends = LogMonth::of_ms(day_end) != LogMonth::of_ms(day_start);
        let sample = month_ends || day + 1 == args.days;
        let rss_full = if sample { measure::memory()?.rss } else { 0 };
        let expired = reg.expire(day_end, keep, keep)?;
        logs_dropped += expired.crossing_logs;
        bytes_dropped += expired.bytes;
        if sample {
            let rss = measure::memory()?.rss;
            let disk = measure::dir_size(&path)?;
            let s = MonthSample {
                month: LogMonth::of_ms(day_start).map_or_else(String::new, |m| m.to_string()),
                crossings_logged: logged,
                crossings_held: reg.crossings(PEER)?.len(),
                logs_held: reg.crossing_docs(PEER).len(),
                logs_in_memory: reg.logs_in_memory(),
                disk_apparent: disk.apparent,
                disk_allocated: disk.allocated,
                rss_full,
                rss,
                elapsed_s: start.elapsed().as_secs_f64(),
            };
            eprintln!("growth: {}", row(&s));
            samples.push(s);
        }
    }
    Ok(GrowthResult {
        days: args.days,
        per_day: args.per_day,
        keep_months: args.keep_months,
        residents: people.len(),
        disk_after_import,
        rss_after_import,
        logs_dropped,
        bytes_dropped,
        samples,
    })
}

/// The table of `scripts/bench-growth`: one row per simulated month.
pub fn print(r: &GrowthResult) {
    let kept = match r.keep_months {
        0 => "kept for ever".to_string(),
        n => format!("kept {n} month(s) after their month"),
    };
    println!(
        "{} days of {} crossings a day at one checkpoint, crossings {kept}; a village of {} residents \
         (store after its import: {:.1} MB, RSS {:.1} MB).\n",
        r.days,
        r.per_day,
        r.residents,
        measure::mb(r.disk_after_import),
        measure::mb(r.rss_after_import)
    );
    println!("| month | crossings logged | crossings held | monthly logs held (in memory) | store on disk (apparent / allocated) | RSS at the month's end / after its sweep | elapsed |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for s in &r.samples {
        println!("{}", row(s));
    }
    println!(
        "\nMonthly logs dropped by the retention: {} ({:.1} MB stored).",
        r.logs_dropped,
        measure::mb(r.bytes_dropped)
    );
}

/// One month's row of the table (and the progress line).
fn row(s: &MonthSample) -> String {
    format!(
        "| {} | {} | {} | {} ({}) | {:.1} MB / {:.1} MB | {:.1} MB / {:.1} MB | {:.0} s |",
        s.month,
        s.crossings_logged,
        s.crossings_held,
        s.logs_held,
        s.logs_in_memory,
        measure::mb(s.disk_apparent),
        measure::mb(s.disk_allocated),
        measure::mb(s.rss_full),
        measure::mb(s.rss),
        s.elapsed_s
    )
}
