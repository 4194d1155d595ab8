//! Village PCs with wrong clocks, in a certified mesh of real libp2p swarms
//! on 127.0.0.1: a node off from its peers signs nothing and says so; a
//! write it signed before it knew waits at the receivers (nobody is blamed
//! for relaying it) and arrives with the village's next right write; a
//! clock before the node's certificate is refused without any peer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/certified.rs"]
mod certified;
#[path = "support/inproc.rs"]
mod inproc;

use certified::{cert, cert_from, node_with, TestNode, WAIT};
use inproc::wait_for;
use kampung_core::{Resident, RoleKind, SharedClock, SkewedClock, SystemClock, VillageCode};
use kampung_mesh::identity::Keypair;
use kampung_node::{Actor, ClockProblem, ErrorCode};
use kampung_trust::Signed;
use tokio_util::sync::CancellationToken;

const MINUTE: i64 = 60_000;
const FAR: i64 = i64::MAX / 2;

fn village(i: usize) -> VillageCode {
    ["35.10.15.2012", "35.10.15.2001"][i].parse().unwrap()
}

async fn start(
    key: Keypair,
    root: &Keypair,
    certificate: Signed,
    bootstrap: Option<&str>,
    shutdown: &CancellationToken,
    clock: SharedClock,
) -> TestNode {
    node_with(
        key,
        root,
        vec![certificate],
        false,
        bootstrap,
        shutdown,
        clock,
        |_| {},
    )
    .await
}

async fn write(n: &TestNode, people: Vec<Resident>) -> Result<(), kampung_node::NodeError> {
    n.node
        .write_residents(&Actor::local(), people, &Default::default(), None)
        .await
        .map(|_| ())
}

async fn kind_at(n: &TestNode, nik: &str) -> String {
    n.node
        .verdict(&Actor::local(), nik)
        .unwrap()
        .kind()
        .to_string()
}

async fn counters(n: &TestNode) -> kampung_mesh::Counters {
    n.mesh.status().await.unwrap().counters
}

/// Two right clocks (a checkpoint and an auditor) and a village whose clock
/// is `skew_ms` off, which wrote one resident before it met its peers.
struct Scene {
    checkpoint: TestNode,
    auditor: TestNode,
    office: TestNode,
    skew: std::sync::Arc<SkewedClock>,
    people: Vec<Resident>,
}

async fn scene(skew_ms: i64, v: VillageCode, shutdown: &CancellationToken) -> Scene {
    let root = Keypair::generate_ed25519();
    let (ck, ak, vk) = (
        Keypair::generate_ed25519(),
        Keypair::generate_ed25519(),
        Keypair::generate_ed25519(),
    );
    let checkpoint = start(
        ck.clone(),
        &root,
        cert(&root, &ck, RoleKind::Checkpoint, None, FAR),
        None,
        shutdown,
        SystemClock::shared(),
    )
    .await;
    let auditor = start(
        ak.clone(),
        &root,
        cert(&root, &ak, RoleKind::Auditor, None, FAR),
        Some(&checkpoint.addr),
        shutdown,
        SystemClock::shared(),
    )
    .await;
    let skew = SkewedClock::new(skew_ms);
    let office = start(
        vk.clone(),
        &root,
        cert(&root, &vk, RoleKind::Village, Some(v), FAR),
        None,
        shutdown,
        skew.clone(),
    )
    .await;
    let people = kampung_gen::village_residents(v, 3, 11);
    // Alone, the office cannot tell that its clock is off: it writes.
    write(&office, people[..1].to_vec()).await.unwrap();
    office
        .mesh
        .dial(checkpoint.addr.parse().unwrap())
        .await
        .unwrap();
    office
        .mesh
        .dial(auditor.addr.parse().unwrap())
        .await
        .unwrap();
    Scene {
        checkpoint,
        auditor,
        office,
        skew,
        people,
    }
}

