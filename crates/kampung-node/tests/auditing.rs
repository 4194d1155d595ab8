//! What the pages of the clerk and the auditor rest on: a change previewed
//! field by field before it is written, the village's own cases, crossings
//! of every checkpoint searched, one person's history, and the audit of a
//! running node's store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use kampung_core::{ManualClock, Place, Role, Status, VillageCode};
use kampung_node::{
    Access, AccessQuery, Actor, Correction, CrossingInput, ErrorCode, NewCase, Parts, PersonRole,
    RecordChange, RecordEventKind,
};
use kampung_store::audit::FailureKind;
use kampung_store::crossing::{CrossingFilter, Decision};

fn kampunganyar() -> VillageCode {
    VillageCode::parse("35.10.15.2012").unwrap()
}

/// 10:00 on 1 May 2026 in Banyuwangi (WIB), unix ms.
fn may_first() -> i64 {
    time::macros::datetime!(2026-05-01 10:00 +7).unix_timestamp() * 1000
}

/// Issued in Jember (35.09): women born 1990-03-12.
const JEMBER: &str = "3509155203900002";
const JEMBER_2: &str = "3509155203900003";
/// Issued in Bali (51.01), not registered.
const BALI: &str = "5101015203850007";

fn officer(name: &str) -> Actor {
    Actor::Person {
        id: format!("u-{}", name.len()),
        login: name.to_lowercase().replace(' ', "."),
        name: name.to_string(),
        role: PersonRole::Officer,
    }
}

fn auditor() -> Actor {
    Actor::Person {
        id: "u-aud".into(),
        login: "budi".into(),
        name: "Budi Santoso".into(),
        role: PersonRole::Auditor,
    }
}

