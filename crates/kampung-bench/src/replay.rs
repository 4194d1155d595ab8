//! The auditor's figures on a node holding the regency: what a crossing
//! carries for the replay of its verdict (bytes per crossing over a day),
//! how long replaying every crossing takes, and how long one person's
//! history takes.
//!
//! A checkpoint's days are simulated on a regency store (`kampung-bench
//! regency --dir`, or a fresh one): each crossing's verdict computed from
//! the index as the node computes it, logged with its basis and the
//! registry state it was computed on, while clerks edit records in a set
//! of busy villages (each edit makes the next crossing name a new state).
//! `scripts/bench-replay` writes the table (`BENCHMARKS-replay.md`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use automerge::Automerge;
use kampung_core::{Policy, Resident, Sex, VillageCode};
use kampung_store::crossing::{Crossing, CrossingLog, Decision};
use kampung_store::storage::sled_storage::SledStorage;
use kampung_store::{DocId, Registry, ReplayQuery, Storage};
use serde::{Deserialize, Serialize};
use time::{Date, Month};

use crate::measure::{self, nanos, Percentiles, Rng};

const PEER: &str = "12D3KooWKetapangHarbourCheckpointReplay00000000000001";
const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// A regency store made by `kampung-bench regency --dir DIR` with the
    /// same seed. The crossings and edits are added to it. Default: the
    /// regency imported afresh into a temporary directory.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Seed of the population (as the store was made with) and of the
    /// simulated day.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Villages of a fresh regency (default all 217; fewer for a quick run).
    #[arg(long)]
    pub villages: Option<usize>,
    /// Days simulated.
    #[arg(long, default_value_t = 10)]
    pub days: usize,
    /// Crossings per day.
    #[arg(long, default_value_t = 10_000)]
    pub per_day: usize,
    /// A clerk's edit every this many crossings.
    #[arg(long, default_value_t = 5)]
    pub edit_every: usize,
    /// Villages whose clerks edit (their documents stay loaded).
    #[arg(long, default_value_t = 24)]
    pub busy_villages: usize,
    /// People whose history is timed.
    #[arg(long, default_value_t = 20)]
    pub histories: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplayResult {
    pub villages: usize,
    pub residents: usize,
    pub crossings: usize,
    pub edits: usize,
    pub per_day: usize,
    /// The first day's crossing log, saved compressed: with basis, state
    /// and policy, and the same crossings without them.
    pub day_log_bytes: u64,
    pub day_log_bare_bytes: u64,
    /// The same as the sum of each change's bytes (what the wire carries).
    pub day_changes_bytes: u64,
    pub day_changes_bare_bytes: u64,
    /// Registry states the first day's crossings rest on.
    pub day_states: usize,
    pub replay_s: f64,
    pub replay_cpu_s: f64,
    pub replay_matched: usize,
    pub replay_mismatches: usize,
    pub history: Percentiles,
    pub history_changes_max: usize,
}

impl ReplayResult {
    pub fn extra_saved_per_crossing(&self) -> f64 {
        (self.day_log_bytes as f64 - self.day_log_bare_bytes as f64) / self.per_day.max(1) as f64
    }

    pub fn extra_changes_per_crossing(&self) -> f64 {
        (self.day_changes_bytes as f64 - self.day_changes_bare_bytes as f64)
            / self.per_day.max(1) as f64
    }
}

/// A traveller's NIK: a resident's, a Jember or a Bali one, or a typo.
fn traveller(rng: &mut Rng, sample: &[Resident]) -> String {
    let birth = Date::from_calendar_date(1970 + rng.below(40) as i32, Month::March, 1)
        .unwrap_or(Date::MIN)
        + time::Duration::days(rng.below(28) as i64);
    let sex = if rng.below(2) == 0 {
        Sex::Male
    } else {
        Sex::Female
    };
    let serial = 1 + rng.below(9_000) as u16;
    match rng.below(100) {
        0..55 => sample[rng.below(sample.len() as u64) as usize]
            .nik
            .to_string(),
        55..90 => kampung_core::nik::compose(3509, 15, birth, sex, serial),
        90..95 => kampung_core::nik::compose(5171, 1, birth, sex, serial),
        _ => format!("3510{:011}", rng.below(100_000_000_000)),
    }
}

