//! Remote writes checked against write signatures and the roster.

use std::sync::{Arc, RwLock};

use kampung_trust::{Certificate, NodeKey, RoleKind, Roster, Signed, Statement, WriteSignature};
use libp2p_identity::Keypair;

use super::tests::{code, person};
use super::*;
use crate::storage::MemoryStorage;
use crate::trust::RosterVerifier;

fn now() -> i64 {
    1_000_000
}

struct Mesh {
    root: Keypair,
    roster: Arc<RwLock<Roster>>,
}

impl Mesh {
    fn new() -> Mesh {
        let root = Keypair::generate_ed25519();
        let roster = Roster::new(NodeKey::from_public(&root.public()).unwrap());
        Mesh {
            root,
            roster: Arc::new(RwLock::new(roster)),
        }
    }

    /// A node certified as `role` (for `village`), with a registry that signs its writes.
    fn node(
        &self,
        role: RoleKind,
        village: Option<VillageCode>,
    ) -> (Keypair, Registry<MemoryStorage>) {
        self.node_from(role, village, 0)
    }

    /// [`Mesh::node`] with a certificate in force from `not_before_ms`.
    fn node_from(
        &self,
        role: RoleKind,
        village: Option<VillageCode>,
        not_before_ms: i64,
    ) -> (Keypair, Registry<MemoryStorage>) {
        let key = Keypair::generate_ed25519();
        let cert = Signed::sign(
            Statement::Certificate(Certificate {
                node: NodeKey::from_public(&key.public()).unwrap(),
                role,
                village,
                label: "test".into(),
                not_before_ms,
                until_ms: 2 * now(),
            }),
            &self.root,
        )
        .unwrap();
        self.roster.write().unwrap().add(cert).unwrap();
        let mut reg =
            Registry::open(MemoryStorage::new(), ActorId::from(vec![0u8; 32]), 2026).unwrap();
        reg.set_signer(Arc::new(key.clone()));
        (key, reg)
    }

    fn verifier(&self) -> RosterVerifier {
        RosterVerifier::new(self.roster.clone(), kampung_core::ManualClock::new(now()))
    }
}

fn sync_all<A: Storage, B: Storage>(
    from: &mut Registry<A>,
    to: &mut Registry<B>,
    id: &DocId,
    v: &RosterVerifier,
    page: usize,
) {
    for _ in 0..1000 {
        let have = to.doc_heads_of(id).unwrap_or_default();
        let p = from.changes_since(id, &have, page).unwrap();
        to.apply_remote(id, &p.changes, &p.signatures, v)
            .unwrap()
            .unwrap();
        if !p.more {
            return;
        }
    }
    panic!("sync did not finish");
}

#[test]
fn signed_writes_replicate_in_small_pages_and_verify() {
    let mesh = Mesh::new();
    let (_, mut owner) = mesh.node(RoleKind::Village, Some(code(0)));
    let (_, mut replica) = mesh.node(RoleKind::Checkpoint, None);
    let id = DocId::card(code(0));
    let people: Vec<_> = (0..60).map(|p| person(p, 0)).collect();
    // Several writes, so pages can end at several signed points.
    for chunk in people.chunks(7) {
        owner.write(code(0), chunk, now(), &mut |_| {}).unwrap();
    }
    sync_all(&mut owner, &mut replica, &id, &mesh.verifier(), 1_500);
    assert_eq!(replica.doc_heads_of(&id), owner.doc_heads_of(&id));
    assert!(replica.verify_index().unwrap().is_empty());

    // The replica can in turn serve a third node: the signatures travel on.
    let (_, mut third) = mesh.node(RoleKind::Auditor, None);
    sync_all(&mut replica, &mut third, &id, &mesh.verifier(), 1_500);
    assert_eq!(third.doc_heads_of(&id), owner.doc_heads_of(&id));

    // And a late node takes the whole document with its signatures.
    let (_, mut late) = mesh.node(RoleKind::Auditor, None);
    let (bytes, sigs) = replica.stored_document(&id).unwrap().unwrap();
    assert_eq!(sigs.len(), people.chunks(7).count());
    late.apply_document(&id, &bytes, &sigs, &mesh.verifier())
        .unwrap()
        .unwrap();
    assert_eq!(late.doc_heads_of(&id), owner.doc_heads_of(&id));
    // Without its signatures the same document is refused.
    let (_, mut bare) = mesh.node(RoleKind::Auditor, None);
    assert!(matches!(
        bare.apply_document(&id, &bytes, &[], &mesh.verifier())
            .unwrap(),
        Err(RemoteRefusal::Unauthorised { .. })
    ));
    assert_eq!(bare.doc_heads_of(&id), None);
}

