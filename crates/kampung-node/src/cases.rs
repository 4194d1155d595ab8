//! Isolation cases: opened at a checkpoint or by a village, then placed,
//! transferred, handed to family with a pledge, followed up daily and
//! released. Checkpoint, facility and village nodes write (each update
//! records this node as its writer); an auditor only reads.

use kampung_core::checkpoint::{local_date, origin};
use kampung_core::{Nik, ParsedNik, Place, Pledge};
use kampung_store::case::{
    is_case_id, new_case_id, CaseState, FollowUp, Note, Opening, Outcome, Placement, Release,
    ReleaseReason, Writer,
};
use kampung_store::CaseUpdate;
use time::Date;

use crate::access::Access;
use crate::actor::Permission;
use crate::error::{case_not_found, ErrorCode, NodeError};
use crate::{Actor, Answer, Node};

/// What opening a case needs.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub nik: ParsedNik,
    /// Default: the name in the registry, if the person has a record.
    pub person_name: Option<String>,
    /// Where the person came from. Default: where the NIK was issued.
    pub origin: Option<String>,
    /// The first placement.
    pub place: Place,
}

/// One update to a case.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CaseChange {
    /// Place or transfer the person (GOR, a village isolation house, home).
    Place(Place),
    /// Hand the person over to family who signed the isolation pledge.
    FamilyPickup(Pledge),
    /// The follow-up of one day (default today). The same node recording
    /// the same day again corrects its entry; other nodes' entries are kept.
    FollowUp {
        date: Option<Date>,
        outcome: Outcome,
        note: Option<String>,
    },
    /// A free-text note.
    Note(String),
    /// Release: when the policy's period has ended, or early with a reason.
    Release(ReleaseReason),
}

