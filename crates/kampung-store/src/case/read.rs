//! Reading a case: the opening, the histories, and where it stands on a day.

use automerge::{ObjId, ObjType, ReadDoc, ValueRef, ROOT};
use kampung_core::checkpoint::local_date;
use kampung_core::Nik;
use time::Date;

use super::types::{read_place, read_writer};
use super::{day_number, day_of, CaseDoc, CaseError};
use super::{
    CaseHistory, CaseInfo, CaseState, FollowUp, Note, Outcome, Placement, Release, ReleaseReason,
};
use super::{RoleKind, Writer};
use crate::fields::{Fields, ReadError};

impl CaseDoc {
    fn bad(&self, what: &'static str, at: impl ToString, field: &'static str) -> CaseError {
        CaseError::BadRecord {
            case: self.id.clone(),
            what,
            at: at.to_string(),
            field,
        }
    }

    /// What the opening recorded.
    pub fn info(&self) -> Result<CaseInfo, CaseError> {
        let f = Fields::read(&self.doc, &ROOT);
        let bad = |field| self.bad("case", "root", field);
        let nik = f
            .str("nik")
            .and_then(|s| s.parse::<Nik>().ok())
            .ok_or_else(|| bad("nik"))?;
        let opened_at_ms = f.ts("opened_at").ok_or_else(|| bad("opened_at"))?;
        let opened_on = local_date(opened_at_ms).ok_or_else(|| bad("opened_at"))?;
        let opened_by = Writer {
            peer: f
                .str("opened_by")
                .ok_or_else(|| bad("opened_by"))?
                .to_string(),
            role: f
                .str("opened_role")
                .and_then(RoleKind::parse)
                .ok_or_else(|| bad("opened_role"))?,
            person: super::types::read_person(&f, "opened_person_id", "opened_person"),
        };
        Ok(CaseInfo {
            case_id: self.id.clone(),
            nik,
            person_name: f.str("name").map(str::to_string),
            opened_at_ms,
            opened_on,
            opened_by,
            origin: f.str("origin").ok_or_else(|| bad("origin"))?.to_string(),
            required_days: f
                .uint("required_days")
                .and_then(|d| u32::try_from(d).ok())
                .ok_or_else(|| bad("required_days"))?,
        })
    }

    /// Every map in one of the lists, read with `read`, in list order.
    fn read_list<T>(
        &self,
        list: &ObjId,
        what: &'static str,
        read: impl Fn(&Fields) -> Result<T, ReadError>,
    ) -> Result<Vec<T>, CaseError> {
        let mut out = Vec::new();
        for item in self.doc.list_range(list, ..) {
            let ValueRef::Object(ObjType::Map) = item.value else {
                return Err(self.bad(what, item.index, "entry"));
            };
            match read(&Fields::read(&self.doc, &item.id())) {
                Ok(v) => out.push(v),
                Err(ReadError::Field(field)) => return Err(self.bad(what, item.index, field)),
                Err(ReadError::Automerge(e)) => return Err(e.into()),
            }
        }
        Ok(out)
    }

    /// Placement history, in time order (equal times in list order): the
    /// last one is the current place.
    pub fn placements(&self) -> Result<Vec<Placement>, CaseError> {
        let mut out = self.read_list(&self.placements, "placement", |f| {
            Ok(Placement {
                place: read_place(f).ok_or(ReadError::Field("place"))?,
                at_ms: f.ts("at").ok_or(ReadError::Field("at"))?,
                by: read_writer(f)?,
            })
        })?;
        out.sort_by_key(|p| p.at_ms);
        Ok(out)
    }

    /// Notes, in time order (equal times in list order).
    pub fn notes(&self) -> Result<Vec<Note>, CaseError> {
        let mut out = self.read_list(&self.notes, "note", |f| {
            Ok(Note {
                text: f.str("text").ok_or(ReadError::Field("text"))?.to_string(),
                at_ms: f.ts("at").ok_or(ReadError::Field("at"))?,
                by: read_writer(f)?,
            })
        })?;
        out.sort_by_key(|n| n.at_ms);
        Ok(out)
    }

