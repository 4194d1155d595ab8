//! The store task: one thread owns the [`Registry`] (sled and Automerge are
//! blocking), and everything else sends it commands over a bounded channel
//! with a oneshot reply. Writes are durable before their reply is sent.

use std::sync::Arc;

use automerge::ChangeHash;
use kampung_core::{Nik, Resident, Verdict, VillageCode};
use kampung_store::audit::AuditReport;
use kampung_store::case::{CaseHistory, CaseState, Opening};
use kampung_store::crossing::{Crossing, CrossingFilter};
pub use kampung_store::lookups::ResidentQuery;
use kampung_store::lookups::{RegistryHeads, SharedLookups};
use kampung_store::storage::Storage;
use kampung_store::{
    prepare_document, AcceptAll, ChangeVerifier, CheckedChange, DocId, PreparedDocument, Refusal,
    Registry, RemoteApplied, RemoteRefusal, StoreError, WriteReport,
};
use kampung_store::{CaseUpdate, RecordError};
use kampung_sync::{Applied, DocHeads, Hash, Replica, ReplicaError};

use crate::replica::{
    announce_since, applied, changes_for, doc_id, from_hashes, local, offered_of, to_hashes,
    unknown_of,
};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tracing::{debug, error, warn};

/// Commands queued for the store at most.
const QUEUE: usize = 1024;

type Reply<T> = oneshot::Sender<T>;
/// A write's report and the announcement of its new changes (with their
/// signatures) for the mesh; the announcement carries no changes when nothing changed.
pub type Written = (WriteReport, kampung_sync::Announce);
type Page = kampung_sync::SignedChanges;
/// Crossings matching a search (how many in all), a page of them with their checkpoint.
pub type FoundCrossings = (usize, Vec<(String, Crossing)>);
/// A village document's heads at a time, and its records then.
pub type AsOf = (Vec<ChangeHash>, Vec<Resident>);

/// The local writes: stored in a group commit and answered after its flush.
enum LocalWrite {
    Write {
        village: VillageCode,
        records: Vec<Resident>,
        now_ms: i64,
        progress: Option<watch::Sender<usize>>,
        author: Option<kampung_core::Author>,
        reply: Reply<Result<Written, StoreError>>,
    },
    Withdraw {
        village: VillageCode,
        nik: Nik,
        reason: String,
        now_ms: i64,
        author: Option<kampung_core::Author>,
        reply: Reply<Result<Written, StoreError>>,
    },
    RecordCheck {
        peer: String,
        crossing: Box<Crossing>,
        case: Option<(String, Box<Opening>)>,
        state: Option<RegistryHeads>,
        now_ms: i64,
        reply: Reply<Result<Vec<kampung_sync::Announce>, RecordError>>,
    },
    OpenCase {
        case_id: String,
        opening: Box<Opening>,
        now_ms: i64,
        reply: Reply<Result<kampung_sync::Announce, RecordError>>,
    },
    UpdateCase {
        case_id: String,
        update: Box<CaseUpdate>,
        now_ms: i64,
        reply: Reply<Result<kampung_sync::Announce, RecordError>>,
    },
}

enum Cmd {
    /// A write of ours: it joins the group commit under way.
    Local(LocalWrite),
    /// The compactor thread finished a document (the loop applies it).
    Compacted,
    Get(Nik, Reply<Result<Option<Resident>, StoreError>>),
    Read(
        VillageCode,
        Nik,
        Reply<Result<Option<Resident>, StoreError>>,
    ),
    Check(VillageCode, Vec<Resident>, Reply<Vec<(usize, Refusal)>>),
    Residents(VillageCode, Reply<Result<Vec<Resident>, StoreError>>),
    RecordHistory {
        village: VillageCode,
        nik: Nik,
        roster: Option<Box<kampung_trust::Roster>>,
        now_ms: i64,
        reply: Reply<Result<Vec<CheckedChange>, StoreError>>,
    },
    ResidentsAsOf(VillageCode, i64, Reply<Result<AsOf, StoreError>>),
    ReadMany(
        VillageCode,
        Vec<Nik>,
        Reply<Result<Vec<Resident>, StoreError>>,
    ),
    DocHeads(Reply<Vec<(DocId, Vec<ChangeHash>)>>),
    OfferedHeads(Reply<Vec<(DocId, Vec<ChangeHash>)>>),
    HeadsOf(DocId, Reply<Option<Vec<ChangeHash>>>),
    Unknown(
        DocId,
        Vec<ChangeHash>,
        Reply<Result<Vec<ChangeHash>, StoreError>>,
    ),
    ChangesSince(
        DocId,
        Vec<ChangeHash>,
        usize,
        Reply<Result<Page, StoreError>>,
    ),
    Document(
        DocId,
        Reply<Result<Option<kampung_sync::SignedDocument>, StoreError>>,
    ),
    ApplyChanges(
        DocId,
        Vec<Vec<u8>>,
        Vec<Vec<u8>>,
        Reply<Result<Result<RemoteApplied, RemoteRefusal>, StoreError>>,
    ),
    ApplyPrepared(
        Box<PreparedDocument>,
        Reply<Result<Result<RemoteApplied, RemoteRefusal>, StoreError>>,
    ),
    Niks(Reply<usize>),
    CrossingsPage(
        String,
        usize,
        usize,
        Reply<Result<(usize, Vec<Crossing>), RecordError>>,
    ),
    Cases(i64, Reply<Vec<CaseState>>),
    Case(String, i64, Reply<Option<CaseState>>),
    CaseHistory(String, i64, Reply<Option<(CaseState, CaseHistory)>>),
    SearchCrossings {
        filter: Box<CrossingFilter>,
        offset: usize,
        limit: usize,
        reply: Reply<Result<FoundCrossings, RecordError>>,
    },
    CrossingLogs(Reply<Vec<String>>),
    Audit {
        root: Option<kampung_trust::NodeKey>,
        now_ms: i64,
        reply: Reply<Result<AuditReport, StoreError>>,
    },
    /// Drop what the retention no longer keeps (see [`Registry::expire`]).
    Expire {
        now_ms: i64,
        shared: kampung_store::Keep,
        own: kampung_store::Keep,
        reply: Reply<Result<kampung_store::Expired, StoreError>>,
    },
    /// Replay the crossings' verdicts (`policies`: every verified policy).
    Replay {
        query: kampung_store::ReplayQuery,
        policies: Vec<kampung_core::Policy>,
        reply: Reply<Result<kampung_store::ReplayReport, RecordError>>,
    },
    /// Keep a verified root-signed statement; the reply (if any) once durable.
    KeepStatement([u8; 32], Vec<u8>, Option<Reply<Result<(), StoreError>>>),
    Checkpoint(Reply<Result<(), StoreError>>),
    /// Hold only what this scope may read from now on (a new policy named
    /// other holders of villages' details).
    SetScope(kampung_core::ReadScope, Reply<Result<usize, StoreError>>),
    /// Persist the index and stop; later commands get [`Stopped`].
    Stop(Reply<()>),
}

