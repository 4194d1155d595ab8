//! Backups of a node, taken while it runs, and restoring one into an empty
//! data directory.
//!
//! A backup is a tar file an operator can list (`tar tf`):
//!
//! ```text
//! files/role.toml, files/node.key, ...   the node itself (its key: keep the file safe)
//! trust.bin                              the root-signed statements it holds
//! docs/v/35.10.15.2012.automerge         each document, as replication sends it whole,
//! docs/v/35.10.15.2012.sigs              with every write signature of it
//! local/people.bin, local/tokens.bin,    the node-local tables (accounts, tokens,
//! local/access.bin                       the access log; not sessions: people sign in again)
//! manifest.json                          last: what the backup holds, and a SHA-256 of each entry
//! ```
//!
//! Each document is read whole in one step of the store's owner, so it is
//! consistent; documents need nothing of each other (each is a CRDT), so
//! the backup is consistent without stopping the node's writes. A backup
//! without its manifest was interrupted, and a file whose entries do not
//! match it was damaged: both are refused. A restore verifies every
//! document as if a peer had sent it (every change signed by a writer the
//! roster allows), into a directory beside the target that is renamed into
//! place only when all of it is durable. The restored node then catches up
//! from its peers, including its own writes made after the backup.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use kampung_core::DocId;
use kampung_datadir::{DataDir, DataDirError};
use kampung_store::local::LocalTable;
use kampung_store::Storage;
use kampung_sync::{Replica, SignedDocument};
use kampung_trust::{Roster, Signed};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::actor::Permission;
use crate::error::NodeError;
use crate::{Actor, Node, StartError};

/// The version of the backup format.
pub const FORMAT: u32 = 1;
/// The manifest's name: the last entry of a complete backup.
pub const MANIFEST: &str = "manifest.json";
/// The node-local tables a backup keeps (sessions are not kept).
pub const LOCAL_TABLES: [&str; 3] = ["people", "tokens", "access"];
/// The largest entry a restore reads (a document is at most 64 MB).
const MAX_ENTRY: u64 = 1 << 30;

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The software that took it (`kampung 0.1.0 (…)`).
    pub software: String,
    pub peer_id: String,
    /// The node's role (`village:35.10.15.2012`).
    pub role: String,
    /// When it was taken (unix ms, the node's clock).
    pub taken_at_ms: i64,
    pub documents: usize,
    pub statements: usize,
    /// Every other entry, in order, with its size and SHA-256 (hex).
    pub entries: Vec<ManifestEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// Why a backup could not be read or restored. Each names the file and
/// what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("{0} ends before its manifest: the backup was interrupted. Take it again with `kampung backup`")]
    Incomplete(PathBuf),
    #[error("{0} is not a backup written by `kampung backup`")]
    NotABackup(PathBuf),
    #[error("{path} is damaged ({entry}: {reason}); use another backup")]
    Damaged {
        path: PathBuf,
        entry: String,
        reason: String,
    },
    #[error("{path} is a backup of format {found}; this kampung reads format {FORMAT}: restore it with the version that took it")]
    Format { path: PathBuf, found: u32 },
    #[error("{0} already holds files: restore into a new or empty directory (move the old one aside first)")]
    NotEmpty(PathBuf),
    #[error("document {doc} in the backup was refused: {reason}")]
    Refused { doc: String, reason: String },
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error(transparent)]
    Start(#[from] StartError),
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> BackupError + '_ {
    move |e| BackupError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What [`Node::backup`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct BackupSummary {
    pub documents: usize,
    pub statements: usize,
    pub bytes: u64,
}

/// Writes tar entries to an async sink, remembering each for the manifest.
struct TarOut<'a, W> {
    out: &'a mut W,
    entries: Vec<ManifestEntry>,
    written: u64,
    mtime: u64,
}

impl<W: AsyncWrite + Unpin> TarOut<'_, W> {
    async fn raw(&mut self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        let mut header = tar::Header::new_ustar();
        header.set_path(name)?;
        header.set_size(bytes.len() as u64);
        header.set_mode(0o600);
        header.set_mtime(self.mtime);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        let padding = (512 - bytes.len() % 512) % 512;
        self.out.write_all(header.as_bytes()).await?;
        self.out.write_all(bytes).await?;
        self.out.write_all(&[0; 512][..padding]).await?;
        self.written += (512 + bytes.len() + padding) as u64;
        Ok(())
    }

    async fn entry(&mut self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        self.raw(name, bytes).await?;
        self.entries.push(ManifestEntry {
            name: name.to_string(),
            bytes: bytes.len() as u64,
            sha256: hex(&Sha256::digest(bytes)),
        });
        Ok(())
    }

    /// The manifest, then tar's end (two empty blocks).
    async fn finish(mut self, mut manifest: Manifest) -> std::io::Result<u64> {
        manifest.entries = std::mem::take(&mut self.entries);
        let json = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
        self.raw(MANIFEST, &json).await?;
        self.out.write_all(&[0; 1024]).await?;
        self.out.flush().await?;
        Ok(self.written + 1024)
    }
}

