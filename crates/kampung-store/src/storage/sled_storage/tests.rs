//! The store's layout on disk: large values in files that go when nothing
//! refers to them, no sled page large enough to become one of sled's own
//! blobs, and stores of the first layout moved without losing anything.

use std::path::Path;

use super::*;

fn doc(name: &str) -> DocId {
    DocId::from_stored(name.to_string())
}

/// Bytes that do not compress to nothing, `len` long.
fn bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ seed)
        .collect()
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|e| {
            e.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

const LOG: &str = "x/12D3KooWKetapangHarbourCheckpointLayoutTest00000000001/2026-12";

#[test]
fn large_values_live_in_files_that_go_after_the_flush_that_drops_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let s = SledStorage::open(&path).unwrap();
    let d = doc(LOG);
    let small = bytes(1, 200);
    let large = bytes(2, 5_000);
    s.append(&d, &small, b"h1", &[([7; 32], vec![9; 64])])
        .unwrap();
    assert!(
        files(&path.join("values")).is_empty(),
        "a small chunk stays in sled"
    );
    s.append(&d, &large, b"h2", &[]).unwrap();
    assert_eq!(files(&path.join("values")).len(), 1);
    s.flush().unwrap();

    let snapshot = bytes(3, 100_000);
    s.compact(&d, &snapshot, 2).unwrap();
    // The chunk's file stays until the compaction is durable.
    assert_eq!(files(&path.join("values")).len(), 2);
    s.flush().unwrap();
    assert_eq!(
        files(&path.join("values")).len(),
        1,
        "only the snapshot's file"
    );

    let stored = s.load(&d).unwrap().unwrap();
    assert_eq!(stored.snapshot.as_deref(), Some(&snapshot[..]));
    assert!(stored.chunks.is_empty());
    assert_eq!(stored.heads, b"h2");
    assert_eq!(stored.signatures, vec![([7; 32], vec![9; 64])]);
    drop(s);

    let s = SledStorage::open(&path).unwrap();
    assert_eq!(s.load(&d).unwrap().unwrap(), stored);
    s.remove(&d).unwrap();
    s.flush().unwrap();
    assert!(files(&path.join("values")).is_empty());
    assert_eq!(s.load(&d).unwrap(), None);
}

#[test]
fn a_month_of_appends_and_compactions_leaves_no_sled_blob_and_few_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let s = SledStorage::open(&path).unwrap();
    let d = doc(LOG);
    let mut seq = 0;
    for round in 0..40u8 {
        for i in 0..60u8 {
            let mut hash = [0; 32];
            hash[..2].copy_from_slice(&[round, i]);
            seq = s
                .append(&d, &bytes(i, 500), &[round, i], &[(hash, vec![1; 64])])
                .unwrap();
            s.flush().unwrap();
        }
        s.compact(&d, &bytes(round, 60_000 + 2_000 * round as usize), seq)
            .unwrap();
        s.flush().unwrap();
    }
    let idx = doc("v/35.10.01.2001");
    for round in 0..20u8 {
        s.put_index(&idx, &bytes(round, 30_000)).unwrap();
        s.flush().unwrap();
    }
    assert_eq!(
        files(&path.join("blobs")),
        Vec::<String>::new(),
        "sled wrote pages large enough to be blobs"
    );
    // 40 compactions folded 60 signatures each, as a binary counter
    // carries: 40 = 0b101000, two bundles (of 1,920 and 480 signatures).
    let bundles = s.db().unwrap().docs.scan_prefix(b"B/").count();
    assert_eq!(bundles, 2);
    assert_eq!(
        files(&path.join("values")).len(),
        2 + bundles,
        "the month's snapshot, the village's index and the signature bundles"
    );
    assert_eq!(s.index(&idx).unwrap(), Some(bytes(19, 30_000)));
    assert_eq!(s.load(&d).unwrap().unwrap().signatures.len(), 40 * 60);
}

#[test]
fn files_a_crash_left_behind_are_removed_at_open_and_a_missing_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let s = SledStorage::open(&path).unwrap();
    let d = doc("v/35.10.01.2001");
    s.replace(&d, &bytes(5, 50_000), b"h", &[]).unwrap();
    s.flush().unwrap();
    drop(s);
    let kept = files(&path.join("values"));
    assert_eq!(kept.len(), 1);
    // A file written for a batch that a crash never applied.
    std::fs::write(path.join("values").join("00000000deadbeef"), b"orphan").unwrap();
    let s = SledStorage::open(&path).unwrap();
    assert_eq!(files(&path.join("values")), kept);
    assert_eq!(
        s.load(&d).unwrap().unwrap().snapshot,
        Some(bytes(5, 50_000))
    );
    drop(s);

    std::fs::remove_file(path.join("values").join(&kept[0])).unwrap();
    let s = SledStorage::open(&path).unwrap();
    let err = s.load(&d).unwrap_err().to_string();
    assert!(err.contains(&kept[0]), "{err}");
    assert!(err.contains("v/35.10.01.2001"), "{err}");
    assert!(err.contains("Restore the data directory"), "{err}");
}