#[tokio::test]
async fn a_change_is_shown_field_by_field_before_it_is_written_and_refused_as_it_would_be() {
    let village = kampunganyar();
    let running = kampung_node::start(Parts::in_memory(Role::Village { village }).offline())
        .await
        .unwrap();
    let node = running.node().clone();
    let by = Actor::local();
    let people = kampung_gen::village_residents(village, 20, 3);
    node.write_residents(&by, people.clone(), &Default::default(), None)
        .await
        .unwrap();
    let r = people
        .iter()
        .find(|r| r.status == Status::Active)
        .unwrap()
        .clone();

    let fix = Correction {
        dusun: Some("Krajan Baru".into()),
        full_name: Some(r.full_name.clone()),
        ..Correction::default()
    };
    let preview = node
        .preview_change(&by, r.nik, RecordChange::Correct(fix.clone()))
        .await
        .unwrap();
    assert_eq!(preview.fields.len(), 1, "{:?}", preview.fields);
    assert_eq!(preview.fields[0].field, "dusun");
    assert_eq!(preview.fields[0].old, r.address.dusun);
    assert_eq!(preview.fields[0].new, "Krajan Baru");
    // A preview writes nothing.
    let stored = node.resident(&by, r.nik, Some(village)).await.unwrap();
    assert_eq!(stored.address.dusun, r.address.dusun);

    // Refused as the change itself would be, with the field at fault.
    let err = node
        .preview_change(
            &by,
            r.nik,
            RecordChange::MoveOut {
                to: "  ".into(),
                on: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.code, err.field.as_deref()),
        (ErrorCode::InvalidBody, Some("to"))
    );
    let died = node
        .preview_change(&by, r.nik, RecordChange::Deceased(None))
        .await
        .unwrap();
    assert_eq!(died.fields[0].field, "status");
    assert_eq!(died.fields[0].new, "deceased");

    // Written as previewed.
    let written = node
        .change_record(&by, r.nik, RecordChange::Correct(fix))
        .await
        .unwrap();
    assert!(written.changed);
    assert_eq!(written.record.address.dusun, "Krajan Baru");
    node.change_record(&by, r.nik, RecordChange::Deceased(None))
        .await
        .unwrap();
    let err = node
        .preview_change(
            &by,
            r.nik,
            RecordChange::MoveOut {
                to: "Kota Malang".into(),
                on: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Refused, "{err}");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_village_sees_the_cases_of_its_people_and_of_its_isolation_house() {
    let village = kampunganyar();
    let running = kampung_node::start(
        Parts::in_memory(Role::Village { village })
            .clock(ManualClock::new(may_first()))
            .offline(),
    )
    .await
    .unwrap();
    let node = running.node().clone();
    let by = Actor::local();
    let people = kampung_gen::village_residents(village, 10, 4);
    node.write_residents(&by, people.clone(), &Default::default(), None)
        .await
        .unwrap();
    let ours = people.iter().find(|r| r.status == Status::Active).unwrap();
    let open = |nik: String, place: Place| {
        let node = node.clone();
        let by = by.clone();
        async move {
            node.open_case(
                &by,
                NewCase {
                    nik: node.parse_nik_full(&nik).unwrap(),
                    person_name: Some("Rina".into()),
                    origin: None,
                    place,
                },
            )
            .await
            .unwrap()
            .info
            .case_id
        }
    };
    let home = open(
        ours.nik.to_string(),
        Place::Home {
            address: "Krajan RT 1".into(),
        },
    )
    .await;
    let house = open(JEMBER.into(), Place::VillageHouse { village }).await;
    let _gor = open(JEMBER_2.into(), Place::Gor).await;
    let mut ids: Vec<String> = node
        .village_cases(&by)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.info.case_id)
        .collect();
    ids.sort();
    let mut want = vec![home, house];
    want.sort();
    assert_eq!(ids, want, "the GOR case of a stranger is not the village's");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn the_auditor_searches_every_crossing_reads_a_persons_history_and_audits_the_store() {
    let clock = ManualClock::new(may_first());
    let running = kampung_node::start(
        Parts::in_memory(Role::checkpoint("ketapang").unwrap())
            .clock(clock.clone())
            .offline(),
    )
    .await
    .unwrap();
    let node = running.node().clone();
    let made = officer("Bripka Made Suarta");
    let ayu = officer("Briptu Ayu");
    node.log_crossing(
        &made,
        CrossingInput {
            open_case: true,
            person_name: Some("Rina".into()),
            ..CrossingInput::new(JEMBER, Decision::IsolationGor)
        },
    )
    .await
    .unwrap();
    clock.advance(86_400_000);
    node.log_crossing(&ayu, CrossingInput::new(BALI, Decision::TurnedBack))
        .await
        .unwrap();
    node.log_crossing(&made, CrossingInput::new("1234", Decision::TurnedBack))
        .await
        .unwrap();

    // The auditor, not the officer, reads a person's history; an officer
    // reads crossings but not the audit.
    let who = auditor();
    let all = node
        .search_crossings(&who, CrossingFilter::default(), 0, 100)
        .await
        .unwrap();
    assert_eq!(all.total, 3);
    assert!(all
        .items
        .windows(2)
        .all(|w| w[0].crossing.at_ms >= w[1].crossing.at_ms));
    assert!(all.items.iter().all(|f| f.checkpoint == node.peer_id()));
    let by_officer = node
        .search_crossings(
            &who,
            CrossingFilter {
                officer: Some("made".into()),
                ..CrossingFilter::default()
            },
            0,
            100,
        )
        .await
        .unwrap();
    assert_eq!(by_officer.total, 2);
    // No policy is signed here: Bali is only not a resident.
    let turned_back_on_day_two = node
        .search_crossings(
            &who,
            CrossingFilter {
                decision: Some("turned_back".into()),
                verdict: Some("non_resident".into()),
                since_ms: Some(may_first() + 3_600_000),
                ..CrossingFilter::default()
            },
            0,
            100,
        )
        .await
        .unwrap();
    assert_eq!(turned_back_on_day_two.total, 1);
    assert_eq!(turned_back_on_day_two.items[0].crossing.nik, BALI);
    let paged = node
        .search_crossings(&who, CrossingFilter::default(), 1, 1)
        .await
        .unwrap();
    assert_eq!((paged.total, paged.items.len()), (3, 1));

    let history = node.person_history(&who, JEMBER).await.unwrap();
    assert_eq!(history.answer.kind(), "resident_under_isolation");
    assert_eq!(history.crossings.len(), 1);
    assert_eq!(
        history.crossings[0].crossing.officer.as_deref(),
        Some("Bripka Made Suarta")
    );
    assert_eq!(history.cases.len(), 1);
    assert!(history.records.is_empty());
    let err = node.person_history(&made, JEMBER).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "{err}");
    let err = node.person_history(&who, "35091552039").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidNik);
    let log = node
        .read_access_log(
            &who,
            &AccessQuery {
                subject: Some(JEMBER.into()),
                who: Some("u-aud".into()),
                limit: 10,
            },
        )
        .unwrap();
    assert!(
        log.iter().any(|e| e.what == Access::History),
        "the history look-up is in the access log: {log:?}"
    );

    // The audit of the running store: every document sound; without a root
    // the report fails for that reason alone, and names the officers.
    let report = node.audit(&who).await.unwrap();
    assert!(
        report.documents.iter().all(|d| d.ok),
        "{:?}",
        report.documents
    );
    let kinds: Vec<FailureKind> = report.all_failures().map(|f| f.kind).collect();
    assert_eq!(kinds, vec![FailureKind::NoRoot]);
    assert!(report
        .people
        .iter()
        .any(|p| p.person.as_deref() == Some("Bripka Made Suarta")));
    assert_eq!(
        node.audit(&made).await.unwrap_err().code,
        ErrorCode::Forbidden
    );
    // Writes go on after the audit.
    node.log_crossing(&made, CrossingInput::new(BALI, Decision::TurnedBack))
        .await
        .unwrap();
    running.stop().await.unwrap();
}

