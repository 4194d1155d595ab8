//! [`Storage`] on sled 0.34.
//!
//! Tree `docs` holds, per document `D`: `D\0s` the snapshot, `D\0h` the heads,
//! `D\0c<seq>` the chunks (seq big-endian, so a prefix scan returns them in
//! order). Tree `index` holds the persisted index of each document. sled only
//! flushes every 500 ms by itself; [`Storage::flush`] forces it, and the
//! registry calls it before acknowledging a write.

use std::path::{Path, PathBuf};

use super::{DocId, Storage, StoredDoc};
use crate::StoreError;

/// sled page cache.
const CACHE_BYTES: u64 = 64 << 20;

const SNAPSHOT: u8 = b's';
const HEADS: u8 = b'h';
const CHUNK: u8 = b'c';

/// Documents and index in a sled database directory.
#[derive(Debug, Clone)]
pub struct SledStorage {
    path: PathBuf,
    db: sled::Db,
    docs: sled::Tree,
    index: sled::Tree,
}

fn key(doc: &DocId, tag: u8) -> Vec<u8> {
    let mut k = Vec::with_capacity(doc.as_str().len() + 10);
    k.extend_from_slice(doc.as_str().as_bytes());
    k.push(0);
    k.push(tag);
    k
}

fn chunk_key(doc: &DocId, seq: u64) -> Vec<u8> {
    let mut k = key(doc, CHUNK);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

impl SledStorage {
    /// Open (or create) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let err = |source: sled::Error| {
            StoreError::Open {
            path: path.display().to_string(),
            reason: match &source {
                sled::Error::Io(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    "the database is locked: is another kampung process using this data directory?".to_string()
                }
                sled::Error::Corruption { .. } => format!("{source}: the database files are damaged; restore the data directory from a backup or a peer"),
                _ => source.to_string(),
            },
        }
        };
        // sled's default cache is 1 GiB; documents are loaded once and the
        // index lives in our own memory, so a small cache is enough.
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(CACHE_BYTES)
            .open()
            .map_err(err)?;
        let docs = db.open_tree("docs").map_err(err)?;
        let index = db.open_tree("index").map_err(err)?;
        Ok(SledStorage {
            path: path.to_path_buf(),
            db,
            docs,
            index,
        })
    }

    fn io(&self, source: sled::Error) -> StoreError {
        StoreError::Io {
            location: self.path.display().to_string(),
            reason: source.to_string(),
        }
    }

    fn next_seq(&self, doc: &DocId) -> Result<u64, StoreError> {
        let prefix = key(doc, CHUNK);
        let last = self
            .docs
            .scan_prefix(&prefix)
            .next_back()
            .transpose()
            .map_err(|e| self.io(e))?;
        Ok(match last {
            Some((k, _)) => seq_of(&k[prefix.len()..]).map_or(1, |s| s + 1),
            None => 1,
        })
    }
}

fn seq_of(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

impl Storage for SledStorage {
    fn doc_ids(&self) -> Result<Vec<DocId>, StoreError> {
        let mut ids = Vec::new();
        for item in self.docs.iter() {
            let (k, _) = item.map_err(|e| self.io(e))?;
            if let Some(pos) = k.iter().position(|&b| b == 0) {
                if k.get(pos + 1) == Some(&HEADS) {
                    ids.push(DocId::from_stored(
                        String::from_utf8_lossy(&k[..pos]).into_owned(),
                    ));
                }
            }
        }
        Ok(ids)
    }

    fn heads(&self, doc: &DocId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .docs
            .get(key(doc, HEADS))
            .map_err(|e| self.io(e))?
            .map(|v| v.to_vec()))
    }

    fn load(&self, doc: &DocId) -> Result<Option<StoredDoc>, StoreError> {
        let Some(heads) = self.heads(doc)? else {
            return Ok(None);
        };
        let snapshot = self
            .docs
            .get(key(doc, SNAPSHOT))
            .map_err(|e| self.io(e))?
            .map(|v| v.to_vec());
        let prefix = key(doc, CHUNK);
        let mut chunks = Vec::new();
        for item in self.docs.scan_prefix(&prefix) {
            let (k, v) = item.map_err(|e| self.io(e))?;
            let seq = seq_of(&k[prefix.len()..]).ok_or_else(|| StoreError::CorruptDoc {
                location: self.location(),
                doc: doc.clone(),
                reason: "a chunk key is malformed".to_string(),
            })?;
            chunks.push((seq, v.to_vec()));
        }
        Ok(Some(StoredDoc {
            snapshot,
            chunks,
            heads,
        }))
    }

    fn append(&self, doc: &DocId, chunk: &[u8], heads: &[u8]) -> Result<u64, StoreError> {
        let seq = self.next_seq(doc)?;
        let mut batch = sled::Batch::default();
        batch.insert(chunk_key(doc, seq), chunk);
        batch.insert(key(doc, HEADS), heads);
        self.docs.apply_batch(batch).map_err(|e| self.io(e))?;
        Ok(seq)
    }

    fn compact(&self, doc: &DocId, snapshot: &[u8], through_seq: u64) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        batch.insert(key(doc, SNAPSHOT), snapshot);
        let prefix = key(doc, CHUNK);
        for item in self.docs.scan_prefix(&prefix) {
            let (k, _) = item.map_err(|e| self.io(e))?;
            if seq_of(&k[prefix.len()..]).is_some_and(|s| s <= through_seq) {
                batch.remove(k);
            }
        }
        self.docs.apply_batch(batch).map_err(|e| self.io(e))
    }

    fn replace(&self, doc: &DocId, snapshot: &[u8], heads: &[u8]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        batch.insert(key(doc, SNAPSHOT), snapshot);
        batch.insert(key(doc, HEADS), heads);
        for item in self.docs.scan_prefix(key(doc, CHUNK)) {
            let (k, _) = item.map_err(|e| self.io(e))?;
            batch.remove(k);
        }
        self.docs.apply_batch(batch).map_err(|e| self.io(e))
    }

    fn index(&self, doc: &DocId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .index
            .get(doc.as_str())
            .map_err(|e| self.io(e))?
            .map(|v| v.to_vec()))
    }

    fn put_index(&self, doc: &DocId, bytes: &[u8]) -> Result<(), StoreError> {
        self.index
            .insert(doc.as_str(), bytes)
            .map_err(|e| self.io(e))?;
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(|e| self.io(e))?;
        Ok(())
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(|e| self.io(e))
    }
}
