//! Crossing logs and isolation cases in the registry, written, signed,
//! stored and replicated like village documents. The open isolation case of
//! each NIK is derived from the cases, for the checkpoint verdict.
//!
//! Cases are small and held whole in memory. A month's crossing log is not:
//! at thousands of crossings a day it takes hundreds of megabytes in
//! Automerge's memory, and most nodes only pass it on. So a node holds a
//! log only while it writes it (the checkpoint, its current month) or
//! serves or merges it, at most [`DEFAULT_LOGS_HELD`] at once; the others
//! stay on disk with their heads in memory ([`Cold`]). Changes a peer sends
//! that extend a cold log's heads are checked (signatures, dependencies)
//! and appended to the store as they came, without loading the log; any
//! other change loads it first.

use std::sync::Arc;

use automerge::{Automerge, ChangeHash};
use kampung_core::checkpoint::{local_date, OpenCase};
use kampung_core::{LogMonth, Nik, Pledge};
use tracing::{debug, warn};

use super::{heads_to_bytes, sorted, Registry};
use crate::case::{
    CaseDoc, CaseError, CaseHistory, CaseState, FollowUp, Note, Opening, Placement, Release, Writer,
};
use crate::crossing::{Crossing, CrossingError, CrossingFilter, CrossingLog};
use crate::lookups::{OpenCaseAt, RegistryHeads};
use crate::storage::{DocId, DocKind, Sig, Storage};
use crate::StoreError;

/// A crossing log or an isolation case, as stored.
#[derive(Debug, Default)]
pub(super) struct Other {
    pub am: Automerge,
    pub signed: super::signed::Signed,
    pub chunks: usize,
    /// Bytes of the chunks stored since the snapshot, and of the snapshot.
    pub chunk_bytes: usize,
    pub snapshot_bytes: usize,
    /// When it was last used (the registry's clock), for eviction.
    pub used: u64,
}

/// Crossing logs held in memory at once, by default: the one a checkpoint
/// writes, and one being served or merged.
pub(super) const DEFAULT_LOGS_HELD: usize = 2;

/// A crossing log on disk only.
#[derive(Debug, Clone, Default)]
pub(super) struct Cold {
    /// Its heads, sorted.
    pub heads: Vec<ChangeHash>,
    /// Chunks appended while cold since this node read it.
    pub chunks: usize,
}

/// Is `id` a crossing log (of a month, or the single log before them)?
pub(super) fn is_log(id: &DocId) -> bool {
    matches!(id.kind(), Some(DocKind::CrossingLog(..)))
}

/// Is `id` held in memory only while used ([`Cold`])? Crossing logs, and
/// villages' details: a node holds its own village's and those it keeps
/// a copy of, and reads them for the village's own pages only.
pub(super) fn is_cold_kind(id: &DocId) -> bool {
    matches!(
        id.kind(),
        Some(DocKind::CrossingLog(..)) | Some(DocKind::Village(_))
    )
}

impl Other {
    /// Compact when the chunks reach the snapshot's size (at least 256 KB)
    /// or 4,096 of them: a growing crossing log is rewritten whole only
    /// after as many bytes again were appended, so each crossing costs its
    /// own bytes at most twice on disk, however long the log.
    fn due_for_compaction(&self, after_bytes: usize) -> bool {
        self.chunks >= super::COMPACT_AFTER_CHUNKS
            || self.chunk_bytes >= self.snapshot_bytes.max(after_bytes)
    }
}

/// The document every node makes itself for `doc`, if it has one: a
/// village's or a checkpoint's genesis. Cases start from their opening change.
pub(crate) fn genesis_of(doc: &DocId) -> Option<Automerge> {
    match doc.kind()? {
        DocKind::Village(v) => Some(crate::doc::VillageDoc::genesis(v).into_automerge()),
        DocKind::Card(v) => Some(crate::doc::VillageDoc::card_genesis(v).into_automerge()),
        DocKind::CrossingLog(peer, month) => {
            Some(CrossingLog::genesis_in(peer, month).into_automerge())
        }
        DocKind::Case(_) => None,
    }
}

