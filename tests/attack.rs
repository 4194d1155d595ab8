//! Rogue nodes against an honest, certified mesh of real libp2p swarms on
//! 127.0.0.1: each rogue is refused, and the honest nodes keep answering.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, RwLock};
use std::time::Duration;

use kampung_core::VillageCode;
use kampung_mesh::{identity::Keypair, Client, Membership, MeshConfig, OpenMesh};
use kampung_runtime::membership::{now_ms, RosterMembership};
use kampung_runtime::store::{spawn_store, StoreHandle};
use kampung_store::storage::MemoryStorage;
use kampung_store::trust::{RosterVerifier, SharedRoster};
use kampung_store::Registry;
use kampung_sync::Replica;
use kampung_trust::{Certificate, NodeKey, Revocation, Role, Roster, Signed, Statement};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(30);

/// Poll `f` every 50 ms until it returns Some, or give up after `timeout`.
async fn wait_for<T, F, Fut>(timeout: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn village(i: usize) -> VillageCode {
    ["35.10.15.2012", "35.10.15.2001"][i].parse().unwrap()
}

fn cert(
    root: &Keypair,
    node: &Keypair,
    role: Role,
    v: Option<VillageCode>,
    until_ms: i64,
) -> Signed {
    Signed::sign(
        Statement::Certificate(Certificate {
            node: NodeKey::from_public(&node.public()).unwrap(),
            role,
            village: v,
            label: "test".into(),
            not_before_ms: 0,
            until_ms,
        }),
        root,
    )
    .unwrap()
}

struct TestNode {
    peer: String,
    store: StoreHandle,
    mesh: Client,
    addr: String,
    roster: SharedRoster,
}

/// A node whose roster trusts `root` and holds `statements` (its own certificate
/// at least); `open` makes it ignore membership (a rogue that checks nothing).
async fn node(
    key: Keypair,
    root: &Keypair,
    statements: Vec<Signed>,
    open: bool,
    bootstrap: Option<&str>,
    shutdown: &CancellationToken,
) -> TestNode {
    let mut roster = Roster::new(NodeKey::from_public(&root.public()).unwrap());
    for s in statements {
        roster.add(s).unwrap();
    }
    let roster: SharedRoster = Arc::new(RwLock::new(roster));
    let mut registry = Registry::open(
        MemoryStorage::new(),
        automerge::ActorId::from(vec![0; 32]),
        2026,
    )
    .unwrap();
    registry.set_signer(Arc::new(key.clone()));
    let (store, _) = spawn_store(
        registry,
        Arc::new(RosterVerifier::new(roster.clone(), now_ms)),
    );
    let mut cfg = MeshConfig::new(key.clone(), "checkpoint:test".into());
    cfg.listen = vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()];
    cfg.bootstrap = bootstrap.iter().map(|a| a.parse().unwrap()).collect();
    cfg.kademlia = false;
    cfg.anti_entropy_every = Duration::from_secs(1);
    cfg.membership = if open {
        Arc::new(OpenMesh) as Arc<dyn Membership>
    } else {
        Arc::new(RosterMembership::new(
            roster.clone(),
            NodeKey::from_public(&key.public()).unwrap(),
            store.clone(),
        ))
    };
    let (mesh, event_loop) = kampung_mesh::new(cfg, store.clone()).unwrap();
    tokio::spawn(event_loop.run(shutdown.child_token()));
    let listen = wait_for(WAIT, || {
        let mesh = mesh.clone();
        async move {
            mesh.status()
                .await
                .ok()
                .and_then(|s| s.listen.first().cloned())
        }
    })
    .await
    .unwrap();
    let peer = key.public().to_peer_id().to_string();
    TestNode {
        addr: format!("{listen}/p2p/{peer}"),
        peer,
        store,
        mesh,
        roster,
    }
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
        vec![cert(&root, &vk, Role::Village, Some(village(0)), far)],
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
    let (_, announce) = office
        .store
        .write(village(0), people, now_ms())
        .await
        .unwrap()
        .unwrap();
    office.mesh.announce(announce).await.unwrap();
    let checkpoint = node(
        ck.clone(),
        &root,
        vec![cert(&root, &ck, Role::Checkpoint, None, far)],
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
    assert_eq!(
        h.checkpoint
            .store
            .lookup(h.nik.clone())
            .await
            .unwrap()
            .kind(),
        "resident"
    );
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
    let c = cert(&other, &k, Role::Checkpoint, None, i64::MAX / 2);
    let before = refusals(&h.village).await;
    let rogue = node(k, &other, vec![c], false, Some(&h.village.addr), &shutdown).await;
    assert_refused(&h, &rogue, before).await;

    // An expired certificate from the right root.
    let k = Keypair::generate_ed25519();
    let c = cert(&h.root, &k, Role::Checkpoint, None, now_ms() - 1);
    let before = refusals(&h.village).await;
    let rogue = node(k, &h.root, vec![c], false, Some(&h.village.addr), &shutdown).await;
    assert_refused(&h, &rogue, before).await;
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_node_is_cut_off_once_the_revocation_arrives() {
    let shutdown = CancellationToken::new();
    let h = honest_mesh(&shutdown).await;
    let k = Keypair::generate_ed25519();
    let c = cert(&h.root, &k, Role::Facility, None, i64::MAX / 2);
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
    assert_eq!(
        h.checkpoint
            .store
            .lookup(h.nik.clone())
            .await
            .unwrap()
            .kind(),
        "resident"
    );
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_village_writing_another_villages_residents_is_refused() {
    let shutdown = CancellationToken::new();
    let h = honest_mesh(&shutdown).await;
    let k = Keypair::generate_ed25519();
    let c = cert(&h.root, &k, Role::Village, Some(village(1)), i64::MAX / 2);
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
    let (_, announce) = rogue
        .store
        .write(village(0), vec![person], now_ms())
        .await
        .unwrap()
        .unwrap();
    rogue.mesh.announce(announce).await.unwrap();
    rogue.mesh.sync_now().await.unwrap();
    let rejected = wait_for(WAIT, || {
        let v = h.village.mesh.clone();
        let c = h.checkpoint.mesh.clone();
        async move {
            let a = v.status().await.ok()?.counters.changes_rejected;
            let b = c.status().await.ok()?.counters.changes_rejected;
            (a + b > 0).then_some(())
        }
    })
    .await;
    assert!(
        rejected.is_some(),
        "the forged write was refused and counted"
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
