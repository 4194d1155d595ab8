//! Everything the root key has said that this node verified: who is in the
//! mesh, who was cut off, and the policy in force. Statements only ever
//! accumulate (a grow-only set), so two nodes that exchange theirs agree.

use std::collections::{BTreeMap, HashMap};

use kampung_core::Policy;
use sha2::{Digest, Sha256};

use crate::key::NodeKey;
use crate::statement::{Certificate, IssuedPolicy, Revocation, RoleKind, Signed, Statement};
use crate::write::WriteSignature;
use crate::{TrustError, WriteTarget};

/// How far in the future a write may claim to be signed (clock skew between
/// nodes). A node refuses to sign while its clock is off from its peers' by
/// more than half of this, so what it signs is accepted everywhere.
pub const MAX_CLOCK_SKEW_MS: i64 = 10 * 60 * 1000;

/// Why a node may not connect or a write may not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Denial {
    #[error("{node} has no certificate from this mesh's root")]
    NoCertificate { node: String },
    #[error("{node}'s certificate is not in force at {at_ms} (valid {from_ms}..{until_ms}): renew it with `kampung admin certify`")]
    NotInForce {
        node: String,
        at_ms: i64,
        from_ms: i64,
        until_ms: i64,
    },
    #[error("{node} was revoked from {from_ms}: {reason}")]
    Revoked {
        node: String,
        from_ms: i64,
        reason: String,
    },
    #[error("{node} ({role}) may not write {target}")]
    NotAllowed {
        node: String,
        role: &'static str,
        target: String,
    },
    #[error("write signed at {signed_ms}, more than 10 minutes after now ({now_ms})")]
    FromTheFuture { signed_ms: i64, now_ms: i64 },
    #[error("{0}")]
    BadSignature(String),
}

impl Denial {
    /// The signature is refused only for the time it claims (from the
    /// future, or outside its signer's certificate), as a writer with a
    /// wrong clock makes them. Such a signature covers nothing, but it is no
    /// sign of a forger: a later signature of the same writer, made with a
    /// right clock, covers the same changes.
    pub fn is_about_time(&self) -> bool {
        matches!(
            self,
            Denial::FromTheFuture { .. } | Denial::NotInForce { .. }
        )
    }

    /// The signer's certificate has not reached this node yet. Certificates
    /// travel through the mesh like the writes they allow, and may arrive
    /// after them (a village that just joined): no sign of a forger either,
    /// since an honest peer relays only writes whose signer it verified.
    pub fn is_unknown_signer(&self) -> bool {
        matches!(self, Denial::NoCertificate { .. })
    }
}

/// The verified statements of the root, and what follows from them.
#[derive(Debug, Clone)]
pub struct Roster {
    root: NodeKey,
    statements: BTreeMap<[u8; 32], Signed>,
    certificates: HashMap<NodeKey, Vec<Certificate>>,
    revoked: HashMap<NodeKey, Revocation>,
    policy: Option<IssuedPolicy>,
}

impl Roster {
    pub fn new(root: NodeKey) -> Roster {
        Roster {
            root,
            statements: BTreeMap::new(),
            certificates: HashMap::new(),
            revoked: HashMap::new(),
            policy: None,
        }
    }

    pub fn root(&self) -> NodeKey {
        self.root
    }

    /// Verify and add a statement. `Ok(true)` if it was new.
    pub fn add(&mut self, signed: Signed) -> Result<bool, TrustError> {
        // Known first: the id covers the signature, so a statement already
        // held was verified when it came. A peer's roster carries every
        // certificate of the mesh; verifying each again on every exchange
        // (223 ed25519 checks, ~11 ms) was a fifth of a busy node's CPU.
        let id = signed.id();
        if self.statements.contains_key(&id) {
            return Ok(false);
        }
        signed.verify(&self.root)?;
        match &signed.statement {
            Statement::Certificate(c) => {
                self.certificates.entry(c.node).or_default().push(c.clone());
            }
            Statement::Revocation(r) => {
                let earlier = self
                    .revoked
                    .get(&r.node)
                    .is_some_and(|e| e.from_ms <= r.from_ms);
                if !earlier {
                    self.revoked.insert(r.node, r.clone());
                }
            }
            Statement::Policy(_) | Statement::RetainedPolicy(_) | Statement::HeldPolicy(_) => {
                let Some(p) = signed.statement.policy() else {
                    return Ok(false);
                };
                let newer = self.policy.as_ref().is_none_or(|cur| {
                    (p.policy.version, p.issued_ms) > (cur.policy.version, cur.issued_ms)
                });
                if newer {
                    self.policy = Some(p);
                }
            }
        }
        self.statements.insert(id, signed);
        Ok(true)
    }

    /// Every verified statement, in a stable order.
    pub fn statements(&self) -> impl Iterator<Item = &Signed> {
        self.statements.values()
    }

