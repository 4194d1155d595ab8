//! The auditor's check of a node's store: every stored change of every
//! document was made by a writer allowed to make it, no change graph has a
//! hole, and the index equals the documents.
//!
//! Honest nodes verify each change before they apply it (see
//! [`crate::registry::ChangeVerifier`]); the audit checks afterwards, from the
//! stored bytes alone, that this really held: it trusts nothing the node
//! computed at write time except what a signature proves.
//!
//! For each document it loads the stored snapshot and chunks into a plain
//! Automerge document and
//! - checks every stored [`WriteSignature`]: it decodes, it signs the change
//!   it is stored under, it verifies, it is not dated in the future, and (with
//!   the mesh's root) its signer's certificate allowed writing this document
//!   when it signed ([`Roster::may_write`], which also applies revocations);
//! - requires every change to be covered by such a signature of its own
//!   writer ([`kampung_trust::uncovered`]); the deterministic genesis change of
//!   a village document or crossing log, which every node makes itself, is
//!   accepted only if its hash equals the one computed here;
//! - checks the change graph is complete and reaches the recorded heads.
//!
//! Without a root key the signatures are still checked, but who was allowed
//! to write cannot be: the report then fails, and says so.
//!
//! ```
//! use std::sync::Arc;
//! use kampung_store::{audit, storage::MemoryStorage, Registry};
//! use kampung_trust::{Certificate, NodeKey, RoleKind, Signed, Statement};
//! use libp2p_identity::Keypair;
//!
//! let root = Keypair::generate_ed25519();
//! let node = Keypair::generate_ed25519();
//! let village = kampung_core::VillageCode::parse("35.10.15.2012").unwrap();
//! let storage = Arc::new(MemoryStorage::new());
//! let cert = Signed::sign(Statement::Certificate(Certificate {
//!     node: NodeKey::from_public(&node.public()).unwrap(),
//!     role: RoleKind::Village,
//!     village: Some(village),
//!     label: "Kantor Desa Kampunganyar".into(),
//!     not_before_ms: 0,
//!     until_ms: i64::MAX,
//! }), &root).unwrap();
//! let mut roster = kampung_trust::Roster::new(NodeKey::from_public(&root.public()).unwrap());
//! kampung_store::trust::add_statement(&storage, &mut roster, cert).unwrap().unwrap();
//!
//! let mut reg = Registry::open(storage.clone(), automerge::ActorId::from(vec![0u8; 32]), 2026).unwrap();
//! reg.set_signer(Arc::new(node));
//! let people = kampung_gen::village_residents(village, 5, 1);
//! reg.write(village, &people, 1_000_000, &mut |_| {}).unwrap();
//! drop(reg);
//!
//! let report = audit::audit(&storage, Some(roster.root()), 2_000_000, 2026).unwrap();
//! assert!(report.ok, "{report:?}");
//! assert_eq!(report.documents[0].changes, 6); // the genesis and one per resident
//! ```

use std::collections::{BTreeMap, HashSet};

use automerge::{ActorId, Automerge, ChangeHash, ReadDoc, ROOT};
use kampung_trust::{
    uncovered, writer_of_actor, Certificate, NodeKey, RoleKind, Roster, Statement, WriteSignature,
    MAX_CLOCK_SKEW_MS,
};
use serde::{Deserialize, Serialize};

use crate::crossing::CrossingLog;
use crate::doc::VillageDoc;
use crate::registry::heads_from_bytes;
use crate::storage::{DocId, DocKind, Sig, Storage, StoredDoc};
use crate::trust::{load_roster, write_target};
use crate::{Registry, StoreError};

/// Most change hashes listed in one failure (the count says how many in all).
pub const MAX_LISTED: usize = 10;

/// What went wrong. The names are stable, for machines reading `--json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureKind {
    /// No root key configured: who was allowed to write could not be checked.
    NoRoot,
    /// A document name of no known kind.
    UnknownDocument,
    /// The stored bytes do not load as an Automerge document.
    Unreadable,
    /// The document is not the one its name says (another village, checkpoint or case).
    WrongContent,
    /// A change depends on a change that is not stored.
    IncompleteGraph,
    /// The stored changes do not reach the heads recorded with the last write.
    HeadsMismatch,
    /// A stored write signature does not decode, or is stored under another change.
    MalformedSignature,
    /// A write signature that does not verify (altered, or not by its claimed signer).
    BadSignature,
    /// A valid signature whose signer was not allowed to write this document then.
    NotAuthorised,
    /// Changes no valid, authorised signature of their writer covers.
    Unsigned,
    /// The index differs from the documents, or could not be checked.
    Index,
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub kind: FailureKind,
    /// The document, if the problem is in one.
    pub doc: Option<String>,
    /// The writer or signer concerned (peer id), if one is.
    pub writer: Option<String>,
    /// Change hashes concerned (at most [`MAX_LISTED`]).
    pub changes: Vec<String>,
    /// How many changes are concerned in all.
    pub count: usize,
    pub message: String,
}

