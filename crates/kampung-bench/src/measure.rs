//! Measuring helpers: disk usage, process memory, latency percentiles, the
//! machine, and a tiny seeded shuffle (so the query set is the same on every run).

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};

pub use kampung_node::process::{DiskUsage, Memory};

/// Bytes under a directory (see [`kampung_node::process::disk_usage`]).
pub fn dir_size(path: &Path) -> anyhow::Result<DiskUsage> {
    kampung_node::process::disk_usage(path).with_context(|| format!("measuring {}", path.display()))
}

/// Resident memory of this process, from `/proc/self/status`.
pub fn memory() -> anyhow::Result<Memory> {
    kampung_node::process::memory().context("reading /proc/self/status")
}

/// Latency distribution of individually timed operations, in microseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Percentiles {
    pub n: usize,
    pub mean_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
}

impl Percentiles {
    /// Nearest-rank percentiles of per-operation times in nanoseconds.
    pub fn of(mut ns: Vec<u64>) -> Percentiles {
        if ns.is_empty() {
            return Percentiles::default();
        }
        ns.sort_unstable();
        let at = |p: f64| {
            let rank = (p * ns.len() as f64).ceil() as usize;
            ns[rank.clamp(1, ns.len()) - 1] as f64 / 1000.0
        };
        Percentiles {
            n: ns.len(),
            mean_us: ns.iter().sum::<u64>() as f64 / ns.len() as f64 / 1000.0,
            p50_us: at(0.50),
            p90_us: at(0.90),
            p99_us: at(0.99),
            p999_us: at(0.999),
            max_us: at(1.0),
        }
    }
}

/// CPU time (user + system, all threads) this process has used, in seconds,
/// from `/proc/self/stat`. Next to wall time it shows how many cores a run
/// really got: on a shared machine the two differ.
pub fn cpu_seconds() -> anyhow::Result<f64> {
    /// `sysconf(_SC_CLK_TCK)`: 100 on every Linux the project targets.
    const TICKS_PER_SECOND: f64 = 100.0;
    let stat = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat")?;
    // The command name may hold spaces: the fields that follow start after its `)`.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("/proc/self/stat has no command name")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| -> anyhow::Result<f64> {
        let v: u64 = fields
            .get(i)
            .with_context(|| format!("/proc/self/stat has no field {}", i + 3))?
            .parse()
            .with_context(|| format!("/proc/self/stat field {} is not a number", i + 3))?;
        Ok(v as f64 / TICKS_PER_SECOND)
    };
    // Fields 14 (utime) and 15 (stime); `rest` starts at field 3.
    Ok(tick(11)? + tick(12)?)
}

pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// What the figures were measured on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub memory_bytes: u64,
    pub date_utc: String,
    pub kernel: String,
}

pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or_else(|| "unknown CPU".to_string(), |(_, v)| v.trim().to_string());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_bytes = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let now = time::OffsetDateTime::now_utc();
    let date_utc = format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute()
    );
    Machine {
        cores: cores(),
        cpu,
        memory_bytes,
        date_utc,
        kernel,
    }
}

/// Cores this process may use (what `nproc` prints).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Unix milliseconds now, by the machine's clock.
pub fn now_ms() -> i64 {
    kampung_core::Clock::now_ms(&kampung_core::SystemClock)
}

/// SplitMix64: a few lines of seeded randomness, enough to shuffle a query set
/// reproducibly without pulling a generator crate into the benchmark.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x6b61_6d70_756e_6721)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}