    pub fn len(&self) -> usize {
        self.statements.len()
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// One hash over all statements: two rosters with the same digest agree.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for id in self.statements.keys() {
            h.update(id);
        }
        h.finalize().into()
    }

    /// The policy in force (the newest verified one, or the default).
    pub fn policy(&self) -> Policy {
        self.policy
            .as_ref()
            .map(|p| p.policy.clone())
            .unwrap_or_default()
    }

    /// Who keeps which village's details under the policy in force.
    pub fn holders(&self) -> kampung_core::HolderRule {
        self.policy
            .as_ref()
            .map(|p| p.policy.holders.clone())
            .unwrap_or_default()
    }

    pub fn issued_policy(&self) -> Option<&IssuedPolicy> {
        self.policy.as_ref()
    }

    pub fn revocation(&self, node: &NodeKey) -> Option<&Revocation> {
        self.revoked.get(node)
    }

    /// The signed certificate of `node` in force at `at_ms` (to show to peers).
    pub fn signed_certificate(&self, node: &NodeKey, at_ms: i64) -> Option<&Signed> {
        self.statements
            .values()
            .filter(|s| {
                matches!(&s.statement, Statement::Certificate(c) if c.node == *node && c.in_force_at(at_ms))
            })
            .max_by_key(|s| match &s.statement {
                Statement::Certificate(c) => c.until_ms,
                _ => 0,
            })
    }

    /// The certificate of `node` in force at `at_ms` (the one lasting longest
    /// if several are), ignoring revocation.
    pub fn certificate_at(&self, node: &NodeKey, at_ms: i64) -> Result<&Certificate, Denial> {
        let all = self
            .certificates
            .get(node)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| Denial::NoCertificate {
                node: node.to_string(),
            })?;
        all.iter()
            .filter(|c| c.in_force_at(at_ms))
            .max_by_key(|c| c.until_ms)
            .ok_or_else(|| {
                let last = all.iter().max_by_key(|c| c.until_ms).unwrap_or(&all[0]);
                Denial::NotInForce {
                    node: node.to_string(),
                    at_ms,
                    from_ms: last.not_before_ms,
                    until_ms: last.until_ms,
                }
            })
    }

    /// Until when `node` stays certified without a gap from `now_ms`: the
    /// end of the certificate in force now, carried on by any renewal that
    /// starts before it ends. `None` if none is in force now.
    pub fn certified_until(&self, node: &NodeKey, now_ms: i64) -> Option<i64> {
        let all = self.certificates.get(node)?;
        let mut until = self.certificate_at(node, now_ms).ok()?.until_ms;
        while let Some(next) = all
            .iter()
            .filter(|c| c.not_before_ms <= until && c.until_ms > until)
            .map(|c| c.until_ms)
            .max()
        {
            until = next;
        }
        Some(until)
    }

    /// May `node` hold a connection now? It needs a certificate in force and
    /// no revocation that has started.
    pub fn admit(&self, node: &NodeKey, now_ms: i64) -> Result<&Certificate, Denial> {
        if let Some(r) = self.revoked.get(node).filter(|r| r.from_ms <= now_ms) {
            return Err(Denial::Revoked {
                node: node.to_string(),
                from_ms: r.from_ms,
                reason: r.reason.clone(),
            });
        }
        self.certificate_at(node, now_ms)
    }

    /// May `node` write `target` at `at_ms` (the time its signature claims)?
    /// Judged by the certificate in force then, and any revocation from before then.
    pub fn may_write(
        &self,
        node: &NodeKey,
        target: &WriteTarget<'_>,
        at_ms: i64,
    ) -> Result<RoleKind, Denial> {
        if let Some(r) = self.revoked.get(node).filter(|r| r.from_ms <= at_ms) {
            return Err(Denial::Revoked {
                node: node.to_string(),
                from_ms: r.from_ms,
                reason: r.reason.clone(),
            });
        }
        let cert = self.certificate_at(node, at_ms)?;
        let allowed = match (target, cert.role) {
            (WriteTarget::Residents(v), RoleKind::Village) => cert.village == Some(*v),
            (WriteTarget::CrossingLog(owner), RoleKind::Checkpoint) => {
                node.peer_id().is_some_and(|p| p.to_string() == *owner)
            }
            (WriteTarget::Case, RoleKind::Checkpoint | RoleKind::Facility | RoleKind::Village) => {
                true
            }
            _ => false,
        };
        if allowed {
            Ok(cert.role)
        } else {
            Err(Denial::NotAllowed {
                node: node.to_string(),
                role: cert.role.as_str(),
                target: target.to_string(),
            })
        }
    }

    /// Check a write signature received now: valid, signed by a key allowed to
    /// write `target` when it claims to have signed, and not from the future.
    pub fn check_write(
        &self,
        sig: &WriteSignature,
        target: &WriteTarget<'_>,
        now_ms: i64,
    ) -> Result<RoleKind, Denial> {
        if sig.signed_ms > now_ms + MAX_CLOCK_SKEW_MS {
            return Err(Denial::FromTheFuture {
                signed_ms: sig.signed_ms,
                now_ms,
            });
        }
        sig.verify_signature()
            .map_err(|e| Denial::BadSignature(e.to_string()))?;
        self.may_write(&sig.signer, target, sig.signed_ms)
    }
}
