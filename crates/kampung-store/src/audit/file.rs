//! The exported document file: what `kampung export --automerge` writes
//! (a document's `save()`: one Automerge document chunk that any Automerge
//! implementation loads) and what `kampung audit verify --file` checks.
//!
//! The file holds the document and nothing else. Write signatures are
//! kept beside a document in the store (the `g/` keys), never inside it,
//! so a file alone cannot prove who wrote it. The check has two halves:
//! - the file itself: Automerge loads it (its checksum covers every byte,
//!   so a truncated or altered file is refused, with Automerge's reason),
//!   its change graph is complete, its root fields say which document it
//!   is, its records read, and a village's or crossing log's deterministic
//!   genesis change is in it;
//! - its changes against the write signatures *the checking node* holds
//!   for the document of that name: every change of the file must be
//!   covered by an accepted signature of its own writer, exactly as
//!   [`super::audit`] requires of stored changes (coverage is computed on
//!   the node's copy and the file merged, so a later export still checks).
//!   A change nobody here signed (forged into the file, or newer than this
//!   node's copy) fails, as does every change of a document this node does
//!   not hold: nothing here vouches for them.

use std::collections::{BTreeMap, HashSet};

use automerge::{Automerge, ChangeHash, ObjType, ReadDoc, Value, ROOT};
use kampung_core::doc_id::{is_case_id, is_peer_id_text};
use kampung_core::VillageCode;
use kampung_trust::{writer_of_actor, NodeKey, Roster};
use serde::{Deserialize, Serialize};

use super::{
    accepted_signatures, actor_name, genesis_hash, load, unsigned_changes, writers, DocAudit,
    Failure, FailureKind, Writer,
};
use crate::case::CaseDoc;
use crate::crossing::CrossingLog;
use crate::doc::{guarded, DocError, VillageDoc};
use crate::storage::{DocId, DocKind, StoredDoc};

/// The whole document as one Automerge document chunk (its `save()`), from
/// the bytes the store keeps (a snapshot with the chunks written since,
/// concatenated: see `Registry::stored_document`). This is the file
/// `kampung export --automerge` writes.
pub fn whole_document(stored: &[u8]) -> Result<Vec<u8>, DocError> {
    guarded(|| Ok(Automerge::load(stored)?.save()))
}

/// What kind of document a file holds, by its root fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// `village` and `residents`: a village's residents.
    Village,
    /// `checkpoint` and `crossings`: a checkpoint's crossing log.
    CrossingLog,
    /// `case` and `placements`: one isolation case.
    Case,
}

impl FileKind {
    /// What people call it.
    pub fn describe(self) -> &'static str {
        match self {
            FileKind::Village => "a village's residents",
            FileKind::CrossingLog => "a checkpoint's crossing log",
            FileKind::Case => "an isolation case",
        }
    }
}

/// The check of one exported document file (`kampung audit verify --file`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileReport {
    /// Everything checked, and nothing failed.
    pub ok: bool,
    /// Size of the file.
    pub bytes: usize,
    /// Automerge loads it: checksum, encoding and change graph are sound.
    pub loads: bool,
    /// What its root fields say it is.
    pub kind: Option<FileKind>,
    /// The document it is a copy of (`v/35.10.15.2012`), by its root fields.
    pub doc: Option<String>,
    /// Residents, crossings, or a case's placements, follow-ups, notes and
    /// releases, when they all read.
    pub records: Option<usize>,
    /// Changes in the file (its genesis included).
    pub changes: usize,
    pub heads: Vec<String>,
    /// The deterministic genesis of its kind is in it (`None`: a case has none).
    pub genesis: Option<bool>,
    /// This node holds the document the file is a copy of.
    pub held: bool,
    /// Changes of the file that this node's copy does not have.
    pub changes_not_held: usize,
    /// Changes covered by an accepted signature of their writer held here
    /// (the genesis, which needs none, counted too).
    pub changes_verified: usize,
    /// Whether the signers' certificates were checked (false without a root).
    pub authorisation_checked: bool,
    /// Who wrote the file's changes, by their actors (genesis aside).
    pub writers: Vec<Writer>,
    pub failures: Vec<Failure>,
}

/// A file loaded and identified, before its signatures are checked
/// ([`open_file`], then [`OpenedFile::check`]): the caller fetches the
/// node's copy of [`OpenedFile::doc_id`] in between.
#[derive(Debug)]
pub struct OpenedFile {
    bytes: Vec<u8>,
    doc: Option<Automerge>,
    id: Option<DocId>,
    report: FileReport,
}

