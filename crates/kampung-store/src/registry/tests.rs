use std::collections::BTreeMap;
use std::sync::Arc;

use kampung_core::nik::compose;
use kampung_core::{Address, Sex, Status};
use proptest::prelude::*;
use time::{Date, Duration};

use super::*;
use crate::storage::sled_storage::SledStorage;
use crate::storage::MemoryStorage;

const VILLAGES: [&str; 3] = ["35.10.15.2012", "35.10.15.2001", "35.10.25.2005"];

pub(crate) fn code(i: usize) -> VillageCode {
    VillageCode::parse(VILLAGES[i % VILLAGES.len()]).unwrap()
}

fn actor() -> ActorId {
    ActorId::from(vec![9u8; 32])
}

/// Person `p` (stable NIK, birth date and sex) living in village `v`.
pub(crate) fn person(p: u16, v: usize) -> Resident {
    let birth = Date::from_calendar_date(1960, time::Month::January, 1).unwrap()
        + Duration::days(i64::from(p) * 37);
    let sex = if p % 2 == 0 { Sex::Male } else { Sex::Female };
    let nik = compose(3510, 15, birth, sex, p + 1);
    Resident {
        nik: Nik::parse(&nik, 2026).unwrap().nik(),
        full_name: format!("Warga {p}"),
        sex,
        birth_date: birth,
        family_card: format!("35101501011{:05}", p / 3),
        address: Address {
            dusun: "Krajan".into(),
            rt: 1 + p % 9,
            rw: 1 + p % 4,
        },
        village: code(v),
        status: Status::Active,
        updated_at_ms: 0,
    }
}

fn open_mem(storage: &Arc<MemoryStorage>) -> Registry<Arc<MemoryStorage>> {
    Registry::open(storage.clone(), actor(), 2026).unwrap()
}

#[test]
fn write_then_lookup_and_reopen() {
    let storage = Arc::new(MemoryStorage::new());
    let mut reg = open_mem(&storage);
    let people: Vec<_> = (0..20).map(|p| person(p, 0)).collect();
    let report = reg.write(code(0), &people, 1, &mut |_| {}).unwrap();
    assert_eq!((report.added, report.changed, report.unchanged), (20, 0, 0));
    assert_eq!(reg.lookup(&people[3].nik.to_string()).kind(), "resident");
    // Same records again: nothing changes, no new change in the document.
    let heads = reg.heads(code(0)).unwrap();
    let again = reg.write(code(0), &people, 2, &mut |_| {}).unwrap();
    assert_eq!(again.unchanged, 20);
    assert_eq!(reg.heads(code(0)).unwrap(), heads);
    drop(reg);
    // Reopen without a persisted index: caught up from the document.
    let mut reg = open_mem(&storage);
    assert_eq!(reg.niks(), 20);
    assert!(reg.verify_index().unwrap().is_empty());
}

#[test]
fn a_nik_active_elsewhere_is_refused_and_nothing_is_written() {
    let storage = Arc::new(MemoryStorage::new());
    let mut reg = open_mem(&storage);
    reg.write(code(0), &[person(1, 0)], 1, &mut |_| {}).unwrap();
    let before = reg.heads(code(1)).unwrap();
    let batch = [person(2, 1), person(1, 1)];
    let err = reg.write(code(1), &batch, 2, &mut |_| {}).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Refused(Refusal::RegisteredElsewhere { .. })
        ),
        "{err}"
    );
    assert_eq!(
        reg.heads(code(1)).unwrap(),
        before,
        "refused write changed nothing"
    );
    assert_eq!(
        reg.lookup(&person(2, 1).nik.to_string()).kind(),
        "non_resident"
    );
    // After village 0 records the move, village 1 may register the person.
    let mut moved = person(1, 0);
    moved.status = Status::MovedOut {
        destination: "Desa Paspan".into(),
        date: None,
    };
    reg.write(code(0), &[moved], 3, &mut |_| {}).unwrap();
    reg.write(code(1), &batch, 4, &mut |_| {}).unwrap();
    match reg.lookup(&person(1, 1).nik.to_string()) {
        Verdict::Resident { village, .. } => assert_eq!(village, code(1)),
        other => panic!("{other:?}"),
    }
    // A record for another village is refused.
    let err = reg
        .write(code(0), &[person(5, 1)], 5, &mut |_| {})
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::Refused(Refusal::WrongVillage { .. })
    ));
}

