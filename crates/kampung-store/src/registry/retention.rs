//! The policy's retention: crossing months and closed isolation cases
//! leave a node's replica (memory and disk) when their period ends, and
//! are then neither offered to peers nor taken from them.
//!
//! A month's crossing log is past its period when its month is more than
//! `crossing_months` months ago: that follows from its name alone, so
//! every node agrees without reading it. A closed case is past its period
//! `closed_case_days` after its release; the single crossing log of nodes
//! before monthly logs, when its newest crossing's month is. Those two are
//! known only from their content, so a node that dropped one remembers its
//! name (a few bytes, in the local table `dropped`) and refuses it when a
//! peer offers it again.
//!
//! A node keeps only what its certificate lets it read
//! ([`kampung_core::ReadScope`], set with [`Registry::set_scope`]): a
//! village node that held crossing logs before read scopes drops them at
//! its first sweep, and never takes them again. That follows from the
//! name too, so nothing is remembered.
//!
//! Auditors keep longer (`auditor_extra_months`). What they keep past the
//! shared period stays out of the digest and heads pages they offer, so
//! an auditor and a village still agree they are in sync.

use std::collections::HashSet;

use kampung_core::{DocKind, LogMonth, ReadScope, Retention};
use tracing::info;

use super::Registry;
use crate::case::CaseDoc;
use crate::crossing::CrossingLog;
use crate::storage::{DocId, Storage};
use crate::StoreError;

const DAY_MS: i64 = 86_400_000;
/// The local table of documents this node dropped that their name does not date.
const DROPPED: &str = "dropped";

/// How long one node keeps things: the policy's retention, lengthened for
/// an auditor. Zero keeps for ever.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Keep {
    pub crossing_months: u32,
    pub closed_case_days: u32,
}

impl Keep {
    /// What every node keeps under `r`.
    pub fn shared(r: &Retention) -> Keep {
        Keep {
            crossing_months: r.crossing_months,
            closed_case_days: r.closed_case_days,
        }
    }

    /// What a node keeps under `r`: auditors `auditor_extra_months` longer.
    pub fn for_node(r: &Retention, auditor: bool) -> Keep {
        let mut keep = Keep::shared(r);
        if auditor {
            let extra = r.auditor_extra_months;
            if keep.crossing_months > 0 {
                keep.crossing_months = keep.crossing_months.saturating_add(extra);
            }
            if keep.closed_case_days > 0 {
                keep.closed_case_days = keep
                    .closed_case_days
                    .saturating_add(extra.saturating_mul(31));
            }
        }
        keep
    }

    /// The first month whose crossings are still kept at `now` (`None`: all).
    fn first_month(&self, now: LogMonth) -> Option<LogMonth> {
        let n = i32::try_from(self.crossing_months).ok()?;
        (n > 0).then(|| now.plus(-n))
    }
}

/// The cut-offs of the last sweep.
#[derive(Debug, Clone, Default)]
pub(super) struct Cutoffs {
    /// Crossing months before this one are dropped here.
    own: Option<LogMonth>,
    /// Crossing months before this one are not offered to peers.
    shared: Option<LogMonth>,
    /// Documents still held here past the shared period (an auditor's).
    withheld: HashSet<DocId>,
}

/// What one sweep dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Expired {
    pub crossing_logs: usize,
    pub cases: usize,
    /// Documents this node's certificate does not let it read (crossing
    /// logs a village node held before read scopes); also counted above.
    pub outside_scope: usize,
    /// Villages' details dropped (those a node held before verdict cards
    /// and may not read); also counted in `outside_scope`.
    pub details: usize,
    /// Stored bytes of what was dropped (snapshots and chunks).
    pub bytes: u64,
}

/// When a document's period ends, as its content says.
enum Ends {
    /// Its name dates it (a month's crossings), or it has no end (an open case).
    Never,
    Month(LogMonth),
    At(i64),
}

