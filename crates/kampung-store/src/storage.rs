//! Where documents live: a small trait with a sled implementation for nodes
//! and an in-memory one for tests and simulations.
//!
//! A document is stored as one compressed snapshot plus incremental chunks
//! (each chunk holds the changes of one durable write). Compaction replaces the
//! snapshot and removes the chunks it covers in one atomic step, so a crash at
//! any point leaves either the old or the new state, never neither.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::StoreError;

pub mod census;
pub mod sled_storage;

pub use kampung_core::doc_id::{DocId, DocKind, CASE_ID_LEN};

/// Everything stored for one document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredDoc {
    pub snapshot: Option<Vec<u8>>,
    /// `(sequence number, bytes)`, in order.
    pub chunks: Vec<(u64, Vec<u8>)>,
    /// The document heads after the last write, recorded with it.
    pub heads: Vec<u8>,
    /// The write signatures that cover its changes, by signed change hash.
    pub signatures: Vec<Sig>,
}

/// A compaction written ahead of the batch that will refer to it
/// ([`Storage::stage_compaction`]): the snapshot as the storage keeps it
/// and, where the storage folds signatures, the fold already written.
#[derive(Debug)]
pub struct Staged {
    stored: Vec<u8>,
    /// The snapshot's size in bytes.
    pub len: usize,
    /// The document's signatures folded into one bundle, written ahead;
    /// `None`: folded when the compaction is applied.
    fold: Option<Fold>,
}

/// A fold of a document's signatures into one bundle: the entries it
/// replaces, as they were when it was made, and the bundle it writes.
#[derive(Debug, Default)]
struct Fold {
    /// Signatures stored one key each (stores made before bundles).
    legacy: Vec<(Vec<u8>, Vec<u8>)>,
    /// Bundles folded in: key and stored value.
    bundles: Vec<(Vec<u8>, Vec<u8>)>,
    /// The new bundle's key and stored value; `None`: no signatures.
    bundle: Option<(Vec<u8>, Vec<u8>)>,
}

/// A write signature as stored: the change hash it signs, and its encoding.
pub type Sig = ([u8; 32], Vec<u8>);