/// An update to an isolation case.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaseUpdate {
    /// Placement or transfer (GOR, village house, home).
    Place(Placement),
    /// Handed to family, with the pledge.
    FamilyPickup {
        at_ms: i64,
        by: Writer,
        pledge: Pledge,
    },
    FollowUp(FollowUp),
    Note(Note),
    Release(Release),
}

/// Why a crossing or case write was refused (nothing was written).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    #[error(transparent)]
    Crossing(Box<CrossingError>),
    #[error(transparent)]
    Case(Box<CaseError>),
    #[error("there is no isolation case {0} here")]
    NoSuchCase(String),
    #[error("isolation case {0} already exists")]
    CaseExists(String),
    #[error(transparent)]
    Store(Box<StoreError>),
}

impl From<CrossingError> for RecordError {
    fn from(e: CrossingError) -> Self {
        RecordError::Crossing(Box::new(e))
    }
}

impl From<CaseError> for RecordError {
    fn from(e: CaseError) -> Self {
        RecordError::Case(Box::new(e))
    }
}

impl From<StoreError> for RecordError {
    fn from(e: StoreError) -> Self {
        RecordError::Store(Box::new(e))
    }
}

impl<S: Storage> Registry<S> {
    /// A background compaction of `id` replaced its snapshot (of
    /// `snapshot` bytes) and `chunks` chunks of `bytes`.
    pub(super) fn compacted_other(
        &mut self,
        id: &DocId,
        chunks: usize,
        bytes: usize,
        snapshot: usize,
    ) {
        if let Some(o) = self.others.get_mut(id) {
            o.chunks = o.chunks.saturating_sub(chunks);
            o.chunk_bytes = o.chunk_bytes.saturating_sub(bytes);
            o.snapshot_bytes = snapshot;
        }
    }

    /// Load every case, and the heads of every crossing log not held (at open).
    pub(super) fn load_others(&mut self) -> Result<(), StoreError> {
        for id in self.storage.doc_ids()? {
            if id.as_card().is_some() || id.kind().is_none() {
                continue;
            }
            if is_cold_kind(&id) {
                if !self.others.contains_key(&id) {
                    let heads = sorted(&self.stored_heads(&id)?);
                    self.cold.insert(id, Cold { heads, chunks: 0 });
                }
                continue;
            }
            if let Some(other) = self.load_other(&id)? {
                self.others.insert(id.clone(), other);
                self.derive_case(&id);
            }
        }
        Ok(())
    }

    /// A crossing log or case as stored, if anything is stored for it.
    pub(super) fn load_other(&self, id: &DocId) -> Result<Option<Other>, StoreError> {
        self.readable()?;
        let Some(mut stored) = self.storage.load(id)? else {
            return Ok(None);
        };
        let corrupt = |reason: String| StoreError::CorruptDoc {
            location: self.storage.location(),
            doc: id.clone(),
            reason,
        };
        let base = || {
            crate::doc::guarded(|| {
                Ok(match (&stored.snapshot, genesis_of(id)) {
                    (Some(s), _) => Automerge::load(s)?,
                    (None, Some(g)) => g,
                    (None, None) => Automerge::new(),
                })
            })
            .map_err(|e| corrupt(e.to_string()))
        };
        let mut am = base()?;
        let mut dropped = 0;
        let all = || stored.chunks.iter().map(|(_, c)| c.as_slice());
        if crate::doc::guarded(|| Ok(crate::doc::load_chunks(&mut am, all())?)).is_err() {
            // A chunk a peer sent that does not apply (a cold log's changes
            // are stored before they are applied): keep every chunk that
            // does, and leave the rest for anti-entropy to send again.
            am = base()?;
            for (_, c) in &stored.chunks {
                let mut trial = am.clone();
                match crate::doc::guarded(|| Ok(trial.load_incremental(c)?)) {
                    Ok(_) => am = trial,
                    Err(e) => {
                        dropped += 1;
                        warn!(doc = %id, error = %e, "a stored chunk does not apply; dropped");
                    }
                }
            }
        }
        let mut other = Other {
            signed: super::signed::Signed::from_stored(std::mem::take(&mut stored.signatures)),
            chunks: stored.chunks.len(),
            chunk_bytes: stored.chunks.iter().map(|(_, c)| c.len()).sum(),
            snapshot_bytes: stored.snapshot.as_ref().map_or(0, Vec::len),
            am,
            used: 0,
        };
        // Stored again without what was dropped; not while a background
        // compaction of it runs (which would fail on the same changes and
        // keep the chunks): the next load does it.
        let compacting = self.compactor.as_ref().is_some_and(|c| c.busy(id));
        if dropped > 0 && !compacting {
            let snapshot = other.am.save();
            let heads = other.am.get_heads();
            // Its signatures are stored already, and a replace keeps them.
            self.storage
                .replace(id, &snapshot, &heads_to_bytes(&heads), &[])?;
            self.storage.flush()?;
            other.chunks = 0;
            other.chunk_bytes = 0;
            other.snapshot_bytes = snapshot.len();
        }
        Ok(Some(other))
    }