/// A document changed (a local write or a merged remote change), now durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocChanged {
    pub doc: DocId,
    pub heads: Vec<ChangeHash>,
}

/// Change notifications kept for slow subscribers (older ones are dropped for them).
const EVENTS: usize = 1024;

/// A cloneable handle to the store task.
#[derive(Clone)]
pub struct StoreHandle {
    tx: mpsc::Sender<Cmd>,
    events: broadcast::Sender<DocChanged>,
    verifier: Arc<dyn ChangeVerifier + Send + Sync>,
    lookups: SharedLookups,
    /// The storage failed (a full disk) and could not be reopened yet.
    failing: Arc<std::sync::atomic::AtomicBool>,
    /// Becomes true when only a restart of the process can reopen the
    /// storage (see [`StoreHandle::restart_needed`]).
    restart: tokio::sync::watch::Receiver<bool>,
}

impl std::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreHandle").finish_non_exhaustive()
    }
}

/// The store task has stopped (shutdown, or it failed).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the store has stopped")]
pub struct Stopped;

/// Start the store task. It runs until every handle is dropped, then
/// persists the index and returns the registry's final error, if any.
pub fn spawn_store<S: Storage>(
    registry: Registry<S>,
    verifier: Arc<dyn ChangeVerifier + Send + Sync>,
) -> (StoreHandle, std::thread::JoinHandle<Result<(), StoreError>>) {
    spawn_store_with(registry, verifier, GROUP_MAX)
}

/// Most local writes made durable by one flush (group commit).
pub const GROUP_MAX: usize = 64;

/// [`spawn_store`], making at most `group_max` queued local writes durable
/// with one flush (1: a flush per write; the benchmark compares).
pub fn spawn_store_with<S: Storage>(
    registry: Registry<S>,
    verifier: Arc<dyn ChangeVerifier + Send + Sync>,
    group_max: usize,
) -> (StoreHandle, std::thread::JoinHandle<Result<(), StoreError>>) {
    let group_max = group_max.max(1);
    let (tx, rx) = mpsc::channel(QUEUE);
    let wake = tx.downgrade();
    let (events, _) = broadcast::channel(EVENTS);
    let notify = events.clone();
    let thread_verifier = verifier.clone();
    let lookups = registry.lookups().clone();
    let failing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let thread_failing = failing.clone();
    let (restart_tx, restart) = tokio::sync::watch::channel(false);
    let join = std::thread::Builder::new()
        .name("kampung-store".into())
        .spawn(move || {
            run(
                registry,
                rx,
                wake,
                thread_verifier.as_ref(),
                &notify,
                &thread_failing,
                restart_tx,
                group_max,
            )
        })
        .unwrap_or_else(|e| panic!("cannot start the store thread: {e}"));
    (
        StoreHandle {
            tx,
            events,
            verifier,
            lookups,
            failing,
            restart,
        },
        join,
    )
}

/// A verifier that accepts every well-formed change (until the trust layer is configured).
pub fn accept_all() -> Arc<dyn ChangeVerifier + Send + Sync> {
    Arc::new(AcceptAll)
}

