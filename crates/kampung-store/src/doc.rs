//! A village's residents as one Automerge document.
//!
//! ```text
//! ROOT { "village": "35.10.15.2012",
//!        "residents": { "<nik>": "[2, name, sex, birth, kk, dusun, rt, rw,
//!                                  status, moved_to, moved_on, died_on, updated]" } }
//! ```
//!
//! A record is one value (format 2, [`record`]); documents written before it
//! hold records as maps of those fields, which are read as they are and
//! become values when next written.
//!
//! Every replica starts from the same *genesis* change (fixed actor, time and
//! content, hence the same hash), so the `residents` map is one object on every
//! node: two nodes creating it independently would make two maps, and one
//! would hide the other after a merge.
//!
//! Each record edit is its own Automerge change: the sync protocol falls back
//! to sending the whole document when a peer lacks more than about a third of
//! the change history, so one change per record keeps re-syncs small.

use std::collections::BTreeSet;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{
    ActorId, Automerge, ChangeHash, ObjType, Prop, ReadDoc, ScalarValueRef, ValueRef, ROOT,
};
use kampung_core::resident::StatusKind;
use kampung_core::{Address, Nik, Resident, Sex, Status, VillageCode};
use time::Date;

mod history;
pub mod record;
pub use history::RecordChange;

/// Why a document could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocError {
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    #[error("the document has no 'residents' map: it is not a village document")]
    NotAVillageDoc,
    #[error("the document is for village {found}, expected {expected}")]
    WrongVillage {
        expected: VillageCode,
        found: String,
    },
    #[error("record {nik}: field '{field}' is missing or malformed")]
    BadRecord { nik: String, field: &'static str },
    #[error("the bytes are malformed: automerge failed reading them ({0})")]
    Malformed(String),
}

/// Run automerge on bytes from a peer or a file. Automerge 0.12 can panic on
/// malformed input (fuzzing found an `unwrap` when a change names an actor the
/// document lacks): here such a panic becomes [`DocError::Malformed`]. The
/// document it was working on may be half-updated: callers drop it.
pub(crate) fn guarded<T>(f: impl FnOnce() -> Result<T, DocError>) -> Result<T, DocError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let reason = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "it panicked".to_string());
        Err(DocError::Malformed(reason))
    })
}

/// Apply stored chunks to `doc`, all in one call: Automerge 0.12 pays for
/// each call as for a merge, so 4,000 single-edit chunks took 2.4 s one by
/// one and 78 ms together (a restarted village took over 30 s to open in the
/// 60-minute chaos run). Automerge orders the changes itself. Any chunk that
/// does not apply fails the whole.
pub(crate) fn load_chunks<'a>(
    doc: &mut Automerge,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Result<(), automerge::AutomergeError> {
    let whole: Vec<u8> = chunks.into_iter().flatten().copied().collect();
    if !whole.is_empty() {
        doc.load_incremental(&whole)?;
    }
    Ok(())
}

/// What [`VillageDoc::upsert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    Added(ChangeHash),
    Changed(ChangeHash),
    Unchanged,
}

/// One village's residents.
/// Which of a village's two documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// `k/`: what a verdict needs of each resident, read by every member.
    Card,
    /// `v/`: the residents in full, read by the village, its detail
    /// holders and auditors.
    Details,
}

#[derive(Debug, Clone)]
pub struct VillageDoc {
    village: VillageCode,
    doc: Automerge,
    residents: automerge::ObjId,
}

/// The actor of every village's genesis change.
fn genesis_actor(village: VillageCode) -> ActorId {
    ActorId::from(format!("kampung-genesis/{village}").into_bytes())
}

fn card_genesis_actor(village: VillageCode) -> ActorId {
    ActorId::from(format!("kampung-card-genesis/{village}").into_bytes())
}

fn find_residents(doc: &Automerge) -> Result<automerge::ObjId, DocError> {
    match doc.get(ROOT, "residents")? {
        Some((automerge::Value::Object(ObjType::Map), id)) => Ok(id),
        _ => Err(DocError::NotAVillageDoc),
    }
}

impl VillageDoc {
    /// A new, empty village document (the details, `v/`): the genesis change only.
    pub fn genesis(village: VillageCode) -> Self {
        Self::genesis_as(village, genesis_actor(village), Part::Details)
    }

    /// A new, empty card document (`k/`): a genesis of its own, so that
    /// a card document never shares a change with the details.
    pub fn card_genesis(village: VillageCode) -> Self {
        Self::genesis_as(village, card_genesis_actor(village), Part::Card)
    }