/// A node keeps only the newest signatures of a document in memory
/// (`registry/signed.rs`): pages that reach back further read the rest from
/// its store, after a restart too, and every change arrives verified.
#[test]
fn pages_reaching_past_the_signatures_in_memory_read_them_from_the_store() {
    let mesh = Mesh::new();
    let (key, mut owner) = mesh.node(RoleKind::Village, Some(code(0)));
    let id = DocId::card(code(0));
    let edits = signed::RECENT as u16 * 2 + 5;
    for p in 0..edits {
        owner
            .write(code(0), &[person(p, 0)], now(), &mut |_| {})
            .unwrap();
    }
    let (_, mut replica) = mesh.node(RoleKind::Checkpoint, None);
    sync_all(&mut owner, &mut replica, &id, &mesh.verifier(), 2_000);
    assert_eq!(replica.doc_heads_of(&id), owner.doc_heads_of(&id));
    assert!(replica.verify_index().unwrap().is_empty());
    let (_, sigs) = replica.stored_document(&id).unwrap().unwrap();
    assert_eq!(
        sigs.len(),
        usize::from(edits),
        "every edit's signature travelled"
    );

    // Reopened from its store, the owner holds the newest in memory only,
    // and still serves a node starting empty, in pages.
    let storage = owner.storage.clone();
    drop(owner);
    let mut owner = Registry::open(storage, ActorId::from(vec![0u8; 32]), 2026).unwrap();
    owner.set_signer(Arc::new(key));
    let (_, mut late) = mesh.node(RoleKind::Auditor, None);
    sync_all(&mut owner, &mut late, &id, &mesh.verifier(), 2_000);
    assert_eq!(late.doc_heads_of(&id), replica.doc_heads_of(&id));
    // And the replica, which took them page by page, serves them on.
    let (_, mut third) = mesh.node(RoleKind::Auditor, None);
    sync_all(&mut replica, &mut third, &id, &mesh.verifier(), 2_000);
    assert_eq!(third.doc_heads_of(&id), late.doc_heads_of(&id));
    // The record history checks the first edit against its signature,
    // which only the store holds now.
    let roster = mesh.roster.read().unwrap().clone();
    let first = owner
        .record_history(code(0), person(0, 0).nik, Some(&roster), now())
        .unwrap();
    assert_eq!(first.len(), 1);
    assert!(first[0].verified, "{first:?}");
}

/// A village PC whose clock was fast (beyond the tolerance) or before its
/// certificate's start signs a write nobody accepts; that write waits,
/// nobody is blamed for relaying it, and the village's next write made with
/// a right clock carries it in (its signature covers the earlier change).
#[test]
fn a_write_signed_with_a_wrong_clock_waits_for_the_writers_next_right_one() {
    let fast = now() + kampung_trust::MAX_CLOCK_SKEW_MS + 60_000;
    let before_certificate = now() / 4;
    for (case, wrong_ms) in [
        ("fast", fast),
        ("before the certificate", before_certificate),
    ] {
        let mesh = Mesh::new();
        let (_, mut owner) = mesh.node_from(RoleKind::Village, Some(code(0)), now() / 2);
        let (_, mut replica) = mesh.node(RoleKind::Checkpoint, None);
        let id = DocId::card(code(0));
        let v = mesh.verifier();
        owner
            .write(code(0), &[person(1, 0)], now(), &mut |_| {})
            .unwrap();
        sync_all(&mut owner, &mut replica, &id, &v, 1 << 20);
        let before = replica.doc_heads_of(&id).unwrap();

        owner
            .write(code(0), &[person(2, 0)], wrong_ms, &mut |_| {})
            .unwrap();
        let page = owner.changes_since(&id, &before, 1 << 20).unwrap();
        let got = replica
            .apply_remote(&id, &page.changes, &page.signatures, &v)
            .unwrap();
        assert!(
            matches!(got, Err(RemoteRefusal::NotYetCovered { .. })),
            "{case}: {got:?}"
        );
        assert_eq!(replica.doc_heads_of(&id).unwrap(), before, "{case}");

        // A node joining now takes the document whole: all but the waiting write.
        let (_, mut joining) = mesh.node(RoleKind::Checkpoint, None);
        let (bytes, sigs) = owner.stored_document(&id).unwrap().unwrap();
        joining
            .apply_document(&id, &bytes, &sigs, &v)
            .unwrap()
            .unwrap();
        assert_eq!(joining.doc_heads_of(&id).unwrap(), before, "{case}");
        assert_eq!(
            joining.lookup(&person(1, 0).nik.to_string()).kind(),
            "resident",
            "{case}: the covered part is taken"
        );
        assert_eq!(
            joining.lookup(&person(2, 0).nik.to_string()).kind(),
            "non_resident",
            "{case}: the write made with a wrong clock waits"
        );

        // The clock is put right; the next write covers both.
        owner
            .write(code(0), &[person(3, 0)], now(), &mut |_| {})
            .unwrap();
        sync_all(&mut owner, &mut replica, &id, &v, 1 << 20);
        assert_eq!(replica.doc_heads_of(&id), owner.doc_heads_of(&id), "{case}");
        assert!(replica.verify_index().unwrap().is_empty(), "{case}");
        sync_all(&mut owner, &mut joining, &id, &v, 1 << 20);
        assert_eq!(joining.doc_heads_of(&id), owner.doc_heads_of(&id), "{case}");
        assert!(joining.verify_index().unwrap().is_empty(), "{case}");
        for p in [2, 3] {
            assert_eq!(
                replica.lookup(&person(p, 0).nik.to_string()).kind(),
                "resident",
                "{case}: person {p} arrived"
            );
        }
        // A late node takes the whole document: the wrong signature is
        // set aside, the right one covers.
        let (_, mut late) = mesh.node(RoleKind::Auditor, None);
        let (bytes, sigs) = owner.stored_document(&id).unwrap().unwrap();
        late.apply_document(&id, &bytes, &sigs, &v)
            .unwrap()
            .unwrap();
        assert_eq!(late.doc_heads_of(&id), owner.doc_heads_of(&id), "{case}");
    }
}

