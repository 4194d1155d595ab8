use automerge::ActorId;
use kampung_core::{Status, VillageCode};

use crate::doc::tests::resident;
use crate::doc::VillageDoc;

const SITI: &str = "3510155203850001";
const RINI: &str = "3510154501900002";

fn village() -> VillageCode {
    VillageCode::parse("35.10.15.2012").unwrap()
}

/// Siti is added, renamed, moved out and withdrawn by two writers; Rini's
/// edits in between are someone else's history.
#[test]
fn a_records_history_has_every_change_that_touched_it_field_by_field_and_nothing_else() {
    let clerk = ActorId::from(vec![1u8; 32]);
    let tablet = ActorId::from(vec![2u8; 32]);
    let mut doc = VillageDoc::genesis(village());
    let siti = resident(SITI, "Siti Aminah");
    let rini = resident(RINI, "Rini Wulandari");
    doc.upsert(&clerk, &siti, 1_000_000).unwrap();
    doc.upsert(&clerk, &rini, 2_000_000).unwrap();
    let renamed = resident(SITI, "Siti Aminah Rahayu");
    doc.upsert(&tablet, &renamed, 3_000_000).unwrap();
    let at_rename = doc.heads();
    let mut rini2 = rini.clone();
    rini2.address.rt = 7;
    doc.upsert(&clerk, &rini2, 4_000_000).unwrap();
    let mut moved = renamed.clone();
    moved.status = Status::MovedOut {
        destination: "Kota Denpasar".into(),
        date: None,
    };
    doc.upsert(&clerk, &moved, 5_000_000).unwrap();
    doc.withdraw(&clerk, moved.nik, "entered twice", 6_000_000, None)
        .unwrap();

    let h = doc.record_history(siti.nik).unwrap();
    let kinds: Vec<(Vec<u8>, i64)> = h.iter().map(|c| (c.actor.clone(), c.time_s)).collect();
    assert_eq!(
        kinds,
        vec![
            (vec![1u8; 32], 1_000),
            (vec![2u8; 32], 3_000),
            (vec![1u8; 32], 5_000),
            (vec![1u8; 32], 6_000),
        ],
        "Rini's two changes are not Siti's history"
    );
    // Added: nothing before.
    assert!(h[0].before.is_none());
    assert_eq!(h[0].after.as_ref().unwrap().full_name, "Siti Aminah");
    // Renamed by the tablet.
    assert_eq!(h[1].before.as_ref().unwrap().full_name, "Siti Aminah");
    assert_eq!(h[1].after.as_ref().unwrap().full_name, "Siti Aminah Rahayu");
    // Moved out.
    assert_eq!(h[2].before.as_ref().unwrap().status, Status::Active);
    assert_eq!(h[2].after.as_ref().unwrap().status, moved.status);
    // Withdrawn: the record is gone after, and the message says why.
    assert!(h[3].after.is_none());
    assert!(h[3].message.contains("entered twice"), "{}", h[3].message);

    // The document as it was: at the rename, Siti active and renamed.
    let then = doc.get_at(siti.nik, &at_rename).unwrap().unwrap();
    assert_eq!(then.full_name, "Siti Aminah Rahayu");
    assert_eq!(then.status, Status::Active);
    assert_eq!(doc.residents_at(&at_rename).unwrap().len(), 2);
    assert!(doc.get(siti.nik).unwrap().is_none(), "withdrawn now");
}

/// The document as it stood at a time, by its writers' clocks: the rename
/// at 3,000 s is in at 3,500 s and out at 2,500 s.
#[test]
fn the_document_at_a_time_holds_the_changes_made_by_then() {
    let clerk = ActorId::from(vec![1u8; 32]);
    let mut doc = VillageDoc::genesis(village());
    let siti = resident(SITI, "Siti Aminah");
    doc.upsert(&clerk, &siti, 1_000_000).unwrap();
    doc.upsert(&clerk, &resident(RINI, "Rini Wulandari"), 2_000_000)
        .unwrap();
    doc.upsert(&clerk, &resident(SITI, "Siti Aminah Rahayu"), 3_000_000)
        .unwrap();

    let name_at = |s: i64| {
        let heads = doc.heads_at_time(s);
        doc.get_at(siti.nik, &heads).unwrap().map(|r| r.full_name)
    };
    assert_eq!(name_at(500), None, "before anyone was added");
    assert_eq!(name_at(2_500).as_deref(), Some("Siti Aminah"));
    assert_eq!(name_at(3_500).as_deref(), Some("Siti Aminah Rahayu"));
    assert_eq!(
        doc.residents_at(&doc.heads_at_time(1_500)).unwrap().len(),
        1
    );
    let mut now = doc.heads();
    now.sort_unstable();
    assert_eq!(doc.heads_at_time(10_000), now);
}