fn doc_entry(doc: &DocId, what: &str) -> String {
    format!("docs/{doc}.{what}")
}

impl Node {
    /// Write a backup of this node to `out` (see the module docs). Only the
    /// node's own machine may: the backup holds the node's key.
    pub async fn backup<W: AsyncWrite + Unpin>(
        &self,
        by: &Actor,
        out: &mut W,
    ) -> Result<BackupSummary, NodeError> {
        by.require(
            Permission::Backup,
            "take a backup (it holds the node's key; run `kampung backup` on the node's machine)",
        )?;
        let Some(dir) = self.health_config().data_dir.clone() else {
            return Err(NodeError::store(
                "this node has no data directory to back up",
            ));
        };
        let failed =
            |e: std::io::Error| NodeError::store(format!("the backup could not be written: {e}"));
        let files = DataDir::open(&dir)
            .and_then(|d| d.identity_files())
            .map_err(NodeError::store)?;
        let taken_at_ms = self.clock().now_ms();
        let mut tar = TarOut {
            out,
            entries: Vec::new(),
            written: 0,
            mtime: u64::try_from(taken_at_ms / 1000).unwrap_or(0),
        };
        for (name, bytes) in &files {
            tar.entry(&format!("files/{name}"), bytes)
                .await
                .map_err(failed)?;
        }
        let statements: Vec<Vec<u8>> = match &self.0.roster {
            Some(r) => r
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .statements()
                .map(Signed::encode)
                .collect(),
            None => Vec::new(),
        };
        let encoded =
            postcard::to_stdvec(&statements).map_err(|e| failed(std::io::Error::other(e)))?;
        tar.entry("trust.bin", &encoded).await.map_err(failed)?;
        let docs = self
            .store()
            .doc_heads()
            .await
            .map_err(|_| NodeError::stopped())?;
        let mut documents = 0;
        for (doc, _) in docs {
            let id = doc.to_string();
            let Some((bytes, sigs)) = self.store().document(&id).await.map_err(NodeError::store)?
            else {
                continue;
            };
            let sigs = postcard::to_stdvec(&sigs).map_err(|e| failed(std::io::Error::other(e)))?;
            tar.entry(&doc_entry(&doc, "automerge"), &bytes)
                .await
                .map_err(failed)?;
            tar.entry(&doc_entry(&doc, "sigs"), &sigs)
                .await
                .map_err(failed)?;
            documents += 1;
        }
        for (name, table) in &self.0.local_tables {
            let rows = table.scan_prefix(b"").map_err(NodeError::store)?;
            let encoded =
                postcard::to_stdvec(&rows).map_err(|e| failed(std::io::Error::other(e)))?;
            tar.entry(&format!("local/{name}.bin"), &encoded)
                .await
                .map_err(failed)?;
        }
        let manifest = Manifest {
            format: FORMAT,
            software: format!("kampung {}", crate::VERSION),
            peer_id: self.peer_id().to_string(),
            role: self.role().tag(),
            taken_at_ms,
            documents,
            statements: statements.len(),
            entries: Vec::new(),
        };
        let bytes = tar.finish(manifest).await.map_err(failed)?;
        tracing::info!(documents, bytes, "backup taken");
        Ok(BackupSummary {
            documents,
            statements: statements.len(),
            bytes,
        })
    }
}

/// A backup file, read whole and checked against its manifest.
#[derive(Debug)]
pub struct Backup {
    pub manifest: Manifest,
    entries: BTreeMap<String, Vec<u8>>,
}