#[test]
fn corrupt_document_and_index_are_named_not_reset() {
    let storage = Arc::new(MemoryStorage::new());
    let mut reg = open_mem(&storage);
    reg.write(code(0), &[person(1, 0)], 1, &mut |_| {}).unwrap();
    reg.compact(code(0)).unwrap();
    drop(reg);
    let id = DocId::card(code(0));
    // A damaged index: refuse to open, naming it and the remedy.
    let mut bytes = storage.index(&id).unwrap().unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    storage.put_index(&id, &bytes).unwrap();
    let err = Registry::open(storage.clone(), actor(), 2026).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("k/35.10.15.2012") && msg.contains("index rebuild"),
        "{msg}"
    );
    // A damaged document snapshot.
    storage.put_index(&id, &index::encode(&[], vec![])).unwrap();
    storage.corrupt_snapshot(&id, b"garbage".to_vec());
    let err = Registry::open(storage.clone(), actor(), 2026).unwrap_err();
    assert!(
        matches!(err, StoreError::CorruptDoc { ref doc, .. } if *doc == id),
        "{err}"
    );
}

#[test]
fn sled_survives_reopen_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let people: Vec<_> = (0..100).map(|p| person(p, 2)).collect();
    {
        let mut reg =
            Registry::open(SledStorage::open(dir.path()).unwrap(), actor(), 2026).unwrap();
        for (i, p) in people.iter().enumerate() {
            // one write per record, compacted now and then
            reg.write(code(2), std::slice::from_ref(p), i as i64, &mut |_| {})
                .unwrap();
            if i % 40 == 39 {
                reg.compact(code(2)).unwrap();
            }
        }
    }
    let mut reg = Registry::open(SledStorage::open(dir.path()).unwrap(), actor(), 2026).unwrap();
    assert_eq!(reg.residents(code(2)).unwrap().len(), 100);
    assert!(reg.verify_index().unwrap().is_empty());
    let stored = reg.storage().load(&DocId::card(code(2))).unwrap().unwrap();
    assert!(stored.snapshot.is_some());
    assert!(stored.chunks.len() < COMPACT_AFTER_CHUNKS);
    // A second process on the same directory is told it is locked.
    let err = SledStorage::open(dir.path()).unwrap_err();
    assert!(
        err.to_string().contains("locked")
            || err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );
}

#[test]
fn a_snapshot_left_unfinished_by_a_full_disk_or_crash_does_not_stop_the_store_opening() {
    let dir = tempfile::tempdir().unwrap();
    let people: Vec<_> = (0..20).map(|p| person(p, 2)).collect();
    {
        let mut reg =
            Registry::open(SledStorage::open(dir.path()).unwrap(), actor(), 2026).unwrap();
        reg.write(code(2), &people, 1, &mut |_| {}).unwrap();
    }
    // What sled leaves when the disk fills (or the power goes) while it
    // writes a snapshot: an empty or partial `.generating` file, with a
    // higher log position than any finished snapshot.
    std::fs::write(dir.path().join("snap.7FFFFFFFFFFFFFFF.generating"), b"").unwrap();
    std::fs::write(
        dir.path().join("snap.7FFFFFFFFFFFFFFE.generating"),
        [7u8; 100],
    )
    .unwrap();
    let mut reg = Registry::open(SledStorage::open(dir.path()).unwrap(), actor(), 2026).unwrap();
    assert_eq!(reg.residents(code(2)).unwrap().len(), 20);
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".generating"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[derive(Debug, Clone)]
enum Op {
    Add { p: u16, v: usize },
    Rename { p: u16 },
    MoveOut { p: u16 },
    Deceased { p: u16 },
    Restart,
    Checkpoint,
    Compact { v: usize },
    Rebuild,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u16..40, 0usize..3).prop_map(|(p, v)| Op::Add { p, v }),
        3 => (0u16..40).prop_map(|p| Op::Rename { p }),
        2 => (0u16..40).prop_map(|p| Op::MoveOut { p }),
        1 => (0u16..40).prop_map(|p| Op::Deceased { p }),
        1 => Just(Op::Restart),
        1 => Just(Op::Checkpoint),
        1 => (0usize..3).prop_map(|v| Op::Compact { v }),
        1 => Just(Op::Rebuild),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// After any sequence of edits and restarts, the index equals a full scan
    /// of the documents, and lookups agree with a plain model.
    #[test]
    fn index_always_equals_the_documents(ops in proptest::collection::vec(op(), 1..40)) {
        index_equals_the_documents_after(ops, false)?;
    }

    /// The same with compaction on its own thread after every kilobyte of
    /// chunks: results applied at later writes and at checkpoints, some
    /// dropped by a restart or made stale by a compaction on this thread.
    #[test]
    fn index_always_equals_the_documents_compacting_in_the_background(ops in proptest::collection::vec(op(), 1..40)) {
        index_equals_the_documents_after(ops, true)?;
    }
}

