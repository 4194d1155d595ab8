use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use automerge::ChangeHash;
use kampung_core::{Policy, Status};

use crate::doc::VillageDoc;
use crate::registry::tests::{code, person};
use crate::storage::{DocId, MemoryStorage, Storage};
use crate::Registry;

/// A verdict read from the shared lookups while the registry writes names
/// heads at which the village's document says exactly what the verdict
/// says: the index and its heads never disagree, so an auditor's replay of
/// any verdict from its basis gives the same answer.
#[test]
fn verdicts_read_during_writes_replay_from_their_heads() {
    let storage = Arc::new(MemoryStorage::new());
    let mut reg = Registry::open(
        storage.clone(),
        automerge::ActorId::from(vec![9u8; 32]),
        2026,
    )
    .unwrap();
    let village = code(0);
    let mut someone = person(7, 0);
    reg.write(village, &[someone.clone()], 1, &mut |_| {})
        .unwrap();
    let nik = someone.nik.to_string();
    let lookups = reg.lookups().clone();
    let done = AtomicBool::new(false);
    let enough = AtomicBool::new(false);
    let policy = Policy::default();

    let seen = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            // Each distinct answer once: (kind, basis) -> times seen.
            let mut seen = BTreeMap::new();
            let mut kinds = BTreeSet::new();
            while !done.load(Ordering::Acquire) {
                // Both answers, at three states or more: the writer may stop
                // (on a loaded machine this reader may run seldom).
                if seen.len() > 2 && kinds.len() > 1 {
                    enough.store(true, Ordering::Release);
                }
                let crate::lookups::Checked { verdict, basis, .. } =
                    lookups.read().check_verdict(&nik, &policy, |_| None);
                let heads: Vec<_> = basis
                    .iter()
                    .map(|b| (b.doc.clone(), b.heads.clone()))
                    .collect();
                kinds.insert(verdict.kind().to_string());
                *seen
                    .entry((verdict.kind().to_string(), heads))
                    .or_insert(0u64) += 1;
            }
            seen
        });
        let mut i = 0;
        while !enough.load(Ordering::Acquire) && i < 20_000 {
            i += 1;
            someone.status = if i % 2 == 0 {
                Status::MovedOut {
                    destination: format!("Denpasar {i}"),
                    date: None,
                }
            } else {
                Status::Active
            };
            reg.write(village, &[someone.clone()], 2 + i, &mut |_| {})
                .unwrap();
        }
        done.store(true, Ordering::Release);
        reader.join().unwrap()
    });

    let stored = storage.load(&DocId::card(village)).unwrap().unwrap();
    let whole = VillageDoc::load_part(
        crate::doc::Part::Card,
        village,
        stored.snapshot.as_deref(),
        stored.chunks.iter().map(|(_, c)| c.as_slice()),
    )
    .unwrap();
    let kinds: BTreeSet<&str> = seen.keys().map(|(k, _)| k.as_str()).collect();
    // The reader saw the record change under it (not only before or after).
    assert!(seen.len() > 2, "distinct answers seen: {}", seen.len());
    assert!(
        kinds.contains("resident") && kinds.contains("moved_out"),
        "{kinds:?}"
    );
    for (kind, basis) in seen.keys() {
        assert_eq!(basis.len(), 1, "one document decides: {basis:?}");
        assert_eq!(basis[0].0, DocId::card(village).to_string());
        let heads: Vec<ChangeHash> = basis[0].1.iter().map(|h| h.parse().unwrap()).collect();
        let then = whole.automerge().fork_at(&heads).unwrap();
        let then =
            VillageDoc::load_part(crate::doc::Part::Card, village, Some(&then.save()), []).unwrap();
        let record = then.get(someone.nik).unwrap().unwrap();
        let expected = match record.status {
            Status::Active => "resident",
            Status::MovedOut { .. } => "moved_out",
            Status::Deceased { .. } => "deceased",
        };
        assert_eq!(kind, expected, "verdict vs its basis {:?}", basis[0].1);
    }
}

/// A write is visible to readers of the shared lookups when it returns.
#[test]
fn readers_see_a_write_once_it_returns() {
    let storage = Arc::new(MemoryStorage::new());
    let mut reg = Registry::open(storage, automerge::ActorId::from(vec![9u8; 32]), 2026).unwrap();
    let lookups = reg.lookups().clone();
    let someone = person(3, 1);
    let nik = someone.nik.to_string();
    assert_eq!(lookups.read().lookup(&nik).kind(), "non_resident");
    reg.write(code(1), &[someone], 1, &mut |_| {}).unwrap();
    assert_eq!(lookups.read().lookup(&nik).kind(), "resident");
    assert_eq!(lookups.read().index().len(), 1);
}