#[test]
fn a_village_cannot_write_another_villages_residents() {
    let mesh = Mesh::new();
    let (_, mut owner) = mesh.node(RoleKind::Village, Some(code(0)));
    let (_, mut rogue) = mesh.node(RoleKind::Village, Some(code(1)));
    let (_, mut honest) = mesh.node(RoleKind::Checkpoint, None);
    let id = DocId::card(code(0));
    owner
        .write(code(0), &[person(1, 0)], now(), &mut |_| {})
        .unwrap();
    sync_all(&mut owner, &mut rogue, &id, &mesh.verifier(), 1 << 20);
    sync_all(&mut owner, &mut honest, &id, &mesh.verifier(), 1 << 20);
    let before = honest.doc_heads_of(&id);
    // The rogue edits village 0's document locally, signed with its own key.
    let mut moved = person(1, 0);
    moved.full_name = "Nama Palsu".into();
    rogue.write(code(0), &[moved], now(), &mut |_| {}).unwrap();
    let page = rogue
        .changes_since(&id, &before.clone().unwrap(), 1 << 20)
        .unwrap();
    assert_eq!(page.changes.len(), 1);
    let refusal = honest
        .apply_remote(&id, &page.changes, &page.signatures, &mesh.verifier())
        .unwrap()
        .unwrap_err();
    assert!(refusal.to_string().contains("may not write"), "{refusal}");
    assert_eq!(honest.doc_heads_of(&id), before, "nothing applied");
    assert_eq!(
        honest.lookup(&person(1, 0).nik.to_string()).kind(),
        "resident"
    );
}

