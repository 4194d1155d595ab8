//! The verdict on a KTP: one answer for every front door (the CLI's
//! `lookup`, `/v1/lookup`, `/v1/verdict`, the officer's page), with the
//! policy in force and open isolation cases applied, the documents it was
//! computed from, and how fresh our copy of the deciding village is.

use std::cell::Cell;
use std::time::Duration;

use kampung_core::{CheckVerdict, DocId, Policy, VillageCode};
use kampung_store::crossing::DocHeads;
use serde::Serialize;
use utoipa::ToSchema;

use kampung_i18n::Lang;

use crate::access::Access;
use crate::actor::Permission;
use crate::error::NodeError;
use crate::{Actor, Node};

/// How fresh our copy of a village's document is.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Freshness {
    /// The document, `v/35.10.15.2012`.
    #[schema(value_type = String, example = "v/35.10.15.2012")]
    pub doc: DocId,
    /// This node writes the document: always current.
    pub own_document: bool,
    /// Seconds since we last heard from the village's node (directly or by
    /// gossip); 0 for our own; null if never.
    pub owner_last_heard_secs: Option<f64>,
}

/// The verdict on a KTP, what it means for the officer, and its basis.
#[derive(Debug, Clone)]
pub struct Answer {
    pub verdict: CheckVerdict,
    /// The documents, with their heads, the verdict was computed from.
    pub basis: Vec<DocHeads>,
    /// The policy it applied (version 0: the default, none signed yet).
    pub policy: Policy,
    /// How fresh our copy of the village that decided it is (for verdicts
    /// that come from a village's record).
    pub freshness: Option<Freshness>,
    /// Every village where the NIK is an active resident, when there is more
    /// than one (registered on both sides of a cut network); else empty.
    pub double_registration: Vec<VillageCode>,
    /// The registry state it was computed on (kept with a crossing, for
    /// the auditor's replay).
    pub state: kampung_store::lookups::RegistryHeads,
}

impl Answer {
    /// `resident`, `resident_under_isolation`, `moved_out`, `deceased`,
    /// `non_resident`, `barred` or `invalid`.
    pub fn kind(&self) -> &'static str {
        self.verdict.kind()
    }

    /// One line for the officer in `lang`: what the verdict is and what
    /// follows, and a double registration if there is one.
    pub fn explanation(&self, lang: Lang) -> String {
        let line = kampung_i18n::explain(lang, &self.verdict);
        match self.double_note(lang) {
            Some(note) => format!("{line} {note}"),
            None => line,
        }
    }

    /// The double registration in `lang`, if the NIK is active in more than one village.
    pub fn double_note(&self, lang: Lang) -> Option<String> {
        (self.double_registration.len() > 1)
            .then(|| kampung_i18n::double_registration(lang, &self.double_registration))
    }

    /// The officer must escalate, not just act (a deceased person's KTP).
    pub fn alert(&self) -> bool {
        self.verdict.is_alert()
    }

    /// The name the registry gives the person, if any.
    pub fn registry_name(&self) -> Option<&str> {
        match &self.verdict {
            CheckVerdict::Resident { full_name, .. }
            | CheckVerdict::MovedOut { full_name, .. }
            | CheckVerdict::Deceased { full_name, .. } => Some(full_name),
            CheckVerdict::ResidentUnderIsolation { full_name, .. } => full_name.as_deref(),
            _ => None,
        }
    }

    /// The isolation case open for this person, if the verdict found one.
    pub fn open_case(&self) -> Option<(&str, &kampung_core::Place)> {
        match &self.verdict {
            CheckVerdict::ResidentUnderIsolation { case_id, place, .. } => Some((case_id, place)),
            CheckVerdict::Deceased {
                open_case: Some(c), ..
            } => Some((&c.case_id, &c.place)),
            _ => None,
        }
    }

    /// The village whose record decided the verdict, if one did.
    pub(crate) fn village(verdict: &CheckVerdict) -> Option<VillageCode> {
        match verdict {
            CheckVerdict::Resident { village, .. }
            | CheckVerdict::MovedOut { village, .. }
            | CheckVerdict::Deceased { village, .. } => Some(*village),
            CheckVerdict::ResidentUnderIsolation { village, .. } => *village,
            _ => None,
        }
    }
}

