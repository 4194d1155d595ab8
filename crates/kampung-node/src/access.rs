//! The access log: every look-up of a person's data made by a person or a
//! program (verdicts, records, searches, the verdict behind a crossing or a
//! case), who made it, when, on which NIK, through what, and the answer's
//! kind. Personal data law (UU 27/2022) expects look-ups to be accountable.
//!
//! It is local to the node (never replicated), append-only for everyone but
//! its own pruning, and bounded by age and by size (see [`AccessLimits`]).
//! Appends go to a buffer in memory, written to a node-local table as one
//! segment a second (so a verdict stays microseconds: no tree insert per
//! look-up); a background task makes them durable and prunes. Only an
//! auditor reads it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
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
    /// A person's history, or a search of crossings by NIK (an auditor).
    History,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Verdict => "verdict",
            Access::Crossing => "crossing",
            Access::Case => "case",
            Access::Record => "record",
            Access::Search => "search",
            Access::History => "history",
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
    /// The answer as codes, which pages show in the reader's language
    /// (`kampung_i18n::access_answer`): a verdict's kind (`resident`,
    /// `barred`, ...), `found` or `not_found` (a record), the village code a
    /// search looked in, `crossings=N` (a search of crossings by NIK),
    /// `changes=N crossings=N cases=N` (a person's history), `export
    /// bytes=N` (a raw document). Entries logged before kept English text.
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

/// The access log of a node. A look-up appends to a buffer in memory (a
/// verdict must not wait for the disk, nor pay for a tree insert); every
/// second, or as soon as [`BUFFERED`] entries wait, [`AccessLog::run`]
/// writes the buffer off the request threads (and a read writes it first),
/// in packed segments of at most [`SEGMENT`] entries and [`SEGMENT_BYTES`]:
/// one record each, keyed by its newest entry's time, a sequence number and
/// its number of entries, so time ranges and counts need no decoding.
#[derive(Debug, Clone)]
pub struct AccessLog {
    table: LocalTable,
    seq: Arc<AtomicU32>,
    limits: AccessLimits,
    pending: Arc<Mutex<Vec<AccessEntry>>>,
    /// Held while a batch taken from `pending` is being stored, so that a
    /// read, which writes the buffer first, waits for a batch the writer
    /// thread has taken and not yet stored instead of missing it.
    writing: Arc<Mutex<()>>,
    /// Wakes [`AccessLog::run`] when the buffer is full.
    full: Arc<tokio::sync::Notify>,
}

/// Entries buffered before the writer is woken early.
pub const BUFFERED: usize = 4096;

/// Entries per segment at most.
pub const SEGMENT: usize = 256;

/// Encoded bytes per segment at most, so that sled keeps it inline
/// ([`kampung_store::storage::sled_storage::INLINE_MAX`]): larger values
/// make sled write its pages as files of their own. Segments of 256 whole
/// entries (about 18 KB) made sled create and remove a file for nearly
/// every one: writing the access log took 11 % of a checkpoint's CPU
/// samples (perf) under 40,000 verdicts a second, most of it in ext4
/// creating files.
pub const SEGMENT_BYTES: usize = kampung_store::storage::sled_storage::INLINE_MAX;

/// A segment's key: its newest entry's time, a sequence number, its size.
fn key(max_at_ms: i64, seq: u32, count: u32) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&max_at_ms.to_be_bytes());
    k[8..12].copy_from_slice(&seq.to_be_bytes());
    k[12..].copy_from_slice(&count.to_be_bytes());
    k
}

/// The newest time and the number of entries of a segment, from its key.
fn key_parts(k: &[u8]) -> Option<(i64, usize)> {
    let at = i64::from_be_bytes(k.get(..8)?.try_into().ok()?);
    let count = u32::from_be_bytes(k.get(12..16)?.try_into().ok()?);
    Some((at, count as usize))
}

const FIRST: [u8; 16] = [0; 16];
const LAST: [u8; 16] = [0xff; 16];

