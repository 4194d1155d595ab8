//! What the regency's root key signs: membership certificates, revocations
//! and the checkpoint policy. Each is a [`Signed`] statement: the same bytes
//! travel through the mesh (postcard) and sit in the administrator's files (JSON).

use kampung_core::{Policy, VillageCode};
use libp2p_identity::Keypair;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::key::{NodeKey, Signature};
use crate::TrustError;

/// What a certified node may do: one of the mesh's role kinds.
pub use kampung_core::RoleKind;

/// Admits one node key to the mesh, with a role, for a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    pub node: NodeKey,
    pub role: RoleKind,
    /// The village a village node writes for (required for, and only for, that role).
    pub village: Option<VillageCode>,
    /// A name people recognise ("Pelabuhan Ketapang", "Kantor Desa Olehsari").
    pub label: String,
    /// Valid from this time (unix ms)...
    pub not_before_ms: i64,
    /// ...until this time (unix ms).
    pub until_ms: i64,
}

impl Certificate {
    pub fn in_force_at(&self, at_ms: i64) -> bool {
        self.not_before_ms <= at_ms && at_ms <= self.until_ms
    }

    fn check(&self) -> Result<(), TrustError> {
        match (self.role, self.village) {
            (RoleKind::Village, None) => Err(TrustError::BadStatement(
                "a village certificate must name its village".into(),
            )),
            (RoleKind::Village, Some(_)) | (_, None) => Ok(()),
            (role, Some(_)) => Err(TrustError::BadStatement(format!(
                "a {} certificate does not name a village",
                role.as_str()
            ))),
        }?;
        if self.until_ms < self.not_before_ms {
            return Err(TrustError::BadStatement(
                "the certificate ends before it starts".into(),
            ));
        }
        if self.label.len() > 200 {
            return Err(TrustError::BadStatement(
                "label longer than 200 bytes".into(),
            ));
        }
        Ok(())
    }
}

/// Withdraws a node's membership from a time on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    pub node: NodeKey,
    /// Writes signed from this time (unix ms) on are refused, and the node is cut off.
    pub from_ms: i64,
    pub reason: String,
}

/// A policy with the time it was issued. As [`Statement::Policy`] it
/// carries no retention (the form every node reads); a policy that sets one
/// travels as [`Statement::RetainedPolicy`] ([`IssuedPolicy::into_statement`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuedPolicy {
    pub policy: Policy,
    pub issued_ms: i64,
}

/// A policy that sets a retention: its own kind of statement, so that the
/// signed bytes of every earlier policy stay as they were, and nodes
/// before retention refuse it as a kind they do not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetainedPolicy {
    pub policy: Policy,
    pub issued_ms: i64,
    pub retention: kampung_core::Retention,
}

/// A policy that names who keeps each village's details
/// ([`kampung_core::HolderRule`]): its own kind of statement again, so
/// that nodes before it refuse it rather than apply it without the rule
/// (the rule is in every read-scope decision, and both ends must agree).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeldPolicy {
    pub policy: Policy,
    pub issued_ms: i64,
    pub retention: kampung_core::Retention,
    pub holders: kampung_core::HolderRule,
}

impl IssuedPolicy {
    /// The statement the root signs for this policy: the oldest kind that
    /// carries everything it sets.
    pub fn into_statement(self) -> Statement {
        if !self.policy.holders.is_default() {
            Statement::HeldPolicy(HeldPolicy {
                retention: self.policy.retention,
                holders: self.policy.holders.clone(),
                policy: self.policy,
                issued_ms: self.issued_ms,
            })
        } else if self.policy.retention.keeps_everything() {
            Statement::Policy(self)
        } else {
            Statement::RetainedPolicy(RetainedPolicy {
                retention: self.policy.retention,
                policy: self.policy,
                issued_ms: self.issued_ms,
            })
        }
    }
}

/// Something the root key says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Statement {
    Certificate(Certificate),
    Revocation(Revocation),
    Policy(IssuedPolicy),
    RetainedPolicy(RetainedPolicy),
    HeldPolicy(HeldPolicy),
}

