//! What this process and its store use of the machine: CPU time, resident
//! memory, open files (from Linux's `/proc/self`), and the bytes of a
//! directory on disk. Read at each metrics scrape and by the benchmarks.
//! And the allocator's settings a running node starts with
//! ([`restart_with_allocator_settings`]).

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Linux reports CPU time in `USER_HZ` ticks: 100 per second on every
/// architecture it runs on (the value `getconf CLK_TCK` prints).
const USER_HZ: f64 = 100.0;

/// Bytes under a directory, walked recursively (sled keeps several files:
/// the log `db`, `conf`, `snap.*`; its own `size_on_disk` does not see all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskUsage {
    /// Sum of file lengths (`du --apparent-size`).
    pub apparent: u64,
    /// Blocks actually allocated (`du`).
    pub allocated: u64,
}

/// The bytes under `path`. A file or folder that disappears during the walk
/// (sled removes old blobs and snapshots while it runs) counts as gone.
pub fn disk_usage(path: &Path) -> io::Result<DiskUsage> {
    use std::os::unix::fs::MetadataExt;
    let gone = |e: &io::Error| e.kind() == io::ErrorKind::NotFound;
    let mut total = DiskUsage::default();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Err(e) if gone(&e) && dir != path => continue,
            other => other?,
        };
        for entry in entries {
            let meta = match entry.and_then(|e| e.metadata().map(|m| (e, m))) {
                Err(e) if gone(&e) => continue,
                other => other?,
            };
            let (entry, meta) = meta;
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total.apparent += meta.len();
                total.allocated += meta.blocks() * 512;
            }
        }
    }
    Ok(total)
}

/// Resident memory of this process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// `VmRSS`: resident now (bytes).
    pub rss: u64,
    /// `VmHWM`: the peak resident size so far (bytes).
    pub hwm: u64,
}

fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// From `/proc/self/status`.
pub fn memory() -> io::Result<Memory> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let field = |name: &str| -> io::Result<u64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .ok_or_else(|| bad(format!("/proc/self/status has no {name}")))?;
        let kb: u64 = line
            .trim_start_matches(name)
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .map_err(|_| bad(format!("cannot read {line:?}")))?;
        Ok(kb * 1024)
    };
    Ok(Memory {
        rss: field("VmRSS:")?,
        hwm: field("VmHWM:")?,
    })
}

/// CPU time this process has used, user and system (seconds).
pub fn cpu_seconds() -> io::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // The command name (field 2) is in parentheses and may hold spaces:
    // count fields after its closing one. utime and stime are fields 14, 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| bad("/proc/self/stat has no command name".into()))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> io::Result<f64> {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .map(|t| t as f64 / USER_HZ)
            .ok_or_else(|| bad(format!("/proc/self/stat: no field {}", i + 3)))
    };
    // After ')': field 3 is at index 0, so fields 14 and 15 at 11 and 12.
    Ok(ticks(11)? + ticks(12)?)
}

/// Open file descriptors, and the most this process may open.
pub fn open_files() -> io::Result<(u64, Option<u64>)> {
    let open = std::fs::read_dir("/proc/self/fd")?.count() as u64;
    let max = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|soft| soft.parse().ok())
        });
    Ok((open, max))
}

/// How long mimalloc keeps memory it freed before giving it back to the
/// system, for a running node (milliseconds). mimalloc 3 waits 1 s, and
/// only a later free of a whole page looks again: an idle node kept what
/// it freed while starting. At 10 ms (mimalloc 2's delay) an idle node
/// of a 50-node mesh holds 46.7 MB instead of 55.3 MB, with the same CPU
/// and the same verdicts a second (BENCHMARKS-regency-mesh.md).
pub const ALLOC_PURGE_DELAY_MS: &str = "10";

/// mimalloc reads its options from the environment once, when the process
/// starts: `kampung run` (and the soak benchmark, which measures a node's
/// memory) start themselves again with the purge delay set: the same
/// process, arguments and environment otherwise, unless the operator set
/// one. If that fails (the binary was replaced on disk), this returns and
/// the process runs as it is.
pub fn restart_with_allocator_settings() {
    use std::os::unix::process::CommandExt;
    const VAR: &str = "MIMALLOC_PURGE_DELAY";
    if std::env::var_os(VAR).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let mut again = std::process::Command::new(exe);
    if let Some(argv0) = args.next() {
        again.arg0(argv0);
    }
    // Returns only if it could not start.
    let _ = again.args(args).env(VAR, ALLOC_PURGE_DELAY_MS).exec();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_measured() {
        let cpu = cpu_seconds().unwrap();
        // Burn some CPU: the counter never goes back.
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert!(x > 0);
        assert!(cpu_seconds().unwrap() >= cpu);
        let m = memory().unwrap();
        assert!(m.rss > 0 && m.hwm >= m.rss, "{m:?}");
        let (open, max) = open_files().unwrap();
        let file = std::fs::File::open("/proc/self/status").unwrap();
        assert!(open_files().unwrap().0 > open.saturating_sub(1));
        drop(file);
        assert!(max.is_none_or(|m| m >= open), "{open} of {max:?}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a"), [0u8; 1000]).unwrap();
        std::fs::write(dir.path().join("b"), [0u8; 24]).unwrap();
        assert_eq!(disk_usage(dir.path()).unwrap().apparent, 1024);
    }
}
