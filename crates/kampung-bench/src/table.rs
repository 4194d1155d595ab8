//! The Markdown table of `all`: measurement | target | measured | met?

use std::fmt::Write as _;

use crate::measure::{mb, Percentiles};
use crate::AllResult;

const VILLAGE_TARGET_S: f64 = 1.0;
const REGENCY_TARGET_S: f64 = 60.0;
const LOOKUP_P50_TARGET_US: f64 = 1.0;
const LOOKUP_P99_TARGET_US: f64 = 5.0;
const MEMORY_TARGET_BYTES: u64 = 1_000_000_000;
const DISK_TARGET_BYTES: u64 = 400_000_000;

fn met(ok: bool) -> &'static str {
    if ok {
        "yes"
    } else {
        "**no**"
    }
}

/// 1700313 -> "1,700,313".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn us(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2} µs")
    } else {
        format!("{v:.1} µs")
    }
}

fn p50_p99(p: &Percentiles) -> String {
    format!("{} (p99 {})", us(p.p50_us), us(p.p99_us))
}

pub fn render(r: &AllResult) -> String {
    let m = &r.machine;
    let v = &r.village;
    let g = &r.regency;
    let o = &r.open;
    let mut t = String::new();
    let mut row = |measurement: &str, target: &str, measured: &str, ok: &str| {
        let _ = writeln!(t, "| {measurement} | {target} | {measured} | {ok} |");
    };

    let mut out = String::new();
    let _ = writeln!(
        out,
        "Machine: {} cores (nproc), {}, {:.1} GB RAM, Linux {}; {}. Release build, population seed {}.\n",
        m.cores,
        m.cpu,
        m.memory_bytes as f64 / 1e9,
        m.kernel,
        m.date_utc,
        g.seed
    );
    out.push_str("| measurement | target | measured | met? |\n|---|---|---|---|\n");

    row(
        &format!(
            "Import one {}-resident village, durable (`write` + index `checkpoint`; median of {} runs on fresh sled directories)",
            thousands(v.residents as u64),
            v.runs.len()
        ),
        "≤ 1 s",
        &format!(
            "{:.2} s (max {:.2} s; CPU {:.2} s; {} residents/s)",
            v.median_s,
            v.max_s,
            v.median_cpu_s,
            thousands(v.residents_per_s as u64)
        ),
        met(v.median_s <= VILLAGE_TARGET_S),
    );
    let cores_note = if m.cores == 2 {
        String::new()
    } else {
        format!(" — measured on {} cores", m.cores)
    };
    row(
        &format!(
            "Regency import: {} residents in {} villages (`write_many` on {} threads, durable, index checkpointed)",
            thousands(g.residents as u64),
            g.villages,
            g.threads
        ),
        "≤ 60 s on 2 cores",
        &format!(
            "{:.1} s ({} residents/s; {:.0} CPU-s, {:.2} cores busy on average, {:.0} CPU-µs per resident){cores_note}",
            g.import_s,
            thousands(g.residents_per_s as u64),
            g.import_cpu_s,
            g.import_cpu_s / g.import_s,
            g.import_cpu_s * 1e6 / g.residents as f64
        ),
        met(g.import_s <= REGENCY_TARGET_S),
    );
    let mix = format!(
        "{} NIKs: {} residents, {} non-residents, {} invalid; each lookup timed alone",
        thousands(o.lookup.n as u64),
        thousands(o.queries.residents as u64),
        thousands(o.queries.non_residents as u64),
        thousands(o.queries.invalid as u64)
    );
    row(
        &format!("Verdict from the index, median (`Registry::lookup` on the whole regency; {mix})"),
        "≤ 1 µs",
        &us(o.lookup.p50_us),
        met(o.lookup.p50_us <= LOOKUP_P50_TARGET_US),
    );
    row(
        "Verdict from the index, p99",
        "≤ 5 µs",
        &us(o.lookup.p99_us),
        met(o.lookup.p99_us <= LOOKUP_P99_TARGET_US),
    );
    row(
        "Baseline: `std::collections::HashMap<u64, u64>` holding every NIK, same NIKs pre-parsed, median",
        "—",
        &p50_p99(&o.std_hashmap),
        "—",
    );
    row(
        "Memory (VmRSS) with the whole regency's index loaded, fresh process",
        "≤ 1 GB",
        &format!(
            "{:.0} MB (peak VmHWM {:.0} MB; {} NIKs)",
            mb(o.memory.rss),
            mb(o.memory.hwm),
            thousands(o.niks as u64)
        ),
        met(o.memory.rss <= MEMORY_TARGET_BYTES),
    );
    row(
        "Disk for the whole regency (sled directory, all files)",
        "≤ 400 MB",
        &format!(
            "{:.0} MB ({:.0} MB allocated)",
            mb(g.disk.apparent),
            mb(g.disk.allocated)
        ),
        met(g.disk.apparent <= DISK_TARGET_BYTES),
    );

    // Informational rows.
    row(
        "Open the regency replica (`SledStorage::open` + `Registry::open`: list the documents, load the persisted index)",
        "—",
        &format!("{:.2} s (sled alone {:.2} s)", o.open_s, o.sled_open_s),
        "—",
    );
    row(
        "Memory (VmRSS) after `SledStorage::open`, before `Registry::open`",
        "—",
        &format!("{:.0} MB", mb(o.memory_sled_only.rss)),
        "—",
    );
    row(
        "Disk per resident, whole regency",
        "—",
        &format!("{:.0} bytes", g.disk_bytes_per_resident),
        "—",
    );
    row(
        "Disk per resident, one village imported alone",
        "—",
        &format!(
            "{:.0} bytes ({:.2} MB for {})",
            v.disk_bytes_per_resident,
            mb(v.disk_bytes),
            thousands(v.residents as u64)
        ),
        "—",
    );
    row(
        "Automerge documents of one village as imported (its cards and its details, each one chunk of per-resident changes), per resident",
        "—",
        &format!(
            "{:.1} bytes ({} KB for {})",
            v.doc_bytes_per_resident,
            v.doc_bytes / 1000,
            thousands(v.residents as u64)
        ),
        "—",
    );
    let n = v.residents as f64;
    row(
        "The same village after `Registry::compact` (the cards one compressed snapshot): documents / disk, per resident",
        "—",
        &format!(
            "{:.1} bytes / {:.0} bytes ({} KB / {:.2} MB for {}; compact took {:.2} s)",
            v.compacted_doc_bytes as f64 / n,
            v.compacted_disk_bytes as f64 / n,
            v.compacted_doc_bytes / 1000,
            mb(v.compacted_disk_bytes),
            thousands(v.residents as u64),
            crate::measure::median(&v.runs.iter().map(|r| r.compact_s).collect::<Vec<_>>())
        ),
        "—",
    );
    if let Some(e) = &v.edits {
        row(
            &format!(
                "Correct one resident of an imported {}-resident village (one durable `write` of one record; {} edits, each timed alone): median / p99",
                thousands(v.residents as u64),
                e.edits
            ),
            "—",
            &format!(
                "{:.0} µs / {:.0} µs",
                e.latency.p50_us, e.latency.p99_us
            ),
            "—",
        );
        row(
            "Disk growth per single-record edit (directory after the edits minus after the import)",
            "—",
            &format!(
                "{:.1} KB per edit ({:.2} MB -> {:.2} MB)",
                e.disk_growth_per_edit / 1000.0,
                mb(e.disk_before.apparent),
                mb(e.disk_after.apparent)
            ),
            "—",
        );
    }
    row(
        "Verdict from the index, p90 / p99.9 / max",
        "—",
        &format!(
            "{} / {} / {}",
            us(o.lookup.p90_us),
            us(o.lookup.p999_us),
            us(o.lookup.max_us)
        ),
        "—",
    );
    row(
        "Verdict median by kind: resident / non-resident / invalid",
        "—",
        &format!(
            "{} / {} / {}",
            us(o.lookup_resident.p50_us),
            us(o.lookup_non_resident.p50_us),
            us(o.lookup_invalid.p50_us)
        ),
        "—",
    );
    row("`Nik::parse` alone, median", "—", &p50_p99(&o.parse), "—");
    row(
        "Baseline: `hashbrown::HashMap<u64, u64>` (the index's map type), median",
        "—",
        &p50_p99(&o.hashbrown),
        "—",
    );
    row(
        "Timer overhead (two `Instant::now()` calls), included in every latency above",
        "—",
        &us(o.timer_overhead.p50_us),
        "—",
    );
    row(
        "Generating the synthetic regency (one thread; not part of the import)",
        "—",
        &format!("{:.1} s", g.generate_s),
        "—",
    );

    out.push_str(&t);
    out.push_str(
        "\nMB = 10^6 bytes, GB = 10^9 bytes. Disk sizes are the sum of file lengths in the sled directory \
         after the registry is closed. Latencies are single calls, each timed with `Instant`. \
         CPU time is user + system of all threads (`/proc/self/stat`): well below wall time × cores \
         means other processes had the cores.\n",
    );
    out
}
