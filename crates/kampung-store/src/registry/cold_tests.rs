//! Crossing logs a node does not write stay on disk: changes that extend
//! them are appended without loading them, and everything still reads,
//! serves and survives a restart; a stored chunk that does not apply is
//! dropped when the log is next loaded, and the rest kept.

use std::sync::Arc;

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ChangeHash, ROOT};
use kampung_core::{LogMonth, Policy};

use super::*;
use crate::crossing::{Crossing, CrossingLog, Decision};
use crate::registry::tests::{code, person};
use crate::storage::MemoryStorage;

const PEER: &str = "12D3KooWKetapangHarbourColdLogs";
const AT: i64 = 1_777_600_000_000;

fn open_on(storage: &Arc<MemoryStorage>, actor: u8) -> Registry<Arc<MemoryStorage>> {
    Registry::open(Arc::clone(storage), ActorId::from(vec![actor; 32]), 2026).unwrap()
}

fn cross(reg: &mut Registry<Arc<MemoryStorage>>, nik: &str, at_ms: i64) {
    let checked = reg
        .lookups()
        .read()
        .check_verdict(nik, &Policy::default(), |_| None);
    let crossing = Crossing::of_check(at_ms, nik, &checked, Decision::AllowedIn, 0);
    reg.record_check_on(PEER, &crossing, None, &checked.state, at_ms)
        .unwrap();
}

/// Pull `id` from `from` into `to` as anti-entropy does, page by page.
pub(super) fn pull(
    from: &mut Registry<Arc<MemoryStorage>>,
    to: &mut Registry<Arc<MemoryStorage>>,
    id: &DocId,
) -> usize {
    let mut applied = 0;
    loop {
        let have = to.doc_heads_of(id).unwrap_or_default();
        let page = from.changes_since(id, &have, 4 << 10).unwrap();
        if page.changes.is_empty() {
            return applied;
        }
        let done = to
            .apply_remote(id, &page.changes, &page.signatures, &AcceptAll)
            .unwrap()
            .unwrap();
        applied += done.new_changes;
        if !page.more {
            return applied;
        }
    }
}

#[test]
fn a_log_this_node_does_not_write_is_merged_read_and_served_from_disk() {
    let mut checkpoint = open_on(&Arc::new(MemoryStorage::new()), 1);
    let village_store = Arc::new(MemoryStorage::new());
    let mut village = open_on(&village_store, 2);
    let people: Vec<_> = (0..3).map(|p| person(p, 0)).collect();
    checkpoint.write(code(0), &people, AT, &mut |_| {}).unwrap();
    // (The village cards too, so the village can replay the verdicts.)
    pull(&mut checkpoint, &mut village, &DocId::card(code(0)));
    let id = DocId::crossings(PEER, LogMonth::of_ms(AT).unwrap());
    // The first changes arrive for a log the village has never seen: it
    // holds it while merging, and lets it go after.
    cross(&mut checkpoint, &people[0].nik.to_string(), AT);
    pull(&mut checkpoint, &mut village, &id);
    assert_eq!(village.logs_in_memory(), 0);
    // From then on, crossings one at a time, as announcements bring them,
    // appended to the store without loading the log.
    let loads = village.log_loads();
    for i in 1..40 {
        cross(
            &mut checkpoint,
            &people[i % 3].nik.to_string(),
            AT + i as i64 * 1000,
        );
        assert_eq!(pull(&mut checkpoint, &mut village, &id), 1);
        assert_eq!(village.logs_in_memory(), 0, "crossing {i} loaded the log");
    }
    assert_eq!(village.log_loads(), loads);
    assert_eq!(village.doc_heads_of(&id), checkpoint.doc_heads_of(&id));
    assert_eq!(
        village.crossings(PEER).unwrap(),
        checkpoint.crossings(PEER).unwrap()
    );
    assert_eq!(village.crossings_page(PEER, 0, 5).unwrap().0, 40);
    // The village serves it to a late node, which converges.
    let mut late = open_on(&Arc::new(MemoryStorage::new()), 3);
    assert_eq!(pull(&mut village, &mut late, &id), 40);
    assert_eq!(late.doc_heads_of(&id), checkpoint.doc_heads_of(&id));
    // A restart reads it from disk, heads and all.
    drop(village);
    let mut village = open_on(&village_store, 2);
    assert_eq!(village.logs_in_memory(), 0);
    assert_eq!(village.doc_heads_of(&id), checkpoint.doc_heads_of(&id));
    assert_eq!(village.crossings(PEER).unwrap().len(), 40);
    let replayed = village
        .replay(&ReplayQuery::default(), &|v| (v == 0).then(Policy::default))
        .unwrap();
    assert_eq!((replayed.crossings, replayed.matched), (40, 40));
}

