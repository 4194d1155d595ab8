//! Who is acting, and what they may do. Every workflow takes an [`Actor`]
//! and checks its [`Permission`] itself, so the API, the pages and the CLI
//! cannot disagree about who may do what; the workflow also records who
//! wrote (see [`Actor::author`]).

use std::fmt;
use std::str::FromStr;

use kampung_core::{Role, RoleKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ErrorCode, NodeError};

/// What a person does at a node; an account has exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PersonRole {
    /// A checkpoint officer (petugas pos): checks KTPs, logs crossings, opens cases.
    Officer,
    /// A village clerk (operator desa): the village's residents and its people's cases.
    Clerk,
    /// Isolation facility staff (or a village task force): cases and follow-ups.
    Facility,
    /// An auditor (Inspektorat, Dukcapil): reads everything, writes nothing.
    Auditor,
    /// The node's operator (regency IT): the node, its people, tokens and trust statements.
    Operator,
}

/// What a workflow needs of the actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Permission {
    /// Check a KTP (a verdict or lookup).
    Verdict,
    ReadResidents,
    WriteResidents,
    LogCrossings,
    ReadCrossings,
    ReadCases,
    WriteCases,
    /// Add root-signed statements.
    ManageTrust,
    /// Accounts and tokens of this node.
    ManagePeople,
    /// The node's status, peers and metrics (no personal data).
    ReadNode,
    /// The access log and the audit.
    Audit,
    /// A backup (it holds the node's key): the node's own machine only.
    Backup,
}

impl PersonRole {
    pub const ALL: [PersonRole; 5] = [
        PersonRole::Officer,
        PersonRole::Clerk,
        PersonRole::Facility,
        PersonRole::Auditor,
        PersonRole::Operator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PersonRole::Officer => "officer",
            PersonRole::Clerk => "clerk",
            PersonRole::Facility => "facility",
            PersonRole::Auditor => "auditor",
            PersonRole::Operator => "operator",
        }
    }

    /// May a person of this role act with `p`? The table of README's
    /// "People and roles".
    pub fn may(self, p: Permission) -> bool {
        use Permission as P;
        use PersonRole as R;
        match p {
            P::ReadNode => true,
            P::Verdict => !matches!(self, R::Operator),
            P::ReadResidents => matches!(self, R::Clerk | R::Auditor),
            P::WriteResidents => matches!(self, R::Clerk),
            P::LogCrossings => matches!(self, R::Officer),
            P::ReadCrossings => matches!(self, R::Officer | R::Auditor),
            P::ReadCases => !matches!(self, R::Operator),
            P::WriteCases => matches!(self, R::Officer | R::Clerk | R::Facility),
            P::ManageTrust | P::ManagePeople => matches!(self, R::Operator),
            P::Audit => matches!(self, R::Auditor),
            P::Backup => false,
        }
    }

    /// May an account of this role exist on a node of `node`'s role? An
    /// officer only at a checkpoint, a clerk only at a village office,
    /// facility staff at a facility or a village (its task force); an
    /// auditor and an operator anywhere.
    pub fn allowed_on(self, node: &Role) -> bool {
        match self {
            PersonRole::Officer => node.kind() == RoleKind::Checkpoint,
            PersonRole::Clerk => node.kind() == RoleKind::Village,
            PersonRole::Facility => matches!(node.kind(), RoleKind::Facility | RoleKind::Village),
            PersonRole::Auditor | PersonRole::Operator => true,
        }
    }
}

impl fmt::Display for PersonRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PersonRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        PersonRole::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("'{s}' is not a role: use officer, clerk, facility, auditor or operator")
            })
    }
}

pub use kampung_core::Author;

/// Who is acting on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Actor {
    /// The node's own machine: the CLI with the local credential (reading it
    /// needs the node's own user), or the node itself. May do everything.
    Local,
    /// A person signed in at this node.
    Person {
        /// The account's id (stable; the login name may be re-used later).
        id: String,
        /// The account's login name.
        login: String,
        /// The name people read.
        name: String,
        role: PersonRole,
    },
    /// A program with a token.
    Program {
        /// The token's id.
        id: String,
        label: String,
        role: PersonRole,
    },
    /// Nobody signed in.
    Nobody,
}

impl Actor {
    /// The node's own machine.
    pub fn local() -> Actor {
        Actor::Local
    }

    /// The role acting, if a person or a program.
    pub fn role(&self) -> Option<PersonRole> {
        match self {
            Actor::Person { role, .. } | Actor::Program { role, .. } => Some(*role),
            Actor::Local | Actor::Nobody => None,
        }
    }

    pub fn may(&self, p: Permission) -> bool {
        match self {
            Actor::Local => true,
            Actor::Person { role, .. } | Actor::Program { role, .. } => role.may(p),
            Actor::Nobody => false,
        }
    }

    /// Refuse unless the actor may act with `p`: `unauthenticated` for
    /// nobody, `forbidden` (naming the role) otherwise.
    pub fn require(&self, p: Permission, what: &str) -> Result<(), NodeError> {
        if self.may(p) {
            return Ok(());
        }
        Err(match self {
            Actor::Nobody => NodeError::new(
                ErrorCode::Unauthenticated,
                "sign in first (a session cookie, or Authorization: Bearer with a token)",
            ),
            other => NodeError::new(
                ErrorCode::Forbidden,
                format!(
                    "{} may not {what}",
                    match other.role() {
                        Some(r) => format!("the role {r}"),
                        None => "this caller".into(),
                    }
                ),
            ),
        })
    }

    /// Who a write by this actor is attributed to: the account or token;
    /// `None` for the node's own machine.
    pub fn author(&self) -> Option<Author> {
        match self {
            Actor::Person { id, name, .. } => Some(Author {
                id: id.clone(),
                name: name.clone(),
            }),
            Actor::Program { id, label, .. } => Some(Author {
                id: id.clone(),
                name: label.clone(),
            }),
            Actor::Local | Actor::Nobody => None,
        }
    }

    /// For logs: who, never a secret.
    pub fn describe(&self) -> String {
        match self {
            Actor::Local => "local".into(),
            Actor::Person { login, role, .. } => format!("{login} ({role})"),
            Actor::Program { id, label, role } => format!("token {id} {label} ({role})"),
            Actor::Nobody => "nobody".into(),
        }
    }
}
