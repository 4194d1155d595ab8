//! The store task: one thread owns the [`Registry`] (sled and Automerge are
//! blocking), and everything else sends it commands over a bounded channel
//! with a oneshot reply. Writes are durable before their reply is sent.

use std::sync::Arc;

use automerge::ChangeHash;
use kampung_core::resident::StatusKind;
use kampung_core::{Nik, Resident, Verdict, VillageCode};
use kampung_store::case::{CaseState, Opening};
use kampung_store::crossing::Crossing;
use kampung_store::lookups::SharedLookups;
use kampung_store::storage::Storage;
use kampung_store::{
    prepare_document, AcceptAll, ChangeVerifier, DocId, PreparedDocument, Refusal, Registry,
    RemoteApplied, RemoteRefusal, StoreError, WriteReport,
};
use kampung_store::{CaseUpdate, RecordError};
use kampung_sync::{Applied, DocHeads, Hash, Replica, ReplicaError};
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{debug, error, warn};

/// Commands queued for the store at most.
const QUEUE: usize = 1024;

type Reply<T> = oneshot::Sender<T>;
/// A write's report and the announcement of its new changes (with their
/// signatures) for the mesh; the announcement carries no changes when nothing changed.
pub type Written = (WriteReport, kampung_sync::Announce);
type Page = kampung_sync::SignedChanges;

enum Cmd {
    Write {
        village: VillageCode,
        records: Vec<Resident>,
        now_ms: i64,
        reply: Reply<Result<Written, StoreError>>,
    },
    Get(Nik, Reply<Result<Option<Resident>, StoreError>>),
    Read(
        VillageCode,
        Nik,
        Reply<Result<Option<Resident>, StoreError>>,
    ),
    Check(VillageCode, Vec<Resident>, Reply<Vec<(usize, Refusal)>>),
    Residents(VillageCode, Reply<Result<Vec<Resident>, StoreError>>),
    ResidentPage(ResidentQuery, Reply<Result<ResidentPage, StoreError>>),
    DocHeads(Reply<Vec<(DocId, Vec<ChangeHash>)>>),
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
    RecordCrossing {
        peer: String,
        crossing: Box<Crossing>,
        now_ms: i64,
        reply: Reply<Result<kampung_sync::Announce, RecordError>>,
    },
    Crossings(String, Reply<Result<Vec<Crossing>, RecordError>>),
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
    Cases(i64, Reply<Vec<CaseState>>),
    /// Keep a verified root-signed statement (fire and forget).
    KeepStatement([u8; 32], Vec<u8>),
    Checkpoint(Reply<Result<(), StoreError>>),
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
    let (tx, rx) = mpsc::channel(QUEUE);
    let (events, _) = broadcast::channel(EVENTS);
    let notify = events.clone();
    let thread_verifier = verifier.clone();
    let lookups = registry.lookups().clone();
    let join = std::thread::Builder::new()
        .name("kampung-store".into())
        .spawn(move || run(registry, rx, thread_verifier.as_ref(), &notify))
        .unwrap_or_else(|e| panic!("cannot start the store thread: {e}"));
    (
        StoreHandle {
            tx,
            events,
            verifier,
            lookups,
        },
        join,
    )
}

/// A verifier that accepts every well-formed change (until the trust layer is configured).
pub fn accept_all() -> Arc<dyn ChangeVerifier + Send + Sync> {
    Arc::new(AcceptAll)
}