/// A document of the first layout: name, snapshot, chunks, signed hash.
type OldDoc<'a> = (&'a str, Option<Vec<u8>>, Vec<Vec<u8>>, [u8; 32]);

/// A store as the first layout wrote it, with sled alone.
fn first_layout(path: &Path, docs: &[OldDoc]) {
    let db = sled::Config::new()
        .path(path)
        .segment_size(SEGMENT_BYTES)
        .open()
        .unwrap();
    let t = db.open_tree("docs").unwrap();
    let index = db.open_tree("index").unwrap();
    for (name, snapshot, chunks, sig) in docs {
        let k = |range: &str| format!("{range}{name}").into_bytes();
        t.insert(k("h/"), b"heads".to_vec()).unwrap();
        if let Some(s) = snapshot {
            t.insert(k("s/"), s.clone()).unwrap();
        }
        for (i, c) in chunks.iter().enumerate() {
            let mut key = k("c/");
            key.push(0);
            key.extend_from_slice(&(i as u64 + 1).to_be_bytes());
            t.insert(key, c.clone()).unwrap();
        }
        let mut key = k("g/");
        key.push(0);
        key.extend_from_slice(sig);
        t.insert(key, vec![4; 64]).unwrap();
        index.insert(name.as_bytes(), bytes(9, 20_000)).unwrap();
    }
    db.flush().unwrap();
}

#[test]
fn a_store_of_the_first_layout_is_moved_with_everything_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let village = (
        "v/35.10.01.2001",
        Some(bytes(1, 40_000)),
        vec![bytes(2, 100), bytes(3, 3_000)],
        [1; 32],
    );
    // A name that is a prefix of the other's: their keys must not mix.
    let old_log = ("x/PEER", None, vec![bytes(4, 300)], [2; 32]);
    let month = ("x/PEER/2026-12", Some(bytes(5, 700)), vec![], [3; 32]);
    first_layout(&path, &[village.clone(), old_log.clone(), month.clone()]);

    // Not opened as it is: the operator is told to run `kampung migrate`.
    let err = SledStorage::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::EarlierLayout { documents: 3, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("kampung migrate"), "{err}");
    assert_eq!(SledStorage::earlier_layout(&path).unwrap(), Some(3));
    assert!(SledStorage::open(&path).is_err(), "refusing moved nothing");

    let migration = SledStorage::migrate(&path).unwrap();
    assert_eq!(migration.moved, 3);
    assert_eq!(migration.before.len(), 3);
    assert_eq!(migration.differences(), Vec::<String>::new());
    assert_eq!(migration.before, migration.after);
    assert_eq!(migration.before[0].chunks, 2);
    assert_eq!(migration.before[0].bytes, 43_100);
    assert_eq!(migration.before[0].signatures, 1);
    assert_eq!(SledStorage::earlier_layout(&path).unwrap(), None);
    // Again: nothing left to move, and the same documents.
    let again = SledStorage::migrate(&path).unwrap();
    assert_eq!(again.moved, 0);
    assert_eq!(again.before, migration.after);

    for _ in 0..2 {
        let s = SledStorage::open(&path).unwrap();
        let mut ids: Vec<String> = s
            .doc_ids()
            .unwrap()
            .iter()
            .map(|d| d.as_str().to_string())
            .collect();
        ids.sort();
        assert_eq!(ids, ["v/35.10.01.2001", "x/PEER", "x/PEER/2026-12"]);
        for (name, snapshot, chunks, sig) in [&village, &old_log, &month] {
            let stored = s.load(&doc(name)).unwrap().unwrap();
            assert_eq!(&stored.snapshot, snapshot, "{name}");
            let got: Vec<Vec<u8>> = stored.chunks.iter().map(|(_, c)| c.clone()).collect();
            assert_eq!(&got, chunks, "{name}");
            assert_eq!(stored.heads, b"heads");
            assert_eq!(stored.signatures, vec![(*sig, vec![4; 64])]);
            assert_eq!(s.index(&doc(name)).unwrap(), Some(bytes(9, 20_000)));
        }
        let o = s.db().unwrap();
        for range in ["s/", "c/", "g/"] {
            assert_eq!(o.docs.scan_prefix(range).count(), 0, "{range} left behind");
        }
        assert!(!o.db.tree_names().iter().any(|n| n.as_ref() == b"index"));
    }
}

