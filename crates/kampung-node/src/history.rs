//! A person's record through time, for the auditor: every change that
//! touched a NIK in any village document, with the node and person that
//! made it, each field old → new, and whether the change passes the
//! audit's signature and authority check; and a village as it stood at a
//! time. Both read; neither writes.

use kampung_core::{Nik, Resident, RoleKind, Status, VillageCode};
use kampung_store::CheckedChange;
use kampung_trust::{NodeKey, Statement};
use serde::{Deserialize, Serialize};

use crate::access::Access;
use crate::actor::Permission;
use crate::error::NodeError;
use crate::residents::{field_changes, field_changes_of, ChangedRecord, FieldChange};
use crate::{Actor, Node};

/// What a change did to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordEventKind {
    Added,
    Corrected,
    MovedOut,
    Deceased,
    Withdrawn,
}

impl RecordEventKind {
    /// Stable machine name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordEventKind::Added => "added",
            RecordEventKind::Corrected => "corrected",
            RecordEventKind::MovedOut => "moved_out",
            RecordEventKind::Deceased => "deceased",
            RecordEventKind::Withdrawn => "withdrawn",
        }
    }
}

/// One change to a person's record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordEvent {
    pub village: VillageCode,
    /// The Automerge change's hash.
    pub change: String,
    /// When, by the writer's clock (unix seconds).
    pub at_s: i64,
    pub kind: RecordEventKind,
    /// The writing node's peer id (or its actor in hex, if it is no node key).
    pub node: String,
    /// From the node's certificate, if the roster has one.
    pub node_role: Option<RoleKind>,
    pub node_label: Option<String>,
    /// The person signed in at that node, as the change names them.
    pub person_id: Option<String>,
    pub person: Option<String>,
    /// Why, where the change says (a withdrawal's reason).
    pub reason: Option<String>,
    /// The fields the change set, old → new (empty: none).
    pub fields: Vec<FieldChange>,
    /// Covered by a valid signature of its node, which was allowed to
    /// write that village's document then (`kampung audit verify`'s check).
    pub verified: bool,
    /// The record before and after, for a page that shows `fields` in its
    /// reader's language (not sent: `fields` says what changed).
    #[serde(skip)]
    pub before: Option<Resident>,
    #[serde(skip)]
    pub after: Option<Resident>,
}

/// Every change to one NIK's records, oldest first, and what the other
/// documents hold of it: its crossings and its isolation cases.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordTimeline {
    pub nik: String,
    /// The village documents read.
    pub villages: Vec<VillageCode>,
    pub events: Vec<RecordEvent>,
    /// Its checks at every checkpoint (each one change of that checkpoint's
    /// log), oldest first.
    #[serde(default)]
    pub crossings: Vec<TimelineCrossing>,
    /// Everything written on its isolation cases (each one change of the
    /// case's document), oldest first.
    #[serde(default)]
    pub cases: Vec<CaseEvent>,
}

/// A check of the NIK at a checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimelineCrossing {
    /// The checkpoint's peer id, and what its certificate calls it.
    pub checkpoint: String,
    pub checkpoint_label: Option<String>,
    pub at_ms: i64,
    /// `CheckVerdict::kind()`.
    pub verdict: String,
    /// `Decision::kind()`.
    pub decision: String,
    pub case_id: Option<String>,
    /// The officer (name, account id), if one was signed in.
    pub officer: Option<String>,
    pub officer_id: Option<String>,
}

/// Something written on one of the NIK's isolation cases.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseEvent {
    pub case_id: String,
    pub at_ms: i64,
    /// `opened`, `placement`, `follow_up`, `note` or `release`.
    pub what: String,
    /// The place, the follow-up's outcome or the release's reason.
    pub detail: Option<String>,
    /// The node (peer id and role) and the person there.
    pub by: kampung_store::case::Writer,
}

/// A village's records as they stood at a time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VillageAsOf {
    pub village: VillageCode,
    pub at_s: i64,
    /// The document's heads then.
    pub heads: Vec<String>,
    pub residents: Vec<Resident>,
}

/// What changed in a village's records between two times.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VillageChanges {
    pub village: VillageCode,
    pub from_s: i64,
    pub to_s: i64,
    /// New records, in NIK order.
    pub added: Vec<Resident>,
    /// Records that changed, field by field (a move out or a death shows
    /// in `status`).
    pub changed: Vec<ChangedRecord>,
    /// Records withdrawn (registered in error).
    pub withdrawn: Vec<Resident>,
}