fn run<S: Storage>(
    mut reg: Registry<S>,
    mut rx: mpsc::Receiver<Cmd>,
    verifier: &dyn ChangeVerifier,
    events: &broadcast::Sender<DocChanged>,
) -> Result<(), StoreError> {
    let changed = |doc: DocId, heads: &[ChangeHash]| {
        let _ = events.send(DocChanged {
            doc,
            heads: heads.to_vec(),
        });
    };
    while let Some(cmd) = rx.blocking_recv() {
        match cmd {
            Cmd::Write {
                village,
                records,
                now_ms,
                reply,
            } => {
                let result = (|| {
                    let doc = DocId::village(village);
                    let before = reg.heads(village)?;
                    let report = reg.write(village, &records, now_ms, &mut |_| {})?;
                    let page = if report.heads != before {
                        reg.changes_since(&doc, &before, 64 << 10)?
                    } else {
                        Default::default()
                    };
                    // A write too big to carry whole is announced by its heads alone.
                    let (changes, signatures) = if page.more {
                        (Vec::new(), Vec::new())
                    } else {
                        (page.changes, page.signatures)
                    };
                    let announce = kampung_sync::Announce {
                        doc: doc.to_string(),
                        heads: report.heads.iter().map(|h| h.0).collect(),
                        changes,
                        signatures,
                        from_owner: true,
                    };
                    Ok((report, announce))
                })();
                if let Ok((report, _)) = &result {
                    if report.added + report.changed > 0 {
                        changed(DocId::village(village), &report.heads);
                    }
                }
                let _ = reply.send(result);
            }
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
            Cmd::ResidentPage(q, r) => {
                let _ = r.send(residents_page(&mut reg, &q));
            }
            Cmd::DocHeads(r) => {
                let _ = r.send(reg.doc_heads());
            }
            Cmd::HeadsOf(doc, r) => {
                let _ = r.send(reg.doc_heads_of(&doc));
            }
            Cmd::Unknown(doc, heads, r) => {
                let result = match reg.doc_heads_of(&doc) {
                    None => Ok(heads),
                    Some(ours) if ours == sorted(heads.clone()) => Ok(Vec::new()),
                    Some(_) => reg.unknown_hashes(&doc, &heads),
                };
                let _ = r.send(result);
            }
            Cmd::ChangesSince(doc, have, max, r) => {
                let _ = r.send(reg.changes_since(&doc, &have, max).map(|p| {
                    kampung_sync::SignedChanges {
                        changes: p.changes,
                        signatures: p.signatures,
                        more: p.more,
                    }
                }));
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
            Cmd::RecordCrossing {
                peer,
                crossing,
                now_ms,
                reply,
            } => {
                let id = DocId::crossing_log(&peer);
                let before = reg.doc_heads_of(&id).unwrap_or_default();
                let result = reg.record_crossing(&peer, &crossing, now_ms).and_then(|_| {
                    announce_since(&mut reg, &id, &before).map_err(RecordError::from)
                });
                if let Ok(a) = &result {
                    changed(id, &to_hashes(a.heads.clone()));
                }
                let _ = reply.send(result);
            }
            Cmd::Crossings(peer, r) => {
                let _ = r.send(reg.crossings(&peer));
            }
            Cmd::OpenCase {
                case_id,
                opening,
                now_ms,
                reply,
            } => {
                let id = DocId::case(&case_id);
                let result = reg
                    .open_isolation_case(&case_id, &opening, now_ms)
                    .and_then(|_| announce_since(&mut reg, &id, &[]).map_err(RecordError::from));
                if let Ok(a) = &result {
                    changed(id, &to_hashes(a.heads.clone()));
                }
                let _ = reply.send(result);
            }
            Cmd::UpdateCase {
                case_id,
                update,
                now_ms,
                reply,
            } => {
                let id = DocId::case(&case_id);
                let before = reg.doc_heads_of(&id).unwrap_or_default();
                let result = reg
                    .update_isolation_case(&case_id, &update, now_ms)
                    .and_then(|_| {
                        announce_since(&mut reg, &id, &before).map_err(RecordError::from)
                    });
                if let Ok(a) = &result {
                    changed(id, &to_hashes(a.heads.clone()));
                }
                let _ = reply.send(result);
            }
            Cmd::Cases(today_ms, r) => {
                let _ = r.send(reg.isolation_cases(today_ms));
            }
            Cmd::KeepStatement(id, bytes) => {
                let kept = reg
                    .storage()
                    .put_statement(&id, &bytes)
                    .and_then(|()| reg.storage().flush());
                if let Err(e) = kept {
                    warn!(error = %e, "could not keep a statement; it will be fetched again from peers");
                }
            }
            Cmd::Niks(r) => {
                let _ = r.send(reg.niks());
            }
            Cmd::Checkpoint(r) => {
                let _ = r.send(reg.checkpoint());
            }
        }
    }
    debug!("store task stopping: persisting the index");
    let result = reg.checkpoint();
    if let Err(e) = &result {
        error!(error = %e, "could not persist the index at shutdown; it will be caught up at next start");
    }
    result
}

/// The announcement of what changed in `doc` since `before` (changes inline if small).
fn announce_since<S: Storage>(
    reg: &mut Registry<S>,
    doc: &DocId,
    before: &[ChangeHash],
) -> Result<kampung_sync::Announce, StoreError> {
    let page = reg.changes_since(doc, before, 64 << 10)?;
    let heads = reg.doc_heads_of(doc).unwrap_or_default();
    let (changes, signatures) = if page.more {
        (Vec::new(), Vec::new())
    } else {
        (page.changes, page.signatures)
    };
    Ok(kampung_sync::Announce {
        doc: doc.to_string(),
        heads: heads.iter().map(|h| h.0).collect(),
        changes,
        signatures,
        from_owner: true,
    })
}

fn sorted(mut v: Vec<ChangeHash>) -> Vec<ChangeHash> {
    v.sort_unstable();
    v
}

impl StoreHandle {
    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Cmd) -> Result<T, Stopped> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).await.map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
    }

    /// The index, open cases and heads that lookups and checkpoint verdicts
    /// read, shared with the store task: read them on the caller's thread
    /// instead of queueing behind writes. The store updates them before it
    /// acknowledges a write, so a caller reads its own writes.
    pub fn lookups(&self) -> &SharedLookups {
        &self.lookups
    }

    /// Record a check in our crossing log (`peer`: our own peer id); returns
    /// the announcement for the mesh.
    pub async fn record_crossing(
        &self,
        peer: String,
        crossing: Crossing,
        now_ms: i64,
    ) -> Result<Result<kampung_sync::Announce, RecordError>, Stopped> {
        self.ask(|reply| Cmd::RecordCrossing {
            peer,
            crossing: Box::new(crossing),
            now_ms,
            reply,
        })
        .await
    }

    /// A checkpoint's crossing log.
    pub async fn crossings(
        &self,
        peer: String,
    ) -> Result<Result<Vec<Crossing>, RecordError>, Stopped> {
        self.ask(|r| Cmd::Crossings(peer, r)).await
    }

    /// Open an isolation case; returns the announcement for the mesh.
    pub async fn open_case(
        &self,
        case_id: String,
        opening: Opening,
        now_ms: i64,
    ) -> Result<Result<kampung_sync::Announce, RecordError>, Stopped> {
        self.ask(|reply| Cmd::OpenCase {
            case_id,
            opening: Box::new(opening),
            now_ms,
            reply,
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
        self.ask(|reply| Cmd::UpdateCase {
            case_id,
            update: Box::new(update),
            now_ms,
            reply,
        })
        .await
    }

    /// Every isolation case held, as it stands on `today_ms`'s day.
    pub async fn cases(&self, today_ms: i64) -> Result<Vec<CaseState>, Stopped> {
        self.ask(|r| Cmd::Cases(today_ms, r)).await
    }

    /// Keep a verified statement without waiting (from the mesh's thread).
    /// If the store is busy it is not kept now; peers will offer it again.
    pub fn keep_statement(&self, id: [u8; 32], bytes: Vec<u8>) {
        if self.tx.try_send(Cmd::KeepStatement(id, bytes)).is_err() {
            warn!("store busy: a statement was not kept now");
        }
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
    /// raw changes (when small) for announcing them.
    pub async fn write(
        &self,
        village: VillageCode,
        records: Vec<Resident>,
        now_ms: i64,
    ) -> Result<Result<Written, StoreError>, Stopped> {
        self.ask(|reply| Cmd::Write {
            village,
            records,
            now_ms,
            reply,
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

    /// One page of a village's residents matching a query (filtered and
    /// paged on the store thread: only the page crosses the channel).
    pub async fn resident_page(
        &self,
        query: ResidentQuery,
    ) -> Result<Result<ResidentPage, StoreError>, Stopped> {
        self.ask(|r| Cmd::ResidentPage(query, r)).await
    }

    pub async fn doc_heads(&self) -> Result<Vec<(DocId, Vec<ChangeHash>)>, Stopped> {
        self.ask(Cmd::DocHeads).await
    }

    pub async fn niks(&self) -> Result<usize, Stopped> {
        self.ask(Cmd::Niks).await
    }

    pub async fn checkpoint(&self) -> Result<Result<(), StoreError>, Stopped> {
        self.ask(Cmd::Checkpoint).await
    }
}

fn to_hashes(v: Vec<Hash>) -> Vec<ChangeHash> {
    v.into_iter().map(ChangeHash).collect()
}

fn from_hashes(v: Vec<ChangeHash>) -> Vec<Hash> {
    v.into_iter().map(|h| h.0).collect()
}

fn local(e: impl std::fmt::Display) -> ReplicaError {
    ReplicaError::Local(e.to_string())
}

fn doc_id(doc: &str) -> Result<DocId, ReplicaError> {
    let id = DocId::parse(doc)
        .ok_or_else(|| ReplicaError::Refused(format!("'{doc}' is not a document of this mesh")))?;
    Ok(id)
}

fn applied(
    result: Result<Result<RemoteApplied, RemoteRefusal>, StoreError>,
    from: &str,
) -> Result<Applied, ReplicaError> {
    match result {
        Ok(Ok(a)) => Ok(Applied {
            changed: a.changed(),
            heads: from_hashes(a.heads),
            missing_deps: from_hashes(a.missing_deps),
        }),
        Ok(Err(refusal)) => {
            warn!(peer = %from, %refusal, "refused data from a peer");
            Err(ReplicaError::Refused(refusal.to_string()))
        }
        Err(e) => Err(local(e)),
    }
}

impl Replica for StoreHandle {
    async fn digest(&self) -> Result<(Hash, u32), ReplicaError> {
        let heads = self.doc_heads().await.map_err(local)?;
        let docs: Vec<DocHeads> = heads
            .into_iter()
            .map(|(d, h)| DocHeads {
                doc: d.to_string(),
                heads: from_hashes(h),
            })
            .collect();
        Ok((kampung_sync::digest(&docs), docs.len() as u32))
    }

    async fn heads_page(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<(Vec<DocHeads>, bool), ReplicaError> {
        let heads = self.doc_heads().await.map_err(local)?;
        let mut rest = heads
            .into_iter()
            .filter(|(d, _)| after.as_deref().is_none_or(|a| d.as_str() > a))
            .map(|(d, h)| DocHeads {
                doc: d.to_string(),
                heads: from_hashes(h),
            });
        let page: Vec<DocHeads> = rest.by_ref().take(limit).collect();
        let more = rest.next().is_some();
        Ok((page, more))
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
        applied(r, from)
    }

    async fn apply_document(
        &self,
        doc: &str,
        bytes: Vec<u8>,
        signatures: Vec<Vec<u8>>,
        from: &str,
    ) -> Result<Applied, ReplicaError> {
        let id = doc_id(doc)?;
        if id.as_village().is_none() {
            // A crossing log or case: small; apply its changes one by one.
            let changes = match kampung_store::document_changes(&id, &bytes) {
                Ok(c) => c,
                Err(refusal) => return applied(Ok(Err(refusal)), from),
            };
            let r = self
                .ask(|r| Cmd::ApplyChanges(id, changes, signatures, r))
                .await
                .map_err(local)?;
            return applied(r, from);
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
            Err(refusal) => return applied(Ok(Err(refusal)), from),
        };
        let r = self
            .ask(|r| Cmd::ApplyPrepared(Box::new(prepared), r))
            .await
            .map_err(local)?;
        applied(r, from)
    }
}

/// Which residents of one village to list, and which page of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResidentQuery {
    pub village: VillageCode,
    /// A case-insensitive part of the name, or the first digits of the NIK.
    pub search: Option<String>,
    pub status: Option<StatusKind>,
    /// Matching records to skip (in NIK order).
    pub offset: usize,
    /// Matching records to return at most.
    pub limit: usize,
}

impl ResidentQuery {
    /// Every record of `village`, first page of `limit`.
    pub fn new(village: VillageCode, limit: usize) -> Self {
        ResidentQuery {
            village,
            search: None,
            status: None,
            offset: 0,
            limit,
        }
    }

    /// Whether one record matches the status filter and the search; `needle`
    /// is the search, trimmed and lower-cased.
    fn matches(&self, r: &Resident, needle: Option<&str>) -> bool {
        if self.status.is_some_and(|s| s != r.status.kind()) {
            return false;
        }
        let Some(needle) = needle else {
            return true;
        };
        r.nik.to_string().starts_with(needle) || r.full_name.to_lowercase().contains(needle)
    }
}

/// One page of a village's residents, in NIK order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResidentPage {
    /// Records matching the query, on every page.
    pub total: usize,
    pub items: Vec<Resident>,
}

/// The page `q` asks for. A village whose document this node does not hold
/// has no residents (its document is not created by asking).
fn residents_page<S: Storage>(
    reg: &mut Registry<S>,
    q: &ResidentQuery,
) -> Result<ResidentPage, StoreError> {
    if reg.doc_heads_of(&DocId::village(q.village)).is_none() {
        return Ok(ResidentPage {
            total: 0,
            items: Vec::new(),
        });
    }
    let needle = q
        .search
        .as_deref()
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty());
    let mut total = 0;
    let mut items = Vec::new();
    for r in reg.residents(q.village)? {
        if !q.matches(&r, needle.as_deref()) {
            continue;
        }
        if total >= q.offset && items.len() < q.limit {
            items.push(r);
        }
        total += 1;
    }
    Ok(ResidentPage { total, items })
}

#[cfg(test)]
mod resident_page_tests {
    use super::*;
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
        };
        people[2].status = Status::Deceased { date: None };
        let (handle, _join) = spawn_store(reg, accept_all());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            handle
                .write(village(), people.clone(), 1)
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
