use automerge::ActorId;
use kampung_core::{Nik, VillageCode};

use super::*;
use crate::doc::VillageDoc;

const PEER: &str = "12D3KooWKetapangHarbourCheckpoint0000000000000000001";

fn actor(n: u8) -> ActorId {
    ActorId::from(vec![n; 32])
}

fn crossing(at_ms: i64, nik: &str, decision: Decision) -> Crossing {
    Crossing {
        at_ms,
        nik: nik.to_string(),
        verdict: "non_resident".to_string(),
        explanation: "NOT A RESIDENT: not in the Banyuwangi registry.".to_string(),
        decision,
        case_id: None,
        officer: Some("Bripka Agus".to_string()),
        officer_id: None,
        note: None,
        basis: Vec::new(),
        state: None,
        policy: None,
        found_in: None,
        issued_in: None,
        rule: None,
    }
}

fn village() -> VillageCode {
    VillageCode::parse("35.10.15.2012").unwrap()
}

#[test]
fn genesis_is_shared_by_every_node_of_one_checkpoint() {
    assert_eq!(
        CrossingLog::genesis(PEER).heads(),
        CrossingLog::genesis(PEER).heads()
    );
    assert_ne!(
        CrossingLog::genesis(PEER).heads(),
        CrossingLog::genesis("12D3KooWOtherCheckpoint").heads()
    );
    // Two devices start the log independently, log concurrently, then merge:
    // one list, both entries.
    let mut a = CrossingLog::genesis(PEER);
    let mut b = CrossingLog::genesis(PEER);
    a.record(
        &actor(1),
        &crossing(1_000, "3508015203850003", Decision::AllowedIn),
    )
    .unwrap();
    b.record(
        &actor(2),
        &crossing(2_000, "5101015203850007", Decision::TurnedBack),
    )
    .unwrap();
    a.automerge_mut().merge(b.automerge_mut()).unwrap();
    b.automerge_mut().merge(a.automerge_mut()).unwrap();
    assert_eq!(a.heads(), b.heads());
    assert_eq!(a.len(), 2);
    assert_eq!(a.entries().unwrap(), b.entries().unwrap());
    let kinds: Vec<_> = a
        .entries()
        .unwrap()
        .into_iter()
        .map(|c| c.decision)
        .collect();
    assert_eq!(kinds, vec![Decision::AllowedIn, Decision::TurnedBack]);
}

#[test]
fn entries_read_back_in_time_order_one_change_each() {
    let mut log = CrossingLog::genesis(PEER);
    let mut third = crossing(3_000, "3508015203850003", Decision::IsolationHome);
    third.case_id = Some("00c0ffee00c0ffee".to_string());
    third.note = Some("brought by bus from Surabaya".to_string());
    let first = crossing(1_000, "3510153203850001", Decision::TurnedBack);
    let second = crossing(2_000, "3508015203850004", Decision::AllowedIn);
    for c in [&third, &first, &second] {
        log.record(&actor(1), c).unwrap();
    }
    assert_eq!(
        log.automerge().get_changes(&[]).len(),
        4,
        "genesis + one change per entry"
    );
    assert_eq!(log.entries().unwrap(), vec![first, second, third.clone()]);
    // Incremental save after one more entry is small, and load gives it back.
    let before = log.heads();
    let snapshot = log.save();
    let fourth = crossing(4_000, "3508015203850005", Decision::IsolationGor);
    log.record(&actor(1), &fourth).unwrap();
    let chunk = log.save_after(&before);
    assert!(
        chunk.len() < 1_000,
        "one entry re-syncs in {} bytes",
        chunk.len()
    );
    let back = CrossingLog::load(PEER, Some(&snapshot), [chunk.as_slice()]).unwrap();
    assert_eq!(back.heads(), log.heads());
    assert_eq!(back.entries().unwrap().last(), Some(&fourth));
    // Starting from nothing but chunks works too (the genesis is implied).
    let all = log.save_after(&CrossingLog::genesis(PEER).heads());
    let back = CrossingLog::load(PEER, None, [all.as_slice()]).unwrap();
    assert_eq!(back.entries().unwrap().len(), 4);
}