/// Load `bytes` as an exported document and check what needs no
/// signature: that Automerge loads it, which document it is, that its
/// records read and its genesis is the mesh's.
pub fn open_file(bytes: Vec<u8>) -> OpenedFile {
    let mut report = FileReport {
        ok: false,
        bytes: bytes.len(),
        loads: false,
        kind: None,
        doc: None,
        records: None,
        changes: 0,
        heads: Vec::new(),
        genesis: None,
        held: false,
        changes_not_held: 0,
        changes_verified: 0,
        authorisation_checked: false,
        writers: Vec::new(),
        failures: Vec::new(),
    };
    let doc = match loaded(&bytes) {
        Ok(doc) => doc,
        Err(message) => {
            report
                .failures
                .push(failure(FailureKind::Unreadable, None, message));
            return OpenedFile {
                bytes,
                doc: None,
                id: None,
                report,
            };
        }
    };
    report.loads = true;
    report.changes = doc.get_changes_meta(&[]).len();
    let mut heads = doc.get_heads();
    heads.sort_unstable();
    report.heads = heads.iter().map(ToString::to_string).collect();
    let id = match identify(&doc) {
        Ok((kind, id)) => {
            report.kind = Some(kind);
            report.doc = Some(id.to_string());
            check_content(kind, &id, &bytes, &doc, &mut report);
            Some(id)
        }
        Err(message) => {
            report
                .failures
                .push(failure(FailureKind::UnknownDocument, None, message));
            None
        }
    };
    OpenedFile {
        bytes,
        doc: Some(doc),
        id,
        report,
    }
}

/// The genesis of the document's kind is in it, and its records read.
fn check_content(
    kind: FileKind,
    id: &DocId,
    bytes: &[u8],
    doc: &Automerge,
    report: &mut FileReport,
) {
    if let Some(genesis) = id.kind().and_then(|k| genesis_hash(&k)) {
        let present = doc.get_change_meta_by_hash(&genesis).is_some();
        report.genesis = Some(present);
        if !present {
            report.failures.push(failure(
                FailureKind::WrongContent,
                Some(id),
                format!(
                    "it lacks the genesis change every replica of {id} starts from: its \
                     containers are not the mesh's, and after a merge its records would hide \
                     the mesh's or be hidden by them"
                ),
            ));
        }
    }
    match records(kind, id, bytes, doc) {
        Ok(n) => report.records = Some(n),
        Err(e) => report.failures.push(failure(
            FailureKind::WrongContent,
            Some(id),
            format!("its records do not read: {e}"),
        )),
    }
}

impl OpenedFile {
    /// The document the file is a copy of, if it loaded and says.
    pub fn doc_id(&self) -> Option<&DocId> {
        self.id.as_ref()
    }

