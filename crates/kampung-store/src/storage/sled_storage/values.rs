//! Values too large for a small sled page, kept in files of their own.
//!
//! sled 0.34 writes any page larger than a quarter of its log segment
//! (16 KB with our 64 KB segments) to a "blob" file of its own, and a blob
//! whose page is later rewritten is not always removed (sled issue #786,
//! never fixed in 0.34): a checkpoint's month of crossings, compacted every
//! few days into a snapshot of several MB, and index pages over long keys
//! left about 50 MB of dead blobs a month that no sweep gave back
//! (`scripts/bench-growth`). So no page we write grows that large: a value
//! over [`INLINE_MAX`] goes to `values/<id>` (the id from sled's own
//! persistent counter), written and synced before the batch that refers to
//! it, and removed only after the batch that stops referring to it is
//! durable (the next [`Values::remove_released`], called after a flush). A
//! crash in between leaves a file nothing refers to, which the next open
//! removes ([`Values::collect_garbage`]).

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub(super) use super::INLINE_MAX;

/// First byte of a stored value: the bytes follow.
const INLINE: u8 = 0;
/// First byte of a stored value: a file id (8 bytes, big-endian) and the
/// value's length (8 bytes) follow.
const FILE: u8 = 1;
const FILE_REF_LEN: usize = 17;

/// What went wrong reading a stored value; the caller names the document.
#[derive(Debug)]
pub(super) enum ValueError {
    Malformed,
    /// The file is missing, shorter or longer than recorded, or unreadable.
    File {
        path: PathBuf,
        reason: String,
    },
}

impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ValueError::Malformed => write!(f, "a stored value is malformed"),
            ValueError::File { path, reason } => {
                write!(f, "its value file {}: {reason}", path.display())
            }
        }
    }
}

/// The `values` directory of one store.
#[derive(Debug)]
pub(super) struct Values {
    dir: PathBuf,
    /// Files no durable state refers to once the batches written so far are
    /// flushed.
    released: Mutex<Vec<u64>>,
}

impl Values {
    /// The directory under the store at `path`, made (owner-only) if missing.
    pub(super) fn open(path: &Path) -> std::io::Result<Self> {
        let dir = path.join("values");
        std::fs::create_dir_all(&dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(Values {
            dir,
            released: Mutex::new(Vec::new()),
        })
    }

    fn file(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id:016x}"))
    }

    /// The value as sled stores it: inline, or written to a new file (and
    /// synced with its directory entry) whose id `next_id` gives.
    pub(super) fn put(
        &self,
        bytes: &[u8],
        next_id: impl FnOnce() -> Result<u64, String>,
    ) -> Result<Vec<u8>, String> {
        if bytes.len() <= INLINE_MAX {
            let mut v = Vec::with_capacity(bytes.len() + 1);
            v.push(INLINE);
            v.extend_from_slice(bytes);
            return Ok(v);
        }
        let id = next_id()?;
        let path = self.file(id);
        let written = (|| {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut f = options.open(&path)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            std::fs::File::open(&self.dir)?.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&path);
            return Err(format!("writing {}: {e}", path.display()));
        }
        let mut v = Vec::with_capacity(FILE_REF_LEN);
        v.push(FILE);
        v.extend_from_slice(&id.to_be_bytes());
        v.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
        Ok(v)
    }

    /// The file a stored value refers to, if it is kept in one.
    pub(super) fn file_of(stored: &[u8]) -> Option<u64> {
        match stored {
            [FILE, rest @ ..] if rest.len() == FILE_REF_LEN - 1 => {
                Some(u64::from_be_bytes(rest[..8].try_into().ok()?))
            }
            _ => None,
        }
    }

    /// The bytes of a stored value.
    pub(super) fn get(&self, stored: &[u8]) -> Result<Vec<u8>, ValueError> {
        match stored {
            [INLINE, rest @ ..] => Ok(rest.to_vec()),
            [FILE, rest @ ..] if rest.len() == FILE_REF_LEN - 1 => {
                let id =
                    u64::from_be_bytes(rest[..8].try_into().map_err(|_| ValueError::Malformed)?);
                let len =
                    u64::from_be_bytes(rest[8..].try_into().map_err(|_| ValueError::Malformed)?);
                let path = self.file(id);
                let failed = |reason: String| ValueError::File {
                    path: path.clone(),
                    reason,
                };
                // The length first: a damaged or replaced file is not read whole.
                let found = std::fs::metadata(&path)
                    .map_err(|e| failed(e.to_string()))?
                    .len();
                if found != len {
                    return Err(failed(format!(
                        "it holds {found} bytes, not the {len} written"
                    )));
                }
                std::fs::read(&path).map_err(|e| failed(e.to_string()))
            }
            _ => Err(ValueError::Malformed),
        }
    }

    /// `stored` is being replaced or removed by the batch about to be
    /// applied: its file goes once that batch is durable.
    pub(super) fn release(&self, stored: &[u8]) {
        if let Some(id) = Self::file_of(stored) {
            self.lock().push(id);
        }
    }

    /// The files released so far; call [`Values::remove`] with them once a
    /// flush begun after this call has succeeded (or give them back with
    /// [`Values::keep_released`] when it failed).
    pub(super) fn take_released(&self) -> Vec<u64> {
        std::mem::take(&mut *self.lock())
    }

    pub(super) fn keep_released(&self, ids: Vec<u64>) {
        self.lock().extend(ids);
    }

    pub(super) fn remove(&self, ids: &[u64]) {
        for id in ids {
            let path = self.file(*id);
            if let Err(e) = std::fs::remove_file(&path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(file = %path.display(), error = %e, "could not remove a released value file");
                }
            }
        }
    }

    /// Remove every file that no stored value refers to: those a crash left
    /// between writing a file and the batch that refers to it, or between a
    /// durable release and the removal. Returns how many went.
    pub(super) fn collect_garbage(&self, referenced: &HashSet<u64>) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let id = name.to_str().and_then(|n| u64::from_str_radix(n, 16).ok());
            if id.is_some_and(|id| referenced.contains(&id)) {
                continue;
            }
            if std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        removed
    }

    /// Bytes in the directory's files.
    pub(super) fn size(&self) -> u64 {
        std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u64>> {
        self.released.lock().unwrap_or_else(|p| p.into_inner())
    }
}