impl Backup {
    /// Read `path` and check it: complete (its manifest last), of this
    /// format, every entry present with the size and SHA-256 the manifest
    /// gives, and nothing else.
    pub fn read(path: &Path) -> Result<Backup, BackupError> {
        let mut file = std::fs::File::open(path).map_err(io_err(path))?;
        // A tar file starts with a header block marked `ustar`; a shorter
        // file may be a backup cut off at its start.
        let mut first = Vec::with_capacity(512);
        (&mut file)
            .take(512)
            .read_to_end(&mut first)
            .map_err(io_err(path))?;
        if first.len() == 512 && &first[257..262] != b"ustar" {
            return Err(BackupError::NotABackup(path.to_path_buf()));
        }
        std::io::Seek::rewind(&mut file).map_err(io_err(path))?;
        let mut archive = tar::Archive::new(std::io::BufReader::new(file));
        let damaged = |entry: &str, reason: String| BackupError::Damaged {
            path: path.to_path_buf(),
            entry: entry.to_string(),
            reason,
        };
        let mut entries = BTreeMap::new();
        let mut manifest = None;
        let mut incomplete = false;
        let iter = archive.entries().map_err(io_err(path))?;
        for entry in iter {
            let mut entry = match entry {
                Ok(e) => e,
                Err(_) => {
                    incomplete = true;
                    break;
                }
            };
            let name = entry
                .path()
                .map_err(|e| damaged("?", e.to_string()))?
                .to_string_lossy()
                .into_owned();
            let size = entry
                .header()
                .size()
                .map_err(|e| damaged(&name, e.to_string()))?;
            if size > MAX_ENTRY {
                return Err(damaged(
                    &name,
                    format!("{size} bytes (at most {MAX_ENTRY})"),
                ));
            }
            let mut bytes = Vec::with_capacity(size as usize);
            if entry.read_to_end(&mut bytes).is_err() || bytes.len() as u64 != size {
                incomplete = true;
                break;
            }
            if manifest.is_some() {
                return Err(damaged(&name, "an entry after the manifest".into()));
            }
            if name == MANIFEST {
                let m: Manifest =
                    serde_json::from_slice(&bytes).map_err(|e| damaged(MANIFEST, e.to_string()))?;
                manifest = Some(m);
            } else if entries.insert(name.clone(), bytes).is_some() {
                return Err(damaged(&name, "present twice".into()));
            }
        }
        let Some(manifest) = manifest.filter(|_| !incomplete) else {
            return Err(BackupError::Incomplete(path.to_path_buf()));
        };
        if manifest.format != FORMAT {
            return Err(BackupError::Format {
                path: path.to_path_buf(),
                found: manifest.format,
            });
        }
        if manifest.entries.len() != entries.len() {
            return Err(damaged(
                MANIFEST,
                format!(
                    "it lists {} entries, the file holds {}",
                    manifest.entries.len(),
                    entries.len()
                ),
            ));
        }
        for e in &manifest.entries {
            let Some(bytes) = entries.get(&e.name) else {
                return Err(damaged(
                    &e.name,
                    "listed in the manifest but missing".into(),
                ));
            };
            if bytes.len() as u64 != e.bytes || hex(&Sha256::digest(bytes)) != e.sha256 {
                return Err(damaged(
                    &e.name,
                    "its contents differ from the manifest's SHA-256".into(),
                ));
            }
        }
        Ok(Backup { manifest, entries })
    }

    fn decode<T: for<'de> Deserialize<'de>>(
        &self,
        name: &str,
        path: &Path,
    ) -> Result<Option<T>, BackupError> {
        self.entries
            .get(name)
            .map(|b| postcard::from_bytes(b))
            .transpose()
            .map_err(|e| BackupError::Damaged {
                path: path.to_path_buf(),
                entry: name.to_string(),
                reason: e.to_string(),
            })
    }

    /// The documents: (id, bytes, encoded signatures).
    fn documents(&self, path: &Path) -> Result<Vec<(DocId, SignedDocument)>, BackupError> {
        let mut docs = Vec::new();
        for (name, bytes) in &self.entries {
            let Some(id) = name
                .strip_prefix("docs/")
                .and_then(|n| n.strip_suffix(".automerge"))
            else {
                continue;
            };
            let doc = DocId::parse(id).ok_or_else(|| BackupError::Damaged {
                path: path.to_path_buf(),
                entry: name.clone(),
                reason: "not a document of this mesh".into(),
            })?;
            let sigs: Vec<Vec<u8>> = self
                .decode(&doc_entry(&doc, "sigs"), path)?
                .unwrap_or_default();
            docs.push((doc, (bytes.clone(), sigs)));
        }
        Ok(docs)
    }
}

