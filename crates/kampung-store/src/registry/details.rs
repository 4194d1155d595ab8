//! A village's two documents: its verdict cards (`k/`), which every node
//! holds and the index is derived from, and its details (`v/`: family
//! cards, addresses, full birth dates), which only the village, the
//! villages that keep a copy for it and auditors hold
//! ([`kampung_core::ReadScope`]). The village's own writes change both: the
//! details with the whole record, the card with what a verdict needs of it
//! ([`Resident::card`]), so an edit of a family card alone changes no card.
//!
//! Details are held in memory only while used, like crossing logs
//! (`registry/others.rs`): the village's own pages read them, peers merge
//! and pull them.
//!
//! Nodes of wire protocol 4 and earlier kept one document per village
//! (`v/`, read by everyone) and derived the index from it. Such a node,
//! upgraded, keeps answering from the index it persisted for those
//! documents ("legacy" villages) until the village's cards arrive; then the
//! index of that village follows the cards, and details it may not read
//! leave at the next sweep ([`Registry::expire`]). A village node makes
//! its cards from its details when it starts ([`Registry::derive_card`]).

use std::collections::HashSet;

use kampung_core::{banyuwangi, Nik, Resident, VillageCode};
use tracing::{debug, info, warn};

use super::others::Other;
use super::{apply_records, doc_err, Registry, WriteReport};
use crate::doc::VillageDoc;
use crate::index::{self, Entry};
use crate::storage::{DocId, Storage};
use crate::StoreError;

fn details_err(location: &str, village: VillageCode, e: crate::doc::DocError) -> StoreError {
    StoreError::CorruptDoc {
        location: location.to_string(),
        doc: DocId::village(village),
        reason: e.to_string(),
    }
}

impl<S: Storage> Registry<S> {
    /// Does this node hold `village`'s details (any change of them)?
    pub fn holds_details(&self, village: VillageCode) -> bool {
        let id = DocId::village(village);
        self.others.contains_key(&id) || self.cold.contains_key(&id)
    }

    /// `f` on `village`'s details, held for it; `None` if this node holds
    /// none of them.
    pub(super) fn with_details<T>(
        &mut self,
        village: VillageCode,
        f: impl FnOnce(&VillageDoc) -> T,
    ) -> Result<Option<T>, StoreError> {
        if !self.holds_details(village) {
            return Ok(None);
        }
        let id = DocId::village(village);
        self.hold(&id)?;
        if !self.others.contains_key(&id) {
            return Ok(None);
        }
        let (doc, other) = self.take_details(village)?;
        let out = f(&doc);
        self.give_back(village, doc, other, Ok(()))?;
        // Read, not written here: back to disk (an auditor reads 217
        // villages' details now and then, and holds none).
        self.release_log(&id);
        Ok(Some(out))
    }

    /// Write whole records to `village`'s details: one change per record
    /// that differs, signed, stored, flushed unless a group commit is under
    /// way. The report counts records added, changed and unchanged.
    pub(super) fn write_details(
        &mut self,
        village: VillageCode,
        records: &[Resident],
        now_ms: i64,
        progress: &mut dyn FnMut(usize),
    ) -> Result<WriteReport, StoreError> {
        let (mut doc, other) = self.take_details(village)?;
        let (actor, author) = (self.actor.clone(), self.author.clone());
        let applied = apply_records(
            &mut doc,
            &actor,
            author.as_ref(),
            records,
            now_ms,
            progress,
            false,
        );
        self.put_details(village, doc, other, applied, now_ms)
    }

    /// `village`'s details taken out of the registry for a write (on this
    /// thread, or on another for [`Registry::write_many`]), with their
    /// bookkeeping; made from their genesis if this node holds none. Given
    /// back by [`Registry::put_details`]. Out of the registry, no other
    /// document's load can send them to disk half-written.
    pub(super) fn take_details(
        &mut self,
        village: VillageCode,
    ) -> Result<(VillageDoc, Other), StoreError> {
        let id = DocId::village(village);
        self.hold(&id)?;
        let mut other = self.others.remove(&id).unwrap_or_else(|| Other {
            am: VillageDoc::genesis(village).into_automerge(),
            ..Other::default()
        });
        match VillageDoc::from_automerge(village, std::mem::take(&mut other.am)) {
            Ok(d) => Ok((d, other)),
            Err(e) => {
                self.restore_other(&id);
                Err(details_err(&self.storage.location(), village, e))
            }
        }
    }