fn index_equals_the_documents_after(ops: Vec<Op>, background: bool) -> Result<(), TestCaseError> {
    let storage = Arc::new(MemoryStorage::new());
    let open = |storage: &Arc<MemoryStorage>| {
        let mut reg = open_mem(storage);
        if background {
            reg.compact_in_background(|| {}).unwrap();
            reg.compact_after_bytes(1 << 10);
        }
        reg
    };
    let mut reg = open(&storage);
    // model: NIK -> village -> record
    let mut model: BTreeMap<u16, BTreeMap<usize, Resident>> = BTreeMap::new();
    let mut t = 0i64;
    for op in ops {
        t += 1;
        match op {
            Op::Add { p, v } => {
                let r = person(p, v);
                let result = reg.write(code(v), std::slice::from_ref(&r), t, &mut |_| {});
                match active(&model, p) {
                    Some((av, _)) if av != v => prop_assert!(result.is_err()),
                    _ => {
                        result.unwrap();
                        model.entry(p).or_default().insert(v, r);
                    }
                }
            }
            Op::Rename { p } | Op::MoveOut { p } | Op::Deceased { p } => {
                let Some((v, mut r)) = active(&model, p) else {
                    continue;
                };
                match op {
                    Op::Rename { .. } => r.full_name.push_str(" Jr"),
                    Op::MoveOut { .. } => {
                        r.status = Status::MovedOut {
                            destination: "Kota Malang".into(),
                            date: None,
                        }
                    }
                    _ => r.status = Status::Deceased { date: None },
                }
                reg.write(code(v), std::slice::from_ref(&r), t, &mut |_| {})
                    .unwrap();
                model.entry(p).or_default().insert(v, r);
            }
            Op::Restart => {
                drop(reg);
                reg = open(&storage);
            }
            Op::Checkpoint => {
                while reg.compacting() {
                    reg.finish_compactions(std::time::Duration::from_millis(20));
                }
                reg.checkpoint().unwrap()
            }
            Op::Compact { v } => {
                if reg.villages().contains(&code(v)) {
                    reg.compact(code(v)).unwrap()
                }
            }
            Op::Rebuild => reg.rebuild_index().unwrap(),
        }
    }
    drop(reg);
    let mut reg = open_mem(&storage);
    let problems = reg.verify_index().unwrap();
    prop_assert!(problems.is_empty(), "{:?}", problems);
    for (p, records) in &model {
        let nik = person(*p, 0).nik.to_string();
        let expected = match active(&model, *p) {
            Some(_) => "resident",
            // No active record: the first by village order decides (the
            // test's village numbers are not in that order).
            None => records
                .values()
                .min_by_key(|r| banyuwangi::village(r.village).map(|v| v.ordinal))
                .map_or("non_resident", |r| match r.status {
                    Status::MovedOut { .. } => "moved_out",
                    Status::Deceased { .. } => "deceased",
                    Status::Active => "resident",
                }),
        };
        prop_assert_eq!(reg.lookup(&nik).kind(), expected, "person {}", p);
    }
    Ok(())
}