#[test]
fn unsigned_forged_and_tampered_changes_are_refused() {
    let mesh = Mesh::new();
    let (owner_key, mut owner) = mesh.node(RoleKind::Village, Some(code(0)));
    let (_, mut honest) = mesh.node(RoleKind::Checkpoint, None);
    let id = DocId::card(code(0));
    owner
        .write(code(0), &[person(1, 0)], now(), &mut |_| {})
        .unwrap();
    let base = owner.doc_heads_of(&id).unwrap();
    sync_all(&mut owner, &mut honest, &id, &mesh.verifier(), 1 << 20);

    // An uncertified writer that uses the owner's public key as its actor id
    // (it cannot sign as the owner): its change has no valid covering signature.
    let mut forger = Registry::open(
        MemoryStorage::new(),
        ActorId::from(
            NodeKey::from_public(&owner_key.public())
                .unwrap()
                .0
                .to_vec(),
        ),
        2026,
    )
    .unwrap();
    sync_all(&mut owner, &mut forger, &id, &mesh.verifier(), 1 << 20);
    forger
        .write(code(0), &[person(2, 0)], now(), &mut |_| {})
        .unwrap();
    let forged = forger.changes_since(&id, &base, 1 << 20).unwrap();
    assert!(forged.signatures.is_empty());
    assert!(honest
        .apply_remote(&id, &forged.changes, &[], &mesh.verifier())
        .unwrap()
        .is_err());
    // Replaying the owner's real signature next to the forged change does not cover it.
    owner
        .write(code(0), &[person(3, 0)], now(), &mut |_| {})
        .unwrap();
    let real = owner.changes_since(&id, &base, 1 << 20).unwrap();
    assert!(honest
        .apply_remote(&id, &forged.changes, &real.signatures, &mesh.verifier())
        .unwrap()
        .is_err());

    // The owner's real change with its signature altered is refused...
    let mut tampered = real.signatures.clone();
    let mut sig = WriteSignature::decode(&tampered[0]).unwrap();
    sig.signature.0[10] ^= 0x40;
    tampered[0] = sig.encode();
    assert!(honest
        .apply_remote(&id, &real.changes, &tampered, &mesh.verifier())
        .unwrap()
        .is_err());
    assert_eq!(honest.doc_heads_of(&id).unwrap(), base);
    // ...and accepted as signed.
    honest
        .apply_remote(&id, &real.changes, &real.signatures, &mesh.verifier())
        .unwrap()
        .unwrap();
    assert_eq!(honest.doc_heads_of(&id), owner.doc_heads_of(&id));
    // Replaying it is a no-op.
    let again = honest
        .apply_remote(&id, &real.changes, &real.signatures, &mesh.verifier())
        .unwrap()
        .unwrap();
    assert!(!again.changed());
}

#[test]
fn writes_after_a_revocation_are_refused_earlier_ones_stay_valid() {
    let mesh = Mesh::new();
    let (owner_key, mut owner) = mesh.node(RoleKind::Village, Some(code(0)));
    let (_, mut honest) = mesh.node(RoleKind::Checkpoint, None);
    let id = DocId::card(code(0));
    owner
        .write(code(0), &[person(1, 0)], now() - 10, &mut |_| {})
        .unwrap();
    let revoke = Signed::sign(
        Statement::Revocation(kampung_trust::Revocation {
            node: NodeKey::from_public(&owner_key.public()).unwrap(),
            from_ms: now() - 5,
            reason: "tablet lost".into(),
        }),
        &mesh.root,
    )
    .unwrap();
    mesh.roster.write().unwrap().add(revoke).unwrap();
    sync_all(&mut owner, &mut honest, &id, &mesh.verifier(), 1 << 20);
    assert_eq!(
        honest.lookup(&person(1, 0).nik.to_string()).kind(),
        "resident"
    );
    let base = owner.doc_heads_of(&id).unwrap();
    owner
        .write(code(0), &[person(2, 0)], now(), &mut |_| {})
        .unwrap();
    let page = owner.changes_since(&id, &base, 1 << 20).unwrap();
    let refusal = honest
        .apply_remote(&id, &page.changes, &page.signatures, &mesh.verifier())
        .unwrap()
        .unwrap_err();
    assert!(refusal.to_string().contains("revoked"), "{refusal}");
}

mod documents {
    //! Crossing logs and isolation cases: signed, verified and replicated.
    use super::*;
    use crate::case::{FollowUp, Opening, Outcome, Placement, Writer};
    use crate::crossing::{Crossing, Decision};
    use crate::registry::CaseUpdate;
    use kampung_core::Place;

    fn peer_of(k: &Keypair) -> String {
        k.public().to_peer_id().to_string()
    }

    fn writer(k: &Keypair, role: crate::case::RoleKind) -> Writer {
        Writer {
            peer: peer_of(k),
            role,
            person: None,
        }
    }

    fn crossing(nik: &str) -> Crossing {
        Crossing {
            at_ms: now(),
            nik: nik.into(),
            verdict: "non_resident".into(),
            explanation: "issued in Bali".into(),
            decision: Decision::IsolationGor,
            case_id: None,
            officer: Some("Budi".into()),
            officer_id: None,
            note: None,
            basis: vec![],
            state: None,
            policy: None,
            found_in: None,
            issued_in: None,
            rule: None,
        }
    }

    fn sync_both(
        a: &mut Registry<MemoryStorage>,
        b: &mut Registry<MemoryStorage>,
        id: &DocId,
        v: &RosterVerifier,
    ) {
        sync_all(a, b, id, v, 1 << 20);
        sync_all(b, a, id, v, 1 << 20);
    }

