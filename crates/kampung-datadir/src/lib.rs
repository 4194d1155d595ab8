//! A node's data directory.
//!
//! ```text
//! DIR/node.toml   the node's role (village + code, checkpoint + name, auditor)
//! DIR/node.key    its ed25519 key pair (libp2p protobuf encoding, mode 0600)
//! DIR/store/      the sled database (documents and index)
//! ```
//!
//! The key's public half is the node's libp2p peer id and the Automerge actor
//! of every change it writes, so a document's history names its writers.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use kampung_core::VillageCode;
use kampung_store::storage::sled_storage::SledStorage;
use kampung_store::Registry;
use libp2p_identity::Keypair;
use serde::{Deserialize, Serialize};

/// What a node is for; decides what it may write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Role {
    /// A village office: writes its own residents.
    Village { village: VillageCode },
    /// A border checkpoint (e.g. `ketapang`): writes its crossing log.
    Checkpoint { name: String },
    /// Reads everything, writes nothing.
    Auditor,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Village { village } => {
                let name = kampung_core::banyuwangi::village(*village).map_or("?", |v| v.name);
                write!(f, "village {name} ({village})")
            }
            Role::Checkpoint { name } => write!(f, "checkpoint {name}"),
            Role::Auditor => f.write_str("auditor"),
        }
    }
}

impl Role {
    /// A checkpoint with a checked name: 1-32 of `a-z 0-9 -`.
    pub fn checkpoint(name: &str) -> Result<Role, DataDirError> {
        let ok = !name.is_empty()
            && name.len() <= 32
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(DataDirError::BadCheckpointName(name.to_string()));
        }
        Ok(Role::Checkpoint {
            name: name.to_string(),
        })
    }
}

/// The contents of `node.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    #[serde(flatten)]
    pub role: Role,
    pub peer_id: String,
}

/// Errors about the data directory, each naming the file and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataDirError {
    #[error("{0} is not a kampung data directory (no node.toml): run `kampung init` first, or pass --data DIR")]
    NotInitialised(PathBuf),
    #[error("{0} is already initialised as a node; use another --data directory, or remove it to start over")]
    AlreadyInitialised(PathBuf),
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("{path} is damaged: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "'{0}' is not a checkpoint name: use 1-32 lowercase letters, digits or '-', e.g. ketapang"
    )]
    BadCheckpointName(String),
    #[error(transparent)]
    Store(#[from] kampung_store::StoreError),
}

/// An opened data directory.
pub struct DataDir {
    path: PathBuf,
    keypair: Keypair,
    info: NodeInfo,
}

impl fmt::Debug for DataDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataDir")
            .field("path", &self.path)
            .field("info", &self.info)
            .finish()
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> DataDirError + '_ {
    move |e| DataDirError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Write a file so that a crash leaves either the old or the new content.
fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> Result<(), DataDirError> {
    let tmp = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = options.open(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

impl DataDir {
    /// Create a data directory for a new node with a fresh key pair.
    pub fn init(path: &Path, role: Role) -> Result<DataDir, DataDirError> {
        if path.join("node.toml").exists() {
            return Err(DataDirError::AlreadyInitialised(path.to_path_buf()));
        }
        fs::create_dir_all(path).map_err(io(path))?;
        let keypair = Keypair::generate_ed25519();
        let key_bytes = keypair
            .to_protobuf_encoding()
            .map_err(|e| DataDirError::Io {
                path: path.join("node.key"),
                reason: e.to_string(),
            })?;
        write_atomic(&path.join("node.key"), &key_bytes, true)?;
        let info = NodeInfo {
            role,
            peer_id: keypair.public().to_peer_id().to_string(),
        };
        let text = toml::to_string(&info).map_err(|e| DataDirError::Io {
            path: path.join("node.toml"),
            reason: e.to_string(),
        })?;
        // node.toml last: its presence marks a complete init.
        write_atomic(&path.join("node.toml"), text.as_bytes(), false)?;
        Ok(DataDir {
            path: path.to_path_buf(),
            keypair,
            info,
        })
    }

    /// Open an initialised data directory, checking its files.
    pub fn open(path: &Path) -> Result<DataDir, DataDirError> {
        let info_path = path.join("node.toml");
        let text = match fs::read_to_string(&info_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DataDirError::NotInitialised(path.to_path_buf()))
            }
            Err(e) => return Err(io(&info_path)(e)),
        };
        let info: NodeInfo = toml::from_str(&text).map_err(|e| DataDirError::Corrupt {
            path: info_path.clone(),
            reason: e.to_string().trim().to_string(),
        })?;
        let key_path = path.join("node.key");
        let bytes = fs::read(&key_path).map_err(io(&key_path))?;
        let keypair = Keypair::from_protobuf_encoding(&bytes).map_err(|e| DataDirError::Corrupt {
            path: key_path.clone(),
            reason: format!("not a key pair ({e}); restore it from a backup: the node's identity is in this file"),
        })?;
        let peer_id = keypair.public().to_peer_id().to_string();
        if peer_id != info.peer_id {
            return Err(DataDirError::Corrupt {
                path: info_path,
                reason: format!(
                    "peer_id {} does not match node.key (which is {peer_id})",
                    info.peer_id
                ),
            });
        }
        Ok(DataDir {
            path: path.to_path_buf(),
            keypair,
            info,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn role(&self) -> &Role {
        &self.info.role
    }

    pub fn info(&self) -> &NodeInfo {
        &self.info
    }

    pub fn keypair(&self) -> &Keypair {
        &self.keypair
    }

    /// The Automerge actor of this node's changes: its ed25519 public key.
    pub fn actor(&self) -> automerge::ActorId {
        let public = self.keypair.public();
        match public.clone().try_into_ed25519() {
            Ok(ed) => automerge::ActorId::from(ed.to_bytes().to_vec()),
            Err(_) => automerge::ActorId::from(public.encode_protobuf()),
        }
    }

    /// Open the registry stored in this directory.
    pub fn open_registry(&self, this_year: i32) -> Result<Registry<SledStorage>, DataDirError> {
        let storage = SledStorage::open(&self.path.join("store"))?;
        Ok(Registry::open(storage, self.actor(), this_year)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_then_open_keeps_identity_and_role() {
        let dir = tempfile::tempdir().unwrap();
        let village = VillageCode::parse("35.10.15.2012").unwrap();
        let made = DataDir::init(dir.path(), Role::Village { village }).unwrap();
        let opened = DataDir::open(dir.path()).unwrap();
        assert_eq!(made.info(), opened.info());
        assert_eq!(made.actor(), opened.actor());
        assert_eq!(opened.actor().to_bytes().len(), 32);
        assert!(matches!(
            DataDir::init(dir.path(), Role::Auditor),
            Err(DataDirError::AlreadyInitialised(_))
        ));
    }

    #[test]
    fn damaged_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            DataDir::open(dir.path()),
            Err(DataDirError::NotInitialised(_))
        ));
        DataDir::init(dir.path(), Role::checkpoint("ketapang").unwrap()).unwrap();
        fs::write(dir.path().join("node.key"), b"xx").unwrap();
        let err = DataDir::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("node.key") && err.contains("damaged"), "{err}");
        fs::write(dir.path().join("node.toml"), "role = \"mayor\"\n").unwrap();
        let err = DataDir::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("node.toml"), "{err}");
        assert!(Role::checkpoint("Ketapang Harbour").is_err());
    }
}
