use std::collections::HashMap;
use std::sync::Arc;

use automerge::transaction::Transactable;
use automerge::{ActorId, ChangeHash, ObjType, ReadDoc, ROOT};
use kampung_core::policy::Region;
use kampung_core::{Policy, Status};

use super::*;
use crate::crossing::Decision;
use crate::registry::tests::{code, person};
use crate::storage::MemoryStorage;

const PEER: &str = "12D3KooWKetapangHarbourCheckpoint0000000000000000001";
const AT: i64 = 1_777_600_000_000;

/// The crossing log of the month of `AT`.
fn log_of(peer: &str) -> DocId {
    DocId::crossings(peer, kampung_core::LogMonth::of_ms(AT).unwrap())
}

fn open() -> Registry<Arc<MemoryStorage>> {
    Registry::open(
        Arc::new(MemoryStorage::new()),
        ActorId::from(vec![9u8; 32]),
        2026,
    )
    .unwrap()
}

/// Bali barred, as in 2020 (version 2).
fn bali_barred() -> Policy {
    Policy {
        version: 2,
        barred: vec![Region::Province(51)],
        isolation_days: 14,
        ..Policy::default()
    }
}

fn policies(v: u64) -> Option<Policy> {
    match v {
        0 => Some(Policy::default()),
        2 => Some(bali_barred()),
        _ => None,
    }
}

/// A check at the post as the node makes it: the verdict from the index,
/// logged with its basis and the state it was computed on.
fn check(
    reg: &mut Registry<Arc<MemoryStorage>>,
    nik: &str,
    policy: &Policy,
    at_ms: i64,
) -> Crossing {
    let checked = reg.lookups().read().check_verdict(nik, policy, |_| None);
    let crossing = Crossing::of_check(at_ms, nik, &checked, Decision::AllowedIn, policy.version);
    reg.record_check_on(PEER, &crossing, None, &checked.state, at_ms)
        .unwrap();
    crossing
}

#[test]
fn every_verdict_replays_on_the_registry_state_it_was_made_on() {
    let mut reg = open();
    let people: Vec<_> = (0..20).map(|p| person(p, 0)).collect();
    reg.write(code(0), &people, AT, &mut |_| {}).unwrap();
    reg.write(code(1), &[person(30, 1)], AT, &mut |_| {})
        .unwrap();
    let nik = |p: usize| people[p].nik.to_string();
    let default = Policy::default();

    let mut logged = vec![
        check(&mut reg, &nik(3), &default, AT + 1),
        check(&mut reg, "3509154203900002", &default, AT + 2),
        check(&mut reg, "5171010101900003", &bali_barred(), AT + 3),
        check(&mut reg, "35101552038", &default, AT + 4),
        check(&mut reg, &nik(4), &default, AT + 5),
    ];
    // Person 4's registration is withdrawn, person 5 moves out: the
    // current documents no longer say what the earlier verdicts rested on.
    let withdrawn = reg
        .withdraw(code(0), people[4].nik, "registered in error", AT + 6)
        .unwrap();
    assert_eq!(withdrawn.changed, 1);
    logged.push(check(&mut reg, &nik(4), &default, AT + 7));
    logged.push(check(&mut reg, &nik(5), &default, AT + 8));
    let mut moved = people[5].clone();
    moved.status = Status::MovedOut {
        destination: "Kota Denpasar".into(),
        date: None,
    };
    reg.write(code(0), &[moved], AT + 9, &mut |_| {}).unwrap();
    logged.push(check(&mut reg, &nik(5), &default, AT + 10));
    logged.push(check(&mut reg, &nik(6), &default, AT + 11));

    let kinds: Vec<&str> = logged.iter().map(|c| c.verdict.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "resident",
            "non_resident",
            "barred",
            "invalid",
            "resident",
            "non_resident",
            "resident",
            "moved_out",
            "resident"
        ]
    );
    let report = reg.replay(&ReplayQuery::default(), &policies).unwrap();
    assert_eq!(report.mismatches, vec![], "{report:?}");
    assert_eq!((report.crossings, report.matched), (9, 9));
    assert_eq!(report.without_state, 0);
    // One state for the first five crossings, one after the withdrawal,
    // one after the move.
    assert_eq!(report.states, 3, "{report:?}");
    assert_eq!(report.checkpoints, vec![PEER.to_string()]);

    // Replayed against the policy of another version, the barred verdict
    // no longer holds: the replay uses the policy the crossing names.
    let wrong = |v: u64| (v == 2).then(Policy::default).or_else(|| policies(v));
    let report = reg.replay(&ReplayQuery::default(), &wrong).unwrap();
    assert_eq!(report.mismatches.len(), 1, "{report:?}");
    assert_eq!(
        report.mismatches[0].problem,
        ReplayProblem::VerdictDiffers {
            replayed: "non_resident".into()
        }
    );

    // A range of time replays only the crossings in it.
    let some = ReplayQuery {
        from_ms: Some(AT + 5),
        to_ms: Some(AT + 9),
        ..ReplayQuery::default()
    };
    let report = reg.replay(&some, &policies).unwrap();
    assert_eq!((report.crossings, report.matched), (3, 3));
}