/// The persistence a [`crate::Registry`] needs. Implementations must make
/// [`Storage::append`] and [`Storage::compact`] atomic, and make everything
/// written before [`Storage::flush`] returns survive a crash.
pub trait Storage: Send + Sync + 'static {
    /// Every document that has anything stored.
    fn doc_ids(&self) -> Result<Vec<DocId>, StoreError>;
    /// The recorded heads of a document, without loading it.
    fn heads(&self, doc: &DocId) -> Result<Option<Vec<u8>>, StoreError>;
    fn load(&self, doc: &DocId) -> Result<Option<StoredDoc>, StoreError>;
    /// A document's write signatures as [`Storage::load`] gives them (one
    /// per signed change), without reading its changes: the registry keeps
    /// only the newest few in memory and reads the rest here when a sync
    /// page or the audit needs them.
    fn signatures(&self, doc: &DocId) -> Result<Vec<Sig>, StoreError> {
        Ok(self.load(doc)?.map_or_else(Vec::new, |d| d.signatures))
    }
    /// Append one chunk of changes with the signatures that cover them, and
    /// record the heads after it, atomically.
    fn append(
        &self,
        doc: &DocId,
        chunk: &[u8],
        heads: &[u8],
        sigs: &[Sig],
    ) -> Result<u64, StoreError>;
    /// Replace everything stored for a document by one snapshot with these
    /// heads, atomically (after a large write, the compressed document is far
    /// smaller than its changes).
    fn replace(
        &self,
        doc: &DocId,
        snapshot: &[u8],
        heads: &[u8],
        sigs: &[Sig],
    ) -> Result<(), StoreError>;
    /// Replace the snapshot and drop the chunks up to `through_seq`, atomically.
    fn compact(&self, doc: &DocId, snapshot: &[u8], through_seq: u64) -> Result<(), StoreError>;
    /// Write the compaction of `doc` up to its chunk `through_seq` ahead
    /// of a [`Storage::compact_staged`] that will refer to it, on any
    /// thread: the slow part of storing it (a large snapshot's and a large
    /// signature bundle's own files, synced) happens there, off the store
    /// thread. Nothing refers to what it writes until then.
    fn stage_compaction(
        &self,
        doc: &DocId,
        snapshot: Vec<u8>,
        through_seq: u64,
    ) -> Result<Staged, StoreError> {
        let _ = (doc, through_seq);
        Ok(Staged {
            len: snapshot.len(),
            stored: snapshot,
            fold: None,
        })
    }
    /// [`Storage::compact`] with a snapshot staged before (atomic likewise).
    fn compact_staged(
        &self,
        doc: &DocId,
        staged: Staged,
        through_seq: u64,
    ) -> Result<(), StoreError> {
        self.compact(doc, &staged.stored, through_seq)
    }
    /// A staged snapshot that will not be used: its space is given back.
    fn discard_staged(&self, staged: Staged) {
        let _ = staged;
    }
    /// Remove everything stored for a document (its chunks, snapshot,
    /// heads, signatures and index), atomically.
    fn remove(&self, doc: &DocId) -> Result<(), StoreError>;
    /// The persisted index of one document (see [`crate::index`]).
    fn index(&self, doc: &DocId) -> Result<Option<Vec<u8>>, StoreError>;
    fn put_index(&self, doc: &DocId, bytes: &[u8]) -> Result<(), StoreError>;
    /// Every root-signed statement (certificates, revocations, policies) kept here.
    fn statements(&self) -> Result<Vec<Vec<u8>>, StoreError>;
    /// Keep a root-signed statement under its id (durable after [`Storage::flush`]).
    fn put_statement(&self, id: &[u8; 32], bytes: &[u8]) -> Result<(), StoreError>;
    /// Make everything written so far durable.
    fn flush(&self) -> Result<(), StoreError>;
    /// Where this storage lives, for error messages.
    fn location(&self) -> String;
    /// Bytes used on disk (or in memory).
    fn size_on_disk(&self) -> Result<u64, StoreError>;
    /// A node-local table (never replicated): see [`crate::local`].
    fn local_table(&self, name: &str) -> Result<crate::local::LocalTable, StoreError>;
    /// An operation failed in a way that may leave the storage serving
    /// what is not durable, or failing for good (sled after a full disk):
    /// call [`Storage::recover`] before trusting it again.
    fn needs_recovery(&self) -> bool {
        false
    }
    /// Bring the storage back to what is durable (reopen it); an error if
    /// it still cannot (try again later).
    fn recover(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Storage in memory, for tests and deterministic simulations.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    inner: Mutex<MemoryInner>,
    /// Flushes done, and whether flushes wait ([`MemoryStorage::hold_flushes`]).
    flushes: Mutex<Flushes>,
    flush_released: std::sync::Condvar,
}

#[derive(Debug, Default)]
struct Flushes {
    done: usize,
    held: bool,
    waiting: usize,
    /// Flushes fail ([`MemoryStorage::fail_flushes`]), and one did.
    failing: bool,
    failed: bool,
}