/// Someone who wrote changes, with what their certificate says of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Writer {
    /// Peer id (or, for an actor that is no node key, its text or hex).
    pub writer: String,
    /// From the writer's certificate (the one in force at its last change,
    /// else its latest), if the roster has one.
    pub role: Option<RoleKind>,
    pub village: Option<String>,
    pub label: Option<String>,
    pub changes: usize,
    /// Documents written (in the summary over all documents).
    pub documents: usize,
    /// Time of the writer's first and last change, unix seconds (as the
    /// writer's clock recorded them in the changes).
    pub first_s: i64,
    pub last_s: i64,
}

/// The changes one person (or the node itself) made at one node, as the
/// changes name them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonWrites {
    /// The node (peer id): the change's own actor.
    pub writer: String,
    /// The person's account (or token) id at that node; `None`: the node
    /// itself (its own machine, or a write from before sign-in existed).
    pub person_id: Option<String>,
    pub person: Option<String>,
    pub changes: usize,
    pub documents: usize,
    pub first_s: i64,
    pub last_s: i64,
}

/// The audit of one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocReport {
    pub doc: String,
    pub ok: bool,
    /// Changes in the document (including its genesis, if it has one).
    pub changes: usize,
    /// The document's deterministic genesis change is present and is the expected one.
    pub genesis: bool,
    pub heads: Vec<String>,
    /// Stored write signatures checked.
    pub signatures: usize,
    /// ...of which verified (and, with a root, were authorised).
    pub signatures_valid: usize,
    /// ...of which sign a change this document does not hold (harmless, counted only).
    pub signatures_unused: usize,
    /// Signatures refused only for the time they claim, as a writer whose
    /// clock was off makes them (after the audit's time, or outside the
    /// signer's certificate): they cover nothing; the changes they signed
    /// pass only if another signature of the writer covers them.
    pub signatures_clock_off: usize,
    pub writers: Vec<Writer>,
    /// Who, at each writing node, made the changes.
    pub people: Vec<PersonWrites>,
    /// Changes per month.
    pub periods: Vec<Period>,
    pub failures: Vec<Failure>,
}

/// The changes of one month (in WIB, by the writers' clocks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// `2026-06`.
    pub month: String,
    pub changes: usize,
    /// ...of which no valid, authorised signature covers.
    pub failing: usize,
}

/// Add `more` to the months of `into`, keeping them in order.
fn add_periods(into: &mut Vec<Period>, more: &[Period]) {
    for p in more {
        match into.binary_search_by(|q| q.month.cmp(&p.month)) {
            Ok(i) => {
                into[i].changes += p.changes;
                into[i].failing += p.failing;
            }
            Err(i) => into.insert(i, p.clone()),
        }
    }
}

/// The month (WIB) of a change's time in unix seconds: `2026-06`.
fn month_of(time_s: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(time_s.saturating_add(7 * 3600))
        .map(|t| format!("{:04}-{:02}", t.year(), u8::from(t.month())))
        .unwrap_or_else(|_| "?".into())
}

/// The index compared with the documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexReport {
    pub ok: bool,
    pub niks: usize,
    pub problems: Vec<String>,
}

/// Totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub documents: usize,
    pub documents_failed: usize,
    pub changes: usize,
    pub signatures: usize,
    pub failures: usize,
}

/// The whole audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReport {
    /// Everything checked, and nothing failed.
    pub ok: bool,
    /// The root the roster was verified against, if one is configured.
    pub root: Option<String>,
    /// Whether writers' certificates were checked (false without a root).
    pub authorisation_checked: bool,
    /// Root-signed statements stored here that verify against the root...
    pub statements: usize,
    /// ...and those that do not (ignored; a node stores only verified ones).
    pub statements_skipped: usize,
    pub documents: Vec<DocReport>,
    /// Who changed what: every writer over all documents.
    pub writers: Vec<Writer>,
    /// ...and every person at each writer.
    pub people: Vec<PersonWrites>,
    /// Changes per month, over all documents.
    pub periods: Vec<Period>,
    pub index: IndexReport,
    /// Problems not in one document (no root, index).
    pub failures: Vec<Failure>,
    pub summary: Summary,
}

