//! One isolation case as one Automerge document.
//!
//! ```text
//! ROOT { "case": "<16 hex>", "nik", "name"?, "opened_at", "opened_by", "opened_role",
//!        "origin", "required_days",
//!        "placements": [ { "place", "village"?, "address"?, "pledge_by"?, "relation"?,
//!                          "phone"?, "at", "by", "role" } ],
//!        "follow_ups": { "<YYYY-MM-DD>/<actor hex>": { "date", "outcome", "note"?,
//!                                                       "at", "by", "role" } },
//!        "notes":      [ { "text", "at", "by", "role" } ],
//!        "releases":   [ { "reason", "why"?, "at", "by", "role" } ] }
//! ```
//!
//! A case is written concurrently and offline by the checkpoint that opened
//! it, the facility holding the person and the village task force, so the
//! layout is chosen so that a merge never drops an update:
//!
//! - The opening change creates *every* container. No deterministic genesis is
//!   needed (a writer must hold the opening change to write at all), but a
//!   container created later by two writers concurrently would be two objects,
//!   one hiding the other; so no later change creates anything at the root.
//! - Placements, notes and releases are lists that only grow: concurrent
//!   appends all survive. The current place is the placement with the latest
//!   time; equal times are ordered by list position, which is part of the
//!   merged document (so every replica agrees) and puts a writer's own later
//!   append after its earlier one.
//! - Follow-ups are a map keyed `"<date>/<writer's actor>"`: two nodes recording
//!   the same day both survive (different keys), and "today's follow-ups" is a
//!   range read over one key prefix. The same node recording the same day again
//!   replaces its own entry: that is a correction, not a concurrent update.
//! - Releases are a list too: if two nodes release concurrently both are kept,
//!   and the earliest is the release.
//!
//! Each operation is one Automerge change (one change per record edit keeps
//! re-syncs small). Dates are days in Banyuwangi (WIB, see
//! [`kampung_core::checkpoint::local_date`]).

use automerge::transaction::{CommitOptions, Transactable, Transaction};
use automerge::{
    ActorId, Automerge, AutomergeError, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, ROOT,
};
use kampung_core::checkpoint::local_date;
use kampung_core::Place;
use time::Date;

mod read;
mod types;
use types::{check_text, validate_place, validate_writer};
pub use types::{
    is_case_id, new_case_id, CaseHistory, CaseInfo, CaseState, FollowUp, Note, Opening, Outcome,
    Placement, Release, ReleaseReason, RoleKind, Writer,
};

/// Longest note, early-release reason or follow-up note.
pub const MAX_NOTE: usize = 2000;
/// Longest name, origin, address or pledge field.
pub const MAX_TEXT: usize = 200;
/// Longest isolation period a policy may require.
pub const MAX_REQUIRED_DAYS: u32 = 365;

/// Why a case could not be read or an operation was refused. Refusals write
/// nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaseError {
    #[error("automerge: {0}")]
    Automerge(#[from] AutomergeError),
    #[error("'{0}' is not a case id: it is 16 lowercase hex digits")]
    BadCaseId(String),
    #[error("case {case}: the document has no '{missing}': it is not an isolation case")]
    NotACase { case: String, missing: &'static str },
    #[error("the document is case {found}, expected {expected}")]
    WrongCase { expected: String, found: String },
    #[error("case {case}: {what} '{at}', field '{field}' is missing or malformed")]
    BadRecord {
        case: String,
        what: &'static str,
        at: String,
        field: &'static str,
    },
    #[error("refused: {field} {reason}")]
    Refused { field: &'static str, reason: String },
    #[error(
        "case {case} was released on {on}: nothing can be placed after release; open a new case"
    )]
    Released { case: String, on: Date },
    #[error("case {case} is already released (on {on})")]
    AlreadyReleased { case: String, on: Date },
    #[error("case {case} is on day {day} of {required_days}: the period ends after day {required_days}; to release earlier, give the reason (early release)")]
    PeriodNotEnded {
        case: String,
        day: u32,
        required_days: u32,
    },
    #[error("an early release must say why: the reason is empty")]
    EarlyReleaseNeedsReason,
    #[error("follow-up of {date} refused: {reason}")]
    FollowUpDate { date: Date, reason: String },
    #[error("the operation produced no change")]
    EmptyChange,
}

