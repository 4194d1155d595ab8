//! What checking signatures adds to taking a whole village document from a
//! peer (bootstrap): `prepare_document` with the roster's verifier against
//! the same without checks. One village of 8,000 residents, imported as one
//! signed write (a signature every 1,000 changes), median of 5 runs.
//! `cargo run --release -p kampung-store --example verify_cost`
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use kampung_core::VillageCode;
use kampung_store::storage::MemoryStorage;
use kampung_store::trust::RosterVerifier;
use kampung_store::{prepare_document, AcceptAll, ChangeVerifier, DocId, Registry};
use kampung_trust::{Certificate, NodeKey, RoleKind, Roster, Signed, Statement};
use libp2p_identity::Keypair;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let fail = |e: &dyn std::fmt::Display| -> ! { panic!("{e}") };
    let village = VillageCode::parse("35.10.15.2012").unwrap_or_else(|e| fail(&e));
    let root = Keypair::generate_ed25519();
    let key = Keypair::generate_ed25519();
    let node = NodeKey::from_public(&key.public()).unwrap_or_else(|e| fail(&e));
    let cert = Signed::sign(
        Statement::Certificate(Certificate {
            node,
            role: RoleKind::Village,
            village: Some(village),
            label: "bench".into(),
            not_before_ms: 0,
            until_ms: i64::MAX / 2,
        }),
        &root,
    )
    .unwrap_or_else(|e| fail(&e));
    let mut roster = Roster::new(NodeKey::from_public(&root.public()).unwrap_or_else(|e| fail(&e)));
    roster.add(cert).unwrap_or_else(|e| fail(&e));
    let verifier = RosterVerifier::new(
        Arc::new(RwLock::new(roster)),
        kampung_core::ManualClock::new(1),
    );

    let mut reg = Registry::open(
        MemoryStorage::new(),
        automerge::ActorId::from(vec![0; 32]),
        2026,
    )
    .unwrap_or_else(|e| fail(&e));
    reg.set_signer(Arc::new(key));
    let people = kampung_gen::village_residents(village, 8000, 1);
    reg.write(village, &people, 1, &mut |_| {})
        .unwrap_or_else(|e| fail(&e));
    let id = DocId::village(village);
    let (bytes, sigs) = reg
        .stored_document(&id)
        .unwrap_or_else(|e| fail(&e))
        .unwrap_or_else(|| fail(&"no document"));

    let run = |v: &dyn ChangeVerifier| {
        median(
            (0..5)
                .map(|_| {
                    let t = Instant::now();
                    prepare_document(&id, bytes.clone(), &sigs, v).unwrap_or_else(|e| fail(&e));
                    t.elapsed()
                })
                .collect(),
        )
    };
    let unchecked = run(&AcceptAll);
    let checked = run(&verifier);
    println!(
        "document {} bytes, {} signatures; prepare_document: unchecked {unchecked:?}, checked {checked:?} (+{:?} a village, ~{:.1} s of CPU for 217 villages)",
        bytes.len(),
        sigs.len(),
        checked.saturating_sub(unchecked),
        checked.saturating_sub(unchecked).as_secs_f64() * 217.0
    );
}