/// First byte of a packed segment. A segment of whole entries (as nodes
/// wrote them before) starts with its count, never 0.
const PACKED: u8 = 0;

/// A segment as stored: the people and answers of its entries once each,
/// and each entry as small numbers (its time after the segment's first, the
/// NIK as a number). A verdict's entry takes about 14 bytes instead of about
/// 70 as a whole entry (who, name and role again each time), so a segment
/// of [`SEGMENT_BYTES`] holds about 40 look-ups, not 9: at 40,000 verdicts a
/// second the writer and sled's flushes took 8 % of a checkpoint's CPU
/// samples (perf) with whole entries.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Packed {
    first_at_ms: i64,
    people: Vec<Person>,
    answers: Vec<String>,
    entries: Vec<Slot>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Person {
    who: String,
    name: String,
    role: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Slot {
    /// Milliseconds after [`Packed::first_at_ms`] (may be negative).
    after_ms: i64,
    /// Index in [`Packed::people`].
    person: u16,
    what: Access,
    subject: Subject,
    /// Index in [`Packed::answers`].
    answer: u16,
}

/// What was looked up: a NIK as a number when it is 16 digits (it is
/// written back with its leading zeros), else the text.
#[derive(Debug, Serialize, Deserialize)]
enum Subject {
    Nik(u64),
    Text(String),
}

impl Subject {
    fn of(s: &str) -> Subject {
        match s.parse::<u64>() {
            Ok(n) if s.len() == 16 && s.bytes().all(|b| b.is_ascii_digit()) => Subject::Nik(n),
            _ => Subject::Text(s.to_string()),
        }
    }
    fn text(self) -> String {
        match self {
            Subject::Nik(n) => format!("{n:016}"),
            Subject::Text(s) => s,
        }
    }
}

/// Bytes of a packed segment besides what [`Packer`] counts: the marker,
/// the first time (a varint of up to 10 bytes) and three lengths (at most
/// 3 bytes each).
const PACKED_OVERHEAD: usize = 1 + 10 + 3 * 3;

fn size_of<T: Serialize>(t: &T) -> usize {
    postcard::experimental::serialized_size(t).unwrap_or(SEGMENT_BYTES)
}

/// One entry as a segment would take it ([`Packer::addition`]).
#[derive(Debug)]
struct Addition {
    slot: Slot,
    /// Encoded bytes it adds to the segment.
    bytes: usize,
    /// The person, if the segment does not hold them yet.
    person: Option<Person>,
    /// The answer, if the segment does not hold it yet.
    answer: Option<String>,
}

/// A segment being filled, and its encoded size at most.
#[derive(Debug, Default)]
struct Packer {
    packed: Packed,
    bytes: usize,
}

impl Packer {
    fn new() -> Packer {
        Packer {
            packed: Packed::default(),
            bytes: PACKED_OVERHEAD,
        }
    }

    fn len(&self) -> usize {
        self.packed.entries.len()
    }

    /// What adding `e` takes: its slot, and the person and answer it adds
    /// to the segment (if not already held), and their bytes.
    fn addition(&self, e: &AccessEntry) -> Addition {
        let p = &self.packed;
        let first = if p.entries.is_empty() {
            e.at_ms
        } else {
            p.first_at_ms
        };
        let known = p
            .people
            .iter()
            .position(|x| x.who == e.who && x.name == e.name && x.role == e.role);
        let person = known.is_none().then(|| Person {
            who: e.who.clone(),
            name: e.name.clone(),
            role: e.role.clone(),
        });
        let known_answer = p.answers.iter().position(|a| *a == e.answer);
        let answer = known_answer.is_none().then(|| e.answer.clone());
        let index = |known: Option<usize>, len: usize| {
            u16::try_from(known.unwrap_or(len)).unwrap_or(u16::MAX)
        };
        let slot = Slot {
            after_ms: e.at_ms.saturating_sub(first),
            person: index(known, p.people.len()),
            what: e.what,
            subject: Subject::of(&e.subject),
            answer: index(known_answer, p.answers.len()),
        };
        let bytes = size_of(&slot)
            + person.as_ref().map_or(0, size_of)
            + answer.as_ref().map_or(0, size_of);
        Addition {
            slot,
            bytes,
            person,
            answer,
        }
    }

    fn push(&mut self, e: &AccessEntry, add: Addition) {
        let Addition {
            slot,
            bytes,
            person,
            answer,
        } = add;
        if self.packed.entries.is_empty() {
            self.packed.first_at_ms = e.at_ms;
        }
        self.packed.people.extend(person);
        self.packed.answers.extend(answer);
        self.packed.entries.push(slot);
        self.bytes += bytes;
    }

    fn encode(&self) -> Result<Vec<u8>, postcard::Error> {
        let mut out = vec![PACKED];
        out.extend(postcard::to_stdvec(&self.packed)?);
        Ok(out)
    }
}

fn unpack(p: Packed) -> Vec<AccessEntry> {
    let Packed {
        first_at_ms,
        people,
        answers,
        entries,
    } = p;
    entries
        .into_iter()
        .filter_map(|s| {
            let person = people.get(usize::from(s.person))?;
            Some(AccessEntry {
                at_ms: first_at_ms.saturating_add(s.after_ms),
                who: person.who.clone(),
                name: person.name.clone(),
                role: person.role.clone(),
                what: s.what,
                subject: s.subject.text(),
                answer: answers.get(usize::from(s.answer))?.clone(),
            })
        })
        .collect()
}

fn decode(bytes: &[u8]) -> Vec<AccessEntry> {
    let decoded = match bytes.split_first() {
        Some((&PACKED, rest)) => postcard::from_bytes::<Packed>(rest).map(unpack),
        _ => postcard::from_bytes::<Vec<AccessEntry>>(bytes),
    };
    decoded.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "an access-log segment does not decode; skipped");
        Vec::new()
    })
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// `entries`, in their order, packed into segments of at most [`SEGMENT`]
/// entries and, but for a single entry larger than that, [`SEGMENT_BYTES`].
fn segments(entries: &[AccessEntry]) -> Vec<Packer> {
    let mut out = Vec::new();
    let mut current = Packer::new();
    for e in entries {
        let mut add = current.addition(e);
        if current.len() > 0
            && (current.len() == SEGMENT || current.bytes + add.bytes > SEGMENT_BYTES)
        {
            out.push(std::mem::replace(&mut current, Packer::new()));
            add = current.addition(e);
        }
        current.push(e, add);
    }
    if current.len() > 0 {
        out.push(current);
    }
    out
}