fn refused(field: &'static str, reason: impl Into<String>) -> CaseError {
    CaseError::Refused {
        field,
        reason: reason.into(),
    }
}

/// One isolation case.
#[derive(Debug, Clone)]
pub struct CaseDoc {
    id: String,
    doc: Automerge,
    placements: ObjId,
    follow_ups: ObjId,
    notes: ObjId,
    releases: ObjId,
}

fn put_writer(tx: &mut Transaction<'_>, obj: &ObjId, by: &Writer) -> Result<(), AutomergeError> {
    tx.put(obj, "by", by.peer.as_str())?;
    tx.put(obj, "role", by.role.as_str())?;
    if let Some(p) = &by.person {
        tx.put(obj, "person_id", p.id.as_str())?;
        tx.put(obj, "person", p.name.as_str())?;
    }
    Ok(())
}

fn put_at(tx: &mut Transaction<'_>, obj: &ObjId, at_ms: i64) -> Result<(), AutomergeError> {
    tx.put(obj, "at", ScalarValue::Timestamp(at_ms))
}

fn put_place(tx: &mut Transaction<'_>, obj: &ObjId, p: &Placement) -> Result<(), AutomergeError> {
    tx.put(obj, "place", p.place.kind())?;
    match &p.place {
        Place::Gor => {}
        Place::VillageHouse { village } => tx.put(obj, "village", village.to_string())?,
        Place::Home { address } => tx.put(obj, "address", address.as_str())?,
        Place::FamilyPickup { pledge } => {
            tx.put(obj, "pledge_by", pledge.picked_up_by.as_str())?;
            tx.put(obj, "relation", pledge.relation.as_str())?;
            tx.put(obj, "phone", pledge.phone.as_str())?;
        }
    }
    put_at(tx, obj, p.at_ms)?;
    put_writer(tx, obj, &p.by)
}

impl CaseDoc {
    /// Open a case: one change creating every container, with the first
    /// placement.
    pub fn open(actor: &ActorId, case_id: &str, o: &Opening) -> Result<CaseDoc, CaseError> {
        if !is_case_id(case_id) {
            return Err(CaseError::BadCaseId(case_id.to_string()));
        }
        o.validate()?;
        let mut doc = Automerge::new().with_actor(actor.clone());
        let mut tx = doc.transaction();
        tx.put(ROOT, "case", case_id)?;
        tx.put(ROOT, "nik", o.nik.to_string())?;
        if let Some(name) = &o.person_name {
            tx.put(ROOT, "name", name.as_str())?;
        }
        tx.put(ROOT, "opened_at", ScalarValue::Timestamp(o.at_ms))?;
        tx.put(ROOT, "opened_by", o.by.peer.as_str())?;
        tx.put(ROOT, "opened_role", o.by.role.as_str())?;
        if let Some(p) = &o.by.person {
            tx.put(ROOT, "opened_person_id", p.id.as_str())?;
            tx.put(ROOT, "opened_person", p.name.as_str())?;
        }
        tx.put(ROOT, "origin", o.origin.as_str())?;
        tx.put(ROOT, "required_days", u64::from(o.required_days))?;
        let placements = tx.put_object(ROOT, "placements", ObjType::List)?;
        let follow_ups = tx.put_object(ROOT, "follow_ups", ObjType::Map)?;
        let notes = tx.put_object(ROOT, "notes", ObjType::List)?;
        let releases = tx.put_object(ROOT, "releases", ObjType::List)?;
        let first = tx.insert_object(&placements, 0, ObjType::Map)?;
        let placement = Placement {
            place: o.place.clone(),
            at_ms: o.at_ms,
            by: o.by.clone(),
        };
        put_place(&mut tx, &first, &placement)?;
        let options = CommitOptions::default()
            .with_message(kampung_core::Author::stamp(
                format!("open {case_id} {}", o.place.kind()),
                o.by.person.as_ref(),
            ))
            .with_time(o.at_ms / 1000);
        let (hash, _) = tx.commit_with(options);
        hash.ok_or(CaseError::EmptyChange)?;
        Ok(CaseDoc {
            id: case_id.to_string(),
            doc,
            placements,
            follow_ups,
            notes,
            releases,
        })
    }

