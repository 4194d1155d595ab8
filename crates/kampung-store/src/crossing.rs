//! A checkpoint's crossing log as one Automerge document.
//!
//! ```text
//! ROOT { "checkpoint": "<peer id>", "month": "2026-12",
//!        "crossings": [ "[2, at, nik, verdict, decision, ...]", ... ],
//!        "states": [ ... ] }
//! ```
//!
//! Each crossing is one value (crossing format 2, [`value`]); logs written
//! before hold maps of the same fields (`at`, `nik`, `verdict`, `found`,
//! `issued`, `rule`, `decision`, `village`, `case`, `officer`,
//! `officer_id`, `note`, `basis: { "<doc id>": [<head: 32 bytes>] }`,
//! `state`, `policy`), still read.
//!
//! Every check at the post is one entry: the verdict as codes (its kind, the
//! village whose record decided it, where the NIK was issued, the rule an
//! invalid one broke), never as rendered text, which would name the person
//! in a log every node holds (crossings logged before kept the officer's
//! English line in `explain`); with the document heads the verdict
//! was computed from, so an auditor can replay it on exactly that state:
//! `basis` names the documents that decided it (the village holding the
//! record, an open isolation case), `state` the registry state it was
//! computed on (every village document the node held, kept once in
//! `states` and shared by the crossings made on it: see [`states`]), and
//! `policy` the version of the policy in force.
//!
//! Like [`crate::doc::VillageDoc`], every replica starts from the same
//! deterministic *genesis* change (an actor and content derived from the
//! checkpoint's peer id, time 0), so the `crossings` list is one object on
//! every node: two nodes starting the log independently would otherwise make
//! two lists, and one would hide the other after a merge.
//!
//! `crossings` is a list with entries appended at its end: if two devices of a
//! checkpoint append concurrently both entries survive the merge (a map keyed
//! by time could collide). [`CrossingLog::entries`] sorts by time; equal times
//! keep list order, which is part of the merged document and so the same on
//! every replica. Each entry is its own Automerge change (one change per
//! record edit keeps re-syncs small).

use std::str::FromStr;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{
    ActorId, Automerge, AutomergeError, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValueRef,
    ValueRef, ROOT,
};
use kampung_core::{LogMonth, VillageCode};
use serde::{Deserialize, Serialize};

use crate::case::is_case_id;
use crate::fields::{Fields, ReadError};
use crate::storage::CASE_ID_LEN;

pub mod states;
pub mod value;
pub use states::StateCache;

/// Longest NIK text logged (what the officer typed, valid or not).
pub const MAX_NIK_TEXT: usize = 64;
/// Longest short text (officer name, verdict kind, document id).
pub const MAX_SHORT_TEXT: usize = 120;
/// Longest explanation or note.
pub const MAX_LONG_TEXT: usize = 2000;
/// Most documents a verdict can be computed from.
pub const MAX_BASIS_DOCS: usize = 16;
/// Most heads recorded per document.
pub const MAX_HEADS: usize = 64;

/// Why a crossing log could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CrossingError {
    #[error("automerge: {0}")]
    Automerge(#[from] AutomergeError),
    #[error("the document has no 'crossings' list: it is not a crossing log")]
    NotACrossingLog,
    #[error("the document is the crossing log of checkpoint {found}, expected {expected}")]
    WrongCheckpoint { expected: String, found: String },
    #[error("crossing {index}: field '{field}' is missing or malformed")]
    BadEntry { index: usize, field: &'static str },
    #[error("crossing refused: {field} {reason}")]
    Refused { field: &'static str, reason: String },
    #[error("the crossing produced no change")]
    EmptyChange,
}

/// What the officer decided after the verdict. Exhaustive on purpose: a new
/// decision must be handled wherever decisions are shown or counted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    AllowedIn,
    TurnedBack,
    IsolationGor,
    IsolationVillageHouse { village: VillageCode },
    IsolationHome,
    PickedUpByFamily,
}

impl Decision {
    /// Stable machine name, as stored in the document.
    pub fn kind(&self) -> &'static str {
        match self {
            Decision::AllowedIn => "allowed_in",
            Decision::TurnedBack => "turned_back",
            Decision::IsolationGor => "isolation_gor",
            Decision::IsolationVillageHouse { .. } => "isolation_village_house",
            Decision::IsolationHome => "isolation_home",
            Decision::PickedUpByFamily => "picked_up_by_family",
        }
    }

    fn from_parts(kind: &str, village: Option<&str>) -> Option<Decision> {
        Some(match kind {
            "allowed_in" => Decision::AllowedIn,
            "turned_back" => Decision::TurnedBack,
            "isolation_gor" => Decision::IsolationGor,
            "isolation_village_house" => Decision::IsolationVillageHouse {
                village: VillageCode::parse(village?).ok()?,
            },
            "isolation_home" => Decision::IsolationHome,
            "picked_up_by_family" => Decision::PickedUpByFamily,
            _ => return None,
        })
    }
}

