//! Background compaction against the registry's own storage: what it
//! drops, what it keeps, and that a stale result is never applied.

use std::sync::Arc;
use std::time::Duration;

use automerge::ActorId;
use kampung_core::Resident;

use crate::registry::tests::{code, person};
use crate::registry::Registry;
use crate::storage::{DocId, MemoryStorage, Storage};

fn open(storage: &Arc<MemoryStorage>) -> Registry<Arc<MemoryStorage>> {
    Registry::open(Arc::clone(storage), ActorId::from(vec![9u8; 32]), 2026).unwrap()
}

/// Person `p` of village 0, renamed for edit `n`.
fn renamed(p: u16, n: u32) -> Resident {
    let mut r = person(p, 0);
    r.full_name = format!("Warga {p} edit {n}");
    r
}

/// A registry compacting in the background after 4 KB of chunks, with 50
/// residents in village 0.
fn compacting_registry(storage: &Arc<MemoryStorage>) -> Registry<Arc<MemoryStorage>> {
    let mut reg = open(storage);
    reg.compact_in_background(|| {}).unwrap();
    reg.compact_after_bytes(4 << 10);
    let people: Vec<_> = (0..50).map(|p| person(p, 0)).collect();
    reg.write(code(0), &people, 1, &mut |_| {}).unwrap();
    reg
}

/// Apply results until none is under way.
fn settle(reg: &mut Registry<Arc<MemoryStorage>>) -> usize {
    let mut applied = 0;
    for _ in 0..400 {
        if !reg.compacting() {
            break;
        }
        applied += reg.finish_compactions(Duration::from_millis(50));
    }
    assert!(!reg.compacting(), "a compaction never finished");
    applied
}

fn names(reg: &mut Registry<Arc<MemoryStorage>>) -> Vec<String> {
    (0..50)
        .map(|p| {
            reg.read(code(0), person(p, 0).nik)
                .unwrap()
                .unwrap()
                .full_name
        })
        .collect()
}

#[test]
fn chunks_it_covers_leave_and_writes_made_meanwhile_stay() {
    let storage = Arc::new(MemoryStorage::new());
    let mut reg = compacting_registry(&storage);
    let id = DocId::village(code(0));
    let mut n = 0;
    edit_until_handed_over(&mut reg, &mut n);
    let handed_over_at = n;
    // Written while the compactor works: chunks after the snapshot.
    for _ in 0..5 {
        n += 1;
        let p = (n % 50) as u16;
        reg.write(code(0), &[renamed(p, n)], i64::from(n) + 1, &mut |_| {})
            .unwrap();
    }
    // Applied at one of those writes, or now.
    settle(&mut reg);
    // The snapshot covers every write up to the one that handed it over
    // (the import and the edits before); the five made meanwhile stay.
    let stored = storage.load(&id).unwrap().unwrap();
    assert!(stored.snapshot.is_some(), "nothing was compacted");
    assert_eq!(
        stored.chunks.len(),
        5,
        "after {n} edits, {handed_over_at} when handed over"
    );
    let heads = reg.heads(code(0)).unwrap();
    let expected = names(&mut reg);
    assert!(expected.iter().any(|n| n.contains("edit")));
    // What is stored is the document: a new process reads it all.
    drop(reg);
    let mut reopened = open(&storage);
    assert_eq!(reopened.heads(code(0)).unwrap(), heads);
    assert_eq!(names(&mut reopened), expected);
}

#[test]
fn a_result_for_a_document_rewritten_meanwhile_is_dropped() {
    let storage = Arc::new(MemoryStorage::new());
    let mut reg = compacting_registry(&storage);
    let mut n = 0;
    edit_until_handed_over(&mut reg, &mut n);
    // Edits after the hand-over, then the store thread itself rewrites the
    // snapshot (as a whole document merged from a peer or a large write
    // would): a result made from the older snapshot would lose the edits.
    for _ in 0..3 {
        n += 1;
        reg.write(code(0), &[renamed(9, n)], i64::from(n) + 1, &mut |_| {})
            .unwrap();
    }
    reg.compact(code(0)).unwrap();
    n += 1;
    reg.write(code(0), &[renamed(7, n)], i64::from(n) + 1, &mut |_| {})
        .unwrap();
    let heads = reg.heads(code(0)).unwrap();
    let expected = names(&mut reg);
    // The background result, made from the older snapshot, is not applied.
    let mut applied = 0;
    for _ in 0..400 {
        if !reg.compacting() {
            break;
        }
        applied += reg.finish_compactions(Duration::from_millis(50));
    }
    assert!(!reg.compacting());
    let _ = applied;
    drop(reg);
    let mut reopened = open(&storage);
    assert_eq!(reopened.heads(code(0)).unwrap(), heads);
    assert_eq!(names(&mut reopened), expected);
}