#[allow(clippy::too_many_arguments)]
fn run<S: Storage>(
    mut reg: Registry<S>,
    mut rx: mpsc::Receiver<Cmd>,
    wake: mpsc::WeakSender<Cmd>,
    verifier: &dyn ChangeVerifier,
    events: &broadcast::Sender<DocChanged>,
    failing: &std::sync::atomic::AtomicBool,
    restart: tokio::sync::watch::Sender<bool>,
    group_max: usize,
) -> Result<(), StoreError> {
    let changed = |doc: DocId, heads: &[ChangeHash]| {
        let _ = events.send(DocChanged {
            doc,
            heads: heads.to_vec(),
        });
    };
    let mut recovery = Recovery {
        failing: false,
        restart,
    };
    let mut next: Option<Cmd> = None;
    // Documents are saved whole on a compactor thread, off the writers'
    // path; it wakes this loop with a command when a result is ready. (A
    // weak sender: the queue still closes when every handle is gone.) A
    // store that cannot start one compacts on this thread.
    if let Err(e) = reg.compact_in_background(move || {
        if let Some(tx) = wake.upgrade() {
            let _ = tx.try_send(Cmd::Compacted);
        }
    }) {
        warn!(error = %e, "documents are compacted on the store thread");
    }
    // An auditor's node loads its crossing logs after it answers, one at a
    // time while no command waits; a log that cannot be loaded stops this
    // (each is still read from disk when asked for).
    let mut warming = reg.cold_logs_to_warm();
    loop {
        let cmd = match next.take() {
            Some(cmd) => cmd,
            None if warming => match rx.try_recv() {
                Ok(cmd) => cmd,
                Err(mpsc::error::TryRecvError::Empty) => {
                    warming = match reg.warm_log() {
                        Ok(more) => more && reg.cold_logs_to_warm(),
                        Err(e) => {
                            warn!(error = %e, "cannot load a crossing log to keep in memory; the rest are read from disk when asked for");
                            false
                        }
                    };
                    continue;
                }
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            },
            None => match rx.blocking_recv() {
                Some(cmd) => cmd,
                None => break,
            },
        };
        recovery.attempt(&mut reg, failing);
        if reg.compacting() {
            reg.finish_compactions(std::time::Duration::ZERO);
        }
        let cmd = match cmd {
            Cmd::Local(first) => {
                reg.begin_group();
                let first = local_write(&mut reg, first);
                // Group commit: the local writes queued behind this one are
                // stored too, then one flush makes them all durable.
                let mut held = vec![first];
                while held.len() < group_max {
                    match rx.try_recv() {
                        Ok(Cmd::Local(w)) if w.joins_group() => {
                            held.push(local_write(&mut reg, w));
                        }
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let committed = reg.commit_group();
                if let Err(e) = &committed {
                    warn!(writes = held.len(), error = %e, "a group of writes could not be made durable; each is answered with the error");
                }
                // Before the answers: a writer that hears its write failed
                // (or succeeded) reads a health flag that already says so.
                recovery.attempt(&mut reg, failing);
                for h in held {
                    h.finish(committed.as_ref().err(), &changed);
                }
                continue;
            }
            cmd => cmd,
        };
        match cmd {
            Cmd::Local(_) => unreachable!("local writes are handled above"),
            Cmd::Get(nik, r) => {
                let _ = r.send(reg.get(nik));
            }
            Cmd::Read(v, nik, r) => {
                let _ = r.send(reg.read(v, nik));
            }
            Cmd::Check(v, records, r) => {
                let _ = r.send(reg.check(v, &records));
            }
            Cmd::Residents(v, r) => {
                let _ = r.send(reg.residents(v));
            }
            Cmd::RecordHistory {
                village,
                nik,
                roster,
                now_ms,
                reply,
            } => {
                let _ = reply.send(reg.record_history(village, nik, roster.as_deref(), now_ms));
            }
            Cmd::ResidentsAsOf(v, at_s, r) => {
                let _ = r.send(reg.residents_as_of(v, at_s));
            }
            Cmd::ReadMany(v, niks, r) => {
                let _ = r.send(reg.read_many(v, &niks));
            }
            Cmd::DocHeads(r) => {
                let _ = r.send(reg.doc_heads());
            }
            Cmd::OfferedHeads(r) => {
                let _ = r.send(reg.offered_heads());
            }
            Cmd::HeadsOf(doc, r) => {
                let _ = r.send(reg.doc_heads_of(&doc));
            }
            Cmd::Unknown(doc, heads, r) => {
                let _ = r.send(unknown_of(&mut reg, &doc, heads));
            }
            Cmd::ChangesSince(doc, have, max, r) => {
                let _ = r.send(changes_for(&mut reg, &doc, &have, max));
            }
            Cmd::Document(doc, r) => {
                let _ = r.send(reg.stored_document(&doc));
            }
            Cmd::ApplyChanges(doc, changes, sigs, r) => {
                let result = reg.apply_remote(&doc, &changes, &sigs, verifier);
                if let Ok(Ok(a)) = &result {
                    if a.changed() {
                        changed(doc, &a.heads);
                    }
                }
                let _ = r.send(result);
            }
            Cmd::ApplyPrepared(prepared, r) => {
                let doc = prepared.doc_id().clone();
                let result = reg.apply_prepared(*prepared);
                if let Ok(Ok(a)) = &result {
                    if a.changed() {
                        changed(doc, &a.heads);
                    }
                }
                let _ = r.send(result);
            }
            Cmd::CrossingsPage(peer, offset, limit, r) => {
                let _ = r.send(reg.crossings_page(&peer, offset, limit));
            }
            Cmd::Cases(today_ms, r) => {
                let _ = r.send(reg.isolation_cases(today_ms));
            }
            Cmd::Case(id, today_ms, r) => {
                let _ = r.send(reg.isolation_case_state(&id, today_ms));
            }
            Cmd::CaseHistory(id, today_ms, r) => {
                let _ = r.send(reg.isolation_case_history(&id, today_ms));
            }
            Cmd::SearchCrossings {
                filter,
                offset,
                limit,
                reply,
            } => {
                let _ = reply.send(reg.search_crossings(&filter, offset, limit));
            }
            Cmd::CrossingLogs(r) => {
                let _ = r.send(reg.crossing_logs());
            }
            Cmd::Audit {
                root,
                now_ms,
                reply,
            } => {
                let _ = reply.send(kampung_store::audit::audit_registry(&mut reg, root, now_ms));
            }
            Cmd::Expire {
                now_ms,
                shared,
                own,
                reply,
            } => {
                let _ = reply.send(reg.expire(now_ms, shared, own));
            }
            Cmd::Replay {
                query,
                policies,
                reply,
            } => {
                let policy = |v: u64| match v {
                    0 => Some(kampung_core::Policy::default()),
                    v => policies.iter().find(|p| p.version == v).cloned(),
                };
                let _ = reply.send(reg.replay(&query, &policy));
            }
            Cmd::SetScope(scope, reply) => {
                reg.set_scope(scope);
                let _ = reply.send(reg.drop_outside_scope());
            }
            Cmd::KeepStatement(id, bytes, reply) => {
                let kept = reg
                    .storage()
                    .put_statement(&id, &bytes)
                    .and_then(|()| reg.storage().flush());
                match reply {
                    Some(r) => {
                        let _ = r.send(kept);
                    }
                    None => {
                        if let Err(e) = kept {
                            warn!(error = %e, "could not keep a statement; it will be fetched again from peers");
                        }
                    }
                }
            }
            Cmd::Stop(r) => {
                let _ = r.send(());
                break;
            }
            // A wake-up only: finished compactions are applied at the top
            // of every turn of this loop.
            Cmd::Compacted => {}
            Cmd::Niks(r) => {
                let _ = r.send(reg.niks());
            }
            Cmd::Checkpoint(r) => {
                let _ = r.send(reg.checkpoint());
            }
        }
        // At once after a command that met a failure: a write answered
        // with an error must not be read back from the storage's cache.
        recovery.attempt(&mut reg, failing);
    }
    debug!("store task stopping: persisting the index");
    recovery.attempt(&mut reg, failing);
    let result = reg.checkpoint();
    if let Err(e) = &result {
        error!(error = %e, "could not persist the index at shutdown; it will be caught up at next start");
    }
    result
}

/// A local write done and stored in the group commit under way, waiting for
/// the group's flush before its answer is sent and its change announced.
enum Held {
    Village(
        Reply<Result<Written, StoreError>>,
        Result<Written, StoreError>,
    ),
    Check(
        Reply<Result<Vec<kampung_sync::Announce>, RecordError>>,
        Result<Vec<kampung_sync::Announce>, RecordError>,
    ),
    Case(
        Reply<Result<kampung_sync::Announce, RecordError>>,
        Result<kampung_sync::Announce, RecordError>,
    ),
}

/// A write's answer once its group's flush is done (`failed`: it was not):
/// a write that worked is answered with the flush's error.
fn settle<T, E: From<StoreError>>(
    result: Result<T, E>,
    failed: Option<&StoreError>,
) -> Result<T, E> {
    match (result, failed) {
        (Ok(_), Some(e)) => Err(E::from(StoreError::Io {
            location: String::new(),
            reason: format!("the write could not be made durable, nothing of it is kept: {e}"),
        })),
        (result, _) => result,
    }
}

impl Held {
    /// Answer, and announce what became durable (`failed`: the group's flush did not).
    fn finish(self, failed: Option<&StoreError>, changed: &impl Fn(DocId, &[ChangeHash])) {
        let announce = |a: &kampung_sync::Announce| {
            if let Some(doc) = DocId::parse(&a.doc) {
                changed(doc, &to_hashes(a.heads.clone()));
            }
        };
        match self {
            Held::Village(reply, result) => {
                let result = settle(result, failed);
                if let Ok((report, a)) = &result {
                    if report.added + report.changed > 0 {
                        announce(a);
                    }
                }
                let _ = reply.send(result);
            }
            Held::Check(reply, result) => {
                let result = settle(result, failed);
                if let Ok(announced) = &result {
                    announced.iter().for_each(announce);
                }
                let _ = reply.send(result);
            }
            Held::Case(reply, result) => {
                let result = settle(result, failed);
                if let Ok(a) = &result {
                    announce(a);
                }
                let _ = reply.send(result);
            }
        }
    }
}

/// Records in a write that may join a group commit: a clerk's edit, not an
/// import (which is one long write on its own, flushed at its end).
const GROUP_RECORDS: usize = 16;

impl LocalWrite {
    /// May this write join the group commit under way? Small ones only.
    fn joins_group(&self) -> bool {
        match self {
            LocalWrite::Write { records, .. } => records.len() <= GROUP_RECORDS,
            _ => true,
        }
    }
}

/// Do a local write in the group commit under way.
fn local_write<S: Storage>(reg: &mut Registry<S>, cmd: LocalWrite) -> Held {
    match cmd {
        LocalWrite::Write {
            village,
            records,
            now_ms,
            progress,
            author,
            reply,
        } => {
            let mut report_progress = |n: usize| {
                if let Some(p) = &progress {
                    p.send_replace(n);
                }
            };
            let result = write_village(reg, village, author, |reg| {
                reg.write(village, &records, now_ms, &mut report_progress)
            });
            Held::Village(reply, result)
        }
        LocalWrite::Withdraw {
            village,
            nik,
            reason,
            now_ms,
            author,
            reply,
        } => {
            let result = write_village(reg, village, author, |reg| {
                reg.withdraw(village, nik, &reason, now_ms)
            });
            Held::Village(reply, result)
        }
        LocalWrite::RecordCheck {
            peer,
            crossing,
            case,
            state,
            now_ms,
            reply,
        } => {
            // The month's log the registry writes it to (an impossible time
            // is refused there, before anything is announced).
            let id = DocId::crossings_at(&peer, crossing.at_ms)
                .unwrap_or_else(|| DocId::crossing_log(&peer));
            let before = reg.doc_heads_of(&id).unwrap_or_default();
            let opening = case.as_ref().map(|(c, o)| (c.as_str(), o.as_ref()));
            let state = state.unwrap_or_else(|| reg.lookups().read().state());
            let result = reg
                .record_check_on(&peer, &crossing, opening, &state, now_ms)
                .and_then(|_| {
                    let mut docs = Vec::new();
                    if let Some((case_id, _)) = &case {
                        docs.push((DocId::case(case_id), Vec::new()));
                    }
                    docs.push((id.clone(), before));
                    docs.into_iter()
                        .map(|(doc, before)| {
                            announce_since(reg, &doc, &before).map_err(RecordError::from)
                        })
                        .collect::<Result<Vec<_>, _>>()
                });
            Held::Check(reply, result)
        }
        LocalWrite::OpenCase {
            case_id,
            opening,
            now_ms,
            reply,
        } => {
            let id = DocId::case(&case_id);
            let result = reg
                .open_isolation_case(&case_id, &opening, now_ms)
                .and_then(|_| announce_since(reg, &id, &[]).map_err(RecordError::from));
            Held::Case(reply, result)
        }
        LocalWrite::UpdateCase {
            case_id,
            update,
            now_ms,
            reply,
        } => {
            let id = DocId::case(&case_id);
            let before = reg.doc_heads_of(&id).unwrap_or_default();
            let result = reg
                .update_isolation_case(&case_id, &update, now_ms)
                .and_then(|_| announce_since(reg, &id, &before).map_err(RecordError::from));
            Held::Case(reply, result)
        }
    }
}

/// A local write to `village`'s document by `author`, and the announcement
/// of what it changed (changes inline if small).
fn write_village<S: Storage>(
    reg: &mut Registry<S>,
    village: VillageCode,
    author: Option<kampung_core::Author>,
    write: impl FnOnce(&mut Registry<S>) -> Result<WriteReport, StoreError>,
) -> Result<Written, StoreError> {
    reg.set_author(author);
    let result = reg.heads(village).and_then(|before| {
        let report = write(reg)?;
        let announce = announce_since(reg, &DocId::card(village), &before)?;
        Ok((report, announce))
    });
    reg.set_author(None);
    result
}

/// Reopening the storage after a failure (a full disk): at once after the
/// command that met it, then before each command while it still fails (a
/// command cannot use a storage that did not reopen anyway). When only a
/// new process can reopen it (sled stuck in closing the failed database)
/// and the disk has space again, it asks for a restart.
#[derive(Debug)]
struct Recovery {
    failing: bool,
    restart: tokio::sync::watch::Sender<bool>,
}

impl Recovery {
    /// Reopens the storage if it failed, and publishes whether it still
    /// fails to `failing` (what `StoreHandle::storage_failing` reads).
    fn attempt<S: Storage>(
        &mut self,
        reg: &mut Registry<S>,
        failing: &std::sync::atomic::AtomicBool,
    ) {
        self.reopen(reg);
        failing.store(self.failing, std::sync::atomic::Ordering::Relaxed);
    }

    fn reopen<S: Storage>(&mut self, reg: &mut Registry<S>) {
        if !reg.storage_needs_recovery() {
            return;
        }
        match reg.recover_storage() {
            Ok(()) => {
                if std::mem::take(&mut self.failing) {
                    warn!("the store writes again");
                }
            }
            Err(e @ StoreError::RestartNeeded { .. }) => {
                self.failing = true;
                if !*self.restart.borrow() {
                    error!(error = %e, "the disk has space again: restarting the node to reopen its store");
                    let _ = self.restart.send(true);
                }
            }
            Err(e) => {
                if !self.failing {
                    error!(error = %e, "the store cannot write; it is tried again at each request");
                }
                self.failing = true;
            }
        }
    }
}

impl StoreHandle {
    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Cmd) -> Result<T, Stopped> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).await.map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
    }

    /// Resolves when the storage can only be reopened by a new process
    /// (it failed, closing it hung, and the disk has space again): the
    /// binary then restarts itself (`kampung run` re-executes itself).
    pub async fn restart_needed(&self) {
        let mut restart = self.restart.clone();
        if restart.wait_for(|r| *r).await.is_err() {
            // The store task ended without asking: nothing to restart for.
            std::future::pending::<()>().await;
        }
    }

    /// The storage failed (a full disk, say) and could not be reopened
    /// yet: documents can be neither written nor read from it (verdicts,
    /// from the index, still answer). It is tried again at each request.
    pub fn storage_failing(&self) -> bool {
        self.failing.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The index, open cases and heads that lookups and checkpoint verdicts
    /// read, shared with the store task: read them on the caller's thread
    /// instead of queueing behind writes. The store updates them before it
    /// acknowledges a write, so a caller reads its own writes.
    pub fn lookups(&self) -> &SharedLookups {
        &self.lookups
    }

    /// Record a check in our crossing log (`peer`: our own peer id), with
    /// the isolation case it opens if any, as one step (see
    /// [`Registry::record_check_on`]), on the registry `state` its verdict
    /// was computed on (`None`: the registry's state when it is written);
    /// returns the announcements for the mesh (the case's first).
    pub async fn record_check(
        &self,
        peer: String,
        crossing: Crossing,
        case: Option<(String, Opening)>,
        state: Option<RegistryHeads>,
        now_ms: i64,
    ) -> Result<Result<Vec<kampung_sync::Announce>, RecordError>, Stopped> {
        self.ask(|reply| {
            Cmd::Local(LocalWrite::RecordCheck {
                peer,
                crossing: Box::new(crossing),
                case: case.map(|(id, o)| (id, Box::new(o))),
                state,
                now_ms,
                reply,
            })
        })
        .await
    }

    /// One page of a checkpoint's crossing log, newest first, and its length.
    pub async fn crossings_page(
        &self,
        peer: String,
        offset: usize,
        limit: usize,
    ) -> Result<Result<(usize, Vec<Crossing>), RecordError>, Stopped> {
        self.ask(|r| Cmd::CrossingsPage(peer, offset, limit, r))
            .await
    }

    /// Open an isolation case; returns the announcement for the mesh.
    pub async fn open_case(
        &self,
        case_id: String,
        opening: Opening,
        now_ms: i64,
    ) -> Result<Result<kampung_sync::Announce, RecordError>, Stopped> {
        self.ask(|reply| {
            Cmd::Local(LocalWrite::OpenCase {
                case_id,
                opening: Box::new(opening),
                now_ms,
                reply,
            })
        })
        .await
    }

    /// Update an isolation case; returns the announcement for the mesh.
    pub async fn update_case(
        &self,
        case_id: String,
        update: CaseUpdate,
        now_ms: i64,
    ) -> Result<Result<kampung_sync::Announce, RecordError>, Stopped> {
        self.ask(|reply| {
            Cmd::Local(LocalWrite::UpdateCase {
                case_id,
                update: Box::new(update),
                now_ms,
                reply,
            })
        })
        .await
    }

    /// Every isolation case held, as it stands on `today_ms`'s day.
    pub async fn cases(&self, today_ms: i64) -> Result<Vec<CaseState>, Stopped> {
        self.ask(|r| Cmd::Cases(today_ms, r)).await
    }

    /// One isolation case as it stands on `today_ms`'s day, if held.
    pub async fn case(&self, id: String, today_ms: i64) -> Result<Option<CaseState>, Stopped> {
        self.ask(|r| Cmd::Case(id, today_ms, r)).await
    }

    /// One isolation case as it stands on `today_ms`'s day and everything
    /// recorded on it, if held.
    pub async fn case_history(
        &self,
        id: String,
        today_ms: i64,
    ) -> Result<Option<(CaseState, CaseHistory)>, Stopped> {
        self.ask(|r| Cmd::CaseHistory(id, today_ms, r)).await
    }

    /// Crossings of every checkpoint matching `filter`, newest first (how
    /// many match, and one page with each crossing's checkpoint).
    pub async fn search_crossings(
        &self,
        filter: CrossingFilter,
        offset: usize,
        limit: usize,
    ) -> Result<Result<FoundCrossings, RecordError>, Stopped> {
        self.ask(|reply| Cmd::SearchCrossings {
            filter: Box::new(filter),
            offset,
            limit,
            reply,
        })
        .await
    }

    /// The checkpoints whose crossing logs this node holds.
    pub async fn crossing_logs(&self) -> Result<Vec<String>, Stopped> {
        self.ask(Cmd::CrossingLogs).await
    }

    /// The auditor's check of this store (see [`kampung_store::audit`]),
    /// run inside the store task: it answers nothing else meanwhile.
    pub async fn audit(
        &self,
        root: Option<kampung_trust::NodeKey>,
        now_ms: i64,
    ) -> Result<Result<AuditReport, StoreError>, Stopped> {
        self.ask(|reply| Cmd::Audit {
            root,
            now_ms,
            reply,
        })
        .await
    }

    /// Drop crossing months and closed cases past their period at `now_ms`
    /// (see [`Registry::expire`]).
    pub async fn expire(
        &self,
        now_ms: i64,
        shared: kampung_store::Keep,
        own: kampung_store::Keep,
    ) -> Result<Result<kampung_store::Expired, StoreError>, Stopped> {
        self.ask(|reply| Cmd::Expire {
            now_ms,
            shared,
            own,
            reply,
        })
        .await
    }

    /// Compute the verdicts of the crossings in `query` again (see
    /// [`Registry::replay`]); `policies` are every policy the node has
    /// verified. The store answers nothing else while it runs.
    pub async fn replay(
        &self,
        query: kampung_store::ReplayQuery,
        policies: Vec<kampung_core::Policy>,
    ) -> Result<Result<kampung_store::ReplayReport, RecordError>, Stopped> {
        self.ask(|reply| Cmd::Replay {
            query,
            policies,
            reply,
        })
        .await
    }

    /// Hold only what `scope` may read from now on: documents outside it
    /// are no longer taken or offered, and leave memory and disk at once
    /// ([`kampung_store::Registry::drop_outside_scope`]): how many.
    pub async fn set_scope(
        &self,
        scope: kampung_core::ReadScope,
    ) -> Result<Result<usize, StoreError>, Stopped> {
        self.ask(|reply| Cmd::SetScope(scope, reply)).await
    }

    /// Keep a verified statement without waiting (from the mesh's thread).
    /// If the store is busy it is not kept now; peers will offer it again.
    pub fn keep_statement(&self, id: [u8; 32], bytes: Vec<u8>) {
        if self
            .tx
            .try_send(Cmd::KeepStatement(id, bytes, None))
            .is_err()
        {
            warn!("store busy: a statement was not kept now");
        }
    }

    /// Keep a verified statement; returns once it is durable.
    pub async fn keep_statement_durably(
        &self,
        id: [u8; 32],
        bytes: Vec<u8>,
    ) -> Result<Result<(), StoreError>, Stopped> {
        self.ask(|r| Cmd::KeepStatement(id, bytes, Some(r))).await
    }

    /// Persist the index and stop the store task. Every handle then answers
    /// [`Stopped`]; the thread's join handle returns once it has finished.
    pub async fn stop(&self) {
        let _ = self.ask(Cmd::Stop).await;
    }

    /// Notifications of every durable document change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<DocChanged> {
        self.events.subscribe()
    }

    /// The registry verdict on a typed or scanned NIK, from the shared
    /// lookups (see [`StoreHandle::lookups`]); `Stopped` once the store task
    /// has ended.
    pub async fn lookup(&self, nik: String) -> Result<Verdict, Stopped> {
        if self.tx.is_closed() {
            return Err(Stopped);
        }
        Ok(self.lookups.read().lookup(&nik))
    }

    /// Write records of one village; durable on return. Also returns the new
    /// raw changes (when small) for announcing them. `progress`, if given,
    /// is set to the number of records written so far.
    pub async fn write(
        &self,
        village: VillageCode,
        records: Vec<Resident>,
        now_ms: i64,
        progress: Option<watch::Sender<usize>>,
    ) -> Result<Result<Written, StoreError>, Stopped> {
        self.write_as(village, records, now_ms, progress, None)
            .await
    }

    /// [`StoreHandle::write`], each change naming `author`.
    pub async fn write_as(
        &self,
        village: VillageCode,
        records: Vec<Resident>,
        now_ms: i64,
        progress: Option<watch::Sender<usize>>,
        author: Option<kampung_core::Author>,
    ) -> Result<Result<Written, StoreError>, Stopped> {
        self.ask(|reply| {
            Cmd::Local(LocalWrite::Write {
                village,
                records,
                now_ms,
                progress,
                author,
                reply,
            })
        })
        .await
    }

    /// Withdraw a registration of `village` made in error (see
    /// [`kampung_store::Registry::withdraw`]), attributed to `author`.
    pub async fn withdraw(
        &self,
        village: VillageCode,
        nik: Nik,
        reason: String,
        now_ms: i64,
        author: Option<kampung_core::Author>,
    ) -> Result<Result<Written, StoreError>, Stopped> {
        self.ask(|reply| {
            Cmd::Local(LocalWrite::Withdraw {
                village,
                nik,
                reason,
                now_ms,
                author,
                reply,
            })
        })
        .await
    }

    pub async fn get(&self, nik: Nik) -> Result<Result<Option<Resident>, StoreError>, Stopped> {
        self.ask(|r| Cmd::Get(nik, r)).await
    }

    /// The record of `nik` in one village.
    pub async fn read(
        &self,
        village: VillageCode,
        nik: Nik,
    ) -> Result<Result<Option<Resident>, StoreError>, Stopped> {
        self.ask(|r| Cmd::Read(village, nik, r)).await
    }

    /// Which records a write to `village` would refuse, and why.
    pub async fn check(
        &self,
        village: VillageCode,
        records: Vec<Resident>,
    ) -> Result<Vec<(usize, Refusal)>, Stopped> {
        self.ask(|r| Cmd::Check(village, records, r)).await
    }

    pub async fn residents(
        &self,
        village: VillageCode,
    ) -> Result<Result<Vec<Resident>, StoreError>, Stopped> {
        self.ask(|r| Cmd::Residents(village, r)).await
    }

    /// Every change to `nik`'s record in `village`, checked against
    /// `roster` (see [`Registry::record_history`]).
    pub async fn record_history(
        &self,
        village: VillageCode,
        nik: Nik,
        roster: Option<kampung_trust::Roster>,
        now_ms: i64,
    ) -> Result<Result<Vec<CheckedChange>, StoreError>, Stopped> {
        self.ask(|reply| Cmd::RecordHistory {
            village,
            nik,
            roster: roster.map(Box::new),
            now_ms,
            reply,
        })
        .await
    }

    /// `village`'s records as they stood at `at_s` (unix seconds), with
    /// the document's heads then (see [`Registry::residents_as_of`]).
    pub async fn residents_as_of(
        &self,
        village: VillageCode,
        at_s: i64,
    ) -> Result<Result<AsOf, StoreError>, Stopped> {
        self.ask(|r| Cmd::ResidentsAsOf(village, at_s, r)).await
    }

    /// The records of these NIKs in one village (those it holds), read in
    /// one trip to the store.
    pub async fn read_many(
        &self,
        village: VillageCode,
        niks: Vec<Nik>,
    ) -> Result<Result<Vec<Resident>, StoreError>, Stopped> {
        self.ask(|r| Cmd::ReadMany(village, niks, r)).await
    }

    /// One page of a village's residents matching a query: the index finds
    /// the page (on the caller's thread), the store reads only its records.
    pub async fn resident_page(
        &self,
        query: ResidentQuery,
    ) -> Result<Result<ResidentPage, StoreError>, Stopped> {
        let (total, niks) = self.lookups.read().village_page(&query);
        let items = self.ask(|r| Cmd::ReadMany(query.village, niks, r)).await?;
        Ok(items.map(|items| ResidentPage { total, items }))
    }

    pub async fn doc_heads(&self) -> Result<Vec<(DocId, Vec<ChangeHash>)>, Stopped> {
        self.ask(Cmd::DocHeads).await
    }

    /// The digest over every document this node offers, and how many: what
    /// two nodes of the same scope compare (see [`kampung_sync::digest_for`]).
    pub async fn digest(&self) -> Result<(Hash, u32), ReplicaError> {
        kampung_sync::digest_for(self, &kampung_sync::Scope::ALL).await
    }

    pub async fn niks(&self) -> Result<usize, Stopped> {
        self.ask(Cmd::Niks).await
    }

    pub async fn checkpoint(&self) -> Result<Result<(), StoreError>, Stopped> {
        self.ask(Cmd::Checkpoint).await
    }
}

