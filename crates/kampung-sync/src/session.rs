//! Anti-entropy sessions, pulls and the answering side.

use futures::stream::{self, StreamExt, TryStreamExt};
use tracing::{debug, trace};

use kampung_core::{DocId, ReadScope};

use crate::message::{Announce, DocHeads, Hash, Request, Response};
use crate::pulls::{Pulls, Turn};
use crate::replica::{Replica, ReplicaError, RequestError, Requester};
use crate::scope::Scope;
use crate::Limits;

/// What one session moved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// The digests matched: nothing else was exchanged.
    pub in_sync: bool,
    /// Documents whose heads differed and were pulled.
    pub docs_pulled: usize,
    /// Changes received.
    pub changes: usize,
    /// Whole documents received.
    pub documents: usize,
    /// Bytes of changes and documents received.
    pub bytes: usize,
    /// Documents whose new changes wait for a signature in force (a
    /// writer's wrong clock): not applied yet, nobody's fault.
    pub deferred: usize,
}

impl SessionStats {
    fn add(&mut self, o: SessionStats) {
        self.docs_pulled += o.docs_pulled;
        self.changes += o.changes;
        self.documents += o.documents;
        self.bytes += o.bytes;
        self.deferred += o.deferred;
    }
}

/// What `apply` did with received data; a deferral ends this document's
/// pull without failing the session.
fn deferred<T>(
    result: Result<T, ReplicaError>,
    stats: &mut SessionStats,
    doc: &str,
) -> Result<Option<T>, SyncError> {
    match result {
        Ok(t) => Ok(Some(t)),
        Err(ReplicaError::Deferred(reason)) => {
            debug!(%doc, %reason, "changes wait for a signature in force");
            stats.deferred += 1;
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Why a session stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    #[error("peer {peer} broke the protocol: {reason}")]
    Protocol { peer: String, reason: String },
    /// The peer answered that it cannot serve the request now (busy, its
    /// store failing after a full disk, a document it does not hold): the
    /// session ends and a later one tries again. Not a fault: an honest
    /// node says so too.
    #[error("peer {peer} declined: {reason}")]
    Declined { peer: String, reason: String },
}

impl SyncError {
    /// The peer misbehaved (as opposed to a network or local failure).
    pub fn is_peer_fault(&self) -> bool {
        matches!(
            self,
            SyncError::Protocol { .. }
                | SyncError::Replica(ReplicaError::Refused(_))
                | SyncError::Request(RequestError::BadResponse(_))
        )
    }
}

/// The error for an answer of the wrong kind to an `asked` request: a
/// refusal declines, anything else breaks the protocol.
fn unexpected(peer: &impl Requester, asked: &str, answer: &Response) -> SyncError {
    match answer {
        Response::Refused { reason } => SyncError::Declined {
            peer: peer.peer(),
            reason: reason.clone(),
        },
        other => protocol(
            peer,
            format!("answered a {asked} request with {}", kind(other)),
        ),
    }
}

fn protocol(peer: &impl Requester, reason: impl Into<String>) -> SyncError {
    SyncError::Protocol {
        peer: peer.peer(),
        reason: reason.into(),
    }
}

/// The documents we offer that `scope` covers (both ends may read), with their heads.
async fn covered<R: Replica>(replica: &R, scope: &Scope) -> Result<Vec<DocHeads>, ReplicaError> {
    let mut docs = replica.offered().await?;
    if *scope != Scope::ALL {
        docs.retain(|d| scope.covers(&d.doc));
    }
    Ok(docs)
}

/// Our digest over what an exchange of `scope` covers, and how many documents.
pub async fn digest_for<R: Replica>(
    replica: &R,
    scope: &Scope,
) -> Result<(Hash, u32), ReplicaError> {
    let docs = covered(replica, scope).await?;
    Ok((crate::digest(&docs), docs.len() as u32))
}

/// Bring our replica up to date with one peer, over the documents both may
/// read (`scope`). Cheap when nothing changed: one digest request. `pulls`
/// is shared by all of this node's sessions: a document another session is
/// pulling is waited for, not pulled twice.
pub async fn sync_with<R: Replica, Q: Requester>(
    replica: &R,
    peer: &Q,
    limits: &Limits,
    pulls: &Pulls,
    scope: &Scope,
) -> Result<SessionStats, SyncError> {
    let (ours, _) = digest_for(replica, scope).await?;
    match peer.request(Request::Digest).await? {
        Response::Digest { digest, .. } if digest == ours => {
            trace!(peer = %peer.peer(), "in sync");
            return Ok(SessionStats {
                in_sync: true,
                ..Default::default()
            });
        }
        Response::Digest { .. } => {}
        other => return Err(unexpected(peer, "digest", &other)),
    }
    let mut stats = SessionStats::default();
    let mut after: Option<String> = None;
    loop {
        let page = peer
            .request(Request::Heads {
                after: after.clone(),
                limit: limits.heads_page,
            })
            .await?;
        let Response::Heads { docs, more } = page else {
            return Err(unexpected(peer, "heads", &page));
        };
        if let (Some(a), Some(first)) = (&after, docs.first()) {
            if first.doc <= *a {
                return Err(protocol(peer, "heads page out of order"));
            }
        }
        let next = docs.last().map(|d| d.doc.clone());
        let mut wanted = Vec::new();
        for d in docs {
            if !scope.ours_may_read(&d.doc) {
                // Offered what we may not read (a peer of an older rule, or
                // a rogue): never taken.
                debug!(peer = %peer.peer(), doc = %d.doc, "offered a document outside our scope");
                continue;
            }
            if !replica.unknown(&d.doc, d.heads.clone()).await?.is_empty() {
                wanted.push(d);
            }
        }
        let pulled: Vec<SessionStats> = stream::iter(wanted.into_iter().map(|d| async move {
            pull_once(replica, peer, &d.doc, d.heads, limits, pulls).await
        }))
        .buffer_unordered(limits.concurrent_pulls.max(1))
        .try_collect()
        .await?;
        for p in pulled {
            stats.add(p);
        }
        match (more, next) {
            (true, Some(n)) => after = Some(n),
            _ => break,
        }
    }
    debug!(peer = %peer.peer(), docs = stats.docs_pulled, changes = stats.changes, documents = stats.documents, bytes = stats.bytes, "session done");
    Ok(stats)
}

/// Pull `doc` from `peer`, whose heads of it are `heads`, unless another
/// session of ours is pulling it: then wait for that pull to end and pull
/// only if we still lack some of `heads` (see [`Pulls`]).
async fn pull_once<R: Replica, Q: Requester>(
    replica: &R,
    peer: &Q,
    doc: &str,
    heads: Vec<Hash>,
    limits: &Limits,
    pulls: &Pulls,
) -> Result<SessionStats, SyncError> {
    loop {
        match pulls.claim(doc) {
            Turn::Mine(_claim) => return pull_doc(replica, peer, doc, limits).await,
            Turn::Wait(done) => {
                let _ = done.await;
                if replica.unknown(doc, heads.clone()).await?.is_empty() {
                    trace!(peer = %peer.peer(), %doc, "pulled by another session");
                    return Ok(SessionStats::default());
                }
            }
        }
    }
}

/// Pull one document from a peer: its changes since our heads, or the whole
/// stored document if we do not hold it.
pub async fn pull_doc<R: Replica, Q: Requester>(
    replica: &R,
    peer: &Q,
    doc: &str,
    limits: &Limits,
) -> Result<SessionStats, SyncError> {
    let mut stats = SessionStats {
        docs_pulled: 1,
        ..Default::default()
    };
    let Some(mut have) = replica.heads(doc).await? else {
        pull_whole(replica, peer, doc, limits, &mut stats).await?;
        return Ok(stats);
    };
    let from = peer.peer();
    // Each page must make progress; a peer that keeps saying "more" without it is cut off.
    for _ in 0..10_000 {
        let resp = peer
            .request(Request::Changes {
                doc: doc.to_string(),
                have: have.clone(),
            })
            .await?;
        let Response::Changes {
            doc: got,
            changes,
            signatures,
            more,
        } = resp
        else {
            return Err(unexpected(peer, "changes", &resp));
        };
        if got != doc {
            return Err(protocol(peer, format!("asked for {doc}, got {got}")));
        }
        stats.changes += changes.len();
        stats.bytes += changes.iter().map(Vec::len).sum::<usize>();
        if changes.is_empty() {
            break;
        }
        let result = replica.apply_changes(doc, changes, signatures, &from).await;
        let Some(applied) = deferred(result, &mut stats, doc)? else {
            break;
        };
        if !more {
            break;
        }
        if !applied.changed {
            // A page of changes we already had, and more to come: the peer
            // does not know some of our heads (we hold changes it lacks, on
            // a document with several writers), so it cannot tell what we
            // have and would send this page again. Merge the whole document.
            pull_whole(replica, peer, doc, limits, &mut stats).await?;
            break;
        }
        have = applied.heads;
    }
    Ok(stats)
}

/// Fetch the whole stored document from the peer and merge it into ours.
async fn pull_whole<R: Replica, Q: Requester>(
    replica: &R,
    peer: &Q,
    doc: &str,
    limits: &Limits,
    stats: &mut SessionStats,
) -> Result<(), SyncError> {
    let (bytes, signatures) = fetch_document(peer, doc, limits).await?;
    stats.bytes += bytes.len();
    stats.documents += 1;
    let result = replica
        .apply_document(doc, bytes, signatures, &peer.peer())
        .await;
    deferred(result, stats, doc)?;
    Ok(())
}

async fn fetch_document<Q: Requester>(
    peer: &Q,
    doc: &str,
    limits: &Limits,
) -> Result<(Vec<u8>, Vec<Vec<u8>>), SyncError> {
    let mut buf: Vec<u8> = Vec::new();
    let mut sigs: Vec<Vec<u8>> = Vec::new();
    let mut expected_total: Option<u64> = None;
    loop {
        let resp = peer
            .request(Request::Document {
                doc: doc.to_string(),
                offset: buf.len() as u64,
            })
            .await?;
        let Response::Document {
            doc: got,
            total,
            offset,
            bytes,
            signatures,
        } = resp
        else {
            return Err(unexpected(peer, "document", &resp));
        };
        if got != doc || offset != buf.len() as u64 {
            return Err(protocol(
                peer,
                "document page for another document or offset",
            ));
        }
        if total as usize > limits.max_document {
            return Err(protocol(
                peer,
                format!("document of {total} bytes is over the limit"),
            ));
        }
        match expected_total {
            // The document changed between pages: start again.
            Some(t) if t != total => {
                buf.clear();
                expected_total = None;
                continue;
            }
            _ => expected_total = Some(total),
        }
        if bytes.is_empty() && (buf.len() as u64) < total {
            return Err(protocol(peer, "empty document page before the end"));
        }
        if offset == 0 {
            sigs = signatures;
        }
        buf.extend_from_slice(&bytes);
        if buf.len() as u64 >= total {
            buf.truncate(total as usize);
            return Ok((buf, sigs));
        }
    }
}

/// Handle an announcement: apply inline changes; pull what is still missing
/// (unless a session of ours is pulling that document: see [`Pulls`]).
pub async fn on_announce<R: Replica, Q: Requester>(
    replica: &R,
    announce: Announce,
    forwarded_by: &Q,
    limits: &Limits,
    pulls: &Pulls,
) -> Result<SessionStats, SyncError> {
    if DocId::parse(&announce.doc).is_some_and(|d| !ReadScope::for_everyone(&d)) {
        // Gossip reaches every member: an honest node never gossips what
        // some may not read, and this one is neither taken nor passed on.
        return Err(protocol(
            forwarded_by,
            format!("gossiped {}, which not every member may read", announce.doc),
        ));
    }
    let mut stats = SessionStats::default();
    if announce.changes.is_empty() {
        // A heartbeat, or changes too big to carry: pull only if we lack its heads.
        if replica
            .unknown(&announce.doc, announce.heads.clone())
            .await?
            .is_empty()
        {
            stats.in_sync = true;
            return Ok(stats);
        }
    } else {
        // Apply what came inline (known changes are a no-op): one round trip
        // to the store on the common path. Pull only if a dependency is missing.
        stats.changes += announce.changes.len();
        stats.bytes += announce.changes.iter().map(Vec::len).sum::<usize>();
        let result = replica
            .apply_changes(
                &announce.doc,
                announce.changes,
                announce.signatures,
                &forwarded_by.peer(),
            )
            .await;
        match deferred(result, &mut stats, &announce.doc)? {
            Some(applied) if !applied.missing_deps.is_empty() => {}
            // Applied, or waiting: a pull would bring the same.
            _ => return Ok(stats),
        }
    }
    stats.add(
        pull_once(
            replica,
            forwarded_by,
            &announce.doc,
            announce.heads,
            limits,
            pulls,
        )
        .await?,
    );
    Ok(stats)
}

/// Answer a peer's request from our replica, offering and serving only
/// what `scope` covers. A request for a document the peer may not read is
/// refused here; the transport counts it as the peer's fault
/// ([`Scope::beyond`]).
pub async fn respond<R: Replica>(
    replica: &R,
    req: Request,
    limits: &Limits,
    scope: &Scope,
) -> Response {
    if let Some(reason) = scope.beyond(&req) {
        return Response::Refused { reason };
    }
    let result = async {
        Ok::<Response, ReplicaError>(match req {
            Request::Digest => {
                let (digest, docs) = digest_for(replica, scope).await?;
                Response::Digest { digest, docs }
            }
            Request::Heads { after, limit } => {
                let limit = usize::from(limit.clamp(1, limits.heads_page));
                let mut rest = covered(replica, scope)
                    .await?
                    .into_iter()
                    .filter(|d| after.as_deref().is_none_or(|a| d.doc.as_str() > a));
                let docs: Vec<DocHeads> = rest.by_ref().take(limit).collect();
                let more = rest.next().is_some();
                Response::Heads { docs, more }
            }
            Request::Changes { doc, have } => {
                let page = replica
                    .changes_since(&doc, have, limits.changes_page)
                    .await?;
                Response::Changes {
                    doc,
                    changes: page.changes,
                    signatures: page.signatures,
                    more: page.more,
                }
            }
            Request::Hello(_) | Request::Roster { .. } => Response::Refused {
                reason: "membership requests are answered by the mesh layer".into(),
            },
            Request::Document { doc, offset } => match replica.document(&doc).await? {
                Some((bytes, signatures)) => {
                    let total = bytes.len() as u64;
                    let start = (offset as usize).min(bytes.len());
                    let end = (start + limits.document_page).min(bytes.len());
                    Response::Document {
                        doc,
                        total,
                        offset: start as u64,
                        bytes: bytes[start..end].to_vec(),
                        signatures: if start == 0 { signatures } else { Vec::new() },
                    }
                }
                None => Response::Refused {
                    reason: format!("this node holds no document {doc}"),
                },
            },
        })
    }
    .await;
    result.unwrap_or_else(|e| Response::Refused {
        reason: e.to_string(),
    })
}

/// What a response is, for an error naming an unexpected one (a refusal with its reason).
fn kind(r: &Response) -> std::borrow::Cow<'static, str> {
    match r {
        Response::Digest { .. } => "a digest".into(),
        Response::Heads { .. } => "heads".into(),
        Response::Changes { .. } => "changes".into(),
        Response::Document { .. } => "a document".into(),
        Response::Refused { .. } => "a refusal".into(),
        Response::Hello(_) => "a hello".into(),
        Response::Roster { .. } => "a roster".into(),
    }
}