    /// Have crossing log `id` in memory (loading it if cold), marked as
    /// just used; another held log may go cold to make room.
    pub(super) fn hold(&mut self, id: &DocId) -> Result<(), StoreError> {
        self.clock += 1;
        let now = self.clock;
        if let Some(o) = self.others.get_mut(id) {
            o.used = now;
            return Ok(());
        }
        let Some(cold) = self.cold.remove(id) else {
            return Ok(());
        };
        self.log_loads += 1;
        match self.load_other(id) {
            Ok(Some(mut other)) => {
                other.used = now;
                self.others.insert(id.clone(), other);
            }
            Ok(None) => {}
            Err(e) => {
                self.cold.insert(id.clone(), cold);
                return Err(e);
            }
        }
        self.evict_logs(|held| held != id, self.logs_held);
        Ok(())
    }

    /// Let held crossing logs go cold, least recently used first, while
    /// more than `room` are held; only those `may_go` allows.
    pub(super) fn evict_logs(&mut self, may_go: impl Fn(&DocId) -> bool, room: usize) {
        loop {
            let held: Vec<(u64, &DocId)> = self
                .others
                .iter()
                .filter(|(id, _)| is_cold_kind(id))
                .map(|(id, o)| (o.used, id))
                .collect();
            if held.len() <= room {
                return;
            }
            let Some((_, id)) = held.into_iter().filter(|(_, id)| may_go(id)).min() else {
                return;
            };
            let id = id.clone();
            if let Some(o) = self.others.remove(&id) {
                let heads = sorted(&o.am.get_heads());
                debug!(doc = %id, "crossing log leaves memory");
                self.cold.insert(id, Cold { heads, chunks: 0 });
            }
        }
    }

    /// After merging or serving crossing log `id`: unless this node writes
    /// it, it goes back to disk at once (a village passes logs on, it does
    /// not read them).
    pub(super) fn release_log(&mut self, id: &DocId) {
        // An archive (an auditor) keeps every crossing log in memory, and
        // villages' details only while it reads them.
        if is_cold_kind(id) && !self.writes(id) && (!self.archive() || !is_log(id)) {
            self.evict_logs(|held| held == id, 0);
        }
    }

    /// How many crossing logs may be held in memory at once (at least 1).
    /// `usize::MAX` makes an archive (an auditor's node): every log, once
    /// loaded, stays, so its searches and replays read memory. The logs on
    /// disk are loaded by [`Registry::warm_log`] while nothing else waits,
    /// not here: a node answers first, however many logs it keeps.
    pub fn set_logs_held(&mut self, logs: usize) {
        self.logs_held = logs.max(1);
        self.evict_logs(|_| true, self.logs_held);
    }

