use automerge::ActorId;
use kampung_core::{Pledge, VillageCode};
use proptest::prelude::*;
use time::macros::date;
use time::Duration;

use super::*;

const CASE: &str = "00c0ffee00c0ffee";
/// 2020-04-02 08:00 WIB (01:00 UTC): day 1 of the case.
const OPENED: i64 = 1_585_789_200_000;
const DAY_MS: i64 = 86_400_000;

fn actor(n: u8) -> ActorId {
    ActorId::from(vec![n; 32])
}

fn checkpoint() -> Writer {
    Writer {
        peer: "12D3KooWKetapang".into(),
        role: RoleKind::Checkpoint,
        person: None,
    }
}

fn gor() -> Writer {
    Writer {
        peer: "12D3KooWGorTawangalun".into(),
        role: RoleKind::Facility,
        person: None,
    }
}

/// `day` 1 is the opening day; `hour` in WIB.
fn at(day: i64, hour: i64) -> i64 {
    OPENED + (day - 1) * DAY_MS + (hour - 8) * 3_600_000
}

fn date_of(day: i64) -> Date {
    date!(2020 - 04 - 02) + Duration::days(day - 1)
}

fn opening() -> Opening {
    Opening {
        nik: "3508015203850003".parse().unwrap(),
        person_name: Some("Sri Wahyuni".into()),
        at_ms: OPENED,
        by: checkpoint(),
        origin: "Kabupaten Lumajang, Jawa Timur (35.08)".into(),
        required_days: 14,
        place: Place::Gor,
    }
}

fn opened() -> CaseDoc {
    CaseDoc::open(&actor(1), CASE, &opening()).unwrap()
}

fn follow(day: i64, outcome: Outcome, by: Writer) -> FollowUp {
    FollowUp {
        date: date_of(day),
        outcome,
        note: None,
        at_ms: at(day, 10),
        by,
    }
}

fn home() -> Place {
    Place::Home {
        address: "Dusun Krajan RT 1 RW 2, Kampunganyar".into(),
    }
}

fn pledge() -> Pledge {
    Pledge {
        picked_up_by: "Slamet Riyadi".into(),
        relation: "father".into(),
        phone: "+62 812-3456-7890".into(),
    }
}

#[test]
fn open_creates_every_container_in_one_change() {
    let c = opened();
    assert_eq!(c.automerge().get_changes(&[]).len(), 1);
    let info = c.info().unwrap();
    assert_eq!(info.opened_on, date!(2020 - 04 - 02));
    assert_eq!(info.person_name.as_deref(), Some("Sri Wahyuni"));
    assert_eq!(info.required_days, 14);
    assert_eq!(info.opened_by, checkpoint());
    let s = c.state(date!(2020 - 04 - 02)).unwrap();
    assert_eq!((s.day, s.days_remaining), (1, 14));
    assert_eq!(s.place.place, Place::Gor);
    assert!(s.is_open() && !s.period_ended() && s.today.is_empty());
    // Reloads from its bytes, and refuses to be another case.
    let back = CaseDoc::load(CASE, Some(&c.save()), []).unwrap();
    assert_eq!(back.info().unwrap(), info);
    assert!(matches!(
        CaseDoc::load("0123456789abcdef", Some(&c.save()), []),
        Err(CaseError::WrongCase { .. })
    ));
    assert!(matches!(
        CaseDoc::open(&actor(1), "00C0FFEE", &opening()),
        Err(CaseError::BadCaseId(_))
    ));
    assert_eq!(
        new_case_id([0, 0xc0, 0xff, 0xee, 0, 0xc0, 0xff, 0xee]),
        CASE
    );
}

#[test]
fn place_transfers_and_the_latest_by_time_is_current() {
    let mut c = opened();
    let house = Place::VillageHouse {
        village: VillageCode::parse("35.10.15.2012").unwrap(),
    };
    let to_house = Placement {
        place: house.clone(),
        at_ms: at(3, 9),
        by: gor(),
    };
    let to_home = Placement {
        place: home(),
        at_ms: at(5, 9),
        by: checkpoint(),
    };
    // Recorded out of order: the later time wins, not the later write.
    c.place(&actor(2), &to_home).unwrap();
    c.place(&actor(2), &to_house).unwrap();
    let history: Vec<_> = c
        .placements()
        .unwrap()
        .into_iter()
        .map(|p| p.place)
        .collect();
    assert_eq!(history, vec![Place::Gor, house, home()]);
    assert_eq!(c.state(date_of(6)).unwrap().place, to_home);
    // Equal times: the one later in the list (the node's later write) wins.
    let gor_again = Placement {
        place: Place::Gor,
        at_ms: at(5, 9),
        by: gor(),
    };
    c.place(&actor(2), &gor_again).unwrap();
    assert_eq!(c.state(date_of(6)).unwrap().place, gor_again);
    let empty = Placement {
        place: Place::Home {
            address: " ".into(),
        },
        at_ms: at(6, 9),
        by: gor(),
    };
    assert!(matches!(
        c.place(&actor(2), &empty),
        Err(CaseError::Refused {
            field: "home address",
            ..
        })
    ));
}

