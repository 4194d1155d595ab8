//! Keys of the `docs` tree, and the one-time move from the first layout.
//!
//! Layout 2 (this one): `h/<document name>` its heads (the only key with the
//! name, so that [`super::SledStorage`] can list documents), `S/<d>` its
//! snapshot, `C/<d><seq>` its chunks and `B/<d>c<seq>` the write signatures
//! of chunk `<seq>`, `B/<d>m<id>` those of chunks folded into the snapshot
//! by one compaction, where `<d>` is the first 16 bytes of the SHA-256 of
//! the name and `<seq>`, `<id>` are big-endian (a prefix scan returns the
//! chunks in order). Snapshot, chunk, signature and index values carry a
//! tag: inline, or the file that holds them (see [`super::values`]). Why
//! short keys: sled 0.34 does not shorten the keys of its top index pages,
//! and 256 names of a month's crossing log (74 bytes each) made a page of
//! 19 KB, a blob rewritten at every split and never removed.
//!
//! Why signatures in bundles: stores made before them hold one key per
//! signed change, `G/<d><change hash>`, and a signed single write then cost
//! about 1 KB of disk and 1 KB of memory in sled's page cache for its
//! 100-byte signature (100,000 durable edits: 98 MB where the changes took
//! 3). Those keys are still read, and a compaction folds them into its
//! bundle, so such a store moves over as its documents are written.
//!
//! Layout 1 (stores made before it): `s/<name>`, `c/<name>\0<seq>`,
//! `g/<name>\0<hash>` with values untagged, and the index in tree `index`.
//! A store of layout 1 is not opened as it is ([`earlier`] tells it):
//! `kampung migrate` takes a backup first, then [`migrate`] moves it, one
//! document per atomic batch, so a crash part-way leaves each document
//! either moved or not and the next `kampung migrate` goes on.

use std::collections::HashSet;

use sha2::{Digest, Sha256};

use super::values::Values;
use super::Open;
use crate::storage::DocId;

pub(super) const HEADS: &[u8] = b"h/";
const SNAPSHOT: &[u8] = b"S/";
const CHUNK: &[u8] = b"C/";
const SIG: &[u8] = b"G/";
const BUNDLE: &[u8] = b"B/";
/// The tree of the persisted index in layout 2 (its values are tagged).
pub(super) const INDEX_TREE: &str = "index2";
/// The key, in tree `meta`, of the layout the store has.
const LAYOUT_KEY: &[u8] = b"layout";
const LAYOUT: u8 = 2;

fn digest(doc: &DocId) -> [u8; 16] {
    let full = Sha256::digest(doc.as_str().as_bytes());
    let mut d = [0u8; 16];
    d.copy_from_slice(&full[..16]);
    d
}

fn with_digest(range: &[u8], doc: &DocId, extra: usize) -> Vec<u8> {
    let mut k = Vec::with_capacity(range.len() + 16 + extra);
    k.extend_from_slice(range);
    k.extend_from_slice(&digest(doc));
    k
}

/// The document a heads key (without its `h/`) names.
pub(super) fn doc_named(name: &[u8]) -> DocId {
    DocId::from_stored(String::from_utf8_lossy(name).into_owned())
}

pub(super) fn heads_key(doc: &DocId) -> Vec<u8> {
    let mut k = HEADS.to_vec();
    k.extend_from_slice(doc.as_str().as_bytes());
    k
}

pub(super) fn snapshot_key(doc: &DocId) -> Vec<u8> {
    with_digest(SNAPSHOT, doc, 0)
}

pub(super) fn chunk_prefix(doc: &DocId) -> Vec<u8> {
    with_digest(CHUNK, doc, 8)
}