/// What [`restore`] put back.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub peer_id: String,
    pub role: String,
    pub taken_at_ms: i64,
    pub documents: usize,
    pub statements: usize,
    pub people: usize,
}

/// Restore the backup at `file` into `dir`, which must not exist or be
/// empty. Everything is written into `DIR.restoring` first and verified
/// (statements against the root, every document's changes against their
/// signatures and the roster, as from a peer), then renamed into place.
pub async fn restore(file: &Path, dir: &Path) -> Result<Restored, BackupError> {
    let backup = Backup::read(file)?;
    if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(BackupError::NotEmpty(dir.to_path_buf()));
    }
    let staging = staging_dir(dir);
    if staging.exists() {
        // Left by an interrupted restore: nothing in it was in use.
        std::fs::remove_dir_all(&staging).map_err(io_err(&staging))?;
    }
    let files: Vec<(String, Vec<u8>)> = backup
        .entries
        .iter()
        .filter_map(|(n, b)| Some((n.strip_prefix("files/")?.to_string(), b.clone())))
        .collect();
    let data = DataDir::restore_identity(&staging, &files)?;
    if data.info().peer_id != backup.manifest.peer_id {
        return Err(BackupError::Damaged {
            path: file.to_path_buf(),
            entry: "files/node.key".into(),
            reason: format!(
                "its node is {}, the manifest names {}",
                data.info().peer_id,
                backup.manifest.peer_id
            ),
        });
    }
    // Statements first (verified against the root), so that documents are
    // verified against the roster they were written under.
    let statements: Vec<Vec<u8>> = backup.decode("trust.bin", file)?.unwrap_or_default();
    let mut people = 0;
    {
        let storage = data.open_storage()?;
        if let Some(root) = data.root_key()? {
            let mut roster = Roster::new(root);
            for bytes in &statements {
                let signed = Signed::decode(bytes)
                    .and_then(|s| roster.add(s.clone()).map(|_| s))
                    .map_err(|e| BackupError::Damaged {
                        path: file.to_path_buf(),
                        entry: "trust.bin".into(),
                        reason: e.to_string(),
                    })?;
                storage
                    .put_statement(&signed.id(), bytes)
                    .map_err(|e| store_err(&staging, e))?;
            }
        }
        for name in LOCAL_TABLES {
            let rows: Vec<(Vec<u8>, Vec<u8>)> = backup
                .decode(&format!("local/{name}.bin"), file)?
                .unwrap_or_default();
            let table: LocalTable = storage
                .local_table(name)
                .map_err(|e| store_err(&staging, e))?;
            if name == "people" {
                people = rows.len();
            }
            for (k, v) in rows {
                table.insert(&k, &v).map_err(|e| store_err(&staging, e))?;
            }
            table.flush().map_err(|e| store_err(&staging, e))?;
        }
        storage.flush().map_err(|e| store_err(&staging, e))?;
    }
    let running = crate::open_offline(&staging).await?;
    let docs = backup.documents(file)?;
    let documents = docs.len();
    for (doc, (bytes, sigs)) in docs {
        let applied = running
            .node()
            .store()
            .apply_document(&doc.to_string(), bytes, sigs, "backup")
            .await;
        if let Err(e) = applied {
            let _ = running.stop().await;
            return Err(BackupError::Refused {
                doc: doc.to_string(),
                reason: e.to_string(),
            });
        }
    }
    running.stop().await?;
    if dir.exists() {
        // Empty (checked above): make way for the rename.
        std::fs::remove_dir(dir).map_err(io_err(dir))?;
    }
    std::fs::rename(&staging, dir).map_err(io_err(dir))?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(parent) {
            let _ = d.sync_all();
        }
    }
    Ok(Restored {
        peer_id: backup.manifest.peer_id,
        role: backup.manifest.role,
        taken_at_ms: backup.manifest.taken_at_ms,
        documents,
        statements: statements.len(),
        people,
    })
}

fn store_err(path: &Path, e: kampung_store::StoreError) -> BackupError {
    BackupError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Where a restore into `dir` is assembled.
fn staging_dir(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".restoring");
    dir.with_file_name(name)
}