/// Wait until the office's peers have put its clock off (or right).
async fn until_judged(office: &TestNode, off: bool) -> kampung_node::ClockCheck {
    wait_for(WAIT, || async {
        let c = office.node.clock_check();
        (c.peers_measured == 2 && c.problem.is_some() == off).then_some(c)
    })
    .await
    .unwrap_or_else(|| panic!("clock judged off={off}: {:?}", office.node.clock_check()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_village_signs_nothing_and_its_early_write_arrives_with_its_next_right_one() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_test_writer()
        .try_init();
    let shutdown = CancellationToken::new();
    let s = scene(20 * MINUTE, village(0), &shutdown).await;
    let nik = |i: usize| s.people[i].nik.to_string();

    let c = until_judged(&s.office, true).await;
    assert!(
        matches!(c.problem, Some(ClockProblem::Fast { by_ms, peers: 2 }) if (19 * MINUTE..21 * MINUTE).contains(&by_ms)),
        "{c:?}"
    );
    assert!(c.peer_offset_ms.unwrap() < -19 * MINUTE, "{c:?}");
    // The clerk is told, and nothing is written.
    let e = write(&s.office, s.people[1..2].to_vec()).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ClockOff);
    assert!(e.message.contains("minutes ahead"), "{}", e.message);
    assert_eq!(kind_at(&s.office, &nik(1)).await, "non_resident");
    let health = s.office.node.health().await;
    assert!(
        health.iter().any(|p| p.code == "clock_off"),
        "health: {health:?}"
    );

    // The write signed before it knew waits at the receivers, deferred,
    // and nobody is blamed or cut off for relaying it.
    for n in [&s.checkpoint, &s.auditor] {
        let deferred = wait_for(WAIT, || async {
            (counters(n).await.changes_deferred > 0).then_some(())
        })
        .await;
        assert!(deferred.is_some(), "{} deferred the early write", n.peer);
        assert_eq!(kind_at(n, &nik(0)).await, "non_resident");
        assert_eq!(counters(n).await.peer_faults, 0);
    }
    let admitted = s.checkpoint.mesh.status().await.unwrap().peers;
    assert!(
        admitted
            .iter()
            .any(|p| p.peer_id == s.office.peer && p.admitted),
        "the office stays admitted"
    );

    // The clock is set right: at the next roster exchange the office signs
    // again, and its next write carries the early one in everywhere.
    s.skew.set_offset(0);
    until_judged(&s.office, false).await;
    write(&s.office, s.people[1..2].to_vec()).await.unwrap();
    for n in [&s.checkpoint, &s.auditor] {
        let arrived = wait_for(WAIT, || async {
            (kind_at(n, &nik(0)).await == "resident" && kind_at(n, &nik(1)).await == "resident")
                .then_some(())
        })
        .await;
        assert!(arrived.is_some(), "{} holds both writes", n.peer);
        assert_eq!(counters(n).await.peer_faults, 0);
    }
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_village_signs_nothing_and_a_clock_before_the_certificate_needs_no_peer() {
    let shutdown = CancellationToken::new();
    let s = scene(-30 * MINUTE, village(0), &shutdown).await;
    let c = until_judged(&s.office, true).await;
    assert!(
        matches!(c.problem, Some(ClockProblem::Slow { peers: 2, .. })),
        "{c:?}"
    );
    let e = write(&s.office, s.people[1..2].to_vec()).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ClockOff);
    assert!(e.message.contains("minutes behind"), "{}", e.message);
    // A write signed 30 minutes slow is inside its certificate: accepted.
    let nik = s.people[0].nik.to_string();
    let arrived = wait_for(WAIT, || async {
        (kind_at(&s.checkpoint, &nik).await == "resident").then_some(())
    })
    .await;
    assert!(arrived.is_some(), "a slow but valid signature is accepted");

    // A village alone whose clock says a time before its certificate starts.
    let root = Keypair::generate_ed25519();
    let vk = Keypair::generate_ed25519();
    let now = kampung_core::Clock::now_ms(&SystemClock);
    let certificate = cert_from(
        &root,
        &vk,
        RoleKind::Village,
        Some(village(1)),
        now + 24 * 60 * MINUTE,
        FAR,
    );
    let early = start(
        vk,
        &root,
        certificate,
        None,
        &shutdown,
        SystemClock::shared(),
    )
    .await;
    let c = early.node.clock_check();
    assert_eq!(c.peers_measured, 0);
    assert!(
        matches!(c.problem, Some(ClockProblem::BeforeCertificate { .. })),
        "{c:?}"
    );
    let people = kampung_gen::village_residents(village(1), 1, 3);
    let e = write(&early, people.clone()).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ClockOff);
    assert!(e.message.contains("before this node's certificate starts"));
    assert_eq!(
        kind_at(&early, &people[0].nik.to_string()).await,
        "non_resident",
        "nothing was written"
    );
    shutdown.cancel();
}