fn active(model: &BTreeMap<u16, BTreeMap<usize, Resident>>, p: u16) -> Option<(usize, Resident)> {
    model.get(&p).and_then(|m| {
        m.iter()
            .find(|(_, r)| r.status == Status::Active)
            .map(|(v, r)| (*v, r.clone()))
    })
}

#[test]
fn write_many_builds_villages_in_parallel_and_refuses_double_claims() {
    let storage = Arc::new(MemoryStorage::new());
    let mut reg = open_mem(&storage);
    let batches: Vec<_> = (0..3)
        .map(|v| {
            (
                code(v),
                (0..30)
                    .map(|p| person(p + 100 * v as u16, v))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let mut seen = Vec::new();
    reg.write_many(batches.clone().into_iter(), 2, 1, &mut |v, r| {
        seen.push((v, r.added))
    })
    .unwrap();
    seen.sort();
    assert_eq!(
        seen,
        vec![(code(1), 30), (code(0), 30), (code(2), 30)]
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );
    assert_eq!(reg.niks(), 90);
    assert!(reg.verify_index().unwrap().is_empty());
    drop(reg);
    let mut reg = open_mem(&storage);
    assert!(reg.verify_index().unwrap().is_empty());
    assert_eq!(reg.niks(), 90);
    // The same person claimed by two villages in one run is refused.
    let clash = vec![
        (code(0), vec![person(500, 0)]),
        (code(1), vec![person(500, 1)]),
    ];
    let err = reg
        .write_many(clash.into_iter(), 2, 2, &mut |_, _| {})
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Refused(Refusal::RegisteredElsewhere { .. })
        ),
        "{err}"
    );
}

#[test]
fn replicas_converge_by_changes_and_by_whole_documents() {
    let owner_store = Arc::new(MemoryStorage::new());
    let mut owner = open_mem(&owner_store);
    let mut replica =
        Registry::open(MemoryStorage::new(), ActorId::from(vec![3u8; 32]), 2026).unwrap();
    let mut late =
        Registry::open(MemoryStorage::new(), ActorId::from(vec![4u8; 32]), 2026).unwrap();
    let id = DocId::card(code(0));
    let people: Vec<_> = (0..50).map(|p| person(p, 0)).collect();
    owner.write(code(0), &people, 1, &mut |_| {}).unwrap();

    // Changes since what the replica has (nothing): in pages.
    loop {
        let have = replica.doc_heads_of(&id).unwrap_or_default();
        let page = owner.changes_since(&id, &have, 2_000).unwrap();
        let applied = replica
            .apply_remote(&id, &page.changes, &page.signatures, &AcceptAll)
            .unwrap()
            .unwrap();
        assert!(applied.missing_deps.is_empty());
        if !page.more {
            break;
        }
    }
    assert_eq!(replica.doc_heads_of(&id), owner.doc_heads_of(&id));
    assert_eq!(
        replica.lookup(&people[7].nik.to_string()).kind(),
        owner.lookup(&people[7].nik.to_string()).kind()
    );
    assert!(replica.verify_index().unwrap().is_empty());

    // One more edit travels as one small change.
    let mut renamed = people[3].clone();
    renamed.full_name = "Sumiati".into();
    owner.write(code(0), &[renamed], 2, &mut |_| {}).unwrap();
    let page = owner
        .changes_since(&id, &replica.doc_heads_of(&id).unwrap(), 1 << 20)
        .unwrap();
    assert_eq!(page.changes.len(), 1);
    replica
        .apply_remote(&id, &page.changes, &page.signatures, &AcceptAll)
        .unwrap()
        .unwrap();
    match replica.lookup(&people[3].nik.to_string()) {
        Verdict::Resident { full_name, .. } => assert_eq!(full_name, "Sumiati"),
        other => panic!("{other:?}"),
    }

    // A node joining late takes the whole stored document.
    let (bytes, sigs) = owner.stored_document(&id).unwrap().unwrap();
    let applied = late
        .apply_document(&id, &bytes, &sigs, &AcceptAll)
        .unwrap()
        .unwrap();
    assert!(applied.changed());
    assert_eq!(late.doc_heads_of(&id), owner.doc_heads_of(&id));
    assert!(late.verify_index().unwrap().is_empty());
    assert_eq!(late.niks(), 50);

    // Garbage is refused and changes nothing.
    let before = late.doc_heads_of(&id);
    assert!(late
        .apply_remote(&id, &[b"junk".to_vec()], &[], &AcceptAll)
        .unwrap()
        .is_err());
    assert!(late
        .apply_document(&id, b"junk", &[], &AcceptAll)
        .unwrap()
        .is_err());
    let other = DocId::card(code(1));
    assert!(
        late.apply_document(&other, &bytes, &sigs, &AcceptAll)
            .unwrap()
            .is_err(),
        "another village's bytes"
    );
    assert_eq!(late.doc_heads_of(&id), before);
}

#[test]
fn a_change_out_of_order_waits_for_its_dependency() {
    let mut owner = open_mem(&Arc::new(MemoryStorage::new()));
    let mut replica =
        Registry::open(MemoryStorage::new(), ActorId::from(vec![3u8; 32]), 2026).unwrap();
    let id = DocId::card(code(0));
    owner
        .write(code(0), &[person(1, 0)], 1, &mut |_| {})
        .unwrap();
    let first = owner.changes_since(&id, &[], 1 << 20).unwrap().changes;
    let h1 = owner.doc_heads_of(&id).unwrap();
    owner
        .write(code(0), &[person(2, 0)], 2, &mut |_| {})
        .unwrap();
    let second = owner.changes_since(&id, &h1, 1 << 20).unwrap().changes;
    // genesis + first change are in `first`; give the replica only the second.
    let applied = replica
        .apply_remote(&id, &second, &[], &AcceptAll)
        .unwrap()
        .unwrap();
    assert!(!applied.missing_deps.is_empty());
    assert!(!applied.changed(), "nothing is held back in memory");
    replica
        .apply_remote(&id, &first, &[], &AcceptAll)
        .unwrap()
        .unwrap();
    assert_eq!(replica.doc_heads_of(&id).unwrap(), h1);
    // The second change is asked for again, and now applies.
    replica
        .apply_remote(&id, &second, &[], &AcceptAll)
        .unwrap()
        .unwrap();
    assert_eq!(replica.doc_heads_of(&id), owner.doc_heads_of(&id));
}

/// Storage that, each time it is asked to flush, notes whether the index
/// already shows the NIK it watches (a reader could then answer from a write
/// that a crash before the flush would lose).
#[derive(Default)]
struct FlushProbe {
    inner: MemoryStorage,
    watch: std::sync::Mutex<Option<(crate::lookups::SharedLookups, Nik)>>,
    seen_before_durable: std::sync::atomic::AtomicBool,
}

impl Storage for FlushProbe {
    fn doc_ids(&self) -> Result<Vec<DocId>, StoreError> {
        self.inner.doc_ids()
    }
    fn heads(&self, doc: &DocId) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.heads(doc)
    }
    fn load(&self, doc: &DocId) -> Result<Option<crate::storage::StoredDoc>, StoreError> {
        self.inner.load(doc)
    }
    fn append(
        &self,
        doc: &DocId,
        chunk: &[u8],
        heads: &[u8],
        sigs: &[crate::storage::Sig],
    ) -> Result<u64, StoreError> {
        self.inner.append(doc, chunk, heads, sigs)
    }
    fn replace(
        &self,
        doc: &DocId,
        snapshot: &[u8],
        heads: &[u8],
        sigs: &[crate::storage::Sig],
    ) -> Result<(), StoreError> {
        self.inner.replace(doc, snapshot, heads, sigs)
    }
    fn compact(&self, doc: &DocId, snapshot: &[u8], through_seq: u64) -> Result<(), StoreError> {
        self.inner.compact(doc, snapshot, through_seq)
    }
    fn remove(&self, doc: &DocId) -> Result<(), StoreError> {
        self.inner.remove(doc)
    }
    fn index(&self, doc: &DocId) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.index(doc)
    }
    fn put_index(&self, doc: &DocId, bytes: &[u8]) -> Result<(), StoreError> {
        self.inner.put_index(doc, bytes)
    }
    fn statements(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        self.inner.statements()
    }
    fn put_statement(&self, id: &[u8; 32], bytes: &[u8]) -> Result<(), StoreError> {
        self.inner.put_statement(id, bytes)
    }
    fn flush(&self) -> Result<(), StoreError> {
        if let Some((lookups, nik)) = &*self.watch.lock().unwrap() {
            if !lookups.read().index().all(*nik).is_empty() {
                self.seen_before_durable
                    .store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        self.inner.flush()
    }
    fn location(&self) -> String {
        self.inner.location()
    }
    fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.inner.size_on_disk()
    }
    fn local_table(&self, name: &str) -> Result<crate::local::LocalTable, StoreError> {
        self.inner.local_table(name)
    }
}

