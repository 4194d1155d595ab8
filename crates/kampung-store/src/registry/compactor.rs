//! Compaction off the writers' path. Saving a whole document (an 8,000
//! resident village: tens of milliseconds) on the store thread made every
//! write queued behind it wait: with 10 writers at once, the writes that
//! met a compaction were the slowest 1 % (BENCHMARKS-commit.md).
//!
//! Here the store thread only names the document and its last chunk. One
//! compactor thread reads what is stored (the snapshot and the chunks up
//! to that one), loads it into a fresh Automerge, saves it whole and
//! stages the compaction ([`Storage::stage_compaction`]: the snapshot and
//! the signatures of those chunks folded into one bundle, each a large
//! value's own file, written and synced). The store thread then refers to
//! them and drops exactly those chunks and bundles in one batch
//! ([`Storage::compact_staged`]); chunks written meanwhile stay, after it.
//! Reading, saving and the slow file writes (10-17 ms for a month of
//! crossings) are off the writers' path; the batch that changes what the
//! document is stays on the store thread.
//!
//! A compaction is dropped, not applied, when anything rewrote the
//! document's snapshot while it ran (a whole document merged from a peer,
//! a large write, a retention drop): each such rewrite counts a
//! generation of the document, and a result whose generation is no longer
//! the document's would put back an older state.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::time::Duration;

use automerge::Automerge;
use tracing::{debug, warn};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::storage::{DocId, Staged, Storage, StoredDoc};
use crate::StoreError;

/// Compactions waiting or running at once; more wait for a later write.
const QUEUE: usize = 4;

/// What the store thread hands over.
struct Job {
    doc: DocId,
    generation: u64,
    /// The last chunk the snapshot may cover.
    through: u64,
}

/// A compaction done, to apply on the store thread.
pub(super) struct Done {
    pub doc: DocId,
    generation: u64,
    /// The last chunk the snapshot covers.
    pub through: u64,
    /// Chunks and bytes of chunks the snapshot covers.
    pub chunks: usize,
    pub chunk_bytes: usize,
    /// The staged snapshot; `None`: nothing to compact.
    pub snapshot: Result<Option<Staged>, String>,
    /// The document was rewritten since it was handed over: the staged
    /// snapshot must be discarded, not applied.
    pub stale: bool,
}

/// The compactor thread and what it is working on.
pub(super) struct Compactor {
    jobs: Option<SyncSender<Job>>,
    done: Receiver<Done>,
    in_flight: HashSet<DocId>,
    /// Rewrites of each document's snapshot on the store thread.
    generations: HashMap<DocId, u64>,
    /// Set when dropped: the thread takes no further job.
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Compactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compactor")
            .field("in_flight", &self.in_flight.len())
            .finish_non_exhaustive()
    }
}

impl Compactor {
    /// Start the thread, reading and staging in `storage`; it calls
    /// `wake` after each compaction it finishes, so the store thread
    /// applies it without polling.
    pub fn start<S: Storage>(
        storage: Arc<S>,
        wake: Box<dyn Fn() + Send>,
    ) -> Result<Compactor, StoreError> {
        let (jobs, rx) = mpsc::sync_channel::<Job>(QUEUE);
        // Unbounded, yet never more than the jobs in flight (at most
        // QUEUE + 1): the thread never blocks on it.
        let (tx, done) = mpsc::channel::<Done>();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("kampung-compactor".into())
            .spawn(move || {
                // Housekeeping: on a busy two-core office PC the store
                // thread and the writers come first (nice 19, this thread
                // only; Linux keeps a nice value per thread).
                let me = rustix::thread::gettid();
                if let Err(e) = rustix::process::setpriority_process(Some(me), 19) {
                    debug!(error = %e, "the compactor runs at normal priority");
                }
                for job in rx {
                    if stopped.load(Ordering::Relaxed) {
                        break;
                    }
                    let done = compact(storage.as_ref(), job);
                    if tx.send(done).is_err() {
                        break;
                    }
                    wake();
                }
            })
            .map_err(|e| StoreError::Io {
                location: String::new(),
                reason: format!("cannot start the compactor thread: {e}"),
            })?;
        Ok(Compactor {
            jobs: Some(jobs),
            done,
            in_flight: HashSet::new(),
            generations: HashMap::new(),
            stop,
            thread: Some(thread),
        })
    }

    /// The store thread rewrote `doc`'s snapshot (or removed it): a
    /// compaction of it under way is now stale.
    pub fn rewritten(&mut self, doc: &DocId) {
        *self.generations.entry(doc.clone()).or_default() += 1;
    }

    /// The storage was reopened after a failure: what is under way was
    /// read from a state that may hold writes that were never durable.
    pub fn invalidate_all(&mut self) {
        for doc in &self.in_flight {
            *self.generations.entry(doc.clone()).or_default() += 1;
        }
    }

