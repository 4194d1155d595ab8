//! The records of an isolation case, their validation, and how a placement's
//! place and a writer are read back from a document.

use kampung_core::{Nik, Place, Pledge, VillageCode};
use serde::{Deserialize, Serialize};
use time::Date;

use super::{refused, CaseError, MAX_REQUIRED_DAYS, MAX_TEXT};
use crate::fields::{Fields, ReadError};

/// A fresh case id from 8 random bytes (the caller's RNG): 16 lowercase hex
/// digits. Ids must not repeat: two cases opened under one id would each
/// create the root containers, and one would hide the other after a merge.
pub fn new_case_id(random: [u8; 8]) -> String {
    random.iter().map(|b| format!("{b:02x}")).collect()
}

pub use kampung_core::doc_id::is_case_id;

/// Which kind of node wrote to a case (never an auditor: see [`validate_writer`]).
pub use kampung_core::RoleKind;

/// Who wrote something: the node (peer id) and its role, and the person
/// signed in there, if any.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Writer {
    pub peer: String,
    pub role: RoleKind,
    #[serde(default)]
    pub person: Option<kampung_core::Author>,
}

/// What opening a case records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opening {
    pub nik: Nik,
    pub person_name: Option<String>,
    /// Unix ms; its day in Banyuwangi is day 1.
    pub at_ms: i64,
    pub by: Writer,
    /// Where the NIK was issued, as text (`Kabupaten Jember, Jawa Timur (35.09)`).
    pub origin: String,
    /// The policy's isolation days at opening; later policies do not change it.
    pub required_days: u32,
    /// The first placement.
    pub place: Place,
}

impl Opening {
    pub(super) fn validate(&self) -> Result<(), CaseError> {
        validate_writer(&self.by)?;
        validate_place(&self.place)?;
        check_text(
            "person name",
            self.person_name.as_deref().unwrap_or_default(),
            MAX_TEXT,
            false,
        )?;
        check_text("origin", &self.origin, MAX_TEXT, true)?;
        if self.required_days > MAX_REQUIRED_DAYS {
            return Err(refused(
                "required days",
                format!("{} is more than {MAX_REQUIRED_DAYS}", self.required_days),
            ));
        }
        super::day_of(self.at_ms).map(|_| ())
    }
}

/// One entry of the placement history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    pub place: Place,
    pub at_ms: i64,
    pub by: Writer,
}

/// What a daily follow-up found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    SeenOk,
    SeenNotOk,
    Missed,
    NotAttempted,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::SeenOk => "seen_ok",
            Outcome::SeenNotOk => "seen_not_ok",
            Outcome::Missed => "missed",
            Outcome::NotAttempted => "not_attempted",
        }
    }
    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "seen_ok" => Some(Outcome::SeenOk),
            "seen_not_ok" => Some(Outcome::SeenNotOk),
            "missed" => Some(Outcome::Missed),
            "not_attempted" => Some(Outcome::NotAttempted),
            _ => None,
        }
    }
}

/// The follow-up of one day by one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    /// The day followed up (in Banyuwangi).
    pub date: Date,
    pub outcome: Outcome,
    pub note: Option<String>,
    /// When it was recorded (unix ms).
    pub at_ms: i64,
    pub by: Writer,
}

/// A free-text note on the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub text: String,
    pub at_ms: i64,
    pub by: Writer,
}

/// Why a person was released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReleaseReason {
    /// The policy's period is over.
    PeriodEnded,
    /// Released before the period ended, by a decision with its reason.
    Early { reason: String },
}

impl ReleaseReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            ReleaseReason::PeriodEnded => "period_ended",
            ReleaseReason::Early { .. } => "early",
        }
    }
}

/// The end of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub reason: ReleaseReason,
    pub at_ms: i64,
    pub by: Writer,
}

/// What the opening recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseInfo {
    pub case_id: String,
    pub nik: Nik,
    pub person_name: Option<String>,
    pub opened_at_ms: i64,
    /// Day 1 of the case (in Banyuwangi).
    pub opened_on: Date,
    pub opened_by: Writer,
    pub origin: String,
    pub required_days: u32,
}

/// Where a case stands on a given day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseState {
    pub info: CaseInfo,
    /// The current placement: the latest by time.
    pub place: Placement,
    /// Day counter, 1 on the opening day; it stops on the release day.
    pub day: u32,
    /// Days left including this one; 0 once the period has ended.
    pub days_remaining: u32,
    /// The release in force (the earliest recorded), if released.
    pub release: Option<Release>,
    /// The follow-ups recorded for the day asked about.
    pub today: Vec<FollowUp>,
}