/// The signature of the `i`th signed change of a test.
fn signed(i: u32) -> Sig {
    let mut hash = [0; 32];
    hash[..4].copy_from_slice(&i.to_be_bytes());
    (hash, bytes(i as u8, 96))
}

fn sorted(mut sigs: Vec<Sig>) -> Vec<Sig> {
    sigs.sort();
    sigs
}

#[test]
fn signed_single_writes_keep_a_few_keys_for_their_signatures_and_lose_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let s = SledStorage::open(&path).unwrap();
    let d = doc("v/35.10.15.2012");
    let writes = 3_000u32;
    for i in 0..writes {
        let seq = s
            .append(&d, &bytes(i as u8, 120), &i.to_be_bytes(), &[signed(i)])
            .unwrap();
        s.flush().unwrap();
        // As the registry does: a snapshot every so many chunks.
        if i % 100 == 99 {
            s.compact(&d, &bytes(i as u8, 2_000), seq).unwrap();
            s.flush().unwrap();
        }
    }
    let all: Vec<Sig> = (0..writes).map(signed).collect();
    let o = s.db().unwrap();
    // One key per signature was 3,000 keys (and about 1 KB of disk and of
    // sled's cache for each); now the bundles of 30 compactions fold as a
    // binary counter does.
    let bundles = o.docs.scan_prefix(b"B/").count();
    assert!(bundles <= 6, "{bundles} signature bundles");
    assert_eq!(o.docs.scan_prefix(b"G/").count(), 0);
    assert!(o.docs.len() <= 10, "{} keys in the docs tree", o.docs.len());
    drop(o);
    assert_eq!(sorted(s.load(&d).unwrap().unwrap().signatures), all);

    // The bundles' files are referred to: open keeps them.
    drop(s);
    let s = SledStorage::open(&path).unwrap();
    assert_eq!(sorted(s.load(&d).unwrap().unwrap().signatures), all);

    // A replace folds every chunk's signatures in with its own.
    s.append(&d, b"one more", b"h", &[signed(writes)]).unwrap();
    s.replace(&d, &bytes(1, 3_000), b"h2", &[signed(writes + 1)])
        .unwrap();
    s.flush().unwrap();
    let stored = s.load(&d).unwrap().unwrap();
    assert!(stored.chunks.is_empty());
    let mut more = all.clone();
    more.extend([signed(writes), signed(writes + 1)]);
    assert_eq!(sorted(stored.signatures), more);

    s.remove(&d).unwrap();
    s.flush().unwrap();
    assert_eq!(s.db().unwrap().docs.scan_prefix(b"B/").count(), 0);
    assert!(files(&path.join("values")).is_empty());
}

#[test]
fn signatures_stored_one_key_each_are_read_and_folded_in_by_the_next_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let s = SledStorage::open(&path).unwrap();
    let d = doc(LOG);
    // As a store made before signature bundles holds them.
    let o = s.db().unwrap();
    for i in 0..50 {
        let (hash, sig) = signed(i);
        o.docs.insert(layout::sig_key(&d, &hash), sig).unwrap();
    }
    drop(o);
    let seq = s.append(&d, b"chunk", b"h", &[signed(50)]).unwrap();
    let all: Vec<Sig> = (0..51).map(signed).collect();
    assert_eq!(sorted(s.load(&d).unwrap().unwrap().signatures), all);

    s.compact(&d, b"snapshot", seq).unwrap();
    s.flush().unwrap();
    let o = s.db().unwrap();
    assert_eq!(o.docs.scan_prefix(b"G/").count(), 0);
    assert_eq!(o.docs.scan_prefix(b"B/").count(), 1);
    drop(o);
    assert_eq!(sorted(s.load(&d).unwrap().unwrap().signatures), all);
}

#[test]
fn a_damaged_signature_bundle_is_named_not_misread() {
    let sigs = vec![signed(1), signed(2)];
    let bytes = layout::encode_bundle(&sigs).unwrap();
    assert_eq!(layout::decode_bundle(&bytes).unwrap(), sigs);
    for cut in [1, 33, 40, bytes.len() - 1] {
        let err = layout::decode_bundle(&bytes[..cut]).unwrap_err();
        assert!(err.contains("signature bundle"), "{err}");
    }
    let too_long = vec![([0; 32], vec![0; 70_000])];
    assert!(layout::encode_bundle(&too_long).is_err());
}