    #[test]
    fn a_crossing_log_replicates_and_only_its_checkpoint_writes_it() {
        let mesh = Mesh::new();
        let (ck, mut checkpoint) = mesh.node(RoleKind::Checkpoint, None);
        let (other_ck, mut rogue) = mesh.node(RoleKind::Checkpoint, None);
        let (_, mut auditor) = mesh.node(RoleKind::Auditor, None);
        let peer = peer_of(&ck);
        let id = DocId::crossings(&peer, kampung_core::LogMonth::of_ms(now()).unwrap());
        checkpoint
            .record_crossing(&peer, &crossing("5171010101010001"), now())
            .unwrap();
        checkpoint
            .record_crossing(&peer, &crossing("5171010101010002"), now())
            .unwrap();
        sync_all(
            &mut checkpoint,
            &mut auditor,
            &id,
            &mesh.verifier(),
            1 << 20,
        );
        assert_eq!(auditor.crossings(&peer).unwrap().len(), 2);
        assert_eq!(auditor.doc_heads_of(&id), checkpoint.doc_heads_of(&id));
        // A late node takes the whole log.
        let (_, mut late) = mesh.node(RoleKind::Auditor, None);
        let (bytes, sigs) = auditor.stored_document(&id).unwrap().unwrap();
        late.apply_document(&id, &bytes, &sigs, &mesh.verifier())
            .unwrap()
            .unwrap();
        assert_eq!(late.crossings(&peer).unwrap().len(), 2);
        // Another checkpoint writing into this log is refused.
        sync_all(&mut checkpoint, &mut rogue, &id, &mesh.verifier(), 1 << 20);
        let base = rogue.doc_heads_of(&id).unwrap();
        rogue
            .record_crossing(&peer, &crossing("5171010101010003"), now())
            .unwrap();
        let page = rogue.changes_since(&id, &base, 1 << 20).unwrap();
        let refusal = auditor
            .apply_remote(&id, &page.changes, &page.signatures, &mesh.verifier())
            .unwrap()
            .unwrap_err();
        assert!(refusal.to_string().contains("may not write"), "{refusal}");
        assert_eq!(auditor.crossings(&peer).unwrap().len(), 2);
        let _ = other_ck;
    }

    #[test]
    fn a_case_updated_on_both_sides_of_a_partition_merges() {
        let mesh = Mesh::new();
        let (ck, mut checkpoint) = mesh.node(RoleKind::Checkpoint, None);
        let (gk, mut gor) = mesh.node(RoleKind::Facility, None);
        let (_, mut auditor) = mesh.node(RoleKind::Auditor, None);
        let nik = Nik::parse("5171014101900001", 2026).unwrap().nik();
        let case_id = "00112233aabbccdd";
        let id = DocId::case(case_id);
        let opening = Opening {
            nik,
            person_name: Some("Made Wirawan".into()),
            at_ms: now(),
            by: writer(&ck, crate::case::RoleKind::Checkpoint),
            origin: "Kota Denpasar, Bali (51.71)".into(),
            required_days: 14,
            place: Place::Gor,
        };
        checkpoint
            .open_isolation_case(case_id, &opening, now())
            .unwrap();
        sync_both(&mut checkpoint, &mut gor, &id, &mesh.verifier());
        assert_eq!(gor.open_case(nik).unwrap().case_id, case_id);
        // Partitioned: the checkpoint moves the person home; the GOR records a follow-up.
        let today = kampung_core::checkpoint::local_date(now()).unwrap();
        checkpoint
            .update_isolation_case(
                case_id,
                &CaseUpdate::Place(Placement {
                    place: Place::Home {
                        address: "Dusun Krajan RT 1 RW 2".into(),
                    },
                    at_ms: now() + 10,
                    by: writer(&ck, crate::case::RoleKind::Checkpoint),
                }),
                now() + 10,
            )
            .unwrap();
        gor.update_isolation_case(
            case_id,
            &CaseUpdate::FollowUp(FollowUp {
                date: today,
                outcome: Outcome::SeenOk,
                note: Some("suhu normal".into()),
                at_ms: now() + 5,
                by: writer(&gk, crate::case::RoleKind::Facility),
            }),
            now() + 5,
        )
        .unwrap();
        // Heal: both updates survive on every node.
        sync_both(&mut checkpoint, &mut gor, &id, &mesh.verifier());
        sync_all(&mut gor, &mut auditor, &id, &mesh.verifier(), 1 << 20);
        for reg in [&checkpoint, &gor, &auditor] {
            let case = reg.isolation_case(case_id).unwrap();
            assert_eq!(case.placements().unwrap().len(), 2);
            assert_eq!(case.follow_ups().unwrap().len(), 1);
            assert!(matches!(
                reg.open_case(nik).unwrap().place,
                Place::Home { .. }
            ));
        }
        assert_eq!(checkpoint.doc_heads_of(&id), auditor.doc_heads_of(&id));
        // An auditor cannot write a case.
        let (ak, mut rogue_auditor) = mesh.node(RoleKind::Auditor, None);
        sync_all(&mut gor, &mut rogue_auditor, &id, &mesh.verifier(), 1 << 20);
        let base = rogue_auditor.doc_heads_of(&id).unwrap();
        rogue_auditor
            .update_isolation_case(
                case_id,
                &CaseUpdate::Place(Placement {
                    place: Place::Gor,
                    at_ms: now() + 20,
                    by: writer(&ak, crate::case::RoleKind::Facility),
                }),
                now() + 20,
            )
            .unwrap();
        let page = rogue_auditor.changes_since(&id, &base, 1 << 20).unwrap();
        assert!(gor
            .apply_remote(&id, &page.changes, &page.signatures, &mesh.verifier())
            .unwrap()
            .is_err());
        assert!(matches!(
            gor.open_case(nik).unwrap().place,
            Place::Home { .. }
        ));
    }
}