impl CaseState {
    pub fn is_open(&self) -> bool {
        self.release.is_none()
    }
    /// Has the required period ended (a period-ended release is allowed)?
    pub fn period_ended(&self) -> bool {
        self.days_remaining == 0
    }
    /// Open, begun by `today`, and nobody has recorded a follow-up for the
    /// day this state was read on (`today`).
    pub fn follow_up_due(&self, today: Date) -> bool {
        self.is_open() && self.info.opened_on <= today && self.today.is_empty()
    }
}

/// Everything recorded on a case after its opening.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CaseHistory {
    /// Placements and transfers (the first is the opening's).
    pub placements: Vec<Placement>,
    /// Daily follow-ups, by date.
    pub follow_ups: Vec<FollowUp>,
    pub notes: Vec<Note>,
    /// Releases recorded (the earliest is in force).
    pub releases: Vec<Release>,
}

pub(super) fn check_text(
    field: &'static str,
    s: &str,
    max: usize,
    required: bool,
) -> Result<(), CaseError> {
    // Notes and reasons may run over several lines; nothing else does.
    let multiline = matches!(field, "note" | "early release reason");
    match crate::fields::text_refusal(s, max, required, Some(multiline)) {
        Some(reason) => Err(refused(field, reason)),
        None => Ok(()),
    }
}

pub(super) fn validate_writer(by: &Writer) -> Result<(), CaseError> {
    if !by.role.writes_cases() {
        return Err(refused(
            "writer role",
            format!(
                "{} nodes read isolation cases but never write them",
                by.role
            ),
        ));
    }
    check_text("writer peer id", &by.peer, 64, true)?;
    if let Some(p) = &by.person {
        check_text("writer person id", &p.id, 64, true)?;
        check_text("writer person name", &p.name, MAX_TEXT, true)?;
    }
    Ok(())
}

pub(super) fn validate_place(place: &Place) -> Result<(), CaseError> {
    match place {
        Place::Gor | Place::VillageHouse { .. } => Ok(()),
        Place::Home { address } => check_text("home address", address, MAX_TEXT, true),
        Place::FamilyPickup { pledge } => validate_pledge(pledge),
    }
}

fn validate_pledge(p: &Pledge) -> Result<(), CaseError> {
    check_text("pledge: picked up by", &p.picked_up_by, MAX_TEXT, true)?;
    check_text("pledge: relation", &p.relation, MAX_TEXT, true)?;
    check_text("pledge: phone", &p.phone, 32, true)?;
    let digits = p.phone.bytes().filter(u8::is_ascii_digit).count();
    let shape_ok = p
        .phone
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b' ' | b'-'));
    if !shape_ok || digits < 6 {
        return Err(refused(
            "pledge: phone",
            format!(
                "'{}' is not a phone number (digits, '+', spaces or dashes)",
                p.phone
            ),
        ));
    }
    Ok(())
}

/// The writer fields of a record.
pub(super) fn read_writer(f: &Fields) -> Result<Writer, ReadError> {
    Ok(Writer {
        peer: f.str("by").ok_or(ReadError::Field("by"))?.to_string(),
        role: f
            .str("role")
            .and_then(RoleKind::parse)
            .ok_or(ReadError::Field("role"))?,
        person: read_person(f, "person_id", "person"),
    })
}

/// A person named by two optional fields (older entries have none).
pub(super) fn read_person(f: &Fields, id: &str, name: &str) -> Option<kampung_core::Author> {
    Some(kampung_core::Author {
        id: f.str(id)?.to_string(),
        name: f.str(name)?.to_string(),
    })
}

/// The place of a placement record; `None` if malformed.
pub(super) fn read_place(f: &Fields) -> Option<Place> {
    let text = |k| f.str(k).map(str::to_string);
    Some(match f.str("place")? {
        "gor" => Place::Gor,
        "village_house" => Place::VillageHouse {
            village: VillageCode::parse(f.str("village")?).ok()?,
        },
        "home" => Place::Home {
            address: text("address")?,
        },
        "family_pickup" => Place::FamilyPickup {
            pledge: Pledge {
                picked_up_by: text("pledge_by")?,
                relation: text("relation")?,
                phone: text("phone")?,
            },
        },
        _ => return None,
    })
}