#[test]
fn every_decision_round_trips() {
    let decisions = vec![
        Decision::AllowedIn,
        Decision::TurnedBack,
        Decision::IsolationGor,
        Decision::IsolationVillageHouse { village: village() },
        Decision::IsolationHome,
        Decision::PickedUpByFamily,
    ];
    let mut log = CrossingLog::genesis(PEER);
    for (i, d) in decisions.iter().enumerate() {
        log.record(
            &actor(1),
            &crossing(i as i64, "3508015203850003", d.clone()),
        )
        .unwrap();
    }
    let back: Vec<_> = log
        .entries()
        .unwrap()
        .into_iter()
        .map(|c| c.decision)
        .collect();
    assert_eq!(back, decisions);
}

#[test]
fn the_basis_replays_the_verdict_on_the_state_it_was_made_on() {
    let mut vdoc = VillageDoc::genesis(village());
    let nik = Nik::parse("3510155203850001", 2026).unwrap().nik();
    let mut r = kampung_core::Resident {
        nik,
        full_name: "Sri Wahyuni".into(),
        sex: kampung_core::Sex::Female,
        birth_date: time::macros::date!(1985 - 03 - 12),
        family_card: "3510150101100001".into(),
        address: kampung_core::Address {
            dusun: "Krajan".into(),
            rt: 1,
            rw: 2,
        },
        village: village(),
        status: kampung_core::Status::Active,
        updated_at_ms: 0,
    };
    vdoc.upsert(&actor(9), &r, 1_000).unwrap();
    let basis = DocHeads::new(crate::DocId::village(village()).as_str(), &vdoc.heads());
    let mut entry = crossing(5_000, "3510155203850001", Decision::AllowedIn);
    entry.verdict = "resident".into();
    entry.basis = vec![basis];
    let mut log = CrossingLog::genesis(PEER);
    log.record(&actor(1), &entry).unwrap();
    // The village later records the person as moved out.
    r.status = kampung_core::Status::MovedOut {
        destination: "Kota Surabaya".into(),
        date: None,
    };
    vdoc.upsert(&actor(9), &r, 9_000).unwrap();
    // The auditor forks the village document at the logged heads.
    let logged = &log.entries().unwrap()[0].basis[0];
    assert_eq!(logged.doc, "v/35.10.15.2012");
    let at = vdoc
        .automerge()
        .fork_at(&logged.change_hashes().unwrap())
        .unwrap();
    let then = VillageDoc::load(village(), Some(&at.save()), []).unwrap();
    assert_eq!(
        then.get(nik).unwrap().unwrap().status,
        kampung_core::Status::Active
    );
}

