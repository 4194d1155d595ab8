//! What an auditor reads: the crossings of every checkpoint, one person's
//! history across the mesh, the signature and authority check of the
//! store, and the certificates the root signed. Every workflow here reads;
//! none writes.

use kampung_core::{Nik, Resident, RoleKind, VillageCode};
use kampung_store::audit::AuditReport;
use kampung_store::case::{CaseHistory, CaseState};
use kampung_store::crossing::{Crossing, CrossingFilter};
use kampung_trust::Statement;
use serde::Serialize;

use crate::access::Access;
use crate::actor::Permission;
use crate::error::{case_not_found, ErrorCode, NodeError};
use crate::{Actor, Answer, Node};

/// Most crossings one page of a search returns.
pub const MAX_CROSSINGS_PAGE: usize = 1000;

/// A crossing found by [`Node::search_crossings`], with its checkpoint.
#[derive(Debug, Clone, Serialize)]
pub struct FoundCrossing {
    /// The checkpoint's peer id.
    pub checkpoint: String,
    /// What the checkpoint's certificate calls it, if the roster has one.
    pub checkpoint_label: Option<String>,
    pub crossing: Crossing,
}

/// One page of crossings of every checkpoint, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct CrossingSearch {
    /// Crossings matching the filter, on every page.
    pub total: usize,
    pub items: Vec<FoundCrossing>,
}

/// A checkpoint whose crossing log this node holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    pub peer: String,
    pub label: Option<String>,
}

/// Everything this node holds about one NIK.
#[derive(Debug, Clone)]
pub struct PersonHistory {
    pub nik: Nik,
    /// The verdict on the NIK now.
    pub answer: Answer,
    /// Its records in every village that has one (after a move, two).
    pub records: Vec<Resident>,
    /// Its crossings at every checkpoint, newest first.
    pub crossings: Vec<FoundCrossing>,
    /// Its isolation cases, as they stand today, newest first.
    pub cases: Vec<CaseState>,
    /// Every change to its records in those villages, oldest first.
    pub changes: Vec<crate::RecordEvent>,
}

/// A certificate the root signed, as the operator and the auditor see it.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateView {
    /// The node's peer id.
    pub peer: String,
    pub role: RoleKind,
    pub village: Option<VillageCode>,
    pub label: String,
    pub not_before_ms: i64,
    pub until_ms: i64,
    /// Revoked by the root (from this time, unix ms).
    pub revoked_from_ms: Option<i64>,
    /// In force now, and not revoked.
    pub in_force: bool,
}

impl Node {
    /// Crossings found in checkpoints' logs, each with its checkpoint's label.
    fn found(&self, found: Vec<(String, Crossing)>) -> Vec<FoundCrossing> {
        found
            .into_iter()
            .map(|(checkpoint, crossing)| FoundCrossing {
                checkpoint_label: self.label_of(&checkpoint),
                checkpoint,
                crossing,
            })
            .collect()
    }

    /// What the roster's certificate calls the node with peer id `peer`.
    pub fn label_of(&self, peer: &str) -> Option<String> {
        self.certificate_of(peer).map(|(_, label)| label)
    }

    /// The checkpoints whose crossing logs this node holds (every node
    /// holds every checkpoint's log), with what their certificates call them.
    pub async fn checkpoints(&self, by: &Actor) -> Result<Vec<Checkpoint>, NodeError> {
        by.require(Permission::ReadCrossings, "read crossing logs")?;
        Ok(self
            .store()
            .crossing_logs()
            .await?
            .into_iter()
            .map(|peer| Checkpoint {
                label: self.label_of(&peer),
                peer,
            })
            .collect())
    }

    /// Crossings of every checkpoint matching `filter`, newest first, one
    /// page of at most [`MAX_CROSSINGS_PAGE`]. A search by NIK goes to the
    /// access log.
    pub async fn search_crossings(
        &self,
        by: &Actor,
        filter: CrossingFilter,
        offset: usize,
        limit: usize,
    ) -> Result<CrossingSearch, NodeError> {
        by.require(Permission::ReadCrossings, "read crossing logs")?;
        let nik = filter.nik.clone();
        let (total, items) = self
            .store()
            .search_crossings(filter, offset, limit.min(MAX_CROSSINGS_PAGE))
            .await??;
        if let Some(nik) = nik {
            self.log_access(by, Access::History, &nik, &format!("crossings={total}"));
        }
        Ok(CrossingSearch {
            total,
            items: self.found(items),
        })
    }

