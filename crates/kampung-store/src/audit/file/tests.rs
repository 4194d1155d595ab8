use std::sync::Arc;

use automerge::transaction::Transactable;
use automerge::ActorId;
use kampung_core::VillageCode;
use kampung_trust::{Certificate, RoleKind, Signed, Statement};
use libp2p_identity::Keypair;

use super::*;
use crate::storage::{MemoryStorage, Storage};
use crate::trust::add_statement;
use crate::Registry;

const NOW: i64 = 1_760_000_000_000;

fn village() -> VillageCode {
    VillageCode::parse("35.10.15.2012").unwrap()
}

fn key_of(k: &Keypair) -> NodeKey {
    NodeKey::from_public(&k.public()).unwrap()
}

/// A store holding a village document of `n` residents written by a
/// certified clerk, and the roster that certifies it.
fn village_store(n: usize) -> (Arc<MemoryStorage>, Roster, Keypair) {
    let root = Keypair::generate_ed25519();
    let clerk = Keypair::generate_ed25519();
    let storage = Arc::new(MemoryStorage::new());
    let mut roster = Roster::new(key_of(&root));
    let cert = Signed::sign(
        Statement::Certificate(Certificate {
            node: key_of(&clerk),
            role: RoleKind::Village,
            village: Some(village()),
            label: "Kantor Desa Kampunganyar".into(),
            not_before_ms: 0,
            until_ms: i64::MAX,
        }),
        &root,
    )
    .unwrap();
    add_statement(&storage, &mut roster, cert).unwrap().unwrap();
    let mut reg = Registry::open(storage.clone(), ActorId::from(vec![0u8; 32]), 2026).unwrap();
    reg.set_signer(Arc::new(clerk.clone()));
    let people = kampung_gen::village_residents(village(), n, 3);
    reg.write(village(), &people, NOW, &mut |_| {}).unwrap();
    (storage, roster, clerk)
}

/// The exported file of the village, as `kampung export --automerge` makes it.
fn exported(storage: &MemoryStorage) -> (Vec<u8>, StoredDoc) {
    let stored = storage.load(&DocId::village(village())).unwrap().unwrap();
    let mut concatenated = stored
        .snapshot
        .clone()
        .unwrap_or_else(|| VillageDoc::genesis(village()).save());
    for (_, c) in &stored.chunks {
        concatenated.extend_from_slice(c);
    }
    (whole_document(&concatenated).unwrap(), stored)
}

fn check(bytes: Vec<u8>, held: Option<&StoredDoc>, roster: &Roster) -> FileReport {
    open_file(bytes).check(held, Some(roster), NOW + 60_000)
}

fn kinds(r: &FileReport) -> Vec<FailureKind> {
    r.failures.iter().map(|f| f.kind).collect()
}

#[test]
fn an_exported_village_passes_and_says_what_it_is() {
    let (storage, roster, clerk) = village_store(12);
    let (bytes, stored) = exported(&storage);
    let r = check(bytes, Some(&stored), &roster);
    assert!(r.ok, "{:#?}", r.failures);
    assert_eq!(r.kind, Some(FileKind::Village));
    assert_eq!(r.doc.as_deref(), Some("v/35.10.15.2012"));
    assert_eq!(r.records, Some(12));
    assert_eq!(
        (r.changes, r.changes_verified, r.changes_not_held),
        (13, 13, 0)
    );
    assert_eq!(r.genesis, Some(true));
    assert!(r.held && r.authorisation_checked);
    assert_eq!(r.writers.len(), 1);
    assert_eq!(r.writers[0].writer, key_of(&clerk).to_string());
    assert_eq!(r.writers[0].role, Some(RoleKind::Village));
}