impl<S: Storage> Registry<S> {
    /// Load the names of what this node dropped (at open).
    pub(super) fn load_dropped(&mut self) -> Result<(), StoreError> {
        let table = self.storage.local_table(DROPPED)?;
        for key in table.keys()? {
            if let Some(id) = String::from_utf8(key).ok().and_then(|s| DocId::parse(&s)) {
                self.dropped.insert(id);
            }
        }
        Ok(())
    }

    /// Hold only what a node of `scope` may read: documents outside it
    /// are not taken from peers nor offered to them from now on, and leave
    /// memory and disk at the next sweep ([`Registry::expire`]).
    pub fn set_scope(&mut self, scope: ReadScope) {
        self.scope = scope;
    }

    /// Has this node let `doc` go, or would it at its last sweep, or may it
    /// not read it at all? Such a document is not written, asked for, or
    /// taken from a peer.
    pub fn expired(&self, doc: &DocId) -> bool {
        self.dropped.contains(doc) || before(doc, self.cutoffs.own) || !self.scope.may_read(doc)
    }

    /// Is `doc` past the shared period (not offered to peers)?
    fn withheld(&self, doc: &DocId) -> bool {
        self.expired(doc) || self.cutoffs.withheld.contains(doc) || before(doc, self.cutoffs.shared)
    }

    /// Every document offered to peers (digest and heads pages), with its
    /// heads, sorted: [`Registry::doc_heads`] without what is past the
    /// policy's shared retention.
    pub fn offered_heads(&self) -> Vec<(DocId, Vec<automerge::ChangeHash>)> {
        let mut heads = self.doc_heads();
        if !self.cutoffs.withheld.is_empty()
            || self.cutoffs.shared.is_some()
            || self.scope != ReadScope::Everything
        {
            heads.retain(|(id, _)| !self.withheld(id));
        }
        heads
    }

    /// Drop what is past its period at `now_ms`: crossing months and
    /// closed cases, from memory and disk. `shared` is the policy's
    /// retention, `own` this node's ([`Keep::for_node`]). Durable when it
    /// returns.
    pub fn expire(&mut self, now_ms: i64, shared: Keep, own: Keep) -> Result<Expired, StoreError> {
        self.readable()?;
        let Some(now) = LogMonth::of_ms(now_ms) else {
            return Ok(Expired::default());
        };
        let mut cutoffs = Cutoffs {
            own: own.first_month(now),
            shared: shared.first_month(now),
            withheld: HashSet::new(),
        };
        let mut expired = Expired::default();
        let mut ids: Vec<DocId> = self
            .others
            .keys()
            .chain(self.cold.keys())
            .cloned()
            .collect();
        ids.sort();
        let table = self.storage.local_table(DROPPED)?;
        for id in ids {
            // Details a node may not read stay until the village's cards
            // answer for it (a store from before cards).
            let outside = !self.scope.may_read(&id) && !self.kept_for_legacy(&id);
            let ends = if outside { Ends::Never } else { self.ends(&id) };
            let (past_own, past_shared) = match ends {
                _ if outside => (true, true),
                Ends::Never => (before(&id, cutoffs.own), before(&id, cutoffs.shared)),
                Ends::Month(m) => (
                    cutoffs.own.is_some_and(|c| m < c),
                    cutoffs.shared.is_some_and(|c| m < c),
                ),
                Ends::At(t) => (
                    past(t, own.closed_case_days, now_ms),
                    past(t, shared.closed_case_days, now_ms),
                ),
            };
            if !past_own {
                if past_shared {
                    cutoffs.withheld.insert(id);
                }
                continue;
            }
            let Some(bytes) = self.drop_doc(&id)? else {
                continue;
            };
            if !matches!(ends, Ends::Never) {
                table.insert(id.as_str().as_bytes(), &now_ms.to_be_bytes())?;
                self.dropped.insert(id.clone());
            }
            expired.bytes += bytes;
            expired.outside_scope += usize::from(outside);
            match id.kind() {
                Some(DocKind::Case(_)) => expired.cases += 1,
                Some(DocKind::Village(_)) => expired.details += 1,
                _ => expired.crossing_logs += 1,
            }
        }
        self.cutoffs = cutoffs;
        // Logs of past months go cold (nobody writes them any more), and so
        // do logs this node does not write, once served.
        let writes: HashSet<DocId> = self.crossing_states.keys().cloned().collect();
        let room = if self.archive() { usize::MAX } else { 0 };
        self.evict_logs(
            |id| {
                !writes.contains(id)
                    || !matches!(id.kind(), Some(DocKind::CrossingLog(_, Some(m))) if m == now)
            },
            room,
        );
        if expired != Expired::default() {
            self.storage.flush()?;
            table.flush()?;
            info!(
                crossing_logs = expired.crossing_logs,
                cases = expired.cases,
                details = expired.details,
                outside_scope = expired.outside_scope,
                bytes = expired.bytes,
                "dropped what the policy's retention no longer keeps, or this node may not read"
            );
        }
        Ok(expired)
    }