    /// The empty document of `part`.
    pub fn genesis_of(part: Part, village: VillageCode) -> Self {
        match part {
            Part::Card => Self::card_genesis(village),
            Part::Details => Self::genesis(village),
        }
    }

    fn genesis_as(village: VillageCode, actor: ActorId, part: Part) -> Self {
        let mut doc = Automerge::new().with_actor(actor);
        let mut tx = doc.transaction();
        // Infallible on a fresh document: ROOT exists and is a map. A card
        // document says so in its root (`cards`), for a reader of its file.
        let residents = tx
            .put(ROOT, "village", village.to_string())
            .and_then(|()| match part {
                Part::Card => tx.put(ROOT, "cards", true),
                Part::Details => Ok(()),
            })
            .and_then(|()| tx.put_object(ROOT, "residents", ObjType::Map));
        let residents = match residents {
            Ok(id) => id,
            Err(e) => unreachable!("genesis of a fresh document failed: {e}"),
        };
        tx.commit_with(
            CommitOptions::default()
                .with_message("genesis")
                .with_time(0),
        );
        VillageDoc {
            village,
            doc,
            residents,
        }
    }

    /// Load a details document from a snapshot (optional) and chunks,
    /// checking it is this village's document.
    pub fn load<'a>(
        village: VillageCode,
        snapshot: Option<&[u8]>,
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Self, DocError> {
        Self::load_part(Part::Details, village, snapshot, chunks)
    }

    /// [`VillageDoc::load`] for the document of `part`.
    pub fn load_part<'a>(
        part: Part,
        village: VillageCode,
        snapshot: Option<&[u8]>,
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Self, DocError> {
        guarded(|| {
            let mut doc = match snapshot {
                Some(bytes) => Automerge::load(bytes)?,
                None => Self::genesis_of(part, village).doc,
            };
            load_chunks(&mut doc, chunks)?;
            Self::from_automerge(village, doc)
        })
    }

    /// A village document from its Automerge document, checking it is
    /// this village's.
    pub fn from_automerge(village: VillageCode, doc: Automerge) -> Result<Self, DocError> {
        let found = match doc.get(ROOT, "village")? {
            Some((v, _)) => v.as_str().unwrap_or_default().to_string(),
            None => String::new(),
        };
        if found != village.to_string() {
            return Err(DocError::WrongVillage {
                expected: village,
                found,
            });
        }
        let residents = find_residents(&doc)?;
        Ok(VillageDoc {
            village,
            doc,
            residents,
        })
    }

    pub fn village(&self) -> VillageCode {
        self.village
    }