    /// Every release recorded, earliest first (normally one; concurrent
    /// releases are all kept).
    pub fn releases(&self) -> Result<Vec<Release>, CaseError> {
        let mut out = self.read_list(&self.releases, "release", |f| {
            let reason = match f.str("reason") {
                Some("period_ended") => ReleaseReason::PeriodEnded,
                Some("early") => ReleaseReason::Early {
                    reason: f.str("why").ok_or(ReadError::Field("why"))?.to_string(),
                },
                _ => return Err(ReadError::Field("reason")),
            };
            Ok(Release {
                reason,
                at_ms: f.ts("at").ok_or(ReadError::Field("at"))?,
                by: read_writer(f)?,
            })
        })?;
        out.sort_by_key(|r| r.at_ms);
        Ok(out)
    }

    /// The release in force: the earliest one recorded.
    pub fn released(&self) -> Result<Option<Release>, CaseError> {
        Ok(self.releases()?.into_iter().next())
    }

    /// Follow-ups whose key is in `range`, in key order (date, then writer).
    fn follow_ups_in(
        &self,
        range: impl std::ops::RangeBounds<String>,
    ) -> Result<Vec<FollowUp>, CaseError> {
        let mut out = Vec::new();
        for item in self.doc.map_range(&self.follow_ups, range) {
            let key = item.key.to_string();
            let ValueRef::Object(ObjType::Map) = item.value else {
                return Err(self.bad("follow-up", key, "entry"));
            };
            let f = Fields::read(&self.doc, &item.id());
            let field = |name| self.bad("follow-up", &key, name);
            out.push(FollowUp {
                date: f
                    .int("date")
                    .and_then(|d| i32::try_from(d).ok())
                    .and_then(|d| Date::from_julian_day(d).ok())
                    .ok_or_else(|| field("date"))?,
                outcome: f
                    .str("outcome")
                    .and_then(Outcome::parse)
                    .ok_or_else(|| field("outcome"))?,
                note: f.str("note").map(str::to_string),
                at_ms: f.ts("at").ok_or_else(|| field("at"))?,
                by: read_writer(&f).map_err(|_| field("by"))?,
            });
        }
        Ok(out)
    }

    /// Every follow-up, by date (then by writer).
    pub fn follow_ups(&self) -> Result<Vec<FollowUp>, CaseError> {
        self.follow_ups_in(..)
    }

    /// The follow-ups recorded for one day (several nodes may record one).
    pub fn follow_ups_on(&self, date: Date) -> Result<Vec<FollowUp>, CaseError> {
        // Keys are "<date>/<actor>"; '0' is the character after '/'.
        self.follow_ups_in(format!("{date}/")..format!("{date}0"))
    }

    /// Where the case stands on `today`.
    pub fn state(&self, today: Date) -> Result<CaseState, CaseError> {
        let info = self.info()?;
        let place = self
            .placements()?
            .pop()
            .ok_or_else(|| self.bad("placement", "list", "entry"))?;
        let release = self.released()?;
        let until = match &release {
            Some(r) => today.min(day_of(r.at_ms)?),
            None => today,
        };
        let day = day_number(info.opened_on, until);
        Ok(CaseState {
            days_remaining: info.required_days.saturating_sub(day - 1),
            day,
            place,
            release,
            today: self.follow_ups_on(today)?,
            info,
        })
    }

    /// Everything recorded on the case, each list in time order.
    pub fn history(&self) -> Result<CaseHistory, CaseError> {
        Ok(CaseHistory {
            placements: self.placements()?,
            follow_ups: self.follow_ups()?,
            notes: self.notes()?,
            releases: self.releases()?,
        })
    }

    /// Does the case need a follow-up on `today`: open, already begun, and
    /// nobody has recorded one for that day yet.
    pub fn due_follow_up(&self, today: Date) -> Result<bool, CaseError> {
        Ok(self.released()?.is_none()
            && today >= self.info()?.opened_on
            && self.follow_ups_on(today)?.is_empty())
    }
}