#[test]
fn a_write_is_visible_to_readers_only_once_it_is_durable() {
    let storage = Arc::new(FlushProbe::default());
    let mut registry = Registry::open(storage.clone(), actor(), 2026).unwrap();
    let r = person(1, 0);
    *storage.watch.lock().unwrap() = Some((registry.lookups().clone(), r.nik));
    registry
        .write(code(0), std::slice::from_ref(&r), 1, &mut |_| {})
        .unwrap();
    assert!(
        !storage
            .seen_before_durable
            .load(std::sync::atomic::Ordering::SeqCst),
        "the index showed the write before the storage made it durable"
    );
    assert_eq!(registry.lookups().read().index().all(r.nik).len(), 1);
}

#[test]
fn a_withdrawn_registration_leaves_the_index_here_and_at_replicas() {
    let storage = Arc::new(MemoryStorage::new());
    let mut office = open_mem(&storage);
    let mut replica =
        Registry::open(MemoryStorage::new(), ActorId::from(vec![4u8; 32]), 2026).unwrap();
    let id = DocId::card(code(0));
    let (kept, wrong) = (person(1, 0), person(2, 0));
    office
        .write(code(0), &[kept.clone(), wrong.clone()], 1, &mut |_| {})
        .unwrap();
    let sync = |from: &mut Registry<Arc<MemoryStorage>>, to: &mut Registry<MemoryStorage>| {
        let have = to.doc_heads_of(&id).unwrap_or_default();
        let page = from.changes_since(&id, &have, 1 << 20).unwrap();
        to.apply_remote(&id, &page.changes, &[], &AcceptAll)
            .unwrap()
            .unwrap();
    };
    sync(&mut office, &mut replica);
    assert_eq!(replica.lookup(&wrong.nik.to_string()).kind(), "resident");

    let report = office
        .withdraw(code(0), wrong.nik, "salah daftar", 2)
        .unwrap();
    assert_eq!(report.changed, 1);
    assert_eq!(office.lookup(&wrong.nik.to_string()).kind(), "non_resident");
    assert_eq!(office.get(wrong.nik).unwrap(), None);
    assert_eq!(office.lookup(&kept.nik.to_string()).kind(), "resident");
    // The history keeps the record and says why it went.
    let last = office
        .doc(code(0))
        .unwrap()
        .doc
        .automerge()
        .get_changes(&[])
        .last()
        .map(|c| c.message().map(str::to_string));
    assert_eq!(
        last.flatten().as_deref(),
        Some(format!("withdraw {}: salah daftar", wrong.nik).as_str())
    );

    sync(&mut office, &mut replica);
    assert_eq!(
        replica.lookup(&wrong.nik.to_string()).kind(),
        "non_resident"
    );
    assert_eq!(replica.lookup(&kept.nik.to_string()).kind(), "resident");
    assert!(replica.verify_index().unwrap().is_empty());

    // Nothing left to withdraw; and the withdrawal was durable.
    let again = office.withdraw(code(0), wrong.nik, "lagi", 3).unwrap();
    assert_eq!((again.changed, again.unchanged), (0, 1));
    drop(office);
    let mut reopened = open_mem(&storage);
    assert_eq!(reopened.get(wrong.nik).unwrap(), None);
    assert!(reopened.verify_index().unwrap().is_empty());
}

