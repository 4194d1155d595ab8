//! A village's cards and details (`registry/details.rs`): what each holds,
//! who keeps which, and a store from before cards.

use std::sync::Arc;

use kampung_core::{ReadScope, RoleKind};

use super::cold_tests::pull;
use super::tests::{code, person};
use super::*;
use crate::storage::MemoryStorage;
use crate::AcceptAll;

fn open(storage: &Arc<MemoryStorage>) -> Registry<Arc<MemoryStorage>> {
    Registry::open(storage.clone(), ActorId::from(vec![7u8; 32]), 2026).unwrap()
}

/// Every byte `storage` holds of `id` (snapshot and chunks), decompressed
/// by loading it: the records as text.
fn records_text(storage: &MemoryStorage, id: &DocId, village: VillageCode) -> String {
    let Some(stored) = storage.load(id).unwrap() else {
        return String::new();
    };
    let part = match id.kind() {
        Some(kampung_core::DocKind::Card(_)) => crate::doc::Part::Card,
        _ => crate::doc::Part::Details,
    };
    let doc = VillageDoc::load_part(
        part,
        village,
        stored.snapshot.as_deref(),
        stored.chunks.iter().map(|(_, c)| c.as_slice()),
    )
    .unwrap();
    // Every value any change ever wrote, not only the current ones.
    let am = doc.automerge();
    am.get_changes(&[])
        .iter()
        .map(|c| format!("{:?}", c.decode()))
        .collect()
}

fn whole_in_order(whole: &[Resident], niks: &[Nik]) -> Vec<Resident> {
    niks.iter()
        .filter_map(|n| whole.iter().find(|r| r.nik == *n).cloned())
        .collect()
}

