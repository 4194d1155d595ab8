//! The replication protocol of the mesh, independent of any transport.
//!
//! Every node keeps a replica of every document it may read ([`Scope`]:
//! crossing logs only at checkpoints and auditors). Replication has two paths:
//!
//! - **Push (gossip):** after a document every member may read changes, its
//!   new heads are announced to everyone ([`message::Announce`]), with the new changes inline when they
//!   are small. A node that can apply them is done; one that lacks a dependency
//!   pulls from the peer that forwarded the announcement.
//! - **Pull (anti-entropy):** on connect and periodically, two peers compare a
//!   single digest of (document, heads) over the documents both may read
//!   (the only path of documents not every member may read). Only if the
//!   digests differ do they page through the heads, and only the documents
//!   whose heads differ are pulled: changes since our heads, or, for a
//!   document we do not hold at all, the whole stored document in bounded
//!   pages ([`session`]).
//!
//! Both sides of a request are plain async functions over two traits,
//! [`Replica`] (our documents) and [`Requester`] (a way to ask one peer), so
//! the same code runs over libp2p and over an in-memory test network.
//!
//! ```
//! use kampung_sync::{digest, message::DocHeads};
//! let a = vec![DocHeads { doc: "v/35.10.15.2012".into(), heads: vec![[1; 32]] }];
//! let mut b = a.clone();
//! assert_eq!(digest(&a), digest(&b));
//! b[0].heads.push([2; 32]);
//! assert_ne!(digest(&a), digest(&b));
//! ```

pub mod message;
pub mod pulls;
pub mod replica;
pub mod scope;
pub mod session;
pub mod sim;

pub use message::{Announce, DocHeads, Hash, Hello, Request, Response, WIRE_VERSION};
pub use pulls::Pulls;
pub use replica::{
    Applied, Replica, ReplicaError, RequestError, Requester, SignedChanges, SignedDocument,
};
pub use scope::Scope;
pub use session::{digest_for, on_announce, pull_doc, respond, sync_with, SessionStats, SyncError};

use sha2::{Digest as _, Sha256};

/// Bounds on everything a peer can make us hold or send.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest encoded message accepted or sent.
    pub max_message: usize,
    /// Bytes of changes in one response page.
    pub changes_page: usize,
    /// Bytes of a whole document in one response page.
    pub document_page: usize,
    /// Largest whole document accepted (bytes).
    pub max_document: usize,
    /// Documents per page of heads.
    pub heads_page: u16,
    /// Heads of one document in a message.
    pub max_heads: usize,
    /// Changes carried inline in an announcement (bytes); larger ones are pulled.
    pub max_inline: usize,
    /// Documents pulled at once from one peer.
    pub concurrent_pulls: usize,
    /// Write signatures in one message.
    pub max_signatures: usize,
    /// Root-signed statements (certificates, revocations, policies) in one message.
    pub max_statements: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message: 4 << 20,
            changes_page: 1 << 20,
            document_page: 1 << 20,
            max_document: 64 << 20,
            heads_page: 256,
            max_heads: 256,
            max_inline: 64 << 10,
            concurrent_pulls: 4,
            max_signatures: 8192,
            max_statements: 4096,
        }
    }
}

/// One hash over every (document, heads) pair: equal digests mean equal replicas.
pub fn digest(docs: &[DocHeads]) -> Hash {
    let mut sorted: Vec<&DocHeads> = docs.iter().collect();
    sorted.sort_by(|a, b| a.doc.cmp(&b.doc));
    let mut h = Sha256::new();
    for d in sorted {
        h.update((d.doc.len() as u32).to_le_bytes());
        h.update(d.doc.as_bytes());
        let mut heads = d.heads.clone();
        heads.sort_unstable();
        h.update((heads.len() as u32).to_le_bytes());
        for head in heads {
            h.update(head);
        }
    }
    h.finalize().into()
}
