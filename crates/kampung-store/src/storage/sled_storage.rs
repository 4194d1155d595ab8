//! [`Storage`] on sled 0.34.
//!
//! Tree `docs` holds, per document, its heads, its compressed snapshot, its
//! chunks and its write signatures under short keys (see [`layout`]: a
//! digest of the document's name, which only the heads key spells out).
//! The ranges sit apart on purpose: sled rewrites a page when a key on it
//! changes, so a snapshot stored next to the chunks was copied again every
//! few appends. Values larger than a few hundred bytes (snapshots, big
//! chunks, a village's persisted index) live in files of their own under
//! `values/` (see [`values`]: sled 0.34 does not always give back the disk
//! of its own large pages). Every multi-key write is one atomic
//! `apply_batch` on this one tree (sled's cross-tree transactions take a
//! process-wide lock and were seen to stall); the signatures of a chunk's
//! changes are written in the same batch as the chunk. Tree `index2` holds
//! the persisted index, tree `trust` the root-signed statements by id, tree
//! `meta` the layout's version. sled only flushes every 500 ms by itself;
//! [`Storage::flush`] forces it, and the registry calls it before
//! acknowledging a write.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use super::census::{DocCensus, Migration};
use super::{DocId, Fold, Sig, Staged, Storage, StoredDoc};
use crate::StoreError;

/// sled page cache.
const CACHE_BYTES: u64 = 64 << 20;

/// sled's log segment for a new store. Every durable write flushes a
/// partly filled segment; with sled's default of 512 KB the store grew by
/// 5–11 KB per single-record edit and held hundreds of MB after 20,000 of
/// them, against about 0.5 KB with 64 KB segments (`scripts/bench-soak`).
const SEGMENT_BYTES: usize = 64 << 10;

/// The largest value this store keeps inside sled; larger document values
/// go to files of their own (`values.rs`), and the node's local tables (the
/// access log) write no larger ones. A leaf page holds up to 17 keys before
/// it splits: 17 × (640 + a short key) stays under sled's 16 KB blob
/// threshold (a quarter of [`SEGMENT_BYTES`]) with room to spare.
pub const INLINE_MAX: usize = 640;

