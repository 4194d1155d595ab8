//! Replication's view of a [`Registry`]: the answers of [`Replica`] computed
//! on the registry itself, shared by the store task (which owns the registry
//! on its own thread, [`crate::store`]) and by [`LocalReplica`], a registry
//! owned in place for the deterministic simulation
//! (`kampung_sync::sim`, `tests/simulation.rs`), where every answer must be
//! ready when asked.

use std::sync::{Arc, Mutex, MutexGuard};

use automerge::ChangeHash;
use kampung_store::storage::Storage;
use kampung_store::{ChangeVerifier, DocId, Registry, RemoteApplied, RemoteRefusal, StoreError};
use kampung_sync::{Announce, Applied, DocHeads, Hash, Replica, ReplicaError, SignedChanges};
use tracing::{debug, warn};

pub(crate) fn to_hashes(v: Vec<Hash>) -> Vec<ChangeHash> {
    v.into_iter().map(ChangeHash).collect()
}

pub(crate) fn from_hashes(v: Vec<ChangeHash>) -> Vec<Hash> {
    v.into_iter().map(|h| h.0).collect()
}

pub(crate) fn local(e: impl std::fmt::Display) -> ReplicaError {
    ReplicaError::Local(e.to_string())
}

/// A document id a peer sent, or its refusal.
pub(crate) fn doc_id(doc: &str) -> Result<DocId, ReplicaError> {
    DocId::parse(doc)
        .ok_or_else(|| ReplicaError::Refused(format!("'{doc}' is not a document of this mesh")))
}

/// What applying a peer's data did, as replication sees it.
/// Data from a peer that changed a document is logged at debug level under
/// the target `kampung::applied`, with the document's heads after it (the
/// regency mesh measures propagation from these lines:
/// `KAMPUNG_LOG=warn,kampung::applied=debug`).
pub(crate) fn applied(
    result: Result<Result<RemoteApplied, RemoteRefusal>, StoreError>,
    doc: &str,
    from: &str,
) -> Result<Applied, ReplicaError> {
    match result {
        Ok(Ok(a)) => Ok({
            if a.changed() && tracing::enabled!(target: "kampung::applied", tracing::Level::DEBUG) {
                let heads: Vec<String> = a.heads.iter().map(ToString::to_string).collect();
                debug!(target: "kampung::applied", %doc, peer = %from, heads = %heads.join(","), "applied");
            }
            Applied {
                changed: a.changed(),
                heads: from_hashes(a.heads),
                missing_deps: from_hashes(a.missing_deps),
            }
        }),
        Ok(Err(refusal @ RemoteRefusal::NotYetCovered { .. })) => {
            debug!(peer = %from, %refusal, "data from a peer waits for a signature in force");
            Err(ReplicaError::Deferred(refusal.to_string()))
        }
        Ok(Err(refusal)) => {
            warn!(peer = %from, %refusal, "refused data from a peer");
            Err(ReplicaError::Refused(refusal.to_string()))
        }
        Err(e) => Err(local(e)),
    }
}

fn doc_heads(heads: Vec<(DocId, Vec<ChangeHash>)>) -> impl Iterator<Item = DocHeads> {
    heads.into_iter().map(|(d, h)| DocHeads {
        doc: d.to_string(),
        heads: from_hashes(h),
    })
}

/// The documents offered to peers, with their heads, sorted by name.
pub(crate) fn offered_of(heads: Vec<(DocId, Vec<ChangeHash>)>) -> Vec<DocHeads> {
    doc_heads(heads).collect()
}

/// Which of `heads` the registry lacks (all of them if it does not hold `doc`).
pub(crate) fn unknown_of<S: Storage>(
    reg: &mut Registry<S>,
    doc: &DocId,
    heads: Vec<ChangeHash>,
) -> Result<Vec<ChangeHash>, StoreError> {
    if reg.expired(doc) {
        // Past the policy's retention here: not wanted back.
        return Ok(Vec::new());
    }
    match reg.doc_heads_of(doc) {
        None => Ok(heads),
        Some(ours) if ours == sorted(heads.clone()) => Ok(Vec::new()),
        Some(_) => reg.unknown_hashes(doc, &heads),
    }
}

/// The changes a peer with `have` lacks, with their signatures.
pub(crate) fn changes_for<S: Storage>(
    reg: &mut Registry<S>,
    doc: &DocId,
    have: &[ChangeHash],
    max_bytes: usize,
) -> Result<SignedChanges, StoreError> {
    reg.changes_since(doc, have, max_bytes)
        .map(|p| SignedChanges {
            changes: p.changes,
            signatures: p.signatures,
            more: p.more,
        })
}