impl AuditReport {
    /// Every failure, those of documents first.
    pub fn all_failures(&self) -> impl Iterator<Item = &Failure> {
        self.documents
            .iter()
            .flat_map(|d| d.failures.iter())
            .chain(self.failures.iter())
    }
}

/// Audit everything in `storage`. `root` is the mesh's root key (without one
/// only signatures are checked, and the report fails); `now_ms` the time of the
/// audit; `this_year` the century pivot the index uses.
///
/// Errors only when the storage cannot be read at all; every problem with
/// the data itself is a [`Failure`] in the report.
pub fn audit<S: Storage + Clone>(
    storage: &S,
    root: Option<NodeKey>,
    now_ms: i64,
    this_year: i32,
) -> Result<AuditReport, StoreError> {
    report(storage, root, now_ms, || {
        audit_index(storage.clone(), this_year)
    })
}

/// Audit the store of a running node, from inside its store task: the
/// documents as stored, and the live index compared with them (the registry
/// persists what it holds first, so storage and memory agree). The store
/// answers nothing else while this runs.
pub fn audit_registry<S: Storage>(
    reg: &mut Registry<S>,
    root: Option<NodeKey>,
    now_ms: i64,
) -> Result<AuditReport, StoreError> {
    reg.checkpoint()?;
    let problems = reg.verify_index();
    let niks = reg.niks();
    let index = match problems {
        Ok(problems) => IndexReport {
            ok: problems.is_empty(),
            niks,
            problems,
        },
        Err(e) => IndexReport {
            ok: false,
            niks,
            problems: vec![format!("cannot check the index: {e}")],
        },
    };
    report(reg.storage(), root, now_ms, || index)
}

fn report<S: Storage>(
    storage: &S,
    root: Option<NodeKey>,
    now_ms: i64,
    index: impl FnOnce() -> IndexReport,
) -> Result<AuditReport, StoreError> {
    let roster = root.map(|r| load_roster(storage, r)).transpose()?;
    let stored_statements = storage.statements()?.len();
    let verified = roster.as_ref().map_or(0, Roster::len);
    let mut documents = Vec::new();
    for id in storage.doc_ids()? {
        let stored = storage.load(&id)?.unwrap_or_default();
        documents.push(audit_doc(&id, &stored, roster.as_ref(), now_ms));
    }
    let writers = overall_writers(&documents);
    let people = overall_people(&documents);
    let mut periods = Vec::new();
    for d in &documents {
        add_periods(&mut periods, &d.periods);
    }
    let index = index();
    let mut failures = Vec::new();
    if roster.is_none() {
        failures.push(Failure {
            kind: FailureKind::NoRoot,
            doc: None,
            writer: None,
            changes: Vec::new(),
            count: 0,
            message:
                "cannot check authorisation: no root key configured (signatures were checked, \
                      but not whether their signers were allowed to write); configure the mesh's \
                      root with `kampung init --root ROOT.pub` or `kampung trust root ROOT.pub`"
                    .into(),
        });
    }
    if !index.ok {
        failures.push(Failure {
            kind: FailureKind::Index,
            doc: None,
            writer: None,
            changes: Vec::new(),
            count: index.problems.len(),
            message: format!(
                "the index differs from the documents ({} problem(s)): run `kampung index rebuild`",
                index.problems.len()
            ),
        });
    }
    let summary = Summary {
        documents: documents.len(),
        documents_failed: documents.iter().filter(|d| !d.ok).count(),
        changes: documents.iter().map(|d| d.changes).sum(),
        signatures: documents.iter().map(|d| d.signatures).sum(),
        failures: documents.iter().map(|d| d.failures.len()).sum::<usize>() + failures.len(),
    };
    Ok(AuditReport {
        ok: summary.failures == 0,
        root: root.map(|r| r.to_string()),
        authorisation_checked: roster.is_some(),
        statements: verified,
        statements_skipped: if roster.is_some() {
            stored_statements.saturating_sub(verified)
        } else {
            0
        },
        documents,
        writers,
        people,
        periods,
        index,
        failures,
        summary,
    })
}

/// Compare the index with the documents, through a registry opened read-only
/// in effect (it writes nothing unless asked to).
fn audit_index<S: Storage>(storage: S, this_year: i32) -> IndexReport {
    let checked = Registry::open(storage, ActorId::from(vec![0u8; 32]), this_year)
        .and_then(|mut reg| reg.verify_index().map(|p| (p, reg.niks())));
    match checked {
        Ok((problems, niks)) => IndexReport {
            ok: problems.is_empty(),
            niks,
            problems,
        },
        Err(e) => IndexReport {
            ok: false,
            niks: 0,
            problems: vec![format!("cannot check the index: {e}")],
        },
    }
}