impl Replica for StoreHandle {
    async fn offered(&self) -> Result<Vec<DocHeads>, ReplicaError> {
        let heads = self.ask(Cmd::OfferedHeads).await.map_err(local)?;
        Ok(offered_of(heads))
    }

    async fn heads(&self, doc: &str) -> Result<Option<Vec<Hash>>, ReplicaError> {
        let id = doc_id(doc)?;
        let heads = self.ask(|r| Cmd::HeadsOf(id, r)).await.map_err(local)?;
        Ok(heads.map(from_hashes))
    }

    async fn unknown(&self, doc: &str, heads: Vec<Hash>) -> Result<Vec<Hash>, ReplicaError> {
        let id = doc_id(doc)?;
        let r = self
            .ask(|r| Cmd::Unknown(id, to_hashes(heads), r))
            .await
            .map_err(local)?;
        r.map(from_hashes).map_err(local)
    }

    async fn changes_since(
        &self,
        doc: &str,
        have: Vec<Hash>,
        max_bytes: usize,
    ) -> Result<kampung_sync::SignedChanges, ReplicaError> {
        let id = doc_id(doc)?;
        let r = self
            .ask(|r| Cmd::ChangesSince(id, to_hashes(have), max_bytes, r))
            .await
            .map_err(local)?;
        r.map_err(local)
    }