    /// An archive's next crossing log still on disk, loaded to be held;
    /// `Ok(false)` when there is none (or this node is not an archive).
    /// The store calls it while no request waits, one log at a time.
    pub fn warm_log(&mut self) -> Result<bool, StoreError> {
        if !self.archive() {
            return Ok(false);
        }
        let Some(id) = self.cold.keys().filter(|id| is_log(id)).min().cloned() else {
            return Ok(false);
        };
        self.hold(&id)?;
        Ok(true)
    }

    /// Does an archive still have crossing logs to load ([`Registry::warm_log`])?
    pub fn cold_logs_to_warm(&self) -> bool {
        self.archive() && self.cold.keys().any(is_log)
    }

    /// Does this node keep every crossing log in memory?
    pub(super) fn archive(&self) -> bool {
        self.logs_held == usize::MAX
    }

    /// How many times a crossing log was loaded from disk to be held since
    /// open: low when logs pass through this node without being loaded.
    pub fn log_loads(&self) -> u64 {
        self.log_loads
    }

    /// The crossing logs held in memory now.
    pub fn logs_in_memory(&self) -> usize {
        self.others.keys().filter(|id| is_log(id)).count()
    }

    /// `f` on crossing log `id`: held, or loaded for this read only.
    pub(super) fn read_log<T>(
        &self,
        id: &DocId,
        f: impl FnOnce(&Automerge) -> T,
    ) -> Result<Option<T>, StoreError> {
        if let Some(o) = self.others.get(id) {
            return Ok(Some(f(&o.am)));
        }
        if !self.cold.contains_key(id) {
            return Ok(None);
        }
        Ok(self.load_other(id)?.map(|o| f(&o.am)))
    }

    /// After a write of `id` failed to be stored, put back what storage
    /// holds, so memory never shows a change that a restart would not.
    pub(super) fn restore_other(&mut self, id: &DocId) {
        self.new_session();
        match self.load_other(id) {
            Ok(Some(other)) => {
                self.others.insert(id.clone(), other);
            }
            Ok(None) => {
                self.others.remove(id);
            }
            // Read again when the store reopens.
            Err(_) if self.storage.needs_recovery() => {
                self.others.remove(id);
            }
            Err(e) => {
                warn!(doc = %id, error = %e, "cannot reload a document after a failed write; keeping it out of memory");
                self.others.remove(id);
            }
        }
        self.derive_case(id);
    }

