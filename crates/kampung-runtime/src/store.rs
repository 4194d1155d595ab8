//! The store task: one thread owns the [`Registry`] (sled and Automerge are
//! blocking), and everything else sends it commands over a bounded channel
//! with a oneshot reply. Writes are durable before their reply is sent.

use std::sync::Arc;

use automerge::ChangeHash;
use kampung_core::{Nik, Resident, Verdict, VillageCode};
use kampung_store::storage::Storage;
use kampung_store::{
    prepare_document, AcceptAll, ChangeVerifier, DocId, PreparedDocument, Refusal, Registry,
    RemoteApplied, RemoteRefusal, StoreError, WriteReport,
};
use kampung_sync::{Applied, DocHeads, Hash, Replica, ReplicaError};
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{debug, error, warn};

/// Commands queued for the store at most.
const QUEUE: usize = 1024;

type Reply<T> = oneshot::Sender<T>;
/// A write's report and its new raw changes (for the announcement).
pub type Written = (WriteReport, Vec<Vec<u8>>);
/// A page of raw changes and whether more remain.
type Page = (Vec<Vec<u8>>, bool);

enum Cmd {
    Lookup(String, Reply<Verdict>),
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
    Document(DocId, Reply<Result<Option<Vec<u8>>, StoreError>>),
    ApplyChanges(
        DocId,
        Vec<Vec<u8>>,
        Reply<Result<Result<RemoteApplied, RemoteRefusal>, StoreError>>,
    ),
    ApplyPrepared(
        Box<PreparedDocument>,
        Reply<Result<Result<RemoteApplied, RemoteRefusal>, StoreError>>,
    ),
    Niks(Reply<usize>),
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
    let join = std::thread::Builder::new()
        .name("kampung-store".into())
        .spawn(move || run(registry, rx, thread_verifier.as_ref(), &notify))
        .unwrap_or_else(|e| panic!("cannot start the store thread: {e}"));
    (
        StoreHandle {
            tx,
            events,
            verifier,
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
            Cmd::Lookup(nik, r) => {
                let _ = r.send(reg.lookup(&nik));
            }
            Cmd::Write {
                village,
                records,
                now_ms,
                reply,
            } => {
                let result = (|| {
                    let before = reg.heads(village)?;
                    let report = reg.write(village, &records, now_ms, &mut |_| {})?;
                    let changes = if report.heads != before {
                        reg.changes_since(&DocId::village(village), &before, 64 << 10)?
                            .changes
                    } else {
                        Vec::new()
                    };
                    Ok((report, changes))
                })();
                if let Ok((report, changes)) = &result {
                    if !changes.is_empty() || report.added + report.changed > 0 {
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
                let _ = r.send(
                    reg.changes_since(&doc, &have, max)
                        .map(|p| (p.changes, p.more)),
                );
            }
            Cmd::Document(doc, r) => {
                let _ = r.send(reg.stored_document(&doc));
            }
            Cmd::ApplyChanges(doc, changes, r) => {
                let result = reg.apply_remote(&doc, &changes, verifier);
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
            Cmd::Niks(r) => {
                let _ = r.send(reg.index().len());
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

    /// Notifications of every durable document change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<DocChanged> {
        self.events.subscribe()
    }

    pub async fn lookup(&self, nik: String) -> Result<Verdict, Stopped> {
        self.ask(|r| Cmd::Lookup(nik, r)).await
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
    ) -> Result<(Vec<Vec<u8>>, bool), ReplicaError> {
        let id = doc_id(doc)?;
        let r = self
            .ask(|r| Cmd::ChangesSince(id, to_hashes(have), max_bytes, r))
            .await
            .map_err(local)?;
        r.map_err(local)
    }

    async fn document(&self, doc: &str) -> Result<Option<Vec<u8>>, ReplicaError> {
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
        from: &str,
    ) -> Result<Applied, ReplicaError> {
        let id = doc_id(doc)?;
        let r = self
            .ask(|r| Cmd::ApplyChanges(id, changes, r))
            .await
            .map_err(local)?;
        applied(r, from)
    }

    async fn apply_document(
        &self,
        doc: &str,
        bytes: Vec<u8>,
        from: &str,
    ) -> Result<Applied, ReplicaError> {
        let id = doc_id(doc)?;
        // Load, verify and read the document on a blocking thread, in parallel
        // with other documents; the store task only swaps it in.
        let verifier = self.verifier.clone();
        let prepared =
            tokio::task::spawn_blocking(move || prepare_document(&id, bytes, verifier.as_ref()))
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
