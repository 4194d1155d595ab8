//! The verifier a node runs: each write signature is checked against the
//! roster of root-signed certificates this node holds.

use std::sync::{Arc, RwLock};

use kampung_core::SharedClock;
use kampung_trust::{NodeKey, Roster, Signed, WriteSignature, WriteTarget};
use tracing::warn;

use crate::registry::{ChangeVerifier, SignatureDenied};
use crate::storage::{DocId, DocKind, Storage};
use crate::StoreError;

/// The roster, shared between the store (verifying writes) and the mesh
/// (admitting peers). Locked only for short, synchronous checks.
pub type SharedRoster = Arc<RwLock<Roster>>;

/// What a write to `doc` is, for the roster's permission check.
pub fn write_target(doc: &DocId) -> Option<WriteTarget<'_>> {
    Some(match doc.kind()? {
        DocKind::Village(v) | DocKind::Card(v) => WriteTarget::Residents(v),
        DocKind::CrossingLog(peer, _) => WriteTarget::CrossingLog(peer),
        DocKind::Case(_) => WriteTarget::Case,
    })
}

/// Accepts a write signature when it verifies and its signer's certificate
/// allowed writing the document when it signed.
#[derive(Debug, Clone)]
pub struct RosterVerifier {
    roster: SharedRoster,
    clock: SharedClock,
}

impl RosterVerifier {
    /// `clock` gives the current time (writes claiming to be signed in the
    /// future are refused).
    pub fn new(roster: SharedRoster, clock: SharedClock) -> Self {
        RosterVerifier { roster, clock }
    }
}

impl ChangeVerifier for RosterVerifier {
    fn check(&self, doc: &DocId, sig: &WriteSignature) -> Result<(), SignatureDenied> {
        let target = write_target(doc)
            .ok_or_else(|| SignatureDenied::refused(format!("unknown document {doc}")))?;
        let roster = self
            .roster
            .read()
            .map_err(|_| SignatureDenied::refused("roster lock poisoned"))?;
        roster
            .check_write(sig, &target, self.clock.now_ms())
            .map(|_| ())
            .map_err(|d| SignatureDenied {
                reason: d.to_string(),
                not_yet: d.is_about_time() || d.is_unknown_signer(),
            })
    }
}

/// The roster of every statement kept in `storage` that verifies against `root`.
/// Statements that no longer verify (another root) are skipped with a warning.
pub fn load_roster(storage: &impl Storage, root: NodeKey) -> Result<Roster, StoreError> {
    let mut roster = Roster::new(root);
    for bytes in storage.statements()? {
        match Signed::decode(&bytes).and_then(|s| roster.add(s)) {
            Ok(_) => {}
            Err(e) => warn!(error = %e, location = %storage.location(), "stored statement skipped"),
        }
    }
    Ok(roster)
}

/// Verify `signed` against `roster`, add it, and keep it in `storage` (flushed).
/// Returns whether it was new.
pub fn add_statement(
    storage: &impl Storage,
    roster: &mut Roster,
    signed: Signed,
) -> Result<Result<bool, kampung_trust::TrustError>, StoreError> {
    let bytes = signed.encode();
    let id = signed.id();
    match roster.add(signed) {
        Ok(true) => {
            storage.put_statement(&id, &bytes)?;
            storage.flush()?;
            Ok(Ok(true))
        }
        other => Ok(other),
    }
}
