//! What replication needs from the registry: heads of every document, the
//! changes a peer lacks, whole stored documents for bootstrap, and applying
//! what peers send. Every remote write is durable before it is acknowledged,
//! and brings the index along.

use std::collections::{HashMap, HashSet};

use automerge::{Change, ChangeHash, ReadDoc};
use kampung_core::banyuwangi;
use kampung_trust::{uncovered, ChangeRef, NodeKey, WriteSignature};
use tracing::{debug, warn};

use super::{heads_to_bytes, sorted, Registry};
use crate::index::Entry;
use crate::storage::{DocId, Sig, Storage};
use crate::StoreError;

/// A page of changes for a peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangesPage {
    /// Raw Automerge changes, in causal order.
    pub changes: Vec<Vec<u8>>,
    /// The write signatures that cover them (encoded [`WriteSignature`]s).
    pub signatures: Vec<Vec<u8>>,
    /// More changes remain: ask again with the heads these produce.
    pub more: bool,
}

/// What applying remote data did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteApplied {
    pub before: Vec<ChangeHash>,
    pub heads: Vec<ChangeHash>,
    /// Changes that were new to us and are now stored.
    pub new_changes: usize,
    /// Hashes some received change depends on that we do not have: pull them.
    pub missing_deps: Vec<ChangeHash>,
}

impl RemoteApplied {
    pub fn changed(&self) -> bool {
        self.before != self.heads
    }
}

/// Why remote data was refused. The data was not applied, stored or forwarded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteRefusal {
    #[error("document {0} is not one this mesh replicates")]
    UnknownDoc(String),
    #[error("change {index} of {doc} is malformed: {reason}")]
    MalformedChange {
        doc: DocId,
        index: usize,
        reason: String,
    },
    #[error("document bytes for {doc} are malformed: {reason}")]
    MalformedDocument { doc: DocId, reason: String },
    #[error("change {hash} of {doc} refused: {reason}")]
    Unauthorised {
        doc: DocId,
        hash: String,
        reason: String,
    },
    /// The only signatures that would cover a change claim a time outside
    /// their writer's tolerance (a wrong clock at the writer), or are by a
    /// writer whose certificate has not reached this node yet. Nobody's
    /// fault here: applied once a later signature covers it, the time it
    /// claims comes, or the certificate arrives.
    #[error("change {hash} of {doc} waits for a signature in force: {reason}")]
    NotYetCovered {
        doc: DocId,
        hash: String,
        reason: String,
    },
}

/// Why a write signature is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureDenied {
    pub reason: String,
    /// Not refused as forged: only for the time it claims
    /// ([`kampung_trust::Denial::is_about_time`]), or its writer's
    /// certificate has not arrived yet ([`kampung_trust::Denial::is_unknown_signer`]).
    /// The signature covers nothing for now.
    pub not_yet: bool,
}

impl SignatureDenied {
    pub fn refused(reason: impl Into<String>) -> SignatureDenied {
        SignatureDenied {
            reason: reason.into(),
            not_yet: false,
        }
    }
}

/// Decides whether a remote write may be applied (the trust layer plugs in here).
///
/// The registry asks it about each [`WriteSignature`] that comes with remote
/// changes, then applies only changes that an accepted signature of their own
/// writer covers (see [`kampung_trust::write`]).
pub trait ChangeVerifier: Sync {
    /// Accept `sig` for `doc`: it must verify, and its signer must have been
    /// allowed to write `doc` when it signed.
    fn check(&self, doc: &DocId, sig: &WriteSignature) -> Result<(), SignatureDenied>;
    /// False if everything is accepted (lets bulk paths skip reading every change).
    fn checks_anything(&self) -> bool {
        true
    }
}

/// The hash of a document's fixed genesis change, which needs no signature.
/// Making a genesis to hash it took 9 % of the store thread's time when a
/// checkpoint logged crossings (once for every page of changes): each name's
/// is made once, and kept while fewer than [`GENESES_KEPT`] are.
fn genesis_hash(doc: &DocId) -> Option<ChangeHash> {
    use std::sync::{LazyLock, Mutex, PoisonError};
    static GENESES: LazyLock<Mutex<HashMap<DocId, ChangeHash>>> = LazyLock::new(Mutex::default);
    let lock = || GENESES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(h) = lock().get(doc) {
        return Some(*h);
    }
    let hash = super::others::genesis_of(doc).and_then(|g| g.get_heads().first().copied())?;
    let mut kept = lock();
    // Names come from peers too: a bound, not a cache of every name asked.
    if kept.len() >= GENESES_KEPT {
        kept.clear();
    }
    kept.insert(doc.clone(), hash);
    Some(hash)
}

/// Genesis hashes kept at most: the regency's villages and some years of
/// crossing logs of its checkpoints.
const GENESES_KEPT: usize = 4096;