#[test]
fn a_truncated_or_altered_file_is_refused_with_automerges_reason() {
    let (storage, roster, _) = village_store(5);
    let (bytes, stored) = exported(&storage);
    let truncated = bytes[..bytes.len() - 7].to_vec();
    let r = check(truncated, Some(&stored), &roster);
    assert!(!r.ok && !r.loads);
    assert_eq!(kinds(&r), [FailureKind::Unreadable]);
    assert!(
        r.failures[0].message.contains("truncated"),
        "{}",
        r.failures[0].message
    );

    // One bit flipped anywhere in the body: Automerge's checksum catches it.
    for at in [bytes.len() / 2, bytes.len() - 1, 20] {
        let mut altered = bytes.clone();
        altered[at] ^= 0x01;
        let r = check(altered, Some(&stored), &roster);
        assert!(!r.ok && !r.loads, "byte {at}");
        let m = &r.failures[0].message;
        assert!(
            m.contains("checksum") && m.contains("altered"),
            "byte {at}: {m}"
        );
    }
    let mut magic = bytes.clone();
    magic[0] ^= 0xff;
    let m = check(magic, Some(&stored), &roster).failures[0]
        .message
        .clone();
    assert!(m.contains("not an Automerge file"), "{m}");
    let r = check(Vec::new(), Some(&stored), &roster);
    assert!(r.failures[0].message.contains("empty"), "{r:?}");
}

#[test]
fn a_change_forged_into_the_file_fails_as_unsigned_by_its_claimed_writer() {
    let (storage, roster, clerk) = village_store(5);
    let (bytes, stored) = exported(&storage);
    // A new change under the clerk's key (a session of it), never signed.
    let mut doc = Automerge::load(&bytes).unwrap();
    doc.set_actor(ActorId::from(key_of(&clerk).session_actor([9; 8])));
    let residents = match doc.get(ROOT, "residents").unwrap() {
        Some((_, id)) => id,
        None => panic!("no residents"),
    };
    let mut tx = doc.transaction();
    let person = tx
        .put_object(&residents, "3510155203850001", ObjType::Map)
        .unwrap();
    tx.put(&person, "name", "Orang Palsu").unwrap();
    tx.commit();
    let r = check(doc.save(), Some(&stored), &roster);
    assert!(!r.ok);
    assert_eq!(
        kinds(&r),
        [FailureKind::WrongContent, FailureKind::Unsigned]
    );
    let unsigned = &r.failures[1];
    assert_eq!(unsigned.count, 1);
    assert_eq!(unsigned.writer, Some(key_of(&clerk).to_string()));
    assert!(
        unsigned.message.contains("not in this node's copy"),
        "{}",
        unsigned.message
    );
    assert_eq!(r.changes_not_held, 1);
}

#[test]
fn a_document_this_node_does_not_hold_cannot_be_vouched_for() {
    let (storage, roster, _) = village_store(3);
    let (bytes, _) = exported(&storage);
    let r = check(bytes, None, &roster);
    assert!(!r.ok && r.loads && !r.held);
    assert_eq!(r.records, Some(3));
    assert_eq!(kinds(&r), [FailureKind::Unsigned]);
    assert!(
        r.failures[0]
            .message
            .contains("does not hold v/35.10.15.2012"),
        "{}",
        r.failures[0].message
    );
}

#[test]
fn an_older_export_still_checks_against_a_newer_copy() {
    let (storage, roster, clerk) = village_store(4);
    let (old, _) = exported(&storage);
    let mut reg = Registry::open(storage.clone(), ActorId::from(vec![0u8; 32]), 2026).unwrap();
    reg.set_signer(Arc::new(clerk));
    let more = kampung_gen::village_residents(village(), 9, 4);
    reg.write(village(), &more, NOW + 1000, &mut |_| {})
        .unwrap();
    drop(reg);
    let stored = storage.load(&DocId::village(village())).unwrap().unwrap();
    let r = check(old, Some(&stored), &roster);
    assert!(r.ok, "{:#?}", r.failures);
}

#[test]
fn a_file_of_no_known_kind_is_refused_as_such() {
    let (_, roster, _) = village_store(1);
    let mut doc = Automerge::new();
    let mut tx = doc.transaction();
    tx.put(ROOT, "hello", "world").unwrap();
    tx.commit();
    let r = check(doc.save(), None, &roster);
    assert!(r.loads && !r.ok);
    assert_eq!(r.failures[0].kind, FailureKind::UnknownDocument);
    assert!(r.failures[0]
        .message
        .contains("not a document of this mesh"));
}