#[test]
fn a_signature_stored_again_for_a_change_replaces_the_one_before() {
    let dir = tempfile::tempdir().unwrap();
    let s = SledStorage::open(&dir.path().join("store")).unwrap();
    let d = doc("v/35.10.15.2012");
    let (hash, first) = signed(1);
    let seq = s.append(&d, b"a", b"h1", &[(hash, first)]).unwrap();
    s.compact(&d, b"snapshot", seq).unwrap();
    let again = vec![7; 96];
    s.append(&d, b"b", b"h2", &[(hash, again.clone())]).unwrap();
    assert_eq!(
        s.load(&d).unwrap().unwrap().signatures,
        vec![(hash, again.clone())]
    );
    let seq = s.append(&d, b"c", b"h3", &[signed(2)]).unwrap();
    s.compact(&d, b"snapshot 2", seq).unwrap();
    assert_eq!(
        sorted(s.load(&d).unwrap().unwrap().signatures),
        sorted(vec![(hash, again), signed(2)])
    );
}

/// Signatures of `first..last`, ten a chunk (a bundle of ten is a value
/// file of its own).
fn ten(first: u32) -> Vec<Sig> {
    (first..first + 10).map(signed).collect()
}

/// A compaction staged on another thread (the snapshot's and the folded
/// signatures' files written and synced there) is what the later batch
/// refers to; chunks and signatures written after the ones it covers stay;
/// a staged compaction discarded leaves no file once flushed.
#[test]
fn a_compaction_staged_on_another_thread_is_applied_or_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let s = std::sync::Arc::new(SledStorage::open(&path).unwrap());
    let d = doc(LOG);
    s.append(&d, &bytes(1, 300), b"h1", &ten(0)).unwrap();
    let covered = s.append(&d, &bytes(2, 300), b"h2", &ten(10)).unwrap();
    s.flush().unwrap();
    let before = files(&path.join("values")).len();
    assert_eq!(before, 2, "a file per chunk's bundle");
    let snapshot = bytes(3, 50_000);
    let staged = {
        let s = std::sync::Arc::clone(&s);
        let (snapshot, d) = (snapshot.clone(), d.clone());
        std::thread::spawn(move || s.stage_compaction(&d, snapshot, covered).unwrap())
            .join()
            .unwrap()
    };
    assert_eq!(staged.len, 50_000);
    assert_eq!(
        files(&path.join("values")).len(),
        before + 2,
        "the snapshot and the folded bundle, written ahead"
    );
    // Written while the compaction was being made: stays after it.
    s.append(&d, &bytes(4, 300), b"h3", &ten(20)).unwrap();
    s.compact_staged(&d, staged, covered).unwrap();
    s.flush().unwrap();
    let stored = s.load(&d).unwrap().unwrap();
    assert_eq!(stored.snapshot.as_deref(), Some(&snapshot[..]));
    assert_eq!(stored.chunks.len(), 1);
    assert_eq!(stored.chunks[0].1, bytes(4, 300));
    assert_eq!(stored.heads, b"h3");
    assert_eq!(
        sorted(stored.signatures.clone()),
        sorted((0..30).map(signed).collect())
    );
    assert_eq!(
        files(&path.join("values")).len(),
        3,
        "the snapshot, the folded bundle and the last chunk's bundle: the covered chunks' bundles are gone"
    );

    let unused = s.stage_compaction(&d, bytes(5, 60_000), u64::MAX).unwrap();
    assert_eq!(files(&path.join("values")).len(), 5);
    s.discard_staged(unused);
    s.flush().unwrap();
    assert_eq!(
        files(&path.join("values")).len(),
        3,
        "nothing of the discarded compaction"
    );
    drop(s);
    let s = SledStorage::open(&path).unwrap();
    assert_eq!(s.load(&d).unwrap().unwrap(), stored);
}

/// A fold staged ahead whose bundles changed before it is applied (here a
/// whole snapshot written meanwhile folded them) is not applied as made:
/// the signatures are folded again at apply, none is lost or doubled and
/// the staged bundle's file goes.
#[test]
fn a_staged_fold_made_stale_is_folded_again_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let s = SledStorage::open(&path).unwrap();
    let d = doc(LOG);
    let covered = s.append(&d, &bytes(1, 300), b"h1", &ten(0)).unwrap();
    let staged = s.stage_compaction(&d, bytes(2, 50_000), covered).unwrap();
    // The bundle it folded is folded by a whole write first.
    s.replace(&d, &bytes(3, 50_000), b"h2", &ten(10)).unwrap();
    s.compact_staged(&d, staged, covered).unwrap();
    s.flush().unwrap();
    let stored = s.load(&d).unwrap().unwrap();
    assert_eq!(stored.signatures.len(), 20);
    assert_eq!(
        sorted(stored.signatures),
        sorted((0..20).map(signed).collect())
    );
    // The staged snapshot (the storage applies what it is given; the
    // registry discards a stale one) and the bundle the whole write folded:
    // the stale fold's file is gone, and nothing was folded twice.
    assert_eq!(files(&path.join("values")).len(), 2);
}