    /// Give back details taken by [`Registry::take_details`] with the
    /// records applied to them, and store what changed, signed; if that
    /// fails, memory goes back to what storage holds.
    pub(super) fn put_details(
        &mut self,
        village: VillageCode,
        doc: VillageDoc,
        other: Other,
        applied: Result<super::Applied, crate::doc::DocError>,
        now_ms: i64,
    ) -> Result<WriteReport, StoreError> {
        let applied = applied.map_err(|e| details_err(&self.storage.location(), village, e));
        let applied = self.give_back(village, doc, other, applied)?;
        if applied.chunk.is_some() {
            self.store_details(village, &applied.before, &applied.signed_points, now_ms)?;
        }
        Ok(applied.report)
    }

    /// Put taken details back; on an error, as storage holds them.
    fn give_back<T>(
        &mut self,
        village: VillageCode,
        doc: VillageDoc,
        mut other: Other,
        made: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let id = DocId::village(village);
        other.am = doc.into_automerge();
        self.others.insert(id.clone(), other);
        if made.is_err() {
            self.restore_other(&id);
        }
        made
    }

    /// Sign the changes of `village`'s details at `points` and store what
    /// changed since `before` (`registry/others.rs`).
    fn store_details(
        &mut self,
        village: VillageCode,
        before: &[automerge::ChangeHash],
        points: &[automerge::ChangeHash],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let id = DocId::village(village);
        let sigs = match self.sign(&id, points, now_ms) {
            Ok(s) => s,
            Err(e) => {
                self.restore_other(&id);
                return Err(e);
            }
        };
        self.store_other(&id, before, sigs).map(|_| ())
    }

    /// Withdraw `nik`'s record from `village`'s details, as one signed
    /// change; `false` if the details hold no record of it.
    pub(super) fn withdraw_details(
        &mut self,
        village: VillageCode,
        nik: Nik,
        reason: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        if !self.holds_details(village) {
            return Ok(false);
        }
        let (mut doc, other) = self.take_details(village)?;
        let (actor, author) = (self.actor.clone(), self.author.clone());
        let before = doc.heads();
        let made = doc
            .withdraw(&actor, nik, reason, now_ms, author.as_ref())
            .map_err(|e| details_err(&self.storage.location(), village, e));
        match self.give_back(village, doc, other, made)? {
            Some(hash) => self
                .store_details(village, &before, &[hash], now_ms)
                .map(|()| true),
            None => Ok(false),
        }
    }