/// Found by the simulation (seed 80): a change that arrived before its
/// dependency was queued by Automerge, its signature dropped, and the
/// change stored unsigned once the dependency came; every node it was
/// served to then refused it and blamed the honest relay.
#[test]
fn a_change_that_arrives_before_its_dependency_keeps_its_signature() {
    let mesh = Mesh::new();
    let (_, mut owner) = mesh.node(RoleKind::Village, Some(code(0)));
    let (_, mut relay) = mesh.node(RoleKind::Checkpoint, None);
    let id = DocId::card(code(0));
    let v = mesh.verifier();
    let genesis = owner.doc_heads_of(&id).unwrap_or_default();
    owner
        .write(code(0), &[person(1, 0)], now(), &mut |_| {})
        .unwrap();
    let first = owner.changes_since(&id, &genesis, 1 << 20).unwrap();
    let middle = owner.doc_heads_of(&id).unwrap();
    owner
        .write(code(0), &[person(2, 0)], now(), &mut |_| {})
        .unwrap();
    let second = owner.changes_since(&id, &middle, 1 << 20).unwrap();

    // The second write's announcement overtakes the first's.
    let early = relay
        .apply_remote(&id, &second.changes, &second.signatures, &v)
        .unwrap()
        .unwrap();
    assert!(!early.changed(), "nothing applied before its dependency");
    assert_eq!(early.missing_deps, middle);
    relay
        .apply_remote(&id, &first.changes, &first.signatures, &v)
        .unwrap()
        .unwrap();
    // ...and the relay pulls what it still lacks.
    let have = relay.doc_heads_of(&id).unwrap_or_default();
    let rest = owner.changes_since(&id, &have, 1 << 20).unwrap();
    relay
        .apply_remote(&id, &rest.changes, &rest.signatures, &v)
        .unwrap()
        .unwrap();
    assert_eq!(relay.doc_heads_of(&id), owner.doc_heads_of(&id));

    // What the relay serves verifies at a third node.
    let (_, mut third) = mesh.node(RoleKind::Auditor, None);
    let page = relay.changes_since(&id, &[], 1 << 20).unwrap();
    third
        .apply_remote(&id, &page.changes, &page.signatures, &v)
        .unwrap()
        .expect("every change the relay serves is signed");
    assert_eq!(third.doc_heads_of(&id), owner.doc_heads_of(&id));
}

