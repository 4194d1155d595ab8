//! Monthly crossing logs and the policy's retention: each month's crossings
//! in a document of their own, read together; what is past its period
//! leaves memory and disk, is not offered to peers and is not taken back.

use std::sync::Arc;

use automerge::ActorId;
use kampung_core::checkpoint::Place;
use kampung_core::{LogMonth, Policy, ReadScope, RoleKind};

use super::*;
use crate::case::{Opening, Release, ReleaseReason, Writer};
use crate::crossing::{Crossing, Decision};
use crate::registry::tests::{code, person};
use crate::registry::{AcceptAll, CaseUpdate, ReplayQuery};
use crate::storage::MemoryStorage;

const PEER: &str = "12D3KooWKetapangHarbourRetention";
const DAY_MS: i64 = 86_400_000;

fn month(s: &str) -> LogMonth {
    LogMonth::parse(s).unwrap()
}

/// Noon on the 10th of `m`, WIB.
fn in_month(m: &str) -> i64 {
    month(m).start_ms() + 9 * DAY_MS + 12 * 3_600_000
}

fn open_on(storage: &Arc<MemoryStorage>) -> Registry<Arc<MemoryStorage>> {
    Registry::open(Arc::clone(storage), ActorId::from(vec![7u8; 32]), 2026).unwrap()
}

/// A check at the post at `at_ms`, as the node logs it.
fn check(reg: &mut Registry<Arc<MemoryStorage>>, nik: &str, at_ms: i64) -> Crossing {
    let policy = Policy::default();
    let checked = reg.lookups().read().check_verdict(nik, &policy, |_| None);
    let crossing = Crossing::of_check(at_ms, nik, &checked, Decision::AllowedIn, 0);
    reg.record_check_on(PEER, &crossing, None, &checked.state, at_ms)
        .unwrap();
    crossing
}

/// Crossings in October, November and December 2026.
fn three_months(reg: &mut Registry<Arc<MemoryStorage>>) {
    let people: Vec<_> = (0..4).map(|p| person(p, 0)).collect();
    reg.write(code(0), &people, in_month("2026-10") - DAY_MS, &mut |_| {})
        .unwrap();
    for (i, m) in ["2026-10", "2026-11", "2026-12"].into_iter().enumerate() {
        for (j, p) in people.iter().take(3).enumerate() {
            let nik = p.nik.to_string();
            check(reg, &nik, in_month(m) + (i * 10 + j) as i64 * 60_000);
        }
    }
}

