//! The two sides a sync session talks to: our own documents, and one peer.

use std::future::Future;

use crate::message::{DocHeads, Hash, Request, Response};

/// What applying received data did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    pub changed: bool,
    pub heads: Vec<Hash>,
    /// Dependencies we still lack: pull them.
    pub missing_deps: Vec<Hash>,
}

/// A whole stored document and every write signature of it.
pub type SignedDocument = (Vec<u8>, Vec<Vec<u8>>);

/// Changes for a peer with the write signatures that cover them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignedChanges {
    pub changes: Vec<Vec<u8>>,
    pub signatures: Vec<Vec<u8>>,
    /// More changes remain: ask again with the heads these produce.
    pub more: bool,
}

/// Errors of our own replica.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplicaError {
    /// The peer sent something we refuse (malformed, unauthorised): its fault.
    #[error("refused: {0}")]
    Refused(String),
    /// Our own store failed: not the peer's fault.
    #[error("local store: {0}")]
    Local(String),
    /// Well-formed data that cannot be applied yet: its writer signed with
    /// a clock outside the tolerance, and no later signature covers it.
    /// Not the peer's fault; asked again at the next anti-entropy round.
    #[error("not applied yet: {0}")]
    Deferred(String),
}

/// Our documents, as replication sees them. Implementations must make
/// `apply_*` durable before returning.
pub trait Replica: Send + Sync {
    /// Every document we offer peers, with its heads, sorted by name.
    /// What one peer is offered is the part of it both may read
    /// ([`crate::Scope`]): its digest ([`crate::digest_for`]) and pages.
    fn offered(&self) -> impl Future<Output = Result<Vec<DocHeads>, ReplicaError>> + Send;
    /// Our heads of `doc`, or `None` if we do not hold it.
    fn heads(
        &self,
        doc: &str,
    ) -> impl Future<Output = Result<Option<Vec<Hash>>, ReplicaError>> + Send;
    /// Which of `heads` we do not have (all of them if we do not hold `doc`).
    fn unknown(
        &self,
        doc: &str,
        heads: Vec<Hash>,
    ) -> impl Future<Output = Result<Vec<Hash>, ReplicaError>> + Send;
    /// Changes a peer with `have` lacks: at most about `max_bytes`, and whether more remain.
    fn changes_since(
        &self,
        doc: &str,
        have: Vec<Hash>,
        max_bytes: usize,
    ) -> impl Future<Output = Result<SignedChanges, ReplicaError>> + Send;
    /// The whole stored document, and every write signature of it.
    fn document(
        &self,
        doc: &str,
    ) -> impl Future<Output = Result<Option<SignedDocument>, ReplicaError>> + Send;
    /// Apply changes received from `from` (verified against `signatures` first).
    fn apply_changes(
        &self,
        doc: &str,
        changes: Vec<Vec<u8>>,
        signatures: Vec<Vec<u8>>,
        from: &str,
    ) -> impl Future<Output = Result<Applied, ReplicaError>> + Send;
    /// Merge a whole document received from `from` (verified against `signatures` first).
    fn apply_document(
        &self,
        doc: &str,
        bytes: Vec<u8>,
        signatures: Vec<Vec<u8>>,
        from: &str,
    ) -> impl Future<Output = Result<Applied, ReplicaError>> + Send;
}

/// A request to one peer failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    #[error("peer unreachable or disconnected: {0}")]
    Unreachable(String),
    #[error("request timed out")]
    Timeout,
    #[error("peer answered badly: {0}")]
    BadResponse(String),
    #[error("this node is shutting down")]
    Shutdown,
}

/// A way to ask one peer.
pub trait Requester: Send + Sync {
    /// The peer's name for logs (its peer id).
    fn peer(&self) -> String;
    fn request(&self, req: Request) -> impl Future<Output = Result<Response, RequestError>> + Send;
}
