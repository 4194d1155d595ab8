//! A border checkpoint logs every check: the verdict computed at that
//! moment, the officer's decision, the documents it was computed from, and,
//! when the decision is an isolation, the case it opens, in one step.

use kampung_core::{Place, Pledge};
use kampung_store::case::{is_case_id, new_case_id};
use kampung_store::crossing::{Crossing, Decision, MAX_LONG_TEXT, MAX_NIK_TEXT};
use kampung_store::DocId;

use crate::access::Access;
use crate::actor::Permission;
use crate::cases::NewCase;
use crate::error::{ErrorCode, NodeError};
use crate::{Actor, Answer, Node};

/// One check at the post, as the officer gives it.
#[derive(Debug, Clone)]
pub struct CrossingInput {
    /// The NIK as typed or scanned (an invalid one is logged too).
    pub nik: String,
    pub decision: Decision,
    /// The home address, to open a case with `isolation_home`.
    pub address: Option<String>,
    /// The signed pledge, to open a case with `picked_up_by_family`.
    pub pledge: Option<Pledge>,
    /// The person's name for a new case (default: the registry's, if any).
    pub person_name: Option<String>,
    pub note: Option<String>,
    /// An existing isolation case this crossing refers to (default: the
    /// open case the verdict found, if any).
    pub case_id: Option<String>,
    /// Open an isolation case, placed as the decision says (isolation
    /// decisions only), and log its id.
    pub open_case: bool,
}

impl CrossingInput {
    /// A check with a decision and nothing else.
    pub fn new(nik: impl Into<String>, decision: Decision) -> CrossingInput {
        CrossingInput {
            nik: nik.into(),
            decision,
            address: None,
            pledge: None,
            person_name: None,
            note: None,
            case_id: None,
            open_case: false,
        }
    }
}

/// What logging a check did.
#[derive(Debug, Clone)]
pub struct LoggedCrossing {
    /// This checkpoint's peer id (its log's name).
    pub checkpoint: String,
    pub crossing: Crossing,
    /// The verdict as computed for the crossing.
    pub answer: Answer,
    /// The case this check opened, if it opened one.
    pub opened_case: Option<String>,
}

/// A page of a checkpoint's crossing log, newest first.
#[derive(Debug, Clone)]
pub struct CrossingsPage {
    pub checkpoint: String,
    /// Crossings in the log (as this node holds it).
    pub total: usize,
    pub items: Vec<Crossing>,
}

fn invalid(message: impl Into<String>) -> NodeError {
    NodeError::body(message)
}

/// The free-text fields within the log's limits, checked before anything
/// is written.
fn check_texts(input: &CrossingInput) -> Result<(), NodeError> {
    if input.nik.trim().is_empty() {
        return Err(invalid("nik: is empty"));
    }
    for (field, value, max) in [
        ("nik", Some(&input.nik), MAX_NIK_TEXT),
        ("note", input.note.as_ref(), MAX_LONG_TEXT),
    ] {
        if value.is_some_and(|v| v.chars().count() > max) {
            return Err(invalid(format!("{field}: is longer than {max} characters")));
        }
    }
    Ok(())
}

/// Where a case opened with this decision places the person.
fn first_place(
    decision: &Decision,
    address: Option<String>,
    pledge: Option<Pledge>,
) -> Result<Place, NodeError> {
    let address = address.filter(|a| !a.trim().is_empty());
    match decision {
        Decision::AllowedIn | Decision::TurnedBack => Err(invalid(format!(
            "open_case: a case opens only with an isolation decision (isolation_gor, isolation_village_house, isolation_home, picked_up_by_family), not {}",
            decision.kind()
        ))),
        Decision::IsolationGor => Ok(Place::Gor),
        Decision::IsolationVillageHouse { village } => Ok(Place::VillageHouse { village: *village }),
        Decision::IsolationHome => address
            .map(|address| Place::Home { address })
            .ok_or_else(|| invalid("address: isolation_home needs the home address to open a case")),
        Decision::PickedUpByFamily => pledge
            .map(|pledge| Place::FamilyPickup { pledge })
            .ok_or_else(|| {
                invalid("pledge: picked_up_by_family needs the signed pledge (picked_up_by, relation, phone) to open a case")
            }),
    }
}

impl Node {
    /// Refuse unless this node is a checkpoint (only a checkpoint logs
    /// crossings, into its own log).
    pub fn require_checkpoint(&self) -> Result<(), NodeError> {
        match self.role() {
            kampung_core::Role::Checkpoint { .. } => Ok(()),
            _ => Err(NodeError::new(
                ErrorCode::RoleNotAllowed,
                format!(
                    "this node is {}: it may not log border crossings; only a checkpoint node may",
                    self.role().tag()
                ),
            )),
        }
    }

