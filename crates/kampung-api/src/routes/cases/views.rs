//! Isolation cases as the API shows them. Dates are days in Banyuwangi (WIB)
//! written `YYYY-MM-DD`.

use kampung_core::Place;
use kampung_store::case::{
    CaseHistory, CaseState, FollowUp, Note, Outcome, Placement, Release, ReleaseReason, RoleKind,
    Writer,
};
use serde::Serialize;
use time::Date;
use utoipa::ToSchema;

use crate::openapi::schemas;

/// Who wrote something to a case.
#[derive(Debug, Serialize, ToSchema)]
pub struct WriterView {
    /// The node's peer id.
    pub peer: String,
    #[schema(value_type = schemas::CaseRole)]
    pub role: RoleKind,
    /// The person signed in at that node (account id), if any.
    pub person_id: Option<String>,
    /// Their name.
    pub person: Option<String>,
}

impl From<Writer> for WriterView {
    fn from(w: Writer) -> Self {
        WriterView {
            peer: w.peer,
            role: w.role,
            person_id: w.person.as_ref().map(|p| p.id.clone()),
            person: w.person.map(|p| p.name),
        }
    }
}

/// How a case ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReleaseView {
    /// `period_ended` or `early`.
    #[schema(example = "period_ended")]
    pub reason: String,
    /// Why, for an early release.
    pub detail: Option<String>,
    /// Unix ms.
    pub at_ms: i64,
    /// The day of the release (WIB), `YYYY-MM-DD`.
    pub on: String,
    pub by: WriterView,
}

impl From<Release> for ReleaseView {
    fn from(r: Release) -> Self {
        let (reason, detail) = match r.reason {
            ReleaseReason::PeriodEnded => ("period_ended", None),
            ReleaseReason::Early { reason } => ("early", Some(reason)),
        };
        ReleaseView {
            reason: reason.to_string(),
            detail,
            on: day(r.at_ms),
            at_ms: r.at_ms,
            by: r.by.into(),
        }
    }
}

/// One day's follow-up by one node.
#[derive(Debug, Serialize, ToSchema)]
pub struct FollowUpView {
    /// The day followed up (WIB), `YYYY-MM-DD`.
    #[schema(example = "2026-05-02")]
    pub date: String,
    #[schema(value_type = schemas::Outcome)]
    pub outcome: Outcome,
    pub note: Option<String>,
    /// When it was recorded, unix ms.
    pub at_ms: i64,
    pub by: WriterView,
}

impl From<FollowUp> for FollowUpView {
    fn from(f: FollowUp) -> Self {
        FollowUpView {
            date: f.date.to_string(),
            outcome: f.outcome,
            note: f.note,
            at_ms: f.at_ms,
            by: f.by.into(),
        }
    }
}

/// A placement or transfer of the person.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlacementView {
    #[schema(value_type = schemas::Place)]
    pub place: Place,
    /// Unix ms.
    pub at_ms: i64,
    pub by: WriterView,
}

impl From<Placement> for PlacementView {
    fn from(p: Placement) -> Self {
        PlacementView {
            place: p.place,
            at_ms: p.at_ms,
            by: p.by.into(),
        }
    }
}

/// A free-text note on a case.
#[derive(Debug, Serialize, ToSchema)]
pub struct NoteView {
    pub text: String,
    /// Unix ms.
    pub at_ms: i64,
    pub by: WriterView,
}

impl From<Note> for NoteView {
    fn from(n: Note) -> Self {
        NoteView {
            text: n.text,
            at_ms: n.at_ms,
            by: n.by.into(),
        }
    }
}

/// A case as it stands today and everything recorded on it since it was
/// opened, each list in time order (as the merged replicas hold it: entries
/// written concurrently on several nodes are all there).
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseHistoryView {
    pub case: CaseView,
    /// The opening's placement first, then every transfer.
    pub placements: Vec<PlacementView>,
    /// Every daily follow-up, of every day and node.
    pub follow_ups: Vec<FollowUpView>,
    pub notes: Vec<NoteView>,
    /// Releases recorded (normally one; the earliest is in force).
    pub releases: Vec<ReleaseView>,
}

impl CaseHistoryView {
    pub(crate) fn new(case: CaseView, h: CaseHistory) -> CaseHistoryView {
        CaseHistoryView {
            case,
            placements: h.placements.into_iter().map(Into::into).collect(),
            follow_ups: h.follow_ups.into_iter().map(Into::into).collect(),
            notes: h.notes.into_iter().map(Into::into).collect(),
            releases: h.releases.into_iter().map(Into::into).collect(),
        }
    }
}

/// An isolation case and where it stands today.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseView {
    /// 16 lowercase hex digits.
    #[schema(example = "3f9a0c1d2e4b5a69")]
    pub case_id: String,
    #[schema(example = "3509154203900002")]
    pub nik: String,
    pub person_name: Option<String>,
    /// Where the person came from, e.g. `Kabupaten Jember, Jawa Timur (35.09)`.
    pub origin: String,
    /// Unix ms.
    pub opened_at_ms: i64,
    /// Day 1 of the case (WIB), `YYYY-MM-DD`.
    pub opened_on: String,
    pub opened_by: WriterView,
    /// The policy's isolation days when the case was opened.
    pub required_days: u32,
    /// Day counter: 1 on the opening day; it stops on the release day.
    pub day: u32,
    /// Days left including today; 0 once the period has ended.
    pub days_remaining: u32,
    /// The required period is over: a `period_ended` release is allowed.
    pub period_ended: bool,
    /// Where the person is now (the latest placement).
    #[schema(value_type = schemas::Place)]
    pub place: Place,
    /// When and by whom the person was placed there.
    pub placed_at_ms: i64,
    pub placed_by: WriterView,
    pub released: bool,
    pub release: Option<ReleaseView>,
    /// Open, begun, and nobody has recorded today's follow-up yet.
    pub follow_up_due: bool,
    /// The follow-ups recorded today (several nodes may record one).
    pub today: Vec<FollowUpView>,
}

impl CaseView {
    pub(crate) fn new(s: CaseState, today: Date) -> CaseView {
        let follow_up_due = s.follow_up_due(today);
        let period_ended = s.period_ended();
        CaseView {
            case_id: s.info.case_id,
            nik: s.info.nik.to_string(),
            person_name: s.info.person_name,
            origin: s.info.origin,
            opened_at_ms: s.info.opened_at_ms,
            opened_on: s.info.opened_on.to_string(),
            opened_by: s.info.opened_by.into(),
            required_days: s.info.required_days,
            day: s.day,
            days_remaining: s.days_remaining,
            period_ended,
            place: s.place.place,
            placed_at_ms: s.place.at_ms,
            placed_by: s.place.by.into(),
            released: s.release.is_some(),
            release: s.release.map(Into::into),
            follow_up_due,
            today: s.today.into_iter().map(Into::into).collect(),
        }
    }
}

/// The day (WIB) of a unix time, `YYYY-MM-DD` (empty if out of range).
pub(crate) fn day(unix_ms: i64) -> String {
    kampung_core::checkpoint::local_date(unix_ms)
        .map(|d| d.to_string())
        .unwrap_or_default()
}