fn clerk(name: &str) -> Actor {
    Actor::Person {
        id: format!("u-clerk-{}", name.len()),
        login: name.to_lowercase().replace(' ', "."),
        name: name.to_string(),
        role: PersonRole::Clerk,
    }
}

/// The auditor reads every change to one person's record: who (node and
/// person), what (field by field), whether the audit's check passes; and
/// the village as it stood before a change. A withdrawn record is found
/// when the village is named.
#[tokio::test]
async fn the_auditor_reads_every_change_to_a_record_and_the_village_as_it_was() {
    let village = kampunganyar();
    let clock = ManualClock::new(may_first());
    let running = kampung_node::start(
        Parts::in_memory(Role::Village { village })
            .clock(clock.clone())
            .offline(),
    )
    .await
    .unwrap();
    let node = running.node().clone();
    let sri = clerk("Sri Wahyuni");
    let people = kampung_gen::village_residents(village, 5, 11);
    let r = people
        .iter()
        .find(|r| r.status == Status::Active)
        .unwrap()
        .clone();
    node.register(&sri, r.clone()).await.unwrap();
    clock.advance(3_600_000);
    let before_move = may_first() / 1000 + 1_800;
    node.correct(
        &sri,
        r.nik,
        Correction {
            dusun: Some("Krajan Baru".into()),
            ..Correction::default()
        },
    )
    .await
    .unwrap();
    clock.advance(3_600_000);
    node.move_out(&Actor::local(), r.nik, "Kota Malang".into(), None)
        .await
        .unwrap();

    let who = auditor();
    let t = node
        .record_timeline(&who, &r.nik.to_string(), &[])
        .await
        .unwrap();
    assert_eq!(t.villages, vec![village]);
    let kinds: Vec<RecordEventKind> = t.events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            RecordEventKind::Added,
            RecordEventKind::Corrected,
            RecordEventKind::MovedOut
        ]
    );
    assert!(t
        .events
        .iter()
        .all(|e| e.verified && e.node == node.peer_id()));
    assert_eq!(t.events[0].person.as_deref(), Some("Sri Wahyuni"));
    assert_eq!(t.events[2].person, None, "the node's own machine");
    let dusun = &t.events[1].fields;
    assert_eq!(dusun.len(), 1, "{dusun:?}");
    assert_eq!(
        (
            dusun[0].field.as_str(),
            dusun[0].old.as_str(),
            dusun[0].new.as_str()
        ),
        ("dusun", r.address.dusun.as_str(), "Krajan Baru")
    );
    assert!(t.events[0]
        .fields
        .iter()
        .any(|f| f.field == "full_name" && f.old.is_empty() && f.new == r.full_name));
    assert_eq!(t.events[1].at_s, may_first() / 1000 + 3_600);

    // As it was half an hour after the registration: registered, not moved.
    let then = node
        .village_as_of(&who, village, before_move)
        .await
        .unwrap();
    assert_eq!(then.residents.len(), 1);
    assert_eq!(then.residents[0].address.dusun, r.address.dusun);
    assert_eq!(then.residents[0].status, Status::Active);

    // Withdrawn: the index no longer names the village; naming it finds it.
    node.withdraw_registration(&sri, r.nik, "salah input")
        .await
        .unwrap();
    let gone = node
        .record_timeline(&who, &r.nik.to_string(), &[])
        .await
        .unwrap();
    assert!(gone.events.is_empty(), "{:?}", gone.events);
    let named = node
        .record_timeline(&who, &r.nik.to_string(), &[village])
        .await
        .unwrap();
    let last = named.events.last().unwrap();
    assert_eq!(last.kind, RecordEventKind::Withdrawn);
    assert_eq!(last.reason.as_deref(), Some("salah input"));

    // Only an auditor; the look-up is in the access log.
    let err = node
        .record_timeline(&sri, &r.nik.to_string(), &[])
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "{err}");
    let log = node
        .read_access_log(
            &who,
            &AccessQuery {
                subject: Some(r.nik.to_string()),
                who: Some("u-aud".into()),
                limit: 10,
            },
        )
        .unwrap();
    assert_eq!(log.len(), 3, "{log:?}");
}