/// The segment size of the store at `path`: the one it was made with (sled
/// refuses to open a store with another), or [`SEGMENT_BYTES`] for a new one.
fn segment_size(path: &Path) -> usize {
    std::fs::read_to_string(path.join("conf"))
        .ok()
        .and_then(|conf| {
            conf.lines()
                .find_map(|l| l.strip_prefix("segment_size:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(SEGMENT_BYTES)
}

/// Documents and index in a sled database directory.
///
/// sled keeps the first IO error it meets and fails every later operation
/// with it, and what it took into its cache before a failed flush may still
/// be read back (a write answered with an error would seem stored). So
/// after any error the store is marked for recovery
/// ([`Storage::needs_recovery`]), and [`Storage::recover`] closes the
/// database and opens it again from what is on disk: the node writes again
/// by itself once the disk has room, and a write that failed is gone.
#[derive(Debug, Clone)]
pub struct SledStorage {
    path: PathBuf,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// `None` while closed after a failed recovery.
    open: RwLock<Option<Open>>,
    failed: AtomicBool,
    /// The database that failed did not close (see [`CLOSE_WAIT`]): it
    /// holds the directory's lock for as long as this process lives.
    stuck: AtomicBool,
    values: Values,
}

/// How long closing a database that failed may take. sled 0.34 can hang
/// for ever in that close (its drop waits for a log buffer that a write
/// failing with "no space left" never finished), holding the directory's
/// lock: after this, the node gives up on reopening it in this process.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// Written (and removed) to tell whether the disk has space again.
const SPACE_PROBE_BYTES: usize = 4 << 20;

/// The open database and its trees.
#[derive(Debug, Clone)]
struct Open {
    db: sled::Db,
    docs: sled::Tree,
    index: sled::Tree,
    trust: sled::Tree,
}

mod layout;
#[cfg(test)]
mod tests;
mod values;

use layout::{
    bundle_chunk, bundle_prefix, chunk_bundle_key, chunk_key, chunk_prefix, decode_bundle,
    encode_bundle, folded_bundle_key, heads_key, seq_of, sig_prefix, snapshot_key, HEADS,
};
use values::Values;

/// How long [`SledStorage::open`] waits for a lock held by a database
/// being dropped in this process, and how often it tries.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);
const LOCK_RETRY: std::time::Duration = std::time::Duration::from_millis(50);

/// Is this sled's "another process has the database" error?
fn locked(e: &sled::Error) -> bool {
    match e {
        sled::Error::Io(io) => {
            io.kind() == std::io::ErrorKind::WouldBlock
                || io.to_string().contains("could not acquire lock")
        }
        _ => false,
    }
}

/// What [`open_db`] does with a store of an earlier layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Earlier {
    /// Refuse it, saying to run `kampung migrate`.
    Refuse,
    /// Open it as it is, for [`SledStorage::migrate`] to move.
    Keep,
}

/// Open (or create) the database at `path` and its trees, refuse it (or
/// keep it as it is) if it has an earlier layout, and remove value files
/// nothing refers to.
fn open_db(path: &Path, values: &Values, earlier: Earlier) -> Result<Open, StoreError> {
    let err = |source: sled::Error| {
        StoreError::Open {
        path: path.display().to_string(),
        reason: match &source {
            e if locked(e) => {
                "the database is locked: is another kampung process using this data directory?"
                    .to_string()
            }
            sled::Error::Corruption { .. } => format!(
                "{source}: the database files are damaged; restore the data directory from a backup or a peer"
            ),
            _ => source.to_string(),
        },
    }
    };
    remove_incomplete_snapshots(path);
    // sled's default cache is 1 GiB; documents are loaded once and the
    // index lives in our own memory, so a small cache is enough.
    let config = sled::Config::new()
        .path(path)
        .cache_capacity(CACHE_BYTES)
        .segment_size(segment_size(path));
    // A database dropped in this process a moment ago may still be held
    // by sled's flusher thread until its last flush: wait for it a
    // little before calling the directory locked by another process.
    let mut waited = std::time::Duration::ZERO;
    let db = loop {
        match config.open() {
            Err(e) if locked(&e) && waited < LOCK_WAIT => {
                std::thread::sleep(LOCK_RETRY);
                waited += LOCK_RETRY;
            }
            other => break other.map_err(err)?,
        }
    };
    let open = Open {
        docs: db.open_tree("docs").map_err(err)?,
        index: db.open_tree(layout::INDEX_TREE).map_err(err)?,
        trust: db.open_tree("trust").map_err(err)?,
        db,
    };
    let found = layout::earlier(&open).map_err(|reason| StoreError::Open {
        path: path.display().to_string(),
        reason,
    })?;
    match found {
        Some(documents) if earlier == Earlier::Refuse => {
            return Err(StoreError::EarlierLayout {
                path: path.display().to_string(),
                documents,
            })
        }
        Some(_) => {}
        // A new store is marked with its layout.
        None => {
            layout::migrate(&open, values).map_err(|reason| StoreError::Open {
                path: path.display().to_string(),
                reason,
            })?;
        }
    }
    let referenced = layout::referenced_files(&open).map_err(err)?;
    let removed = values.collect_garbage(&referenced);
    if removed > 0 {
        tracing::info!(store = %path.display(), files = removed, "removed value files nothing refers to (left by a crash)");
    }
    Ok(open)
}

/// Remove snapshots sled did not finish writing. sled 0.34 writes a
/// snapshot to `snap.<lsn>.generating`, syncs it and renames it; a crash or
/// a full disk in between leaves the `.generating` file behind, and sled's
/// next open takes it (the highest name) for the latest snapshot and fails
/// with "Read corrupted data": one full disk would make a village's store
/// unopenable for good. The file is by construction incomplete, and a
/// snapshot only saves replaying the log: removing it loses nothing.
fn remove_incomplete_snapshots(path: &Path) {
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => tracing::warn!(
                    file = %entry.path().display(),
                    "removed a snapshot the store did not finish writing (a crash or a full disk)"
                ),
                Err(e) => tracing::warn!(
                    file = %entry.path().display(),
                    error = %e,
                    "cannot remove an unfinished snapshot of the store"
                ),
            }
        }
    }
}

/// Drop a database on a thread of its own; whether that finished within `wait`.
fn close_within(db: Open, wait: std::time::Duration) -> bool {
    let (done, closed) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("store-close".into())
        .spawn(move || {
            drop(db);
            let _ = done.send(());
        });
    match spawned {
        Ok(_) => closed.recv_timeout(wait).is_ok(),
        Err(_) => false,
    }
}

