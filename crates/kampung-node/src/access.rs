//! The access log: every look-up of a person's data made by a person or a
//! program (verdicts, records, searches, the verdict behind a crossing or a
//! case), who made it, when, on which NIK, through what, and the answer's
//! kind. Personal data law (UU 27/2022) expects look-ups to be accountable.
//!
//! It is local to the node (never replicated), append-only for everyone but
//! its own pruning, and bounded by age and by size (see [`AccessLimits`]).
//! Appends go straight into a node-local table (no flush per entry, so a
//! verdict stays microseconds); a background task makes them durable every
//! second and prunes. Only an auditor reads it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kampung_store::local::LocalTable;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::actor::{Actor, Permission};
use crate::error::NodeError;
use crate::Node;

/// What kind of look-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// A verdict on a KTP (`lookup`, `/v1/verdict`, the officer's page).
    Verdict,
    /// The verdict computed for a logged crossing.
    Crossing,
    /// The verdict computed to open a case.
    Case,
    /// One full resident record.
    Record,
    /// A search of a village's residents (the text searched for).
    Search,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Verdict => "verdict",
            Access::Crossing => "crossing",
            Access::Case => "case",
            Access::Record => "record",
            Access::Search => "search",
        }
    }
}

/// One look-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    /// Unix ms.
    pub at_ms: i64,
    /// The account or token id (`local` for the node's own machine).
    pub who: String,
    /// The person's name or the token's label.
    pub name: String,
    /// Their role (`officer`, ...; `local`).
    pub role: String,
    pub what: Access,
    /// The NIK as asked (or the text searched for), at most 64 characters.
    pub subject: String,
    /// The answer's kind (`resident`, `barred`, `found`, ...).
    pub answer: String,
}

/// How much of the log is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessLimits {
    /// Entries older than this are removed.
    pub days: u32,
    /// The oldest entries beyond this many are removed.
    pub max_entries: usize,
}

impl Default for AccessLimits {
    fn default() -> Self {
        AccessLimits {
            days: 365,
            max_entries: 1_000_000,
        }
    }
}

/// Which entries to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessQuery {
    /// Only look-ups of this NIK (digits as typed, separators ignored).
    pub subject: Option<String>,
    /// Only look-ups by this account or token id, or login name.
    pub who: Option<String>,
    /// Entries to return at most, newest first.
    pub limit: usize,
}

/// The access log of a node.
#[derive(Debug, Clone)]
pub struct AccessLog {
    table: LocalTable,
    seq: Arc<AtomicU32>,
    limits: AccessLimits,
}

fn key(at_ms: i64, seq: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&at_ms.to_be_bytes());
    k[8..].copy_from_slice(&seq.to_be_bytes());
    k
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

impl AccessLog {
    pub fn new(table: LocalTable, limits: AccessLimits) -> AccessLog {
        AccessLog {
            table,
            seq: Arc::default(),
            limits,
        }
    }

