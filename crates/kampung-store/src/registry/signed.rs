//! Which changes of a document in memory carry a write signature, and the
//! newest signatures themselves. The others stay in the store and are read
//! when a sync page reaches back to them or the audit asks
//! ([`Storage::signatures`]). Every signed edit used to keep its ~155-byte
//! signature on the heap for as long as the document was loaded, 40 % of
//! what a node's memory grew by per edit (`BENCHMARKS.md`, the soak).

use std::collections::{HashMap, HashSet, VecDeque};

use automerge::ChangeHash;

use crate::storage::{DocId, Sig, Storage};
use crate::StoreError;

/// Signatures of a document kept in memory: enough for the pages that
/// gossip misses and anti-entropy sends (the newest changes), not for a
/// peer catching up on months, which reads the store once per page.
pub(super) const RECENT: usize = 64;

#[derive(Debug, Default)]
pub(super) struct Signed {
    /// Every change of the document that has a signature stored.
    hashes: HashSet<ChangeHash>,
    /// The newest signatures, at most [`RECENT`], by change.
    recent: HashMap<ChangeHash, Vec<u8>>,
    /// The changes in `recent`, oldest first.
    order: VecDeque<ChangeHash>,
}

impl Signed {
    /// From the signatures the store holds, oldest first.
    pub fn from_stored(sigs: Vec<Sig>) -> Self {
        let mut signed = Signed {
            hashes: sigs.iter().map(|(h, _)| ChangeHash(*h)).collect(),
            ..Signed::default()
        };
        let skip = sigs.len().saturating_sub(RECENT);
        signed.remember(sigs.into_iter().skip(skip));
        signed
    }

    /// Does change `hash` have a signature?
    pub fn contains(&self, hash: &ChangeHash) -> bool {
        self.hashes.contains(hash)
    }

    /// No change of the document is signed (an unsigned test mesh).
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Signatures just stored with their changes.
    pub fn add(&mut self, sigs: &[Sig]) {
        self.hashes.extend(sigs.iter().map(|(h, _)| ChangeHash(*h)));
        self.remember(sigs.iter().cloned());
    }

    fn remember(&mut self, sigs: impl Iterator<Item = Sig>) {
        for (hash, sig) in sigs {
            let hash = ChangeHash(hash);
            // A signature stored again for the same change replaces the one before.
            if self.recent.insert(hash, sig).is_none() {
                self.order.push_back(hash);
            }
        }
        while self.order.len() > RECENT {
            if let Some(old) = self.order.pop_front() {
                self.recent.remove(&old);
            }
        }
    }

    /// The signatures of those of `changes` that have one, in their order:
    /// from memory, or, when one reaches further back, all read once from
    /// `storage`.
    pub fn of<S: Storage + ?Sized>(
        &self,
        changes: &[ChangeHash],
        storage: &S,
        doc: &DocId,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let wanted: Vec<&ChangeHash> = changes.iter().filter(|h| self.contains(h)).collect();
        if wanted.iter().all(|h| self.recent.contains_key(h)) {
            return Ok(wanted.iter().map(|h| self.recent[h].clone()).collect());
        }
        let mut stored: HashMap<ChangeHash, Vec<u8>> = storage
            .signatures(doc)?
            .into_iter()
            .map(|(h, s)| (ChangeHash(h), s))
            .collect();
        // Those in memory are at least as new as the store's.
        Ok(wanted
            .into_iter()
            .filter_map(|h| self.recent.get(h).cloned().or_else(|| stored.remove(h)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;

    fn sig(n: u8, version: u8) -> Sig {
        ([n; 32], vec![n, version])
    }

    #[test]
    fn old_signatures_are_read_from_the_store_and_new_ones_from_memory() {
        let doc = DocId::card(kampung_core::VillageCode::parse("35.10.15.2012").unwrap());
        let storage = MemoryStorage::new();
        let all: Vec<Sig> = (0..=200u8).map(|n| sig(n, 1)).collect();
        storage.append(&doc, b"chunk", b"heads", &all).unwrap();
        let mut signed = Signed::from_stored(storage.signatures(&doc).unwrap());
        assert_eq!(signed.recent.len(), RECENT);
        assert!(signed.contains(&ChangeHash([0; 32])));
        assert!(!signed.contains(&ChangeHash([201; 32])));

        // Only recent ones: the store is not asked (an empty one would not have them).
        let empty = MemoryStorage::new();
        let newest = [ChangeHash([200; 32]), ChangeHash([250; 32])];
        assert_eq!(
            signed.of(&newest, &empty, &doc).unwrap(),
            vec![vec![200, 1]]
        );
        assert!(signed
            .of(&[ChangeHash([3; 32])], &empty, &doc)
            .unwrap()
            .is_empty());

        // One old change among new ones: read from the store, in the page's order.
        let page = [
            ChangeHash([199; 32]),
            ChangeHash([3; 32]),
            ChangeHash([250; 32]),
        ];
        assert_eq!(
            signed.of(&page, &storage, &doc).unwrap(),
            vec![vec![199, 1], vec![3, 1]]
        );

        // A signature stored again replaces the old one; memory stays bounded.
        signed.add(&[sig(199, 2), sig(201, 1)]);
        assert_eq!(signed.recent.len(), RECENT);
        assert_eq!(signed.order.len(), RECENT);
        assert_eq!(
            signed.of(&page, &storage, &doc).unwrap(),
            vec![vec![199, 2], vec![3, 1]]
        );
        assert!(signed.contains(&ChangeHash([201; 32])));
    }
}