/// Which crossings an auditor wants to see: every field that is set must
/// match (text fields exactly, the officer case-insensitively in part).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrossingFilter {
    /// The checkpoint's peer id.
    pub checkpoint: Option<String>,
    /// The NIK as logged (spaces and dots ignored).
    pub nik: Option<String>,
    /// `CheckVerdict::kind()`.
    pub verdict: Option<String>,
    /// [`Decision::kind`].
    pub decision: Option<String>,
    /// Part of the officer's name or account id.
    pub officer: Option<String>,
    /// Unix ms, inclusive.
    pub since_ms: Option<i64>,
    /// Unix ms, exclusive.
    pub until_ms: Option<i64>,
}

fn nik_digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

impl CrossingFilter {
    /// Does the crossing at checkpoint `peer` match?
    pub fn matches(&self, peer: &str, c: &Crossing) -> bool {
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        let officer_ok = self.officer.as_deref().is_none_or(|w| {
            let w = w.to_lowercase();
            [c.officer.as_deref(), c.officer_id.as_deref()]
                .into_iter()
                .flatten()
                .any(|o| o.to_lowercase().contains(&w))
        });
        eq(&self.checkpoint, peer)
            && self
                .nik
                .as_deref()
                .is_none_or(|n| nik_digits(n) == nik_digits(&c.nik))
            && eq(&self.verdict, &c.verdict)
            && eq(&self.decision, c.decision.kind())
            && officer_ok
            && self.since_ms.is_none_or(|t| c.at_ms >= t)
            && self.until_ms.is_none_or(|t| c.at_ms < t)
    }
}

/// The heads of one document a verdict was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocHeads {
    /// A [`crate::DocId`] as text (`v/35.10.15.2012`, `c/<case id>`).
    pub doc: String,
    /// Change hashes, lowercase hex.
    pub heads: Vec<String>,
}

impl DocHeads {
    pub fn new(doc: impl Into<String>, heads: &[ChangeHash]) -> DocHeads {
        DocHeads {
            doc: doc.into(),
            heads: heads.iter().map(ChangeHash::to_string).collect(),
        }
    }

    /// The heads as hashes, for replaying the verdict (`fork_at`).
    pub fn change_hashes(&self) -> Result<Vec<ChangeHash>, CrossingError> {
        self.heads
            .iter()
            .map(|h| {
                ChangeHash::from_str(h).map_err(|e| CrossingError::Refused {
                    field: "basis heads",
                    reason: format!("'{h}' of {} is not a change hash: {e}", self.doc),
                })
            })
            .collect()
    }
}