/// What the signatures that came with some changes cover.
struct Coverage {
    /// Accepted signatures, to store.
    accepted: Vec<Sig>,
    /// Changes no accepted signature of their writer covers.
    uncovered: Vec<[u8; 32]>,
    /// Why the first signature set aside for the time it claims was, if one was.
    untimely: Option<String>,
}

/// Check each signature that came with `changes` (a refused one refuses
/// them all, unless refused only for the time it claims) and which changes
/// the accepted ones cover. `held` says which changes we have.
fn coverage(
    doc: &DocId,
    changes: &[ChangeRef<'_>],
    sigs: &[Vec<u8>],
    verifier: &dyn ChangeVerifier,
    held: impl Fn(&ChangeHash) -> bool,
) -> Result<Coverage, RemoteRefusal> {
    let refused = |hash: String, reason: String| RemoteRefusal::Unauthorised {
        doc: doc.clone(),
        hash,
        reason,
    };
    let mut accepted = Vec::with_capacity(sigs.len());
    let mut signed: Vec<([u8; 32], NodeKey)> = Vec::with_capacity(sigs.len());
    let mut untimely: Option<String> = None;
    for bytes in sigs {
        let sig = WriteSignature::decode(bytes).map_err(|e| RemoteRefusal::MalformedChange {
            doc: doc.clone(),
            index: 0,
            reason: format!("write signature: {e}"),
        })?;
        if sig.doc != doc.as_str() {
            return Err(refused(
                hex(&sig.change),
                format!("its signature is for document {}", sig.doc),
            ));
        }
        if verifier.checks_anything() {
            match verifier.check(doc, &sig) {
                Ok(()) => {}
                Err(d) if d.not_yet => {
                    untimely.get_or_insert(d.reason);
                    continue;
                }
                Err(d) => return Err(refused(hex(&sig.change), d.reason)),
            }
        }
        signed.push((sig.change, sig.signer));
        accepted.push((sig.change, bytes.clone()));
    }
    let uncovered = if verifier.checks_anything() {
        let genesis = genesis_hash(doc);
        uncovered(changes, &signed, |h, _| {
            let h = ChangeHash(*h);
            Some(h) == genesis || held(&h)
        })
    } else {
        Vec::new()
    };
    Ok(Coverage {
        accepted,
        uncovered,
        untimely,
    })
}

/// Check remote changes against the signatures that came with them.
/// Returns the accepted signatures to store. `held` says which changes we have.
fn verify_changes(
    doc: &DocId,
    changes: &[ChangeRef<'_>],
    sigs: &[Vec<u8>],
    verifier: &dyn ChangeVerifier,
    held: impl Fn(&ChangeHash) -> bool,
) -> Result<Vec<Sig>, RemoteRefusal> {
    let c = coverage(doc, changes, sigs, verifier, held)?;
    match (c.uncovered.first(), c.untimely) {
        (None, _) => Ok(c.accepted),
        (Some(first), Some(reason)) => Err(RemoteRefusal::NotYetCovered {
            doc: doc.clone(),
            hash: hex(first),
            reason,
        }),
        (Some(first), None) => Err(RemoteRefusal::Unauthorised {
            doc: doc.clone(),
            hash: hex(first),
            reason: format!(
                "no valid signature of its writer covers it ({} change(s) unsigned)",
                c.uncovered.len()
            ),
        }),
    }
}

/// A whole stored document and every write signature of it.
pub type SignedDocument = (Vec<u8>, Vec<Vec<u8>>);

/// (hash, actor, deps) of changes, owned, for [`ChangeRef`]s.
pub(crate) type OwnedRef = ([u8; 32], Vec<u8>, Vec<[u8; 32]>);

/// What coverage needs of each change of a document, from its metadata
/// (cheaper than decoding the changes).
pub(crate) fn meta_refs(metas: &[automerge::ChangeMetadata<'_>]) -> Vec<OwnedRef> {
    metas
        .iter()
        .map(|m| {
            (
                m.hash.0,
                m.actor.to_bytes().to_vec(),
                m.deps.iter().map(|d| d.0).collect(),
            )
        })
        .collect()
}

pub(crate) fn as_refs(owned: &[OwnedRef]) -> Vec<ChangeRef<'_>> {
    owned
        .iter()
        .map(|(hash, actor, deps)| ChangeRef {
            hash: *hash,
            actor,
            deps,
        })
        .collect()
}

fn change_refs(changes: &[Change]) -> Vec<OwnedRef> {
    changes
        .iter()
        .map(|c| {
            (
                c.hash().0,
                c.actor_id().to_bytes().to_vec(),
                c.deps().iter().map(|d| d.0).collect(),
            )
        })
        .collect()
}

/// Dependencies of `changes` found neither among them nor by `known`.
///
/// Changes are applied only when none is missing: Automerge would queue the
/// others in memory, out of storage's sight, and apply them later when their
/// dependency comes, after their write signatures had been dropped (they
/// were not in the document then), so that this node would hold, and serve,
/// changes no signature covers. The sender is asked for what is missing instead.
fn missing_deps(changes: &[Change], known: impl Fn(&ChangeHash) -> bool) -> Vec<ChangeHash> {
    let batch: HashSet<ChangeHash> = changes.iter().map(Change::hash).collect();
    let mut missing: Vec<ChangeHash> = changes
        .iter()
        .flat_map(|c| c.deps().iter().copied())
        .filter(|d| !batch.contains(d) && !known(d))
        .collect();
    missing.sort_unstable();
    missing.dedup();
    missing
}

/// What applying nothing yet, for want of `missing`, did.
fn waiting_for(heads: Vec<ChangeHash>, missing: Vec<ChangeHash>) -> RemoteApplied {
    RemoteApplied {
        before: heads.clone(),
        heads,
        new_changes: 0,
        missing_deps: missing,
    }
}

fn hex(h: &[u8; 32]) -> String {
    ChangeHash(*h).to_string()
}

/// A whole document received from a peer, loaded, verified and read, ready to apply.
#[derive(Debug)]
pub struct PreparedDocument {
    id: DocId,
    village: kampung_core::VillageCode,
    doc: crate::doc::VillageDoc,
    entries: Vec<(kampung_core::Nik, Option<Entry>)>,
    bytes: Vec<u8>,
    sigs: Vec<Sig>,
}

impl PreparedDocument {
    pub fn doc_id(&self) -> &DocId {
        &self.id
    }
}

/// The expensive part of taking a whole document from a peer (Automerge load,
/// verification, reading every record), which needs no registry: run it off
/// the store's thread, in parallel with other documents.
pub fn prepare_document(
    doc: &DocId,
    bytes: Vec<u8>,
    sigs: &[Vec<u8>],
    verifier: &dyn ChangeVerifier,
) -> Result<PreparedDocument, RemoteRefusal> {
    let Some(village) = doc.as_card() else {
        return Err(RemoteRefusal::UnknownDoc(doc.to_string()));
    };
    let malformed = |reason: String| RemoteRefusal::MalformedDocument {
        doc: doc.clone(),
        reason,
    };
    let mut incoming =
        crate::doc::VillageDoc::load_part(crate::doc::Part::Card, village, Some(&bytes), [])
            .map_err(|e| malformed(e.to_string()))?;
    let mut bytes = bytes;
    let sigs = if verifier.checks_anything() {
        let metas = incoming.automerge().get_changes_meta(&[]);
        let owned = meta_refs(&metas);
        let refs = as_refs(&owned);
        match verify_changes(doc, &refs, sigs, verifier, |_| false) {
            Ok(sigs) => sigs,
            Err(RemoteRefusal::NotYetCovered { .. }) => {
                // A writer signed its newest changes with a wrong clock: take
                // everything else now (a late checkpoint must not wait hours
                // to know a village); those changes come when covered.
                let c = coverage(doc, &refs, sigs, verifier, |_| false)?;
                let covered = covered_part(doc, village, &incoming, &metas, &c)?;
                drop(refs);
                incoming = covered;
                bytes = incoming.save();
                c.accepted
                    .into_iter()
                    .filter(|(h, _)| {
                        incoming
                            .automerge()
                            .get_change_meta_by_hash(&ChangeHash(*h))
                            .is_some()
                    })
                    .collect()
            }
            Err(e) => return Err(e),
        }
    } else {
        verify_changes(doc, &[], sigs, verifier, |_| false)?
    };
    let mut entries = Vec::with_capacity(incoming.len());
    for r in incoming.residents() {
        match r {
            Ok(r) => entries.push((r.nik, Entry::from_resident(&r))),
            Err(e) => warn!(%village, error = %e, "unreadable record from a peer; not indexed"),
        }
    }
    Ok(PreparedDocument {
        id: doc.clone(),
        village,
        doc: incoming,
        entries,
        bytes,
        sigs,
    })
}

/// The part of `incoming` its accepted signatures cover: every change but
/// the uncovered ones and those built on them. Still `NotYetCovered` if
/// that leaves nothing beyond the genesis.
fn covered_part(
    doc: &DocId,
    village: kampung_core::VillageCode,
    incoming: &crate::doc::VillageDoc,
    metas: &[automerge::ChangeMetadata<'_>],
    c: &Coverage,
) -> Result<crate::doc::VillageDoc, RemoteRefusal> {
    let waiting: HashSet<[u8; 32]> = c.uncovered.iter().copied().collect();
    let mut gone: HashSet<ChangeHash> = HashSet::new();
    for m in metas {
        if waiting.contains(&m.hash.0) || m.deps.iter().any(|d| gone.contains(d)) {
            gone.insert(m.hash);
        }
    }
    let genesis = genesis_hash(doc);
    let kept: Vec<Vec<u8>> = incoming
        .automerge()
        .get_changes(&[])
        .into_iter()
        .filter(|ch| !gone.contains(&ch.hash()) && Some(ch.hash()) != genesis)
        .map(|ch| ch.raw_bytes().to_vec())
        .collect();
    if kept.is_empty() {
        return Err(RemoteRefusal::NotYetCovered {
            doc: doc.clone(),
            hash: c.uncovered.first().map(hex).unwrap_or_default(),
            reason: c.untimely.clone().unwrap_or_default(),
        });
    }
    crate::doc::VillageDoc::load_part(
        crate::doc::Part::Card,
        village,
        None,
        kept.iter().map(Vec::as_slice),
    )
    .map_err(|e| RemoteRefusal::MalformedDocument {
        doc: doc.clone(),
        reason: e.to_string(),
    })
}

/// The changes of a whole crossing log or case received from a peer, to
/// apply (and verify) one by one like any changes: these documents are small.
pub fn document_changes(doc: &DocId, bytes: &[u8]) -> Result<Vec<Vec<u8>>, RemoteRefusal> {
    let am = crate::doc::guarded(|| Ok(automerge::Automerge::load(bytes)?)).map_err(|e| {
        RemoteRefusal::MalformedDocument {
            doc: doc.clone(),
            reason: e.to_string(),
        }
    })?;
    crate::doc::guarded(|| {
        Ok(am
            .get_changes(&[])
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect())
    })
    .map_err(|e| RemoteRefusal::MalformedDocument {
        doc: doc.clone(),
        reason: e.to_string(),
    })
}

/// Accepts every well-formed change.
#[derive(Debug, Clone, Copy, Default)]
pub struct AcceptAll;

impl ChangeVerifier for AcceptAll {
    fn check(&self, _doc: &DocId, _sig: &WriteSignature) -> Result<(), SignatureDenied> {
        Ok(())
    }
    fn checks_anything(&self) -> bool {
        false
    }
}

impl<S: Storage> Registry<S> {
    /// Every document we hold with its current heads, sorted by document.
    pub fn doc_heads(&self) -> Vec<(DocId, Vec<ChangeHash>)> {
        let mut out: Vec<_> = self
            .lookups
            .read()
            .indexed
            .iter()
            .map(|(v, h)| (DocId::card(*v), sorted(h)))
            .chain(self.other_heads())
            .collect();
        out.sort();
        out
    }

    /// The heads of one document, if we hold it.
    pub fn doc_heads_of(&self, doc: &DocId) -> Option<Vec<ChangeHash>> {
        if doc.as_card().is_none() {
            return match self.others.get(doc) {
                Some(o) => Some(sorted(&o.am.get_heads())),
                None => self.cold.get(doc).map(|c| c.heads.clone()),
            };
        }
        let village = doc.as_card()?;
        self.lookups.read().indexed.get(&village).map(|h| sorted(h))
    }

    /// The changes of `doc` a peer with heads `have` lacks, at most about
    /// `max_bytes` (always at least one change, so progress is made).
    pub fn changes_since(
        &mut self,
        doc: &DocId,
        have: &[ChangeHash],
        max_bytes: usize,
    ) -> Result<ChangesPage, StoreError> {
        let genesis = genesis_hash(doc);
        let storage = self.storage.clone();
        let Some(village) = doc.as_card() else {
            self.hold(doc)?;
            return match self.others.get(doc) {
                Some(o) => page_of(&o.am, &o.signed, (&*storage, doc), genesis, have, max_bytes),
                None => Ok(ChangesPage::default()),
            };
        };
        if !self.lookups.read().indexed.contains_key(&village) {
            return Ok(ChangesPage::default());
        }
        let loaded = self.doc(village)?;
        page_of(
            loaded.doc.automerge(),
            &loaded.signed,
            (&*storage, doc),
            genesis,
            have,
            max_bytes,
        )
    }
}

/// The changes a peer with `have` lacks, at most about `max_bytes`, ending
/// at a signed point (see [`Registry::changes_since`]).
fn page_of<S: Storage>(
    am: &automerge::Automerge,
    signed: &super::signed::Signed,
    (storage, id): (&S, &DocId),
    genesis: Option<ChangeHash>,
    have: &[ChangeHash],
    max_bytes: usize,
) -> Result<ChangesPage, StoreError> {
    {
        // Hashes the peer has that we do not know cannot serve as a base.
        let mut known: Vec<ChangeHash> = have
            .iter()
            .copied()
            .filter(|h| am.get_change_meta_by_hash(h).is_some())
            .collect();
        // Every node makes the genesis itself: never send it.
        if known.is_empty() {
            known.extend(genesis.filter(|g| am.get_change_meta_by_hash(g).is_some()));
        }
        let changes = am.get_changes(&known);
        // A page may end only where every writer's last change in it is signed
        // (a "closed" cut), or the receiver could not check what it got.
        // Documents with no signatures at all (an unsigned test mesh) cut anywhere.
        let mut unsigned_tail: HashMap<Vec<u8>, bool> = HashMap::new();
        let mut open = 0usize;
        let mut last_cut = 0usize;
        let mut bytes = 0usize;
        let mut end = changes.len();
        for (i, change) in changes.iter().enumerate() {
            let len = change.raw_bytes().len();
            if i > 0 && bytes + len > max_bytes {
                if signed.is_empty() {
                    end = i;
                    break;
                }
                if last_cut > 0 {
                    end = last_cut;
                    break;
                }
            }
            bytes += len;
            let hash = change.hash();
            let is_signed = signed.contains(&hash) || Some(hash) == genesis;
            let writer = kampung_trust::writer_of_actor(change.actor_id().to_bytes());
            let was = unsigned_tail.insert(writer.to_vec(), !is_signed);
            match (was.unwrap_or(false), !is_signed) {
                (false, true) => open += 1,
                (true, false) => open -= 1,
                _ => {}
            }
            if open == 0 {
                last_cut = i + 1;
            }
        }
        let hashes: Vec<ChangeHash> = changes[..end].iter().map(|c| c.hash()).collect();
        Ok(ChangesPage {
            more: end < changes.len(),
            signatures: signed.of(&hashes, storage, id)?,
            changes: changes[..end]
                .iter()
                .map(|c| c.raw_bytes().to_vec())
                .collect(),
        })
    }
}

impl<S: Storage> Registry<S> {
    /// Which of `heads` the document `doc` does not contain.
    pub fn unknown_hashes(
        &mut self,
        doc: &DocId,
        heads: &[ChangeHash],
    ) -> Result<Vec<ChangeHash>, StoreError> {
        if doc.as_card().is_none() {
            return Ok(match (self.others.get(doc), self.cold.get(doc)) {
                (Some(o), _) => heads
                    .iter()
                    .copied()
                    .filter(|h| o.am.get_change_meta_by_hash(h).is_none())
                    .collect(),
                // Not loaded for this: a head we lack is worth a pull, and
                // one we hold below our heads costs an empty page.
                (None, Some(c)) => heads
                    .iter()
                    .copied()
                    .filter(|h| !c.heads.contains(h))
                    .collect(),
                (None, None) => heads.to_vec(),
            });
        }
        let Some(village) = doc
            .as_card()
            .filter(|v| self.lookups.read().indexed.contains_key(v))
        else {
            return Ok(heads.to_vec());
        };
        let loaded = self.doc(village)?;
        let am = loaded.doc.automerge();
        Ok(heads
            .iter()
            .copied()
            .filter(|h| am.get_change_meta_by_hash(h).is_none())
            .collect())
    }

    /// The whole stored document (snapshot and chunks, concatenated): what a
    /// new node loads to bootstrap, with no Automerge work on this side.
    pub fn stored_document(&self, doc: &DocId) -> Result<Option<SignedDocument>, StoreError> {
        let Some(stored) = self.storage.load(doc)? else {
            return Ok(None);
        };
        let sigs = stored.signatures.into_iter().map(|(_, s)| s).collect();
        // Without a snapshot, the chunks build on the genesis every node can make.
        let mut out = match (stored.snapshot, super::others::genesis_of(doc)) {
            (Some(snapshot), _) => snapshot,
            (None, Some(genesis)) => genesis.save(),
            (None, None) => automerge::Automerge::new().save(),
        };
        for (_, chunk) in stored.chunks {
            out.extend_from_slice(&chunk);
        }
        Ok(Some((out, sigs)))
    }

    /// Apply changes received from a peer, with the write signatures that
    /// came with them. Every change new to us must be covered by a signature
    /// `verifier` accepts; if any change is malformed or not covered, nothing
    /// is applied.
    pub fn apply_remote(
        &mut self,
        doc: &DocId,
        raw: &[Vec<u8>],
        sigs: &[Vec<u8>],
        verifier: &dyn ChangeVerifier,
    ) -> Result<Result<RemoteApplied, RemoteRefusal>, StoreError> {
        if doc.kind().is_none() {
            return Ok(Err(RemoteRefusal::UnknownDoc(doc.to_string())));
        }
        if self.expired(doc) {
            // Past the policy's retention here: let go, not taken back.
            return Ok(Ok(RemoteApplied::default()));
        }
        let mut changes = Vec::with_capacity(raw.len());
        for (index, bytes) in raw.iter().enumerate() {
            match Change::try_from(bytes.as_slice()) {
                Ok(c) => changes.push(c),
                Err(e) => {
                    return Ok(Err(RemoteRefusal::MalformedChange {
                        doc: doc.clone(),
                        index,
                        reason: e.to_string(),
                    }))
                }
            }
        }
        let Some(village) = doc.as_card() else {
            return self.apply_other(doc, changes, sigs, verifier);
        };
        let location = self.storage.location();
        let loaded = self.doc(village)?;
        let am = loaded.doc.automerge();
        changes.retain(|c| am.get_change_meta_by_hash(&c.hash()).is_none());
        let owned = change_refs(&changes);
        let refs = as_refs(&owned);
        let accepted = match verify_changes(doc, &refs, sigs, verifier, |h| {
            am.get_change_meta_by_hash(h).is_some()
        }) {
            Ok(a) => a,
            Err(refusal) => return Ok(Err(refusal)),
        };
        drop(refs);
        let before = loaded.doc.heads();
        let missing = missing_deps(&changes, |h| am.get_change_meta_by_hash(h).is_some());
        if !missing.is_empty() {
            return Ok(Ok(waiting_for(before, missing)));
        }
        if let Err(e) = loaded.doc.apply_changes(changes) {
            self.docs.remove(&village);
            return Ok(Err(RemoteRefusal::MalformedChange {
                doc: doc.clone(),
                index: 0,
                reason: format!("{e} (at {location})"),
            }));
        }
        self.store_remote(village, before, None, accepted)
    }

    /// [`Registry::apply_remote`] for crossing logs and cases.
    fn apply_other(
        &mut self,
        doc: &DocId,
        mut changes: Vec<Change>,
        sigs: &[Vec<u8>],
        verifier: &dyn ChangeVerifier,
    ) -> Result<Result<RemoteApplied, RemoteRefusal>, StoreError> {
        if let Some(applied) = self.append_cold(doc, &changes, sigs, verifier)? {
            return Ok(applied);
        }
        self.hold(doc)?;
        let genesis = super::others::genesis_of(doc);
        let created = !self.others.contains_key(doc);
        let other = self
            .others
            .entry(doc.clone())
            .or_insert_with(|| super::others::Other {
                am: genesis.unwrap_or_default(),
                ..Default::default()
            });
        let am = &other.am;
        changes.retain(|c| am.get_change_meta_by_hash(&c.hash()).is_none());
        let refs = change_refs(&changes);
        let refs: Vec<ChangeRef<'_>> = refs
            .iter()
            .map(|(h, a, d)| ChangeRef {
                hash: *h,
                actor: a,
                deps: d,
            })
            .collect();
        let accepted = match verify_changes(doc, &refs, sigs, verifier, |h| {
            am.get_change_meta_by_hash(h).is_some()
        }) {
            Ok(a) => a,
            Err(refusal) => {
                if created {
                    self.others.remove(doc);
                }
                return Ok(Err(refusal));
            }
        };
        drop(refs);
        let before = other.am.get_heads();
        let missing = missing_deps(&changes, |h| other.am.get_change_meta_by_hash(h).is_some());
        if !missing.is_empty() {
            if created {
                self.others.remove(doc);
            }
            return Ok(Ok(waiting_for(before, missing)));
        }
        // Automerge 0.12 can panic on a malformed change (found by fuzzing).
        let am = &mut other.am;
        if let Err(e) = crate::doc::guarded(|| Ok(am.apply_changes(changes)?)) {
            // Reload what is stored: the in-memory document may be half-applied.
            self.others.remove(doc);
            self.load_others()?;
            return Ok(Err(RemoteRefusal::MalformedChange {
                doc: doc.clone(),
                index: 0,
                reason: e.to_string(),
            }));
        }
        let missing_deps = self
            .others
            .get(doc)
            .map(|o| o.am.get_missing_deps(&[]))
            .unwrap_or_default();
        let new_changes = self
            .others
            .get(doc)
            .map_or(0, |o| o.am.get_changes(&before).len());
        let heads = self.store_other(doc, &before, accepted)?;
        if heads.is_empty() {
            // Only changes waiting for a case's opening: hold nothing yet.
            self.others.remove(doc);
        }
        self.release_log(doc);
        Ok(Ok(RemoteApplied {
            before,
            heads,
            new_changes,
            missing_deps,
        }))
    }

    /// Changes for a cold crossing log that extend its heads (each depends
    /// only on its heads and on each other), checked and appended to the
    /// store as they came, without loading the log. `None`: not such
    /// changes, or the log is not cold; apply them to the loaded log.
    fn append_cold(
        &mut self,
        doc: &DocId,
        changes: &[Change],
        sigs: &[Vec<u8>],
        verifier: &dyn ChangeVerifier,
    ) -> Result<Option<Result<RemoteApplied, RemoteRefusal>>, StoreError> {
        let Some(cold) = self.cold.get(doc) else {
            return Ok(None);
        };
        if cold.chunks >= super::COMPACT_AFTER_CHUNKS {
            // Load it once, and compact it as it is stored.
            return Ok(None);
        }
        let before = cold.heads.clone();
        let heads: HashSet<ChangeHash> = before.iter().copied().collect();
        // The genesis every node makes itself may come along (a peer that
        // knew none of our heads sends everything).
        let genesis = genesis_hash(doc);
        let new: Vec<&Change> = changes
            .iter()
            .filter(|c| !heads.contains(&c.hash()) && Some(c.hash()) != genesis)
            .collect();
        if new.is_empty() {
            return Ok(Some(Ok(RemoteApplied {
                heads: before.clone(),
                before,
                ..Default::default()
            })));
        }
        let batch: HashSet<ChangeHash> = new.iter().map(|c| c.hash()).collect();
        // Every change built on our heads or on each other (so none is one
        // we hold below our heads: that one would be built on an older
        // change, or on none).
        let extends = new.iter().all(|c| {
            !c.deps().is_empty()
                && c.deps()
                    .iter()
                    .all(|d| heads.contains(d) || batch.contains(d))
        });
        if !extends || batch.len() != new.len() {
            return Ok(None);
        }
        let owned: Vec<Change> = new.iter().map(|c| (*c).clone()).collect();
        let owned_refs = change_refs(&owned);
        let refs = as_refs(&owned_refs);
        let accepted = match verify_changes(doc, &refs, sigs, verifier, |h| heads.contains(h)) {
            Ok(a) => a,
            Err(refusal) => return Ok(Some(Err(refusal))),
        };
        let built_on: HashSet<ChangeHash> =
            new.iter().flat_map(|c| c.deps().iter().copied()).collect();
        let after = sorted(
            &heads
                .iter()
                .chain(batch.iter())
                .copied()
                .filter(|h| !built_on.contains(h))
                .collect::<Vec<_>>(),
        );
        let chunk: Vec<u8> = new
            .iter()
            .flat_map(|c| c.raw_bytes().iter().copied())
            .collect();
        let stored = self
            .storage
            .append(doc, &chunk, &heads_to_bytes(&after), &accepted)
            .and_then(|_| self.make_durable());
        if let Err(e) = stored {
            // Read the heads again from what storage holds.
            self.cold.remove(doc);
            if !self.storage.needs_recovery() {
                if let Ok(heads) = self.stored_heads(doc) {
                    self.cold.insert(
                        doc.clone(),
                        super::others::Cold {
                            heads: sorted(&heads),
                            chunks: 0,
                        },
                    );
                }
            }
            return Err(e);
        }
        if let Some(c) = self.cold.get_mut(doc) {
            c.heads = after.clone();
            c.chunks += 1;
        }

        debug!(doc = %doc, changes = new.len(), bytes = chunk.len(), "appended to a cold crossing log");
        Ok(Some(Ok(RemoteApplied {
            before,
            heads: after,
            new_changes: new.len(),
            missing_deps: Vec::new(),
        })))
    }

    /// Merge a whole document received from a peer (bootstrap):
    /// [`prepare_document`] then [`Registry::apply_prepared`].
    pub fn apply_document(
        &mut self,
        doc: &DocId,
        bytes: &[u8],
        sigs: &[Vec<u8>],
        verifier: &dyn ChangeVerifier,
    ) -> Result<Result<RemoteApplied, RemoteRefusal>, StoreError> {
        if self.expired(doc) {
            return Ok(Ok(RemoteApplied::default()));
        }
        if doc.as_card().is_none() {
            return match document_changes(doc, bytes) {
                Ok(changes) => self.apply_remote(doc, &changes, sigs, verifier),
                Err(refusal) => Ok(Err(refusal)),
            };
        }
        match prepare_document(doc, bytes.to_vec(), sigs, verifier) {
            Ok(prepared) => self.apply_prepared(prepared),
            Err(refusal) => Ok(Err(refusal)),
        }
    }

    /// Apply a document prepared (loaded, verified, read) off the store's thread.
    pub fn apply_prepared(
        &mut self,
        prepared: PreparedDocument,
    ) -> Result<Result<RemoteApplied, RemoteRefusal>, StoreError> {
        let PreparedDocument {
            id,
            village,
            doc: incoming,
            entries,
            bytes,
            sigs,
        } = prepared;
        let loaded = self.doc(village)?;
        let before = loaded.doc.heads();
        if sorted(&before) == sorted(&incoming.heads()) {
            return Ok(Ok(RemoteApplied {
                heads: before.clone(),
                before,
                ..Default::default()
            }));
        }
        if loaded.doc.automerge().get_changes(&[]).len() > 1 {
            // We hold changes of our own: merge, and catch the index up from the diff.
            if let Err(e) = loaded.doc.load_incremental(&bytes) {
                self.docs.remove(&village);
                return Ok(Err(RemoteRefusal::MalformedDocument {
                    doc: id,
                    reason: e.to_string(),
                }));
            }
            return self.store_remote(village, before, None, sigs);
        }
        // We hold only the genesis: take the incoming document and its
        // already-read records, and store its bytes as they came (compressed).
        let heads = incoming.heads();
        let new_changes = incoming.automerge().get_changes(&before).len();
        loaded.doc = incoming;
        loaded.chunks = 0;
        loaded.chunk_bytes = 0;
        loaded.signed.add(&sigs);
        let stored = self
            .storage
            .replace(&id, &bytes, &heads_to_bytes(&heads), &sigs)
            .and_then(|()| self.storage.flush());
        self.rewritten(&id);
        if let Err(e) = stored {
            self.docs.remove(&village);
            return Err(e);
        }
        let ordinal = banyuwangi::village(village).map_or(0, |v| v.ordinal);
        {
            let mut lookups = self.lookups.write();
            lookups.index.clear_village(ordinal);
            for (nik, entry) in entries {
                lookups.index.set(nik, ordinal, entry);
            }
            lookups.set_indexed(village, heads.clone());
        }
        self.card_arrived(village);
        debug!(%village, changes = new_changes, bytes = bytes.len(), "document bootstrapped");
        Ok(Ok(RemoteApplied {
            before,
            heads,
            new_changes,
            missing_deps: Vec::new(),
        }))
    }

    /// Persist what a remote apply added, and bring the index along.
    /// With `whole`, the document now equals those bytes: store them as the snapshot.
    fn store_remote(
        &mut self,
        village: kampung_core::VillageCode,
        before: Vec<ChangeHash>,
        whole: Option<&[u8]>,
        sigs: Vec<Sig>,
    ) -> Result<Result<RemoteApplied, RemoteRefusal>, StoreError> {
        let location = self.storage.location();
        let Some(loaded) = self.docs.get_mut(&village) else {
            return Err(StoreError::Io {
                location,
                reason: "document cache lost an entry".into(),
            });
        };
        let heads = loaded.doc.heads();
        let missing_deps = loaded.doc.automerge().get_missing_deps(&[]);
        let am = loaded.doc.automerge();
        // Keep the signatures of changes we now hold and did not have signed.
        let sigs: Vec<Sig> = sigs
            .into_iter()
            .filter(|(h, _)| {
                let h = ChangeHash(*h);
                !loaded.signed.contains(&h) && am.get_change_meta_by_hash(&h).is_some()
            })
            .collect();
        loaded.signed.add(&sigs);
        let mut applied = RemoteApplied {
            before: before.clone(),
            heads: heads.clone(),
            new_changes: 0,
            missing_deps,
        };
        if heads == before {
            return Ok(Ok(applied));
        }
        let chunk = match whole {
            Some(_) => Vec::new(),
            None => loaded.doc.save_after(&before),
        };
        applied.new_changes = loaded.doc.automerge().get_changes(&before).len();
        let touched = loaded.doc.touched_since(&before);
        let mut updates = Vec::new();
        match touched {
            Ok(niks) => {
                for nik in niks {
                    match loaded.doc.get(nik) {
                        Ok(r) => updates.push((nik, r.as_ref().and_then(Entry::from_resident))),
                        Err(e) => {
                            warn!(%village, %nik, error = %e, "unreadable record from a peer; not indexed")
                        }
                    }
                }
            }
            Err(e) => {
                warn!(%village, error = %e, "cannot diff a remote change; index may lag until rebuild")
            }
        }
        let id = DocId::card(village);
        if whole.is_some() {
            self.rewritten(&id);
        }
        let stored = match whole {
            Some(bytes) => self
                .storage
                .replace(&id, bytes, &heads_to_bytes(&heads), &sigs)
                .map(|()| None),
            None => self
                .storage
                .append(&id, &chunk, &heads_to_bytes(&heads), &sigs)
                .map(Some),
        }
        .and_then(|seq| self.storage.flush().map(|()| seq));
        let seq = match stored {
            Ok(seq) => seq,
            Err(e) => {
                self.docs.remove(&village);
                return Err(e);
            }
        };
        if let (Some(l), Some(seq)) = (self.docs.get_mut(&village), seq) {
            l.chunks += 1;
            l.chunk_bytes += chunk.len();
            l.last_seq = seq;
        }
        let ordinal = banyuwangi::village(village).map_or(0, |v| v.ordinal);
        {
            let mut lookups = self.lookups.write();
            for (nik, entry) in updates {
                lookups.index.set(nik, ordinal, entry);
            }
            lookups.set_indexed(village, heads);
        }
        self.card_arrived(village);
        debug!(%village, changes = applied.new_changes, bytes = chunk.len(), "remote changes stored");
        self.maybe_compact(village);
        Ok(Ok(applied))
    }
}