#[derive(Debug, Default, Clone)]
struct MemoryInner {
    docs: BTreeMap<DocId, StoredDoc>,
    next_seq: u64,
    index: BTreeMap<DocId, Vec<u8>>,
    statements: BTreeMap<[u8; 32], Vec<u8>>,
    /// Writes to documents whose name starts with this fail (a full disk).
    failing: Option<String>,
    tables: BTreeMap<String, crate::local::LocalTable>,
    /// What a crash would leave: the state at the last flush (kept only
    /// by [`MemoryStorage::losing_unflushed`]).
    durable: Option<Box<MemoryInner>>,
    /// Writes left before the power goes (`Some(0)`: gone; every write fails).
    power_left: Option<u32>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }

    /// A storage that loses, in [`MemoryStorage::after_crash`], everything
    /// written since its last flush, as a disk does when the power goes
    /// (each flush copies the state: for small simulated stores). Node-local
    /// tables are shared, not copied: they survive as if flushed.
    pub fn losing_unflushed() -> Self {
        let s = Self::default();
        s.with(|m| m.durable = Some(Box::default()));
        s
    }

    /// What survives a crash now: the state at the last flush (everything,
    /// unless made by [`MemoryStorage::losing_unflushed`]).
    pub fn after_crash(&self) -> MemoryStorage {
        let state = self.with(|m| match &m.durable {
            Some(d) => MemoryInner {
                durable: Some(d.clone()),
                power_left: None,
                ..(**d).clone()
            },
            None => MemoryInner {
                power_left: None,
                ..m.clone()
            },
        });
        MemoryStorage {
            inner: Mutex::new(state),
            ..MemoryStorage::default()
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut MemoryInner) -> T) -> T {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// The power goes after `writes` more writes (appends, replaces,
    /// compactions, removals, index or statement puts, flushes): that one
    /// and every later one fail, as if the machine died in the middle of
    /// an operation. [`MemoryStorage::after_crash`] is what the disk kept.
    pub fn power_cut_after(&self, writes: u32) {
        self.with(|m| m.power_left = Some(writes));
    }

    /// One more write, unless the power is gone.
    fn powered(&self) -> Result<(), StoreError> {
        self.with(|m| match &mut m.power_left {
            Some(0) => Err(StoreError::Io {
                location: "(memory)".into(),
                reason: "the power went (simulated)".into(),
            }),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        })
    }

    /// Flushes done so far.
    pub fn flushes(&self) -> usize {
        self.flush_state().done
    }

    /// Make every flush wait (`true`) until released (`false`), as a slow
    /// disk would: a test can queue work behind a flush under way.
    pub fn hold_flushes(&self, held: bool) {
        self.flush_state().held = held;
        self.flush_released.notify_all();
    }

    /// Make every flush fail (`true`) as sled's does on a full disk: what
    /// was written since the last flush stays readable, the storage
    /// [needs recovery](Storage::needs_recovery), and recovering (once
    /// flushes work again) keeps only what the last good flush made durable
    /// (with [`MemoryStorage::losing_unflushed`]), as reopening sled does.
    pub fn fail_flushes(&self, failing: bool) {
        self.flush_state().failing = failing;
    }

    /// Flushes waiting for [`MemoryStorage::hold_flushes`]`(false)`.
    pub fn flushes_waiting(&self) -> usize {
        self.flush_state().waiting
    }

    fn flush_state(&self) -> std::sync::MutexGuard<'_, Flushes> {
        self.flushes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Make every later append or replace of a document whose name starts
    /// with `prefix` fail as a full disk would (`None`: writes work again).
    pub fn fail_writes_to(&self, prefix: Option<&str>) {
        self.with(|m| m.failing = prefix.map(str::to_string));
    }

    fn check_write(&self, doc: &DocId) -> Result<(), StoreError> {
        self.with(|m| match &m.failing {
            Some(p) if doc.as_str().starts_with(p.as_str()) => Err(StoreError::Io {
                location: "(memory)".into(),
                reason: format!("no space left for {doc} (simulated)"),
            }),
            _ => Ok(()),
        })
    }

    /// Overwrite a stored chunk or snapshot, to test how corruption is reported.
    pub fn corrupt_snapshot(&self, doc: &DocId, bytes: Vec<u8>) {
        self.with(|m| {
            if let Some(d) = m.docs.get_mut(doc) {
                d.snapshot = Some(bytes);
            }
        })
    }
}