#[test]
fn a_write_puts_whole_records_in_the_details_and_verdict_cards_in_the_cards() {
    let storage = Arc::new(MemoryStorage::new());
    let mut reg = open(&storage);
    let mut people: Vec<Resident> = (0..5).map(|p| person(p, 0)).collect();
    // Born in 1925: the NIK's year (25) reads as 2025 with this year's
    // pivot; the full date is the details'.
    let old_nik = kampung_core::nik::compose(
        3510,
        15,
        time::Date::from_calendar_date(1925, time::Month::March, 3).unwrap(),
        kampung_core::Sex::Female,
        77,
    );
    let mut eldest = person(9, 0);
    eldest.nik = Nik::parse(&old_nik, 1990).unwrap().nik();
    eldest.sex = kampung_core::Sex::Female;
    eldest.birth_date = time::Date::from_calendar_date(1925, time::Month::March, 3).unwrap();
    people.push(eldest.clone());
    let report = reg.write(code(0), &people, 1_000, &mut |_| {}).unwrap();
    assert_eq!(report.added, 6);

    let cards = reg.cards(code(0)).unwrap();
    assert_eq!(cards.len(), 6);
    for card in &cards {
        assert_eq!(card.family_card, "", "{card:?}");
        assert_eq!(card.address.dusun, "");
        assert_eq!((card.address.rt, card.address.rw), (0, 0));
    }
    let eldest_card = cards.iter().find(|c| c.nik == eldest.nik).unwrap();
    assert_eq!(eldest_card.birth_date.year(), 2025, "as the NIK gives it");
    // The details hold the records whole, and a village reads them.
    let whole = reg.residents(code(0)).unwrap();
    assert_eq!(
        whole
            .iter()
            .find(|r| r.nik == eldest.nik)
            .unwrap()
            .birth_date
            .year(),
        1925
    );
    assert!(whole
        .iter()
        .all(|r| !r.family_card.is_empty() && r.address.rt > 0));
    // No family card number is in any change of the cards, ever.
    let card_text = records_text(&storage, &DocId::card(code(0)), code(0));
    let details_text = records_text(&storage, &DocId::village(code(0)), code(0));
    for p in &people {
        assert!(!card_text.contains(&p.family_card), "{}", p.family_card);
        assert!(details_text.contains(&p.family_card), "{}", p.family_card);
    }
    // Many at once, as a page of the village's list reads them.
    let niks: Vec<Nik> = people.iter().map(|p| p.nik).collect();
    assert_eq!(
        reg.read_many(code(0), &niks).unwrap(),
        whole_in_order(&whole, &niks)
    );
    // The index follows the cards.
    assert!(reg.verify_index().unwrap().is_empty());
    assert_eq!(reg.lookup(&people[2].nik.to_string()).kind(), "resident");

    // A new family card number changes the details only.
    let card_heads = reg.heads(code(0)).unwrap();
    let details_heads = reg.doc_heads_of(&DocId::village(code(0))).unwrap();
    let mut moved_house = people[1].clone();
    moved_house.family_card = "3510150101199999".into();
    moved_house.address.rt = 7;
    let report = reg
        .write(code(0), &[moved_house.clone()], 2_000, &mut |_| {})
        .unwrap();
    assert_eq!(report.changed, 1);
    assert_eq!(reg.heads(code(0)).unwrap(), card_heads, "no card change");
    assert_ne!(
        reg.doc_heads_of(&DocId::village(code(0))).unwrap(),
        details_heads
    );
    assert_eq!(
        reg.read(code(0), moved_house.nik)
            .unwrap()
            .unwrap()
            .address
            .rt,
        7
    );
    // A move out changes both.
    let mut gone = people[3].clone();
    gone.status = kampung_core::Status::MovedOut {
        destination: "Kota Surabaya".into(),
        date: None,
    };
    reg.write(code(0), &[gone.clone()], 3_000, &mut |_| {})
        .unwrap();
    assert_ne!(reg.heads(code(0)).unwrap(), card_heads);
    assert_eq!(reg.lookup(&gone.nik.to_string()).kind(), "moved_out");
    // A withdrawal too.
    reg.withdraw(code(0), people[4].nik, "registered in error", 4_000)
        .unwrap();
    assert!(reg
        .cards(code(0))
        .unwrap()
        .iter()
        .all(|c| c.nik != people[4].nik));
    assert!(reg.read(code(0), people[4].nik).unwrap().is_none());
    assert!(reg.verify_index().unwrap().is_empty());
}

/// A checkpoint takes a village's cards and may not take its details:
/// its replica answers verdicts and holds no family card or address.
#[test]
fn a_checkpoint_holds_cards_and_no_details() {
    let village_store = Arc::new(MemoryStorage::new());
    let mut village = open(&village_store);
    village.set_scope(ReadScope::of_node(
        RoleKind::Village,
        Some(code(0)),
        &kampung_core::HolderRule::default(),
    ));
    let people: Vec<Resident> = (0..8).map(|p| person(p, 0)).collect();
    village.write(code(0), &people, 1_000, &mut |_| {}).unwrap();

    let checkpoint_store = Arc::new(MemoryStorage::new());
    let mut checkpoint = open(&checkpoint_store);
    let scope = ReadScope::of(RoleKind::Checkpoint);
    checkpoint.set_scope(scope.clone());
    for (id, _) in village.offered_heads() {
        // What a session offers: what both may read.
        if scope.may_read(&id) {
            pull(&mut village, &mut checkpoint, &id);
        }
    }
    // Even offered, details are not taken.
    let details = DocId::village(code(0));
    let page = village.changes_since(&details, &[], 1 << 20).unwrap();
    assert!(!page.changes.is_empty());
    let applied = checkpoint
        .apply_remote(&details, &page.changes, &page.signatures, &AcceptAll)
        .unwrap()
        .unwrap();
    assert!(!applied.changed());

    assert_eq!(checkpoint_store.doc_ids().unwrap(), [DocId::card(code(0))]);
    assert_eq!(
        checkpoint.lookup(&people[5].nik.to_string()).kind(),
        "resident"
    );
    let niks: Vec<Nik> = people.iter().map(|p| p.nik).collect();
    let cards = checkpoint.read_many(code(0), &niks).unwrap();
    assert_eq!(cards.len(), people.len());
    assert!(cards.iter().all(|c| c.family_card.is_empty()));
    let seen = checkpoint.read(code(0), people[5].nik).unwrap().unwrap();
    assert_eq!(
        (seen.full_name.as_str(), seen.family_card.as_str()),
        ("Warga 5", "")
    );
    let text = records_text(&checkpoint_store, &DocId::card(code(0)), code(0));
    for p in &people {
        assert!(!text.contains(&p.family_card));
        assert!(!text.contains("Krajan"));
    }

    // A village that keeps a copy of the details takes them.
    let holder = kampung_core::banyuwangi::detail_holders(code(0))[0];
    let mut backup = open(&Arc::new(MemoryStorage::new()));
    backup.set_scope(ReadScope::of_node(
        RoleKind::Village,
        Some(holder),
        &kampung_core::HolderRule::default(),
    ));
    assert!(pull(&mut village, &mut backup, &details) > 0);
    assert_eq!(
        backup
            .read(code(0), people[5].nik)
            .unwrap()
            .unwrap()
            .family_card,
        people[5].family_card
    );
}