    pub(super) fn other_heads(&self) -> impl Iterator<Item = (DocId, Vec<ChangeHash>)> + '_ {
        self.others
            .iter()
            .map(|(id, o)| (id.clone(), sorted(&o.am.get_heads())))
            .chain(
                self.cold
                    .iter()
                    .map(|(id, c)| (id.clone(), c.heads.clone())),
            )
    }

    /// Keep the open-case index in step with case `id`.
    pub(super) fn derive_case(&mut self, id: &DocId) {
        let Some(DocKind::Case(case_id)) = id.kind() else {
            return;
        };
        let Some(other) = self.others.get(id) else {
            return;
        };
        let (key, open) = match open_case_of(case_id, other.am.clone()) {
            Ok(Some(found)) => found,
            // Changes of a case whose opening has not arrived yet.
            Ok(None) => return,
            Err(()) => {
                warn!(doc = %id, "unreadable isolation case; not indexed");
                return;
            }
        };
        let heads = sorted(&other.am.get_heads());
        let mut lookups = self.lookups.write();
        match open {
            Some(case) => {
                lookups.open_cases.insert(key, OpenCaseAt { case, heads });
            }
            None => {
                if lookups
                    .open_cases
                    .get(&key)
                    .is_some_and(|c| c.case.case_id == case_id)
                {
                    lookups.open_cases.remove(&key);
                }
            }
        }
    }

    /// The open isolation case of a NIK, if any.
    pub fn open_case(&self, nik: Nik) -> Option<OpenCase> {
        self.lookups.read().open_case(nik).cloned()
    }

    /// Store what changed in `id` since `before`, with `sigs`; flushed. If
    /// storing fails, memory goes back to what storage holds: a change held
    /// in memory but not stored would be left out of every later chunk
    /// (each saves only what came after the heads in memory), and the store
    /// would keep a document's later changes without the one they build on.
    pub(super) fn store_other(
        &mut self,
        id: &DocId,
        before: &[ChangeHash],
        sigs: Vec<Sig>,
    ) -> Result<Vec<ChangeHash>, StoreError> {
        let stored = self.write_other(id, before, sigs);
        if stored.is_err() {
            self.restore_other(id);
        }
        stored
    }

    fn write_other(
        &mut self,
        id: &DocId,
        before: &[ChangeHash],
        sigs: Vec<Sig>,
    ) -> Result<Vec<ChangeHash>, StoreError> {
        let location = self.storage.location();
        let Some(other) = self.others.get_mut(id) else {
            return Err(StoreError::Io {
                location,
                reason: format!("document {id} is not held"),
            });
        };
        let heads = other.am.get_heads();
        if sorted(&heads) == sorted(before) {
            return Ok(heads);
        }
        let sigs: Vec<Sig> = sigs
            .into_iter()
            .filter(|(h, _)| {
                let h = ChangeHash(*h);
                !other.signed.contains(&h) && other.am.get_change_meta_by_hash(&h).is_some()
            })
            .collect();
        other.signed.add(&sigs);
        let chunk = other.am.save_after(before);
        other.chunks += 1;
        other.chunk_bytes += chunk.len();
        let due = other.due_for_compaction(self.compact_after_bytes);
        let background = self.compactor.as_ref().is_some_and(|c| c.running());
        if due && background {
            // Stored as a chunk now; saved whole on the compactor's thread.
            let seq = self
                .storage
                .append(id, &chunk, &heads_to_bytes(&heads), &sigs)?;
            if let Some(c) = &mut self.compactor {
                c.submit(id, seq);
            }
        } else if due {
            let snapshot = other.am.save();
            self.storage
                .replace(id, &snapshot, &heads_to_bytes(&heads), &sigs)?;
            self.rewritten(id);
            if let Some(o) = self.others.get_mut(id) {
                o.chunks = 0;
                o.chunk_bytes = 0;
                o.snapshot_bytes = snapshot.len();
            }
        } else {
            self.storage
                .append(id, &chunk, &heads_to_bytes(&heads), &sigs)?;
        }
        self.make_durable()?;
        match &mut self.group {
            Some(g) => g.others.push(id.clone()),
            None => self.derive_case(id),
        }
        debug!(doc = %id, bytes = chunk.len(), "stored");
        Ok(heads)
    }

    /// Record one check in this checkpoint's crossing log (`peer` is our own
    /// peer id), on the registry state this node holds now. Durable and
    /// signed when this returns; returns the new heads.
    pub fn record_crossing(
        &mut self,
        peer: &str,
        crossing: &Crossing,
        now_ms: i64,
    ) -> Result<Vec<ChangeHash>, RecordError> {
        let state = Arc::clone(&self.lookups.read().indexed);
        self.record_crossing_on(peer, crossing, &state, now_ms)
    }

    /// [`Registry::record_crossing`], naming the registry state the verdict
    /// was computed on ([`crate::lookups::Checked::state`]): kept in the log
    /// for the auditor's replay.
    pub fn record_crossing_on(
        &mut self,
        peer: &str,
        crossing: &Crossing,
        state: &RegistryHeads,
        now_ms: i64,
    ) -> Result<Vec<ChangeHash>, RecordError> {
        // A log or case dropped from memory by a failing store must not be
        // started again from nothing.
        self.readable()?;
        // Each month's crossings in a document of their own, so a log
        // stops growing when its month ends and leaves after the policy's
        // retention (Registry::expire).
        let (Some(month), Some(id)) = (
            LogMonth::of_ms(crossing.at_ms),
            DocId::crossings_at(peer, crossing.at_ms),
        ) else {
            return Err(CrossingError::Refused {
                field: "time",
                reason: format!("{} ms is not a date", crossing.at_ms),
            }
            .into());
        };
        if id.kind().is_none() {
            return Err(CrossingError::WrongCheckpoint {
                expected: "a peer id".into(),
                found: peer.to_string(),
            }
            .into());
        }
        if self.expired(&id) {
            return Err(CrossingError::Refused {
                field: "time",
                reason: format!(
                    "{month} is past the policy's retention of crossings: its log is no longer kept"
                ),
            }
            .into());
        }
        let actor = self.actor.clone();
        self.hold(&id)?;
        let other = self.others.entry(id.clone()).or_insert_with(|| Other {
            am: CrossingLog::genesis_in(peer, Some(month)).into_automerge(),
            ..Other::default()
        });
        let before = other.am.get_heads();
        let mut log = CrossingLog::from_automerge(peer, std::mem::take(&mut other.am))?;
        let cache = self.crossing_states.entry(id.clone()).or_default();
        let result = log.record_on(&actor, crossing, state, cache);
        other.am = log.into_automerge();
        let (hash, _) = result?;
        let stored = self.sign_and_store(&id, &before, hash, now_ms);
        if stored.is_err() {
            // Memory went back to what storage holds: fold it again.
            self.crossing_states.remove(&id);
        }
        stored
    }

    /// Sign the change `hash` of `id` and store what changed since `before`;
    /// if either fails, memory goes back to what storage holds.
    fn sign_and_store(
        &mut self,
        id: &DocId,
        before: &[ChangeHash],
        hash: ChangeHash,
        now_ms: i64,
    ) -> Result<Vec<ChangeHash>, RecordError> {
        let sigs = match self.sign(id, &[hash], now_ms) {
            Ok(sigs) => sigs,
            Err(e) => {
                self.restore_other(id);
                return Err(e.into());
            }
        };
        Ok(self.store_other(id, before, sigs)?)
    }

    /// A check at the post, and the isolation case it opens, as one step:
    /// both are checked before anything is written, and if the crossing
    /// cannot be stored the case it opened is removed again, so a failed
    /// check never leaves a case behind. Returns the crossing log's heads.
    pub fn record_check(
        &mut self,
        peer: &str,
        crossing: &Crossing,
        case: Option<(&str, &Opening)>,
        now_ms: i64,
    ) -> Result<Vec<ChangeHash>, RecordError> {
        let state = Arc::clone(&self.lookups.read().indexed);
        self.record_check_on(peer, crossing, case, &state, now_ms)
    }

    /// [`Registry::record_check`] naming the registry state the verdict was
    /// computed on.
    pub fn record_check_on(
        &mut self,
        peer: &str,
        crossing: &Crossing,
        case: Option<(&str, &Opening)>,
        state: &RegistryHeads,
        now_ms: i64,
    ) -> Result<Vec<ChangeHash>, RecordError> {
        crossing.validate()?;
        let Some((case_id, opening)) = case else {
            return self.record_crossing_on(peer, crossing, state, now_ms);
        };
        self.open_isolation_case(case_id, opening, now_ms)?;
        match self.record_crossing_on(peer, crossing, state, now_ms) {
            Ok(heads) => Ok(heads),
            Err(e) => {
                if let Err(undo) = self.discard_case(case_id) {
                    warn!(case = case_id, error = %undo, "could not remove the case of a failed crossing");
                }
                Err(e)
            }
        }
    }

    /// Remove a case this node just opened and has not announced.
    fn discard_case(&mut self, case_id: &str) -> Result<(), StoreError> {
        let id = DocId::case(case_id);
        self.others.remove(&id);
        let mut lookups = self.lookups.write();
        lookups.open_cases.retain(|_, c| c.case.case_id != case_id);
        drop(lookups);
        self.storage.remove(&id)?;
        self.rewritten(&id);
        self.storage.flush()
    }

    /// One page of a checkpoint's crossings, newest first, and how many
    /// crossings this node holds of it: only the page is read from the
    /// documents (the newest month first).
    pub fn crossings_page(
        &self,
        peer: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Crossing>), RecordError> {
        let (mut total, mut skip, mut page) = (0, offset, Vec::new());
        for id in self.crossing_docs(peer).iter().rev() {
            let want = limit - page.len();
            let Some(read) = self.read_log(id, |am| CrossingLog::newest_in(am, skip, want))? else {
                continue;
            };
            let (n, found) = read?;
            total += n;
            skip = skip.saturating_sub(n);
            page.extend(found);
        }
        Ok((total, page))
    }

    /// The checkpoints whose crossing logs this node holds (peer ids).
    pub fn crossing_logs(&self) -> Vec<String> {
        let mut peers: Vec<String> = self
            .others
            .keys()
            .chain(self.cold.keys())
            .filter_map(|id| match id.kind() {
                Some(DocKind::CrossingLog(peer, _)) => Some(peer.to_string()),
                _ => None,
            })
            .collect();
        peers.sort();
        peers.dedup();
        peers
    }

    /// The documents this node holds of a checkpoint's crossings, oldest
    /// first: the single log of nodes before monthly logs, then each month.
    pub fn crossing_docs(&self, peer: &str) -> Vec<DocId> {
        let mut docs: Vec<(Option<LogMonth>, &DocId)> = self
            .others
            .keys()
            .chain(self.cold.keys())
            .filter_map(|id| match id.kind() {
                Some(DocKind::CrossingLog(p, month)) if p == peer => Some((month, id)),
                _ => None,
            })
            .collect();
        docs.sort();
        docs.into_iter().map(|(_, id)| id.clone()).collect()
    }

    /// Crossings of every checkpoint matching `filter`, newest first: how
    /// many match, and the page `offset..offset + limit` of them with the
    /// checkpoint of each. Reads every log (an auditor's question).
    pub fn search_crossings(
        &self,
        filter: &CrossingFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<(String, Crossing)>), RecordError> {
        let mut found = Vec::new();
        for peer in self.crossing_logs() {
            if filter.checkpoint.as_deref().is_some_and(|c| c != peer) {
                continue;
            }
            for c in self.crossings(&peer)? {
                if filter.matches(&peer, &c) {
                    found.push((peer.clone(), c));
                }
            }
        }
        found.sort_by(|a, b| b.1.at_ms.cmp(&a.1.at_ms).then_with(|| a.0.cmp(&b.0)));
        let total = found.len();
        Ok((total, found.into_iter().skip(offset).take(limit).collect()))
    }

    /// Every crossing this node holds of a checkpoint, in time order.
    pub fn crossings(&self, peer: &str) -> Result<Vec<Crossing>, RecordError> {
        let mut out = Vec::new();
        for id in self.crossing_docs(peer) {
            let read = self.read_log(&id, |am| {
                CrossingLog::from_automerge(peer, am.clone()).and_then(|log| log.entries())
            })?;
            if let Some(entries) = read {
                out.extend(entries?);
            }
        }
        Ok(out)
    }

    /// Open an isolation case. Durable and signed when this returns.
    pub fn open_isolation_case(
        &mut self,
        case_id: &str,
        opening: &Opening,
        now_ms: i64,
    ) -> Result<Vec<ChangeHash>, RecordError> {
        self.readable()?;
        let id = DocId::case(case_id);
        if self.others.contains_key(&id) {
            return Err(RecordError::CaseExists(case_id.to_string()));
        }
        let case = CaseDoc::open(&self.actor, case_id, opening)?;
        let hash = case.heads();
        self.others.insert(
            id.clone(),
            Other {
                am: case.into_automerge(),
                ..Other::default()
            },
        );
        let sigs = match self.sign(&id, &hash, now_ms) {
            Ok(sigs) => sigs,
            Err(e) => {
                self.restore_other(&id);
                return Err(e.into());
            }
        };
        Ok(self.store_other(&id, &[], sigs)?)
    }

    /// Update an isolation case. Durable and signed when this returns.
    pub fn update_isolation_case(
        &mut self,
        case_id: &str,
        update: &CaseUpdate,
        now_ms: i64,
    ) -> Result<Vec<ChangeHash>, RecordError> {
        self.readable()?;
        let id = DocId::case(case_id);
        let actor = self.actor.clone();
        let other = self
            .others
            .get_mut(&id)
            .ok_or_else(|| RecordError::NoSuchCase(case_id.to_string()))?;
        let before = other.am.get_heads();
        let mut case = CaseDoc::from_automerge(case_id, std::mem::take(&mut other.am))?;
        let result = match update {
            CaseUpdate::Place(p) => case.place(&actor, p),
            CaseUpdate::FamilyPickup { at_ms, by, pledge } => {
                case.family_pickup(&actor, *at_ms, by, pledge)
            }
            CaseUpdate::FollowUp(f) => case.follow_up(&actor, f),
            CaseUpdate::Note(n) => case.note(&actor, n),
            CaseUpdate::Release(r) => case.release(&actor, r),
        };
        other.am = case.into_automerge();
        let hash = result?;
        self.sign_and_store(&id, &before, hash, now_ms)
    }

    /// One isolation case, if held.
    pub fn isolation_case(&self, case_id: &str) -> Option<CaseDoc> {
        let o = self.others.get(&DocId::case(case_id))?;
        CaseDoc::from_automerge(case_id, o.am.clone()).ok()
    }

    /// One isolation case with its state on `today_ms`'s day, if held.
    pub fn isolation_case_state(&self, case_id: &str, today_ms: i64) -> Option<CaseState> {
        let today = local_date(today_ms)?;
        self.isolation_case(case_id)?.state(today).ok()
    }

    /// One isolation case with its state on `today_ms`'s day and
    /// everything recorded on it, if held.
    pub fn isolation_case_history(
        &self,
        case_id: &str,
        today_ms: i64,
    ) -> Option<(CaseState, CaseHistory)> {
        let today = local_date(today_ms)?;
        let case = self.isolation_case(case_id)?;
        Some((case.state(today).ok()?, case.history().ok()?))
    }

    /// Every isolation case held, with its state on `today_ms`'s day.
    pub fn isolation_cases(&self, today_ms: i64) -> Vec<CaseState> {
        let Some(today) = local_date(today_ms) else {
            return Vec::new();
        };
        let mut out: Vec<CaseState> = self
            .others
            .iter()
            .filter_map(|(id, o)| match id.kind() {
                Some(DocKind::Case(case_id)) => CaseDoc::from_automerge(case_id, o.am.clone())
                    .and_then(|c| c.state(today))
                    .ok(),
                _ => None,
            })
            .collect();
        out.sort_by(|a, b| a.info.case_id.cmp(&b.info.case_id));
        out
    }
}