/// A node that lost a write a peer already holds (its flush failed on a full
/// disk, then it restarted) writes on as a new session: its next change does
/// not reuse the lost change's sequence number, so the peer takes it, the
/// node gets the lost write back from the peer, and both converge. With one
/// actor per node for ever, the peer refused every later change of that
/// node's document (automerge: "duplicate seq"; found by the chaos run).
#[test]
fn a_node_that_lost_a_write_a_peer_holds_writes_on_and_converges() {
    let mesh = Mesh::new();
    let (key, mut before_loss) = mesh.node(RoleKind::Village, Some(code(0)));
    let (_, mut replica) = mesh.node(RoleKind::Checkpoint, None);
    let id = DocId::card(code(0));
    let v = mesh.verifier();
    before_loss
        .write(code(0), &[person(1, 0)], now(), &mut |_| {})
        .unwrap();
    // What the node's disk will still hold after the restart: the first write.
    let mut restarted =
        Registry::open(MemoryStorage::new(), ActorId::from(vec![0u8; 32]), 2026).unwrap();
    sync_all(&mut before_loss, &mut restarted, &id, &v, 1 << 20);
    // The write the node will lose reaches the replica.
    before_loss
        .write(code(0), &[person(2, 0)], now(), &mut |_| {})
        .unwrap();
    sync_all(&mut before_loss, &mut replica, &id, &v, 1 << 20);

    // The node runs again (a new session of the same key) and writes.
    restarted.set_signer(Arc::new(key));
    restarted
        .write(code(0), &[person(3, 0)], now(), &mut |_| {})
        .unwrap();
    sync_all(&mut restarted, &mut replica, &id, &v, 1 << 20);
    sync_all(&mut replica, &mut restarted, &id, &v, 1 << 20);
    assert_eq!(restarted.doc_heads_of(&id), replica.doc_heads_of(&id));
    for p in 1..=3 {
        let nik = person(p, 0).nik.to_string();
        assert!(
            matches!(restarted.lookup(&nik), Verdict::Resident { .. }),
            "person {p} at the node"
        );
        assert!(
            matches!(replica.lookup(&nik), Verdict::Resident { .. }),
            "person {p} at the replica"
        );
    }
    // Every change is still the node's: one writer in the audit's eyes.
    let writers: std::collections::HashSet<_> = restarted
        .changes_since(&id, &[], 1 << 20)
        .unwrap()
        .changes
        .iter()
        .filter_map(|c| automerge::Change::try_from(c.as_slice()).ok())
        .filter_map(|c| NodeKey::from_actor(c.actor_id().to_bytes()))
        .collect();
    assert_eq!(writers.len(), 1, "{writers:?}");
}

/// A write whose flush failed (a full disk) is answered with an error, and
/// the store is not read again until it reopens: sled still serves the
/// unflushed write from its cache, and memory reloaded from it handed that
/// write to a peer; the reopened store had lost it, the node's next write
/// reused its sequence number, and every replica refused every later change
/// of that document ("duplicate seq"; found by the chaos run at a
/// checkpoint's crossing log). Now the peer gets nothing from the failing
/// store, the node writes as a new session after it reopens, and both
/// converge without the write that failed.
#[test]
fn a_write_whose_flush_failed_never_reaches_a_peer_and_never_forks_the_document() {
    let mesh = Mesh::new();
    let (key, _) = mesh.node(RoleKind::Village, Some(code(0)));
    let (_, mut replica) = mesh.node(RoleKind::Checkpoint, None);
    let disk = Arc::new(MemoryStorage::losing_unflushed());
    let mut node = Registry::open(disk.clone(), ActorId::from(vec![0u8; 32]), 2026).unwrap();
    node.set_signer(Arc::new(key));
    let id = DocId::card(code(0));
    let v = mesh.verifier();
    node.write(code(0), &[person(1, 0)], now(), &mut |_| {})
        .unwrap();
    sync_all(&mut node, &mut replica, &id, &v, 1 << 20);
    let first_actor = node.actor.clone();

    disk.fail_flushes(true);
    let err = node
        .write(code(0), &[person(2, 0)], now(), &mut |_| {})
        .unwrap_err();
    assert!(err.to_string().contains("no space left"), "{err}");
    assert!(node.storage_needs_recovery());
    // A peer asks while the store is failing, as anti-entropy does.
    let have = replica.doc_heads_of(&id).unwrap_or_default();
    if let Ok(p) = node.changes_since(&id, &have, 1 << 20) {
        replica
            .apply_remote(&id, &p.changes, &p.signatures, &v)
            .unwrap()
            .unwrap();
    }
    assert!(node.recover_storage().is_err(), "still full");

    // Space again: the store reopens with what was durable, and the
    // node writes on.
    disk.fail_flushes(false);
    node.recover_storage().unwrap();
    node.write(code(0), &[person(3, 0)], now(), &mut |_| {})
        .unwrap();
    sync_all(&mut node, &mut replica, &id, &v, 1 << 20);
    sync_all(&mut replica, &mut node, &id, &v, 1 << 20);
    assert_eq!(node.doc_heads_of(&id), replica.doc_heads_of(&id));
    assert_ne!(node.actor, first_actor, "a new session after the reopen");
    for (p, resident) in [(1, true), (2, false), (3, true)] {
        let nik = person(p, 0).nik.to_string();
        for (name, reg) in [
            ("node", node.lookup(&nik)),
            ("replica", replica.lookup(&nik)),
        ] {
            assert_eq!(
                matches!(reg, Verdict::Resident { .. }),
                resident,
                "person {p} at the {name}"
            );
        }
    }
}

