//! The auditor's replay of checkpoint verdicts: each crossing's verdict
//! computed again from the registry state it names (every village document
//! at the heads the checkpoint's index reflected, see
//! [`crate::crossing::states`]), the isolation case in its basis and the
//! policy it names, and compared with what the log says the officer saw.
//!
//! A NIK's record in a village at old heads is read from the document
//! itself, never from the current index: only a village whose heads are
//! the same now as then is answered from the index. A record withdrawn
//! since is found through the village's withdrawn NIKs, read from the
//! operations of its changes once per replay.

use std::collections::{BTreeMap, HashMap, HashSet};

use automerge::ChangeHash;
use kampung_core::checkpoint::{local_date, OpenCase};
use kampung_core::{banyuwangi, CheckVerdict, Nik, Policy, VillageCode};
use serde::{Deserialize, Serialize};

use super::others::{open_case_of, RecordError};
use super::{sorted, Registry};
use crate::crossing::states::{self, Villages};
use crate::crossing::{Crossing, CrossingLog};
use crate::index::{Entry, Index};
use crate::storage::{DocId, DocKind, Storage};
use crate::StoreError;

/// Which crossings to replay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayQuery {
    /// One checkpoint's log (its peer id); every log held if `None`.
    pub checkpoint: Option<String>,
    /// Crossings at or after this time (unix ms).
    pub from_ms: Option<i64>,
    /// Crossings before this time (unix ms).
    pub to_ms: Option<i64>,
}

/// Why a crossing's verdict could not be confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReplayProblem {
    /// The verdict computed again differs from the one logged.
    VerdictDiffers { replayed: String },
    /// The same verdict, but on another village's record than the one the
    /// crossing's basis names.
    VillageDiffers { replayed: VillageCode },
    /// The registry state the crossing names is not in its log.
    StateMissing { state: u64 },
    /// The state names heads of a village document this node does not
    /// hold (or no longer holds).
    VillageHeadsMissing { village: VillageCode },
    /// The isolation case in the basis is not held at those heads.
    CaseMissing { case_id: String },
    /// The policy version the crossing names is not among the verified
    /// policies this node holds.
    PolicyMissing { version: u64 },
    /// The crossing names no policy version.
    PolicyUnknown,
}

/// A crossing whose verdict the replay could not confirm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    /// The checkpoint's peer id.
    pub checkpoint: String,
    pub at_ms: i64,
    /// The NIK as logged.
    pub nik: String,
    /// The verdict the log says the officer saw.
    pub recorded: String,
    #[serde(flatten)]
    pub problem: ReplayProblem,
}

/// What the replay found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayReport {
    /// The logs replayed (peer ids).
    pub checkpoints: Vec<String>,
    /// Crossings in the range asked for.
    pub crossings: usize,
    /// Crossings whose verdict was computed again and matched.
    pub matched: usize,
    /// Crossings logged before registry states were kept: they name the
    /// documents of a record found, not the state of an absence, so they
    /// are not replayed.
    pub without_state: usize,
    /// Registry states the replayed crossings rest on.
    pub states: usize,
    pub mismatches: Vec<Mismatch>,
}