#[test]
fn family_pickup_records_the_pledge() {
    let mut c = opened();
    c.family_pickup(&actor(2), at(2, 15), &gor(), &pledge())
        .unwrap();
    let s = c.state(date_of(2)).unwrap();
    assert_eq!(s.place.place, Place::FamilyPickup { pledge: pledge() });
    assert_eq!(s.place.by, gor());
    let mut bad = pledge();
    bad.phone = "call the kepala desa".into();
    assert!(matches!(
        c.family_pickup(&actor(2), at(2, 16), &gor(), &bad),
        Err(CaseError::Refused {
            field: "pledge: phone",
            ..
        })
    ));
    bad = pledge();
    bad.relation = String::new();
    assert!(c.family_pickup(&actor(2), at(2, 16), &gor(), &bad).is_err());
    assert_eq!(c.placements().unwrap().len(), 2, "refusals write nothing");
}

#[test]
fn follow_ups_count_days_and_clear_what_is_due() {
    let mut c = opened();
    assert!(c.due_follow_up(date_of(1)).unwrap());
    assert!(
        !c.due_follow_up(date_of(1) - Duration::days(1)).unwrap(),
        "not begun"
    );
    let mut f = follow(1, Outcome::SeenOk, gor());
    f.note = Some("temperature 36.6".into());
    c.follow_up(&actor(2), &f).unwrap();
    assert!(!c.due_follow_up(date_of(1)).unwrap());
    assert!(c.due_follow_up(date_of(2)).unwrap());
    c.follow_up(&actor(2), &follow(2, Outcome::Missed, gor()))
        .unwrap();
    let s = c.state(date_of(2)).unwrap();
    assert_eq!((s.day, s.days_remaining), (2, 13));
    assert_eq!(s.today.len(), 1);
    assert_eq!(s.today[0].outcome, Outcome::Missed);
    assert_eq!(c.follow_ups().unwrap()[0], f);
    // The same node recording the same day again corrects its entry.
    c.follow_up(&actor(2), &follow(2, Outcome::SeenNotOk, gor()))
        .unwrap();
    let day2 = c.follow_ups_on(date_of(2)).unwrap();
    assert_eq!(day2.len(), 1);
    assert_eq!(day2[0].outcome, Outcome::SeenNotOk);
    // Another node recording the same day adds its own.
    c.follow_up(&actor(3), &follow(2, Outcome::NotAttempted, checkpoint()))
        .unwrap();
    assert_eq!(c.follow_ups_on(date_of(2)).unwrap().len(), 2);
    // Before the opening, or in the future: refused.
    let mut early = follow(1, Outcome::SeenOk, gor());
    early.date = date_of(0);
    assert!(matches!(
        c.follow_up(&actor(2), &early),
        Err(CaseError::FollowUpDate { .. })
    ));
    let mut future = follow(3, Outcome::SeenOk, gor());
    future.at_ms = at(2, 20);
    assert!(matches!(
        c.follow_up(&actor(2), &future),
        Err(CaseError::FollowUpDate { .. })
    ));
    // A late entry for a past day is fine.
    let mut late = follow(1, Outcome::SeenOk, checkpoint());
    late.at_ms = at(3, 7);
    c.follow_up(&actor(3), &late).unwrap();
    assert_eq!(c.follow_ups().unwrap().len(), 4);
}

#[test]
fn notes_are_kept_in_time_order() {
    let mut c = opened();
    let second = Note {
        text: "asked for a prayer mat".into(),
        at_ms: at(2, 9),
        by: gor(),
    };
    let first = Note {
        text: "arrived by ambulance".into(),
        at_ms: at(1, 9),
        by: gor(),
    };
    c.note(&actor(2), &second).unwrap();
    c.note(&actor(2), &first).unwrap();
    assert_eq!(c.notes().unwrap(), vec![first, second]);
    let blank = Note {
        text: "".into(),
        at_ms: at(2, 9),
        by: gor(),
    };
    assert!(c.note(&actor(2), &blank).is_err());
    // Several lines are a note; a text-reordering character or nothing
    // visible is not, and a pledge's name is one line.
    let lines = Note {
        text: "fever at night\nseen by the puskesmas doctor".into(),
        at_ms: at(2, 10),
        by: gor(),
    };
    c.note(&actor(2), &lines).unwrap();
    for text in ["paid \u{202E}0001 Rp", "\u{200B}\u{200B}"] {
        let bad = Note {
            text: text.into(),
            at_ms: at(2, 11),
            by: gor(),
        };
        assert!(c.note(&actor(2), &bad).is_err(), "{text:?}");
    }
    let mut p = pledge();
    p.picked_up_by = "Budi\nSantoso".into();
    assert!(types::validate_place(&Place::FamilyPickup { pledge: p }).is_err());
}