    /// Log a check at this checkpoint. The node computes the verdict itself,
    /// now, and logs it with the officer's decision and the heads it was
    /// computed from. With `open_case` and an isolation decision it also
    /// opens an isolation case (the policy's days, origin from the NIK,
    /// placed as decided) and logs its id: both are written as one step, so
    /// a crossing that cannot be logged leaves no case. Durable and
    /// announced when this returns.
    pub async fn log_crossing(
        &self,
        by: &Actor,
        input: CrossingInput,
    ) -> Result<LoggedCrossing, NodeError> {
        by.require(Permission::LogCrossings, "log border crossings")?;
        self.require_checkpoint()?;
        check_texts(&input)?;
        let CrossingInput {
            nik,
            decision,
            address,
            pledge,
            person_name,
            note,
            case_id,
            open_case,
        } = input;
        if !open_case && (address.is_some() || pledge.is_some()) {
            return Err(invalid(
                "address and pledge are recorded on a new isolation case: set \"open_case\": true, or send a pledge for an existing case to POST /v1/cases/{id}/pickup",
            ));
        }
        if let Some(id) = &case_id {
            if open_case {
                return Err(invalid(
                    "case_id: give either an existing case_id or open_case, not both",
                ));
            }
            if !is_case_id(id) {
                return Err(invalid(format!(
                    "case_id: '{id}' is not a case id (16 lowercase hex digits)"
                )));
            }
        }
        // Everything is checked before anything is written.
        let place = match open_case {
            true => Some(first_place(&decision, address, pledge)?),
            false => None,
        };
        let answer = self.answer(&nik);
        self.log_access(by, Access::Crossing, &nik, answer.kind());
        let now = self.signing_now()?;
        let new_case = match place {
            Some(place) => {
                let parsed = self.parse_nik_full(&nik)?;
                let new = NewCase {
                    nik: parsed,
                    person_name,
                    origin: None,
                    place,
                };
                let opening = self.opening(by, new, &answer, now)?;
                Some((new_case_id(rand::random()), opening))
            }
            None => None,
        };
        let opened_case = new_case.as_ref().map(|(id, _)| id.clone());
        let author = by.author();
        let parsed = kampung_core::Nik::parse(&nik, self.this_year());
        let crossing = Crossing {
            at_ms: now,
            nik,
            verdict: answer.kind().to_string(),
            // Codes, not words: the words would name the person in a log
            // every node holds. They are made again when read.
            explanation: String::new(),
            decision,
            case_id: opened_case
                .clone()
                .or(case_id)
                .or_else(|| answer.open_case().map(|(id, _)| id.to_string())),
            officer: author.as_ref().map(|a| a.name.clone()),
            officer_id: author.as_ref().map(|a| a.id.clone()),
            note: note.filter(|n| !n.trim().is_empty()),
            basis: answer.basis.clone(),
            state: None,
            policy: Some(answer.policy.version),
            found_in: Answer::village(&answer.verdict),
            issued_in: parsed.as_ref().ok().map(|p| {
                let r = p.issued_in().regency_code;
                format!("{:02}.{:02}", r / 100, r % 100)
            }),
            rule: parsed.as_ref().err().and_then(|e| {
                serde_json::to_value(e)
                    .ok()
                    .and_then(|v| v["rule"].as_str().map(str::to_string))
            }),
        };
        let announcements = self
            .store()
            .record_check(
                self.peer_id().to_string(),
                crossing.clone(),
                new_case,
                Some(answer.state.clone()),
                now,
            )
            .await??;
        self.metrics().crossings_logged.inc();
        if opened_case.is_some() {
            self.metrics().case_writes.inc();
        }
        self.announce(announcements).await;
        Ok(LoggedCrossing {
            checkpoint: self.peer_id().to_string(),
            crossing,
            answer,
            opened_case,
        })
    }

    /// A page of a checkpoint's crossing log as this node holds it (every
    /// node holds every checkpoint's log), newest first; `checkpoint`
    /// defaults to this node if it is one.
    pub async fn crossings_page(
        &self,
        by: &Actor,
        checkpoint: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<CrossingsPage, NodeError> {
        by.require(Permission::ReadCrossings, "read crossing logs")?;
        let checkpoint = match checkpoint.map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => checkpoint_param(p)?,
            None => {
                self.require_checkpoint().map_err(|_| {
                    NodeError::field(
                        ErrorCode::InvalidParameter,
                        "checkpoint",
                        format!(
                            "required on this node ({}): the peer id of the checkpoint whose log to list",
                            self.role().tag()
                        ),
                    )
                })?;
                self.peer_id().to_string()
            }
        };
        let (total, items) = self
            .store()
            .crossings_page(checkpoint.clone(), offset, limit)
            .await??;
        Ok(CrossingsPage {
            checkpoint,
            total,
            items,
        })
    }
}

/// A checkpoint named by an auditor or a page: a peer id, or a clear error.
pub(crate) fn checkpoint_param(p: &str) -> Result<String, NodeError> {
    if DocId::crossing_log(p).kind().is_none() {
        return Err(NodeError::field(
            ErrorCode::InvalidParameter,
            "checkpoint",
            format!("'{p}' is not a peer id (GET /v1/peers shows them)"),
        ));
    }
    Ok(p.to_string())
}

/// A logged crossing's verdict in one line in `lang`: the officer's English
/// line if the crossing is from before the log kept codes, else made from
/// the codes (no name: the log keeps none).
pub fn crossing_explanation(lang: kampung_i18n::Lang, c: &Crossing) -> String {
    if !c.explanation.is_empty() {
        return c.explanation.clone();
    }
    let year = kampung_core::checkpoint::local_date(c.at_ms).map_or(1970, |d| d.year());
    kampung_i18n::crossing_line(
        lang,
        &c.verdict,
        c.found_in,
        &c.nik,
        year,
        c.case_id.as_deref(),
    )
}