    async fn document(
        &self,
        doc: &str,
    ) -> Result<Option<kampung_sync::SignedDocument>, ReplicaError> {
        let id = doc_id(doc)?;
        self.ask(|r| Cmd::Document(id, r))
            .await
            .map_err(local)?
            .map_err(local)
    }

    async fn apply_changes(
        &self,
        doc: &str,
        changes: Vec<Vec<u8>>,
        signatures: Vec<Vec<u8>>,
        from: &str,
    ) -> Result<Applied, ReplicaError> {
        let id = doc_id(doc)?;
        let r = self
            .ask(|r| Cmd::ApplyChanges(id, changes, signatures, r))
            .await
            .map_err(local)?;
        applied(r, doc, from)
    }

    async fn apply_document(
        &self,
        doc: &str,
        bytes: Vec<u8>,
        signatures: Vec<Vec<u8>>,
        from: &str,
    ) -> Result<Applied, ReplicaError> {
        let id = doc_id(doc)?;
        if id.as_card().is_none() {
            // A crossing log or case: small; apply its changes one by one.
            let changes = match kampung_store::document_changes(&id, &bytes) {
                Ok(c) => c,
                Err(refusal) => return applied(Ok(Err(refusal)), doc, from),
            };
            let r = self
                .ask(|r| Cmd::ApplyChanges(id, changes, signatures, r))
                .await
                .map_err(local)?;
            return applied(r, doc, from);
        }
        // Load, verify and read the document on a blocking thread, in parallel
        // with other documents; the store task only swaps it in.
        let verifier = self.verifier.clone();
        let prepared = tokio::task::spawn_blocking(move || {
            prepare_document(&id, bytes, &signatures, verifier.as_ref())
        })
        .await
        .map_err(local)?;
        let prepared = match prepared {
            Ok(p) => p,
            Err(refusal) => return applied(Ok(Err(refusal)), doc, from),
        };
        let r = self
            .ask(|r| Cmd::ApplyPrepared(Box::new(prepared), r))
            .await
            .map_err(local)?;
        applied(r, doc, from)
    }
}

