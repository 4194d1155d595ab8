//! What a node is, and so what it may write. One type for every crate: the
//! data directory's `role.toml`, the root's certificates, the writers of an
//! isolation case, the mesh's identify claim and the API's role checks.
//!
//! - [`RoleKind`]: the kind alone (what a certificate grants, what a case
//!   records of its writer);
//! - [`Role`]: the kind with what makes it one node: the village of a
//!   village office, the name of a checkpoint or facility.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::banyuwangi::{self, VillageCode};
use crate::doc_id::DocId;

/// The kind of a node. The order of the variants is part of the wire
/// format of certificates (postcard encodes the variant's position): add new
/// kinds at the end only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleKind {
    /// A village office: writes its own residents; isolation cases of its people.
    Village,
    /// A border checkpoint: writes its crossing log and the cases it opens.
    Checkpoint,
    /// An isolation facility (GOR): writes isolation cases.
    Facility,
    /// Reads everything, writes nothing.
    Auditor,
}

impl RoleKind {
    /// Every kind, in wire order.
    pub const ALL: [RoleKind; 4] = [
        RoleKind::Village,
        RoleKind::Checkpoint,
        RoleKind::Facility,
        RoleKind::Auditor,
    ];

    /// Stable machine name (`village`, `checkpoint`, `facility`, `auditor`).
    pub fn as_str(self) -> &'static str {
        match self {
            RoleKind::Village => "village",
            RoleKind::Checkpoint => "checkpoint",
            RoleKind::Facility => "facility",
            RoleKind::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<RoleKind> {
        RoleKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// May a node of this kind write isolation cases? Every kind but an auditor.
    pub fn writes_cases(self) -> bool {
        !matches!(self, RoleKind::Auditor)
    }
}

impl FromStr for RoleKind {
    type Err = RoleError;
    fn from_str(s: &str) -> Result<RoleKind, RoleError> {
        RoleKind::parse(s).ok_or_else(|| RoleError::BadKind(s.into()))
    }
}

impl fmt::Display for RoleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One node's role: its kind and what it is the node of.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Role {
    /// A village office: writes its own residents.
    Village { village: VillageCode },
    /// A border checkpoint (e.g. `ketapang`): writes its crossing log.
    Checkpoint { name: String },
    /// An isolation facility (e.g. `gor-tawangalun`): writes the isolation
    /// cases in its care.
    Facility { name: String },
    /// Reads everything, writes nothing.
    Auditor,
}

/// A role that cannot be read (from a tag or a name).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoleError {
    #[error("'{0}' is not a {1} name: use 1-32 lowercase letters, digits or '-', e.g. {2}")]
    BadName(String, &'static str, &'static str),
    #[error("'{0}' is not a role: write village:35.10.15.2012, checkpoint:NAME, facility:NAME or auditor")]
    BadTag(String),
    #[error("{0}")]
    BadVillage(String),
    #[error("'{0}' is not a role: use village, checkpoint, facility or auditor")]
    BadKind(String),
}

/// 1-32 of `a-z 0-9 -`: safe in file names, URLs and log lines.
pub fn is_node_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Role {
    /// A checkpoint with a checked name: 1-32 of `a-z 0-9 -`.
    pub fn checkpoint(name: &str) -> Result<Role, RoleError> {
        if !is_node_name(name) {
            return Err(RoleError::BadName(name.into(), "checkpoint", "ketapang"));
        }
        Ok(Role::Checkpoint { name: name.into() })
    }

    /// An isolation facility with a checked name (the rules of a checkpoint's).
    pub fn facility(name: &str) -> Result<Role, RoleError> {
        if !is_node_name(name) {
            return Err(RoleError::BadName(
                name.into(),
                "facility",
                "gor-tawangalun",
            ));
        }
        Ok(Role::Facility { name: name.into() })
    }

    pub fn kind(&self) -> RoleKind {
        match self {
            Role::Village { .. } => RoleKind::Village,
            Role::Checkpoint { .. } => RoleKind::Checkpoint,
            Role::Facility { .. } => RoleKind::Facility,
            Role::Auditor => RoleKind::Auditor,
        }
    }

    /// The village whose residents this node writes, if it is a village office.
    pub fn village(&self) -> Option<VillageCode> {
        match self {
            Role::Village { village } => Some(*village),
            _ => None,
        }
    }

    /// The verdict cards this node owns, if any: the village document
    /// every node holds and verdicts rest on, whose copies' age the mesh
    /// tracks (a checkpoint's own crossing log is named by its peer id,
    /// which the role does not know).
    pub fn owned_village_doc(&self) -> Option<DocId> {
        self.village().map(DocId::card)
    }

    /// The machine form shown to peers and in the API:
    /// `village:35.10.15.2012`, `checkpoint:ketapang`, `facility:gor-tawangalun`, `auditor`.
    pub fn tag(&self) -> String {
        match self {
            Role::Village { village } => format!("village:{village}"),
            Role::Checkpoint { name } => format!("checkpoint:{name}"),
            Role::Facility { name } => format!("facility:{name}"),
            Role::Auditor => "auditor".into(),
        }
    }
}

