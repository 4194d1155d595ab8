//! Who may be in the mesh and who may write what.
//!
//! The regency administrator holds a root key offline. It signs
//! [`Certificate`]s (a node key, a role, a village for village nodes, a
//! validity period), [`Revocation`]s and the checkpoint [`Policy`](kampung_core::Policy).
//! Every node is configured with the root's public key; the signed statements
//! travel through the mesh like any other data, and each node keeps the
//! [`Roster`] of those it verified, so it keeps working with the last roster
//! it knew when cut off.
//!
//! Automerge does not authenticate writers and changes arrive relayed by third
//! nodes, so each write carries a [`WriteSignature`] by its writer's key, whose
//! raw bytes are also the Automerge actor id of the changes: a document's own
//! history names the key that made every change. See [`write`] for why one
//! signature per write covers all its changes.
//!
//! This crate does no IO.
//!
//! ```
//! use kampung_trust::{Certificate, NodeKey, RoleKind, Roster, Signed, Statement, WriteTarget};
//! use libp2p_identity::Keypair;
//!
//! let root = Keypair::generate_ed25519();
//! let node = Keypair::generate_ed25519();
//! let village = "35.10.15.2012".parse().unwrap();
//! let cert = Signed::sign(Statement::Certificate(Certificate {
//!     node: NodeKey::from_public(&node.public()).unwrap(),
//!     role: RoleKind::Village,
//!     village: Some(village),
//!     label: "Desa Olehsari".into(),
//!     not_before_ms: 0,
//!     until_ms: i64::MAX,
//! }), &root).unwrap();
//!
//! let mut roster = Roster::new(NodeKey::from_public(&root.public()).unwrap());
//! assert!(roster.add(cert).unwrap());
//! let key = NodeKey::from_public(&node.public()).unwrap();
//! assert!(roster.may_write(&key, &WriteTarget::Residents(village), 1).is_ok());
//! assert!(roster.may_write(&key, &WriteTarget::Case, 1).is_ok());
//! ```

use std::fmt;

use kampung_core::VillageCode;

pub mod key;
pub mod roster;
pub mod statement;
pub mod write;

pub use key::{writer_of_actor, NodeKey, Signature, SESSION_BYTES};
pub use roster::{Denial, Roster, MAX_CLOCK_SKEW_MS};
pub use statement::{
    Certificate, HeldPolicy, IssuedPolicy, Revocation, RoleKind, Signed, Statement,
    MAX_STATEMENT_BYTES,
};
pub use write::{uncovered, ChangeRef, WriteSignature, WriteSigner, MAX_WRITE_SIGNATURE_BYTES};

/// What a write changes, for deciding who may make it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteTarget<'a> {
    /// A village's residents.
    Residents(VillageCode),
    /// The crossing log of the checkpoint with this peer id.
    CrossingLog(&'a str),
    /// An isolation case.
    Case,
}

impl fmt::Display for WriteTarget<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteTarget::Residents(v) => write!(f, "the residents of village {v}"),
            WriteTarget::CrossingLog(p) => write!(f, "the crossing log of checkpoint {p}"),
            WriteTarget::Case => write!(f, "isolation cases"),
        }
    }
}

/// Errors reading or checking trust data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    #[error("the key is not an ed25519 key")]
    NotEd25519,
    #[error("bad key: {0}")]
    BadKey(String),
    #[error("not a valid signed statement: {0}")]
    BadStatement(String),
    #[error("this {what} is not signed by this mesh's root key: check that it came from the regency administrator and that the node is configured with the right root")]
    NotSignedByRoot { what: &'static str },
    #[error("the write signature on {doc} by {signer} does not verify")]
    BadWriteSignature { doc: String, signer: String },
    #[error("malformed: {0}")]
    Malformed(String),
}

#[cfg(test)]
mod tests;