impl Node {
    /// Every change to the records of the NIK `input` in the villages that
    /// hold a record of it now, and in `also` (where a record was withdrawn,
    /// the index no longer names the village). For an auditor; the look-up
    /// goes to the access log.
    pub async fn record_timeline(
        &self,
        by: &Actor,
        input: &str,
        also: &[VillageCode],
    ) -> Result<RecordTimeline, NodeError> {
        by.require(Permission::Audit, "read a person's history")?;
        let nik: Nik = self.parse_nik_full(input)?.nik();
        let mut villages: Vec<VillageCode> = self.store().lookups().read().index().villages_of(nik);
        villages.extend_from_slice(also);
        villages.sort();
        villages.dedup();
        let events = self.record_events(nik, &villages).await?;
        let crossings = self.timeline_crossings(nik).await?;
        let cases = self.case_events(nik).await?;
        self.log_access(
            by,
            Access::History,
            &nik.to_string(),
            &format!(
                "changes={} crossings={} cases={}",
                events.len(),
                crossings.len(),
                cases.len()
            ),
        );
        Ok(RecordTimeline {
            nik: nik.to_string(),
            villages,
            events,
            crossings,
            cases,
        })
    }

    /// Every check of `nik` at every checkpoint whose log this node holds,
    /// oldest first.
    async fn timeline_crossings(&self, nik: Nik) -> Result<Vec<TimelineCrossing>, NodeError> {
        let filter = kampung_store::crossing::CrossingFilter {
            nik: Some(nik.to_string()),
            ..Default::default()
        };
        let (_, found) = self
            .store()
            .search_crossings(filter, 0, crate::audit::MAX_CROSSINGS_PAGE)
            .await??;
        let mut out: Vec<TimelineCrossing> = found
            .into_iter()
            .map(|(checkpoint, c)| TimelineCrossing {
                checkpoint_label: self.label_of(&checkpoint),
                checkpoint,
                at_ms: c.at_ms,
                verdict: c.verdict,
                decision: c.decision.kind().to_string(),
                case_id: c.case_id,
                officer: c.officer,
                officer_id: c.officer_id,
            })
            .collect();
        out.sort_by_key(|c| c.at_ms);
        Ok(out)
    }

    /// Everything written on `nik`'s isolation cases, oldest first.
    async fn case_events(&self, nik: Nik) -> Result<Vec<CaseEvent>, NodeError> {
        let now = self.now_ms();
        let mut out = Vec::new();
        for case in self.store().cases(now).await? {
            if case.info.nik != nik {
                continue;
            }
            let id = case.info.case_id.clone();
            let Some((_, h)) = self.store().case_history(id.clone(), now).await? else {
                continue;
            };
            let event = |what: &str, at_ms, detail: Option<String>, by| CaseEvent {
                case_id: id.clone(),
                at_ms,
                what: what.to_string(),
                detail,
                by,
            };
            for (i, p) in h.placements.into_iter().enumerate() {
                let what = if i == 0 { "opened" } else { "placement" };
                out.push(event(what, p.at_ms, Some(p.place.kind().to_string()), p.by));
            }
            for f in h.follow_ups {
                out.push(event(
                    "follow_up",
                    f.at_ms,
                    Some(f.outcome.as_str().to_string()),
                    f.by,
                ));
            }
            for n in h.notes {
                out.push(event("note", n.at_ms, None, n.by));
            }
            for r in h.releases {
                out.push(event(
                    "release",
                    r.at_ms,
                    Some(r.reason.as_str().to_string()),
                    r.by,
                ));
            }
        }
        out.sort_by_key(|e| e.at_ms);
        Ok(out)
    }

    /// Every change to `nik`'s records in `villages`, oldest first (no
    /// permission check, no access log: for the workflows above).
    pub(crate) async fn record_events(
        &self,
        nik: Nik,
        villages: &[VillageCode],
    ) -> Result<Vec<RecordEvent>, NodeError> {
        let roster = self.roster().map(|r| {
            r.read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone()
        });
        let mut events = Vec::new();
        for &village in villages {
            let changes = self
                .store()
                .record_history(village, nik, roster.clone(), self.now_ms())
                .await??;
            events.extend(changes.into_iter().map(|c| self.event(village, c)));
        }
        events.sort_by_key(|e| e.at_s);
        Ok(events)
    }

