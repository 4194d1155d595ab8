//! The node library's workflows on in-memory nodes: each does its checks,
//! the write, the durability and the announcement in one place, and refuses
//! with a stable code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use kampung_core::{ManualClock, Role, Status, VillageCode};
use kampung_node::{Actor, CaseChange, CrossingInput, ErrorCode, NewCase, Parts, RefusalCode};
use kampung_store::case::Outcome;
use kampung_store::crossing::Decision;
use kampung_store::storage::MemoryStorage;
use kampung_store::{DocId, Registry};

fn kampunganyar() -> VillageCode {
    VillageCode::parse("35.10.15.2012").unwrap()
}

/// 10:00 on 1 May 2026 in Banyuwangi (WIB), unix ms.
fn may_first() -> i64 {
    time::macros::datetime!(2026-05-01 10:00 +7).unix_timestamp() * 1000
}

/// A NIK issued in Jember (35.09), a woman born 1990-03-12.
const JEMBER: &str = "3509155203900002";

#[tokio::test]
async fn a_crossing_that_opens_a_case_writes_both_or_neither() {
    let storage = Arc::new(MemoryStorage::new());
    let key = kampung_mesh::identity::Keypair::generate_ed25519();
    let registry = Registry::open(storage.clone(), automerge::ActorId::random(), 2026).unwrap();
    let parts = Parts::new(registry, key, Role::checkpoint("ketapang").unwrap())
        .clock(ManualClock::new(may_first()))
        .offline();
    let running = kampung_node::start(parts).await.unwrap();
    let node = running.node().clone();
    let mut changes = node.store().subscribe();
    let by = Actor::local();
    let check = |open_case| CrossingInput {
        open_case,
        ..CrossingInput::new(JEMBER, Decision::IsolationGor)
    };

    // The disk refuses the crossing log: the case it opened is gone again,
    // and nothing was announced as changed.
    storage.fail_writes_to(Some("x/"));
    let err = node.log_crossing(&by, check(true)).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Store, "{err}");
    assert!(node.cases(&by).await.unwrap().is_empty());
    assert_eq!(node.verdict(&by, JEMBER).unwrap().kind(), "non_resident");
    assert!(changes.try_recv().is_err(), "nothing was announced");

    // With the disk back: one step, both written, the crossing names the case.
    storage.fail_writes_to(None);
    let logged = node.log_crossing(&by, check(true)).await.unwrap();
    let case_id = logged.opened_case.clone().expect("a case was opened");
    assert_eq!(logged.crossing.case_id.as_deref(), Some(case_id.as_str()));
    assert_eq!(logged.answer.kind(), "non_resident");
    let case = node.case(&by, &case_id).await.unwrap();
    assert_eq!(case.info.required_days, 14);
    assert_eq!(case.day, 1);
    let mut changed = Vec::new();
    while let Ok(c) = changes.try_recv() {
        changed.push(c.doc);
    }
    assert!(changed.contains(&DocId::case(&case_id)), "{changed:?}");
    assert!(
        changed.contains(&DocId::crossing_log(node.peer_id())),
        "{changed:?}"
    );
    // The person is now under isolation: a second case is refused.
    assert_eq!(
        node.verdict(&by, JEMBER).unwrap().kind(),
        "resident_under_isolation"
    );
    let err = node.log_crossing(&by, check(true)).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::CaseOpen, "{err}");
    // A crossing without a new case refers to the open one.
    let again = node.log_crossing(&by, check(false)).await.unwrap();
    assert_eq!(again.crossing.case_id.as_deref(), Some(case_id.as_str()));
    let page = node.crossings_page(&by, None, 0, 10).await.unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(page.items[0].at_ms, again.crossing.at_ms);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn cases_are_read_one_by_id_and_updated_by_their_writers_only() {
    let clock = ManualClock::new(may_first());
    let gor = kampung_node::start(
        Parts::in_memory(Role::facility("gor-tawangalun").unwrap())
            .clock(clock.clone())
            .offline(),
    )
    .await
    .unwrap();
    let node = gor.node().clone();
    let by = Actor::local();
    let nik = node.parse_nik_full(JEMBER).unwrap();
    let opened = node
        .open_case(
            &by,
            NewCase {
                nik,
                person_name: Some("Siti Aminah".into()),
                origin: None,
                place: kampung_core::Place::Gor,
            },
        )
        .await
        .unwrap();
    let id = opened.info.case_id.clone();
    assert!(
        opened.info.origin.contains("Jember"),
        "{}",
        opened.info.origin
    );
    let (_, due) = node.follow_ups_due(&by).await.unwrap();
    assert_eq!(due.len(), 1);
    let seen = node
        .update_case(
            &by,
            &id,
            CaseChange::FollowUp {
                date: None,
                outcome: Outcome::SeenOk,
                note: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(seen.today.len(), 1);
    assert!(node.follow_ups_due(&by).await.unwrap().1.is_empty());
    clock.advance(86_400_000);
    assert_eq!(node.case(&by, &id).await.unwrap().day, 2);

    let unknown = node.case(&by, "0123456789abcdef").await.unwrap_err();
    assert_eq!(unknown.code, ErrorCode::CaseNotFound);
    let malformed = node.case(&by, "../etc").await.unwrap_err();
    assert_eq!(malformed.code, ErrorCode::InvalidParameter);
    assert_eq!(malformed.field.as_deref(), Some("id"));
    gor.stop().await.unwrap();

    let auditor = kampung_node::start(Parts::in_memory(Role::Auditor).offline())
        .await
        .unwrap();
    let err = auditor
        .node()
        .update_case(&by, &id, CaseChange::Note("x".into()))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::RoleNotAllowed, "{err}");
    auditor.stop().await.unwrap();
}

#[tokio::test]
async fn residents_workflows_refuse_with_codes_and_page_from_the_index() {
    let village = kampunganyar();
    let running = kampung_node::start(Parts::in_memory(Role::Village { village }).offline())
        .await
        .unwrap();
    let node = running.node().clone();
    let by = Actor::local();
    let mut people = kampung_gen::village_residents(village, 60, 9);
    people.sort_by_key(|r| r.nik);
    let written = node
        .write_residents(&by, people.clone(), None)
        .await
        .unwrap();
    assert_eq!(written.report.added, 60);

    // Another village's record is refused with its code, and the field at fault.
    let mut other = people[0].clone();
    other.village = VillageCode::parse("35.10.21.2003").unwrap();
    let refused = node.check_residents(&by, vec![other]).await.unwrap();
    assert_eq!(refused[0].code, RefusalCode::WrongVillage);
    assert_eq!(refused[0].code.field(), "village_code");

    // Move out, then the verdict, the page filter and a second move agree.
    let active = people
        .iter()
        .find(|r| r.status == Status::Active)
        .unwrap()
        .nik;
    let moved = node
        .move_out(&by, active, "Kota Surabaya".into())
        .await
        .unwrap();
    assert!(moved.changed);
    assert_eq!(
        node.verdict(&by, &active.to_string()).unwrap().kind(),
        "moved_out"
    );
    let again = node
        .move_out(&by, active, "Kota Malang".into())
        .await
        .unwrap_err();
    assert_eq!(again.code, ErrorCode::Refused);
    let mut q = kampung_node::ResidentQuery::new(village, 100);
    q.status = Some(kampung_core::resident::StatusKind::MovedOut);
    let page = node.residents_page(&by, q).await.unwrap();
    assert!(page.items.iter().any(|r| r.nik == active));
    assert!(page
        .items
        .iter()
        .all(|r| matches!(r.status, Status::MovedOut { .. })));

    // Only a village node writes residents.
    let checkpoint =
        kampung_node::start(Parts::in_memory(Role::checkpoint("k").unwrap()).offline())
            .await
            .unwrap();
    let err = checkpoint
        .node()
        .write_residents(&by, people, None)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotAVillageNode);
    checkpoint.stop().await.unwrap();
    let err = node
        .resident(&by, node.parse_nik(JEMBER).unwrap(), None)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotRegistered);
    running.stop().await.unwrap();
    // A stopped node answers that it is shutting down.
    let err = node.cases(&by).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::ShuttingDown);
}

#[tokio::test]
async fn freshness_is_zero_for_our_own_documents_and_unknown_offline() {
    let village = kampunganyar();
    let running = kampung_node::start(Parts::in_memory(Role::Village { village }).offline())
        .await
        .unwrap();
    let node = running.node();
    assert_eq!(
        node.copy_age(&DocId::village(village)),
        Some(Duration::ZERO)
    );
    let other = DocId::village(VillageCode::parse("35.10.21.2003").unwrap());
    assert_eq!(node.copy_age(&other), None);
    assert!(node.freshness(other).owner_last_heard_secs.is_none());
    running.stop().await.unwrap();
}