fn sizes(doc: &Automerge) -> (u64, u64) {
    let changes: u64 = doc
        .get_changes(&[])
        .iter()
        .map(|c| c.raw_bytes().len() as u64)
        .sum();
    (doc.save().len() as u64, changes)
}

pub fn run(args: &ReplayArgs) -> anyhow::Result<ReplayResult> {
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => {
            let dir = tmp.path().join("regency");
            crate::regency::run(&crate::regency::RegencyArgs {
                seed: args.seed,
                dir: Some(dir.clone()),
                threads: None,
                villages: args.villages,
            })?;
            dir
        }
    };
    let mut reg = Registry::open(SledStorage::open(&dir)?, crate::actor(), crate::THIS_YEAR)?;
    let villages = reg.villages();
    anyhow::ensure!(!villages.is_empty(), "{} holds no village", dir.display());
    reg.set_doc_cache(args.busy_villages.max(8) + 8);
    // A sample of the people (every 50th), and the busy villages' people.
    eprintln!("replay: generating the population (seed {})", args.seed);
    let mut sample = Vec::new();
    let mut busy: Vec<(VillageCode, Vec<Resident>)> = Vec::new();
    let mut seen = 0;
    for (code, people) in kampung_gen::regency_residents(args.seed) {
        if seen == villages.len() {
            break;
        }
        if !villages.contains(&code) {
            continue;
        }
        seen += 1;
        sample.extend(people.iter().step_by(50).cloned());
        if busy.len() < args.busy_villages && villages.len() > busy.len() {
            busy.push((code, people));
        }
    }
    anyhow::ensure!(!sample.is_empty(), "no resident of the seed is held");
    let residents = reg.niks();
    let policy = Policy::default();
    let mut rng = Rng::new(args.seed);
    // Day 0 is the first day of a month, so it is whole in that month's log.
    let base = kampung_core::LogMonth::of_ms(measure::now_ms() - args.days as i64 * DAY_MS)
        .context("the clock is not a date")?
        .start_ms();
    let mut edits = 0usize;
    let mut bare = CrossingLog::genesis(PEER);
    let bare_actor = automerge::ActorId::from(vec![2u8; 32]);
    let (mut day_log, mut day_changes, mut day_states) = (0, 0, 0);
    let t = Instant::now();
    for day in 0..args.days {
        reg.begin_group();
        for i in 0..args.per_day {
            let at_ms = base + day as i64 * DAY_MS + (i as i64 * DAY_MS) / args.per_day as i64;
            if i % args.edit_every.max(1) == 0 {
                let (code, people) = &busy[rng.below(busy.len() as u64) as usize];
                let mut r = people[rng.below(people.len() as u64) as usize].clone();
                r.full_name = format!("{} {}", r.full_name, ["Putra", "Putri"][edits % 2]);
                reg.write(*code, std::slice::from_ref(&r), at_ms, &mut |_| {})?;
                edits += 1;
                // A clerk's edit is durable (and in the index) on its own.
                reg.commit_group()?;
                reg.begin_group();
            }
            let nik = traveller(&mut rng, &sample);
            let checked = reg.lookups().read().check_verdict(&nik, &policy, |_| None);
            let crossing = Crossing {
                officer: Some("Bripka Agus".into()),
                ..Crossing::of_check(at_ms, &nik, &checked, Decision::AllowedIn, policy.version)
            };
            reg.record_check_on(PEER, &crossing, None, &checked.state, at_ms)?;
            if day == 0 {
                let mut plain = crossing;
                plain.basis.clear();
                plain.policy = None;
                bare.record(&bare_actor, &plain)?;
            }
            if i % 200 == 199 {
                reg.commit_group()?;
                reg.begin_group();
            }
        }
        reg.commit_group()?;
        if day == 0 {
            // The first day's crossings, in the log of their month.
            let month = kampung_core::LogMonth::of_ms(base).context("the clock is not a date")?;
            let stored = reg
                .storage()
                .load(&DocId::crossings(PEER, month))?
                .context("the crossing log was not stored")?;
            let mut doc = match &stored.snapshot {
                Some(s) => Automerge::load(s)?,
                None => CrossingLog::genesis_in(PEER, Some(month)).into_automerge(),
            };
            for (_, c) in &stored.chunks {
                doc.load_incremental(c)?;
            }
            (day_log, day_changes) = sizes(&doc);
            day_states = kampung_store::crossing::states::deltas(&doc)?.len();
        }
        eprintln!(
            "replay: day {} logged ({} crossings, {edits} edits, {:.0} s)",
            day + 1,
            (day + 1) * args.per_day,
            t.elapsed().as_secs_f64()
        );
    }
    let (bare_log, bare_changes) = sizes(bare.automerge());

    eprintln!("replay: replaying every crossing");
    let cpu = measure::cpu_seconds()?;
    let t = Instant::now();
    let policies = |v: u64| (v == 0).then(Policy::default);
    let report = reg.replay(&ReplayQuery::default(), &policies)?;
    let replay_s = t.elapsed().as_secs_f64();
    let replay_cpu_s = measure::cpu_seconds()? - cpu;
    if let Some(m) = report.mismatches.first() {
        eprintln!("replay: first mismatch: {m:?}");
    }

    eprintln!("replay: timing {} histories", args.histories);
    let mut times = Vec::new();
    let mut history_changes_max = 0;
    for _ in 0..args.histories {
        let (code, people) = &busy[rng.below(busy.len() as u64) as usize];
        let r = &people[rng.below(people.len() as u64) as usize];
        // Out of the document cache, as an auditor's first question finds it.
        reg.set_doc_cache(1);
        reg.set_doc_cache(args.busy_villages.max(8) + 8);
        let t = Instant::now();
        let h = reg.record_history(*code, r.nik, None, measure::now_ms())?;
        times.push(nanos(t.elapsed()));
        history_changes_max = history_changes_max.max(h.len());
    }
    Ok(ReplayResult {
        villages: villages.len(),
        residents,
        crossings: report.crossings,
        edits,
        per_day: args.per_day,
        day_log_bytes: day_log,
        day_log_bare_bytes: bare_log,
        day_changes_bytes: day_changes,
        day_changes_bare_bytes: bare_changes,
        day_states,
        replay_s,
        replay_cpu_s,
        replay_matched: report.matched,
        replay_mismatches: report.mismatches.len(),
        history: Percentiles::of(times),
        history_changes_max,
    })
}