/// A write is durable before its compaction is tried; a compaction that
/// fails then (the power goes) does not turn the write's answer into an
/// error, and the write survives the crash.
#[test]
fn a_failed_compaction_does_not_fail_the_durable_write_before_it() {
    let storage = Arc::new(MemoryStorage::losing_unflushed());
    let mut reg = open_mem(&storage);
    let mut person = person(1, 0);
    let mut writes = 0;
    // Enough single-record writes that compaction falls due several times.
    while storage
        .load(&DocId::card(code(0)))
        .unwrap()
        .map_or(0, |d| d.chunks.iter().map(|c| c.1.len()).sum::<usize>())
        < 2 * COMPACT_AFTER_BYTES
    {
        writes += 1;
        person.full_name = format!("Dewi Kartika {writes}");
        // The chunks (details and cards) and their flush go through; the
        // power goes after.
        storage.power_cut_after(3);
        reg.write(code(0), std::slice::from_ref(&person), writes, &mut |_| {})
            .unwrap_or_else(|e| panic!("write {writes} answered an error: {e}"));
    }
    drop(reg);
    let mut reopened = open_mem(&Arc::new(storage.after_crash()));
    assert_eq!(
        reopened.get(person.nik).unwrap().unwrap().full_name,
        person.full_name
    );
}