impl FromStr for Role {
    type Err = RoleError;

    /// The form of [`Role::tag`].
    fn from_str(s: &str) -> Result<Role, RoleError> {
        match s.split_once(':') {
            Some(("village", code)) => VillageCode::parse(code)
                .map(|village| Role::Village { village })
                .map_err(|e| RoleError::BadVillage(e.to_string())),
            Some(("checkpoint", name)) => Role::checkpoint(name),
            Some(("facility", name)) => Role::facility(name),
            None if s == "auditor" => Ok(Role::Auditor),
            _ => Err(RoleError::BadTag(s.into())),
        }
    }
}

/// For people: `village Kampunganyar (35.10.15.2012)`, `checkpoint ketapang`.
impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Village { village } => {
                let name = banyuwangi::village(*village).map_or("?", |v| v.name);
                write!(f, "village {name} ({village})")
            }
            Role::Checkpoint { name } => write!(f, "checkpoint {name}"),
            Role::Facility { name } => write!(f, "facility {name}"),
            Role::Auditor => f.write_str("auditor"),
        }
    }
}

/// A person or program that wrote something, as replicated changes record
/// it: an account or token id of the writing node, and the name people read.
/// Which node wrote is the change's own actor (its key).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Author {
    pub id: String,
    pub name: String,
}

impl Author {
    /// The line a change's message carries: `by <id> <name>`.
    pub fn message_line(&self) -> String {
        format!("by {} {}", self.id, self.name)
    }

    /// A change's message with the author's line appended, if any.
    pub fn stamp(message: String, author: Option<&Author>) -> String {
        match author {
            Some(a) => format!("{message}\n{}", a.message_line()),
            None => message,
        }
    }

    /// The author a change's message names, if it names one.
    pub fn from_message(message: &str) -> Option<Author> {
        let line = message.lines().find_map(|l| l.strip_prefix("by "))?;
        let (id, name) = line.split_once(' ')?;
        Some(Author {
            id: id.to_string(),
            name: name.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_and_bad_ones_say_why() {
        for tag in [
            "village:35.10.15.2012",
            "checkpoint:ketapang",
            "facility:gor-tawangalun",
            "auditor",
        ] {
            let role: Role = tag.parse().unwrap();
            assert_eq!(role.tag(), tag);
            assert_eq!(RoleKind::parse(role.kind().as_str()), Some(role.kind()));
        }
        assert!(matches!(
            "checkpoint:Ketapang".parse::<Role>(),
            Err(RoleError::BadName(..))
        ));
        assert!(matches!(
            "village:35.10.99.9999".parse::<Role>(),
            Err(RoleError::BadVillage(_))
        ));
        assert!(matches!("root".parse::<Role>(), Err(RoleError::BadTag(_))));
        let v: Role = "village:35.10.15.2012".parse().unwrap();
        assert_eq!(v.to_string(), "village Kampunganyar (35.10.15.2012)");
        assert_eq!(
            v.owned_village_doc().map(|d| d.to_string()).as_deref(),
            Some("k/35.10.15.2012")
        );
    }

    #[test]
    fn authors_round_trip_through_a_change_message() {
        let a = Author {
            id: "u-1a2b3c4d".into(),
            name: "Bripka Made Suarta".into(),
        };
        let m = Author::stamp("crossing barred turned_back".into(), Some(&a));
        assert_eq!(Author::from_message(&m), Some(a));
        assert_eq!(Author::from_message("set 3510155203850001"), None);
        assert_eq!(Author::stamp("x".into(), None), "x");
    }
}