/// One round of the access log's writer.
#[derive(Debug)]
struct Job {
    prune_at: Option<i64>,
    flush: bool,
    done: tokio::sync::oneshot::Sender<()>,
}

/// Lower the calling thread's priority to that of a batch job (nice 10):
/// on Linux a thread has a nice value of its own. Best effort: where it
/// cannot, the thread runs at the usual priority.
fn background_priority() {
    #[cfg(target_os = "linux")]
    {
        let me = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(me), 10) {
            tracing::debug!(error = %e, "cannot lower the access log writer's priority");
        }
    }
}

impl AccessLog {
    pub fn new(table: LocalTable, limits: AccessLimits) -> AccessLog {
        AccessLog {
            table,
            // A random start: segments written after a restart in the same
            // millisecond (a fixed test clock) never take an old one's key.
            seq: Arc::new(AtomicU32::new(rand::random())),
            limits,
            pending: Arc::default(),
            writing: Arc::default(),
            full: Arc::default(),
        }
    }

    /// Append one entry (to the buffer: [`AccessLog::run`] writes and
    /// flushes it within a second).
    pub fn append(&self, entry: AccessEntry) {
        let full = {
            let mut pending = self
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            pending.push(entry);
            pending.len() >= BUFFERED
        };
        if full {
            self.full.notify_one();
        }
    }