    /// `village`'s records as its document stood at `at_s` (unix seconds,
    /// by its writers' clocks). For an auditor, or the village's own clerk.
    pub async fn village_as_of(
        &self,
        by: &Actor,
        village: VillageCode,
        at_s: i64,
    ) -> Result<VillageAsOf, NodeError> {
        by.require(Permission::Audit, "read a village as it was")?;
        let (heads, residents) = self.store().residents_as_of(village, at_s).await??;
        Ok(VillageAsOf {
            village,
            at_s,
            heads: heads.iter().map(ToString::to_string).collect(),
            residents,
        })
    }

    /// What changed in `village`'s records between two times (unix
    /// seconds, by the writers' clocks): who was added, whose record
    /// changed (moved out, died, corrected) and whose was withdrawn.
    pub async fn village_changes(
        &self,
        by: &Actor,
        village: VillageCode,
        from_s: i64,
        to_s: i64,
    ) -> Result<VillageChanges, NodeError> {
        let from = self.village_as_of(by, village, from_s).await?;
        let to = self.village_as_of(by, village, to_s).await?;
        let before: std::collections::HashMap<Nik, Resident> =
            from.residents.into_iter().map(|r| (r.nik, r)).collect();
        let mut out = VillageChanges {
            village,
            from_s,
            to_s,
            added: Vec::new(),
            changed: Vec::new(),
            withdrawn: Vec::new(),
        };
        let mut still = std::collections::HashSet::new();
        for r in to.residents {
            still.insert(r.nik);
            match before.get(&r.nik) {
                None => out.added.push(r),
                Some(old) if !old.same_content(&r) => out.changed.push(ChangedRecord {
                    fields: field_changes(old, &r),
                    old: old.clone(),
                    new: r,
                }),
                Some(_) => {}
            }
        }
        out.withdrawn = before
            .into_values()
            .filter(|r| !still.contains(&r.nik))
            .collect();
        out.withdrawn.sort_by_key(|r| r.nik);
        Ok(out)
    }

    fn event(&self, village: VillageCode, c: CheckedChange) -> RecordEvent {
        let fields = field_changes_of(c.change.before.as_ref(), c.change.after.as_ref());
        let change = c.change;
        let kind = match (&change.before, &change.after) {
            (None, _) => RecordEventKind::Added,
            (Some(_), None) => RecordEventKind::Withdrawn,
            (Some(b), Some(a)) => match (&b.status, &a.status) {
                (Status::Deceased { .. }, Status::Deceased { .. })
                | (Status::MovedOut { .. }, Status::MovedOut { .. }) => RecordEventKind::Corrected,
                (_, Status::Deceased { .. }) => RecordEventKind::Deceased,
                (_, Status::MovedOut { .. }) => RecordEventKind::MovedOut,
                _ => RecordEventKind::Corrected,
            },
        };
        let writer = kampung_trust::writer_of_actor(&change.actor);
        let node = NodeKey::from_actor(writer)
            .map(|k| k.to_string())
            .unwrap_or_else(|| writer.iter().map(|b| format!("{b:02x}")).collect());
        let (node_role, node_label) = self.certificate_of(&node).unzip();
        let author = kampung_core::Author::from_message(&change.message);
        let first = change.message.lines().next().unwrap_or_default();
        RecordEvent {
            village,
            change: change.hash.to_string(),
            at_s: change.time_s,
            kind,
            node_role,
            node_label,
            node,
            person_id: author.as_ref().map(|a| a.id.clone()),
            person: author.map(|a| a.name),
            reason: first.split_once(": ").map(|(_, why)| why.to_string()),
            fields,
            verified: c.verified,
            before: change.before,
            after: change.after,
        }
    }

    /// The role and label of the newest certificate of the node `peer`.
    pub(crate) fn certificate_of(&self, peer: &str) -> Option<(RoleKind, String)> {
        let roster = self.roster()?.read().ok()?;
        roster
            .statements()
            .filter_map(|s| match &s.statement {
                Statement::Certificate(c) if c.node.to_string() == peer => Some(c),
                _ => None,
            })
            .max_by_key(|c| c.until_ms)
            .map(|c| (c.role, c.label.clone()))
    }
}
