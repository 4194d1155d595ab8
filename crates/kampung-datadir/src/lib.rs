//! A node's data directory.
//!
//! ```text
//! DIR/role.toml   the node's role (village + code, checkpoint + name,
//!                 facility + name, auditor) and peer id; written by
//!                 `kampung init`, never edited (the configuration that
//!                 `kampung run --config` reads is another file). A data
//!                 directory from before this name has `node.toml`, which
//!                 opening renames
//! DIR/node.key    its ed25519 key pair (libp2p protobuf encoding, mode 0600)
//! DIR/root.pub    the mesh's root public key: the regency administrator's
//!                 peer id, one line (written by `kampung init --root` or
//!                 `kampung trust root`)
//! DIR/development present instead of root.pub on a node initialised
//!                 without a root: development mode, which accepts any
//!                 change from any peer and so runs on loopback only. A
//!                 directory with neither is refused (a deleted root.pub
//!                 never turns a node open)
//! DIR/store/      the sled database (documents, index, root-signed statements,
//!                 and the node-local tables: people, sessions, tokens, access log)
//! DIR/local.secret the local credential (mode 0600): the `kampung` CLI on the
//!                 node's own machine sends it to the running node's API
//! ```
//!
//! The key's public half is the node's libp2p peer id and the Automerge actor
//! of every change it writes, so a document's history names its writers; the
//! registry opened here signs every write with it.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kampung_store::storage::sled_storage::SledStorage;
use kampung_store::Registry;
use kampung_trust::NodeKey;
use libp2p_identity::Keypair;
use serde::{Deserialize, Serialize};

pub use kampung_core::Role;

/// The role file's name in a data directory.
pub const ROLE_FILE: &str = "role.toml";
/// Its name before: easy to take for the configuration file.
const OLD_ROLE_FILE: &str = "node.toml";

/// The files of a data directory that make the node itself (besides its
/// store): what a backup keeps and a restore writes back.
pub const IDENTITY_FILES: [&str; 6] = [
    ROLE_FILE,
    "node.key",
    "root.pub",
    "development",
    "tls.crt",
    "tls.key",
];

/// The contents of `role.toml`.
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
    #[error("{0} is not a kampung data directory (no role.toml): run `kampung init` first, or pass --data DIR")]
    NotInitialised(PathBuf),
    #[error("{0} is already initialised as a node; use another --data directory, or remove it to start over")]
    AlreadyInitialised(PathBuf),
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("{path} is damaged: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{0} is missing: this node was set up with the mesh's root key and trusts nobody without it. Restore it with `kampung trust root ROOT.pub` (the file from the regency administrator)")]
    RootMissing(PathBuf),
    #[error(transparent)]
    BadRole(#[from] kampung_core::role::RoleError),
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

/// Make the data directory readable by its owner only (the residents'
/// records, the node's key and the people's sessions are inside). A
/// directory another user owns (an auditor reading a copy) is left as it is.
fn owner_only(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o700));
            }
        }
    }
}

/// A data directory made before the role file was `role.toml` has
/// `node.toml`: renamed once (said on stderr), if it is a role file (a
/// configuration someone put there under that name is left alone).
fn migrate_role_file(path: &Path) -> Result<(), DataDirError> {
    let old = path.join(OLD_ROLE_FILE);
    let new = path.join(ROLE_FILE);
    if new.exists() || !old.exists() {
        return Ok(());
    }
    let Ok(text) = fs::read_to_string(&old) else {
        return Ok(());
    };
    if toml::from_str::<NodeInfo>(&text).is_err() {
        return Ok(());
    }
    fs::rename(&old, &new).map_err(io(&old))?;
    eprintln!(
        "{} renamed to {} (the node's role; the configuration `kampung run --config` reads is another file)",
        old.display(),
        new.display()
    );
    Ok(())
}