    /// Write the buffered entries to the table in segments.
    fn write_pending(&self) {
        let _writing = self
            .writing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut batch = std::mem::take(
            &mut *self
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        // Oldest first, so that the segments of one write hold time ranges
        // that do not overlap (pruning by age reads only the segment its
        // cutoff falls in), also when the clock stepped back meanwhile.
        batch.sort_by_key(|e| e.at_ms);
        if let Err(e) = self.write_entries(&batch) {
            tracing::error!(error = %e, "could not write to the access log");
        }
    }

    /// Write `entries` as packed segments; every segment is tried, the
    /// first error is returned.
    fn write_entries(&self, entries: &[AccessEntry]) -> Result<(), NodeError> {
        let mut first = Ok(());
        for segment in segments(entries) {
            if let Err(e) = self.write_segment(&segment) {
                tracing::error!(error = %e, entries = segment.len(), "could not write an access-log segment");
                first = first.and(Err(e));
            }
        }
        first
    }

    fn write_segment(&self, segment: &Packer) -> Result<(), NodeError> {
        let p = &segment.packed;
        let Some(max_after) = p.entries.iter().map(|e| e.after_ms).max() else {
            return Ok(());
        };
        let bytes = segment
            .encode()
            .map_err(|e| NodeError::store(format!("cannot encode access-log entries: {e}")))?;
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let count = u32::try_from(segment.len()).unwrap_or(u32::MAX);
        let max_at = p.first_at_ms.saturating_add(max_after);
        self.table.insert(&key(max_at, seq, count), &bytes)?;
        Ok(())
    }

    /// Replace a segment by the entries of it to keep.
    fn rewrite(&self, k: &[u8], keep: &[AccessEntry]) -> Result<(), NodeError> {
        self.table.remove(k)?;
        self.write_entries(keep)
    }

    /// Remove entries older than the limit in days, then the oldest beyond
    /// the limit in number. Returns how many were removed.
    pub fn prune(&self, now_ms: i64) -> Result<usize, NodeError> {
        self.write_pending();
        let cutoff = now_ms - i64::from(self.limits.days) * 86_400_000;
        let mut removed = 0;
        // Segments go by their keys alone (newest time and count): only the
        // one segment a limit falls inside is read, never the whole log.
        // Segments whose newest entry is older than the cutoff go whole; the
        // first one that is not may hold older entries still.
        for k in self.table.keys()? {
            let Some((max_at, count)) = key_parts(&k) else {
                self.table.remove(&k)?;
                continue;
            };
            if max_at < cutoff {
                self.table.remove(&k)?;
                removed += count;
                continue;
            }
            let entries = self.segment(&k)?;
            let keep: Vec<AccessEntry> = entries
                .iter()
                .filter(|e| e.at_ms >= cutoff)
                .cloned()
                .collect();
            if keep.len() < entries.len() {
                removed += entries.len() - keep.len();
                self.rewrite(&k, &keep)?;
            }
            break;
        }
        let keys = self.table.keys()?;
        let total: usize = keys
            .iter()
            .filter_map(|k| key_parts(k))
            .map(|(_, c)| c)
            .sum();
        let mut over = total.saturating_sub(self.limits.max_entries);
        for k in keys {
            if over == 0 {
                break;
            }
            let count = key_parts(&k).map_or(0, |(_, c)| c);
            if count <= over {
                self.table.remove(&k)?;
                removed += count;
                over -= count;
            } else {
                let mut entries = self.segment(&k)?;
                entries.sort_by_key(|e| e.at_ms);
                let keep = entries.split_off(over.min(entries.len()));
                removed += entries.len();
                self.rewrite(&k, &keep)?;
                over = 0;
            }
        }
        Ok(removed)
    }

    /// The entries of the segment at `k`.
    fn segment(&self, k: &[u8]) -> Result<Vec<AccessEntry>, NodeError> {
        Ok(self.table.get(k)?.map(|v| decode(&v)).unwrap_or_default())
    }

    /// Make appends durable every second (or as soon as the buffer is
    /// full) and prune every minute, until `stop`. The disk work runs on a
    /// thread of its own at a lower priority ([`background_priority`]),
    /// never on the threads that answer requests, and it yields the CPU to
    /// them: at thousands of verdicts a second, encoding and storing the
    /// log would otherwise delay the verdicts that arrive meanwhile.
    pub async fn run(self, clock: kampung_core::SharedClock, stop: CancellationToken) {
        let (jobs, todo) = std::sync::mpsc::sync_channel::<Job>(1);
        let log = self.clone();
        let writer = std::thread::Builder::new()
            .name("kampung-access-log".into())
            .spawn(move || {
                background_priority();
                for job in todo {
                    log.work(job.prune_at, job.flush);
                    let _ = job.done.send(());
                }
            });
        if let Err(e) = &writer {
            tracing::warn!(error = %e, "cannot start the access log's writer thread; writing on the blocking pool");
        }
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut n = 0u64;
        loop {
            let ticked = tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => true,
                () = self.full.notified() => false,
            };
            let prune = ticked && {
                n += 1;
                n % 60 == 1
            };
            let (done, finished) = tokio::sync::oneshot::channel();
            let job = Job {
                prune_at: prune.then(|| clock.now_ms()),
                flush: ticked,
                done,
            };
            let sent = match &writer {
                Ok(_) => jobs.send(job).map_err(|e| e.0),
                Err(_) => Err(job),
            };
            if let Err(job) = sent {
                let log = self.clone();
                let _ =
                    tokio::task::spawn_blocking(move || log.work(job.prune_at, job.flush)).await;
                continue;
            }
            if finished.await.is_err() {
                tracing::error!("the access log's writer stopped");
            }
        }
        drop(jobs);
        let log = self.clone();
        let _ = tokio::task::spawn_blocking(move || log.work(None, true)).await;
    }