/// One check at the post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crossing {
    /// Unix time in milliseconds.
    pub at_ms: i64,
    /// The NIK as typed or scanned (invalid ones are logged too).
    pub nik: String,
    /// `CheckVerdict::kind()`.
    pub verdict: String,
    /// The explanation as the officer read it, in English: kept only by
    /// crossings logged before the log kept codes instead (it names the
    /// person); empty in new ones, whose words are made when read
    /// (`kampung_i18n::crossing_line`, in the reader's language).
    #[serde(default)]
    pub explanation: String,
    pub decision: Decision,
    /// The isolation case opened or referred to, if any.
    pub case_id: Option<String>,
    /// The officer who decided: the name of the person signed in.
    pub officer: Option<String>,
    /// Their account id on the checkpoint node.
    #[serde(default)]
    pub officer_id: Option<String>,
    pub note: Option<String>,
    /// The documents (and their heads) the verdict was computed from.
    pub basis: Vec<DocHeads>,
    /// The registry state the verdict was computed on (see [`states`]);
    /// assigned by the log when the crossing is recorded. `None` in
    /// crossings logged before states were kept.
    #[serde(default)]
    pub state: Option<u64>,
    /// The version of the policy in force when the verdict was computed.
    #[serde(default)]
    pub policy: Option<u64>,
    /// The village whose record decided the verdict (resident, moved out,
    /// deceased, under isolation with a record).
    #[serde(default)]
    pub found_in: Option<VillageCode>,
    /// Where a valid NIK was issued: the regency's code (`35.09`).
    #[serde(default)]
    pub issued_in: Option<String>,
    /// The rule an invalid NIK broke (`length`, `bad_month`, ...: the
    /// `rule` of `kampung_core::NikError`).
    #[serde(default)]
    pub rule: Option<String>,
}

impl Crossing {
    /// A check of `nik` at `at_ms` as the index answered it (`checked`),
    /// under policy `policy_version`, decided `decision`: verdict, basis and
    /// policy, and nothing else said (no officer, note, case or codes).
    pub fn of_check(
        at_ms: i64,
        nik: &str,
        checked: &crate::lookups::Checked,
        decision: Decision,
        policy_version: u64,
    ) -> Crossing {
        Crossing {
            at_ms,
            nik: nik.to_string(),
            verdict: checked.verdict.kind().to_string(),
            explanation: String::new(),
            decision,
            case_id: None,
            officer: None,
            officer_id: None,
            note: None,
            basis: checked.basis.clone(),
            state: None,
            policy: Some(policy_version),
            found_in: None,
            issued_in: None,
            rule: None,
        }
    }

    /// Check every field before anything is written.
    pub fn validate(&self) -> Result<(), CrossingError> {
        check_text("nik", &self.nik, MAX_NIK_TEXT, true)?;
        check_text("verdict", &self.verdict, MAX_SHORT_TEXT, true)?;
        check_text("explanation", &self.explanation, MAX_LONG_TEXT, false)?;
        check_text("issued in", opt(&self.issued_in), MAX_SHORT_TEXT, false)?;
        check_text("rule", opt(&self.rule), MAX_SHORT_TEXT, false)?;
        check_text("officer", opt(&self.officer), MAX_SHORT_TEXT, false)?;
        check_text("officer id", opt(&self.officer_id), MAX_SHORT_TEXT, false)?;
        check_text("note", opt(&self.note), MAX_LONG_TEXT, false)?;
        if let Some(id) = &self.case_id {
            if !is_case_id(id) {
                return Err(refused(
                    "case id",
                    format!("'{id}' is not {CASE_ID_LEN} lowercase hex digits"),
                ));
            }
        }
        if self.basis.len() > MAX_BASIS_DOCS {
            return Err(refused(
                "basis",
                format!(
                    "names {} documents, at most {MAX_BASIS_DOCS}",
                    self.basis.len()
                ),
            ));
        }
        for (i, b) in self.basis.iter().enumerate() {
            check_text("basis document", &b.doc, MAX_SHORT_TEXT, true)?;
            if self.basis[..i].iter().any(|o| o.doc == b.doc) {
                return Err(refused("basis", format!("names {} twice", b.doc)));
            }
            if b.heads.len() > MAX_HEADS {
                return Err(refused("basis heads", format!("too many for {}", b.doc)));
            }
            b.change_hashes()?;
        }
        Ok(())
    }
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or_default()
}