    /// Is a compaction of `doc` under way?
    pub fn busy(&self, doc: &DocId) -> bool {
        self.in_flight.contains(doc)
    }

    /// Are any under way?
    pub fn any(&self) -> bool {
        !self.in_flight.is_empty()
    }

    /// Hand `doc` over, covering its chunks up to `through`, unless one of
    /// it is under way or the queue is full.
    pub fn submit(&mut self, doc: &DocId, through: u64) {
        if self.busy(doc) {
            return;
        }
        let Some(jobs) = &self.jobs else {
            return;
        };
        let job = Job {
            doc: doc.clone(),
            generation: self.generations.get(doc).copied().unwrap_or(0),
            through,
        };
        match jobs.try_send(job) {
            Ok(()) => {
                self.in_flight.insert(doc.clone());
                debug!(%doc, "compaction handed to the compactor");
            }
            Err(mpsc::TrySendError::Full(_)) => debug!(%doc, "compactor busy; compacted later"),
            Err(mpsc::TrySendError::Disconnected(_)) => {
                warn!("the compactor thread stopped; documents are no longer compacted in the background");
                self.jobs = None;
            }
        }
    }

    /// Can it take documents (its thread runs)?
    pub fn running(&self) -> bool {
        self.jobs.is_some()
    }

    /// Compactions finished, waiting at most `wait` for the first one;
    /// those whose document was rewritten meanwhile are marked `stale`.
    pub fn finished(&mut self, wait: Duration) -> Vec<Done> {
        let mut out = Vec::new();
        if self.in_flight.is_empty() {
            return out;
        }
        let mut next = if wait.is_zero() {
            self.done
                .try_recv()
                .map_err(|e| e == TryRecvError::Disconnected)
        } else {
            self.done
                .recv_timeout(wait)
                .map_err(|e| e == mpsc::RecvTimeoutError::Disconnected)
        };
        loop {
            match next {
                Ok(done) => {
                    self.in_flight.remove(&done.doc);
                    let mut done = done;
                    let now = self.generations.get(&done.doc).copied().unwrap_or(0);
                    if now != done.generation {
                        debug!(doc = %done.doc, "compaction dropped: the document was rewritten meanwhile");
                        done.stale = true;
                    }
                    out.push(done);
                }
                Err(disconnected) => {
                    if disconnected {
                        self.in_flight.clear();
                        self.jobs = None;
                    }
                    break;
                }
            }
            next = self
                .done
                .try_recv()
                .map_err(|e| e == TryRecvError::Disconnected);
        }
        out
    }
}

impl Drop for Compactor {
    fn drop(&mut self) {
        // The thread holds the storage: it ends (after the document it is
        // saving, if any; queued ones are skipped) before the store closes,
        // so a store reopened at once finds it free. What it staged and
        // nobody applies is an unreferenced file, removed at the next open.
        self.stop.store(true, Ordering::Relaxed);
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// On the compactor thread: `job`'s document as stored, up to its last
/// chunk, saved whole and staged.
fn compact<S: Storage>(storage: &S, job: Job) -> Done {
    let mut done = Done {
        doc: job.doc,
        generation: job.generation,
        through: job.through,
        chunks: 0,
        chunk_bytes: 0,
        snapshot: Ok(None),
        stale: false,
    };
    let stored = match storage.load(&done.doc) {
        Ok(Some(s)) => s,
        Ok(None) => return done,
        Err(e) => {
            done.snapshot = Err(e.to_string());
            return done;
        }
    };
    let StoredDoc {
        snapshot, chunks, ..
    } = stored;
    let covered: Vec<(u64, Vec<u8>)> = chunks
        .into_iter()
        .filter(|(s, _)| *s <= job.through)
        .collect();
    let Some(last) = covered.last().map(|(s, _)| *s) else {
        return done;
    };
    done.through = last;
    done.chunks = covered.len();
    done.chunk_bytes = covered.iter().map(|(_, c)| c.len()).sum();
    done.snapshot = rebuild(&done.doc, snapshot.as_deref(), &covered).and_then(|bytes| {
        storage
            .stage_compaction(&done.doc, bytes, last)
            .map(Some)
            .map_err(|e| e.to_string())
    });
    done
}

/// The snapshot (or the genesis every node makes) with the chunks applied,
/// saved whole.
fn rebuild(
    doc: &DocId,
    snapshot: Option<&[u8]>,
    chunks: &[(u64, Vec<u8>)],
) -> Result<Vec<u8>, String> {
    crate::doc::guarded(|| {
        let mut am = match snapshot {
            Some(s) => Automerge::load(s)?,
            None => super::others::genesis_of(doc).unwrap_or_default(),
        };
        crate::doc::load_chunks(&mut am, chunks.iter().map(|(_, c)| c.as_slice()))?;
        Ok(am.save())
    })
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