impl DataDir {
    /// Create a data directory for a new node with a fresh key pair.
    pub fn init(path: &Path, role: Role) -> Result<DataDir, DataDirError> {
        if path.join(ROLE_FILE).exists() || path.join(OLD_ROLE_FILE).exists() {
            return Err(DataDirError::AlreadyInitialised(path.to_path_buf()));
        }
        fs::create_dir_all(path).map_err(io(path))?;
        owner_only(path);
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
            path: path.join(ROLE_FILE),
            reason: e.to_string(),
        })?;
        // The role file last: its presence marks a complete init.
        write_atomic(&path.join(ROLE_FILE), text.as_bytes(), false)?;
        let dir = DataDir {
            path: path.to_path_buf(),
            keypair,
            info,
        };
        dir.local_secret()?;
        Ok(dir)
    }

    /// Open an initialised data directory, checking its files (and making
    /// it owner-only if it was not: directories made before that rule).
    pub fn open(path: &Path) -> Result<DataDir, DataDirError> {
        migrate_role_file(path)?;
        let info_path = path.join(ROLE_FILE);
        let text = match fs::read_to_string(&info_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DataDirError::NotInitialised(path.to_path_buf()))
            }
            Err(e) => return Err(io(&info_path)(e)),
        };
        owner_only(path);
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

    /// Where the local credential is kept (owner-only).
    pub fn local_secret_path(&self) -> PathBuf {
        self.path.join("local.secret")
    }

    /// The local credential: what the CLI on this machine shows the running
    /// node's API (as Docker's socket or kubo's API file, reading it needs
    /// the node's own user). Made on first use, mode 0600.
    pub fn local_secret(&self) -> Result<String, DataDirError> {
        let path = self.local_secret_path();
        match fs::read_to_string(&path) {
            Ok(t) if !t.trim().is_empty() => return Ok(t.trim().to_string()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path)(e)),
        }
        let secret: String = (0..32)
            .map(|_| format!("{:02x}", rand::random::<u8>()))
            .collect();
        let secret = format!("kl_{secret}");
        write_atomic(&path, format!("{secret}\n").as_bytes(), true)?;
        Ok(secret)
    }

    /// The TLS certificate and key the API serves a LAN address with, unless
    /// configured otherwise (`tls.crt`, `tls.key`, the key owner-only); made
    /// on first use, self-signed for `localhost` and this node: a tablet
    /// checks it by its fingerprint (`kampung status` shows it).
    pub fn tls_pair(&self) -> Result<(PathBuf, PathBuf), DataDirError> {
        let (cert, key) = (self.path.join("tls.crt"), self.path.join("tls.key"));
        if cert.exists() && key.exists() {
            return Ok((cert, key));
        }
        let name = format!(
            "kampung-{}",
            self.info
                .peer_id
                .chars()
                .rev()
                .take(8)
                .collect::<String>()
                .to_lowercase()
        );
        let made = rcgen::generate_simple_self_signed(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            name,
        ])
        .map_err(|e| DataDirError::Io {
            path: cert.clone(),
            reason: format!("cannot make a TLS certificate: {e}"),
        })?;
        write_atomic(&key, made.key_pair.serialize_pem().as_bytes(), true)?;
        write_atomic(&cert, made.cert.pem().as_bytes(), false)?;
        Ok((cert, key))
    }

    /// Where the mesh's root public key is kept.
    pub fn root_key_path(&self) -> PathBuf {
        self.path.join("root.pub")
    }

    /// The mesh's root public key (`root.pub`); `None` only for a node in
    /// development mode (see [`DataDir::mark_development`]). A missing
    /// `root.pub` on any other node is an error, never a silent downgrade
    /// to a node that trusts everyone.
    pub fn root_key(&self) -> Result<Option<NodeKey>, DataDirError> {
        let path = self.root_key_path();
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return if self.is_development() {
                    Ok(None)
                } else {
                    Err(DataDirError::RootMissing(path))
                };
            }
            Err(e) => return Err(io(&path)(e)),
        };
        text.trim()
            .parse::<NodeKey>()
            .map(Some)
            .map_err(|e| DataDirError::Corrupt {
                path,
                reason: format!(
                    "{e}; it must hold the root's peer id, as in the ROOT.pub file from `kampung admin keygen`"
                ),
            })
    }

    /// Configure the mesh's root public key (replaces any earlier one, and
    /// ends development mode).
    pub fn set_root_key(&self, root: NodeKey) -> Result<(), DataDirError> {
        write_atomic(&self.root_key_path(), format!("{root}\n").as_bytes(), false)?;
        let marker = self.development_path();
        match fs::remove_file(&marker) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&marker)(e)),
        }
    }

    fn development_path(&self) -> PathBuf {
        self.path.join("development")
    }

    /// Is this a node without the mesh's root key (development mode)?
    pub fn is_development(&self) -> bool {
        self.development_path().exists()
    }

    /// Set up this node without a root key: development mode, on one
    /// machine only (what `kampung init` without `--root` does).
    pub fn mark_development(&self) -> Result<(), DataDirError> {
        write_atomic(
            &self.development_path(),
            b"This node was initialised without the mesh's root key: development mode.\n\
It accepts any change from any peer, so it runs on loopback only, with mDNS off.\n\
For a real mesh: kampung trust root ROOT.pub (this file is then removed).\n",
            false,
        )
    }

    /// The files that make this node itself, as a backup keeps them: its
    /// role, its key, its root (or development marker) and the API's TLS
    /// pair, those present, by name (see [`IDENTITY_FILES`]).
    pub fn identity_files(&self) -> Result<Vec<(String, Vec<u8>)>, DataDirError> {
        let mut files = Vec::new();
        for name in IDENTITY_FILES {
            let path = self.path.join(name);
            match fs::read(&path) {
                Ok(bytes) => files.push((name.to_string(), bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&path)(e)),
            }
        }
        Ok(files)
    }

    /// Make a data directory at `path` (which holds no node) from the files
    /// [`DataDir::identity_files`] gave, and open it: the same node, with
    /// an empty store and a new local credential. Private files are written
    /// owner-only; the role file last, so an interrupted restore leaves no
    /// directory that looks initialised.
    pub fn restore_identity(
        path: &Path,
        files: &[(String, Vec<u8>)],
    ) -> Result<DataDir, DataDirError> {
        if path.join(ROLE_FILE).exists() || path.join(OLD_ROLE_FILE).exists() {
            return Err(DataDirError::AlreadyInitialised(path.to_path_buf()));
        }
        fs::create_dir_all(path).map_err(io(path))?;
        owner_only(path);
        let mut role = None;
        for (name, bytes) in files {
            let Some(known) = IDENTITY_FILES.iter().find(|f| **f == name.as_str()) else {
                return Err(DataDirError::Corrupt {
                    path: path.join(name),
                    reason: "not a file of a data directory's identity".into(),
                });
            };
            if *known == ROLE_FILE {
                role = Some(bytes);
                continue;
            }
            let private = matches!(*known, "node.key" | "tls.key");
            write_atomic(&path.join(known), bytes, private)?;
        }
        let Some(role) = role else {
            return Err(DataDirError::NotInitialised(path.to_path_buf()));
        };
        write_atomic(&path.join(ROLE_FILE), role, false)?;
        let dir = DataDir::open(path)?;
        dir.local_secret()?;
        Ok(dir)
    }

    /// Was the store written by an earlier kampung, in another layout? Then
    /// how many documents it holds (see [`DataDir::migrate_store`]).
    pub fn earlier_store(&self) -> Result<Option<usize>, DataDirError> {
        Ok(SledStorage::earlier_layout(&self.path.join("store"))?)
    }

    /// Move a store of an earlier layout to this version's (`kampung
    /// migrate`, after its backup), counting what it holds before and after.
    pub fn migrate_store(&self) -> Result<kampung_store::storage::census::Migration, DataDirError> {
        Ok(SledStorage::migrate(&self.path.join("store"))?)
    }

    /// Open the store alone, without loading the index (for trust statements and audit).
    pub fn open_storage(&self) -> Result<SledStorage, DataDirError> {
        Ok(SledStorage::open(&self.path.join("store"))?)
    }

    /// Open the registry stored in this directory. Every write it makes is
    /// signed with the node key (whose public half is the changes' actor).
    pub fn open_registry(&self, this_year: i32) -> Result<Registry<SledStorage>, DataDirError> {
        let storage = self.open_storage()?;
        let mut registry = Registry::open(storage, self.actor(), this_year)?;
        registry.set_signer(Arc::new(self.keypair.clone()));
        Ok(registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kampung_core::VillageCode;

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

    #[cfg(unix)]
    #[test]
    fn the_data_directory_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("node");
        let d = DataDir::init(&data, Role::Auditor).unwrap();
        d.open_registry(2026).unwrap();
        assert_eq!(mode(&data), 0o700);
        // A directory made before the rule is tightened when opened.
        fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).unwrap();
        DataDir::open(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
    }

    #[test]
    fn a_role_file_under_its_old_name_is_renamed_and_a_config_there_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let made = DataDir::init(dir.path(), Role::checkpoint("ketapang").unwrap()).unwrap();
        fs::rename(dir.path().join(ROLE_FILE), dir.path().join(OLD_ROLE_FILE)).unwrap();
        let opened = DataDir::open(dir.path()).unwrap();
        assert_eq!(opened.info(), made.info());
        assert!(dir.path().join(ROLE_FILE).exists());
        assert!(!dir.path().join(OLD_ROLE_FILE).exists());

        let other = tempfile::tempdir().unwrap();
        fs::write(
            other.path().join(OLD_ROLE_FILE),
            "[network]\nmdns = false\n",
        )
        .unwrap();
        assert!(matches!(
            DataDir::open(other.path()),
            Err(DataDirError::NotInitialised(_))
        ));
        assert!(other.path().join(OLD_ROLE_FILE).exists(), "left alone");
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
        fs::write(dir.path().join(ROLE_FILE), "role = \"mayor\"\n").unwrap();
        let err = DataDir::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains(ROLE_FILE), "{err}");
        assert!(Role::checkpoint("Ketapang Harbour").is_err());
    }

    #[test]
    fn facility_role_round_trips_and_maps_to_its_trust_role() {
        let dir = tempfile::tempdir().unwrap();
        let role = Role::facility("gor-tawangalun").unwrap();
        DataDir::init(dir.path(), role.clone()).unwrap();
        let opened = DataDir::open(dir.path()).unwrap();
        assert_eq!(opened.role(), &role);
        assert_eq!(opened.role().kind(), kampung_core::RoleKind::Facility);
        assert_eq!(role.to_string(), "facility gor-tawangalun");
        let err = Role::facility("GOR Tawangalun").unwrap_err().to_string();
        assert!(err.contains("facility name"), "{err}");
        assert_eq!(Role::Auditor.kind(), kampung_core::RoleKind::Auditor);
    }

    #[test]
    fn root_key_is_kept_and_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let d = DataDir::init(dir.path(), Role::Auditor).unwrap();
        // Neither a root nor development mode: refused, naming the file.
        let err = d.root_key().unwrap_err().to_string();
        assert!(
            err.contains("root.pub is missing") && err.contains("kampung trust root"),
            "{err}"
        );
        d.mark_development().unwrap();
        assert!(d.is_development());
        assert_eq!(d.root_key().unwrap(), None);
        let root = NodeKey::from_public(&Keypair::generate_ed25519().public()).unwrap();
        d.set_root_key(root).unwrap();
        assert!(!d.is_development(), "a root ends development mode");
        assert_eq!(
            DataDir::open(dir.path()).unwrap().root_key().unwrap(),
            Some(root)
        );
        let text = fs::read_to_string(dir.path().join("root.pub")).unwrap();
        assert_eq!(text.trim(), root.to_string());
        fs::write(dir.path().join("root.pub"), "not a key\n").unwrap();
        let err = d.root_key().unwrap_err().to_string();
        assert!(err.contains("root.pub") && err.contains("damaged"), "{err}");
        // Deleted: an error, not a node that trusts everyone.
        fs::remove_file(dir.path().join("root.pub")).unwrap();
        assert!(matches!(d.root_key(), Err(DataDirError::RootMissing(_))));
    }

    #[test]
    fn the_registry_signs_writes_with_the_node_key() {
        let dir = tempfile::tempdir().unwrap();
        let village = VillageCode::parse("35.10.15.2012").unwrap();
        let d = DataDir::init(dir.path(), Role::Village { village }).unwrap();
        let mut reg = d.open_registry(2026).unwrap();
        let people = kampung_gen::village_residents(village, 3, 1);
        reg.write(village, &people, 1_000, &mut |_| {}).unwrap();
        let stored =
            kampung_store::Storage::load(reg.storage(), &kampung_store::DocId::village(village))
                .unwrap()
                .unwrap();
        assert_eq!(stored.signatures.len(), 1);
        let sig = kampung_trust::WriteSignature::decode(&stored.signatures[0].1).unwrap();
        assert_eq!(
            sig.signer,
            NodeKey::from_public(&d.keypair().public()).unwrap()
        );
        sig.verify_signature().unwrap();
    }
}