/// The announcement of what changed in `doc` since `before`: changes
/// inline if small, and only for a document every member may read. The
/// others are never gossiped (they replicate by anti-entropy between nodes
/// that may read them), so their changes are not read for it: for a
/// checkpoint logging crossings, that was 14 % of the store thread's time.
pub(crate) fn announce_since<S: Storage>(
    reg: &mut Registry<S>,
    doc: &DocId,
    before: &[ChangeHash],
) -> Result<Announce, StoreError> {
    let page = if kampung_core::ReadScope::for_everyone(doc) {
        reg.changes_since(doc, before, 64 << 10)?
    } else {
        kampung_store::ChangesPage::default()
    };
    let heads = reg.doc_heads_of(doc).unwrap_or_default();
    let (changes, signatures) = if page.more {
        (Vec::new(), Vec::new())
    } else {
        (page.changes, page.signatures)
    };
    Ok(Announce {
        doc: doc.to_string(),
        heads: heads.iter().map(|h| h.0).collect(),
        changes,
        signatures,
        from_owner: true,
    })
}

pub(crate) fn sorted(mut v: Vec<ChangeHash>) -> Vec<ChangeHash> {
    v.sort_unstable();
    v
}

/// A registry owned in place, answering replication at once: for a
/// simulation that runs every node on one thread, one event at a time.
pub struct LocalReplica<S: Storage> {
    reg: Mutex<Registry<S>>,
    verifier: Arc<dyn ChangeVerifier + Send + Sync>,
}

impl<S: Storage> std::fmt::Debug for LocalReplica<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalReplica").finish_non_exhaustive()
    }
}

impl<S: Storage> LocalReplica<S> {
    pub fn new(registry: Registry<S>, verifier: Arc<dyn ChangeVerifier + Send + Sync>) -> Self {
        LocalReplica {
            reg: Mutex::new(registry),
            verifier,
        }
    }

    /// The registry, to read it or write to it as the node's own workflows do.
    pub fn registry(&self) -> MutexGuard<'_, Registry<S>> {
        self.reg.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Make a local write to `doc` with `write`, and the announcement of
    /// what it changed, as the store task makes it.
    pub fn write<T, E: From<StoreError>>(
        &self,
        doc: &DocId,
        write: impl FnOnce(&mut Registry<S>) -> Result<T, E>,
    ) -> Result<(T, Announce), E> {
        let mut reg = self.registry();
        let before = reg.doc_heads_of(doc).unwrap_or_default();
        let done = write(&mut reg)?;
        let announce = announce_since(&mut reg, doc, &before)?;
        Ok((done, announce))
    }

    /// The announcement of what changed in `doc` since `before` (a write
    /// that changed a second document: a check that opened a case).
    pub fn announce_since(
        &self,
        doc: &DocId,
        before: &[ChangeHash],
    ) -> Result<Announce, StoreError> {
        announce_since(&mut self.registry(), doc, before)
    }
}

impl<S: Storage> Replica for LocalReplica<S> {
    async fn offered(&self) -> Result<Vec<DocHeads>, ReplicaError> {
        Ok(offered_of(self.registry().offered_heads()))
    }

    async fn heads(&self, doc: &str) -> Result<Option<Vec<Hash>>, ReplicaError> {
        let id = doc_id(doc)?;
        Ok(self.registry().doc_heads_of(&id).map(from_hashes))
    }

    async fn unknown(&self, doc: &str, heads: Vec<Hash>) -> Result<Vec<Hash>, ReplicaError> {
        let id = doc_id(doc)?;
        unknown_of(&mut self.registry(), &id, to_hashes(heads))
            .map(from_hashes)
            .map_err(local)
    }

    async fn changes_since(
        &self,
        doc: &str,
        have: Vec<Hash>,
        max_bytes: usize,
    ) -> Result<SignedChanges, ReplicaError> {
        let id = doc_id(doc)?;
        changes_for(&mut self.registry(), &id, &to_hashes(have), max_bytes).map_err(local)
    }

    async fn document(
        &self,
        doc: &str,
    ) -> Result<Option<kampung_sync::SignedDocument>, ReplicaError> {
        let id = doc_id(doc)?;
        self.registry().stored_document(&id).map_err(local)
    }

    async fn apply_changes(
        &self,
        doc: &str,
        changes: Vec<Vec<u8>>,
        signatures: Vec<Vec<u8>>,
        from: &str,
    ) -> Result<Applied, ReplicaError> {
        let id = doc_id(doc)?;
        let r = self
            .registry()
            .apply_remote(&id, &changes, &signatures, self.verifier.as_ref());
        applied(r, doc, from)
    }

    async fn apply_document(
        &self,
        doc: &str,
        bytes: Vec<u8>,
        signatures: Vec<Vec<u8>>,
        from: &str,
    ) -> Result<Applied, ReplicaError> {
        let id = doc_id(doc)?;
        let r = self
            .registry()
            .apply_document(&id, &bytes, &signatures, self.verifier.as_ref());
        applied(r, doc, from)
    }
}