fn trimmed(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

impl Node {
    /// Today in Banyuwangi (WIB), by the node's clock.
    pub fn today(&self) -> Result<Date, NodeError> {
        local_date(self.now_ms())
            .ok_or_else(|| NodeError::store("the node's clock is out of range"))
    }

    /// Parse a NIK from a body; `invalid_nik` naming the rule broken.
    pub fn parse_nik_full(&self, input: &str) -> Result<ParsedNik, NodeError> {
        Nik::parse(input, self.this_year())
            .map_err(|e| NodeError::field(ErrorCode::InvalidNik, "nik", e))
    }

    /// The writer recorded in a case update: this node, if its role may
    /// write cases (checkpoint, facility, village; never an auditor).
    pub fn case_writer(&self, by: &Actor) -> Result<Writer, NodeError> {
        by.require(Permission::WriteCases, "write isolation cases")?;
        let role = self.role().kind();
        if !role.writes_cases() {
            return Err(NodeError::new(
                ErrorCode::RoleNotAllowed,
                format!(
                    "this node is {}: it may not write isolation cases (it reads them only); only checkpoint, facility and village nodes may",
                    self.role().tag()
                ),
            ));
        }
        Ok(Writer {
            peer: self.peer_id().to_string(),
            role,
            person: by.author(),
        })
    }

    /// The opening of a new case, as `answer` (the verdict on its NIK now)
    /// finds the person: refused if they have an open case already.
    pub(crate) fn opening(
        &self,
        by: &Actor,
        new: NewCase,
        answer: &Answer,
        now: i64,
    ) -> Result<Opening, NodeError> {
        if let Some((id, place)) = answer.open_case() {
            return Err(NodeError::new(
                ErrorCode::CaseOpen,
                format!(
                    "this person already has open isolation case {id} (at {}): update that case instead of opening another",
                    kampung_i18n::place(kampung_i18n::Lang::En, place)
                ),
            ));
        }
        Ok(Opening {
            nik: new.nik.nik(),
            person_name: trimmed(new.person_name)
                .or_else(|| answer.registry_name().map(str::to_string)),
            at_ms: now,
            by: self.case_writer(by)?,
            origin: trimmed(new.origin).unwrap_or_else(|| origin(new.nik.issued_in())),
            required_days: answer.policy.isolation_days,
            place: new.place,
        })
    }

    /// Open an isolation case (random id, the policy's isolation days,
    /// origin from the NIK unless given). Refused (`case_open`) if the
    /// person already has an open case. Durable and announced when this
    /// returns; the case as it stands.
    pub async fn open_case(&self, by: &Actor, new: NewCase) -> Result<CaseState, NodeError> {
        self.case_writer(by)?;
        let nik = new.nik.nik().to_string();
        let answer = self.answer(&nik);
        self.log_access(by, Access::Case, &nik, answer.kind());
        let now = self.signing_now()?;
        let opening = self.opening(by, new, &answer, now)?;
        let id = new_case_id(rand::random());
        let announcement = self.store().open_case(id.clone(), opening, now).await??;
        self.metrics().case_writes.inc();
        self.announce([announcement]).await;
        self.case(by, &id).await
    }

    /// Apply one update by this node to case `id`. Durable and announced
    /// when this returns; the case as it stands now.
    pub async fn update_case(
        &self,
        by: &Actor,
        id: &str,
        change: CaseChange,
    ) -> Result<CaseState, NodeError> {
        check_id(id)?;
        let writer = self.case_writer(by)?;
        let at_ms = self.signing_now()?;
        let update = match change {
            CaseChange::Place(place) => CaseUpdate::Place(Placement {
                place,
                at_ms,
                by: writer,
            }),
            CaseChange::FamilyPickup(pledge) => CaseUpdate::FamilyPickup {
                at_ms,
                by: writer,
                pledge,
            },
            CaseChange::FollowUp {
                date,
                outcome,
                note,
            } => CaseUpdate::FollowUp(FollowUp {
                date: match date {
                    Some(d) => d,
                    None => self.today()?,
                },
                outcome,
                note: trimmed(note),
                at_ms,
                by: writer,
            }),
            CaseChange::Note(text) => CaseUpdate::Note(Note {
                text,
                at_ms,
                by: writer,
            }),
            CaseChange::Release(reason) => CaseUpdate::Release(Release {
                reason,
                at_ms,
                by: writer,
            }),
        };
        let announcement = self
            .store()
            .update_case(id.to_string(), update, at_ms)
            .await??;
        self.metrics().case_writes.inc();
        self.announce([announcement]).await;
        self.case(by, id).await
    }

    /// One isolation case as it stands today.
    pub async fn case(&self, by: &Actor, id: &str) -> Result<CaseState, NodeError> {
        by.require(Permission::ReadCases, "read isolation cases")?;
        check_id(id)?;
        self.store()
            .case(id.to_string(), self.now_ms())
            .await?
            .ok_or_else(|| case_not_found(id))
    }

    /// Every isolation case this node holds, as it stands today, by case id.
    pub async fn cases(&self, by: &Actor) -> Result<Vec<CaseState>, NodeError> {
        by.require(Permission::ReadCases, "read isolation cases")?;
        Ok(self.store().cases(self.now_ms()).await?)
    }

    /// The open cases that concern this village node's village: placed in
    /// its isolation house, or of a person with a record in it.
    pub async fn village_cases(&self, by: &Actor) -> Result<Vec<CaseState>, NodeError> {
        let village = self.own_village()?;
        let cases = self.cases(by).await?;
        let ordinal = kampung_core::banyuwangi::village(village).map(|v| v.ordinal);
        let lookups = self.store().lookups().read();
        Ok(cases
            .into_iter()
            .filter(CaseState::is_open)
            .filter(|c| {
                matches!(c.place.place, Place::VillageHouse { village: at } if at == village)
                    || lookups
                        .index()
                        .all(c.info.nik)
                        .iter()
                        .any(|e| Some(e.village) == ordinal)
            })
            .collect())
    }

    /// Open cases whose follow-up for today nobody has recorded yet, and today.
    pub async fn follow_ups_due(&self, by: &Actor) -> Result<(Date, Vec<CaseState>), NodeError> {
        let today = self.today()?;
        let mut cases = self.cases(by).await?;
        cases.retain(|c| c.follow_up_due(today));
        Ok((today, cases))
    }
}

fn check_id(id: &str) -> Result<(), NodeError> {
    if is_case_id(id) {
        Ok(())
    } else {
        Err(NodeError::field(
            ErrorCode::InvalidParameter,
            "id",
            format!("'{id}' is not a case id (16 lowercase hex digits)"),
        ))
    }
}
