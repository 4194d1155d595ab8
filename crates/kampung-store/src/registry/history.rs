//! What the auditor reads of the village documents' past: one record's
//! changes, each with the audit's signature and authority check, and a
//! village as it stood at a time.

use std::collections::HashSet;

use automerge::ChangeHash;
use kampung_core::{Nik, Resident, VillageCode};
use kampung_trust::Roster;

use super::{doc_err, Registry};
use crate::doc::RecordChange;
use crate::storage::{DocId, Sig, Storage};
use crate::StoreError;

/// A change to a record, and whether it passed the audit's check: covered
/// by a valid signature of its writer, who (with a roster) was allowed to
/// write that village's document then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedChange {
    pub change: RecordChange,
    pub verified: bool,
}

impl<S: Storage> Registry<S> {
    /// Every change that touched `nik`'s record in `village`'s document,
    /// oldest first, each checked as `kampung audit verify` checks it.
    pub fn record_history(
        &mut self,
        village: VillageCode,
        nik: Nik,
        roster: Option<&Roster>,
        now_ms: i64,
    ) -> Result<Vec<CheckedChange>, StoreError> {
        let location = self.storage.location();
        let id = DocId::village(village);
        let loaded = self.doc(village)?;
        // The document as held is the document as stored (a failed store
        // is not read): its changes are checked where they are.
        let signatures: Vec<Sig> = loaded
            .signed
            .iter()
            .map(|(h, s)| (h.0, s.clone()))
            .collect();
        let unverified: HashSet<ChangeHash> =
            crate::audit::unverified_in(&id, loaded.doc.automerge(), &signatures, roster, now_ms)
                .ok_or_else(|| StoreError::CorruptDoc {
                location: location.clone(),
                doc: id.clone(),
                reason: "it is not a document this mesh replicates".into(),
            })?;
        let changes = loaded
            .doc
            .record_history(nik)
            .map_err(|e| doc_err(&location, village, e))?;
        Ok(changes
            .into_iter()
            .map(|change| CheckedChange {
                verified: !unverified.contains(&change.hash),
                change,
            })
            .collect())
    }

    /// `village`'s records as its document stood at `at_s` (unix seconds,
    /// by its writers' clocks), with the heads that state has.
    pub fn residents_as_of(
        &mut self,
        village: VillageCode,
        at_s: i64,
    ) -> Result<(Vec<ChangeHash>, Vec<Resident>), StoreError> {
        let location = self.storage.location();
        let loaded = self.doc(village)?;
        let heads = loaded.doc.heads_at_time(at_s);
        let residents = loaded
            .doc
            .residents_at(&heads)
            .map_err(|e| doc_err(&location, village, e))?;
        Ok((heads, residents))
    }
}
