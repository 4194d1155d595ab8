//! Rogue nodes against an honest, certified mesh of real libp2p swarms on
//! 127.0.0.1: each rogue is refused, and the honest nodes keep answering.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/certified.rs"]
mod certified;
#[path = "support/inproc.rs"]
mod inproc;

use std::time::Duration;

use certified::{cert, node, node_with, TestNode, WAIT};
use inproc::wait_for;
use kampung_core::RoleKind;
use kampung_core::VillageCode;
use kampung_mesh::identity::Keypair;
use kampung_node::Actor;
use kampung_sync::WIRE_VERSION;
use kampung_trust::{NodeKey, Revocation, Signed, Statement};
use tokio_util::sync::CancellationToken;

fn now_ms() -> i64 {
    kampung_core::Clock::now_ms(&kampung_core::SystemClock)
}

fn village(i: usize) -> VillageCode {
    ["35.10.15.2012", "35.10.15.2001"][i].parse().unwrap()
}

/// An honest village (owning village 0, with residents) and an honest checkpoint.
struct Honest {
    root: Keypair,
    village: TestNode,
    checkpoint: TestNode,
    nik: String,
}

async fn honest_mesh(shutdown: &CancellationToken) -> Honest {
    let root = Keypair::generate_ed25519();
    let vk = Keypair::generate_ed25519();
    let ck = Keypair::generate_ed25519();
    let far = i64::MAX / 2;
    let office = node(
        vk.clone(),
        &root,
        vec![cert(&root, &vk, RoleKind::Village, Some(village(0)), far)],
        false,
        None,
        shutdown,
    )
    .await;
    let people = kampung_gen::village_residents(village(0), 20, 3);
    let nik = people
        .iter()
        .find(|p| p.status == kampung_core::Status::Active)
        .unwrap()
        .nik
        .to_string();
    office
        .node
        .write_residents(&Actor::local(), people, &Default::default(), None)
        .await
        .unwrap();
    let checkpoint = node(
        ck.clone(),
        &root,
        vec![cert(&root, &ck, RoleKind::Checkpoint, None, far)],
        false,
        Some(&office.addr),
        shutdown,
    )
    .await;
    let ok = wait_for(WAIT, || {
        let s = checkpoint.store.clone();
        let nik = nik.clone();
        async move { (s.lookup(nik).await.ok()?.kind() == "resident").then_some(()) }
    })
    .await;
    assert!(
        ok.is_some(),
        "the honest checkpoint learns the village's residents"
    );
    Honest {
        root,
        village: office,
        checkpoint,
        nik,
    }
}

/// A checkpoint certified by the honest mesh's root that dials its village,
/// its mesh configured by `tweak` (to misbehave).
async fn certified_checkpoint(
    h: &Honest,
    shutdown: &CancellationToken,
    tweak: impl FnOnce(&mut kampung_mesh::MeshConfig),
) -> TestNode {
    let k = Keypair::generate_ed25519();
    let c = cert(&h.root, &k, RoleKind::Checkpoint, None, i64::MAX / 2);
    node_with(
        k,
        &h.root,
        vec![c],
        false,
        Some(&h.village.addr),
        shutdown,
        kampung_core::SystemClock::shared(),
        tweak,
    )
    .await
}

/// The honest checkpoint still says its resident is one.
async fn checkpoint_still_answers(h: &Honest) {
    assert_eq!(
        h.checkpoint
            .store
            .lookup(h.nik.clone())
            .await
            .unwrap()
            .kind(),
        "resident"
    );
}

/// Peers the node has admitted.
async fn admitted_by(n: &TestNode) -> Vec<String> {
    n.mesh
        .status()
        .await
        .unwrap()
        .peers
        .into_iter()
        .filter(|p| p.admitted)
        .map(|p| p.peer_id)
        .collect()
}

async fn refusals(n: &TestNode) -> u64 {
    n.mesh.status().await.unwrap().counters.peers_refused
}