/// A store of a node from before cards (one `v/` document per village,
/// its index persisted for it): opened by this version it answers as
/// before, keeps the details until the village's cards arrive, then
/// follows the cards and, as a checkpoint, drops the details.
#[test]
fn a_store_from_before_cards_answers_until_the_cards_arrive() {
    let people: Vec<Resident> = (0..6).map(|p| person(p, 0)).collect();
    let others: Vec<Resident> = (10..13).map(|p| person(p, 1)).collect();
    // The village writes (cards and details).
    let village_store = Arc::new(MemoryStorage::new());
    let mut village = open(&village_store);
    village.write(code(0), &people, 1_000, &mut |_| {}).unwrap();
    village.write(code(1), &others, 1_000, &mut |_| {}).unwrap();
    village.checkpoint().unwrap();
    // A checkpoint's store as the earlier version kept it: the details,
    // the index persisted under them (for code(1): none, as after a crash).
    let old = Arc::new(MemoryStorage::new());
    for v in [code(0), code(1)] {
        let (bytes, sigs) = village
            .stored_document(&DocId::village(v))
            .unwrap()
            .unwrap();
        let mut reg = open(&old);
        reg.apply_document(&DocId::village(v), &bytes, &sigs, &AcceptAll)
            .unwrap()
            .unwrap();
    }
    let card_index = village_store.index(&DocId::card(code(0))).unwrap().unwrap();
    let (_, entries) = index::decode(&card_index).unwrap();
    let details_heads = old.heads(&DocId::village(code(0))).unwrap().unwrap();
    let details_heads = heads_from_bytes(&details_heads).unwrap();
    old.put_index(
        &DocId::village(code(0)),
        &index::encode(&details_heads, entries),
    )
    .unwrap();

    let mut checkpoint = open(&old);
    checkpoint.set_scope(ReadScope::of(RoleKind::Checkpoint));
    for p in people.iter().chain(&others) {
        assert_eq!(
            checkpoint.lookup(&p.nik.to_string()).kind(),
            "resident",
            "{}",
            p.nik
        );
    }
    // Not offered (they are not the checkpoint's to hold), but kept.
    assert!(checkpoint.offered_heads().is_empty());
    checkpoint
        .expire(
            1_000,
            retention::Keep::default(),
            retention::Keep::default(),
        )
        .unwrap();
    assert!(checkpoint.holds_details(code(0)));
    // Code(0)'s cards arrive, with a move out the details never saw.
    let mut gone = people[2].clone();
    gone.status = kampung_core::Status::Deceased { date: None };
    village
        .write(code(0), &[gone.clone()], 2_000, &mut |_| {})
        .unwrap();
    assert!(pull(&mut village, &mut checkpoint, &DocId::card(code(0))) > 0);
    assert_eq!(checkpoint.lookup(&gone.nik.to_string()).kind(), "deceased");
    assert_eq!(
        checkpoint.lookup(&people[0].nik.to_string()).kind(),
        "resident"
    );
    assert!(checkpoint.verify_index().unwrap().is_empty());
    let expired = checkpoint
        .expire(
            3_000,
            retention::Keep::default(),
            retention::Keep::default(),
        )
        .unwrap();
    assert_eq!(
        expired.details, 1,
        "code(0)'s details leave, code(1)'s wait"
    );
    assert!(!checkpoint.holds_details(code(0)));
    assert!(checkpoint.holds_details(code(1)));
    // Reopened: code(0) from its cards, code(1) still from its details.
    drop(checkpoint);
    let mut checkpoint = open(&old);
    checkpoint.set_scope(ReadScope::of(RoleKind::Checkpoint));
    assert_eq!(checkpoint.lookup(&gone.nik.to_string()).kind(), "deceased");
    assert_eq!(
        checkpoint.lookup(&others[1].nik.to_string()).kind(),
        "resident"
    );
    pull(&mut village, &mut checkpoint, &DocId::card(code(1)));
    checkpoint
        .expire(
            3_000,
            retention::Keep::default(),
            retention::Keep::default(),
        )
        .unwrap();
    assert_eq!(
        old.doc_ids().unwrap().len(),
        2,
        "the two villages' cards only"
    );
    assert!(old.doc_ids().unwrap().iter().all(|d| d.as_card().is_some()));
    assert_eq!(
        checkpoint.lookup(&others[1].nik.to_string()).kind(),
        "resident"
    );
}