impl SledStorage {
    /// Can a few megabytes be written and synced next to the database?
    fn disk_has_space(&self) -> bool {
        use std::io::Write as _;
        let probe = self.path.join("space-probe");
        let written = std::fs::File::create(&probe).and_then(|mut f| {
            f.write_all(&vec![0u8; SPACE_PROBE_BYTES])?;
            f.sync_all()
        });
        let _ = std::fs::remove_file(&probe);
        written.is_ok()
    }

    /// Open (or create) the database at `path`.
    /// A store written by an earlier kampung (another layout) is refused
    /// with [`StoreError::EarlierLayout`]: see [`SledStorage::migrate`].
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_as(path, Earlier::Refuse)
    }

    /// Is the store at `path` of an earlier layout? Then how many documents
    /// it holds; `None` for a store of this layout or no store yet.
    pub fn earlier_layout(path: &Path) -> Result<Option<usize>, StoreError> {
        if !path.join("db").exists() {
            return Ok(None);
        }
        match Self::open_as(path, Earlier::Refuse) {
            Err(StoreError::EarlierLayout { documents, .. }) => Ok(Some(documents)),
            other => other.map(|_| None),
        }
    }

    /// Move a store of an earlier layout to this one, each document in one
    /// atomic batch (a crash part-way leaves each moved or not; run it
    /// again), and say what it held before and after. The caller takes a
    /// backup first: an earlier kampung cannot read the moved store.
    pub fn migrate(path: &Path) -> Result<Migration, StoreError> {
        let storage = Self::open_as(path, Earlier::Keep)?;
        let o = storage.db()?;
        let failed = |reason: String| {
            StoreError::Open {
            path: path.display().to_string(),
            reason: format!("moving the store to its current layout failed ({reason}); free disk space, then run `kampung migrate` again"),
        }
        };
        let mut before = Vec::new();
        let mut unmoved = std::collections::HashSet::new();
        layout::earlier_documents(&o, |doc, stored| {
            before.push(DocCensus::of(&doc, &stored));
            unmoved.insert(doc);
            Ok(())
        })
        .map_err(failed)?;
        // Moved by an earlier run that was interrupted.
        for doc in storage.doc_ids()? {
            if !unmoved.contains(&doc) {
                if let Some(stored) = storage.read_doc(&doc)? {
                    before.push(DocCensus::of(&doc, &stored));
                }
            }
        }
        let moved = layout::migrate(&o, storage.values()).map_err(failed)?;
        tracing::info!(store = %path.display(), documents = moved, "store moved to its current layout");
        let mut after = Vec::new();
        for doc in storage.doc_ids()? {
            if let Some(stored) = storage.read_doc(&doc)? {
                after.push(DocCensus::of(&doc, &stored));
            }
        }
        before.sort_by(|a, b| a.doc.cmp(&b.doc));
        after.sort_by(|a, b| a.doc.cmp(&b.doc));
        Ok(Migration {
            moved,
            before,
            after,
        })
    }

    fn open_as(path: &Path, earlier: Earlier) -> Result<Self, StoreError> {
        std::fs::create_dir_all(path).map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let new_values = !path.join("values").exists();
        let values = Values::open(path).map_err(|e| StoreError::Open {
            path: path.join("values").display().to_string(),
            reason: e.to_string(),
        })?;
        let open = match open_db(path, &values, earlier) {
            Err(refused @ StoreError::EarlierLayout { .. }) => {
                // Leave a refused store as the earlier kampung wrote it.
                if new_values {
                    let _ = std::fs::remove_dir(path.join("values"));
                }
                return Err(refused);
            }
            other => other?,
        };
        Ok(SledStorage {
            path: path.to_path_buf(),
            shared: Arc::new(Shared {
                open: RwLock::new(Some(open)),
                failed: AtomicBool::new(false),
                stuck: AtomicBool::new(false),
                values,
            }),
        })
    }

    fn values(&self) -> &Values {
        &self.shared.values
    }

    /// `bytes` as stored: inline or in a file of its own.
    fn put_value(&self, o: &Open, bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.values()
            .put(bytes, || o.db.generate_id().map_err(|e| e.to_string()))
            .map_err(|reason| {
                self.shared.failed.store(true, Ordering::SeqCst);
                StoreError::Io {
                    location: self.location(),
                    reason,
                }
            })
    }

    /// The bytes of a stored value of `doc`.
    fn get_value(&self, doc: &DocId, stored: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.values()
            .get(stored)
            .map_err(|e| StoreError::CorruptDoc {
                location: self.location(),
                doc: doc.clone(),
                reason: e.to_string(),
            })
    }

    /// The open database, or why there is none.
    fn db(&self) -> Result<Open, StoreError> {
        match &*self.shared.open.read().unwrap_or_else(|p| p.into_inner()) {
            Some(open) => Ok(open.clone()),
            None => Err(StoreError::Io {
                location: self.path.display().to_string(),
                reason: "the database is closed after a failed write (a full disk?); \
                         it opens again by itself once it can"
                    .into(),
            }),
        }
    }

    /// A node-local tree of this database (see [`crate::local`]).
    pub(crate) fn tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        let db = self.db()?;
        db.db.open_tree(name).map_err(|e| self.io(e))
    }

    pub(crate) fn io(&self, source: sled::Error) -> StoreError {
        self.shared.failed.store(true, Ordering::SeqCst);
        StoreError::Io {
            location: self.path.display().to_string(),
            reason: source.to_string(),
        }
    }

    /// The sequence number of `doc`'s newest chunk: read from the end of
    /// its key range (keys hold the number big-endian), not by walking every
    /// chunk, which made each append cost as much as the chunks before it.
    fn last_chunk_seq(&self, doc: &DocId) -> Result<Option<u64>, StoreError> {
        let o = self.db()?;
        let prefix = chunk_prefix(doc);
        for k in o.docs.scan_prefix(&prefix).keys().rev() {
            let k = k.map_err(|e| self.io(e))?;
            if let Some(seq) = seq_of(&k[prefix.len()..]) {
                return Ok(Some(seq));
            }
        }
        Ok(None)
    }

    /// `doc`'s chunks: sequence number, key and stored value.
    fn chunks(&self, doc: &DocId) -> Result<Vec<ChunkEntry>, StoreError> {
        let o = self.db()?;
        let prefix = chunk_prefix(doc);
        let mut chunks = Vec::new();
        for item in o.docs.scan_prefix(&prefix) {
            let (k, v) = item.map_err(|e| self.io(e))?;
            let seq = seq_of(&k[prefix.len()..]).ok_or_else(|| StoreError::CorruptDoc {
                location: self.location(),
                doc: doc.clone(),
                reason: "a chunk key is malformed".to_string(),
            })?;
            chunks.push((seq, k, v));
        }
        Ok(chunks)
    }

    /// `doc`'s signatures stored one key each (stores made before
    /// signature bundles): the entries (key and value) and the signatures.
    fn legacy_signatures(
        &self,
        o: &Open,
        doc: &DocId,
    ) -> Result<(Vec<Entry>, Vec<Sig>), StoreError> {
        let prefix = sig_prefix(doc);
        let (mut entries, mut sigs) = (Vec::new(), Vec::new());
        for item in o.docs.scan_prefix(&prefix) {
            let (k, v) = item.map_err(|e| self.io(e))?;
            if let Ok(hash) = <[u8; 32]>::try_from(&k[prefix.len()..]) {
                sigs.push((hash, v.to_vec()));
            }
            entries.push((k, v));
        }
        Ok((entries, sigs))
    }

    /// `doc`'s signature bundles, key and stored value, oldest first in
    /// each: the chunks' (with the chunk's sequence number) and the folded.
    fn bundles(&self, o: &Open, doc: &DocId) -> Result<(Vec<ChunkEntry>, Vec<Entry>), StoreError> {
        let prefix_len = bundle_prefix(doc).len();
        let (mut chunks, mut folded) = (Vec::new(), Vec::new());
        for item in o.docs.scan_prefix(bundle_prefix(doc)) {
            let (k, v) = item.map_err(|e| self.io(e))?;
            match bundle_chunk(&k[prefix_len..]) {
                Some(seq) => chunks.push((seq, k, v)),
                None => folded.push((k, v)),
            }
        }
        Ok((chunks, folded))
    }

    /// The signatures of a stored bundle of `doc`.
    fn bundle(&self, doc: &DocId, stored: &[u8]) -> Result<Vec<Sig>, StoreError> {
        decode_bundle(&self.get_value(doc, stored)?).map_err(|reason| StoreError::CorruptDoc {
            location: self.location(),
            doc: doc.clone(),
            reason,
        })
    }

    /// Put `sigs` into `batch` as one bundle under `key`.
    fn put_bundle(
        &self,
        o: &Open,
        batch: &mut sled::Batch,
        key: Vec<u8>,
        sigs: &[Sig],
    ) -> Result<(), StoreError> {
        batch.insert(key, self.stored_bundle(o, sigs)?);
        Ok(())
    }

    /// `sigs` encoded as one bundle and stored as a value.
    fn stored_bundle(&self, o: &Open, sigs: &[Sig]) -> Result<Vec<u8>, StoreError> {
        let bytes = encode_bundle(sigs).map_err(|reason| StoreError::Io {
            location: self.location(),
            reason,
        })?;
        self.put_value(o, &bytes)
    }

    /// Fold into one new bundle, in `batch`: `new` signatures, those of the
    /// chunks up to `through_seq` (every chunk if `None`), those stored one
    /// key each, and the newest bundles of earlier folds while each holds
    /// no more signatures than the fold so far (as a binary counter carries:
    /// a document keeps about log2(folds) bundles, and each signature is
    /// written again about log2(folds) times, never at every compaction).
    /// The stored values it drops go to `replaced`.
    fn fold_signatures(
        &self,
        o: &Open,
        batch: &mut sled::Batch,
        replaced: &mut Vec<sled::IVec>,
        doc: &DocId,
        new: &[Sig],
        through_seq: Option<u64>,
    ) -> Result<(), StoreError> {
        let fold = self.make_fold(o, doc, new, through_seq)?;
        put_fold(batch, replaced, fold);
        Ok(())
    }

    /// The fold [`SledStorage::fold_signatures`] puts into a batch, made
    /// from what is stored now: the new bundle's value is written here (a
    /// large one to its own file, synced), which is why a compaction makes
    /// it ahead, on the compactor thread.
    fn make_fold(
        &self,
        o: &Open,
        doc: &DocId,
        new: &[Sig],
        through_seq: Option<u64>,
    ) -> Result<Fold, StoreError> {
        let (legacy, mut sigs) = self.legacy_signatures(o, doc)?;
        let mut fold = Fold::default();
        for (k, v) in legacy {
            fold.legacy.push((k.to_vec(), v.to_vec()));
        }
        let (chunks, folded) = self.bundles(o, doc)?;
        for (seq, k, v) in chunks {
            if through_seq.is_none_or(|t| seq <= t) {
                sigs.extend(self.bundle(doc, &v)?);
                fold.bundles.push((k.to_vec(), v.to_vec()));
            }
        }
        sigs.extend_from_slice(new);
        if sigs.is_empty() {
            return Ok(fold);
        }
        for (k, v) in folded.into_iter().rev() {
            let older = self.bundle(doc, &v)?;
            if older.len() > sigs.len() {
                break;
            }
            // Older first: a signature stored again later wins.
            sigs.splice(0..0, older);
            fold.bundles.push((k.to_vec(), v.to_vec()));
        }
        let id = o.db.generate_id().map_err(|e| self.io(e))?;
        let stored = self.stored_bundle(o, &latest_per_change(sigs))?;
        fold.bundle = Some((folded_bundle_key(doc, id), stored));
        Ok(fold)
    }

    /// A fold that will not be applied: its bundle's file, if it has one,
    /// goes after the next flush.
    fn release_fold(&self, fold: Fold) {
        if let Some((_, bundle)) = fold.bundle {
            self.values().release(&bundle);
        }
    }

    /// Is every entry `fold` replaces still stored as it was when it was
    /// made? (Only then does it cover exactly what it was made from.)
    fn fold_current(&self, o: &Open, fold: &Fold) -> Result<bool, StoreError> {
        for (k, v) in fold.legacy.iter().chain(&fold.bundles) {
            if o.docs.get(k).map_err(|e| self.io(e))?.as_deref() != Some(&v[..]) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Put `doc`'s snapshot into `batch`; the stored value it replaces goes
    /// to `replaced`.
    fn put_snapshot(
        &self,
        o: &Open,
        batch: &mut sled::Batch,
        replaced: &mut Vec<sled::IVec>,
        doc: &DocId,
        snapshot: &[u8],
    ) -> Result<(), StoreError> {
        let key = snapshot_key(doc);
        replaced.extend(o.docs.get(&key).map_err(|e| self.io(e))?);
        batch.insert(key, self.put_value(o, snapshot)?);
        Ok(())
    }

    /// Apply `batch` to the docs tree, then release the files of the values
    /// it replaced or removed: only once it is applied, so that a flush on
    /// another thread cannot remove a file the store still refers to.
    fn apply(
        &self,
        o: &Open,
        batch: sled::Batch,
        replaced: Vec<sled::IVec>,
    ) -> Result<(), StoreError> {
        o.docs.apply_batch(batch).map_err(|e| self.io(e))?;
        for v in replaced {
            self.values().release(&v);
        }
        Ok(())
    }

    fn read_doc(&self, doc: &DocId) -> Result<Option<StoredDoc>, StoreError> {
        let o = self.db()?;
        let Some(heads) = self.heads(doc)? else {
            return Ok(None);
        };
        let snapshot = match o.docs.get(snapshot_key(doc)).map_err(|e| self.io(e))? {
            Some(v) => Some(self.get_value(doc, &v)?),
            None => None,
        };
        let mut chunks = Vec::new();
        for (seq, _, v) in self.chunks(doc)? {
            chunks.push((seq, self.get_value(doc, &v)?));
        }
        Ok(Some(StoredDoc {
            snapshot,
            chunks,
            heads,
            signatures: self.read_signatures(&o, doc)?,
        }))
    }

    /// `doc`'s signatures, one per change. Oldest first, so that a
    /// signature stored again for the same change replaces the one before
    /// (as a key written again did): those stored one key each, the folded
    /// bundles, then the chunks' in order.
    fn read_signatures(&self, o: &Open, doc: &DocId) -> Result<Vec<Sig>, StoreError> {
        let mut signatures = self.legacy_signatures(o, doc)?.1;
        let (chunk_bundles, folded) = self.bundles(o, doc)?;
        let folded = folded.into_iter().map(|(_, v)| v);
        for v in folded.chain(chunk_bundles.into_iter().map(|(_, _, v)| v)) {
            signatures.extend(self.bundle(doc, &v)?);
        }
        Ok(latest_per_change(signatures))
    }
}

/// A key of the docs tree and its stored value.
type Entry = (sled::IVec, sled::IVec);
/// A chunk's key-value entry (or its signature bundle's) with its sequence number.
type ChunkEntry = (u64, sled::IVec, sled::IVec);

/// One signature per change, in the order first seen: where a change has
/// several (stored again), the last one.
fn latest_per_change(sigs: Vec<Sig>) -> Vec<Sig> {
    let mut at = std::collections::HashMap::with_capacity(sigs.len());
    let mut latest: Vec<Sig> = Vec::with_capacity(sigs.len());
    for (hash, sig) in sigs {
        match at.get(&hash) {
            Some(&i) => latest[i] = (hash, sig),
            None => {
                at.insert(hash, latest.len());
                latest.push((hash, sig));
            }
        }
    }
    latest
}

/// Put `fold` into `batch`: the entries it replaces removed (their stored
/// values to `replaced`), its bundle inserted.
fn put_fold(batch: &mut sled::Batch, replaced: &mut Vec<sled::IVec>, fold: Fold) {
    for (k, _) in fold.legacy {
        batch.remove(k);
    }
    for (k, v) in fold.bundles {
        batch.remove(k);
        replaced.push(v.into());
    }
    if let Some((k, v)) = fold.bundle {
        batch.insert(k, v);
    }
}

impl Storage for SledStorage {
    fn doc_ids(&self) -> Result<Vec<DocId>, StoreError> {
        let o = self.db()?;
        let mut ids = Vec::new();
        for k in o.docs.scan_prefix(HEADS).keys() {
            let k = k.map_err(|e| self.io(e))?;
            ids.push(layout::doc_named(&k[HEADS.len()..]));
        }
        Ok(ids)
    }

    fn heads(&self, doc: &DocId) -> Result<Option<Vec<u8>>, StoreError> {
        let o = self.db()?;
        Ok(o.docs
            .get(heads_key(doc))
            .map_err(|e| self.io(e))?
            .map(|v| v.to_vec()))
    }

    fn load(&self, doc: &DocId) -> Result<Option<StoredDoc>, StoreError> {
        // A compaction on another thread may replace a value file between
        // reading its key and the file: the second read sees the new one.
        match self.read_doc(doc) {
            Err(StoreError::CorruptDoc { .. }) => self.read_doc(doc),
            other => other,
        }
    }

    fn signatures(&self, doc: &DocId) -> Result<Vec<Sig>, StoreError> {
        let o = self.db()?;
        // A fold applied on the compactor thread while this scans cannot
        // hide a signature: its new bundle's key sorts after every bundle
        // it replaces (chunks' `c` before folds' `m`, fold ids increasing),
        // so a scan that misses a removed one reaches the new one. As in
        // `load`, it may release a bundle's file under a read: read again.
        match self.read_signatures(&o, doc) {
            Err(StoreError::CorruptDoc { .. }) => self.read_signatures(&o, doc),
            other => other,
        }
    }

    fn append(
        &self,
        doc: &DocId,
        chunk: &[u8],
        heads: &[u8],
        sigs: &[Sig],
    ) -> Result<u64, StoreError> {
        let o = self.db()?;
        let seq = self.last_chunk_seq(doc)?.map_or(1, |s| s + 1);
        let mut batch = sled::Batch::default();
        if !sigs.is_empty() {
            self.put_bundle(&o, &mut batch, chunk_bundle_key(doc, seq), sigs)?;
        }
        batch.insert(chunk_key(doc, seq), self.put_value(&o, chunk)?);
        batch.insert(heads_key(doc), heads);
        o.docs.apply_batch(batch).map_err(|e| self.io(e))?;
        Ok(seq)
    }

    fn replace(
        &self,
        doc: &DocId,
        snapshot: &[u8],
        heads: &[u8],
        sigs: &[Sig],
    ) -> Result<(), StoreError> {
        let o = self.db()?;
        let mut batch = sled::Batch::default();
        let mut replaced = Vec::new();
        self.fold_signatures(&o, &mut batch, &mut replaced, doc, sigs, None)?;
        self.put_snapshot(&o, &mut batch, &mut replaced, doc, snapshot)?;
        for (_, k, v) in self.chunks(doc)? {
            replaced.push(v);
            batch.remove(k);
        }
        batch.insert(heads_key(doc), heads);
        self.apply(&o, batch, replaced)
    }

    fn compact(&self, doc: &DocId, snapshot: &[u8], through_seq: u64) -> Result<(), StoreError> {
        let staged = self.stage_compaction(doc, snapshot.to_vec(), through_seq)?;
        self.compact_staged(doc, staged, through_seq)
    }

    /// The snapshot's value and the signatures' fold (each in a file of
    /// its own when large, written and synced here), on the calling thread.
    fn stage_compaction(
        &self,
        doc: &DocId,
        snapshot: Vec<u8>,
        through_seq: u64,
    ) -> Result<Staged, StoreError> {
        let o = self.db()?;
        let stored = self.put_value(&o, &snapshot)?;
        let fold = match self.make_fold(&o, doc, &[], Some(through_seq)) {
            Ok(f) => f,
            Err(e) => {
                self.values().release(&stored);
                return Err(e);
            }
        };
        Ok(Staged {
            len: snapshot.len(),
            stored,
            fold: Some(fold),
        })
    }

    fn discard_staged(&self, staged: Staged) {
        // Their files, if they have any, go after the next flush.
        self.values().release(&staged.stored);
        if let Some(fold) = staged.fold {
            self.release_fold(fold);
        }
    }

    fn compact_staged(
        &self,
        doc: &DocId,
        mut staged: Staged,
        through_seq: u64,
    ) -> Result<(), StoreError> {
        let built = (|| {
            let o = self.db()?;
            let mut batch = sled::Batch::default();
            let mut replaced = Vec::new();
            // The fold made ahead covers exactly what it replaces, unless
            // something changed those entries since (then it is made now).
            match staged.fold.take() {
                Some(fold) if self.fold_current(&o, &fold)? => {
                    put_fold(&mut batch, &mut replaced, fold);
                }
                stale => {
                    if let Some(fold) = stale {
                        self.release_fold(fold);
                    }
                    self.fold_signatures(
                        &o,
                        &mut batch,
                        &mut replaced,
                        doc,
                        &[],
                        Some(through_seq),
                    )?;
                }
            }
            let key = snapshot_key(doc);
            replaced.extend(o.docs.get(&key).map_err(|e| self.io(e))?);
            batch.insert(key, staged.stored.clone());
            for (seq, k, v) in self.chunks(doc)? {
                if seq <= through_seq {
                    replaced.push(v);
                    batch.remove(k);
                }
            }
            Ok((o, batch, replaced))
        })();
        match built {
            Ok((o, batch, replaced)) => self.apply(&o, batch, replaced),
            Err(e) => {
                // Nothing refers to it: its file goes after the next flush.
                self.discard_staged(staged);
                Err(e)
            }
        }
    }

    fn remove(&self, doc: &DocId) -> Result<(), StoreError> {
        let o = self.db()?;
        let mut batch = sled::Batch::default();
        let mut replaced = Vec::new();
        for (_, k, v) in self.chunks(doc)? {
            replaced.push(v);
            batch.remove(k);
        }
        for (k, _) in self.legacy_signatures(&o, doc)?.0 {
            batch.remove(k);
        }
        let (chunk_bundles, folded) = self.bundles(&o, doc)?;
        for (k, v) in folded
            .into_iter()
            .chain(chunk_bundles.into_iter().map(|(_, k, v)| (k, v)))
        {
            batch.remove(k);
            replaced.push(v);
        }
        let snapshot = snapshot_key(doc);
        replaced.extend(o.docs.get(&snapshot).map_err(|e| self.io(e))?);
        batch.remove(snapshot);
        batch.remove(heads_key(doc));
        self.apply(&o, batch, replaced)?;
        if let Some(old) = o.index.remove(doc.as_str()).map_err(|e| self.io(e))? {
            self.values().release(&old);
        }
        Ok(())
    }

    fn index(&self, doc: &DocId) -> Result<Option<Vec<u8>>, StoreError> {
        let o = self.db()?;
        let Some(stored) = o.index.get(doc.as_str()).map_err(|e| self.io(e))? else {
            return Ok(None);
        };
        self.values()
            .get(&stored)
            .map(Some)
            .map_err(|e| StoreError::CorruptIndex {
                location: self.location(),
                doc: doc.clone(),
                reason: e.to_string(),
            })
    }

    fn put_index(&self, doc: &DocId, bytes: &[u8]) -> Result<(), StoreError> {
        let o = self.db()?;
        let stored = self.put_value(&o, bytes)?;
        if let Some(old) = o
            .index
            .insert(doc.as_str(), stored)
            .map_err(|e| self.io(e))?
        {
            self.values().release(&old);
        }
        Ok(())
    }

    fn statements(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let o = self.db()?;
        o.trust
            .iter()
            .values()
            .map(|v| v.map(|v| v.to_vec()).map_err(|e| self.io(e)))
            .collect()
    }

    fn put_statement(&self, id: &[u8; 32], bytes: &[u8]) -> Result<(), StoreError> {
        let o = self.db()?;
        o.trust.insert(id, bytes).map_err(|e| self.io(e))?;
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        let o = self.db()?;
        // Only what was released before the flush began is safe to remove
        // once it returns.
        let released = self.values().take_released();
        if let Err(e) = o.db.flush() {
            self.values().keep_released(released);
            return Err(self.io(e));
        }
        self.values().remove(&released);
        Ok(())
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn local_table(&self, name: &str) -> Result<crate::local::LocalTable, StoreError> {
        let name = format!("local/{name}");
        self.tree(&name)?;
        Ok(crate::local::LocalTable::sled(self.clone(), name))
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        let sled = self.db()?.db.size_on_disk().map_err(|e| self.io(e))?;
        Ok(sled + self.values().size())
    }

    fn needs_recovery(&self) -> bool {
        self.shared.failed.load(Ordering::SeqCst)
    }

    fn recover(&self) -> Result<(), StoreError> {
        let location = || self.path.display().to_string();
        if self.shared.stuck.load(Ordering::SeqCst) {
            return Err(if self.disk_has_space() {
                StoreError::RestartNeeded {
                    location: location(),
                }
            } else {
                StoreError::Stuck {
                    location: location(),
                }
            });
        }
        // Close first: sled holds the directory's lock until its last
        // handle goes. Readers meanwhile are told the database is closed.
        let failed = self
            .shared
            .open
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(failed) = failed {
            if !close_within(failed, CLOSE_WAIT) {
                self.shared.stuck.store(true, Ordering::SeqCst);
                return Err(StoreError::Stuck {
                    location: location(),
                });
            }
        }
        // What was released since the last flush may be referred to again
        // by what is on disk: the next open's garbage collection decides.
        self.values().take_released();
        let reopened = open_db(&self.path, self.values(), Earlier::Refuse)?;
        *self.shared.open.write().unwrap_or_else(|p| p.into_inner()) = Some(reopened);
        self.shared.failed.store(false, Ordering::SeqCst);
        Ok(())
    }
}