impl Storage for MemoryStorage {
    fn doc_ids(&self) -> Result<Vec<DocId>, StoreError> {
        Ok(self.with(|m| m.docs.keys().cloned().collect()))
    }
    fn heads(&self, doc: &DocId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.with(|m| m.docs.get(doc).map(|d| d.heads.clone())))
    }
    fn load(&self, doc: &DocId) -> Result<Option<StoredDoc>, StoreError> {
        Ok(self.with(|m| m.docs.get(doc).cloned()))
    }
    fn append(
        &self,
        doc: &DocId,
        chunk: &[u8],
        heads: &[u8],
        sigs: &[Sig],
    ) -> Result<u64, StoreError> {
        self.check_write(doc)?;
        self.powered()?;
        Ok(self.with(|m| {
            m.next_seq += 1;
            let seq = m.next_seq;
            let d = m.docs.entry(doc.clone()).or_default();
            d.chunks.push((seq, chunk.to_vec()));
            d.heads = heads.to_vec();
            add_sigs(&mut d.signatures, sigs);
            seq
        }))
    }
    fn replace(
        &self,
        doc: &DocId,
        snapshot: &[u8],
        heads: &[u8],
        sigs: &[Sig],
    ) -> Result<(), StoreError> {
        self.check_write(doc)?;
        self.powered()?;
        self.with(|m| {
            let d = m.docs.entry(doc.clone()).or_default();
            d.snapshot = Some(snapshot.to_vec());
            d.chunks.clear();
            d.heads = heads.to_vec();
            add_sigs(&mut d.signatures, sigs);
        });
        Ok(())
    }
    fn compact(&self, doc: &DocId, snapshot: &[u8], through_seq: u64) -> Result<(), StoreError> {
        self.powered()?;
        self.with(|m| {
            let d = m.docs.entry(doc.clone()).or_default();
            d.snapshot = Some(snapshot.to_vec());
            d.chunks.retain(|(s, _)| *s > through_seq);
        });
        Ok(())
    }
    fn remove(&self, doc: &DocId) -> Result<(), StoreError> {
        self.powered()?;
        self.with(|m| {
            m.docs.remove(doc);
            m.index.remove(doc);
        });
        Ok(())
    }
    fn index(&self, doc: &DocId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.with(|m| m.index.get(doc).cloned()))
    }
    fn put_index(&self, doc: &DocId, bytes: &[u8]) -> Result<(), StoreError> {
        self.powered()?;
        self.with(|m| m.index.insert(doc.clone(), bytes.to_vec()));
        Ok(())
    }
    fn statements(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        Ok(self.with(|m| m.statements.values().cloned().collect()))
    }
    fn put_statement(&self, id: &[u8; 32], bytes: &[u8]) -> Result<(), StoreError> {
        self.powered()?;
        self.with(|m| m.statements.insert(*id, bytes.to_vec()));
        Ok(())
    }
    fn flush(&self) -> Result<(), StoreError> {
        {
            let mut f = self.flush_state();
            f.waiting += 1;
            while f.held {
                f = self
                    .flush_released
                    .wait(f)
                    .unwrap_or_else(|p| p.into_inner());
            }
            f.waiting -= 1;
            if f.failing {
                f.failed = true;
                return Err(StoreError::Io {
                    location: "(memory)".into(),
                    reason: "no space left on device (simulated)".into(),
                });
            }
            f.done += 1;
        }
        self.powered()?;
        self.with(|m| {
            if m.durable.take().is_some() {
                let copy = m.clone();
                m.durable = Some(Box::new(copy));
            }
        });
        Ok(())
    }
    fn location(&self) -> String {
        "(memory)".to_string()
    }
    fn local_table(&self, name: &str) -> Result<crate::local::LocalTable, StoreError> {
        Ok(self.with(|m| {
            m.tables
                .entry(name.to_string())
                .or_insert_with(crate::local::LocalTable::memory)
                .clone()
        }))
    }
    fn needs_recovery(&self) -> bool {
        self.flush_state().failed
    }
    fn recover(&self) -> Result<(), StoreError> {
        let mut f = self.flush_state();
        if f.failing {
            return Err(StoreError::Io {
                location: "(memory)".into(),
                reason: "no space left on device (simulated)".into(),
            });
        }
        f.failed = false;
        self.with(|m| {
            if let Some(d) = &m.durable {
                let durable = MemoryInner {
                    durable: Some(d.clone()),
                    ..(**d).clone()
                };
                *m = durable;
            }
        });
        Ok(())
    }
    fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.with(|m| {
            m.docs
                .values()
                .map(|d| {
                    d.snapshot.as_ref().map_or(0, Vec::len)
                        + d.chunks.iter().map(|c| c.1.len()).sum::<usize>()
                })
                .sum::<usize>() as u64
        }))
    }
}