pub(super) fn chunk_key(doc: &DocId, seq: u64) -> Vec<u8> {
    let mut k = chunk_prefix(doc);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

pub(super) fn sig_prefix(doc: &DocId) -> Vec<u8> {
    with_digest(SIG, doc, 32)
}

pub(super) fn sig_key(doc: &DocId, hash: &[u8; 32]) -> Vec<u8> {
    let mut k = sig_prefix(doc);
    k.extend_from_slice(hash);
    k
}

/// Every signature bundle of `doc`.
pub(super) fn bundle_prefix(doc: &DocId) -> Vec<u8> {
    with_digest(BUNDLE, doc, 9)
}

/// The bundle of the signatures of `doc`'s chunk `seq`.
pub(super) fn chunk_bundle_key(doc: &DocId, seq: u64) -> Vec<u8> {
    let mut k = bundle_prefix(doc);
    k.push(b'c');
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// A bundle of signatures folded in by one compaction (`id` unique).
pub(super) fn folded_bundle_key(doc: &DocId, id: u64) -> Vec<u8> {
    let mut k = bundle_prefix(doc);
    k.push(b'm');
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// The chunk whose signatures a bundle key (after its prefix) holds, if it
/// is a chunk's bundle.
pub(super) fn bundle_chunk(rest: &[u8]) -> Option<u64> {
    match rest.split_first() {
        Some((b'c', seq)) => seq_of(seq),
        _ => None,
    }
}

/// Signatures as one value: per signature its change hash, its length
/// (2 bytes, big-endian) and its bytes.
pub(super) fn encode_bundle(sigs: &[crate::storage::Sig]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(sigs.iter().map(|(_, s)| 34 + s.len()).sum());
    for (hash, sig) in sigs {
        let len = u16::try_from(sig.len())
            .map_err(|_| format!("a write signature of {} bytes cannot be stored", sig.len()))?;
        out.extend_from_slice(hash);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(sig);
    }
    Ok(out)
}

/// The signatures of a bundle, or where it stops making sense.
pub(super) fn decode_bundle(mut bytes: &[u8]) -> Result<Vec<crate::storage::Sig>, String> {
    let mut sigs = Vec::new();
    while !bytes.is_empty() {
        let (Some(hash), Some(len)) = (bytes.get(..32), bytes.get(32..34)) else {
            return Err(format!(
                "a signature bundle ends {} bytes into an entry",
                bytes.len()
            ));
        };
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let Some(sig) = bytes.get(34..34 + len) else {
            return Err(format!(
                "a signature bundle's entry claims {len} bytes it does not have"
            ));
        };
        let mut h = [0u8; 32];
        h.copy_from_slice(hash);
        sigs.push((h, sig.to_vec()));
        bytes = &bytes[34 + len..];
    }
    Ok(sigs)
}

pub(super) fn seq_of(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// Every value file the store refers to.
pub(super) fn referenced_files(o: &Open) -> sled::Result<HashSet<u64>> {
    let mut ids = HashSet::new();
    for range in [SNAPSHOT, CHUNK, BUNDLE] {
        for v in o.docs.scan_prefix(range).values() {
            ids.extend(Values::file_of(&v?));
        }
    }
    for v in o.index.iter().values() {
        ids.extend(Values::file_of(&v?));
    }
    Ok(ids)
}

/// The keys of one document in layout 1: snapshot, chunks, signatures.
fn earlier_key(range: &[u8], name: &[u8], sep: bool) -> Vec<u8> {
    let mut k = range.to_vec();
    k.extend_from_slice(name);
    if sep {
        k.push(0);
    }
    k
}

/// Does the store still hold something of layout 1? Then the number of
/// documents it holds (moved or not); `None` for a store of this layout or
/// a new one.
pub(super) fn earlier(o: &Open) -> Result<Option<usize>, String> {
    let meta = o.db.open_tree("meta").map_err(|e| e.to_string())?;
    if meta.get(LAYOUT_KEY).map_err(|e| e.to_string())?.as_deref() == Some(&[LAYOUT][..]) {
        return Ok(None);
    }
    let old_index = o.db.tree_names().iter().any(|n| n.as_ref() == b"index");
    let old_docs = [&b"s/"[..], b"c/", b"g/"]
        .iter()
        .any(|range| o.docs.scan_prefix(range).next().is_some());
    if !old_index && !old_docs {
        return Ok(None);
    }
    Ok(Some(o.docs.scan_prefix(HEADS).count()))
}

/// The documents of a store of layout 1 not yet moved, as stored (their
/// values are untagged, inside sled): name and what [`migrate`] would move.
pub(super) fn earlier_documents(
    o: &Open,
    mut each: impl FnMut(DocId, crate::storage::StoredDoc) -> Result<(), String>,
) -> Result<(), String> {
    for item in o.docs.scan_prefix(HEADS) {
        let (key, heads) = item.map_err(|e| e.to_string())?;
        let name = &key[HEADS.len()..];
        let snapshot = o
            .docs
            .get(earlier_key(b"s/", name, false))
            .map_err(|e| e.to_string())?
            .map(|v| v.to_vec());
        let prefix = earlier_key(b"c/", name, true);
        let mut chunks = Vec::new();
        for item in o.docs.scan_prefix(&prefix) {
            let (k, v) = item.map_err(|e| e.to_string())?;
            if let Some(seq) = seq_of(&k[prefix.len()..]) {
                chunks.push((seq, v.to_vec()));
            }
        }
        let prefix = earlier_key(b"g/", name, true);
        let mut signatures = Vec::new();
        for item in o.docs.scan_prefix(&prefix) {
            let (k, v) = item.map_err(|e| e.to_string())?;
            if let Ok(hash) = <[u8; 32]>::try_from(&k[prefix.len()..]) {
                signatures.push((hash, v.to_vec()));
            }
        }
        if snapshot.is_none() && chunks.is_empty() && signatures.is_empty() {
            continue; // moved already
        }
        let stored = crate::storage::StoredDoc {
            snapshot,
            chunks,
            heads: heads.to_vec(),
            signatures,
        };
        each(doc_named(name), stored)?;
    }
    Ok(())
}

/// Move a store of layout 1 to layout 2 (nothing to do for a new store or
/// one already moved). Returns the number of documents moved.
pub(super) fn migrate(o: &Open, values: &Values) -> Result<usize, String> {
    let meta = o.db.open_tree("meta").map_err(|e| e.to_string())?;
    if meta.get(LAYOUT_KEY).map_err(|e| e.to_string())?.as_deref() == Some(&[LAYOUT][..]) {
        return Ok(0);
    }
    let next_id = || o.db.generate_id().map_err(|e| e.to_string());
    let mut moved = 0;
    let names: Vec<Vec<u8>> = o
        .docs
        .scan_prefix(HEADS)
        .keys()
        .map(|k| k.map(|k| k[HEADS.len()..].to_vec()))
        .collect::<sled::Result<_>>()
        .map_err(|e| e.to_string())?;
    for name in names {
        let doc = doc_named(&name);
        let old = |range: &[u8], sep: bool| earlier_key(range, &name, sep);
        let mut batch = sled::Batch::default();
        let mut any = false;
        let old_snapshot = old(b"s/", false);
        if let Some(v) = o.docs.get(&old_snapshot).map_err(|e| e.to_string())? {
            batch.insert(snapshot_key(&doc), values.put(&v, next_id)?);
            batch.remove(old_snapshot);
            any = true;
        }
        let prefix = old(b"c/", true);
        for item in o.docs.scan_prefix(&prefix) {
            let (k, v) = item.map_err(|e| e.to_string())?;
            let Some(seq) = seq_of(&k[prefix.len()..]) else {
                continue;
            };
            batch.insert(chunk_key(&doc, seq), values.put(&v, next_id)?);
            batch.remove(k);
            any = true;
        }
        let prefix = old(b"g/", true);
        for item in o.docs.scan_prefix(&prefix) {
            let (k, v) = item.map_err(|e| e.to_string())?;
            if let Ok(hash) = <[u8; 32]>::try_from(&k[prefix.len()..]) {
                batch.insert(sig_key(&doc, &hash), v);
            }
            batch.remove(k);
            any = true;
        }
        if any {
            o.docs.apply_batch(batch).map_err(|e| e.to_string())?;
            moved += 1;
        }
    }
    if o.db.tree_names().iter().any(|n| n.as_ref() == b"index") {
        let old = o.db.open_tree("index").map_err(|e| e.to_string())?;
        for item in old.iter() {
            let (k, v) = item.map_err(|e| e.to_string())?;
            let stored = values.put(&v, next_id)?;
            if let Some(prev) = o.index.insert(k, stored).map_err(|e| e.to_string())? {
                // An earlier, interrupted move wrote it already.
                values.release(&prev);
            }
        }
        o.db.drop_tree("index").map_err(|e| e.to_string())?;
    }
    meta.insert(LAYOUT_KEY, &[LAYOUT])
        .map_err(|e| e.to_string())?;
    o.db.flush().map_err(|e| e.to_string())?;
    values.remove(&values.take_released());
    Ok(moved)
}
