//! Node-local tables: records that belong to this node alone and are never
//! replicated (its people's accounts, sessions and tokens, the access log,
//! when it last heard from each document's owner).
//! In sled they are trees of the node's database, beside the documents; in
//! memory, ordered maps. Keys are ordered bytes, so a prefix or a range scan
//! returns records in key order (an access log keyed by time reads in time order).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::StoreError;

/// One node-local table. Cheap to clone; clones share the table.
#[derive(Clone)]
pub struct LocalTable(Inner);

#[derive(Clone)]
enum Inner {
    /// A tree of the node's database, looked up by name at each use, so
    /// that it follows the database when it is reopened after a failure.
    Sled {
        storage: crate::storage::sled_storage::SledStorage,
        name: String,
    },
    Memory(Arc<Mutex<BTreeMap<Vec<u8>, Vec<u8>>>>),
}

impl fmt::Debug for LocalTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Inner::Sled { storage, name } => {
                use crate::Storage as _;
                write!(f, "LocalTable(sled {} {name})", storage.location())
            }
            Inner::Memory(_) => f.write_str("LocalTable(memory)"),
        }
    }
}

type Entry = (Vec<u8>, Vec<u8>);

impl LocalTable {
    /// A table in memory (tests, simulations).
    pub fn memory() -> LocalTable {
        LocalTable(Inner::Memory(Arc::default()))
    }

    pub(crate) fn sled(
        storage: crate::storage::sled_storage::SledStorage,
        name: String,
    ) -> LocalTable {
        LocalTable(Inner::Sled { storage, name })
    }

    fn mem<T>(
        m: &Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
        f: impl FnOnce(&mut BTreeMap<Vec<u8>, Vec<u8>>) -> T,
    ) -> T {
        f(&mut m.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match &self.0 {
            Inner::Sled { storage, name } => storage
                .tree(name)?
                .get(key)
                .map(|v| v.map(|v| v.to_vec()))
                .map_err(|e| storage.io(e)),
            Inner::Memory(m) => Ok(Self::mem(m, |m| m.get(key).cloned())),
        }
    }

    pub fn insert(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        match &self.0 {
            Inner::Sled { storage, name } => storage
                .tree(name)?
                .insert(key, value)
                .map(|_| ())
                .map_err(|e| storage.io(e)),
            Inner::Memory(m) => {
                Self::mem(m, |m| m.insert(key.to_vec(), value.to_vec()));
                Ok(())
            }
        }
    }

    pub fn remove(&self, key: &[u8]) -> Result<(), StoreError> {
        match &self.0 {
            Inner::Sled { storage, name } => storage
                .tree(name)?
                .remove(key)
                .map(|_| ())
                .map_err(|e| storage.io(e)),
            Inner::Memory(m) => {
                Self::mem(m, |m| m.remove(key));
                Ok(())
            }
        }
    }

    /// Every key, in order (the values are not copied).
    pub fn keys(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        match &self.0 {
            Inner::Sled { storage, name } => storage
                .tree(name)?
                .iter()
                .keys()
                .map(|k| k.map(|k| k.to_vec()).map_err(|e| storage.io(e)))
                .collect(),
            Inner::Memory(m) => Ok(Self::mem(m, |m| m.keys().cloned().collect())),
        }
    }

    /// Every record whose key starts with `prefix`, in key order.
    pub fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        match &self.0 {
            Inner::Sled { storage, name } => storage
                .tree(name)?
                .scan_prefix(prefix)
                .map(|r| {
                    r.map(|(k, v)| (k.to_vec(), v.to_vec()))
                        .map_err(|e| storage.io(e))
                })
                .collect(),
            Inner::Memory(m) => Ok(Self::mem(m, |m| {
                m.range(prefix.to_vec()..)
                    .take_while(|(k, _)| k.starts_with(prefix))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })),
        }
    }

    /// At most `limit` records with keys in `from..to`, in key order, from
    /// the end when `newest_first`.
    pub fn range(
        &self,
        from: &[u8],
        to: &[u8],
        newest_first: bool,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        match &self.0 {
            Inner::Sled { storage, name } => {
                let tree = storage.tree(name)?;
                let iter = tree.range(from.to_vec()..to.to_vec());
                let conv = |r: sled::Result<(sled::IVec, sled::IVec)>| {
                    r.map(|(k, v)| (k.to_vec(), v.to_vec()))
                        .map_err(|e| storage.io(e))
                };
                if newest_first {
                    iter.rev().take(limit).map(conv).collect()
                } else {
                    iter.take(limit).map(conv).collect()
                }
            }
            Inner::Memory(m) => Ok(Self::mem(m, |m| {
                let iter = m.range(from.to_vec()..to.to_vec());
                let pick = |(k, v): (&Vec<u8>, &Vec<u8>)| (k.clone(), v.clone());
                if newest_first {
                    iter.rev().take(limit).map(pick).collect()
                } else {
                    iter.take(limit).map(pick).collect()
                }
            })),
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        match &self.0 {
            Inner::Sled { storage, name } => storage.tree(name).map_or(0, |t| t.len()),
            Inner::Memory(m) => Self::mem(m, |m| m.len()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Make every write so far durable.
    pub fn flush(&self) -> Result<(), StoreError> {
        match &self.0 {
            Inner::Sled { storage, name } => storage
                .tree(name)?
                .flush()
                .map(|_| ())
                .map_err(|e| storage.io(e)),
            Inner::Memory(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(t: &LocalTable) {
        for k in [b"a/2".as_slice(), b"a/1", b"b/1", b"a/3"] {
            t.insert(k, k).unwrap();
        }
        let keys: Vec<Vec<u8>> = t
            .scan_prefix(b"a/")
            .unwrap()
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(
            keys,
            vec![b"a/1".to_vec(), b"a/2".to_vec(), b"a/3".to_vec()]
        );
        let newest = t.range(b"a/", b"a0", true, 2).unwrap();
        assert_eq!(newest[0].0, b"a/3");
        assert_eq!(newest[1].0, b"a/2");
        t.remove(b"a/2").unwrap();
        assert_eq!(t.get(b"a/2").unwrap(), None);
        assert_eq!(t.get(b"b/1").unwrap().as_deref(), Some(b"b/1".as_slice()));
        assert_eq!(t.len(), 3);
        t.flush().unwrap();
    }

    #[test]
    fn memory_and_sled_tables_behave_alike() {
        exercise(&LocalTable::memory());
        let dir = tempfile::tempdir().unwrap();
        let storage = crate::storage::sled_storage::SledStorage::open(dir.path()).unwrap();
        exercise(&LocalTable::sled(storage, "t".into()));
    }
}
