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
        // The details when this node holds them (every change, a family
        // card's too), else the cards.
        let details = DocId::village(village);
        let history = |id: &DocId,
                       doc: &crate::doc::VillageDoc,
                       signatures: &[Sig]|
         -> Result<Vec<CheckedChange>, StoreError> {
            // The document as held is the document as stored (a failed
            // store is not read): its changes are checked where they are.
            let unverified: HashSet<ChangeHash> =
                crate::audit::unverified_in(id, doc.automerge(), signatures, roster, now_ms)
                    .ok_or_else(|| StoreError::CorruptDoc {
                        location: location.clone(),
                        doc: id.clone(),
                        reason: "it is not a document this mesh replicates".into(),
                    })?;
            let changes = doc
                .record_history(nik)
                .map_err(|e| doc_err(&location, village, e))?;
            Ok(changes
                .into_iter()
                .map(|change| CheckedChange {
                    verified: !unverified.contains(&change.hash),
                    change,
                })
                .collect())
        };
        if self.holds_details(village) {
            let signatures = self.storage.signatures(&details)?;
            if let Some(found) =
                self.with_details(village, |d| history(&details, d, &signatures))?
            {
                return found;
            }
        }
        let id = DocId::card(village);
        let signatures = self.storage.signatures(&id)?;
        let loaded = self.doc(village)?;
        history(&id, &loaded.doc, &signatures)
    }

    /// `village`'s records as its document stood at `at_s` (unix seconds,
    /// by its writers' clocks), with the heads that state has.
    pub fn residents_as_of(
        &mut self,
        village: VillageCode,
        at_s: i64,
    ) -> Result<(Vec<ChangeHash>, Vec<Resident>), StoreError> {
        let location = self.storage.location();
        // The details when this node holds them (an auditor, the village),
        // else the cards.
        let as_of = |doc: &crate::doc::VillageDoc| {
            let heads = doc.heads_at_time(at_s);
            doc.residents_at(&heads).map(|r| (heads, r))
        };
        if let Some(found) = self.with_details(village, as_of)? {
            return found.map_err(|e| doc_err(&location, village, e));
        }
        let loaded = self.doc(village)?;
        let heads = loaded.doc.heads_at_time(at_s);
        let residents = loaded
            .doc
            .residents_at(&heads)
            .map_err(|e| doc_err(&location, village, e))?;
        Ok((heads, residents))
    }
}