    /// Check the file's changes against `held`, this node's stored copy
    /// of the document (snapshot, chunks and write signatures; `None`: not
    /// held here), with `roster` (without one, only signatures are checked
    /// and the report fails, as [`super::audit`]'s does).
    pub fn check(
        self,
        held: Option<&StoredDoc>,
        roster: Option<&Roster>,
        now_ms: i64,
    ) -> FileReport {
        let OpenedFile {
            bytes,
            doc,
            id,
            mut report,
        } = self;
        let (Some(doc), Some(id)) = (doc, id) else {
            return report;
        };
        let Some(kind) = id.kind() else {
            return report;
        };
        report.authorisation_checked = roster.is_some();
        if roster.is_none() {
            report.failures.push(failure(
                FailureKind::NoRoot,
                None,
                "cannot check authorisation: no root key configured (signatures were checked, \
                 but not whether their signers were allowed to write); configure the mesh's root \
                 with `kampung init --root ROOT.pub` or `kampung trust root ROOT.pub`"
                    .into(),
            ));
        }
        let metas = doc.get_changes_meta(&[]);
        let in_file: HashSet<ChangeHash> = metas.iter().map(|m| m.hash).collect();
        let genesis = genesis_hash(&kind);
        report.writers = writers(&metas, genesis, roster);

        // The node's copy with the file merged into it: a signature covers
        // the changes below it in the graph, which the file may lack (an
        // export made before a later write) or the node's copy may lack.
        let mut merged = held.cloned().unwrap_or_default();
        report.held = held.is_some();
        let unmerged = if report.held {
            load(&kind, &merged).ok()
        } else {
            None
        };
        report.changes_not_held = match &unmerged {
            Some(d) => metas
                .iter()
                .filter(|m| d.get_change_meta_by_hash(&m.hash).is_none())
                .count(),
            None => metas.len(),
        };
        merged.chunks.push((u64::MAX, bytes));
        let all = match load(&kind, &merged) {
            Ok(all) => all,
            Err(e) => {
                let hint = if e.to_string().contains("duplicate seq") {
                    ": a change in the file reuses a writer's sequence number with other \
                     content, so the file was altered"
                } else {
                    ""
                };
                report.failures.push(failure(
                    FailureKind::Unreadable,
                    Some(&id),
                    format!("the file does not merge with this node's copy of {id} ({e}){hint}"),
                ));
                report.ok = false;
                return report;
            }
        };
        let mut a = DocAudit {
            id: &id,
            failures: Vec::new(),
            clock_off: 0,
        };
        let accepted = accepted_signatures(&id, &merged, roster, now_ms, &mut a);
        let signed: Vec<([u8; 32], NodeKey)> = accepted.iter().map(|(h, k, _)| (**h, *k)).collect();
        let all_metas = all.get_changes_meta(&[]);
        let unsigned = unsigned_changes(&all_metas, &signed, genesis);
        // A refused signature matters here only if it signs a change of the file.
        let file_hashes: HashSet<String> = in_file.iter().map(ToString::to_string).collect();
        report.failures.extend(
            a.failures
                .into_iter()
                .filter(|f| f.changes.iter().any(|c| file_hashes.contains(c))),
        );
        let mut by_writer: BTreeMap<Vec<u8>, Vec<ChangeHash>> = BTreeMap::new();
        for m in metas.iter().filter(|m| unsigned.contains(&m.hash.0)) {
            by_writer
                .entry(writer_of_actor(m.actor.to_bytes()).to_vec())
                .or_default()
                .push(m.hash);
        }
        let failing: usize = by_writer.values().map(Vec::len).sum();
        report.changes_verified = metas.len() - failing;
        for (actor, hashes) in by_writer {
            let name = actor_name(&actor);
            let why = if !report.held {
                format!(
                    "this node does not hold {id}, so it holds no write signature for them and \
                     nothing vouches for who wrote them: check the file on a node that holds the \
                     document (every node of the mesh holds every document once it has synced)"
                )
            } else if NodeKey::from_actor(&actor).is_none() {
                "its actor is not a node key, so no node can have signed them".to_string()
            } else {
                let not_held = hashes
                    .iter()
                    .filter(|h| {
                        unmerged
                            .as_ref()
                            .is_some_and(|d| d.get_change_meta_by_hash(h).is_none())
                    })
                    .count();
                let mut why = if roster.is_some() {
                    "no valid signature by it, from a time its certificate allowed writing this \
                     document, is held here for them"
                        .to_string()
                } else {
                    "no valid signature by it is held here for them".to_string()
                };
                if not_held > 0 {
                    why.push_str(&format!(
                        "; {not_held} of them are not in this node's copy either (forged into \
                         the file, or made after this node last synced: sync, then check again)"
                    ));
                }
                why
            };
            let mut f = failure(
                FailureKind::Unsigned,
                Some(&id),
                format!("{} change(s) by {name}: {why}", hashes.len()),
            );
            f.writer = Some(name);
            f.count = hashes.len();
            f.changes = hashes
                .iter()
                .take(super::MAX_LISTED)
                .map(ToString::to_string)
                .collect();
            report.failures.push(f);
        }
        report.ok = report.failures.is_empty();
        report
    }
}

/// Automerge's load, with the reason in words a person can act on.
fn loaded(bytes: &[u8]) -> Result<Automerge, String> {
    if bytes.is_empty() {
        // Automerge loads no bytes as an empty document: an export never is.
        return Err(
            "the file is empty: an exported document holds at least its genesis change".into(),
        );
    }
    // Automerge logs its load errors itself; here one is an answer, given
    // in the report, not a fault of this node to log.
    let quiet = tracing::subscriber::NoSubscriber::default();
    let load = || guarded(|| Ok(Automerge::load(bytes)?));
    let doc = tracing::subscriber::with_default(quiet, load).map_err(|e| {
        let reason = match e {
            DocError::Automerge(e) => e.to_string(),
            other => other.to_string(),
        };
        format!("Automerge refuses the file ({reason}): {}", hint(&reason))
    })?;
    let missing = doc.get_missing_deps(&[]);
    if !missing.is_empty() {
        return Err(format!(
            "{} change(s) that changes in the file depend on are missing from it (first: {}): \
             the file is incomplete",
            missing.len(),
            missing[0]
        ));
    }
    Ok(doc)
}