fn add_sigs(into: &mut Vec<Sig>, sigs: &[Sig]) {
    for s in sigs {
        if !into.iter().any(|(h, _)| *h == s.0) {
            into.push(s.clone());
        }
    }
}

impl<S: Storage + ?Sized> Storage for std::sync::Arc<S> {
    fn doc_ids(&self) -> Result<Vec<DocId>, StoreError> {
        (**self).doc_ids()
    }
    fn heads(&self, doc: &DocId) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).heads(doc)
    }
    fn load(&self, doc: &DocId) -> Result<Option<StoredDoc>, StoreError> {
        (**self).load(doc)
    }
    fn signatures(&self, doc: &DocId) -> Result<Vec<Sig>, StoreError> {
        (**self).signatures(doc)
    }
    fn append(
        &self,
        doc: &DocId,
        chunk: &[u8],
        heads: &[u8],
        sigs: &[Sig],
    ) -> Result<u64, StoreError> {
        (**self).append(doc, chunk, heads, sigs)
    }
    fn compact(&self, doc: &DocId, snapshot: &[u8], through_seq: u64) -> Result<(), StoreError> {
        (**self).compact(doc, snapshot, through_seq)
    }
    fn stage_compaction(
        &self,
        doc: &DocId,
        snapshot: Vec<u8>,
        through_seq: u64,
    ) -> Result<Staged, StoreError> {
        (**self).stage_compaction(doc, snapshot, through_seq)
    }
    fn compact_staged(
        &self,
        doc: &DocId,
        staged: Staged,
        through_seq: u64,
    ) -> Result<(), StoreError> {
        (**self).compact_staged(doc, staged, through_seq)
    }
    fn discard_staged(&self, staged: Staged) {
        (**self).discard_staged(staged)
    }
    fn replace(
        &self,
        doc: &DocId,
        snapshot: &[u8],
        heads: &[u8],
        sigs: &[Sig],
    ) -> Result<(), StoreError> {
        (**self).replace(doc, snapshot, heads, sigs)
    }
    fn remove(&self, doc: &DocId) -> Result<(), StoreError> {
        (**self).remove(doc)
    }
    fn index(&self, doc: &DocId) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).index(doc)
    }
    fn put_index(&self, doc: &DocId, bytes: &[u8]) -> Result<(), StoreError> {
        (**self).put_index(doc, bytes)
    }
    fn statements(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        (**self).statements()
    }
    fn put_statement(&self, id: &[u8; 32], bytes: &[u8]) -> Result<(), StoreError> {
        (**self).put_statement(id, bytes)
    }
    fn flush(&self) -> Result<(), StoreError> {
        (**self).flush()
    }
    fn location(&self) -> String {
        (**self).location()
    }
    fn local_table(&self, name: &str) -> Result<crate::local::LocalTable, StoreError> {
        (**self).local_table(name)
    }
    fn size_on_disk(&self) -> Result<u64, StoreError> {
        (**self).size_on_disk()
    }
    fn needs_recovery(&self) -> bool {
        (**self).needs_recovery()
    }
    fn recover(&self) -> Result<(), StoreError> {
        (**self).recover()
    }
}