/// The document every replica starts from, before any stored change.
fn base_document(kind: &DocKind<'_>) -> Automerge {
    match kind {
        DocKind::Village(v) => VillageDoc::genesis(*v).into_automerge(),
        DocKind::Card(v) => VillageDoc::card_genesis(*v).into_automerge(),
        DocKind::CrossingLog(peer, month) => {
            CrossingLog::genesis_in(peer, *month).automerge().clone()
        }
        DocKind::Case(_) => Automerge::new(),
    }
}

/// The hash of a document's deterministic genesis change, if its kind has one.
fn genesis_hash(kind: &DocKind<'_>) -> Option<ChangeHash> {
    match kind {
        DocKind::Village(_) | DocKind::Card(_) | DocKind::CrossingLog(..) => {
            base_document(kind).get_heads().first().copied()
        }
        DocKind::Case(_) => None,
    }
}

/// The root field naming what a document is, and the value it must have.
fn identity(kind: &DocKind<'_>) -> (&'static str, String) {
    match kind {
        DocKind::Village(v) | DocKind::Card(v) => ("village", v.to_string()),
        DocKind::CrossingLog(peer, _) => ("checkpoint", (*peer).to_string()),
        DocKind::Case(id) => ("case", (*id).to_string()),
    }
}

fn load(kind: &DocKind<'_>, stored: &StoredDoc) -> Result<Automerge, automerge::AutomergeError> {
    let mut doc = match &stored.snapshot {
        Some(bytes) => Automerge::load(bytes)?,
        None => base_document(kind),
    };
    crate::doc::load_chunks(&mut doc, stored.chunks.iter().map(|(_, c)| c.as_slice()))?;
    Ok(doc)
}

/// A writer's name: its peer id if the actor is a node key.
fn actor_name(actor: &[u8]) -> String {
    if let Some(key) = NodeKey::from_actor(actor) {
        return key.to_string();
    }
    match std::str::from_utf8(actor) {
        Ok(s) if s.chars().all(|c| c.is_ascii_graphic()) => s.to_string(),
        _ => ActorId::from(actor).to_hex_string(),
    }
}

/// The certificate that describes `key`: the one in force at `at_ms`, else its latest.
fn certificate_of<'r>(roster: &'r Roster, key: &NodeKey, at_ms: i64) -> Option<&'r Certificate> {
    roster.certificate_at(key, at_ms).ok().or_else(|| {
        roster
            .statements()
            .filter_map(|s| match &s.statement {
                Statement::Certificate(c) if c.node == *key => Some(c),
                _ => None,
            })
            .max_by_key(|c| c.until_ms)
    })
}

struct DocAudit<'a> {
    id: &'a DocId,
    failures: Vec<Failure>,
    /// Signatures refused only for the time they claim (see
    /// [`accepted_signatures`]).
    clock_off: usize,
}

impl DocAudit<'_> {
    fn fail(
        &mut self,
        kind: FailureKind,
        writer: Option<String>,
        changes: &[ChangeHash],
        message: String,
    ) {
        self.failures.push(Failure {
            kind,
            doc: Some(self.id.to_string()),
            writer,
            changes: changes
                .iter()
                .take(MAX_LISTED)
                .map(ToString::to_string)
                .collect(),
            count: changes.len(),
            message,
        });
    }
}