    /// Bring `village`'s cards in line with its details, which this node
    /// writes (a village node, when it starts): each record's card written
    /// where it differs, cards of records the details no longer hold
    /// withdrawn. Makes the cards of a village whose node kept one
    /// document before cards, and mends a write that stopped between the
    /// two documents. The number of cards written or withdrawn.
    pub fn derive_card(&mut self, village: VillageCode, now_ms: i64) -> Result<usize, StoreError> {
        if banyuwangi::village(village).is_none() {
            return Err(StoreError::UnknownVillage(village.to_string()));
        }
        let location = self.storage.location();
        let Some(records) = self.with_details(village, |d| d.residents().collect::<Vec<_>>())?
        else {
            return Ok(0);
        };
        let records = records
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| details_err(&location, village, e))?;
        let this_year = self.this_year;
        let cards: Vec<Resident> = records.iter().map(|r| r.card(this_year)).collect();
        let kept: HashSet<Nik> = records.iter().map(|r| r.nik).collect();
        // The cards' NIKs, from the index (which follows the cards, or
        // the details while the cards have not been made).
        let ordinal = banyuwangi::village(village).map_or(0, |v| v.ordinal);
        let stale: Vec<Nik> = self
            .lookups
            .read()
            .index
            .village(ordinal)
            .map(|(nik, _)| nik)
            .filter(|n| !kept.contains(n))
            .collect();
        let report = self.write_card(village, &cards, now_ms, &mut |_| {})?;
        let mut made = report.added + report.changed;
        for nik in stale {
            made += self
                .withdraw_card(village, nik, "no longer in the village's details", now_ms)?
                .changed;
        }
        if made > 0 {
            info!(%village, cards = made, "verdict cards made from the village's details");
        }
        Ok(made)
    }

    /// Before this node writes `village`: if its index still comes from
    /// its details (a store from before cards), make its cards from them
    /// first, so the cards the write starts hold every resident, not only
    /// those it writes.
    pub(super) fn cards_before_writing(
        &mut self,
        village: VillageCode,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        if self.legacy.contains(&village) && self.holds_details(village) {
            self.derive_card(village, now_ms)?;
        }
        Ok(())
    }

    /// At open: villages whose details this node holds but whose cards it
    /// does not (a store from before cards). Their index is what was
    /// persisted for the details, caught up from the details if behind,
    /// until their cards arrive ([`Registry::card_arrived`]).
    pub(super) fn load_legacy_index(&mut self) -> Result<(), StoreError> {
        let ids = self.storage.doc_ids()?;
        let cards: HashSet<VillageCode> = ids.iter().filter_map(DocId::as_card).collect();
        for id in ids {
            let Some(village) = id.as_village().filter(|v| !cards.contains(v)) else {
                continue;
            };
            let Some(ordinal) = banyuwangi::village(village).map(|v| v.ordinal) else {
                continue;
            };
            let stored = super::sorted(&self.stored_heads(&id)?);
            let persisted = match self.storage.index(&id)? {
                Some(bytes) => {
                    Some(index::decode(&bytes).map_err(|e| StoreError::CorruptIndex {
                        location: self.storage.location(),
                        doc: id.clone(),
                        reason: e.to_string(),
                    })?)
                }
                None => None,
            };
            let entries: Vec<(u64, Entry)> = match persisted {
                Some((heads, entries)) if super::sorted(&heads) == stored => entries,
                _ => {
                    // Behind its document (or never persisted): read it.
                    let location = self.storage.location();
                    let read = self
                        .with_details(village, |d| d.residents().collect::<Vec<_>>())?
                        .unwrap_or_default();
                    let mut entries = Vec::with_capacity(read.len());
                    for r in read {
                        let r = r.map_err(|e| details_err(&location, village, e))?;
                        if let Some(e) = Entry::from_resident(&r) {
                            entries.push((r.nik.as_u64(), e));
                        }
                    }
                    entries
                }
            };
            let mut lookups = self.lookups.write();
            for (nik, entry) in entries {
                if let Some(nik) = Nik::from_u64(nik) {
                    lookups.index.set(nik, ordinal, Some(entry));
                }
            }
            drop(lookups);
            self.legacy.insert(village);
        }
        if !self.legacy.is_empty() {
            info!(
                villages = self.legacy.len(),
                "answering for villages whose verdict cards have not arrived from the index of their details"
            );
        }
        Ok(())
    }

    /// The first cards of `village` are in the index: if it was answered
    /// from its details until now, its index now follows the cards alone.
    pub(super) fn card_arrived(&mut self, village: VillageCode) {
        if !self.legacy.remove(&village) {
            return;
        }
        self.lookups.write().set_indexed(village, Vec::new());
        match self.catch_up_index(village) {
            Ok(()) => debug!(%village, "index follows the village's cards"),
            Err(e) => {
                warn!(%village, error = %e, "cannot index the village's cards; it is caught up at the next open")
            }
        }
    }

    /// Is `doc` the details of a village answered from them until its
    /// cards arrive (kept until then, whatever this node may read)?
    pub(super) fn kept_for_legacy(&self, doc: &DocId) -> bool {
        doc.as_village().is_some_and(|v| self.legacy.contains(&v))
    }

    /// Does this node write `id` (its crossing log of the month, its own
    /// village's details)? Such a document stays in memory.
    pub(super) fn writes(&self, id: &DocId) -> bool {
        self.crossing_states.contains_key(id)
            || matches!(
                self.scope,
                kampung_core::ReadScope::Certified(kampung_core::RoleKind::Village, Some(v), _)
                    if id.as_village() == Some(v)
            )
    }

    /// Every card of one village, in NIK order (what the index reflects).
    pub fn cards(&mut self, village: VillageCode) -> Result<Vec<Resident>, StoreError> {
        let location = self.storage.location();
        let loaded = self.doc(village)?;
        loaded
            .doc
            .residents()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| doc_err(&location, village, e))
    }
}