    /// Append one entry (not flushed: [`AccessLog::run`] makes it durable).
    pub fn append(&self, entry: &AccessEntry) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let bytes = postcard::to_stdvec(entry).unwrap_or_default();
        if let Err(e) = self.table.insert(&key(entry.at_ms, seq), &bytes) {
            tracing::error!(error = %e, "could not append to the access log");
        }
    }

    /// Remove entries older than the limit in days, then the oldest beyond
    /// the limit in number. Returns how many were removed.
    pub fn prune(&self, now_ms: i64) -> Result<usize, NodeError> {
        let cutoff = now_ms - i64::from(self.limits.days) * 86_400_000;
        let mut removed = 0;
        for (k, _) in self
            .table
            .range(&key(0, 0), &key(cutoff, 0), false, usize::MAX)?
        {
            self.table.remove(&k)?;
            removed += 1;
        }
        let over = self.table.len().saturating_sub(self.limits.max_entries);
        if over > 0 {
            for (k, _) in self
                .table
                .range(&key(0, 0), &key(i64::MAX, 0), false, over)?
            {
                self.table.remove(&k)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Make appends durable every second and prune every minute, until `stop`.
    pub async fn run(self, clock: kampung_core::SharedClock, stop: CancellationToken) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut n = 0u64;
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            n += 1;
            if n % 60 == 1 {
                if let Err(e) = self.prune(clock.now_ms()) {
                    tracing::warn!(error = %e, "could not prune the access log");
                }
            }
            if let Err(e) = self.table.flush() {
                tracing::warn!(error = %e, "could not flush the access log");
            }
        }
        let _ = self.table.flush();
    }

    /// The newest entries matching `q`.
    pub fn read(&self, q: &AccessQuery) -> Result<Vec<AccessEntry>, NodeError> {
        let subject = q.subject.as_deref().map(digits);
        let mut out = Vec::new();
        // Newest first, a page at a time, so a filter never loads the whole log.
        let mut upper = key(i64::MAX, u32::MAX).to_vec();
        while out.len() < q.limit {
            let page = self.table.range(&key(0, 0), &upper, true, 1000)?;
            let Some((last, _)) = page.last() else {
                break;
            };
            upper = last.clone();
            for (_, v) in &page {
                let Ok(e) = postcard::from_bytes::<AccessEntry>(v) else {
                    continue;
                };
                let subject_ok = subject.as_ref().is_none_or(|s| digits(&e.subject) == *s);
                let who_ok = q.who.as_ref().is_none_or(|w| *w == e.who || *w == e.name);
                if subject_ok && who_ok {
                    out.push(e);
                    if out.len() >= q.limit {
                        break;
                    }
                }
            }
        }
        Ok(out)
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

impl Node {
    /// Record one look-up of a person's data by `by`.
    pub(crate) fn log_access(&self, by: &Actor, what: Access, subject: &str, answer: &str) {
        let (who, name, role) = match by {
            Actor::Person { id, name, role, .. } => (id.clone(), name.clone(), role.as_str()),
            Actor::Program { id, label, role } => (id.clone(), label.clone(), role.as_str()),
            Actor::Local => ("local".into(), "local".into(), "local"),
            Actor::Nobody => return,
        };
        self.access_log().append(&AccessEntry {
            at_ms: self.now_ms(),
            who,
            name,
            role: role.to_string(),
            what,
            subject: subject.chars().take(64).collect(),
            answer: answer.to_string(),
        });
    }

    /// The access log, newest first, for an auditor.
    pub fn read_access_log(
        &self,
        by: &Actor,
        q: &AccessQuery,
    ) -> Result<Vec<AccessEntry>, NodeError> {
        by.require(Permission::Audit, "read the access log")?;
        self.access_log().read(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at_ms: i64, subject: &str, who: &str) -> AccessEntry {
        AccessEntry {
            at_ms,
            who: who.into(),
            name: who.into(),
            role: "officer".into(),
            what: Access::Verdict,
            subject: subject.into(),
            answer: "resident".into(),
        }
    }

    #[test]
    fn bounded_by_age_and_size_read_newest_first() {
        let log = AccessLog::new(
            LocalTable::memory(),
            AccessLimits {
                days: 1,
                max_entries: 50,
            },
        );
        let day = 86_400_000;
        for i in 0..80 {
            log.append(&entry(
                10 * day + i * 1000,
                &format!("35101552038500{:02}", i % 7),
                "u-1",
            ));
        }
        log.append(&entry(day, "3510155203850001", "u-old"));
        assert_eq!(log.len(), 81);
        let removed = log.prune(10 * day + 100_000).unwrap();
        assert_eq!(removed, 31, "the old one, and the 30 oldest beyond 50");
        assert_eq!(log.len(), 50);
        let q = AccessQuery {
            subject: Some("3510-1552-0385-0003".into()),
            who: None,
            limit: 100,
        };
        let hits = log.read(&q).unwrap();
        assert!(!hits.is_empty());
        assert!(hits.iter().all(|e| e.subject.ends_with("03")));
        assert!(hits.windows(2).all(|w| w[0].at_ms >= w[1].at_ms));
        let none = log
            .read(&AccessQuery {
                who: Some("u-old".into()),
                limit: 10,
                ..AccessQuery::default()
            })
            .unwrap();
        assert!(none.is_empty(), "pruned");
    }
}
