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
        changed
            .iter()
            .any(|d| matches!(d.kind(), Some(kampung_core::DocKind::CrossingLog(p, Some(_))) if p == node.peer_id())),
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
        .write_residents(&by, people.clone(), &Default::default(), None)
        .await
        .unwrap();
    assert_eq!(written.report.added, 60);

    // Another village's record is refused with its code, and the field at fault.
    let mut other = people[0].clone();
    other.village = VillageCode::parse("35.10.21.2003").unwrap();
    let refused = node
        .check_residents(&by, vec![other], &Default::default())
        .await
        .unwrap();
    assert_eq!(refused[0].code, RefusalCode::WrongVillage);
    assert_eq!(refused[0].code.field(), "village_code");

    // Move out, then the verdict, the page filter and a second move agree.
    let active = people
        .iter()
        .find(|r| r.status == Status::Active)
        .unwrap()
        .nik;
    // A day of moving after today is refused; yesterday is kept.
    let today = node.today().unwrap();
    let refused = node
        .move_out(
            &by,
            active,
            "Kota Surabaya".into(),
            Some(today + time::Duration::days(1)),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::Refused);
    assert!(refused.message.contains("after today"), "{refused:?}");
    let yesterday = today - time::Duration::days(1);
    let moved = node
        .move_out(&by, active, "Kota Surabaya".into(), Some(yesterday))
        .await
        .unwrap();
    assert!(moved.changed);
    assert_eq!(
        node.resident(&by, active, None).await.unwrap().status,
        Status::MovedOut {
            destination: "Kota Surabaya".into(),
            date: Some(yesterday),
        }
    );
    assert_eq!(
        node.verdict(&by, &active.to_string()).unwrap().kind(),
        "moved_out"
    );
    let again = node
        .move_out(&by, active, "Kota Malang".into(), None)
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
        .write_residents(&by, people, &Default::default(), None)
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

/// What village offices found: re-importing the master file undid a move
/// out, and a file whose NIKs collided with registered people overwrote
/// them (reported as "23 changed"). Every batch write now refuses both,
/// and dates after today, unless the clerk confirms that NIK.
#[tokio::test]
async fn an_import_never_overwrites_a_person_nor_undoes_a_move_unless_confirmed() {
    let village = kampunganyar();
    let parts = Parts::in_memory(Role::Village { village })
        .clock(ManualClock::new(may_first()))
        .offline();
    let running = kampung_node::start(parts).await.unwrap();
    let node = running.node().clone();
    let by = Actor::local();
    let none = kampung_node::Confirmed::new();
    let mut master = kampung_gen::village_residents(village, 60, 5);
    master.retain(|r| r.status == Status::Active);
    master.truncate(40);
    node.write_residents(&by, master.clone(), &none, None)
        .await
        .unwrap();

    // The office records a move out; then someone imports the master file again.
    let mover = master[3].nik;
    node.move_out(&by, mover, "Kota Surabaya".into(), None)
        .await
        .unwrap();
    let preview = node
        .preview_import(&by, master.clone(), &none)
        .await
        .unwrap();
    assert_eq!(preview.refused.len(), 1, "{:?}", preview.refused);
    assert_eq!(preview.refused[0].code, RefusalCode::OlderState);
    assert_eq!(preview.refused[0].index, 3);
    assert_eq!(preview.refused[0].field, "status");
    assert_eq!(preview.unchanged, 39);
    let err = node
        .write_residents(&by, master.clone(), &none, None)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Refused, "{err}");
    assert_eq!(
        node.verdict(&by, &mover.to_string()).unwrap().kind(),
        "moved_out",
        "the refused import wrote nothing"
    );

    // Another office's file whose NIKs are our people's, with other names:
    // 23 people would have been overwritten; each is named and refused.
    let others = kampung_gen::village_residents(village, 200, 77);
    let words = |s: &str| -> Vec<String> { s.split_whitespace().map(str::to_lowercase).collect() };
    let mut theirs = others.iter();
    let colliding: Vec<_> = master
        .iter()
        .filter(|r| r.nik != mover)
        .filter_map(|ours| {
            // Someone else entirely: no word of the name in common.
            let other = theirs.by_ref().find(|t| {
                words(&t.full_name)
                    .iter()
                    .all(|w| !words(&ours.full_name).contains(w))
            })?;
            Some(kampung_core::Resident {
                full_name: other.full_name.clone(),
                ..ours.clone()
            })
        })
        .take(23)
        .collect();
    assert_eq!(colliding.len(), 23);
    let preview = node
        .preview_import(&by, colliding.clone(), &none)
        .await
        .unwrap();
    assert_eq!(preview.refused.len(), 23);
    assert!(preview
        .refused
        .iter()
        .all(|r| r.code == RefusalCode::IdentityChange && r.field == "full_name"));
    assert!(preview.refused[0].message.contains(
        &master
            .iter()
            .find(|m| m.nik == colliding[0].nik)
            .unwrap()
            .full_name
    ));
    assert!(preview.changed.is_empty());
    assert!(node
        .write_residents(&by, colliding.clone(), &none, None)
        .await
        .is_err());
    let kept = node.resident(&by, colliding[0].nik, None).await.unwrap();
    assert_ne!(
        kept.full_name, colliding[0].full_name,
        "nobody was overwritten"
    );

    // The same name in capitals (as SIAK exports it), with a typo fixed or
    // a word added, is a correction, not another person.
    let mut shouting = master[5].clone();
    shouting.full_name = shouting.full_name.to_uppercase();
    let mut longer = master[6].clone();
    longer.full_name = format!("{} Putra", longer.full_name);
    let mut typo = master[8].clone();
    typo.full_name = typo.full_name.replacen(|c: char| c.is_alphabetic(), "X", 1);
    let preview = node
        .preview_import(&by, vec![shouting, longer, typo], &none)
        .await
        .unwrap();
    assert!(preview.refused.is_empty(), "{:?}", preview.refused);
    assert_eq!(preview.changed.len(), 3);

    // Confirmed for one NIK, that one change is written, and only it.
    let confirmed = kampung_node::Confirmed::from([colliding[0].nik]);
    let err = node
        .write_residents(&by, colliding.clone(), &confirmed, None)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Refused);
    let written = node
        .write_residents(&by, colliding[..1].to_vec(), &confirmed, None)
        .await
        .unwrap();
    assert_eq!(written.report.changed, 1);
    // The person came back: confirmed, the master row brings them back.
    let back = node
        .write_residents(
            &by,
            vec![master[3].clone()],
            &kampung_node::Confirmed::from([mover]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(back.report.changed, 1);
    assert_eq!(
        node.verdict(&by, &mover.to_string()).unwrap().kind(),
        "resident"
    );

    // Dates after today (1 May 2026) are refused, naming the field.
    let mut unborn = master[7].clone();
    unborn.status = Status::Deceased {
        date: Some(time::macros::date!(2026 - 05 - 02)),
    };
    let refused = node
        .check_residents(&by, vec![unborn], &none)
        .await
        .unwrap();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].code, RefusalCode::FutureDate);
    assert_eq!(refused[0].field, "died_on");
    running.stop().await.unwrap();
}