/// One page of a village's residents, in NIK order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResidentPage {
    /// Records matching the query, on every page.
    pub total: usize,
    pub items: Vec<Resident>,
}

#[cfg(test)]
mod resident_page_tests {
    use super::*;
    use kampung_core::resident::StatusKind;
    use kampung_core::Status;
    use kampung_store::storage::MemoryStorage;

    fn village() -> VillageCode {
        VillageCode::parse("35.10.15.2012").unwrap()
    }

    /// A store holding 40 residents of one village, a few of them moved out
    /// or deceased, and the records as written (in NIK order).
    fn store() -> (StoreHandle, Vec<Resident>) {
        let reg = Registry::open(
            MemoryStorage::new(),
            automerge::ActorId::from(vec![1u8; 32]),
            2026,
        )
        .unwrap();
        let mut people = kampung_gen::village_residents(village(), 40, 3);
        people[1].status = Status::MovedOut {
            destination: "Kota Surabaya".into(),
            date: None,
        };
        people[2].status = Status::Deceased { date: None };
        let (handle, _join) = spawn_store(reg, accept_all());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            handle
                .write(village(), people.clone(), 1, None)
                .await
                .unwrap()
                .unwrap();
        });
        people.sort_by_key(|r| r.nik);
        (handle, people)
    }

    fn page(handle: &StoreHandle, q: ResidentQuery) -> ResidentPage {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(handle.resident_page(q)).unwrap().unwrap()
    }

    #[test]
    fn pages_cover_every_match_once_in_nik_order() {
        let (handle, people) = store();
        let mut seen = Vec::new();
        let mut q = ResidentQuery::new(village(), 7);
        loop {
            let p = page(&handle, q.clone());
            assert_eq!(p.total, people.len());
            if p.items.is_empty() {
                break;
            }
            seen.extend(p.items.into_iter().map(|r| r.nik));
            q.offset += 7;
        }
        let all: Vec<Nik> = people.iter().map(|r| r.nik).collect();
        assert_eq!(seen, all);
    }

    #[test]
    fn search_by_name_part_any_case_and_nik_prefix() {
        let (handle, people) = store();
        let target = &people[5];
        let part: String = target.full_name.chars().skip(1).take(4).collect();
        let mut q = ResidentQuery::new(village(), 500);
        q.search = Some(format!("  {}  ", part.to_uppercase()));
        let by_name = page(&handle, q.clone());
        let expected = people
            .iter()
            .filter(|r| r.full_name.to_lowercase().contains(&part.to_lowercase()))
            .count();
        assert!(by_name.items.iter().any(|r| r.nik == target.nik));
        assert_eq!(by_name.total, expected);

        let nik = target.nik.to_string();
        q.search = Some(nik[..14].to_string());
        let by_nik = page(&handle, q.clone());
        assert!(by_nik.items.iter().any(|r| r.nik == target.nik));
        assert!(by_nik
            .items
            .iter()
            .all(|r| r.nik.to_string().starts_with(&nik[..14])));
    }

    #[test]
    fn status_filter_and_unheld_village() {
        let (handle, people) = store();
        let mut q = ResidentQuery::new(village(), 500);
        for kind in [
            StatusKind::Active,
            StatusKind::MovedOut,
            StatusKind::Deceased,
        ] {
            q.status = Some(kind);
            let p = page(&handle, q.clone());
            let expected = people.iter().filter(|r| r.status.kind() == kind).count();
            assert_eq!(p.total, expected, "{kind:?}");
            assert!(p.items.iter().all(|r| r.status.kind() == kind));
        }
        let other = ResidentQuery::new(VillageCode::parse("35.10.21.2003").unwrap(), 10);
        assert_eq!(page(&handle, other).total, 0);
    }
}