#[test]
fn replay_catches_an_altered_verdict_and_a_basis_that_cannot_be_found() {
    let mut reg = open();
    let people: Vec<_> = (0..5).map(|p| person(p, 0)).collect();
    reg.write(code(0), &people, AT, &mut |_| {}).unwrap();
    let default = Policy::default();
    check(&mut reg, &people[1].nik.to_string(), &default, AT + 1);

    // An officer's log says "resident" for a NIK found nowhere.
    let checked = reg
        .lookups()
        .read()
        .check_verdict("3509154203900002", &default, |_| None);
    let mut altered = check(&mut reg, "3509154203900002", &default, AT + 2);
    altered.at_ms = AT + 3;
    altered.verdict = "resident".into();
    reg.record_check_on(PEER, &altered, None, &checked.state, AT + 3)
        .unwrap();

    // A state naming heads of village 0 that no node ever made.
    let forged: HashMap<_, _> = [(code(0), vec![ChangeHash([7; 32])])].into();
    let mut on_forged = check(&mut reg, &people[2].nik.to_string(), &default, AT + 4);
    on_forged.at_ms = AT + 5;
    reg.record_check_on(PEER, &on_forged, None, &Arc::new(forged), AT + 5)
        .unwrap();

    // A crossing naming a policy this node never verified.
    let mut unknown_policy = check(&mut reg, &people[3].nik.to_string(), &default, AT + 6);
    unknown_policy.at_ms = AT + 7;
    unknown_policy.policy = Some(9);
    reg.record_check_on(PEER, &unknown_policy, None, &checked.state, AT + 7)
        .unwrap();

    // A crossing whose state number was changed to one the log lacks.
    let log = reg.others.get_mut(&log_of(PEER)).unwrap();
    let crossings = match log.am.get(ROOT, "crossings").unwrap() {
        Some((automerge::Value::Object(ObjType::List), id)) => id,
        other => panic!("no crossings list: {other:?}"),
    };
    let first = match log.am.get(&crossings, 0).unwrap() {
        Some((automerge::Value::Scalar(v), _)) => v.as_str().unwrap().to_string(),
        other => panic!("no first crossing: {other:?}"),
    };
    let altered = crate::crossing::value::decode(&first).unwrap();
    let mut tx = log.am.transaction();
    tx.put(
        &crossings,
        0,
        crate::crossing::value::encode(&altered, Some(99)),
    )
    .unwrap();
    tx.commit();

    let report = reg.replay(&ReplayQuery::default(), &policies).unwrap();
    let problems: Vec<(i64, &ReplayProblem)> = report
        .mismatches
        .iter()
        .map(|m| (m.at_ms, &m.problem))
        .collect();
    assert_eq!(
        problems,
        vec![
            (AT + 1, &ReplayProblem::StateMissing { state: 99 }),
            (
                AT + 3,
                &ReplayProblem::VerdictDiffers {
                    replayed: "non_resident".into()
                }
            ),
            (
                AT + 5,
                &ReplayProblem::VillageHeadsMissing { village: code(0) }
            ),
            (AT + 7, &ReplayProblem::PolicyMissing { version: 9 }),
        ],
        "{report:?}"
    );
    assert_eq!(report.matched, report.crossings - 4);
    assert!(!report.ok());
}

#[test]
fn a_crossing_made_while_nothing_changed_adds_no_state() {
    let mut reg = open();
    let people: Vec<_> = (0..5).map(|p| person(p, 0)).collect();
    reg.write(code(0), &people, AT, &mut |_| {}).unwrap();
    let default = Policy::default();
    for i in 0..10 {
        check(&mut reg, "3509154203900002", &default, AT + i);
    }
    let log = reg.others.get(&log_of(PEER)).unwrap();
    let deltas = states::deltas(&log.am).unwrap();
    assert_eq!(deltas.len(), 1, "{deltas:?}");
    assert_eq!(deltas[0].villages.len(), 1);
    // An edit of one village adds one state naming that village alone.
    reg.write(code(1), &[person(30, 1)], AT + 20, &mut |_| {})
        .unwrap();
    check(&mut reg, "3509154203900002", &default, AT + 21);
    let log = reg.others.get(&log_of(PEER)).unwrap();
    let deltas = states::deltas(&log.am).unwrap();
    assert_eq!(deltas.len(), 2);
    assert_eq!(
        deltas[1].villages.keys().copied().collect::<Vec<_>>(),
        [code(1)]
    );
    let n: Vec<Option<u64>> = CrossingLog::from_automerge(PEER, log.am.clone())
        .unwrap()
        .entries()
        .unwrap()
        .iter()
        .map(|c| c.state)
        .collect();
    assert_eq!(n[0], Some(0));
    assert_eq!(n[9], Some(0));
    assert_eq!(n[10], Some(1));
}