    /// Remove `id` from memory and storage (not flushed): the bytes it
    /// took, `None` if this node did not hold it.
    fn drop_doc(&mut self, id: &DocId) -> Result<Option<u64>, StoreError> {
        let bytes = match (self.others.remove(id), self.cold.remove(id)) {
            (Some(other), _) => (other.snapshot_bytes + other.chunk_bytes) as u64,
            (None, Some(_)) => self.storage.load(id)?.map_or(0, |s| {
                let chunks: usize = s.chunks.iter().map(|(_, c)| c.len()).sum();
                (s.snapshot.map_or(0, |b| b.len()) + chunks) as u64
            }),
            (None, None) => return Ok(None),
        };
        self.crossing_states.remove(id);
        self.storage.remove(id)?;
        self.rewritten(id);
        Ok(Some(bytes))
    }

    /// Drop at once what this node may no longer read (its scope narrowed:
    /// a new policy names other holders of a village's details), from
    /// memory and disk; durable when it returns. The number of documents.
    /// Details kept for a store from before cards stay until the cards
    /// answer for their village, as at a sweep.
    pub fn drop_outside_scope(&mut self) -> Result<usize, StoreError> {
        self.readable()?;
        let mut ids: Vec<DocId> = self
            .others
            .keys()
            .chain(self.cold.keys())
            .filter(|id| !self.scope.may_read(id) && !self.kept_for_legacy(id))
            .cloned()
            .collect();
        ids.sort();
        ids.dedup();
        let mut dropped = 0;
        for id in &ids {
            dropped += usize::from(self.drop_doc(id)?.is_some());
        }
        if dropped > 0 {
            self.storage.flush()?;
            info!(
                documents = dropped,
                "dropped what this node may no longer read under the policy in force"
            );
        }
        Ok(dropped)
    }

    /// When `id`'s period ends, as far as its content says.
    fn ends(&self, id: &DocId) -> Ends {
        if let Some(DocKind::CrossingLog(_, None)) = id.kind() {
            let newest = self.read_log(id, |am| CrossingLog::newest_in(am, 0, 1));
            return match newest {
                Ok(Some(Ok((_, newest)))) => newest
                    .first()
                    .and_then(|c| LogMonth::of_ms(c.at_ms))
                    .map_or(Ends::Never, Ends::Month),
                _ => Ends::Never,
            };
        }
        let Some(other) = self.others.get(id) else {
            return Ends::Never;
        };
        match id.kind() {
            Some(DocKind::Case(case_id)) => {
                match CaseDoc::from_automerge(case_id, other.am.clone()).map(|c| c.released()) {
                    Ok(Ok(Some(release))) => Ends::At(release.at_ms),
                    _ => Ends::Never,
                }
            }
            _ => Ends::Never,
        }
    }
}

/// Is `doc` a month's crossing log from before `first` (the first month kept)?
fn before(doc: &DocId, first: Option<LogMonth>) -> bool {
    match (doc.kind(), first) {
        (Some(DocKind::CrossingLog(_, Some(month))), Some(first)) => month < first,
        _ => false,
    }
}

/// Is a period of `days` that began at `since_ms` over at `now_ms`?
fn past(since_ms: i64, days: u32, now_ms: i64) -> bool {
    days > 0 && since_ms.saturating_add(i64::from(days) * DAY_MS) <= now_ms
}

#[cfg(test)]
mod tests;