#[test]
fn release_after_the_period_or_early_with_a_reason() {
    let mut c = opened();
    let ended = |day| Release {
        reason: ReleaseReason::PeriodEnded,
        at_ms: at(day, 9),
        by: gor(),
    };
    match c.release(&actor(2), &ended(14)) {
        Err(CaseError::PeriodNotEnded {
            day: 14,
            required_days: 14,
            ..
        }) => {}
        other => panic!("expected period not ended, got {other:?}"),
    }
    let no_reason = Release {
        reason: ReleaseReason::Early {
            reason: "  ".into(),
        },
        ..ended(5)
    };
    assert!(matches!(
        c.release(&actor(2), &no_reason),
        Err(CaseError::EarlyReleaseNeedsReason)
    ));
    assert!(c.releases().unwrap().is_empty(), "refusals write nothing");
    assert_eq!(c.state(date_of(15)).unwrap().days_remaining, 0);
    c.release(&actor(2), &ended(15)).unwrap();
    let s = c.state(date_of(20)).unwrap();
    assert!(!s.is_open());
    assert_eq!(s.day, 15, "the counter stops on the release day");
    assert!(!c.due_follow_up(date_of(16)).unwrap());
    assert!(matches!(
        c.release(&actor(2), &ended(16)),
        Err(CaseError::AlreadyReleased { .. })
    ));
    let after = Placement {
        place: home(),
        at_ms: at(16, 9),
        by: gor(),
    };
    assert!(matches!(
        c.place(&actor(2), &after),
        Err(CaseError::Released { .. })
    ));
    assert!(matches!(
        c.follow_up(&actor(2), &follow(16, Outcome::SeenOk, gor())),
        Err(CaseError::FollowUpDate { .. })
    ));
    // An early release with its reason.
    let mut d = opened();
    let early = Release {
        reason: ReleaseReason::Early {
            reason: "negative PCR, letter from Dinkes".into(),
        },
        ..ended(6)
    };
    d.release(&actor(2), &early).unwrap();
    let s = d.state(date_of(9)).unwrap();
    assert_eq!((s.day, s.days_remaining), (6, 9));
    assert_eq!(s.release, Some(early));
}

/// A checkpoint and the GOR update the same case while partitioned, then
/// heal: both converge to the same heads and state, and nothing is lost.
#[test]
fn partitioned_checkpoint_and_gor_converge_without_losing_anything() {
    let base = opened();
    let mut ketapang = CaseDoc::load(CASE, Some(&base.save()), []).unwrap();
    let mut gor_node =
        CaseDoc::from_automerge(CASE, base.automerge().fork().with_actor(actor(2))).unwrap();
    // Checkpoint: transfers to home and records day 3's follow-up.
    let to_home = Placement {
        place: home(),
        at_ms: at(3, 11),
        by: checkpoint(),
    };
    ketapang.place(&actor(1), &to_home).unwrap();
    ketapang
        .follow_up(&actor(1), &follow(3, Outcome::SeenOk, checkpoint()))
        .unwrap();
    // GOR: two follow-ups (day 2, and day 3 too) and a note.
    gor_node
        .follow_up(&actor(2), &follow(2, Outcome::SeenOk, gor()))
        .unwrap();
    gor_node
        .follow_up(&actor(2), &follow(3, Outcome::SeenNotOk, gor()))
        .unwrap();
    let note = Note {
        text: "cough since morning".into(),
        at_ms: at(3, 10),
        by: gor(),
    };
    gor_node.note(&actor(2), &note).unwrap();
    // Heal, both ways.
    let mut a = ketapang.clone();
    a.automerge_mut().merge(gor_node.automerge_mut()).unwrap();
    let mut b = gor_node.clone();
    b.automerge_mut().merge(ketapang.automerge_mut()).unwrap();
    assert_eq!(a.heads(), b.heads());
    let (sa, sb) = (a.state(date_of(3)).unwrap(), b.state(date_of(3)).unwrap());
    assert_eq!(sa, sb);
    assert_eq!(sa.place, to_home);
    assert_eq!(sa.today.len(), 2, "both day-3 follow-ups survive");
    assert_eq!(a.follow_ups().unwrap(), b.follow_ups().unwrap());
    assert_eq!(a.follow_ups().unwrap().len(), 3);
    assert_eq!(a.notes().unwrap(), vec![note]);
    assert_eq!(a.placements().unwrap().len(), 2);
    assert_eq!(a.automerge().get_changes(&[]).len(), 1 + 2 + 3);
}