/// The village refuses the rogue (counted), never admits it, and the rogue
/// never gets the village's document; the honest nodes keep answering.
async fn assert_refused(h: &Honest, rogue: &TestNode, refused_before: u64) {
    let refused = wait_for(WAIT, || async {
        (refusals(&h.village).await > refused_before).then_some(())
    })
    .await;
    assert!(refused.is_some(), "the village refused the rogue");
    assert!(!admitted_by(&h.village).await.contains(&rogue.peer));
    assert!(!admitted_by(&h.checkpoint).await.contains(&rogue.peer));
    let docs = rogue.store.digest().await.unwrap().1;
    assert_eq!(docs, 0, "the rogue received no document");
    checkpoint_still_answers(h).await;
    assert!(admitted_by(&h.village).await.contains(&h.checkpoint.peer));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rogues_without_a_valid_certificate_are_cut_off() {
    let shutdown = CancellationToken::new();
    let h = honest_mesh(&shutdown).await;

    // No certificate at all (an open node that checks nothing).
    let k = Keypair::generate_ed25519();
    let before = refusals(&h.village).await;
    let rogue = node(k, &h.root, vec![], true, Some(&h.village.addr), &shutdown).await;
    assert_refused(&h, &rogue, before).await;

    // A certificate from another root.
    let other = Keypair::generate_ed25519();
    let k = Keypair::generate_ed25519();
    let c = cert(&other, &k, RoleKind::Checkpoint, None, i64::MAX / 2);
    let before = refusals(&h.village).await;
    let rogue = node(k, &other, vec![c], false, Some(&h.village.addr), &shutdown).await;
    assert_refused(&h, &rogue, before).await;

    // An expired certificate from the right root.
    let k = Keypair::generate_ed25519();
    let c = cert(&h.root, &k, RoleKind::Checkpoint, None, now_ms() - 1);
    let before = refusals(&h.village).await;
    let rogue = node(k, &h.root, vec![c], false, Some(&h.village.addr), &shutdown).await;
    assert_refused(&h, &rogue, before).await;
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_of_another_wire_protocol_version_is_refused_naming_both_versions() {
    let shutdown = CancellationToken::new();
    let h = honest_mesh(&shutdown).await;
    // Honest peers tell each other their software in the hello.
    let told = format!("kampung {}", kampung_node::VERSION);
    let software = wait_for(WAIT, || async {
        let peers = h.village.mesh.status().await.unwrap().peers;
        peers
            .into_iter()
            .find(|p| p.peer_id == h.checkpoint.peer)
            .and_then(|p| p.software)
    })
    .await;
    assert_eq!(software.as_deref(), Some(told.as_str()));

    // A node with a valid certificate that speaks the next wire version.
    let before = refusals(&h.village).await;
    let newer =
        certified_checkpoint(&h, &shutdown, |cfg| cfg.wire_version = WIRE_VERSION + 1).await;
    assert_refused(&h, &newer, before).await;
    // Both sides say why, naming both versions.
    let theirs = format!("wire protocol {}", WIRE_VERSION + 1);
    let ours = format!("wire protocol {WIRE_VERSION}");
    for (n, other) in [(&h.village, &newer), (&newer, &h.village)] {
        let reason = wait_for(WAIT, || async {
            let refused = n.mesh.status().await.unwrap().refused;
            refused
                .into_iter()
                .find(|r| r.peer_id == other.peer)
                .map(|r| r.reason)
        })
        .await
        .expect("the refusal is in the status");
        assert!(
            reason.contains(&theirs) && reason.contains(&ours),
            "{reason}"
        );
    }
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_node_is_cut_off_once_the_revocation_arrives() {
    let shutdown = CancellationToken::new();
    let h = honest_mesh(&shutdown).await;
    let k = Keypair::generate_ed25519();
    let c = cert(&h.root, &k, RoleKind::Facility, None, i64::MAX / 2);
    let gor = node(
        k.clone(),
        &h.root,
        vec![c],
        false,
        Some(&h.village.addr),
        &shutdown,
    )
    .await;
    let admitted = wait_for(WAIT, || {
        let v = &h.village;
        let p = gor.peer.clone();
        async move { admitted_by(v).await.contains(&p).then_some(()) }
    })
    .await;
    assert!(admitted.is_some(), "a certified facility is admitted");
    // The administrator's revocation reaches the checkpoint only; it spreads.
    let revoke = Signed::sign(
        Statement::Revocation(Revocation {
            node: NodeKey::from_public(&k.public()).unwrap(),
            from_ms: now_ms() - 1,
            reason: "device lost".into(),
        }),
        &h.root,
    )
    .unwrap();
    h.checkpoint.roster.write().unwrap().add(revoke).unwrap();
    let cut = wait_for(WAIT, || {
        let v = &h.village;
        let p = gor.peer.clone();
        let roster = h.village.roster.clone();
        async move {
            let revoked = roster
                .read()
                .unwrap()
                .revocation(&NodeKey::from_peer_id(&p.parse().unwrap()).unwrap())
                .is_some();
            (revoked && !admitted_by(v).await.contains(&p)).then_some(())
        }
    })
    .await;
    assert!(
        cut.is_some(),
        "the revocation spread to the village, which cut the facility off"
    );
    // The revoked node keeps redialling the village (its bootstrap peer),
    // ever more slowly: a refused connection does not start the backoff again.
    let slowed = wait_for(WAIT, || async {
        let s = gor.mesh.status().await.ok()?;
        s.bootstrap
            .iter()
            .any(|b| b.address == h.village.addr && b.backoff_ms >= 4_000)
            .then_some(())
    })
    .await;
    assert!(
        slowed.is_some(),
        "redials back off: {:?}",
        gor.mesh.status().await.unwrap()
    );
    checkpoint_still_answers(&h).await;
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_village_writing_another_villages_residents_is_refused() {
    let shutdown = CancellationToken::new();
    let h = honest_mesh(&shutdown).await;
    let k = Keypair::generate_ed25519();
    let c = cert(
        &h.root,
        &k,
        RoleKind::Village,
        Some(village(1)),
        i64::MAX / 2,
    );
    let rogue = node(k, &h.root, vec![c], false, Some(&h.village.addr), &shutdown).await;
    // The rogue is admitted (its certificate is valid) and replicates village 0...
    let got = wait_for(WAIT, || {
        let s = rogue.store.clone();
        let nik = h.nik.clone();
        async move { (s.lookup(nik).await.ok()?.kind() == "resident").then_some(()) }
    })
    .await;
    assert!(got.is_some());
    // ...then marks a resident of village 0 deceased, signed with its own key.
    let mut person = rogue
        .store
        .get(
            h.nik
                .parse::<u64>()
                .ok()
                .and_then(kampung_core::Nik::from_u64)
                .unwrap(),
        )
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    person.status = kampung_core::Status::Deceased {
        date: Some(time::macros::date!(2026 - 01 - 01)),
    };
    // The rogue holds the village's cards only (no family card, no
    // address): it makes up what a record needs besides.
    person.family_card = "3510150101990001".into();
    person.address.dusun = "Krajan".into();
    person.address.rt = 1;
    person.address.rw = 1;
    let (_, announce) = rogue
        .store
        .write(village(0), vec![person], now_ms(), None)
        .await
        .unwrap()
        .unwrap();
    rogue.mesh.announce(announce).await.unwrap();
    rogue.mesh.sync_now().await.unwrap();
    // The rogue is connected to the village only; the village refuses the
    // announcement and so never forwards it: the checkpoint never sees it.
    let rejected = wait_for(WAIT, || {
        let v = h.village.mesh.clone();
        async move { (v.status().await.ok()?.counters.changes_rejected > 0).then_some(()) }
    })
    .await;
    assert!(
        rejected.is_some(),
        "the forged write was refused and counted"
    );
    let checkpoint = h.checkpoint.mesh.status().await.unwrap();
    assert!(
        !checkpoint.peers.iter().any(|p| p.peer_id == rogue.peer),
        "the test needs the rogue to reach the checkpoint only through the village"
    );
    assert_eq!(
        checkpoint.counters.changes_rejected, 0,
        "a refused change is not forwarded"
    );
    for n in [&h.village, &h.checkpoint] {
        assert_eq!(
            n.store.lookup(h.nik.clone()).await.unwrap().kind(),
            "resident",
            "nothing applied at {}",
            n.peer
        );
    }
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_floods_replays_and_forged_changes_are_refused() {
    use kampung_sync::{Announce, Request, Response};
    let shutdown = CancellationToken::new();
    let h = honest_mesh(&shutdown).await;
    let village_peer: kampung_mesh::Peer = h.village.peer.parse().unwrap();
    // A certified checkpoint gone rogue, with limits far above the mesh's.
    let rogue = certified_checkpoint(&h, &shutdown, |cfg| {
        cfg.limits.max_message = 64 << 20;
        cfg.limits.max_heads = 1 << 20;
    })
    .await;
    let admitted = |rogue_peer: String| {
        let v = &h.village;
        async move {
            wait_for(WAIT, || {
                let p = rogue_peer.clone();
                async move { admitted_by(v).await.contains(&p).then_some(()) }
            })
            .await
            .is_some()
        }
    };
    assert!(admitted(rogue.peer.clone()).await);
    let doc = format!("k/{}", village(0));
    let faults = || async { h.village.mesh.status().await.unwrap().counters.peer_faults };

    // A replayed old change (taken from the village) is a no-op, not an error.
    let Response::Changes {
        changes,
        signatures,
        ..
    } = rogue
        .mesh
        .request(
            village_peer,
            Request::Changes {
                doc: doc.clone(),
                have: vec![],
            },
        )
        .await
        .unwrap()
    else {
        panic!("expected changes")
    };
    assert!(!changes.is_empty() && !signatures.is_empty());
    let heads_before = h.checkpoint.store.doc_heads().await.unwrap();
    rogue
        .mesh
        .announce(Announce {
            doc: doc.clone(),
            heads: vec![],
            changes: changes.clone(),
            signatures: signatures.clone(),
            from_owner: false,
        })
        .await
        .unwrap();

    // A forged change in the village's name, carrying the village's real
    // signatures: refused by both honest nodes.
    let village_key = NodeKey::from_peer_id(&village_peer).unwrap();
    let mut forger = kampung_store::Registry::open(
        kampung_store::storage::MemoryStorage::new(),
        automerge::ActorId::from(village_key.0.to_vec()),
        2026,
    )
    .unwrap();
    forger
        .apply_remote(
            &kampung_store::DocId::card(village(0)),
            &changes,
            &signatures,
            &kampung_store::AcceptAll,
        )
        .unwrap()
        .unwrap();
    let mut victim = forger
        .get(
            h.nik
                .parse::<u64>()
                .ok()
                .and_then(kampung_core::Nik::from_u64)
                .unwrap(),
        )
        .unwrap()
        .unwrap();
    victim.status = kampung_core::Status::MovedOut {
        destination: "Denpasar".into(),
        date: None,
    };
    // From the cards: a record needs the details besides, made up.
    victim.family_card = "3510150101990002".into();
    victim.address.dusun = "Krajan".into();
    victim.address.rt = 1;
    victim.address.rw = 1;
    let id = kampung_store::DocId::card(village(0));
    let base = forger.doc_heads_of(&id).unwrap();
    forger
        .write(village(0), &[victim], now_ms(), &mut |_| {})
        .unwrap();
    let forged = forger.changes_since(&id, &base, 1 << 20).unwrap();
    let rejected_before = h
        .checkpoint
        .mesh
        .status()
        .await
        .unwrap()
        .counters
        .changes_rejected
        + h.village
            .mesh
            .status()
            .await
            .unwrap()
            .counters
            .changes_rejected;
    rogue
        .mesh
        .announce(Announce {
            doc: doc.clone(),
            heads: forger
                .doc_heads_of(&id)
                .unwrap()
                .iter()
                .map(|h| h.0)
                .collect(),
            changes: forged.changes,
            signatures,
            from_owner: true,
        })
        .await
        .unwrap();
    let rejected = wait_for(WAIT, || async {
        let now = h
            .checkpoint
            .mesh
            .status()
            .await
            .ok()?
            .counters
            .changes_rejected
            + h.village
                .mesh
                .status()
                .await
                .ok()?
                .counters
                .changes_rejected;
        (now > rejected_before).then_some(())
    })
    .await;
    assert!(
        rejected.is_some(),
        "the forged change was refused and counted"
    );
    assert_eq!(
        h.checkpoint.store.doc_heads().await.unwrap(),
        heads_before,
        "nothing applied"
    );
    checkpoint_still_answers(&h).await;

    // Claiming to be a village's owner does not make our copy look fresh:
    // the roster says who writes that village.
    let other_doc = kampung_store::DocId::card(village(1));
    // (The rogue was just cut off for the forged change: send until the
    // village, once it has re-admitted the rogue, receives the claim.)
    let received = h
        .village
        .mesh
        .status()
        .await
        .unwrap()
        .counters
        .announces_received;
    let claim = Announce {
        doc: other_doc.to_string(),
        heads: vec![],
        changes: vec![],
        signatures: vec![],
        from_owner: true,
    };
    let got = wait_for(WAIT, || async {
        rogue.mesh.announce(claim.clone()).await.ok()?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = h
            .village
            .mesh
            .status()
            .await
            .ok()?
            .counters
            .announces_received;
        (now > received).then_some(())
    })
    .await;
    assert!(got.is_some(), "the village received the claim");
    assert_eq!(h.village.mesh.heard_from_owner(&other_doc), None);

    // A request breaking a bound (too many heads), then one over the size limit:
    // each is refused, counted as the peer's fault, and the peer cut off.
    for (what, heads) in [("an out-of-bounds", 1000), ("an oversized", 200_000)] {
        // The rogue comes back with its (still valid) certificate each time.
        assert!(
            admitted(rogue.peer.clone()).await,
            "{what}: the rogue is admitted"
        );
        let before = faults().await;
        let have = vec![[heads as u8; 32]; heads];
        let _ = rogue
            .mesh
            .request(
                village_peer,
                Request::Changes {
                    doc: doc.clone(),
                    have,
                },
            )
            .await;
        let counted = wait_for(WAIT, || async { (faults().await > before).then_some(()) }).await;
        assert!(counted.is_some(), "{what} request is a peer fault");
        checkpoint_still_answers(&h).await;
        let cut = wait_for(WAIT, || async {
            (!admitted_by(&h.village).await.contains(&rogue.peer)).then_some(())
        })
        .await;
        assert!(
            cut.is_some(),
            "{what} request: the peer at fault is disconnected"
        );
    }

    // A flood: at most `max_inbound` requests are served at once, the rest
    // are told "busy"; honest lookups keep working.
    assert!(admitted(rogue.peer.clone()).await);
    let flood: Vec<_> = (0..300)
        .map(|_| {
            let m = rogue.mesh.clone();
            let doc = doc.clone();
            tokio::spawn(async move {
                m.request(village_peer, Request::Changes { doc, have: vec![] })
                    .await
            })
        })
        .collect();
    checkpoint_still_answers(&h).await;
    // Each request is served, told "busy", or refused by the transport
    // (libp2p's limit of concurrent streams; yamux closes a connection that
    // opens too many): none waits unbounded, none is served beyond the bounds.
    let (mut busy, mut served, mut no_stream) = (0, 0, 0);
    for f in flood {
        match f.await.unwrap() {
            Ok(Response::Refused { reason }) if reason.contains("busy") => busy += 1,
            Ok(Response::Changes { .. }) => served += 1,
            Err(kampung_sync::RequestError::Unreachable(_)) => no_stream += 1,
            other => panic!("every flooded request gets an answer, got {other:?}"),
        }
    }
    assert_eq!(busy + served + no_stream, 300);
    let counters = h.village.mesh.status().await.unwrap().counters;
    // Anti-entropy sessions may have been told "busy" too.
    assert!(counters.requests_busy as usize >= busy);
    checkpoint_still_answers(&h).await;
    assert!(admitted_by(&h.village).await.contains(&h.checkpoint.peer));
    shutdown.cancel();
}

/// The document ids `n` holds.
async fn held(n: &TestNode) -> Vec<String> {
    n.store
        .doc_heads()
        .await
        .unwrap()
        .into_iter()
        .map(|(d, _)| d.to_string())
        .collect()
}

async fn counters(n: &TestNode) -> kampung_mesh::Counters {
    n.mesh.status().await.unwrap().counters
}

/// Read scopes: a checkpoint's crossings (every traveller's NIK and
/// verdict) reach the auditor and no village or facility, on every path. A
/// certified village is not offered the log in the digest or the heads
/// pages, is refused its changes and its whole document when it asks by
/// name (a peer fault: it is cut off), and a rogue that gossips the log
/// is refused by the village, which does not pass it on to the facility
/// behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crossing_logs_reach_checkpoints_and_auditors_only_on_every_path() {
    use kampung_node::CrossingInput;
    use kampung_store::crossing::Decision;
    use kampung_sync::{Announce, Request, Response};
    let shutdown = CancellationToken::new();
    let h = honest_mesh(&shutdown).await;
    let far = i64::MAX / 2;
    let (root, stop) = (&h.root, &shutdown);
    let certified = |kind: RoleKind, village: Option<VillageCode>, dials: &str| {
        let k = Keypair::generate_ed25519();
        let c = cert(root, &k, kind, village, far);
        let dials = dials.to_string();
        async move { node(k, root, vec![c], false, Some(&dials), stop).await }
    };
    let auditor = certified(RoleKind::Auditor, None, &h.checkpoint.addr).await;
    // A facility that knows only the village: gossip reaches it through the village.
    let facility = certified(RoleKind::Facility, None, &h.village.addr).await;
    let sent_before = counters(&h.checkpoint).await.announces_sent;
    let logged = h
        .checkpoint
        .node
        .log_crossing(
            &Actor::local(),
            CrossingInput::new(h.nik.clone(), Decision::AllowedIn),
        )
        .await
        .unwrap();
    let log = held(&h.checkpoint)
        .await
        .into_iter()
        .find(|d| d.starts_with(&format!("x/{}/", logged.checkpoint)))
        .expect("the checkpoint holds its log");

    // The auditor gets it (by anti-entropy with the checkpoint)...
    let got = wait_for(WAIT, || {
        let log = log.clone();
        let auditor = &auditor;
        async move { held(auditor).await.contains(&log).then_some(()) }
    })
    .await;
    assert!(got.is_some(), "the auditor holds the crossing log");
    // ...and it was never gossiped.
    assert_eq!(counters(&h.checkpoint).await.announces_sent, sent_before);
    // The village and the facility complete sessions after that and still
    // hold no crossing log.
    for n in [&h.village, &facility] {
        let before = counters(n).await.sessions_ok;
        let synced = wait_for(WAIT, || async {
            (counters(n).await.sessions_ok >= before + 2).then_some(())
        })
        .await;
        assert!(synced.is_some(), "{} keeps syncing", n.peer);
        let docs = held(n).await;
        assert!(docs.iter().all(|d| !d.starts_with("x/")), "{docs:?}");
    }

    // A certified village asks the checkpoint directly.
    let checkpoint_peer: kampung_mesh::Peer = h.checkpoint.peer.parse().unwrap();
    let nosy = || certified(RoleKind::Village, Some(village(1)), &h.checkpoint.addr);
    let rogue = nosy().await;
    let admitted = wait_for(WAIT, || async {
        admitted_by(&h.checkpoint)
            .await
            .contains(&rogue.peer)
            .then_some(())
    })
    .await;
    assert!(admitted.is_some());
    // Digest and heads pages: the log is not among what it is offered.
    let Response::Digest { docs, .. } = rogue
        .mesh
        .request(checkpoint_peer, Request::Digest)
        .await
        .unwrap()
    else {
        panic!("expected a digest")
    };
    let checkpoint_docs = held(&h.checkpoint).await.len() as u32;
    assert_eq!(docs, checkpoint_docs - 1, "every document but the log");
    let Response::Heads { docs, more } = rogue
        .mesh
        .request(
            checkpoint_peer,
            Request::Heads {
                after: None,
                limit: 256,
            },
        )
        .await
        .unwrap()
    else {
        panic!("expected heads")
    };
    assert!(!more);
    assert!(!docs.is_empty() && docs.iter().all(|d| !d.doc.starts_with("x/")));
    // Changes by the log's name: refused, a fault, cut off.
    let faults = counters(&h.checkpoint).await;
    // Every change of the log, asked of the checkpoint by `n`.
    let log_changes = |n: &TestNode| {
        let (mesh, doc) = (n.mesh.clone(), log.clone());
        async move {
            mesh.request(checkpoint_peer, Request::Changes { doc, have: vec![] })
                .await
        }
    };
    let answer = log_changes(&rogue).await.unwrap();
    let Response::Refused { reason } = answer else {
        panic!("expected a refusal, got {answer:?}")
    };
    assert!(
        reason.contains("outside what this peer's certificate lets it read"),
        "{reason}"
    );
    let after = counters(&h.checkpoint).await;
    assert_eq!(
        after.requests_beyond_scope,
        faults.requests_beyond_scope + 1
    );
    assert_eq!(after.peer_faults, faults.peer_faults + 1);
    assert!(after.peers_refused > faults.peers_refused, "cut off");
    // The whole document by its name: the same.
    let rogue = nosy().await;
    let answer = wait_for(WAIT, || async {
        match rogue
            .mesh
            .request(
                checkpoint_peer,
                Request::Document {
                    doc: log.clone(),
                    offset: 0,
                },
            )
            .await
        {
            Ok(Response::Refused { reason }) if reason.contains("certificate") => Some(reason),
            _ => None,
        }
    })
    .await;
    assert!(answer.is_some(), "the whole log is refused to a village");
    assert_eq!(
        counters(&h.checkpoint).await.requests_beyond_scope,
        faults.requests_beyond_scope + 2
    );
    assert!(held(&rogue).await.iter().all(|d| !d.starts_with("x/")));

    // A certified checkpoint gone rogue, which may read the log, gossips it
    // with its changes to the village it dials.
    let gossiper = certified_checkpoint(&h, &shutdown, |cfg| {
        cfg.scoped_gossip = false;
        cfg.bootstrap.push(h.checkpoint.addr.parse().unwrap());
    })
    .await;
    let Response::Changes {
        changes,
        signatures,
        ..
    } = wait_for(WAIT, || async {
        match log_changes(&gossiper).await {
            Ok(r @ Response::Changes { .. }) => Some(r),
            _ => None,
        }
    })
    .await
    .expect("a checkpoint is served the log")
    else {
        unreachable!()
    };
    assert!(!changes.is_empty());
    let village_faults = counters(&h.village).await.peer_faults;
    let mut salt = 0u8;
    let refused = wait_for(WAIT, || {
        salt = salt.wrapping_add(1);
        let announce = Announce {
            doc: log.clone(),
            // A new message each time (gossip drops a repeat).
            heads: vec![[salt; 32]],
            changes: changes.clone(),
            signatures: signatures.clone(),
            from_owner: false,
        };
        let (gossiper, village) = (&gossiper, &h.village);
        async move {
            let _ = gossiper.mesh.announce(announce).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            (counters(village).await.peer_faults > village_faults).then_some(())
        }
    })
    .await;
    assert!(
        refused.is_some(),
        "the village refuses a gossiped crossing log"
    );
    for n in [&h.village, &facility] {
        let docs = held(n).await;
        assert!(
            docs.iter().all(|d| !d.starts_with("x/")),
            "{}: {docs:?}",
            n.peer
        );
    }
    // The honest nodes keep answering.
    checkpoint_still_answers(&h).await;
    shutdown.cancel();
}

/// Issue 15.2: a village's details (family cards, addresses) reach only
/// the village, the villages that keep a copy and auditors, on every path.
/// A certified checkpoint is not offered them in the village's digest or
/// heads pages, is refused their changes and their whole document when it
/// asks by name (a peer fault: it is cut off), and never holds them; a
/// change of a family card alone is never announced, and a rogue's
/// gossip of the details is refused and blamed on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn details_reach_only_the_village_its_holders_and_auditors_on_every_path() {
    use kampung_sync::{Announce, Request, Response};
    let shutdown = CancellationToken::new();
    let h = honest_mesh(&shutdown).await;
    let far = i64::MAX / 2;
    let details = format!("v/{}", village(0));
    let (root, stop) = (&h.root, &shutdown);
    let certified = |kind: RoleKind, v: Option<VillageCode>, dials: &str| {
        let k = Keypair::generate_ed25519();
        let c = cert(root, &k, kind, v, far);
        let dials = dials.to_string();
        async move { node(k, root, vec![c], false, Some(&dials), stop).await }
    };
    // An auditor takes the details; the honest checkpoint never holds them.
    let auditor = certified(RoleKind::Auditor, None, &h.village.addr).await;
    let got = wait_for(WAIT, || async {
        held(&auditor).await.contains(&details).then_some(())
    })
    .await;
    assert!(got.is_some(), "the auditor holds the details");
    assert!(held(&h.village).await.contains(&details));
    assert!(!held(&h.checkpoint).await.contains(&details));

    // A family card changes: the details only, and nothing is announced.
    let nik: kampung_core::Nik = h.nik.parse().unwrap();
    let mut person = h.village.store.get(nik).await.unwrap().unwrap().unwrap();
    assert!(
        !person.family_card.is_empty(),
        "the village reads its details"
    );
    person.family_card = "3510150101990077".into();
    let sent = counters(&h.village).await.announces_sent;
    let (_, announce) = h
        .village
        .store
        .write(village(0), vec![person], now_ms(), None)
        .await
        .unwrap()
        .unwrap();
    assert!(announce.changes.is_empty(), "no card changed: {announce:?}");
    assert!(!announce.doc.starts_with("v/"), "{announce:?}");
    let on_checkpoint = h.checkpoint.store.get(nik).await.unwrap().unwrap().unwrap();
    assert_eq!(
        on_checkpoint.family_card, "",
        "the checkpoint holds the card only"
    );
    assert_eq!(counters(&h.village).await.announces_sent, sent);

    // A certified checkpoint asks the village directly.
    let village_peer: kampung_mesh::Peer = h.village.peer.parse().unwrap();
    let nosy = || certified(RoleKind::Checkpoint, None, &h.village.addr);
    let rogue = nosy().await;
    let admitted = wait_for(WAIT, || async {
        admitted_by(&h.village)
            .await
            .contains(&rogue.peer)
            .then_some(())
    })
    .await;
    assert!(admitted.is_some());
    let Response::Digest { docs, .. } = rogue
        .mesh
        .request(village_peer, Request::Digest)
        .await
        .unwrap()
    else {
        panic!("expected a digest")
    };
    let village_docs = held(&h.village).await.len() as u32;
    assert_eq!(docs, village_docs - 1, "every document but the details");
    let Response::Heads { docs, .. } = rogue
        .mesh
        .request(
            village_peer,
            Request::Heads {
                after: None,
                limit: 256,
            },
        )
        .await
        .unwrap()
    else {
        panic!("expected heads")
    };
    assert!(!docs.is_empty() && docs.iter().all(|d| d.doc != details));
    let faults = counters(&h.village).await;
    let answer = rogue
        .mesh
        .request(
            village_peer,
            Request::Changes {
                doc: details.clone(),
                have: vec![],
            },
        )
        .await
        .unwrap();
    let Response::Refused { reason } = answer else {
        panic!("expected a refusal, got {answer:?}")
    };
    assert!(
        reason.contains("outside what this peer's certificate lets it read"),
        "{reason}"
    );
    let after = counters(&h.village).await;
    assert_eq!(
        after.requests_beyond_scope,
        faults.requests_beyond_scope + 1
    );
    assert_eq!(after.peer_faults, faults.peer_faults + 1);
    assert!(after.peers_refused > faults.peers_refused, "cut off");
    // The whole document by its name: the same.
    let rogue = nosy().await;
    let answer = wait_for(WAIT, || async {
        match rogue
            .mesh
            .request(
                village_peer,
                Request::Document {
                    doc: details.clone(),
                    offset: 0,
                },
            )
            .await
        {
            Ok(Response::Refused { reason }) if reason.contains("certificate") => Some(reason),
            _ => None,
        }
    })
    .await;
    assert!(
        answer.is_some(),
        "the whole details are refused to a checkpoint"
    );
    assert!(!held(&rogue).await.contains(&details));

    // A village gone rogue (it may not read them either) gossips the
    // details it was never given: taken from the auditor by a test's hand.
    let Response::Changes {
        changes,
        signatures,
        ..
    } = auditor
        .mesh
        .request(
            village_peer,
            Request::Changes {
                doc: details.clone(),
                have: vec![],
            },
        )
        .await
        .unwrap()
    else {
        panic!("an auditor is served the details")
    };
    assert!(!changes.is_empty());
    let gk = Keypair::generate_ed25519();
    let gossiper = node_with(
        gk.clone(),
        &h.root,
        vec![cert(&h.root, &gk, RoleKind::Village, Some(village(1)), far)],
        false,
        Some(&h.checkpoint.addr),
        &shutdown,
        kampung_core::SystemClock::shared(),
        |cfg| cfg.scoped_gossip = false,
    )
    .await;
    let checkpoint_faults = counters(&h.checkpoint).await.peer_faults;
    let mut salt = 0u8;
    let refused = wait_for(WAIT, || {
        salt = salt.wrapping_add(1);
        let announce = Announce {
            doc: details.clone(),
            heads: vec![[salt; 32]],
            changes: changes.clone(),
            signatures: signatures.clone(),
            from_owner: false,
        };
        let (gossiper, checkpoint) = (&gossiper, &h.checkpoint);
        async move {
            let _ = gossiper.mesh.announce(announce).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            (counters(checkpoint).await.peer_faults > checkpoint_faults).then_some(())
        }
    })
    .await;
    assert!(refused.is_some(), "the checkpoint refuses gossiped details");
    assert!(!held(&h.checkpoint).await.contains(&details));
    checkpoint_still_answers(&h).await;
    shutdown.cancel();
}

/// Who keeps a village's details follows the policy in force, which
/// reaches nodes one by one: a village asking for another's details while
/// the roster it last showed differs from ours may hold a policy that
/// names it, and is refused without being cut off. With our rosters the
/// same, or as a checkpoint (no policy lets one read details), it is cut
/// off as before. Claiming a roster it does not hold buys a liar nothing:
/// it is refused either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_village_asking_for_details_while_our_rosters_differ_is_refused_not_cut_off() {
    use kampung_sync::{Request, Response};
    let shutdown = CancellationToken::new();
    let h = honest_mesh(&shutdown).await;
    let far = i64::MAX / 2;
    let details = format!("v/{}", village(0));
    let village_peer: kampung_mesh::Peer = h.village.peer.parse().unwrap();
    let certified = |kind: RoleKind, v: Option<VillageCode>| {
        let k = Keypair::generate_ed25519();
        let c = cert(&h.root, &k, kind, v, far);
        let (root, addr, stop) = (&h.root, h.village.addr.clone(), &shutdown);
        async move { node(k, root, vec![c], false, Some(&addr), stop).await }
    };
    // Ketapang (Kalipuro): no rule keeps Kampunganyar's details there.
    let ketapang = certified(RoleKind::Village, Some("35.10.21.2003".parse().unwrap())).await;
    let digest = |n: &TestNode| n.roster.read().unwrap().digest();
    let agreed = wait_for(WAIT, || async {
        (admitted_by(&h.village).await.contains(&ketapang.peer)
            && digest(&ketapang) == digest(&h.village))
        .then_some(())
    })
    .await;
    assert!(agreed.is_some(), "admitted, with the same roster");
    let ask = |n: &TestNode| {
        let (mesh, doc) = (n.mesh.clone(), details.clone());
        async move {
            mesh.request(village_peer, Request::Changes { doc, have: vec![] })
                .await
                .unwrap()
        }
    };
    let show = |n: &TestNode, digest: [u8; 32]| {
        let mesh = n.mesh.clone();
        async move {
            let answer = mesh
                .request(village_peer, Request::Roster { digest })
                .await
                .unwrap();
            assert!(matches!(answer, Response::Roster { .. }), "{answer:?}");
        }
    };

    // It shows a roster other than ours, and asks.
    let before = counters(&h.village).await;
    show(&ketapang, [7; 32]).await;
    let answer = ask(&ketapang).await;
    let Response::Refused { reason } = answer else {
        panic!("expected a refusal, got {answer:?}")
    };
    assert!(reason.contains("rosters differ"), "{reason}");
    let after = counters(&h.village).await;
    assert_eq!(
        after.requests_beyond_scope,
        before.requests_beyond_scope + 1
    );
    assert_eq!(
        after.peer_faults, before.peer_faults,
        "not the peer's fault"
    );
    assert!(admitted_by(&h.village).await.contains(&ketapang.peer));
    assert!(!held(&ketapang).await.contains(&details));

    // The same roster as ours: no policy of ours names it, so it guessed.
    show(&ketapang, digest(&ketapang)).await;
    let Response::Refused { reason } = ask(&ketapang).await else {
        panic!("expected a refusal")
    };
    assert!(!reason.contains("rosters differ"), "{reason}");
    let cut = counters(&h.village).await;
    assert_eq!(cut.peer_faults, after.peer_faults + 1);
    assert!(cut.peers_refused > after.peers_refused, "cut off");

    // A checkpoint showing another roster is cut off all the same.
    let nosy = certified(RoleKind::Checkpoint, None).await;
    let admitted = wait_for(WAIT, || async {
        admitted_by(&h.village)
            .await
            .contains(&nosy.peer)
            .then_some(())
    })
    .await;
    assert!(admitted.is_some());
    show(&nosy, [7; 32]).await;
    let Response::Refused { reason } = ask(&nosy).await else {
        panic!("expected a refusal")
    };
    assert!(!reason.contains("rosters differ"), "{reason}");
    assert_eq!(counters(&h.village).await.peer_faults, cut.peer_faults + 1);
    assert!(!held(&nosy).await.contains(&details));
    checkpoint_still_answers(&h).await;
    shutdown.cancel();
}

/// Crossing logs travel only between checkpoints and auditors: villages
/// neither hold nor forward them. In a mesh where every node keeps few
/// peers (here `max_peers` 1: two kept, the rest trimmed), a checkpoint
/// and the auditor that met nobody but villages would never exchange
/// them. Each keeps the other connected as kin (`Membership::kin`, from
/// the certificates in its roster): found through Kademlia, dialled
/// although the node is full, and never trimmed; and compared with every
/// 10 s, whatever the pacing of anti-entropy with other peers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_and_the_auditor_keep_each_other_among_villages_that_do_not_forward_crossings()
{
    use kampung_node::CrossingInput;
    use kampung_store::crossing::Decision;
    let shutdown = CancellationToken::new();
    let root = Keypair::generate_ed25519();
    let far = i64::MAX / 2;
    let tweak = |cfg: &mut kampung_mesh::MeshConfig| {
        cfg.kademlia = true;
        cfg.max_peers = 1;
        cfg.peer_grace = Duration::from_secs(1);
        // Paced anti-entropy would not come round within the test: kin
        // compare with each other every 10 s whatever the pacing.
        cfg.anti_entropy_every = Duration::from_secs(600);
    };
    let start = |kind: RoleKind, v: Option<VillageCode>, dials: Option<String>| {
        let k = Keypair::generate_ed25519();
        let c = cert(&root, &k, kind, v, far);
        let (root, stop) = (&root, &shutdown);
        async move {
            node_with(
                k,
                root,
                vec![c],
                false,
                dials.as_deref(),
                stop,
                kampung_core::SystemClock::shared(),
                tweak,
            )
            .await
        }
    };
    // A line of villages; the checkpoint dials the first, the auditor the last.
    let codes = [
        "35.10.15.2001",
        "35.10.15.2004",
        "35.10.15.2005",
        "35.10.15.2006",
        "35.10.15.2007",
        "35.10.15.2010",
    ];
    let mut villages: Vec<TestNode> = Vec::new();
    for code in codes {
        let dials = villages.last().map(|v| v.addr.clone());
        villages.push(start(RoleKind::Village, Some(code.parse().unwrap()), dials).await);
    }
    let checkpoint = start(RoleKind::Checkpoint, None, Some(villages[0].addr.clone())).await;
    let auditor = start(
        RoleKind::Auditor,
        None,
        Some(villages.last().unwrap().addr.clone()),
    )
    .await;
    // Each keeps the other, also once trimming has settled the mesh.
    for (n, other) in [(&checkpoint, &auditor), (&auditor, &checkpoint)] {
        let kept = wait_for(Duration::from_secs(60), || async {
            admitted_by(n).await.contains(&other.peer).then_some(())
        })
        .await;
        assert!(
            kept.is_some(),
            "{} is connected to its kin {}",
            n.peer,
            other.peer
        );
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(admitted_by(&auditor).await.contains(&checkpoint.peer));
    let auditor_peer: kampung_mesh::Peer = auditor.peer.parse().unwrap();
    assert_eq!(
        checkpoint.mesh.kin(),
        [(auditor_peer, None)],
        "kin, connected"
    );
    // A crossing logged now reaches the auditor, and no village.
    let nik = kampung_gen::village_residents(codes[0].parse().unwrap(), 1, 1)[0]
        .nik
        .to_string();
    let logged = checkpoint
        .node
        .log_crossing(
            &Actor::local(),
            CrossingInput::new(nik, Decision::AllowedIn),
        )
        .await
        .unwrap();
    let prefix = format!("x/{}/", logged.checkpoint);
    let got = wait_for(Duration::from_secs(60), || async {
        held(&auditor)
            .await
            .iter()
            .any(|d| d.starts_with(&prefix))
            .then_some(())
    })
    .await;
    assert!(
        got.is_some(),
        "the auditor holds the checkpoint's crossings"
    );
    for v in &villages {
        assert!(held(v).await.iter().all(|d| !d.starts_with("x/")));
    }
    // Villages keep a copy of each other's details: of 35.10.15.2001's,
    // the next two villages of Glagah (.2004 and .2005), its kin; no other
    // village, and no checkpoint.
    let first: VillageCode = codes[0].parse().unwrap();
    villages[0]
        .store
        .write(
            first,
            kampung_gen::village_residents(first, 3, 5),
            now_ms(),
            None,
        )
        .await
        .unwrap()
        .unwrap();
    let details = format!("v/{}", codes[0]);
    for holder in &villages[1..3] {
        let got = wait_for(Duration::from_secs(60), || async {
            held(holder).await.contains(&details).then_some(())
        })
        .await;
        assert!(got.is_some(), "{} keeps {details}", holder.peer);
    }
    let kin: Vec<String> = villages[0]
        .mesh
        .kin()
        .into_iter()
        .map(|(p, _)| p.to_string())
        .collect();
    assert!(
        kin.contains(&villages[1].peer) && kin.contains(&villages[2].peer),
        "{kin:?}"
    );
    for other in villages[3..].iter().chain([&checkpoint]) {
        assert!(!held(other).await.contains(&details), "{}", other.peer);
    }
    let trimmed: u64 = {
        let mut n = 0;
        for v in villages.iter().chain([&checkpoint, &auditor]) {
            n += counters(v).await.peers_trimmed;
        }
        n
    };
    assert!(trimmed > 0, "the mesh was trimmed meanwhile");
    shutdown.cancel();
}

/// A checkpoint cut off from every other checkpoint and auditor for long
/// says so: `warnings` (shown by `status`, `/healthz` and the operator's
/// page) names them once they have been away ten minutes, and stops once
/// one is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_warns_when_the_auditor_has_long_been_out_of_reach() {
    let shutdown = CancellationToken::new();
    let root = Keypair::generate_ed25519();
    let far = i64::MAX / 2;
    let clock = kampung_core::ManualClock::new(now_ms());
    let (ck, ak) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
    let certs = vec![
        cert(&root, &ck, RoleKind::Checkpoint, None, far),
        cert(&root, &ak, RoleKind::Auditor, None, far),
    ];
    let checkpoint = node_with(
        ck,
        &root,
        certs.clone(),
        false,
        None,
        &shutdown,
        clock.clone(),
        |_| {},
    )
    .await;
    let auditor_peer: kampung_mesh::Peer = ak.public().to_peer_id();
    let away = wait_for(WAIT, || async {
        checkpoint
            .mesh
            .kin()
            .iter()
            .any(|(p, since)| *p == auditor_peer && since.is_some())
            .then_some(())
    })
    .await;
    assert!(away.is_some(), "the auditor is kin, and away");
    let kin_warning = |n: &TestNode| {
        n.node
            .warnings()
            .into_iter()
            .find(|w| w.code == "kin_unreachable")
    };
    assert_eq!(kin_warning(&checkpoint), None, "not away for long yet");
    clock.advance(11 * 60_000);
    let w = kin_warning(&checkpoint).expect("away for 11 minutes: a warning");
    assert!(w.detail.contains("test (auditor)"), "{}", w.detail);

    // The auditor comes (back): the warning goes.
    let _auditor = node_with(
        ak,
        &root,
        certs,
        false,
        Some(&checkpoint.addr),
        &shutdown,
        clock.clone(),
        |_| {},
    )
    .await;
    let back = wait_for(WAIT, || async {
        checkpoint
            .mesh
            .kin()
            .iter()
            .all(|(_, since)| since.is_none())
            .then_some(())
    })
    .await;
    assert!(back.is_some(), "the auditor is connected again");
    assert_eq!(kin_warning(&checkpoint), None);
    shutdown.cancel();
}