impl Node {
    /// Does this node write `doc` itself (so its copy is always current)?
    pub fn owns(&self, doc: &DocId) -> bool {
        match doc.kind() {
            Some(kampung_core::DocKind::Village(v) | kampung_core::DocKind::Card(v)) => {
                self.role().village() == Some(v)
            }
            Some(kampung_core::DocKind::CrossingLog(peer, _)) => peer == self.peer_id(),
            _ => false,
        }
    }

    /// How old our copy of `doc` is: zero for a document this node writes,
    /// else the time since we last heard from its owner; `None` if never
    /// (or offline, where the mesh's memory of it is not kept).
    pub fn copy_age(&self, doc: &DocId) -> Option<Duration> {
        if self.owns(doc) {
            return Some(Duration::ZERO);
        }
        let heard = self.mesh()?.heard_from_owner(doc)?;
        Some(age(self.now_ms(), heard))
    }

    /// [`Node::copy_age`] of every document we have heard from, and of our own.
    pub fn copy_ages(&self) -> Vec<(DocId, Duration)> {
        let now = self.now_ms();
        let mut ages: Vec<(DocId, Duration)> = self
            .mesh()
            .and_then(|m| {
                let heard = m.heard();
                let heard = heard.read().ok()?;
                Some(
                    heard
                        .iter()
                        .map(|(doc, ms)| (doc.clone(), age(now, *ms)))
                        .collect(),
                )
            })
            .unwrap_or_default();
        if let Some(own) = self.role().owned_village_doc() {
            ages.retain(|(d, _)| *d != own);
            ages.push((own, Duration::ZERO));
        }
        ages
    }

    /// How fresh our copy of `doc` is, as the verdict and the status show it.
    pub fn freshness(&self, doc: DocId) -> Freshness {
        Freshness {
            own_document: self.owns(&doc),
            owner_last_heard_secs: self.copy_age(&doc).map(|d| d.as_secs_f64()),
            doc,
        }
    }

    /// The verdict on a typed or scanned NIK now, under the policy in force,
    /// for someone who may check KTPs; the look-up goes to the access log.
    /// It reads the store's shared lookups on the caller's thread: a verdict
    /// never queues behind the store's writes, and never touches Automerge.
    pub fn verdict(&self, by: &Actor, input: &str) -> Result<Answer, NodeError> {
        by.require(Permission::Verdict, "check a KTP")?;
        let answer = self.answer(input);
        self.log_access(by, Access::Verdict, input, answer.kind());
        Ok(answer)
    }

    /// The verdict, for a workflow that checked its own permission.
    pub(crate) fn answer(&self, input: &str) -> Answer {
        let policy = self.policy();
        // The deciding village's copy age is asked by the verdict and shown
        // in its freshness: found once (its document id made once).
        let own = self.role().village();
        let found: Cell<Option<(VillageCode, DocId, Option<Duration>)>> = Cell::new(None);
        let village_age = |v: VillageCode| {
            let doc = DocId::card(v);
            let age = if own == Some(v) {
                Some(Duration::ZERO)
            } else {
                self.mesh()
                    .and_then(|m| m.heard_from_owner(&doc))
                    .map(|heard| age(self.now_ms(), heard))
            };
            found.set(Some((v, doc, age)));
            age
        };
        let kampung_store::lookups::Checked {
            verdict,
            basis,
            active_villages: mut double_registration,
            state,
        } = self
            .store()
            .lookups()
            .read()
            .check_verdict(input, &policy, village_age);
        if double_registration.len() < 2 {
            double_registration.clear();
        }
        self.metrics().verdict(verdict.kind());
        let freshness = Answer::village(&verdict).map(|v| match found.take() {
            Some((asked, doc, age)) if asked == v => Freshness {
                doc,
                own_document: own == Some(v),
                owner_last_heard_secs: age.map(|d| d.as_secs_f64()),
            },
            _ => self.freshness(DocId::card(v)),
        });
        Answer {
            verdict,
            basis,
            policy,
            freshness,
            double_registration,
            state,
        }
    }
}

fn age(now_ms: i64, then_ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(now_ms.saturating_sub(then_ms)).unwrap_or(0))
}