/// The write signatures stored for a document that decode, sign the change
/// they are stored under, verify, are not from the future and (with a
/// roster) were made by a writer allowed to write it then: `(change,
/// signer, encoding)`. Each one refused is a failure in `a`.
fn accepted_signatures<'s>(
    id: &DocId,
    stored: &'s StoredDoc,
    roster: Option<&Roster>,
    now_ms: i64,
    a: &mut DocAudit<'_>,
) -> Vec<(&'s [u8; 32], NodeKey, &'s Vec<u8>)> {
    let target = write_target(id);
    let mut accepted = Vec::new();
    for (hash, bytes) in &stored.signatures {
        let at = ChangeHash(*hash);
        let sig = match WriteSignature::decode(bytes) {
            Ok(sig) => sig,
            Err(e) => {
                a.fail(
                    FailureKind::MalformedSignature,
                    None,
                    &[at],
                    format!("the write signature stored for change {at} does not decode: {e}"),
                );
                continue;
            }
        };
        let signer = sig.signer.to_string();
        if sig.change != *hash || sig.doc != id.as_str() {
            a.fail(
                FailureKind::MalformedSignature,
                Some(signer),
                &[at],
                format!(
                    "the signature stored for change {at} signs change {} of {}",
                    ChangeHash(sig.change),
                    sig.doc
                ),
            );
            continue;
        }
        if let Err(e) = sig.verify_signature() {
            a.fail(
                FailureKind::BadSignature,
                Some(signer),
                &[at],
                format!("{e}: it was altered, or was not made by its claimed signer"),
            );
            continue;
        }
        // A signature refused only for the time it claims (after this
        // audit, or outside its signer's certificate) is what a writer
        // with a wrong clock makes, as receivers judge it too
        // (`Denial::is_about_time`): it covers nothing, and is no failure
        // by itself. A change that no other signature covers fails below as
        // unsigned.
        if sig.signed_ms > now_ms + MAX_CLOCK_SKEW_MS {
            a.clock_off += 1;
            continue;
        }
        if let (Some(roster), Some(target)) = (roster, target.as_ref()) {
            if let Err(denial) = roster.may_write(&sig.signer, target, sig.signed_ms) {
                if denial.is_about_time() {
                    a.clock_off += 1;
                    continue;
                }
                a.fail(
                    FailureKind::NotAuthorised,
                    Some(signer),
                    &[at],
                    format!("signed at {} ms: {denial}", sig.signed_ms),
                );
                continue;
            }
        }
        accepted.push((hash, sig.signer, bytes));
    }
    accepted
}