#[test]
fn refused_entries_write_nothing() {
    let mut log = CrossingLog::genesis(PEER);
    let heads = log.heads();
    let mut bad_case = crossing(1, "3508015203850003", Decision::IsolationGor);
    bad_case.case_id = Some("00C0FFEE".into());
    let empty_nik = crossing(1, "  ", Decision::TurnedBack);
    let mut bad_heads = crossing(1, "3508015203850003", Decision::AllowedIn);
    bad_heads.basis = vec![DocHeads {
        doc: "v/35.10.15.2012".into(),
        heads: vec!["not-hex".into()],
    }];
    let mut twice = crossing(1, "3508015203850003", Decision::AllowedIn);
    twice.basis = vec![
        DocHeads::new("v/35.10.15.2012", &[]),
        DocHeads::new("v/35.10.15.2012", &[]),
    ];
    let mut long_note = crossing(1, "3508015203850003", Decision::AllowedIn);
    long_note.note = Some("x".repeat(MAX_LONG_TEXT + 1));
    for (entry, field) in [
        (bad_case, "case id"),
        (empty_nik, "nik"),
        (bad_heads, "basis heads"),
        (twice, "basis"),
        (long_note, "note"),
    ] {
        match log.record(&actor(1), &entry) {
            Err(CrossingError::Refused { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected {field} refused, got {other:?}"),
        }
    }
    assert_eq!(log.heads(), heads);
    assert!(log.is_empty());
}

#[test]
fn another_checkpoints_log_is_refused() {
    let bytes = CrossingLog::genesis(PEER).save();
    assert!(matches!(
        CrossingLog::load("12D3KooWOtherCheckpoint", Some(&bytes), []),
        Err(CrossingError::WrongCheckpoint { .. })
    ));
    let village = VillageDoc::genesis(village()).save();
    assert!(CrossingLog::load(PEER, Some(&village), []).is_err());
    assert!(CrossingLog::load(PEER, Some(b"not automerge"), []).is_err());
}

#[test]
fn equal_times_from_two_devices_order_the_same_everywhere() {
    let mut a = CrossingLog::genesis(PEER);
    let mut b = CrossingLog::genesis(PEER);
    a.record(
        &actor(1),
        &crossing(7_000, "3508015203850003", Decision::AllowedIn),
    )
    .unwrap();
    b.record(
        &actor(2),
        &crossing(7_000, "3508015203850004", Decision::TurnedBack),
    )
    .unwrap();
    let mut ab = a.clone();
    ab.automerge_mut().merge(b.automerge_mut()).unwrap();
    let mut ba = b.clone();
    ba.automerge_mut().merge(a.automerge_mut()).unwrap();
    assert_eq!(ab.entries().unwrap(), ba.entries().unwrap());
    assert_eq!(ab.len(), 2);
}

#[test]
fn newest_pages_read_from_the_end_of_the_log() {
    let mut log = CrossingLog::genesis(PEER);
    for k in 0..25 {
        let nik = format!("35091542039000{:02}", k + 1);
        log.record(&actor(1), &crossing(1_000 + k, &nik, Decision::AllowedIn))
            .unwrap();
    }
    let all = log.entries().unwrap();
    let mut seen = Vec::new();
    for offset in (0..30).step_by(10) {
        let page = log.newest(offset, 10).unwrap();
        assert!(page.windows(2).all(|w| w[0].at_ms >= w[1].at_ms));
        seen.extend(page);
    }
    let mut newest_first = all.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first, "pages cover the log once, newest first");
    let (total, page) = CrossingLog::newest_in(log.automerge(), 20, 10).unwrap();
    assert_eq!(total, 25);
    assert_eq!(page, newest_first[20..]);
    assert!(log.newest(25, 10).unwrap().is_empty());
}

/// A check that opens a case is one step: if the crossing cannot be stored,
/// the case it opened is gone again (from the registry, the open-case index
/// and storage), and nothing is announced for either.
#[test]
fn a_crossing_that_fails_to_record_leaves_no_case() {
    use crate::case::{new_case_id, Opening, RoleKind, Writer};
    use crate::storage::MemoryStorage;
    use crate::{Registry, Storage};
    use std::sync::Arc;

    let storage = Arc::new(MemoryStorage::new());
    let mut reg = Registry::open(storage.clone(), actor(3), 2026).unwrap();
    let nik = "3509154203900002";
    let opening = Opening {
        nik: Nik::parse(nik, 2026).unwrap().nik(),
        person_name: Some("Siti Aminah".into()),
        at_ms: 1_777_600_000_000,
        by: Writer {
            peer: PEER.into(),
            role: RoleKind::Checkpoint,
            person: None,
        },
        origin: "Kabupaten Jember, Jawa Timur (35.09)".into(),
        required_days: 14,
        place: kampung_core::Place::Gor,
    };
    let case_id = new_case_id([7; 8]);
    let mut entry = crossing(1_777_600_000_000, nik, Decision::IsolationGor);
    entry.case_id = Some(case_id.clone());

    // The disk refuses the crossing log (the case's write still succeeds).
    storage.fail_writes_to(Some("x/"));
    let err = reg
        .record_check(PEER, &entry, Some((&case_id, &opening)), entry.at_ms)
        .unwrap_err();
    assert!(err.to_string().contains("no space left"), "{err}");
    assert!(reg.isolation_case(&case_id).is_none());
    assert!(reg
        .open_case(Nik::parse(nik, 2026).unwrap().nik())
        .is_none());
    assert!(storage
        .load(&crate::DocId::case(&case_id))
        .unwrap()
        .is_none());
    assert!(reg.crossings(PEER).unwrap().is_empty());

    // A crossing refused for its content opens nothing either.
    storage.fail_writes_to(None);
    let mut bad = entry.clone();
    bad.note = Some("x".repeat(MAX_LONG_TEXT + 1));
    assert!(reg
        .record_check(PEER, &bad, Some((&case_id, &opening)), entry.at_ms)
        .is_err());
    assert!(reg.isolation_case(&case_id).is_none());

    // With the disk back, the same check stores both.
    reg.record_check(PEER, &entry, Some((&case_id, &opening)), entry.at_ms)
        .unwrap();
    assert!(reg.isolation_case(&case_id).is_some());
    assert_eq!(reg.crossings(PEER).unwrap().len(), 1);
    assert!(storage
        .load(&crate::DocId::case(&case_id))
        .unwrap()
        .is_some());
}

/// A case's opening that arrives from a peer while the disk is full is not
/// held in memory either: otherwise the next change, arriving once the disk
/// has space, would be stored without the opening it builds on (each stored
/// chunk holds only what came after the heads in memory), and after a
/// restart the case would lack its opening (found by the chaos run).
#[test]
fn a_replicated_case_change_the_disk_refused_is_fetched_again_not_lost() {
    use crate::case::{new_case_id, Note, Opening, RoleKind, Writer};
    use crate::storage::MemoryStorage;
    use crate::AcceptAll;
    use crate::{CaseUpdate, DocId, Registry};
    use std::sync::Arc;

    let gor = Writer {
        peer: "12D3KooWGorTawangalun".into(),
        role: RoleKind::Facility,
        person: None,
    };
    let mut checkpoint = Registry::open(MemoryStorage::new(), actor(3), 2026).unwrap();
    let disk = Arc::new(MemoryStorage::new());
    let mut facility = Registry::open(disk.clone(), actor(4), 2026).unwrap();
    let case_id = new_case_id([9; 8]);
    let id = DocId::case(&case_id);
    let at_ms = 1_777_600_000_000;
    let opening = Opening {
        nik: Nik::parse("3509154203900002", 2026).unwrap().nik(),
        person_name: Some("Siti Aminah".into()),
        at_ms,
        by: Writer {
            peer: PEER.into(),
            role: RoleKind::Checkpoint,
            person: None,
        },
        origin: "Kabupaten Jember, Jawa Timur (35.09)".into(),
        required_days: 14,
        place: kampung_core::Place::Gor,
    };
    checkpoint
        .open_isolation_case(&case_id, &opening, at_ms)
        .unwrap();
    let opened = checkpoint.changes_since(&id, &[], 1 << 20).unwrap();

    // The facility's disk is full when the opening arrives.
    disk.fail_writes_to(Some("c/"));
    let err = facility
        .apply_remote(&id, &opened.changes, &opened.signatures, &AcceptAll)
        .unwrap_err();
    assert!(err.to_string().contains("no space left"), "{err}");
    assert!(facility.isolation_case(&case_id).is_none());
    assert!(facility.doc_heads_of(&id).is_none());

    // Space again; the checkpoint's next change arrives first.
    disk.fail_writes_to(None);
    let h1 = checkpoint.doc_heads_of(&id).unwrap();
    let note = Note {
        text: "Dijemput ambulans GOR".into(),
        at_ms: at_ms + 60_000,
        by: gor,
    };
    checkpoint
        .update_isolation_case(&case_id, &CaseUpdate::Note(note), at_ms + 60_000)
        .unwrap();
    let second = checkpoint.changes_since(&id, &h1, 1 << 20).unwrap();
    let waiting = facility
        .apply_remote(&id, &second.changes, &second.signatures, &AcceptAll)
        .unwrap()
        .unwrap();
    assert!(
        !waiting.missing_deps.is_empty(),
        "the opening is asked for again"
    );
    let all = checkpoint.changes_since(&id, &[], 1 << 20).unwrap();
    facility
        .apply_remote(&id, &all.changes, &all.signatures, &AcceptAll)
        .unwrap()
        .unwrap();
    assert_eq!(facility.doc_heads_of(&id), checkpoint.doc_heads_of(&id));

    // What is stored is the whole case: a restart reads it with its opening.
    drop(facility);
    let reopened = Registry::open(disk, actor(4), 2026).unwrap();
    assert_eq!(reopened.doc_heads_of(&id), checkpoint.doc_heads_of(&id));
    let case = reopened
        .isolation_case(&case_id)
        .expect("the case after a restart");
    assert_eq!(case.info().unwrap().nik, opening.nik);
    assert_eq!(case.notes().unwrap().len(), 1);
}

/// A crossing as nodes before crossing format 2 logged it: a map of fields,
/// its basis a map of lists of 32-byte heads.
fn record_as_map(log: &mut CrossingLog, actor: &ActorId, c: &Crossing) {
    use automerge::transaction::Transactable;
    let list = log.crossings.clone();
    let doc = log.automerge_mut();
    doc.set_actor(actor.clone());
    let mut tx = doc.transaction();
    let at = tx.length(&list);
    let obj = tx.insert_object(&list, at, ObjType::Map).unwrap();
    tx.put(&obj, "at", automerge::ScalarValue::Timestamp(c.at_ms))
        .unwrap();
    tx.put(&obj, "nik", c.nik.as_str()).unwrap();
    tx.put(&obj, "verdict", c.verdict.as_str()).unwrap();
    tx.put(&obj, "explain", c.explanation.as_str()).unwrap();
    tx.put(&obj, "decision", c.decision.kind()).unwrap();
    if let Decision::IsolationVillageHouse { village } = &c.decision {
        tx.put(&obj, "village", village.to_string()).unwrap();
    }
    if let Some(v) = &c.officer {
        tx.put(&obj, "officer", v.as_str()).unwrap();
    }
    if let Some(v) = &c.case_id {
        tx.put(&obj, "case", v.as_str()).unwrap();
    }
    let basis = tx.put_object(&obj, "basis", ObjType::Map).unwrap();
    for b in &c.basis {
        let heads = tx
            .put_object(&basis, b.doc.as_str(), ObjType::List)
            .unwrap();
        for (i, h) in b.change_hashes().unwrap().iter().enumerate() {
            tx.insert(&heads, i, automerge::ScalarValue::Bytes(h.0.to_vec()))
                .unwrap();
        }
    }
    if let Some(p) = c.policy {
        tx.put(&obj, "policy", automerge::ScalarValue::Uint(p))
            .unwrap();
    }
    tx.commit();
}

#[test]
fn a_crossing_is_one_operation_and_a_log_of_maps_written_before_is_still_read() {
    let village_doc = VillageDoc::genesis(village());
    let head = village_doc.heads()[0].to_string();
    let mut old = crossing(
        1_000,
        "3508015203850003",
        Decision::IsolationVillageHouse { village: village() },
    );
    old.case_id = Some("00c0ffee00c0ffee".to_string());
    old.policy = Some(3);
    old.basis = vec![DocHeads {
        doc: "v/35.10.15.2012".to_string(),
        heads: vec![head.clone()],
    }];
    let mut new = crossing(2_000, "3510153203850001", Decision::TurnedBack);
    new.explanation = String::new();
    new.officer_id = Some("u-agus".to_string());
    new.note = Some("\"quoted\", [bracketed] and ünïcode".to_string());
    new.issued_in = Some("35.09".to_string());
    new.rule = Some("bad_month".to_string());
    new.found_in = Some(village());
    new.policy = Some(4);
    new.basis = vec![
        DocHeads {
            doc: "v/35.10.15.2012".to_string(),
            heads: vec![head],
        },
        DocHeads {
            doc: "c/00c0ffee00c0ffee".to_string(),
            heads: Vec::new(),
        },
    ];
    let mut log = CrossingLog::genesis(PEER);
    record_as_map(&mut log, &actor(1), &old);
    let hash = log.record(&actor(2), &new).unwrap();
    let change = log.automerge().get_change_by_hash(&hash).unwrap();
    assert_eq!(change.len(), 1, "one operation for the whole crossing");
    let mut want_new = new.clone();
    want_new.basis.sort_by(|a, b| a.doc.cmp(&b.doc));
    assert_eq!(log.entries().unwrap(), vec![old.clone(), want_new.clone()]);
    // Saved and loaded, merged into a replica holding only the old entry.
    let back = CrossingLog::load(PEER, Some(&log.save()), []).unwrap();
    assert_eq!(back.entries().unwrap(), vec![old, want_new]);
    // A value that is not a crossing names what is wrong, and where.
    let list = log.crossings.clone();
    let doc = log.automerge_mut();
    let mut tx = doc.transaction();
    automerge::transaction::Transactable::insert(&mut tx, &list, 2, "[2, \"oops\"]").unwrap();
    tx.commit();
    match log.entries() {
        Err(CrossingError::BadEntry { index: 2, field }) => assert_eq!(field, "entry"),
        other => panic!("{other:?}"),
    }
}