impl ReplayReport {
    pub fn ok(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// What one replay has read of the documents, kept for its next crossing.
#[derive(Default)]
struct Reads {
    /// Each village's withdrawn NIKs, read once.
    withdrawn: HashMap<VillageCode, HashSet<u64>>,
    /// The villages whose document changed since the state being replayed
    /// (or that are no longer held), worked out once per state.
    changed: Vec<VillageCode>,
}

impl<S: Storage> Registry<S> {
    /// Compute every crossing's verdict in `query` again and report each
    /// one that does not match (see the module's documentation). `policy`
    /// gives a verified policy by version (0 is the default policy). The
    /// store answers nothing else while this runs.
    pub fn replay(
        &mut self,
        query: &ReplayQuery,
        policy: &dyn Fn(u64) -> Option<Policy>,
    ) -> Result<ReplayReport, RecordError> {
        let mut report = ReplayReport::default();
        let logs: Vec<String> = match &query.checkpoint {
            Some(p) => vec![p.clone()],
            None => self.crossing_logs(),
        };
        let mut reads = Reads::default();
        // Registry states are numbered within each document (each month's log).
        let docs: Vec<(String, DocId)> = logs
            .iter()
            .flat_map(|peer| {
                let docs = self.crossing_docs(peer);
                docs.into_iter().map(move |id| (peer.clone(), id))
            })
            .collect();
        for (peer, id) in docs {
            let read = self.read_log(&id, |am| -> Result<_, RecordError> {
                let log = CrossingLog::from_automerge(&peer, am.clone())?;
                Ok((log.entries()?, states::deltas(log.automerge())?))
            })?;
            let (entries, deltas) = match read {
                Some(read) => read?,
                None => (Vec::new(), Vec::new()),
            };
            let mut by_state: BTreeMap<u64, Vec<Crossing>> = BTreeMap::new();
            for c in entries {
                if query.from_ms.is_some_and(|t| c.at_ms < t)
                    || query.to_ms.is_some_and(|t| c.at_ms >= t)
                {
                    continue;
                }
                report.crossings += 1;
                match c.state {
                    Some(n) => by_state.entry(n).or_default().push(c),
                    None => report.without_state += 1,
                }
            }
            report.states += by_state.len();
            let mut deltas = deltas.into_iter().peekable();
            let mut state = Villages::new();
            let mut folded_to: Option<u64> = None;
            for (n, crossings) in by_state {
                // Fold every state up to n (states are numbered in order).
                while let Some(d) = deltas.next_if(|d| d.n <= n) {
                    states::apply(&mut state, &d);
                    folded_to = Some(d.n);
                }
                reads.changed = self.changed_since(&state);
                for c in crossings {
                    let problem = if folded_to != Some(n) {
                        Some(ReplayProblem::StateMissing { state: n })
                    } else {
                        self.replay_one(&c, &state, policy, &mut reads)?
                    };
                    match problem {
                        None => report.matched += 1,
                        Some(problem) => report.mismatches.push(Mismatch {
                            checkpoint: peer.clone(),
                            at_ms: c.at_ms,
                            nik: c.nik.clone(),
                            recorded: c.verdict.clone(),
                            problem,
                        }),
                    }
                }
            }
        }
        report.checkpoints = logs;
        report.mismatches.sort_by_key(|m| m.at_ms);
        Ok(report)
    }

    /// One crossing's verdict computed again on `state`: `None` if it
    /// matches.
    fn replay_one(
        &mut self,
        c: &Crossing,
        state: &Villages,
        policy: &dyn Fn(u64) -> Option<Policy>,
        reads: &mut Reads,
    ) -> Result<Option<ReplayProblem>, StoreError> {
        let Some(version) = c.policy else {
            return Ok(Some(ReplayProblem::PolicyUnknown));
        };
        let Some(policy) = policy(version) else {
            return Ok(Some(ReplayProblem::PolicyMissing { version }));
        };
        let year = local_date(c.at_ms).map_or(self.this_year, |d| d.year());
        let parsed = Nik::parse(&c.nik, year);
        let mut index = Index::new();
        if let Ok(p) = &parsed {
            let nik = p.nik();
            for village in self.candidates(nik, reads)? {
                let Some(heads) = state.get(&village) else {
                    continue;
                };
                match self.entry_at(village, nik, heads)? {
                    Ok(Some(entry)) => index.set(nik, entry.village, Some(entry)),
                    Ok(None) => {}
                    Err(problem) => return Ok(Some(problem)),
                }
            }
        }
        let mut open: Option<OpenCase> = None;
        for b in &c.basis {
            let Some(id) = DocId::parse(&b.doc) else {
                continue;
            };
            let Some(DocKind::Case(case_id)) = id.kind() else {
                continue;
            };
            let missing = || ReplayProblem::CaseMissing {
                case_id: case_id.to_string(),
            };
            let (Some(other), Ok(heads)) = (self.others.get(&id), b.change_hashes()) else {
                return Ok(Some(missing()));
            };
            if heads
                .iter()
                .any(|h| other.am.get_change_meta_by_hash(h).is_none())
            {
                return Ok(Some(missing()));
            }
            let then = other.am.fork_at(&heads).ok();
            match then.map(|am| open_case_of(case_id, am)) {
                Some(Ok(Some((_, case)))) => open = open.or(case),
                _ => return Ok(Some(missing())),
            }
        }
        let view = parsed
            .as_ref()
            .ok()
            .and_then(|p| index.lookup(p.nik()))
            .and_then(Entry::view);
        let replayed_village = view.as_ref().map(|v| v.village);
        let verdict = CheckVerdict::decide(parsed, view, open, &policy, None);
        if verdict.kind() != c.verdict {
            return Ok(Some(ReplayProblem::VerdictDiffers {
                replayed: verdict.kind().to_string(),
            }));
        }
        if let Some(v) = replayed_village {
            // Crossings made before verdict cards name the village's
            // details document (`v/`), those since its cards (`k/`).
            let (card, details) = (DocId::card(v).to_string(), DocId::village(v).to_string());
            if !c.basis.iter().any(|b| b.doc == card || b.doc == details) {
                return Ok(Some(ReplayProblem::VillageDiffers { replayed: v }));
            }
        }
        Ok(None)
    }

    /// The villages of `state` whose document is not as it stood there.
    fn changed_since(&self, state: &Villages) -> Vec<VillageCode> {
        let lookups = self.lookups.read();
        state
            .iter()
            .filter(|(v, heads)| {
                lookups.indexed.get(*v).map(|h| sorted(h)).as_ref() != Some(*heads)
            })
            .map(|(v, _)| *v)
            .collect()
    }

    /// The villages that may have held a record of `nik` in the state
    /// being replayed: those holding one now, and those whose document
    /// changed since that state (`reads.changed`) and withdrew a record of
    /// it at some time.
    fn candidates(&mut self, nik: Nik, reads: &mut Reads) -> Result<Vec<VillageCode>, StoreError> {
        let now: Vec<VillageCode> = self.lookups.read().index.villages_of(nik);
        let mut out = now.clone();
        let changed: Vec<VillageCode> = reads
            .changed
            .iter()
            .filter(|v| !now.contains(v))
            .copied()
            .collect();
        for v in changed {
            if !self.lookups.read().indexed.contains_key(&v) {
                // No longer held: the replay cannot tell, and says so.
                out.push(v);
                continue;
            }
            let withdrawn = match reads.withdrawn.entry(v) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(self.doc(v)?.doc.withdrawn_niks())
                }
            };
            if withdrawn.contains(&nik.as_u64()) {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// `nik`'s index entry in `village` as the document stood at `heads`.
    fn entry_at(
        &mut self,
        village: VillageCode,
        nik: Nik,
        heads: &[ChangeHash],
    ) -> Result<Result<Option<Entry>, ReplayProblem>, StoreError> {
        let current = self.lookups.read().indexed.get(&village).map(|h| sorted(h));
        if current.as_deref() == Some(heads) {
            let lookups = self.lookups.read();
            let ordinal = banyuwangi::village(village).map(|v| v.ordinal);
            return Ok(Ok(lookups
                .index
                .all(nik)
                .iter()
                .find(|e| Some(e.village) == ordinal)
                .cloned()));
        }
        let missing = ReplayProblem::VillageHeadsMissing { village };
        if current.is_none() {
            return Ok(Err(missing));
        }
        let location = self.storage.location();
        let loaded = self.doc(village)?;
        if !loaded.doc.holds(heads) {
            return Ok(Err(missing));
        }
        let record = loaded
            .doc
            .get_at(nik, heads)
            .map_err(|e| super::doc_err(&location, village, e))?;
        Ok(Ok(record.as_ref().and_then(Entry::from_resident)))
    }
}

#[cfg(test)]
mod tests;