#[test]
fn concurrent_releases_are_both_kept_and_the_earliest_holds() {
    let base = opened();
    let mut a = CaseDoc::load(CASE, Some(&base.save()), []).unwrap();
    let mut b = CaseDoc::load(CASE, Some(&base.save()), []).unwrap();
    let early = Release {
        reason: ReleaseReason::Early {
            reason: "transferred to RSUD Blambangan".into(),
        },
        at_ms: at(4, 9),
        by: checkpoint(),
    };
    let ended = Release {
        reason: ReleaseReason::PeriodEnded,
        at_ms: at(15, 9),
        by: gor(),
    };
    a.release(&actor(1), &early).unwrap();
    b.release(&actor(2), &ended).unwrap();
    a.automerge_mut().merge(b.automerge_mut()).unwrap();
    assert_eq!(a.releases().unwrap(), vec![early.clone(), ended]);
    assert_eq!(a.released().unwrap(), Some(early));
}

/// One update of a case by one of three nodes.
#[derive(Debug, Clone)]
enum Op {
    Place(u8, i64),
    FollowUp(u8, i64, u8),
    Note(u8, i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3u8, 1..10i64).prop_map(|(n, d)| Op::Place(n, d)),
        (0..3u8, 1..10i64, 0..4u8).prop_map(|(n, d, o)| Op::FollowUp(n, d, o)),
        (0..3u8, 1..10i64).prop_map(|(n, d)| Op::Note(n, d)),
    ]
}

fn writer(n: u8) -> Writer {
    Writer {
        peer: format!("node{n}"),
        role: [RoleKind::Checkpoint, RoleKind::Facility, RoleKind::Village][usize::from(n)],
        person: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Any updates by three partitioned nodes, merged in any order: the same
    /// heads and state everywhere, every placement and note kept, and one
    /// follow-up per (day, node).
    #[test]
    fn any_partitioned_updates_converge(ops in prop::collection::vec(op(), 1..24)) {
        let base = opened();
        let mut nodes: Vec<CaseDoc> = (0..3).map(|_| base.clone()).collect();
        let (mut places, mut notes) = (1, 0);
        let mut days = std::collections::BTreeSet::new();
        for op in &ops {
            match *op {
                Op::Place(n, d) => {
                    let p = Placement { place: home(), at_ms: at(d, 12), by: writer(n) };
                    nodes[usize::from(n)].place(&actor(n + 1), &p).unwrap();
                    places += 1;
                }
                Op::FollowUp(n, d, o) => {
                    let outcome = [Outcome::SeenOk, Outcome::SeenNotOk, Outcome::Missed,
                                   Outcome::NotAttempted][usize::from(o)];
                    nodes[usize::from(n)].follow_up(&actor(n + 1), &follow(d, outcome, writer(n)))
                        .unwrap();
                    days.insert((d, n));
                }
                Op::Note(n, d) => {
                    let note = Note { text: format!("note {d}"), at_ms: at(d, 13), by: writer(n) };
                    nodes[usize::from(n)].note(&actor(n + 1), &note).unwrap();
                    notes += 1;
                }
            }
        }
        let [mut x, mut y, mut z] = <[CaseDoc; 3]>::try_from(nodes).unwrap();
        let mut forward = x.clone();
        forward.automerge_mut().merge(y.automerge_mut()).unwrap();
        forward.automerge_mut().merge(z.automerge_mut()).unwrap();
        let mut backward = z.clone();
        backward.automerge_mut().merge(y.automerge_mut()).unwrap();
        backward.automerge_mut().merge(x.automerge_mut()).unwrap();
        prop_assert_eq!(forward.heads(), backward.heads());
        let today = date_of(10);
        prop_assert_eq!(forward.state(today).unwrap(), backward.state(today).unwrap());
        prop_assert_eq!(forward.placements().unwrap(), backward.placements().unwrap());
        prop_assert_eq!(forward.placements().unwrap().len(), places);
        prop_assert_eq!(forward.notes().unwrap().len(), notes);
        prop_assert_eq!(forward.follow_ups().unwrap().len(), days.len());
        prop_assert_eq!(forward.follow_ups().unwrap(), backward.follow_ups().unwrap());
    }
}