/// A record's history marks each change with the audit's check: the
/// village's own signed write passes; a change some node accepted without
/// checking (no signature: a writer outside the mesh) fails, and is still
/// listed, field by field, for the auditor to see.
#[test]
fn a_records_history_marks_the_changes_no_authorised_signature_covers() {
    let mesh = Mesh::new();
    let (_, mut village) = mesh.node(RoleKind::Village, Some(code(0)));
    let (_, mut auditor) = mesh.node(RoleKind::Auditor, None);
    let id = DocId::card(code(0));
    let v = mesh.verifier();
    let siti = person(1, 0);
    village
        .write(code(0), std::slice::from_ref(&siti), now(), &mut |_| {})
        .unwrap();
    sync_all(&mut village, &mut auditor, &id, &v, 1 << 20);

    // An unsigned writer renames her; the auditor's node takes it unchecked.
    let mut rogue =
        Registry::open(MemoryStorage::new(), ActorId::from(vec![9u8; 32]), 2026).unwrap();
    sync_all(&mut village, &mut rogue, &id, &v, 1 << 20);
    let mut renamed = siti.clone();
    renamed.full_name = "Nama Palsu".into();
    let before = rogue.doc_heads_of(&id).unwrap();
    rogue
        .write(code(0), &[renamed], now(), &mut |_| {})
        .unwrap();
    let page = rogue.changes_since(&id, &before, 1 << 20).unwrap();
    auditor
        .apply_remote(&id, &page.changes, &page.signatures, &crate::AcceptAll)
        .unwrap()
        .unwrap();

    let roster = mesh.roster.read().unwrap().clone();
    let h = auditor
        .record_history(code(0), siti.nik, Some(&roster), now())
        .unwrap();
    let seen: Vec<(String, bool)> = h
        .iter()
        .map(|c| {
            (
                c.change.after.as_ref().unwrap().full_name.clone(),
                c.verified,
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (siti.full_name.clone(), true),
            ("Nama Palsu".to_string(), false)
        ]
    );
    assert_eq!(h[1].change.actor, vec![9u8; 32]);
}

/// A village that just joined: its writes reach a node before its
/// certificate does (both travel through the mesh). They wait, nobody is
/// blamed for relaying them, and they apply once the certificate arrives.
#[test]
fn writes_of_a_writer_whose_certificate_has_not_arrived_wait_for_it() {
    let mesh = Mesh::new();
    let (owner_key, mut owner) = mesh.node(RoleKind::Village, Some(code(0)));
    let id = DocId::card(code(0));
    owner
        .write(code(0), &[person(1, 0)], now(), &mut |_| {})
        .unwrap();
    // The receiver's roster: the same root, without the village's certificate yet.
    let behind = Arc::new(RwLock::new(Roster::new(mesh.roster.read().unwrap().root())));
    let v = RosterVerifier::new(behind.clone(), kampung_core::ManualClock::new(now()));
    let mut replica =
        Registry::open(MemoryStorage::new(), ActorId::from(vec![7u8; 32]), 2026).unwrap();
    let page = owner.changes_since(&id, &[], 1 << 20).unwrap();
    let got = replica
        .apply_remote(&id, &page.changes, &page.signatures, &v)
        .unwrap();
    assert!(
        matches!(&got, Err(RemoteRefusal::NotYetCovered { reason, .. }) if reason.contains("no certificate")),
        "{got:?}"
    );
    let (bytes, sigs) = owner.stored_document(&id).unwrap().unwrap();
    let whole = replica.apply_document(&id, &bytes, &sigs, &v).unwrap();
    assert!(
        matches!(whole, Err(RemoteRefusal::NotYetCovered { .. })),
        "{whole:?}"
    );
    assert_eq!(
        replica.lookup(&person(1, 0).nik.to_string()).kind(),
        "non_resident"
    );

    // The certificate arrives (from the relaying peer's roster).
    let owner_node = NodeKey::from_public(&owner_key.public()).unwrap();
    let cert = mesh
        .roster
        .read()
        .unwrap()
        .signed_certificate(&owner_node, now())
        .cloned()
        .unwrap();
    behind.write().unwrap().add(cert).unwrap();
    replica
        .apply_remote(&id, &page.changes, &page.signatures, &v)
        .unwrap()
        .unwrap();
    assert_eq!(replica.doc_heads_of(&id), owner.doc_heads_of(&id));
    assert_eq!(
        replica.lookup(&person(1, 0).nik.to_string()).kind(),
        "resident"
    );
}