    /// The Automerge document, given back.
    pub fn into_automerge(self) -> Automerge {
        self.doc
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

    /// Apply changes received from a peer (already parsed and verified). On
    /// an error the document may be partly updated: drop it and reload it.
    pub fn apply_changes(&mut self, changes: Vec<automerge::Change>) -> Result<(), DocError> {
        guarded(|| Ok(self.doc.apply_changes(changes)?))
    }

    /// Merge a peer's saved document or chunk (same caveat as [`Self::apply_changes`]).
    pub fn load_incremental(&mut self, bytes: &[u8]) -> Result<usize, DocError> {
        guarded(|| Ok(self.doc.load_incremental(bytes)?))
    }

    /// Whole document, compressed.
    pub fn save(&self) -> Vec<u8> {
        self.doc.save()
    }

    /// The changes made since `heads`, compressed.
    pub fn save_after(&self, heads: &[ChangeHash]) -> Vec<u8> {
        self.doc.save_after(heads)
    }

    /// Number of residents (any status).
    pub fn len(&self) -> usize {
        self.doc.length(&self.residents)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Write a record as one change by `actor`. Writes only the fields that
    /// differ; returns `None` and writes nothing if the content is the same.
    pub fn upsert(
        &mut self,
        actor: &ActorId,
        r: &Resident,
        now_ms: i64,
    ) -> Result<Upsert, DocError> {
        self.upsert_by(actor, r, now_ms, None)
    }

    /// [`VillageDoc::upsert`], the change naming the person who made it.
    pub fn upsert_by(
        &mut self,
        actor: &ActorId,
        r: &Resident,
        now_ms: i64,
        author: Option<&kampung_core::Author>,
    ) -> Result<Upsert, DocError> {
        let existing = self.get(r.nik)?;
        if existing.as_ref().is_some_and(|e| e.same_content(r)) {
            return Ok(Upsert::Unchanged);
        }
        if self.doc.get_actor() != actor {
            self.doc.set_actor(actor.clone());
        }
        let nik = r.nik.to_string();
        let message = match (&existing, r.status.kind()) {
            (None, _) => "add",
            (Some(_), StatusKind::MovedOut) => "move-out",
            (Some(_), StatusKind::Deceased) => "deceased",
            (Some(_), StatusKind::Active) => "correct",
        };
        // The whole record, one operation (see [`record`]).
        let mut tx = self.doc.transaction();
        tx.put(&self.residents, nik.as_str(), record::encode(r, now_ms))?;
        let message = kampung_core::Author::stamp(format!("{message} {nik}"), author);
        let options = CommitOptions::default()
            .with_message(message)
            .with_time(now_ms / 1000);
        let (hash, _) = tx.commit_with(options);
        Ok(match (hash, existing) {
            (None, _) => Upsert::Unchanged,
            (Some(h), None) => Upsert::Added(h),
            (Some(h), Some(_)) => Upsert::Changed(h),
        })
    }

    /// Withdraw a registration made in error: remove the record, as one
    /// change by `actor` whose message says why (the record stays in the
    /// document's history, for the auditor). `None` if there is no record.
    pub fn withdraw(
        &mut self,
        actor: &ActorId,
        nik: Nik,
        reason: &str,
        now_ms: i64,
        author: Option<&kampung_core::Author>,
    ) -> Result<Option<ChangeHash>, DocError> {
        let key = nik.to_string();
        if self.doc.get(&self.residents, key.as_str())?.is_none() {
            return Ok(None);
        }
        if self.doc.get_actor() != actor {
            self.doc.set_actor(actor.clone());
        }
        let mut tx = self.doc.transaction();
        tx.delete(&self.residents, key.as_str())?;
        let message = kampung_core::Author::stamp(format!("withdraw {key}: {reason}"), author);
        let options = CommitOptions::default()
            .with_message(message)
            .with_time(now_ms / 1000);
        Ok(tx.commit_with(options).0)
    }

    /// The record of one resident, if this village has one.
    pub fn get(&self, nik: Nik) -> Result<Option<Resident>, DocError> {
        let key = nik.to_string();
        match self.doc.get(&self.residents, key.as_str())? {
            Some((value, obj)) => self.record_of(nik, &value, &obj, None).map(Some),
            None => Ok(None),
        }
    }

    /// Every record, in NIK order.
    pub fn residents(&self) -> impl Iterator<Item = Result<Resident, DocError>> + '_ {
        self.doc.map_range(&self.residents, ..).map(move |item| {
            let nik = parse_nik_key(&item.key)?;
            match item.value {
                ValueRef::Scalar(ScalarValueRef::Str(text)) => {
                    record::decode(nik, self.village, &text)
                }
                ValueRef::Object(ObjType::Map) => {
                    self.record_from(nik, self.doc.map_range(item.id(), ..))
                }
                _ => Err(DocError::BadRecord {
                    nik: nik.to_string(),
                    field: "record",
                }),
            }
        })
    }

    /// The record a value under `nik`'s key holds (at `heads`, or now):
    /// one value (format 2), or a map of fields (documents written before).
    fn record_of(
        &self,
        nik: Nik,
        value: &automerge::Value<'_>,
        obj: &automerge::ObjId,
        heads: Option<&[ChangeHash]>,
    ) -> Result<Resident, DocError> {
        match value {
            automerge::Value::Scalar(s) => match s.as_ref() {
                automerge::ScalarValue::Str(text) => record::decode(nik, self.village, text),
                _ => Err(DocError::BadRecord {
                    nik: nik.to_string(),
                    field: "record",
                }),
            },
            automerge::Value::Object(ObjType::Map) => match heads {
                Some(heads) => self.record_from(nik, self.doc.map_range_at(obj, .., heads)),
                None => self.record_from(nik, self.doc.map_range(obj, ..)),
            },
            automerge::Value::Object(_) => Err(DocError::BadRecord {
                nik: nik.to_string(),
                field: "record",
            }),
        }
    }

    /// A record from the fields of its object (now, or at some heads): the
    /// form of records written before format 2.
    fn record_from(
        &self,
        nik: Nik,
        fields: automerge::iter::MapRange<'_>,
    ) -> Result<Resident, DocError> {
        let mut name = None;
        let mut sex = None;
        let mut birth = None;
        let mut kk = None;
        let mut dusun = None;
        let (mut rt, mut rw) = (None, None);
        let mut status = None;
        let mut moved_to = String::new();
        let mut moved_on = 0i64;
        let mut died_on = 0i64;
        let mut updated = 0i64;
        for item in fields {
            let ValueRef::Scalar(v) = item.value else {
                continue;
            };
            match (item.key.as_ref(), v) {
                ("name", ScalarValueRef::Str(s)) => name = Some(s.into_owned()),
                ("sex", ScalarValueRef::Str(s)) => sex = Sex::parse(&s),
                ("birth", ScalarValueRef::Int(d)) => birth = julian(d),
                ("kk", ScalarValueRef::Str(s)) => kk = Some(s.into_owned()),
                ("dusun", ScalarValueRef::Str(s)) => dusun = Some(s.into_owned()),
                ("rt", ScalarValueRef::Uint(n)) => rt = u16::try_from(n).ok(),
                ("rw", ScalarValueRef::Uint(n)) => rw = u16::try_from(n).ok(),
                ("status", ScalarValueRef::Str(s)) => status = StatusKind::parse(&s),
                ("moved_to", ScalarValueRef::Str(s)) => moved_to = s.into_owned(),
                ("moved_on", ScalarValueRef::Int(d)) => moved_on = d,
                ("died_on", ScalarValueRef::Int(d)) => died_on = d,
                ("updated", ScalarValueRef::Timestamp(t)) => updated = t,
                _ => {}
            }
        }
        let bad = |field| DocError::BadRecord {
            nik: nik.to_string(),
            field,
        };
        let status = match status.ok_or_else(|| bad("status"))? {
            StatusKind::Active => Status::Active,
            StatusKind::MovedOut => Status::MovedOut {
                destination: moved_to,
                date: if moved_on == 0 {
                    None
                } else {
                    julian(moved_on)
                },
            },
            StatusKind::Deceased => Status::Deceased {
                date: if died_on == 0 { None } else { julian(died_on) },
            },
        };
        Ok(Resident {
            nik,
            full_name: name.ok_or_else(|| bad("name"))?,
            sex: sex.ok_or_else(|| bad("sex"))?,
            birth_date: birth.ok_or_else(|| bad("birth"))?,
            family_card: kk.ok_or_else(|| bad("kk"))?,
            address: Address {
                dusun: dusun.ok_or_else(|| bad("dusun"))?,
                rt: rt.ok_or_else(|| bad("rt"))?,
                rw: rw.ok_or_else(|| bad("rw"))?,
            },
            village: self.village,
            status,
            updated_at_ms: updated,
        })
    }

    /// The NIKs whose records changed between `before` and the current heads.
    pub fn touched_since(&self, before: &[ChangeHash]) -> Result<BTreeSet<Nik>, DocError> {
        let after = self.doc.get_heads();
        let mut out = BTreeSet::new();
        for patch in self.doc.diff(before, &after) {
            let key = if patch.obj == self.residents {
                match &patch.action {
                    automerge::PatchAction::PutMap { key, .. }
                    | automerge::PatchAction::DeleteMap { key } => Some(key.clone()),
                    _ => None,
                }
            } else {
                match patch.path.get(1) {
                    Some((obj, Prop::Map(key))) if *obj == self.residents => Some(key.clone()),
                    _ => None,
                }
            };
            if let Some(key) = key {
                out.insert(parse_nik_key(&key)?);
            }
        }
        Ok(out)
    }
}

/// A status as the record's fields hold it: kind, moved to, moved on, died on.
fn status_parts(s: &Status) -> (StatusKind, String, Option<Date>, Option<Date>) {
    match s {
        Status::Active => (StatusKind::Active, String::new(), None, None),
        Status::MovedOut { destination, date } => {
            (StatusKind::MovedOut, destination.clone(), *date, None)
        }
        Status::Deceased { date } => (StatusKind::Deceased, String::new(), None, *date),
    }
}

fn julian(d: i64) -> Option<Date> {
    Date::from_julian_day(i32::try_from(d).ok()?).ok()
}

fn parse_nik_key(key: &str) -> Result<Nik, DocError> {
    key.parse::<u64>()
        .ok()
        .filter(|_| key.len() == 16)
        .and_then(Nik::from_u64)
        .ok_or_else(|| DocError::BadRecord {
            nik: key.to_string(),
            field: "nik",
        })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use time::macros::date;

    pub(crate) fn resident(nik: &str, name: &str) -> Resident {
        Resident {
            nik: Nik::parse(nik, 2026).unwrap().nik(),
            full_name: name.to_string(),
            sex: Sex::Female,
            birth_date: date!(1985 - 03 - 12),
            family_card: "3510150101100001".to_string(),
            address: Address {
                dusun: "Krajan".to_string(),
                rt: 1,
                rw: 2,
            },
            village: VillageCode::parse("35.10.15.2012").unwrap(),
            status: Status::Active,
            updated_at_ms: 0,
        }
    }

    #[test]
    fn genesis_is_identical_everywhere() {
        let v = VillageCode::parse("35.10.15.2012").unwrap();
        assert_eq!(
            VillageDoc::genesis(v).heads(),
            VillageDoc::genesis(v).heads()
        );
        let other = VillageCode::parse("35.10.15.2001").unwrap();
        assert_ne!(
            VillageDoc::genesis(v).heads(),
            VillageDoc::genesis(other).heads()
        );
        // The hashes docs/documents.md gives: the details' and the cards'.
        let hex = |d: VillageDoc| d.heads()[0].to_string();
        assert_eq!(
            hex(VillageDoc::genesis(v)),
            "2bb520ffa9e034ecf72a27436981ba77bf4596673dc72939563da4f58809920c"
        );
        assert_eq!(
            hex(VillageDoc::card_genesis(v)),
            "34a7f3963d5daa5b869a4bce61b0464b22dbd7f15d5e98a31ca31c16ebc1087f"
        );
    }

    #[test]
    fn upsert_reads_back_and_is_one_change_per_edit() {
        let v = VillageCode::parse("35.10.15.2012").unwrap();
        let mut d = VillageDoc::genesis(v);
        let actor = ActorId::from(vec![7u8; 32]);
        let mut r = resident("3510155203850001", "Sri Wahyuni");
        assert!(matches!(
            d.upsert(&actor, &r, 1_000).unwrap(),
            Upsert::Added(_)
        ));
        assert_eq!(
            d.upsert(&actor, &r, 2_000).unwrap(),
            Upsert::Unchanged,
            "same content writes nothing"
        );
        r.status = Status::MovedOut {
            destination: "Kota Surabaya".into(),
            date: Some(time::macros::date!(2026 - 11 - 01)),
        };
        let before = d.heads();
        assert!(matches!(
            d.upsert(&actor, &r, 3_000).unwrap(),
            Upsert::Changed(_)
        ));
        let back = d.get(r.nik).unwrap().unwrap();
        assert!(back.same_content(&r));
        assert_eq!(back.updated_at_ms, 3_000);
        assert_eq!(d.automerge().get_changes(&[]).len(), 3, "genesis + 2 edits");
        assert_eq!(
            d.touched_since(&before)
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            vec![r.nik]
        );
        let loaded = VillageDoc::load(v, Some(&d.save()), []).unwrap();
        assert_eq!(
            loaded
                .residents()
                .collect::<Result<Vec<_>, _>>()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn wrong_village_is_refused() {
        let v = VillageCode::parse("35.10.15.2012").unwrap();
        let other = VillageCode::parse("35.10.15.2001").unwrap();
        let bytes = VillageDoc::genesis(v).save();
        assert!(matches!(
            VillageDoc::load(other, Some(&bytes), []),
            Err(DocError::WrongVillage { .. })
        ));
        assert!(VillageDoc::load(v, Some(b"not automerge"), []).is_err());
    }

    /// Inputs found by `scripts/fuzz` (target doc_load) on which automerge
    /// 0.12 panics when they are applied as a change: a change naming an actor
    /// the document lacks (`apply-unknown-actor`, the first crash, in
    /// `import_ops`), an actor index out of range, an object missing from the
    /// index. A peer could send any of them inline or in a page of changes.
    const FUZZ_PANICS: [(&str, &[u8]); 3] = [
        (
            "apply-unknown-actor",
            include_bytes!("../fuzz-regressions/apply-unknown-actor.bin"),
        ),
        (
            "invalid-actor-index",
            include_bytes!("../fuzz-regressions/invalid-actor-index.bin"),
        ),
        (
            "object-missing-from-index",
            include_bytes!("../fuzz-regressions/object-missing-from-index.bin"),
        ),
    ];

    #[test]
    fn changes_that_made_automerge_panic_are_refused() {
        let v = VillageCode::parse("35.10.15.2012").unwrap();
        for (name, bytes) in FUZZ_PANICS {
            let change = automerge::Change::try_from(bytes).unwrap();
            let mut doc = VillageDoc::genesis(v);
            let applied = doc.apply_changes(vec![change]);
            assert!(
                matches!(applied, Err(DocError::Malformed(_))),
                "{name}: {applied:?}"
            );
            // The other ways such bytes arrive return, whatever they return.
            let _ = VillageDoc::load(v, Some(bytes), []);
            let _ = VillageDoc::load(v, None, [bytes]);
            let _ = VillageDoc::genesis(v).load_incremental(bytes);
        }
    }
}