    /// Prune entries older than the limits allow at `prune_at` (if given),
    /// write the buffer, and flush it to disk if asked.
    fn work(&self, prune_at: Option<i64>, flush: bool) {
        if let Some(now) = prune_at {
            if let Err(e) = self.prune(now) {
                tracing::warn!(error = %e, "could not prune the access log");
            }
        }
        self.write_pending();
        if flush {
            if let Err(e) = self.table.flush() {
                tracing::warn!(error = %e, "could not flush the access log");
            }
        }
    }

    /// The newest entries matching `q`.
    pub fn read(&self, q: &AccessQuery) -> Result<Vec<AccessEntry>, NodeError> {
        self.write_pending();
        let subject = q.subject.as_deref().map(digits);
        let mut out = Vec::new();
        // Newest segments first, a few at a time, so a filter never loads
        // the whole log.
        let mut upper = LAST.to_vec();
        while out.len() < q.limit {
            let page = self.table.range(&FIRST, &upper, true, 16)?;
            let Some((last, _)) = page.last() else {
                break;
            };
            upper = last.clone();
            for (_, v) in &page {
                // A segment holds its entries oldest first, equal times in
                // the order they were made: reversed, then sorted (stable),
                // the newest comes first, also among equal times.
                let mut entries = decode(v);
                entries.reverse();
                entries.sort_by_key(|e| std::cmp::Reverse(e.at_ms));
                for e in entries {
                    let subject_ok = subject.as_ref().is_none_or(|s| digits(&e.subject) == *s);
                    let who_ok = q.who.as_ref().is_none_or(|w| *w == e.who || *w == e.name);
                    if subject_ok && who_ok {
                        out.push(e);
                        if out.len() >= q.limit {
                            return Ok(out);
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Entries in the log.
    pub fn len(&self) -> usize {
        self.write_pending();
        self.table
            .keys()
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| key_parts(k))
                    .map(|(_, c)| c)
                    .sum()
            })
            .unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        self.access_log().append(AccessEntry {
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
            log.append(entry(
                10 * day + i * 1000,
                &format!("35101552038500{:02}", i % 7),
                "u-1",
            ));
        }
        log.append(entry(day, "3510155203850001", "u-old"));
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

    #[test]
    fn segments_read_newest_first_across_their_bounds_and_prune_by_entry() {
        let log = AccessLog::new(
            LocalTable::memory(),
            AccessLimits {
                days: 1,
                max_entries: 1000,
            },
        );
        let day = 86_400_000;
        // Three segments (each read writes the buffer), a day apart.
        for d in 0..3 {
            for i in 0..10 {
                log.append(entry(
                    d * day + i * 1000,
                    &format!("35101552038500{i:02}"),
                    "u-1",
                ));
            }
            assert_eq!(log.len(), 10 * (d as usize + 1));
        }
        let all = log
            .read(&AccessQuery {
                limit: 25,
                ..AccessQuery::default()
            })
            .unwrap();
        assert_eq!(all.len(), 25);
        assert!(
            all.windows(2).all(|w| w[0].at_ms >= w[1].at_ms),
            "newest first"
        );
        assert_eq!(all[0].at_ms, 2 * day + 9000);
        // A cutoff inside the second segment removes the first whole and
        // the second's older half.
        let removed = log.prune(2 * day + 5000).unwrap();
        assert_eq!(removed, 15);
        assert_eq!(log.len(), 15);
        // A full buffer wakes the writer (it is not written on the
        // appender's thread), and goes out in segments of at most SEGMENT
        // entries and SEGMENT_BYTES (which sled keeps inline).
        let before = log.table.keys().unwrap().len();
        for i in 0..(BUFFERED as i64 + 1) {
            log.append(entry(3 * day + i, "3510155203850001", "u-2"));
        }
        assert_eq!(
            log.table.keys().unwrap().len(),
            before,
            "not written by the appender"
        );
        let woken = log.full.notified();
        tokio::pin!(woken);
        assert!(woken.as_mut().enable(), "the writer was not woken");
        log.write_pending();
        let keys = log.table.keys().unwrap();
        let written = &keys[before..];
        assert!(written.len() >= (BUFFERED + 1).div_ceil(SEGMENT));
        assert!(written
            .iter()
            .filter_map(|k| key_parts(k))
            .all(|(_, count)| count <= SEGMENT));
        let sizes: Vec<usize> = written
            .iter()
            .map(|k| log.table.get(k).unwrap().unwrap().len())
            .collect();
        assert!(sizes.iter().all(|&n| n <= SEGMENT_BYTES), "{sizes:?}");
        // All but the last (not in key order: same time, sequence numbers).
        let mut filled = sizes.clone();
        filled.sort_unstable();
        assert!(
            filled[1..].iter().all(|&n| n > SEGMENT_BYTES * 3 / 4),
            "segments are filled: {sizes:?}"
        );
        assert_eq!(log.len(), 15 + BUFFERED + 1);
    }

    #[test]
    fn segments_are_packed_and_read_back_exactly_with_segments_of_whole_entries() {
        let log = AccessLog::new(LocalTable::memory(), AccessLimits::default());
        // An old segment of whole entries, as nodes wrote them before.
        let old = vec![entry(1_000, "3510155203850001", "u-1")];
        log.table
            .insert(&key(1_000, 0, 1), &postcard::to_stdvec(&old).unwrap())
            .unwrap();
        let mut entries = Vec::new();
        for i in 0..200i64 {
            let mut e = entry(2_000 + i * 7, &format!("35101552038{:05}", i), "u-officer");
            if i % 3 == 0 {
                e.who = "t-scanner".into();
                e.name = "Pemindai Ketapang".into();
                e.role = "officer".into();
                e.answer = "non_resident".into();
            }
            if i == 5 {
                e.what = Access::Search;
                e.subject = "Sri 00012".into();
            }
            if i == 6 {
                e.subject = "0123456789012345".into();
            }
            entries.push(e);
        }
        for e in &entries {
            log.append(e.clone());
        }
        log.write_pending();
        let keys = log.table.keys().unwrap();
        assert!(
            keys.len() <= 1 + 200usize.div_ceil(30),
            "at least 30 look-ups a segment: {} segments",
            keys.len() - 1
        );
        for k in &keys {
            assert!(log.table.get(k).unwrap().unwrap().len() <= SEGMENT_BYTES);
        }
        let mut back = log
            .read(&AccessQuery {
                limit: 1000,
                ..AccessQuery::default()
            })
            .unwrap();
        back.reverse();
        assert_eq!(back[0], old[0]);
        assert_eq!(back[1..], entries[..], "read back as written");
        // Pruning rewrites the segment its cutoff falls in, packed.
        assert_eq!(log.prune(2_000 + 100 * 7 + 86_400_000 * 365).unwrap(), 101);
        assert_eq!(log.len(), 100);
        let kept = log
            .read(&AccessQuery {
                limit: 1000,
                ..AccessQuery::default()
            })
            .unwrap();
        assert_eq!(kept.len(), 100);
        assert!(kept.iter().all(|e| entries[100..].contains(e)));
    }

    #[test]
    fn equal_times_read_newest_first() {
        let log = AccessLog::new(LocalTable::memory(), AccessLimits::default());
        for i in 0..5 {
            log.append(entry(1_000, &format!("351015520385000{i}"), "u-1"));
        }
        let read = log
            .read(&AccessQuery {
                limit: 10,
                ..AccessQuery::default()
            })
            .unwrap();
        let subjects: Vec<&str> = read.iter().map(|e| e.subject.as_str()).collect();
        assert_eq!(
            subjects,
            [
                "3510155203850004",
                "3510155203850003",
                "3510155203850002",
                "3510155203850001",
                "3510155203850000"
            ]
        );
    }

    /// A read sees every entry appended before it, also while the writer
    /// thread is storing a batch it has taken from the buffer (a read once
    /// found the buffer empty and the batch not yet in the table).
    #[test]
    fn a_read_sees_what_the_writer_is_storing() {
        let log = AccessLog::new(LocalTable::memory(), AccessLimits::default());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (log, stop) = (log.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    log.write_pending();
                }
            })
        };
        for i in 0..2_000 {
            let subject = format!("3510155203{i:06}");
            log.append(entry(1_000 + i64::from(i), &subject, "u-1"));
            let read = log
                .read(&AccessQuery {
                    subject: Some(subject.clone()),
                    limit: 1,
                    ..AccessQuery::default()
                })
                .unwrap();
            assert_eq!(read.len(), 1, "entry {i} missing from the read");
        }
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
    }

    /// On the node's own sled store, a full buffer written as segments
    /// leaves no value file of sled's: each segment stays inline.
    #[test]
    fn segments_stay_inline_in_sled() {
        use kampung_store::Storage as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let storage = kampung_store::storage::sled_storage::SledStorage::open(&path).unwrap();
        let log = AccessLog::new(
            storage.local_table("access").unwrap(),
            AccessLimits {
                days: 1,
                max_entries: 100_000,
            },
        );
        for i in 0..(4 * BUFFERED as i64) {
            log.append(entry(1_000 + i, "3510155203850001", "u-officer-ketapang"));
            if i % BUFFERED as i64 == 0 {
                log.write_pending();
            }
        }
        log.write_pending();
        storage.flush().unwrap();
        assert_eq!(log.len(), 4 * BUFFERED);
        let blobs = std::fs::read_dir(path.join("blobs"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(blobs, 0, "sled wrote segments as files of their own");
    }
}