#[test]
fn a_stored_chunk_that_does_not_apply_is_dropped_and_the_rest_kept() {
    let storage = Arc::new(MemoryStorage::new());
    let month = LogMonth::of_ms(AT).unwrap();
    let id = DocId::crossings(PEER, month);
    // Two changes by one actor with the same sequence number: Automerge
    // takes the first and refuses the second.
    let genesis = CrossingLog::genesis_in(PEER, Some(month)).into_automerge();
    let fork = |text: &str| -> Automerge {
        let mut am = genesis.fork().with_actor(ActorId::from(vec![9u8; 32]));
        let mut tx = am.transaction();
        tx.put(ROOT, "note", text).unwrap();
        tx.commit();
        am
    };
    let (good, bad) = (fork("kept"), fork("forged"));
    let heads = |am: &Automerge| -> Vec<u8> { am.get_heads().iter().flat_map(|h| h.0).collect() };
    let after_genesis = |am: &Automerge| am.save_after(&genesis.get_heads());
    storage
        .append(&id, &after_genesis(&good), &heads(&good), &[])
        .unwrap();
    storage
        .append(&id, &after_genesis(&bad), &heads(&bad), &[])
        .unwrap();
    let mut reg = open_on(&storage, 1);
    let page = reg.changes_since(&id, &[], 1 << 20).unwrap();
    assert_eq!(page.changes.len(), 1, "the kept change alone");
    let held: Vec<ChangeHash> = reg.doc_heads_of(&id).unwrap();
    assert_eq!(held, good.get_heads());
    // The store now holds what loads, and says so after a restart.
    drop(reg);
    let reg = open_on(&storage, 1);
    assert_eq!(reg.doc_heads_of(&id).unwrap(), good.get_heads());
}

#[test]
fn an_auditors_node_keeps_every_log_in_memory() {
    let mut checkpoint = open_on(&Arc::new(MemoryStorage::new()), 1);
    let store = Arc::new(MemoryStorage::new());
    let mut auditor = open_on(&store, 4);
    auditor.set_logs_held(usize::MAX);
    let people: Vec<_> = (0..2).map(|p| person(p, 0)).collect();
    checkpoint.write(code(0), &people, AT, &mut |_| {}).unwrap();
    let months = [
        LogMonth::of_ms(AT).unwrap(),
        LogMonth::of_ms(AT).unwrap().plus(1),
    ];
    for (i, m) in months.iter().enumerate() {
        cross(
            &mut checkpoint,
            &people[i].nik.to_string(),
            m.start_ms() + 1000,
        );
        pull(&mut checkpoint, &mut auditor, &DocId::crossings(PEER, *m));
    }
    assert_eq!(auditor.logs_in_memory(), 2);
    auditor
        .expire(
            months[1].start_ms() + 2000,
            Keep::default(),
            Keep::default(),
        )
        .unwrap();
    assert_eq!(auditor.logs_in_memory(), 2, "an archive keeps past months");
    drop(auditor);
    // Reopened, it answers before loading a log; the store then warms
    // them one at a time while idle, and reads them meanwhile from disk.
    let mut auditor = open_on(&store, 4);
    auditor.set_logs_held(usize::MAX);
    assert_eq!(auditor.logs_in_memory(), 0);
    assert!(auditor.cold_logs_to_warm());
    assert_eq!(auditor.crossings(PEER).unwrap().len(), 2);
    assert!(auditor.warm_log().unwrap());
    assert_eq!(auditor.logs_in_memory(), 1);
    assert!(auditor.warm_log().unwrap());
    assert!(!auditor.warm_log().unwrap(), "nothing left to warm");
    assert!(!auditor.cold_logs_to_warm());
    assert_eq!(auditor.logs_in_memory(), 2);
    assert_eq!(auditor.crossings(PEER).unwrap().len(), 2);
}

#[test]
fn only_an_archive_warms_logs() {
    let mut checkpoint = open_on(&Arc::new(MemoryStorage::new()), 1);
    let store = Arc::new(MemoryStorage::new());
    let mut village = open_on(&store, 5);
    let people = [person(0, 0)];
    checkpoint.write(code(0), &people, AT, &mut |_| {}).unwrap();
    cross(&mut checkpoint, &people[0].nik.to_string(), AT);
    let id = DocId::crossings(PEER, LogMonth::of_ms(AT).unwrap());
    pull(&mut checkpoint, &mut village, &id);
    assert_eq!(village.logs_in_memory(), 0, "a village passes logs on");
    assert!(!village.cold_logs_to_warm());
    assert!(!village.warm_log().unwrap());
    assert_eq!(village.logs_in_memory(), 0);
}
