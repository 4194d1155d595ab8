//! Open a regency directory in this process, then measure memory and the
//! lookup hot path against the whole regency's index.
//!
//! Each lookup is timed on its own with `Instant` (a batch of one), so the
//! figures include the timer's own cost (reported as `timer_overhead`), the
//! NIK parse, the hash lookup, building the `Verdict` and dropping it: what a
//! checkpoint officer's single query costs, cache misses included.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use kampung_core::{banyuwangi, region, Nik};
use kampung_store::storage::sled_storage::SledStorage;
use kampung_store::Registry;
use serde::{Deserialize, Serialize};

use crate::measure::{self, nanos, Memory, Percentiles, Rng};

#[derive(Debug, Clone, clap::Args)]
pub struct OpenArgs {
    /// A regency directory written by `regency --dir DIR`.
    pub dir: PathBuf,
    /// Lookups to time.
    #[arg(long, default_value_t = 200_000)]
    pub queries: usize,
    /// Seed of the query shuffle.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenResult {
    pub dir: PathBuf,
    /// `SledStorage::open` plus `Registry::open`.
    pub open_s: f64,
    /// `SledStorage::open` alone.
    pub sled_open_s: f64,
    /// After `SledStorage::open`, before `Registry::open`.
    pub memory_sled_only: Memory,
    /// Right after `Registry::open`, before anything else is allocated.
    pub memory: Memory,
    pub niks: usize,
    pub queries: QueryMix,
    /// `Registry::lookup` over the whole mix.
    pub lookup: Percentiles,
    pub lookup_resident: Percentiles,
    pub lookup_non_resident: Percentiles,
    pub lookup_invalid: Percentiles,
    /// `Nik::parse` alone, same strings.
    pub parse: Percentiles,
    /// `std::collections::HashMap<u64, u64>` (SipHash) holding every NIK,
    /// queried with the same NIKs parsed to `u64` beforehand.
    pub std_hashmap: Percentiles,
    /// `hashbrown::HashMap<u64, u64>` (foldhash, what the index uses), same.
    pub hashbrown: Percentiles,
    /// Two back-to-back `Instant::now()` calls.
    pub timer_overhead: Percentiles,
    /// How many of each verdict the lookups returned.
    pub verdicts: Vec<(String, usize)>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct QueryMix {
    pub residents: usize,
    pub non_residents: usize,
    pub invalid: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Resident,
    NonResident,
    Invalid,
}

pub fn run(args: &OpenArgs) -> anyhow::Result<OpenResult> {
    anyhow::ensure!(
        args.dir.is_dir(),
        "{} is not a directory (write one with `kampung-bench regency --dir DIR`)",
        args.dir.display()
    );
    let t = Instant::now();
    let storage = SledStorage::open(&args.dir)?;
    let sled_open_s = t.elapsed().as_secs_f64();
    let memory_sled_only = measure::memory()?;
    let reg = Registry::open(storage, crate::actor(), crate::THIS_YEAR)?;
    let open_s = t.elapsed().as_secs_f64();
    let memory = measure::memory()?;
    let niks = reg.niks();
    anyhow::ensure!(niks > 0, "{} holds no residents", args.dir.display());
    eprintln!(
        "open: {niks} NIKs in {open_s:.2} s, VmRSS {:.0} MB, VmHWM {:.0} MB",
        measure::mb(memory.rss),
        measure::mb(memory.hwm)
    );

    let mut rng = Rng::new(args.seed);
    let all = all_niks(&reg);
    let queries = query_set(&reg, &all, args.queries, &mut rng);
    let mix = QueryMix {
        residents: queries.iter().filter(|q| q.0 == Class::Resident).count(),
        non_residents: queries.iter().filter(|q| q.0 == Class::NonResident).count(),
        invalid: queries.iter().filter(|q| q.0 == Class::Invalid).count(),
    };
    eprintln!(
        "open: timing {} lookups ({} residents, {} non-residents, {} invalid)",
        queries.len(),
        mix.residents,
        mix.non_residents,
        mix.invalid
    );

    // Warm the code paths (not the data: the timed run starts with fresh keys).
    for (_, s) in queries.iter().rev().take(2_000) {
        black_box(reg.lookup(black_box(s)).kind());
    }

    let mut times = Vec::with_capacity(queries.len());
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for (_, s) in &queries {
        let t = Instant::now();
        let kind = black_box(reg.lookup(black_box(s))).kind();
        let d = t.elapsed();
        times.push(nanos(d));
        match kinds.iter_mut().find(|(k, _)| k == kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((kind.to_string(), 1)),
        }
    }
    let of_class = |c: Class| {
        Percentiles::of(
            queries
                .iter()
                .zip(&times)
                .filter(|(q, _)| q.0 == c)
                .map(|(_, &t)| t)
                .collect(),
        )
    };
    let lookup_resident = of_class(Class::Resident);
    let lookup_non_resident = of_class(Class::NonResident);
    let lookup_invalid = of_class(Class::Invalid);
    let lookup = Percentiles::of(times);

    let mut times = Vec::with_capacity(queries.len());
    for (_, s) in &queries {
        let t = Instant::now();
        black_box(Nik::parse(black_box(s), crate::THIS_YEAR).is_ok());
        times.push(nanos(t.elapsed()));
    }
    let parse = Percentiles::of(times);

    // Baselines: the same keys, already numbers, in plain hash maps of the same size.
    let keys: Vec<u64> = queries
        .iter()
        .filter_map(|(_, s)| {
            Nik::parse(s, crate::THIS_YEAR)
                .ok()
                .map(|p| p.nik().as_u64())
        })
        .collect();
    let std_hashmap = {
        let map: std::collections::HashMap<u64, u64> = all.iter().map(|&n| (n, n % 217)).collect();
        time_map(&keys, |k| map.get(&k).copied())
    };
    let hashbrown = {
        let map: hashbrown::HashMap<u64, u64> = all.iter().map(|&n| (n, n % 217)).collect();
        time_map(&keys, |k| map.get(&k).copied())
    };

    let mut times = Vec::with_capacity(100_000);
    for _ in 0..100_000 {
        let t = Instant::now();
        times.push(nanos(black_box(t).elapsed()));
    }
    let timer_overhead = Percentiles::of(times);

    kinds.sort();
    Ok(OpenResult {
        dir: args.dir.clone(),
        open_s,
        sled_open_s,
        memory_sled_only,
        memory,
        niks,
        queries: mix,
        lookup,
        lookup_resident,
        lookup_non_resident,
        lookup_invalid,
        parse,
        std_hashmap,
        hashbrown,
        timer_overhead,
        verdicts: kinds,
    })
}

fn time_map(keys: &[u64], get: impl Fn(u64) -> Option<u64>) -> Percentiles {
    let mut times = Vec::with_capacity(keys.len());
    for &k in keys {
        let t = Instant::now();
        black_box(get(black_box(k)));
        times.push(nanos(t.elapsed()));
    }
    Percentiles::of(times)
}

/// Every NIK in the index, sorted.
fn all_niks<S: kampung_store::Storage>(reg: &Registry<S>) -> Vec<u64> {
    let ordinals: Vec<u16> = banyuwangi::villages().iter().map(|v| v.ordinal).collect();
    let mut all: Vec<u64> = reg
        .lookups()
        .read()
        .index()
        .by_village(&ordinals)
        .into_values()
        .flat_map(|entries| entries.into_iter().map(|(nik, _)| nik))
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// 85% residents drawn from the whole index, 10% valid NIKs that are not in
/// it (issued anywhere in Indonesia, Banyuwangi and Bali included), 5% invalid
/// ones (each rule broken in turn), shuffled.
fn query_set<S: kampung_store::Storage>(
    reg: &Registry<S>,
    all: &[u64],
    n: usize,
    rng: &mut Rng,
) -> Vec<(Class, String)> {
    let non_residents = n / 10;
    let invalid = n / 20;
    let residents = n - non_residents - invalid;
    let mut out = Vec::with_capacity(n);

    let mut picked = all.to_vec();
    rng.shuffle(&mut picked);
    out.extend(
        picked
            .iter()
            .cycle()
            .take(residents)
            .map(|&nik| (Class::Resident, format!("{nik:016}"))),
    );

    // Common origins of travellers first, then anywhere.
    let regencies: Vec<u16> = region::regions().regency_codes().collect();
    let frequent = [3510u16, 3509, 3511, 3578, 5171, 5101, 5103];
    let mut attempts = 0usize;
    let mut made = 0usize;
    while made < non_residents && attempts < non_residents * 100 {
        attempts += 1;
        let regency = if rng.below(2) == 0 {
            frequent[rng.below(frequent.len() as u64) as usize]
        } else {
            regencies[rng.below(regencies.len().max(1) as u64) as usize]
        };
        let day = 1 + rng.below(28) + if rng.below(2) == 0 { 0 } else { 40 };
        let s = format!(
            "{regency:04}{:02}{day:02}{:02}{:02}{:04}",
            1 + rng.below(20),
            1 + rng.below(12),
            rng.below(100),
            1 + rng.below(9_999)
        );
        let Ok(parsed) = Nik::parse(&s, crate::THIS_YEAR) else {
            continue;
        };
        if reg.lookups().read().index().lookup(parsed.nik()).is_none() {
            out.push((Class::NonResident, s));
            made += 1;
        }
    }

    for i in 0..invalid {
        let base = format!("{:016}", picked[rng.below(picked.len() as u64) as usize]);
        let s = match i % 7 {
            0 => base[..15].to_string(),                     // too short
            1 => format!("{}0000", &base[..12]),             // serial 0000
            2 => format!("{}13{}", &base[..8], &base[10..]), // month 13
            3 => format!("{}35{}", &base[..6], &base[8..]),  // day 35
            4 => format!("00{}", &base[2..]),                // unknown province
            5 => format!("{}O{}", &base[..7], &base[8..]),   // letter O for zero
            _ => format!("3500{}", &base[4..]),              // regency 00
        };
        out.push((Class::Invalid, s));
    }
    rng.shuffle(&mut out);
    out
}

pub fn print(r: &OpenResult) {
    println!("open {}", r.dir.display());
    println!(
        "  open: {:.2} s (of which SledStorage::open {:.2} s), {} NIKs; VmRSS {:.1} MB, VmHWM {:.1} MB \
         (after SledStorage::open alone: VmRSS {:.1} MB)",
        r.open_s,
        r.sled_open_s,
        r.niks,
        measure::mb(r.memory.rss),
        measure::mb(r.memory.hwm),
        measure::mb(r.memory_sled_only.rss)
    );
    println!(
        "  queries: {} residents, {} non-residents, {} invalid; verdicts {:?}",
        r.queries.residents, r.queries.non_residents, r.queries.invalid, r.verdicts
    );
    let line = |name: &str, p: &Percentiles| {
        println!(
            "  {name:<28} n={:<7} p50 {:>6.2} µs  p90 {:>6.2}  p99 {:>6.2}  p99.9 {:>7.2}  max {:>8.1}  mean {:>6.2}",
            p.n, p.p50_us, p.p90_us, p.p99_us, p.p999_us, p.max_us, p.mean_us
        );
    };
    line("lookup (all)", &r.lookup);
    line("lookup (residents)", &r.lookup_resident);
    line("lookup (non-residents)", &r.lookup_non_resident);
    line("lookup (invalid)", &r.lookup_invalid);
    line("Nik::parse", &r.parse);
    line("std HashMap<u64,u64>", &r.std_hashmap);
    line("hashbrown HashMap<u64,u64>", &r.hashbrown);
    line("timer overhead", &r.timer_overhead);
}