#[cfg(test)]
mod group_commit_tests {
    use super::*;
    use kampung_store::storage::MemoryStorage;

    /// Writes that queue up while a flush is under way (ten clerks saving
    /// at once) are made durable by one flush together, each answered only
    /// after it, and every one is then shown.
    #[test]
    fn writes_queued_behind_a_flush_share_the_next_one() {
        let storage = Arc::new(MemoryStorage::new());
        let reg = Registry::open(
            storage.clone(),
            automerge::ActorId::from(vec![1u8; 32]),
            2026,
        )
        .unwrap();
        let village = VillageCode::parse("35.10.15.2012").unwrap();
        let people = kampung_gen::village_residents(village, 11, 5);
        let (handle, join) = spawn_store(reg, accept_all());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let wait_until = |what: &str, ok: &dyn Fn() -> bool| {
            for _ in 0..10_000 {
                if ok() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            panic!("never: {what}");
        };
        storage.hold_flushes(true);
        let write = |r: &Resident| {
            let (handle, r) = (handle.clone(), r.clone());
            rt.spawn(async move { handle.write(village, vec![r], 1, None).await })
        };
        let first = write(&people[0]);
        wait_until("the first write's flush is under way", &|| {
            storage.flushes_waiting() == 1
        });
        let rest: Vec<_> = people[1..].iter().map(write).collect();
        wait_until("ten writes queued", &|| QUEUE - handle.tx.capacity() == 10);
        let before = storage.flushes();
        storage.hold_flushes(false);
        rt.block_on(async {
            first.await.unwrap().unwrap().unwrap();
            for w in rest {
                let (report, _) = w.await.unwrap().unwrap().unwrap();
                assert_eq!(report.added, 1);
            }
        });
        // The first write's flush, then one for the ten.
        assert_eq!(storage.flushes() - before, 2);
        for r in &people {
            assert_eq!(
                handle.lookups().read().index().active_villages(r.nik),
                vec![village]
            );
        }
        rt.block_on(handle.stop());
        join.join().unwrap().unwrap();
    }
}