/// The changes of `metas` that no accepted signature of their own writer
/// covers (the genesis, which every node makes itself, needs none).
fn unsigned_changes(
    metas: &[automerge::ChangeMetadata<'_>],
    signed: &[([u8; 32], NodeKey)],
    genesis: Option<ChangeHash>,
) -> HashSet<[u8; 32]> {
    let owned = crate::registry::meta_refs(metas);
    let refs = crate::registry::as_refs(&owned);
    let exempt = |h: &[u8; 32], _: &[u8]| Some(ChangeHash(*h)) == genesis;
    uncovered(&refs, signed, exempt).into_iter().collect()
}

/// The changes of a stored document that fail the audit's signature and
/// authority check, as [`audit`] finds them (without a roster, only the
/// signatures are checked); `None` if the document does not load. A
/// history marks each change with it.
pub fn unverified_changes(
    id: &DocId,
    stored: &StoredDoc,
    roster: Option<&Roster>,
    now_ms: i64,
) -> Option<HashSet<ChangeHash>> {
    let kind = id.kind()?;
    let doc = load(&kind, stored).ok()?;
    unverified_in(id, &doc, &stored.signatures, roster, now_ms)
}

/// [`unverified_changes`] of a document already in memory (`doc`), with
/// the signatures held for it: what a history asks of a document it has
/// loaded anyway, without loading it a second time.
pub fn unverified_in(
    id: &DocId,
    doc: &Automerge,
    signatures: &[Sig],
    roster: Option<&Roster>,
    now_ms: i64,
) -> Option<HashSet<ChangeHash>> {
    let kind = id.kind()?;
    let held = StoredDoc {
        snapshot: None,
        chunks: Vec::new(),
        heads: Vec::new(),
        signatures: signatures.to_vec(),
    };
    let mut a = DocAudit {
        id,
        failures: Vec::new(),
        clock_off: 0,
    };
    let accepted = accepted_signatures(id, &held, roster, now_ms, &mut a);
    let signed: Vec<([u8; 32], NodeKey)> = accepted.iter().map(|(h, k, _)| (**h, *k)).collect();
    let metas = doc.get_changes_meta(&[]);
    let uncovered = unsigned_changes(&metas, &signed, genesis_hash(&kind));
    Some(uncovered.into_iter().map(ChangeHash).collect())
}

/// Who wrote the changes (genesis aside), with what the roster says of them.
pub(crate) fn writers(
    metas: &[automerge::ChangeMetadata<'_>],
    genesis: Option<ChangeHash>,
    roster: Option<&Roster>,
) -> Vec<Writer> {
    let mut writers: BTreeMap<Vec<u8>, Writer> = BTreeMap::new();
    for m in metas.iter().filter(|m| Some(m.hash) != genesis) {
        let actor = writer_of_actor(m.actor.to_bytes());
        let w = writers.entry(actor.to_vec()).or_insert_with(|| Writer {
            writer: actor_name(actor),
            role: None,
            village: None,
            label: None,
            changes: 0,
            documents: 1,
            first_s: m.timestamp,
            last_s: m.timestamp,
        });
        w.changes += 1;
        w.first_s = w.first_s.min(m.timestamp);
        w.last_s = w.last_s.max(m.timestamp);
    }
    for (actor, w) in &mut writers {
        let cert = roster
            .zip(NodeKey::from_actor(actor))
            .and_then(|(r, key)| certificate_of(r, &key, w.last_s.saturating_mul(1000)));
        if let Some(c) = cert {
            w.role = Some(c.role);
            w.village = c.village.map(|v| v.to_string());
            w.label = Some(c.label.clone());
        }
    }
    writers.into_values().collect()
}

fn audit_doc(id: &DocId, stored: &StoredDoc, roster: Option<&Roster>, now_ms: i64) -> DocReport {
    let mut report = DocReport {
        doc: id.to_string(),
        ok: false,
        changes: 0,
        genesis: false,
        heads: Vec::new(),
        signatures: stored.signatures.len(),
        signatures_valid: 0,
        signatures_unused: 0,
        signatures_clock_off: 0,
        writers: Vec::new(),
        people: Vec::new(),
        periods: Vec::new(),
        failures: Vec::new(),
    };
    let mut a = DocAudit {
        id,
        failures: Vec::new(),
        clock_off: 0,
    };
    let Some(kind) = id.kind() else {
        a.fail(
            FailureKind::UnknownDocument,
            None,
            &[],
            format!("{id} is not a document this mesh replicates: nobody may write it"),
        );
        report.failures = a.failures;
        return report;
    };
    let doc = match load(&kind, stored) {
        Ok(doc) => doc,
        Err(e) => {
            a.fail(
                FailureKind::Unreadable,
                None,
                &[],
                format!("the stored document does not load: {e}"),
            );
            report.failures = a.failures;
            return report;
        }
    };
    let (field, expected) = identity(&kind);
    let found = doc
        .get(ROOT, field)
        .ok()
        .flatten()
        .and_then(|(v, _)| v.as_str().map(str::to_string));
    if found.as_deref() != Some(expected.as_str()) {
        a.fail(
            FailureKind::WrongContent,
            None,
            &[],
            format!(
                "its '{field}' is {}, expected {expected}",
                found.as_deref().unwrap_or("missing")
            ),
        );
    }

    // The change graph: complete, and reaching the recorded heads.
    let missing = doc.get_missing_deps(&[]);
    if !missing.is_empty() {
        a.fail(
            FailureKind::IncompleteGraph,
            None,
            &missing,
            format!(
                "{} change(s) that stored changes depend on are missing",
                missing.len()
            ),
        );
    }
    let mut heads = doc.get_heads();
    heads.sort_unstable();
    report.heads = heads.iter().map(ToString::to_string).collect();
    match heads_from_bytes(&stored.heads) {
        Some(mut recorded) => {
            recorded.sort_unstable();
            if recorded != heads {
                a.fail(
                    FailureKind::HeadsMismatch,
                    None,
                    &recorded,
                    format!(
                        "the stored changes end at {} head(s) other than the {} recorded with the last write: changes were lost or added outside a write",
                        heads.len(),
                        recorded.len()
                    ),
                );
            }
        }
        None => a.fail(
            FailureKind::HeadsMismatch,
            None,
            &[],
            format!(
                "the recorded heads are {} bytes, not a multiple of 32",
                stored.heads.len()
            ),
        ),
    }

    let metas = doc.get_changes_meta(&[]);
    report.changes = metas.len();
    let in_doc: HashSet<ChangeHash> = metas.iter().map(|m| m.hash).collect();

    // The signatures: each must be sound; with a root, its signer allowed.
    let accepted = accepted_signatures(id, stored, roster, now_ms, &mut a);
    report.signatures_valid = accepted.len();
    report.signatures_clock_off = a.clock_off;
    report.signatures_unused = accepted
        .iter()
        .filter(|(h, _, _)| !in_doc.contains(&ChangeHash(**h)))
        .count();
    let signed: Vec<([u8; 32], NodeKey)> = accepted.into_iter().map(|(h, k, _)| (*h, k)).collect();

    // Every change covered by an accepted signature of its own writer.
    let genesis = genesis_hash(&kind);
    report.genesis = genesis.is_some_and(|g| in_doc.contains(&g));
    let unsigned = unsigned_changes(&metas, &signed, genesis);
    let mut by_writer: BTreeMap<Vec<u8>, Vec<ChangeHash>> = BTreeMap::new();
    for m in metas.iter().filter(|m| unsigned.contains(&m.hash.0)) {
        by_writer
            .entry(writer_of_actor(m.actor.to_bytes()).to_vec())
            .or_default()
            .push(m.hash);
    }
    for (actor, hashes) in by_writer {
        let name = actor_name(&actor);
        let why = if NodeKey::from_actor(&actor).is_none() {
            "its actor is not a node key, so no node can have signed it"
        } else if roster.is_some() {
            "no valid signature by it, from a time its certificate allowed writing this document, covers them"
        } else {
            "no valid signature by it covers them"
        };
        a.fail(
            FailureKind::Unsigned,
            Some(name.clone()),
            &hashes,
            format!("{} change(s) by {name}: {why}", hashes.len()),
        );
    }

    // Who wrote what here.
    report.writers = writers(&metas, genesis, roster);
    let mut people: BTreeMap<(Vec<u8>, Option<String>), PersonWrites> = BTreeMap::new();
    for m in metas.iter().filter(|m| Some(m.hash) != genesis) {
        let actor = writer_of_actor(m.actor.to_bytes());
        let author = m
            .message
            .as_deref()
            .and_then(kampung_core::Author::from_message);
        let key = (actor.to_vec(), author.as_ref().map(|a| a.id.clone()));
        let p = people.entry(key).or_insert_with(|| PersonWrites {
            writer: actor_name(actor),
            person_id: author.as_ref().map(|a| a.id.clone()),
            person: author.map(|a| a.name),
            changes: 0,
            documents: 1,
            first_s: m.timestamp,
            last_s: m.timestamp,
        });
        p.changes += 1;
        p.first_s = p.first_s.min(m.timestamp);
        p.last_s = p.last_s.max(m.timestamp);
    }
    report.people = people.into_values().collect();
    let mut months: BTreeMap<String, Period> = BTreeMap::new();
    for m in metas.iter().filter(|m| Some(m.hash) != genesis) {
        let month = month_of(m.timestamp);
        let p = months.entry(month.clone()).or_insert(Period {
            month,
            changes: 0,
            failing: 0,
        });
        p.changes += 1;
        p.failing += usize::from(unsigned.contains(&m.hash.0));
    }
    report.periods = months.into_values().collect();
    report.ok = a.failures.is_empty();
    report.failures = a.failures;
    report
}

/// Who changed what, over all documents.
fn overall_writers(documents: &[DocReport]) -> Vec<Writer> {
    let mut all: BTreeMap<&str, Writer> = BTreeMap::new();
    for w in documents.iter().flat_map(|d| d.writers.iter()) {
        match all.get_mut(w.writer.as_str()) {
            Some(acc) => {
                acc.changes += w.changes;
                acc.documents += 1;
                acc.first_s = acc.first_s.min(w.first_s);
                acc.last_s = acc.last_s.max(w.last_s);
                if acc.role.is_none() {
                    acc.role = w.role;
                    acc.village.clone_from(&w.village);
                    acc.label.clone_from(&w.label);
                }
            }
            None => {
                all.insert(&w.writer, w.clone());
            }
        }
    }
    let mut out: Vec<Writer> = all.into_values().collect();
    out.sort_by(|a, b| b.changes.cmp(&a.changes).then(a.writer.cmp(&b.writer)));
    out
}

/// Every person at every writer, over all documents.
fn overall_people(documents: &[DocReport]) -> Vec<PersonWrites> {
    let mut all: BTreeMap<(String, Option<String>), PersonWrites> = BTreeMap::new();
    for p in documents.iter().flat_map(|d| d.people.iter()) {
        let key = (p.writer.clone(), p.person_id.clone());
        match all.get_mut(&key) {
            Some(acc) => {
                acc.changes += p.changes;
                acc.documents += 1;
                acc.first_s = acc.first_s.min(p.first_s);
                acc.last_s = acc.last_s.max(p.last_s);
            }
            None => {
                all.insert(key, p.clone());
            }
        }
    }
    all.into_values().collect()
}

pub mod file;

#[cfg(test)]
mod tests;

/// What [`repair`] did to one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repaired {
    pub doc: String,
    /// Changes taken out: those the audit refuses, and those built on them.
    pub changes_removed: usize,
    /// Changes kept.
    pub changes_kept: usize,
    /// Stored write signatures dropped (refused, or of removed changes).
    pub signatures_removed: usize,
    /// Nothing valid was left: the document was removed (peers that hold
    /// it send it again).
    pub removed: bool,
    /// The writers of the removed changes (peer ids).
    pub writers: Vec<String>,
}

/// Take out of `storage` every change the audit refuses (no accepted,
/// authorised signature of its writer covers it) and every change that
/// depends on one, and every signature the audit refuses: each such
/// document is rebuilt from what remains, or removed when nothing valid
/// remains (a document that does not load at all, too). The index must be
/// rebuilt afterwards ([`Registry::rebuild_index`]). Take a backup first:
/// what is removed is gone from this node.
///
/// This is the remedy for a node that stored writes it was not allowed to
/// make (a `node.toml` edited to claim another village): honest peers
/// refused them, and after the repair this node holds what they hold.
pub fn repair<S: Storage>(
    storage: &S,
    root: NodeKey,
    now_ms: i64,
) -> Result<Vec<Repaired>, StoreError> {
    let roster = load_roster(storage, root)?;
    let mut done = Vec::new();
    for id in storage.doc_ids()? {
        let Some(stored) = storage.load(&id)? else {
            continue;
        };
        if let Some(r) = repair_doc(storage, &id, &stored, &roster, now_ms)? {
            done.push(r);
        }
    }
    if !done.is_empty() {
        storage.flush()?;
    }
    Ok(done)
}

fn repair_doc<S: Storage>(
    storage: &S,
    id: &DocId,
    stored: &StoredDoc,
    roster: &Roster,
    now_ms: i64,
) -> Result<Option<Repaired>, StoreError> {
    let mut repaired = Repaired {
        doc: id.to_string(),
        changes_removed: 0,
        changes_kept: 0,
        signatures_removed: stored.signatures.len(),
        removed: true,
        writers: Vec::new(),
    };
    let Some((kind, doc)) = id
        .kind()
        .and_then(|k| load(&k, stored).ok().map(|d| (k, d)))
    else {
        storage.remove(id)?;
        return Ok(Some(repaired));
    };
    let mut a = DocAudit {
        id,
        failures: Vec::new(),
        clock_off: 0,
    };
    let accepted = accepted_signatures(id, stored, Some(roster), now_ms, &mut a);
    let signed: Vec<([u8; 32], NodeKey)> = accepted.iter().map(|(h, k, _)| (**h, *k)).collect();
    let genesis = genesis_hash(&kind);
    let metas = doc.get_changes_meta(&[]);
    let unsigned = unsigned_changes(&metas, &signed, genesis);
    // In causal order: a change goes if it is refused or depends on one that goes.
    let mut gone: HashSet<ChangeHash> = HashSet::new();
    let mut writers = std::collections::BTreeSet::new();
    for m in &metas {
        if unsigned.contains(&m.hash.0) || m.deps.iter().any(|d| gone.contains(d)) {
            gone.insert(m.hash);
            writers.insert(actor_name(m.actor.to_bytes()));
        }
    }
    let missing = doc.get_missing_deps(&[]);
    let mut recorded = heads_from_bytes(&stored.heads).unwrap_or_default();
    recorded.sort_unstable();
    let mut heads = doc.get_heads();
    heads.sort_unstable();
    if gone.is_empty() && a.failures.is_empty() && missing.is_empty() && recorded == heads {
        return Ok(None);
    }
    let mut rebuilt = base_document(&kind);
    let kept: Vec<automerge::Change> = doc
        .get_changes(&[])
        .into_iter()
        .filter(|c| {
            !gone.contains(&c.hash()) && rebuilt.get_change_meta_by_hash(&c.hash()).is_none()
        })
        .collect();
    let kept_count = kept.len();
    if let Err(e) = rebuilt.apply_changes(kept) {
        return Err(StoreError::CorruptDoc {
            location: storage.location(),
            doc: id.clone(),
            reason: format!("its valid changes do not apply again: {e}"),
        });
    }
    let sigs: Vec<crate::storage::Sig> = accepted
        .iter()
        .filter(|(h, _, _)| rebuilt.get_change_meta_by_hash(&ChangeHash(**h)).is_some())
        .map(|(h, _, bytes)| (**h, (*bytes).clone()))
        .collect();
    repaired.changes_removed = metas.len().saturating_sub(rebuilt.get_changes(&[]).len());
    repaired.changes_kept = kept_count;
    repaired.signatures_removed = stored.signatures.len() - sigs.len();
    repaired.writers = writers.into_iter().collect();
    storage.remove(id)?;
    if rebuilt.get_changes(&[]).len() > usize::from(genesis.is_some()) {
        let heads = crate::registry::heads_to_bytes(&rebuilt.get_heads());
        storage.replace(id, &rebuilt.save(), &heads, &sigs)?;
        repaired.removed = false;
    }
    Ok(Some(repaired))
}