/// The table of `scripts/bench-replay`.
pub fn print(r: &ReplayResult) {
    println!(
        "Regency store: {} villages, {} residents; {} crossings over {} days ({} a day), {} clerk edits meanwhile.",
        r.villages,
        r.residents,
        r.crossings,
        r.crossings / r.per_day.max(1),
        r.per_day,
        r.edits
    );
    println!();
    println!("| measure | target | result | met |");
    println!("|---|---|---|---|");
    let extra = r.extra_saved_per_crossing();
    println!(
        "| bytes a crossing carries for its replay (basis, state, policy), a day of {} crossings on {} registry states, saved document | ≤ 64 bytes on average | {extra:.1} bytes ({:.1} KB with, {:.1} KB without) | {} |",
        r.per_day,
        r.day_states,
        r.day_log_bytes as f64 / 1e3,
        r.day_log_bare_bytes as f64 / 1e3,
        if extra <= 64.0 { "yes" } else { "**no**" }
    );
    println!(
        "| the same, as changes on the wire (uncompressed) | — | {:.1} bytes ({:.1} KB with, {:.1} KB without) | — |",
        r.extra_changes_per_crossing(),
        r.day_changes_bytes as f64 / 1e3,
        r.day_changes_bare_bytes as f64 / 1e3
    );
    let per_100k = r.replay_s * 100_000.0 / r.crossings.max(1) as f64;
    println!(
        "| `audit replay` of {} crossings | 100,000 in ≤ 60 s | {:.1} s (CPU {:.1} s; {per_100k:.1} s per 100,000); {} matched, {} mismatches | {} |",
        r.crossings,
        r.replay_s,
        r.replay_cpu_s,
        r.replay_matched,
        r.replay_mismatches,
        if per_100k <= 60.0 && r.replay_mismatches == 0 { "yes" } else { "**no**" }
    );
    println!(
        "| `audit history` of one NIK (document loaded from disk; up to {} changes), p50 / max of {} | ≤ 1 s | {:.0} ms / {:.0} ms | {} |",
        r.history_changes_max,
        r.history.n,
        r.history.p50_us / 1e3,
        r.history.max_us / 1e3,
        if r.history.max_us <= 1e6 { "yes" } else { "**no**" }
    );
}