fn refused(field: &'static str, reason: String) -> CrossingError {
    CrossingError::Refused { field, reason }
}

fn check_text(
    field: &'static str,
    s: &str,
    max: usize,
    required: bool,
) -> Result<(), CrossingError> {
    // What an officer typed: no control characters but a note's line
    // breaks, nothing that reorders text, something visible.
    let typed = match field {
        "officer" | "officer id" => Some(false),
        "note" => Some(true),
        _ => None,
    };
    match crate::fields::text_refusal(s, max, required, typed) {
        Some(reason) => Err(refused(field, reason)),
        None => Ok(()),
    }
}

/// A checkpoint's crossing log.
#[derive(Debug, Clone)]
pub struct CrossingLog {
    peer: String,
    doc: Automerge,
    crossings: ObjId,
}

/// The actor of a checkpoint's genesis change (of one month's log).
fn genesis_actor(peer: &str, month: Option<LogMonth>) -> ActorId {
    match month {
        Some(m) => ActorId::from(format!("kampung-crossings/{peer}/{m}").into_bytes()),
        None => ActorId::from(format!("kampung-crossings/{peer}").into_bytes()),
    }
}

impl CrossingLog {
    /// The single log of every month that nodes before monthly logs wrote:
    /// the genesis change only, identical on every node.
    pub fn genesis(peer: &str) -> CrossingLog {
        Self::genesis_in(peer, None)
    }

    /// A new, empty log of `month` (the single log of every month when
    /// `None`): the genesis change only, identical on every node. A month's
    /// genesis names its month, so each month's document differs from the
    /// first change on.
    pub fn genesis_in(peer: &str, month: Option<LogMonth>) -> CrossingLog {
        let mut doc = Automerge::new().with_actor(genesis_actor(peer, month));
        let mut tx = doc.transaction();
        // Infallible on a fresh document: ROOT exists and is a map.
        let named = match month {
            Some(m) => tx.put(ROOT, "month", m.to_string()),
            None => Ok(()),
        };
        let crossings = named
            .and_then(|()| tx.put(ROOT, "checkpoint", peer))
            .and_then(|()| tx.put_object(ROOT, "crossings", ObjType::List));
        let crossings = match crossings {
            Ok(id) => id,
            Err(e) => unreachable!("genesis of a fresh document failed: {e}"),
        };
        tx.commit_with(
            CommitOptions::default()
                .with_message("genesis")
                .with_time(0),
        );
        CrossingLog {
            peer: peer.to_string(),
            doc,
            crossings,
        }
    }

    /// Load from a snapshot (optional: the genesis if absent) and chunks,
    /// checking it is this checkpoint's log.
    pub fn load<'a>(
        peer: &str,
        snapshot: Option<&[u8]>,
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<CrossingLog, CrossingError> {
        let mut doc = match snapshot {
            Some(bytes) => Automerge::load(bytes)?,
            None => Self::genesis(peer).doc,
        };
        crate::doc::load_chunks(&mut doc, chunks)?;
        Self::from_automerge(peer, doc)
    }

    /// Wrap a document received whole (sync, audit), checking it is this
    /// checkpoint's log.
    pub fn from_automerge(peer: &str, doc: Automerge) -> Result<CrossingLog, CrossingError> {
        let found = match doc.get(ROOT, "checkpoint")? {
            Some((v, _)) => v.as_str().unwrap_or_default().to_string(),
            None => String::new(),
        };
        if found != peer {
            return Err(CrossingError::WrongCheckpoint {
                expected: peer.to_string(),
                found,
            });
        }
        let crossings = match doc.get(ROOT, "crossings")? {
            Some((automerge::Value::Object(ObjType::List), id)) => id,
            _ => return Err(CrossingError::NotACrossingLog),
        };
        Ok(CrossingLog {
            peer: peer.to_string(),
            doc,
            crossings,
        })
    }

    /// The checkpoint's peer id.
    /// The document itself (to hold it unwrapped between writes).
    pub fn into_automerge(self) -> Automerge {
        self.doc
    }