/// Group commit: writes made in a group are stored but shown to readers,
/// and durable, only once the group's one flush has succeeded.
#[test]
fn a_group_commit_shows_its_writes_only_after_its_flush() {
    let storage = Arc::new(MemoryStorage::losing_unflushed());
    let mut reg = open_mem(&storage);
    let (a, b) = (person(1, 0), person(2, 1));
    reg.begin_group();
    reg.write(code(0), std::slice::from_ref(&a), 1, &mut |_| {})
        .unwrap();
    reg.write(code(1), std::slice::from_ref(&b), 1, &mut |_| {})
        .unwrap();
    for r in [&a, &b] {
        assert!(
            reg.lookups().read().index().all(r.nik).is_empty(),
            "shown before the flush"
        );
    }
    let lost = Registry::open(storage.after_crash(), actor(), 2026).unwrap();
    assert_eq!(lost.niks(), 0, "durable before the group's flush");

    reg.commit_group().unwrap();
    for r in [&a, &b] {
        assert_eq!(reg.lookup(&r.nik.to_string()).kind(), "resident");
    }
    let mut kept = Registry::open(storage.after_crash(), actor(), 2026).unwrap();
    assert_eq!(kept.niks(), 2);
    assert!(kept.verify_index().unwrap().is_empty());
}

/// A person registered twice in one group (two villages' clerks at once) is
/// refused the second time, as across two groups: the check counts the
/// group's writes that readers do not see yet.
#[test]
fn a_double_registration_inside_one_group_is_refused() {
    let mut reg = open_mem(&Arc::new(MemoryStorage::new()));
    reg.begin_group();
    reg.write(code(0), &[person(1, 0)], 1, &mut |_| {}).unwrap();
    let err = reg
        .write(code(1), &[person(1, 1)], 1, &mut |_| {})
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Refused(Refusal::RegisteredElsewhere { .. })
        ),
        "{err}"
    );
    reg.commit_group().unwrap();
    assert_eq!(
        reg.lookups()
            .read()
            .index()
            .active_villages(person(1, 0).nik),
        vec![code(0)]
    );
}

/// If the group's flush fails, none of its writes is shown (each is
/// answered with the error by the caller) and none survives a crash.
#[test]
fn a_group_whose_flush_fails_shows_none_of_its_writes() {
    let storage = Arc::new(MemoryStorage::losing_unflushed());
    let mut reg = open_mem(&storage);
    let (a, b) = (person(1, 0), person(2, 1));
    reg.begin_group();
    // Four appends succeed (each write's details and cards); the flush is
    // the write the power cut stops.
    storage.power_cut_after(4);
    reg.write(code(0), std::slice::from_ref(&a), 1, &mut |_| {})
        .unwrap();
    reg.write(code(1), std::slice::from_ref(&b), 1, &mut |_| {})
        .unwrap();
    assert!(reg.commit_group().is_err());
    for r in [&a, &b] {
        assert!(reg.lookups().read().index().all(r.nik).is_empty());
    }
    let after = Registry::open(storage.after_crash(), actor(), 2026).unwrap();
    assert_eq!(after.niks(), 0);
}