impl<S: Storage> Registry<S> {
    /// The checkpoint verdict for a typed or scanned NIK: see
    /// [`crate::lookups::Lookups::check_verdict`].
    pub fn check_verdict(
        &self,
        input: &str,
        policy: &kampung_core::Policy,
        copy_age: impl Fn(kampung_core::VillageCode) -> Option<std::time::Duration>,
    ) -> crate::lookups::Checked {
        self.lookups.read().check_verdict(input, policy, copy_age)
    }
}

/// The NIK of a case document and, if the case is open, where the person
/// is placed: `Ok(None)` before the case's opening has arrived, `Err` if it
/// cannot be read. What the index and a replayed verdict know of a case.
pub(super) fn open_case_of(
    case_id: &str,
    am: Automerge,
) -> Result<Option<(u64, Option<OpenCase>)>, ()> {
    let Ok(case) = CaseDoc::from_automerge(case_id, am) else {
        return Ok(None);
    };
    let (Ok(info), Ok(released), Ok(placements)) =
        (case.info(), case.released(), case.placements())
    else {
        return Err(());
    };
    // The latest by time; for equal times the later in the list (as `CaseDoc::state`).
    let current = placements.iter().max_by_key(|p| p.at_ms);
    let open = match (released, current) {
        (None, Some(p)) => Some(OpenCase {
            case_id: case_id.to_string(),
            place: p.place.clone(),
        }),
        _ => None,
    };
    Ok(Some((info.nik.as_u64(), open)))
}