impl Statement {
    pub fn kind(&self) -> &'static str {
        match self {
            Statement::Certificate(_) => "certificate",
            Statement::Revocation(_) => "revocation",
            Statement::Policy(_) | Statement::RetainedPolicy(_) | Statement::HeldPolicy(_) => {
                "policy"
            }
        }
    }

    /// The policy this statement issues, with its retention, if it is one.
    pub fn policy(&self) -> Option<IssuedPolicy> {
        match self {
            Statement::Policy(p) => Some(p.clone()),
            Statement::RetainedPolicy(r) => Some(IssuedPolicy {
                policy: Policy {
                    retention: r.retention,
                    ..r.policy.clone()
                },
                issued_ms: r.issued_ms,
            }),
            Statement::HeldPolicy(h) => Some(IssuedPolicy {
                policy: Policy {
                    retention: h.retention,
                    holders: h.holders.clone(),
                    ..h.policy.clone()
                },
                issued_ms: h.issued_ms,
            }),
            _ => None,
        }
    }

    fn check(&self) -> Result<(), TrustError> {
        match self {
            Statement::Certificate(c) => c.check(),
            Statement::Revocation(r) if r.reason.len() > 500 => Err(TrustError::BadStatement(
                "revocation reason longer than 500 bytes".into(),
            )),
            Statement::Policy(IssuedPolicy { policy, .. })
            | Statement::RetainedPolicy(RetainedPolicy { policy, .. })
            | Statement::HeldPolicy(HeldPolicy { policy, .. })
                if policy.barred.len() > 600 =>
            {
                Err(TrustError::BadStatement(
                    "policy bars more regions than exist".into(),
                ))
            }
            _ => Ok(()),
        }
    }
}

/// Domain separation: a root signature means nothing outside this use.
const ROOT_CONTEXT: &[u8] = b"kampung/root-statement/1\0";

/// A statement with the root key's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signed {
    pub statement: Statement,
    pub signature: Signature,
}

/// Most bytes a signed statement may take on the wire or in a file.
pub const MAX_STATEMENT_BYTES: usize = 4096;

fn signing_bytes(statement: &Statement) -> Result<Vec<u8>, TrustError> {
    let body =
        postcard::to_stdvec(statement).map_err(|e| TrustError::BadStatement(e.to_string()))?;
    let mut msg = ROOT_CONTEXT.to_vec();
    msg.extend_from_slice(&body);
    Ok(msg)
}

impl Signed {
    /// Sign a statement with the root key (the administrator's `kampung admin`).
    pub fn sign(statement: Statement, root: &Keypair) -> Result<Signed, TrustError> {
        statement.check()?;
        let msg = signing_bytes(&statement)?;
        let signature = root
            .sign(&msg)
            .map_err(|e| TrustError::BadKey(e.to_string()))?;
        let signed = Signed {
            statement,
            signature: Signature(signature),
        };
        // Nodes refuse a longer one on the wire: never sign it.
        let size = signed.encode().len();
        if size > MAX_STATEMENT_BYTES {
            return Err(TrustError::BadStatement(format!(
                "the statement takes {size} bytes, at most {MAX_STATEMENT_BYTES}: a policy names the holders of about 130 villages at most (set --detail-backups for the rest)"
            )));
        }
        Ok(signed)
    }

    /// Check the signature against the configured root and the statement's own rules.
    pub fn verify(&self, root: &NodeKey) -> Result<(), TrustError> {
        self.statement.check()?;
        if !root.verify(&signing_bytes(&self.statement)?, &self.signature) {
            return Err(TrustError::NotSignedByRoot {
                what: self.statement.kind(),
            });
        }
        Ok(())
    }

    /// Wire form (postcard).
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// Read the wire form, within [`MAX_STATEMENT_BYTES`]. Does not verify.
    pub fn decode(bytes: &[u8]) -> Result<Signed, TrustError> {
        if bytes.len() > MAX_STATEMENT_BYTES {
            return Err(TrustError::BadStatement(format!(
                "{} bytes, at most {MAX_STATEMENT_BYTES}",
                bytes.len()
            )));
        }
        postcard::from_bytes(bytes).map_err(|e| TrustError::BadStatement(e.to_string()))
    }

    /// File form (JSON, readable by people).
    pub fn to_file_text(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Read the file form. Does not verify.
    pub fn from_file_text(text: &str) -> Result<Signed, TrustError> {
        if text.len() > 4 * MAX_STATEMENT_BYTES {
            return Err(TrustError::BadStatement("file too large".into()));
        }
        serde_json::from_str(text).map_err(|e| TrustError::BadStatement(e.to_string()))
    }

    /// A stable name for this exact statement (SHA-256 of the wire form).
    pub fn id(&self) -> [u8; 32] {
        Sha256::digest(self.encode()).into()
    }
}