    pub fn peer(&self) -> &str {
        &self.peer
    }

    pub fn heads(&self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// The Automerge document, for sync and audit.
    pub fn automerge(&self) -> &Automerge {
        &self.doc
    }

    /// Mutable access for applying remote changes (sync).
    pub fn automerge_mut(&mut self) -> &mut Automerge {
        &mut self.doc
    }

    /// Whole document, compressed.
    pub fn save(&self) -> Vec<u8> {
        self.doc.save()
    }

    /// The changes made since `heads`, compressed.
    pub fn save_after(&self, heads: &[ChangeHash]) -> Vec<u8> {
        self.doc.save_after(heads)
    }

    /// Number of crossings logged.
    pub fn len(&self) -> usize {
        self.doc.length(&self.crossings)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Append one crossing as one change by `actor`. A refused entry writes
    /// nothing.
    pub fn record(
        &mut self,
        actor: &ActorId,
        entry: &Crossing,
    ) -> Result<ChangeHash, CrossingError> {
        self.append(actor, entry, None).map(|(hash, _)| hash)
    }

    /// Append one crossing as one change by `actor`, with the registry
    /// state (village -> heads) its verdict was computed on: the state is
    /// appended to `states` in the same change when it differs from the
    /// last one (`cache` remembers that). Returns the change and the
    /// state's number.
    pub fn record_on(
        &mut self,
        actor: &ActorId,
        entry: &Crossing,
        registry: &std::collections::HashMap<VillageCode, Vec<ChangeHash>>,
        cache: &mut StateCache,
    ) -> Result<(ChangeHash, Option<u64>), CrossingError> {
        let result = self.append(actor, entry, Some((registry, &mut *cache)));
        if result.is_err() {
            cache.clear();
        }
        result
    }

    fn append(
        &mut self,
        actor: &ActorId,
        entry: &Crossing,
        state: Option<(
            &std::collections::HashMap<VillageCode, Vec<ChangeHash>>,
            &mut StateCache,
        )>,
    ) -> Result<(ChangeHash, Option<u64>), CrossingError> {
        entry.validate()?;
        if self.doc.get_actor() != actor {
            self.doc.set_actor(actor.clone());
        }
        let mut tx = self.doc.transaction();
        let state = match state {
            Some((registry, cache)) => Some(cache.state_for(&mut tx, registry)?),
            None => None,
        };
        // One value (crossing format 2, [`value`]): one operation.
        let at = tx.length(&self.crossings);
        tx.insert(&self.crossings, at, value::encode(entry, state))?;
        let author = match (&entry.officer_id, &entry.officer) {
            (Some(id), Some(name)) => Some(kampung_core::Author {
                id: id.clone(),
                name: name.clone(),
            }),
            _ => None,
        };
        let options = CommitOptions::default()
            .with_message(kampung_core::Author::stamp(
                format!("crossing {} {}", entry.verdict, entry.decision.kind()),
                author.as_ref(),
            ))
            .with_time(entry.at_ms / 1000);
        let (hash, _) = tx.commit_with(options);
        Ok((hash.ok_or(CrossingError::EmptyChange)?, state))
    }

    /// Every crossing, in time order (equal times in list order, the same on
    /// every replica).
    pub fn entries(&self) -> Result<Vec<Crossing>, CrossingError> {
        let mut out = read_range(&self.doc, &self.crossings, 0..self.len())?;
        out.sort_by_key(|c| c.at_ms);
        Ok(out)
    }

    /// The newest crossings first: `limit` entries after skipping `offset`
    /// from the end of the list, read without decoding the rest of the log.
    /// Newest means last appended; on one device that is time order, and a
    /// page is sorted by time, newest first.
    pub fn newest(&self, offset: usize, limit: usize) -> Result<Vec<Crossing>, CrossingError> {
        newest(&self.doc, &self.crossings, offset, limit)
    }

    /// [`CrossingLog::newest`] on a log held elsewhere (borrowed, not
    /// copied), with the number of crossings it holds.
    pub fn newest_in(
        doc: &Automerge,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Crossing>), CrossingError> {
        let crossings = match doc.get(ROOT, "crossings")? {
            Some((automerge::Value::Object(ObjType::List), id)) => id,
            _ => return Err(CrossingError::NotACrossingLog),
        };
        let total = doc.length(&crossings);
        Ok((total, newest(doc, &crossings, offset, limit)?))
    }
}

fn newest(
    doc: &Automerge,
    crossings: &ObjId,
    offset: usize,
    limit: usize,
) -> Result<Vec<Crossing>, CrossingError> {
    let end = doc.length(crossings).saturating_sub(offset);
    let mut out = read_range(doc, crossings, end.saturating_sub(limit)..end)?;
    out.reverse();
    out.sort_by_key(|c| std::cmp::Reverse(c.at_ms));
    Ok(out)
}

/// The entries at list positions `range` of `crossings`, in list order.
fn read_range(
    doc: &Automerge,
    crossings: &ObjId,
    range: std::ops::Range<usize>,
) -> Result<Vec<Crossing>, CrossingError> {
    let mut out = Vec::with_capacity(range.len());
    for item in doc.list_range(crossings, range) {
        let index = item.index;
        let bad = |field| CrossingError::BadEntry { index, field };
        out.push(match item.value {
            ValueRef::Scalar(ScalarValueRef::Str(s)) => value::decode(&s).map_err(bad)?,
            // Crossings logged before format 2: a map of fields.
            ValueRef::Object(ObjType::Map) => read_entry(doc, &item.id()).map_err(|f| match f {
                ReadError::Field(field) => bad(field),
                ReadError::Automerge(e) => CrossingError::Automerge(e),
            })?,
            _ => return Err(bad("entry")),
        });
    }
    Ok(out)
}

fn read_entry(doc: &Automerge, obj: &ObjId) -> Result<Crossing, ReadError> {
    let f = Fields::read(doc, obj);
    let text = |k: &'static str| f.str(k).map(str::to_string).ok_or(ReadError::Field(k));
    let decision = f
        .str("decision")
        .and_then(|d| Decision::from_parts(d, f.str("village")))
        .ok_or(ReadError::Field("decision"))?;
    let basis_obj = f.obj("basis").ok_or(ReadError::Field("basis"))?;
    let mut basis = Vec::new();
    for item in doc.map_range(basis_obj, ..) {
        let ValueRef::Object(ObjType::List) = item.value else {
            return Err(ReadError::Field("basis"));
        };
        let mut heads = Vec::new();
        for h in doc.list_range(item.id(), ..) {
            match h.value {
                ValueRef::Scalar(ScalarValueRef::Str(s)) => heads.push(s.into_owned()),
                ValueRef::Scalar(ScalarValueRef::Bytes(b)) => match ChangeHash::try_from(&b[..]) {
                    Ok(hash) => heads.push(hash.to_string()),
                    Err(_) => return Err(ReadError::Field("basis")),
                },
                _ => return Err(ReadError::Field("basis")),
            }
        }
        basis.push(DocHeads {
            doc: item.key.into_owned(),
            heads,
        });
    }
    Ok(Crossing {
        at_ms: f.ts("at").ok_or(ReadError::Field("at"))?,
        nik: text("nik")?,
        verdict: text("verdict")?,
        explanation: f.str("explain").unwrap_or_default().to_string(),
        decision,
        case_id: f.str("case").map(str::to_string),
        officer: f.str("officer").map(str::to_string),
        officer_id: f.str("officer_id").map(str::to_string),
        note: f.str("note").map(str::to_string),
        basis,
        state: f.uint("state"),
        policy: f.uint("policy"),
        found_in: match f.str("found") {
            Some(v) => Some(VillageCode::parse(v).map_err(|_| ReadError::Field("found"))?),
            None => None,
        },
        issued_in: f.str("issued").map(str::to_string),
        rule: f.str("rule").map(str::to_string),
    })
}

#[cfg(test)]
mod tests;