fn logs(reg: &Registry<Arc<MemoryStorage>>) -> Vec<String> {
    reg.crossing_docs(PEER)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn each_month_is_a_document_read_together() {
    let mut reg = open_on(&Arc::new(MemoryStorage::new()));
    three_months(&mut reg);
    assert_eq!(
        logs(&reg),
        [
            format!("x/{PEER}/2026-10"),
            format!("x/{PEER}/2026-11"),
            format!("x/{PEER}/2026-12")
        ]
    );
    let all = reg.crossings(PEER).unwrap();
    assert_eq!(all.len(), 9);
    assert!(all.windows(2).all(|w| w[0].at_ms < w[1].at_ms));
    // Pages run newest first across months.
    let (total, page) = reg.crossings_page(PEER, 2, 3).unwrap();
    assert_eq!(total, 9);
    let expected: Vec<i64> = all.iter().rev().skip(2).take(3).map(|c| c.at_ms).collect();
    assert_eq!(page.iter().map(|c| c.at_ms).collect::<Vec<_>>(), expected);
    // Registry states are numbered within each month: each month starts at 0.
    let firsts: Vec<Option<u64>> = all.iter().step_by(3).map(|c| c.state).collect();
    assert_eq!(firsts, [Some(0), Some(0), Some(0)]);
    let report = reg
        .replay(&ReplayQuery::default(), &|v| (v == 0).then(Policy::default))
        .unwrap();
    assert_eq!((report.crossings, report.matched), (9, 9), "{report:?}");
    assert_eq!(report.checkpoints, [PEER.to_string()]);
}

#[test]
fn months_past_the_retention_leave_memory_and_disk_and_are_not_taken_back() {
    let storage = Arc::new(MemoryStorage::new());
    let mut reg = open_on(&storage);
    three_months(&mut reg);
    let october = DocId::crossings(PEER, month("2026-10"));
    let (bytes, sigs) = reg.stored_document(&october).unwrap().unwrap();
    let keep = Keep {
        crossing_months: 1,
        closed_case_days: 0,
    };
    // In December, one month kept after its own: October goes, November stays.
    let expired = reg.expire(in_month("2026-12"), keep, keep).unwrap();
    assert_eq!(expired.crossing_logs, 1);
    assert!(expired.bytes > 0);
    assert_eq!(
        logs(&reg),
        [format!("x/{PEER}/2026-11"), format!("x/{PEER}/2026-12")]
    );
    assert!(!storage.doc_ids().unwrap().contains(&october));
    assert!(reg.expired(&october));
    assert!(reg.offered_heads().iter().all(|(id, _)| *id != october));
    assert_eq!(reg.crossings(PEER).unwrap().len(), 6);
    // A peer offering it again changes nothing.
    let applied = reg
        .apply_document(&october, &bytes, &sigs, &AcceptAll)
        .unwrap()
        .unwrap();
    assert!(!applied.changed());
    assert!(reg.doc_heads_of(&october).is_none());
    // Nor can a crossing be written into it.
    let late = check_refused(&mut reg, in_month("2026-10"));
    assert!(late.contains("retention"), "{late}");
    // Sweeping again drops nothing more.
    assert_eq!(
        reg.expire(in_month("2026-12"), keep, keep).unwrap(),
        Expired::default()
    );
    // A restarted node reads what is left.
    drop(reg);
    let reg = open_on(&storage);
    assert_eq!(reg.crossings(PEER).unwrap().len(), 6);
}

fn check_refused(reg: &mut Registry<Arc<MemoryStorage>>, at_ms: i64) -> String {
    let checked =
        reg.lookups()
            .read()
            .check_verdict("3509154203900002", &Policy::default(), |_| None);
    let crossing = Crossing::of_check(at_ms, "3509154203900002", &checked, Decision::AllowedIn, 0);
    reg.record_check_on(PEER, &crossing, None, &checked.state, at_ms)
        .unwrap_err()
        .to_string()
}

#[test]
fn an_auditor_keeps_longer_but_offers_only_the_shared_period() {
    let mut reg = open_on(&Arc::new(MemoryStorage::new()));
    three_months(&mut reg);
    let october = DocId::crossings(PEER, month("2026-10"));
    let shared = Keep {
        crossing_months: 1,
        closed_case_days: 0,
    };
    let own = Keep {
        crossing_months: 3,
        closed_case_days: 0,
    };
    assert_eq!(
        reg.expire(in_month("2026-12"), shared, own).unwrap(),
        Expired::default()
    );
    assert_eq!(reg.crossings(PEER).unwrap().len(), 9);
    assert!(!reg.expired(&october));
    let offered: Vec<DocId> = reg.offered_heads().into_iter().map(|(id, _)| id).collect();
    assert!(!offered.contains(&october), "{offered:?}");
    assert!(offered.contains(&DocId::crossings(PEER, month("2026-11"))));
    assert_eq!(reg.doc_heads().len(), offered.len() + 1);
    // The retention a policy gives an auditor.
    let retention = kampung_core::Retention {
        crossing_months: 1,
        closed_case_days: 30,
        auditor_extra_months: 2,
    };
    assert_eq!(Keep::for_node(&retention, false), shared_days(1, 30));
    assert_eq!(Keep::for_node(&retention, true), shared_days(3, 92));
    let forever = kampung_core::Retention::default();
    assert_eq!(Keep::for_node(&forever, true), Keep::default());
}

fn shared_days(crossing_months: u32, closed_case_days: u32) -> Keep {
    Keep {
        crossing_months,
        closed_case_days,
    }
}

fn writer() -> Writer {
    Writer {
        peer: PEER.into(),
        role: RoleKind::Checkpoint,
        person: None,
    }
}

#[test]
fn a_closed_case_leaves_after_its_days_and_is_not_taken_back_after_a_restart() {
    let storage = Arc::new(MemoryStorage::new());
    let mut reg = open_on(&storage);
    let opened = in_month("2026-10");
    let opening = |nik: &str| Opening {
        nik: nik.parse().unwrap(),
        person_name: None,
        at_ms: opened,
        by: writer(),
        origin: "Bali (51)".into(),
        required_days: 14,
        place: Place::Gor,
    };
    let (closed, open) = ("00000000000000c1", "00000000000000c2");
    reg.open_isolation_case(closed, &opening("5171014101900001"), opened)
        .unwrap();
    reg.open_isolation_case(open, &opening("5171014101900002"), opened)
        .unwrap();
    let released = opened + 3 * DAY_MS;
    let release = CaseUpdate::Release(Release {
        reason: ReleaseReason::Early {
            reason: "negative test".into(),
        },
        at_ms: released,
        by: writer(),
    });
    reg.update_isolation_case(closed, &release, released)
        .unwrap();
    let closed_id = DocId::case(closed);
    let (bytes, sigs) = reg.stored_document(&closed_id).unwrap().unwrap();
    let keep = shared_days(0, 30);
    // 29 days after its release it stays; at 30 it goes. The open one stays.
    let kept = reg.expire(released + 29 * DAY_MS, keep, keep).unwrap();
    assert_eq!(kept, Expired::default());
    let gone = reg.expire(released + 30 * DAY_MS, keep, keep).unwrap();
    assert_eq!((gone.cases, gone.crossing_logs), (1, 0));
    assert!(reg.isolation_case(closed).is_none());
    assert!(reg.isolation_case(open).is_some());
    assert!(!storage.doc_ids().unwrap().contains(&closed_id));
    // Restarted, before any sweep: still refused when a peer offers it.
    drop(reg);
    let mut reg = open_on(&storage);
    assert!(reg.expired(&closed_id));
    let applied = reg
        .apply_document(&closed_id, &bytes, &sigs, &AcceptAll)
        .unwrap()
        .unwrap();
    assert!(!applied.changed());
    assert!(reg.isolation_case(closed).is_none());
    assert!(reg.isolation_case(open).is_some());
}

/// A village node that held crossing logs before read scopes: once its
/// scope is set, it offers none of them, takes none back, and the next
/// sweep removes them from memory and disk, its residents untouched.
#[test]
fn a_village_node_drops_the_crossing_logs_it_may_not_read() {
    let storage = Arc::new(MemoryStorage::new());
    let mut reg = open_on(&storage);
    three_months(&mut reg);
    let december = DocId::crossings(PEER, month("2026-12"));
    let (bytes, sigs) = reg.stored_document(&december).unwrap().unwrap();
    let village = [DocId::card(code(0)), DocId::village(code(0))];
    let residents = reg.niks();

    reg.set_scope(ReadScope::of_node(
        RoleKind::Village,
        Some(code(0)),
        &kampung_core::HolderRule::default(),
    ));
    let offered: Vec<DocId> = reg.offered_heads().into_iter().map(|(id, _)| id).collect();
    assert_eq!(offered, village, "only what a village may read is offered");
    assert!(reg.expired(&december));
    let expired = reg
        .expire(in_month("2026-12"), Keep::default(), Keep::default())
        .unwrap();
    assert_eq!(expired.outside_scope, 3);
    assert_eq!(expired.crossing_logs, 3);
    assert!(expired.bytes > 0);
    assert!(logs(&reg).is_empty());
    let mut held = storage.doc_ids().unwrap();
    held.sort();
    assert_eq!(held, village);
    // Offered again by a peer: not taken.
    let applied = reg
        .apply_document(&december, &bytes, &sigs, &AcceptAll)
        .unwrap()
        .unwrap();
    assert!(!applied.changed());
    assert!(reg.doc_heads_of(&december).is_none());
    assert_eq!(reg.niks(), residents);
    // Nothing is remembered for it: a scope follows from the name.
    drop(reg);
    let mut reg = open_on(&storage);
    assert!(
        !reg.expired(&december),
        "an open mesh's node may take it again"
    );
    reg.set_scope(ReadScope::of(RoleKind::Checkpoint));
    let applied = reg
        .apply_document(&december, &bytes, &sigs, &AcceptAll)
        .unwrap()
        .unwrap();
    assert!(applied.changed(), "a checkpoint takes it");
}
