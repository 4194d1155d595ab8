//! Root-signed statements handed to a running node (certificates,
//! revocations, the policy), as `kampung trust add` does.

use kampung_trust::{Signed, TrustError};

use crate::actor::Permission;
use crate::error::{ErrorCode, NodeError};
use crate::{Actor, Node};

/// What adding a statement did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementAdded {
    /// `certificate`, `revocation` or `policy`.
    pub kind: &'static str,
    /// False if the node already held this exact statement.
    pub new: bool,
    /// The statement's id (SHA-256 of its wire form).
    pub id: [u8; 32],
}

impl Node {
    /// The roster, or why this node cannot verify statements (no root key).
    pub fn require_root(&self) -> Result<&kampung_store::trust::SharedRoster, NodeError> {
        self.roster().ok_or_else(|| {
            NodeError::new(
                ErrorCode::NoRoot,
                "this node has no root key configured, so it cannot verify statements: stop it, run `kampung trust root ROOT.pub`, and start it again",
            )
        })
    }

    /// Verify a statement file's text against this node's root, add it to
    /// the roster the mesh and the store share, and keep it (durable when
    /// this returns); from there it spreads to peers with the roster.
    pub async fn add_statement(&self, by: &Actor, text: &str) -> Result<StatementAdded, NodeError> {
        by.require(Permission::ManageTrust, "add trust statements")?;
        let roster = self.require_root()?;
        let signed = Signed::from_file_text(text).map_err(|e| {
            NodeError::new(
                ErrorCode::InvalidStatement,
                format!("{e}; send the text of a file written by `kampung admin certify`, `revoke` or `policy`"),
            )
        })?;
        let kind = signed.statement.kind();
        let (id, bytes) = (signed.id(), signed.encode());
        let added = roster
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .add(signed);
        let new = match added {
            Ok(new) => new,
            Err(e @ TrustError::NotSignedByRoot { .. }) => {
                return Err(NodeError::new(ErrorCode::NotSignedByRoot, e.to_string()))
            }
            Err(e) => return Err(NodeError::new(ErrorCode::InvalidStatement, e.to_string())),
        };
        if new {
            tracing::info!(kind, "statement added to the roster");
            self.store().keep_statement_durably(id, bytes).await??;
            if kind == "policy" {
                // It may name other holders of villages' details.
                self.follow_scope().await?;
            }
        }
        Ok(StatementAdded { kind, new, id })
    }
}