/// The compactor alone: a result whose document was rewritten after it
/// was handed over is marked stale; one that was not is not.
#[test]
fn the_compactor_drops_a_result_made_stale_by_a_rewrite() {
    let storage = Arc::new(MemoryStorage::new());
    let mut reg = open(&storage);
    let people: Vec<_> = (0..10).map(|p| person(p, 0)).collect();
    reg.write(code(0), &people, 1, &mut |_| {}).unwrap();
    reg.write(code(0), &[renamed(3, 1)], 2, &mut |_| {})
        .unwrap();
    drop(reg);
    let id = DocId::village(code(0));
    let through = storage.load(&id).unwrap().unwrap().chunks.last().unwrap().0;
    let mut c = super::Compactor::start(Arc::clone(&storage), Box::new(|| {})).unwrap();

    c.submit(&id, through);
    assert!(c.busy(&id) && c.any());
    c.rewritten(&id);
    let mut done = Vec::new();
    while c.any() {
        done.extend(c.finished(Duration::from_millis(50)));
    }
    assert_eq!(done.len(), 1);
    assert!(done[0].stale, "a stale result was not marked");
    done.clear();

    c.submit(&id, through);
    while c.any() {
        done.extend(c.finished(Duration::from_millis(50)));
    }
    assert_eq!(done.len(), 1);
    assert!(!done[0].stale);
    assert_eq!((done[0].chunks, done[0].through), (2, through));
    assert!(done[0]
        .snapshot
        .as_ref()
        .is_ok_and(|s| s.as_ref().is_some_and(|s| s.len > 0)));
}

/// Signed single edits on sled, compacted in the background many times:
/// every change keeps its signature (the fold of the covered chunks'
/// signatures is made on the compactor thread, the store thread applies
/// it), before and after the store is opened again.
#[test]
fn signatures_folded_on_the_compactor_thread_are_all_kept() {
    use crate::storage::sled_storage::SledStorage;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let open_sled = || {
        let mut reg = Registry::open(
            Arc::new(SledStorage::open(&path).unwrap()),
            ActorId::from(vec![9u8; 32]),
            2026,
        )
        .unwrap();
        reg.set_signer(Arc::new(libp2p_identity::Keypair::generate_ed25519()));
        reg
    };
    let mut reg = open_sled();
    reg.compact_in_background(|| {}).unwrap();
    reg.compact_after_bytes(4 << 10);
    let people: Vec<_> = (0..50).map(|p| person(p, 0)).collect();
    reg.write(code(0), &people, 1, &mut |_| {}).unwrap();
    let id = DocId::village(code(0));
    let signed = |reg: &Registry<Arc<SledStorage>>| {
        let stored = reg.storage.load(&id).unwrap().unwrap();
        let hashes: std::collections::HashSet<[u8; 32]> =
            stored.signatures.iter().map(|(h, _)| *h).collect();
        assert_eq!(
            hashes.len(),
            stored.signatures.len(),
            "one signature a change"
        );
        hashes
    };
    let imported = signed(&reg);
    assert!(!imported.is_empty());
    let mut n = 0u32;
    for _ in 0..3 {
        edit_until_handed_over(&mut reg, &mut n);
        // Edits while the compactor works: their bundles stay after it.
        for _ in 0..5 {
            n += 1;
            reg.write(code(0), &[renamed(3, n)], i64::from(n) + 1, &mut |_| {})
                .unwrap();
        }
        // Applied at one of those writes, or here.
        for _ in 0..400 {
            if !reg.compacting() {
                break;
            }
            reg.finish_compactions(Duration::from_millis(50));
        }
        assert!(!reg.compacting(), "a compaction never finished");
        // Compacted: only the edits made while it ran are chunks still.
        let stored = reg.storage.load(&id).unwrap().unwrap();
        assert!(stored.snapshot.is_some());
        assert!(stored.chunks.len() <= 5, "{} chunks", stored.chunks.len());
    }
    let all = signed(&reg);
    assert_eq!(all.len(), imported.len() + n as usize, "after {n} edits");
    assert!(all.is_superset(&imported));
    reg.checkpoint().unwrap();
    drop(reg);
    let reopened = open_sled();
    assert_eq!(signed(&reopened), all);
}

/// Single edits until one hands the village's details document (the one
/// these tests count chunks of) to the compactor; the edits made. Its
/// cards are a document of their own, compacted on their own schedule:
/// `compacting()` alone may be true for the cards while the details keep
/// growing chunks.
fn edit_until_handed_over<S: Storage>(reg: &mut Registry<S>, n: &mut u32) {
    let details = DocId::village(code(0));
    while !reg.compactor.as_ref().is_some_and(|c| c.busy(&details)) {
        *n += 1;
        assert!(*n < 2_000, "never handed over");
        let p = (*n % 50) as u16;
        reg.write(code(0), &[renamed(p, *n)], i64::from(*n) + 1, &mut |_| {})
            .unwrap();
    }
}