    /// Load from a snapshot and chunks (the opening change must be among
    /// them), checking it is this case.
    pub fn load<'a>(
        case_id: &str,
        snapshot: Option<&[u8]>,
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<CaseDoc, CaseError> {
        let mut doc = match snapshot {
            Some(bytes) => Automerge::load(bytes)?,
            None => Automerge::new(),
        };
        crate::doc::load_chunks(&mut doc, chunks)?;
        Self::from_automerge(case_id, doc)
    }

    /// Wrap a document received whole (sync, audit), checking it is this case.
    pub fn from_automerge(case_id: &str, doc: Automerge) -> Result<CaseDoc, CaseError> {
        if !is_case_id(case_id) {
            return Err(CaseError::BadCaseId(case_id.to_string()));
        }
        let found = match doc.get(ROOT, "case")? {
            Some((v, _)) => v.as_str().unwrap_or_default().to_string(),
            None => String::new(),
        };
        if found != case_id {
            return Err(CaseError::WrongCase {
                expected: case_id.to_string(),
                found,
            });
        }
        let container = |key: &'static str, ty: ObjType| match doc.get(ROOT, key) {
            Ok(Some((automerge::Value::Object(t), id))) if t == ty => Ok(id),
            Ok(_) => Err(CaseError::NotACase {
                case: case_id.to_string(),
                missing: key,
            }),
            Err(e) => Err(e.into()),
        };
        Ok(CaseDoc {
            placements: container("placements", ObjType::List)?,
            follow_ups: container("follow_ups", ObjType::Map)?,
            notes: container("notes", ObjType::List)?,
            releases: container("releases", ObjType::List)?,
            id: case_id.to_string(),
            doc,
        })
    }

    /// The document itself (to hold it unwrapped between writes).
    pub fn into_automerge(self) -> Automerge {
        self.doc
    }

    pub fn id(&self) -> &str {
        &self.id
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

    /// Place or transfer the person (GOR, village house, home, family pick-up).
    /// Refused once the case is released.
    pub fn place(&mut self, actor: &ActorId, p: &Placement) -> Result<ChangeHash, CaseError> {
        validate_place(&p.place)?;
        validate_writer(&p.by)?;
        if let Some(r) = self.released()? {
            return Err(CaseError::Released {
                case: self.id.clone(),
                on: day_of(r.at_ms)?,
            });
        }
        let list = self.placements.clone();
        let message = format!("place {}", p.place.kind());
        self.commit(actor, &p.by, message, p.at_ms, |tx| {
            let obj = tx.insert_object(&list, tx.length(&list), ObjType::Map)?;
            put_place(tx, &obj, p)
        })
    }

    /// Hand the person over to family who signed the isolation pledge: a
    /// placement whose place carries the pledge.
    pub fn family_pickup(
        &mut self,
        actor: &ActorId,
        at_ms: i64,
        by: &Writer,
        pledge: &kampung_core::Pledge,
    ) -> Result<ChangeHash, CaseError> {
        let placement = Placement {
            place: Place::FamilyPickup {
                pledge: pledge.clone(),
            },
            at_ms,
            by: by.clone(),
        };
        self.place(actor, &placement)
    }

    /// Record the follow-up of one day. The day must lie between the opening
    /// and the time of recording (and not after the release); recording the
    /// same day again from the same node replaces that node's entry.
    pub fn follow_up(&mut self, actor: &ActorId, f: &FollowUp) -> Result<ChangeHash, CaseError> {
        validate_writer(&f.by)?;
        check_text(
            "follow-up note",
            f.note.as_deref().unwrap_or_default(),
            MAX_NOTE,
            false,
        )?;
        let info = self.info()?;
        let bad = |reason: String| CaseError::FollowUpDate {
            date: f.date,
            reason,
        };
        if f.date < info.opened_on {
            return Err(bad(format!("the case opened on {}", info.opened_on)));
        }
        if f.date > day_of(f.at_ms)? {
            return Err(bad(format!("it is recorded on {}", day_of(f.at_ms)?)));
        }
        if let Some(r) = self.released()? {
            if f.date > day_of(r.at_ms)? {
                return Err(bad(format!(
                    "the case was released on {}",
                    day_of(r.at_ms)?
                )));
            }
        }
        let map = self.follow_ups.clone();
        // The node, not its run: a restarted node correcting today's entry
        // replaces it.
        let writer = ActorId::from(kampung_trust::writer_of_actor(actor.to_bytes()));
        let key = format!("{}/{}", f.date, writer);
        let message = format!("follow-up {} {}", f.date, f.outcome.as_str());
        self.commit(actor, &f.by, message, f.at_ms, |tx| {
            let obj = tx.put_object(&map, key.as_str(), ObjType::Map)?;
            tx.put(&obj, "date", i64::from(f.date.to_julian_day()))?;
            tx.put(&obj, "outcome", f.outcome.as_str())?;
            if let Some(note) = &f.note {
                tx.put(&obj, "note", note.as_str())?;
            }
            put_at(tx, &obj, f.at_ms)?;
            put_writer(tx, &obj, &f.by)
        })
    }

    /// Add a free-text note to the case.
    pub fn note(&mut self, actor: &ActorId, n: &Note) -> Result<ChangeHash, CaseError> {
        validate_writer(&n.by)?;
        check_text("note", &n.text, MAX_NOTE, true)?;
        let list = self.notes.clone();
        self.commit(actor, &n.by, "note".to_string(), n.at_ms, |tx| {
            let obj = tx.insert_object(&list, tx.length(&list), ObjType::Map)?;
            tx.put(&obj, "text", n.text.as_str())?;
            put_at(tx, &obj, n.at_ms)?;
            put_writer(tx, &obj, &n.by)
        })
    }

    /// Release the person. "Period ended" only once the day counter (on the
    /// day of `r.at_ms`) is past the required days; before that, an early
    /// release must carry its reason.
    pub fn release(&mut self, actor: &ActorId, r: &Release) -> Result<ChangeHash, CaseError> {
        validate_writer(&r.by)?;
        if let Some(done) = self.released()? {
            return Err(CaseError::AlreadyReleased {
                case: self.id.clone(),
                on: day_of(done.at_ms)?,
            });
        }
        let info = self.info()?;
        if r.at_ms < info.opened_at_ms {
            return Err(refused("release time", "is before the case was opened"));
        }
        match &r.reason {
            ReleaseReason::PeriodEnded => {
                let day = day_number(info.opened_on, day_of(r.at_ms)?);
                if day <= info.required_days {
                    return Err(CaseError::PeriodNotEnded {
                        case: self.id.clone(),
                        day,
                        required_days: info.required_days,
                    });
                }
            }
            ReleaseReason::Early { reason } => {
                if reason.trim().is_empty() {
                    return Err(CaseError::EarlyReleaseNeedsReason);
                }
                check_text("early release reason", reason, MAX_NOTE, true)?;
            }
        }
        let list = self.releases.clone();
        let message = format!("release {}", r.reason.as_str());
        self.commit(actor, &r.by, message, r.at_ms, |tx| {
            let obj = tx.insert_object(&list, tx.length(&list), ObjType::Map)?;
            tx.put(&obj, "reason", r.reason.as_str())?;
            if let ReleaseReason::Early { reason } = &r.reason {
                tx.put(&obj, "why", reason.as_str())?;
            }
            put_at(tx, &obj, r.at_ms)?;
            put_writer(tx, &obj, &r.by)
        })
    }

    /// One change by `actor`; a failed write leaves the document as it was
    /// (the transaction rolls back when dropped).
    fn commit(
        &mut self,
        actor: &ActorId,
        by: &Writer,
        message: String,
        at_ms: i64,
        write: impl FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
    ) -> Result<ChangeHash, CaseError> {
        let message = kampung_core::Author::stamp(message, by.person.as_ref());
        if self.doc.get_actor() != actor {
            self.doc.set_actor(actor.clone());
        }
        let mut tx = self.doc.transaction();
        write(&mut tx)?;
        let options = CommitOptions::default()
            .with_message(message)
            .with_time(at_ms / 1000);
        let (hash, _) = tx.commit_with(options);
        hash.ok_or(CaseError::EmptyChange)
    }
}

/// The day in Banyuwangi of a time, or a refusal naming it.
fn day_of(at_ms: i64) -> Result<Date, CaseError> {
    local_date(at_ms).ok_or_else(|| refused("time", format!("{at_ms} ms is out of range")))
}

/// Day counter: the opening day is day 1. A date before the opening (a
/// skewed clock) counts as day 1.
pub fn day_number(opened_on: Date, on: Date) -> u32 {
    let days = (on - opened_on).whole_days().max(0);
    u32::try_from(days).unwrap_or(u32::MAX - 1) + 1
}

#[cfg(test)]
mod tests;