    /// Everything this node holds about one NIK: the verdict now, its
    /// records in every village, its crossings and its isolation cases. For
    /// an auditor; the look-up goes to the access log.
    pub async fn person_history(
        &self,
        by: &Actor,
        input: &str,
    ) -> Result<PersonHistory, NodeError> {
        by.require(Permission::Audit, "read a person's history")?;
        let nik = self.parse_nik_full(input)?.nik();
        let answer = self.answer(&nik.to_string());
        let villages: Vec<VillageCode> = self.store().lookups().read().index().villages_of(nik);
        let changes = self.record_events(nik, &villages).await?;
        let mut records = Vec::new();
        for v in villages {
            if let Some(r) = self.store().read(v, nik).await?? {
                records.push(r);
            }
        }
        let filter = CrossingFilter {
            nik: Some(nik.to_string()),
            ..CrossingFilter::default()
        };
        let (_, found) = self
            .store()
            .search_crossings(filter, 0, MAX_CROSSINGS_PAGE)
            .await??;
        let mut cases = self.store().cases(self.now_ms()).await?;
        cases.retain(|c| c.info.nik == nik);
        cases.sort_by_key(|c| std::cmp::Reverse(c.info.opened_at_ms));
        self.log_access(by, Access::History, &nik.to_string(), answer.kind());
        Ok(PersonHistory {
            nik,
            answer,
            records,
            crossings: self.found(found),
            cases,
            changes,
        })
    }

    /// One isolation case as it stands today and everything recorded on it.
    pub async fn case_history(
        &self,
        by: &Actor,
        id: &str,
    ) -> Result<(CaseState, CaseHistory), NodeError> {
        let state = self.case(by, id).await?;
        self.store()
            .case_history(id.to_string(), self.now_ms())
            .await?
            .map(|(_, history)| (state, history))
            .ok_or_else(|| case_not_found(id))
    }

    /// The auditor's check of this node's store (`kampung audit verify`,
    /// on a running node): every change signed by a writer allowed to make
    /// it, no holes, the index equal to the documents. The store answers
    /// nothing else while it runs (seconds for a village; longer for a node
    /// holding the regency).
    pub async fn audit(&self, by: &Actor) -> Result<AuditReport, NodeError> {
        by.require(Permission::Audit, "audit this node's store")?;
        let root = self.roster().and_then(|r| r.read().ok().map(|r| r.root()));
        Ok(self.store().audit(root, self.now_ms()).await??)
    }

    /// Every certificate the root signed that this node holds, with its
    /// expiry and revocation, soonest expiry first.
    pub fn certificates(&self, by: &Actor) -> Result<Vec<CertificateView>, NodeError> {
        by.require(Permission::ReadNode, "read the node's certificates")?;
        let Some(roster) = self.roster() else {
            return Err(NodeError::new(
                ErrorCode::NoRoot,
                "this node has no root key configured, so it holds no certificates: `kampung trust root ROOT.pub`",
            ));
        };
        let roster = roster
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = self.now_ms();
        let mut out: Vec<CertificateView> = roster
            .statements()
            .filter_map(|s| match &s.statement {
                Statement::Certificate(c) => Some(c),
                _ => None,
            })
            .map(|c| {
                let revoked_from_ms = roster.revocation(&c.node).map(|r| r.from_ms);
                CertificateView {
                    peer: c.node.to_string(),
                    role: c.role,
                    village: c.village,
                    label: c.label.clone(),
                    not_before_ms: c.not_before_ms,
                    until_ms: c.until_ms,
                    in_force: c.in_force_at(now) && revoked_from_ms.is_none_or(|t| now < t),
                    revoked_from_ms,
                }
            })
            .collect();
        out.sort_by_key(|c| c.until_ms);
        Ok(out)
    }
}
