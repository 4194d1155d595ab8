//! One resident's record through time: every change of a village document
//! that touched it, with the record before and after, and the document as
//! it was at given heads. For the auditor: which node (and person) changed
//! what, field by field.
//!
//! A change touches a record when one of its operations creates or deletes
//! the NIK's key in the `residents` map, or writes a field of a record
//! object made under that key. That is read from the operations themselves,
//! never from the change's message, which its writer chose.

use std::collections::HashSet;

use automerge::legacy::{Key, ObjectId, OpId, OpType};
use automerge::{ActorId, ChangeHash, ObjType, ReadDoc};
use kampung_core::{Nik, Resident};

use super::{DocError, VillageDoc};

/// A change that touched one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordChange {
    pub hash: ChangeHash,
    /// The change's Automerge actor (a node key, or a session of one).
    pub actor: Vec<u8>,
    /// The time the writer's clock gave the change, unix seconds.
    pub time_s: i64,
    pub message: String,
    /// The record just before the change (at the change's dependencies)
    /// and just after it; `None` where there was none.
    pub before: Option<Resident>,
    pub after: Option<Resident>,
}

impl VillageDoc {
    /// Every change that touched `nik`'s record, oldest first (in causal
    /// order), with the record before and after each.
    pub fn record_history(&self, nik: Nik) -> Result<Vec<RecordChange>, DocError> {
        let key = nik.to_string();
        let residents = legacy_id(&self.residents);
        let mut records: HashSet<OpId> = HashSet::new();
        let mut out = Vec::new();
        for change in self.doc.get_changes(&[]) {
            let expanded = change.decode();
            let start = expanded.start_op.get();
            let mut touched = false;
            for (i, op) in expanded.operations.iter().enumerate() {
                let on_key = op.obj == residents && matches!(&op.key, Key::Map(k) if *k == key);
                if on_key {
                    touched = true;
                    if matches!(op.action, OpType::Make(ObjType::Map)) {
                        records.insert(OpId(start + i as u64, expanded.actor_id.clone()));
                    }
                } else if let ObjectId::Id(id) = &op.obj {
                    touched |= records.contains(id);
                }
            }
            if !touched {
                continue;
            }
            let hash = change.hash();
            out.push(RecordChange {
                hash,
                actor: change.actor_id().to_bytes().to_vec(),
                time_s: change.timestamp(),
                message: change.message().unwrap_or_default().to_string(),
                before: self.get_at(nik, change.deps())?,
                after: self.get_at(nik, &[hash])?,
            });
        }
        Ok(out)
    }

    /// The record of `nik` as it was at `heads`.
    pub fn get_at(&self, nik: Nik, heads: &[ChangeHash]) -> Result<Option<Resident>, DocError> {
        let key = nik.to_string();
        match self.doc.get_at(&self.residents, key.as_str(), heads)? {
            Some((value, obj)) => self.record_of(nik, &value, &obj, Some(heads)).map(Some),
            None => Ok(None),
        }
    }

    /// Every record as it was at `heads`, in NIK order.
    pub fn residents_at(&self, heads: &[ChangeHash]) -> Result<Vec<Resident>, DocError> {
        let keys: Vec<String> = self
            .doc
            .map_range_at(&self.residents, .., heads)
            .map(|item| item.key.to_string())
            .collect();
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let nik = super::parse_nik_key(&key)?;
            if let Some(r) = self.get_at(nik, heads)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Every NIK whose record was removed from the document at some point
    /// (withdrawn): the current document no longer names it, its past
    /// does. Read from the operations of every change, as
    /// [`VillageDoc::record_history`] reads them.
    pub fn withdrawn_niks(&self) -> HashSet<u64> {
        let residents = legacy_id(&self.residents);
        let mut out = HashSet::new();
        for change in self.doc.get_changes(&[]) {
            let expanded = change.decode();
            for op in &expanded.operations {
                if op.obj == residents && matches!(op.action, OpType::Delete) {
                    if let Key::Map(k) = &op.key {
                        if let Ok(nik) = super::parse_nik_key(k) {
                            out.insert(nik.as_u64());
                        }
                    }
                }
            }
        }
        out
    }

    /// Does the document hold every change of `heads`?
    pub fn holds(&self, heads: &[ChangeHash]) -> bool {
        heads
            .iter()
            .all(|h| self.doc.get_change_meta_by_hash(h).is_some())
    }

    /// The heads of the document as it stood at `at_s` (unix seconds) by
    /// its writers' clocks: every change timed at or before it, with what
    /// they depend on.
    pub fn heads_at_time(&self, at_s: i64) -> Vec<ChangeHash> {
        let mut kept: HashSet<ChangeHash> = HashSet::new();
        let mut depended: HashSet<ChangeHash> = HashSet::new();
        for change in self.doc.get_changes(&[]) {
            // Causal order: a change whose dependency was left out is left
            // out too (a writer's clock running behind its own past).
            let in_time = change.timestamp() <= at_s || change.actor_id() == &genesis_of(self);
            if in_time && change.deps().iter().all(|d| kept.contains(d)) {
                kept.insert(change.hash());
                depended.extend(change.deps().iter().copied());
            }
        }
        let mut heads: Vec<ChangeHash> = kept.difference(&depended).copied().collect();
        heads.sort_unstable();
        heads
    }
}

fn genesis_of(doc: &VillageDoc) -> ActorId {
    super::genesis_actor(doc.village)
}

/// An object id in the form decoded changes name objects.
fn legacy_id(id: &automerge::ObjId) -> ObjectId {
    match id {
        automerge::ObjId::Root => ObjectId::Root,
        automerge::ObjId::Id(counter, actor, _) => ObjectId::Id(OpId(*counter, actor.clone())),
    }
}

#[cfg(test)]
mod tests;