/// What an Automerge load error usually means for an exported file.
fn hint(reason: &str) -> &'static str {
    if reason.contains("checksum") {
        "its bytes differ from what was exported (altered or damaged); export it again from a node"
    } else if reason.contains("magic") {
        "it is not an Automerge file (or its first bytes were altered)"
    } else if reason.contains("not enough data") {
        "the file ends before the document does: it is truncated (or bytes in it were altered \
         or added); export it again from a node"
    } else {
        "its bytes are not a sound Automerge document: it was altered or damaged; export it \
         again from a node"
    }
}

/// What the root fields say the document is.
fn identify(doc: &Automerge) -> Result<(FileKind, DocId), String> {
    let text = |key: &str| match doc.get(ROOT, key) {
        Ok(Some((v, _))) => v.as_str().map(str::to_string),
        _ => None,
    };
    let container = |key: &str, ty: ObjType| matches!(doc.get(ROOT, key), Ok(Some((Value::Object(t), _))) if t == ty);
    if let Some(v) = text("village") {
        let code = VillageCode::parse(&v)
            .map_err(|e| format!("its 'village' is '{v}', not a village code: {e}"))?;
        if !container("residents", ObjType::Map) {
            return Err(format!(
                "its 'village' is {code} but it has no 'residents' map: it is not a village document"
            ));
        }
        // A village's cards say so in their root (`cards`).
        let cards = matches!(doc.get(ROOT, "cards"), Ok(Some((Value::Scalar(_), _))));
        let id = match cards {
            true => DocId::card(code),
            false => DocId::village(code),
        };
        return Ok((FileKind::Village, id));
    }
    if let Some(peer) = text("checkpoint") {
        if !is_peer_id_text(&peer) {
            return Err(format!("its 'checkpoint' is '{peer}', not a peer id"));
        }
        if !container("crossings", ObjType::List) {
            return Err(format!(
                "its 'checkpoint' is {peer} but it has no 'crossings' list: it is not a crossing log"
            ));
        }
        let id = match text("month") {
            Some(m) => match kampung_core::LogMonth::parse(&m) {
                Some(month) => DocId::crossings(&peer, month),
                None => return Err(format!("its 'month' is '{m}', not a month (2026-12)")),
            },
            None => DocId::crossing_log(&peer),
        };
        return Ok((FileKind::CrossingLog, id));
    }
    if let Some(case) = text("case") {
        if !is_case_id(&case) {
            return Err(format!(
                "its 'case' is '{case}', not a case id (16 lowercase hex digits)"
            ));
        }
        return Ok((FileKind::Case, DocId::case(&case)));
    }
    Err(
        "its root has none of 'village' (a village's residents), 'checkpoint' (a crossing \
         log) or 'case' (an isolation case): it is not a document of this mesh"
            .into(),
    )
}

/// How many records the document holds, reading every one as the node does.
fn records(kind: FileKind, id: &DocId, bytes: &[u8], doc: &Automerge) -> Result<usize, String> {
    match (kind, id.kind()) {
        (FileKind::Village, Some(kind @ (DocKind::Village(v) | DocKind::Card(v)))) => {
            let part = match kind {
                DocKind::Card(_) => crate::doc::Part::Card,
                _ => crate::doc::Part::Details,
            };
            let village =
                VillageDoc::load_part(part, v, Some(bytes), []).map_err(|e| e.to_string())?;
            let mut n = 0;
            for r in village.residents() {
                r.map_err(|e| e.to_string())?;
                n += 1;
            }
            Ok(n)
        }
        (FileKind::CrossingLog, Some(DocKind::CrossingLog(peer, _))) => {
            CrossingLog::from_automerge(peer, doc.clone())
                .and_then(|log| log.entries())
                .map(|e| e.len())
                .map_err(|e| e.to_string())
        }
        (FileKind::Case, Some(DocKind::Case(case))) => {
            let case = CaseDoc::from_automerge(case, doc.clone()).map_err(|e| e.to_string())?;
            case.info().map_err(|e| e.to_string())?;
            let h = case.history().map_err(|e| e.to_string())?;
            Ok(h.placements.len() + h.follow_ups.len() + h.notes.len() + h.releases.len())
        }
        _ => Err(format!(
            "{id} is not a document of the kind its root fields name"
        )),
    }
}

fn failure(kind: FailureKind, doc: Option<&DocId>, message: String) -> Failure {
    Failure {
        kind,
        doc: doc.map(ToString::to_string),
        writer: None,
        changes: Vec::new(),
        count: 0,
        message,
    }
}

#[cfg(test)]
mod tests;