/// A village node of the earlier version has only its details: its
/// cards are made from them (and made again after a write that stopped
/// between the two documents).
#[test]
fn a_village_makes_its_cards_from_its_details() {
    let people: Vec<Resident> = (0..7).map(|p| person(p, 0)).collect();
    let source = Arc::new(MemoryStorage::new());
    let mut writer = open(&source);
    writer.write(code(0), &people, 1_000, &mut |_| {}).unwrap();
    let (bytes, sigs) = writer
        .stored_document(&DocId::village(code(0)))
        .unwrap()
        .unwrap();
    let old = Arc::new(MemoryStorage::new());
    {
        let mut reg = open(&old);
        reg.apply_document(&DocId::village(code(0)), &bytes, &sigs, &AcceptAll)
            .unwrap()
            .unwrap();
    }
    let mut village = open(&old);
    village.set_scope(ReadScope::of_node(
        RoleKind::Village,
        Some(code(0)),
        &kampung_core::HolderRule::default(),
    ));
    assert!(village.cards(code(0)).unwrap().is_empty());
    assert_eq!(village.derive_card(code(0), 2_000).unwrap(), 7);
    assert_eq!(village.cards(code(0)).unwrap().len(), 7);
    assert!(village
        .cards(code(0))
        .unwrap()
        .iter()
        .all(|c| c.family_card.is_empty()));
    assert!(village.verify_index().unwrap().is_empty());
    assert_eq!(
        village.derive_card(code(0), 3_000).unwrap(),
        0,
        "in line already"
    );
    // A card lost (as if the write stopped between the two documents).
    village
        .withdraw_card(code(0), people[3].nik, "test", 4_000)
        .unwrap();
    assert_eq!(
        village.lookup(&people[3].nik.to_string()).kind(),
        "non_resident"
    );
    assert_eq!(village.derive_card(code(0), 5_000).unwrap(), 1);
    assert_eq!(
        village.lookup(&people[3].nik.to_string()).kind(),
        "resident"
    );
}
