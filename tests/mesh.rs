//! Real libp2p swarms in one process: villages write concurrently and every
//! node converges to the same heads and the same index.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/inproc.rs"]
mod inproc;

use std::time::Duration;

use inproc::*;
use kampung_core::VillageCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_nodes_converge_after_concurrent_edits() {
    let villages = [
        "35.10.15.2012",
        "35.10.15.2001",
        "35.10.21.2003",
        "35.10.25.2005",
        "35.10.01.2001",
    ];
    let mut roles: Vec<Option<VillageCode>> = villages
        .iter()
        .map(|v| Some(VillageCode::parse(v).unwrap()))
        .collect();
    roles.extend([None; 5]); // checkpoints and auditors: replicas only
    let mesh = Mesh::start(&roles, 11).await;

    // Every village writes at the same time, in several rounds.
    let mut tasks = Vec::new();
    for (i, v) in villages.iter().enumerate() {
        let node = mesh.nodes[i].clone();
        let village = VillageCode::parse(v).unwrap();
        tasks.push(tokio::spawn(async move {
            let people = kampung_gen::village_residents(village, 120, 3);
            for chunk in people.chunks(30) {
                node.write(village, chunk.to_vec()).await;
            }
            // then some corrections, one record per write
            for r in people.iter().take(10) {
                let mut r = r.clone();
                r.full_name.push_str(" (koreksi)");
                node.write(village, vec![r]).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    mesh.wait_converged(Duration::from_secs(90)).await;

    // Identical heads and an identical index everywhere.
    let reference = mesh.nodes[0].store.doc_heads().await.unwrap();
    // An open mesh: every node holds every village's cards and details.
    assert_eq!(reference.len(), 2 * villages.len());
    for node in &mesh.nodes {
        assert_eq!(
            node.store.doc_heads().await.unwrap(),
            reference,
            "heads of {}",
            node.peer
        );
        assert_eq!(node.store.niks().await.unwrap(), 600);
    }
    for v in villages {
        let village = VillageCode::parse(v).unwrap();
        for r in kampung_gen::village_residents(village, 120, 3)
            .iter()
            .step_by(7)
        {
            let expected = mesh.nodes[0].store.lookup(r.nik.to_string()).await.unwrap();
            assert_ne!(expected.kind(), "non_resident");
            for node in &mesh.nodes[1..] {
                assert_eq!(
                    node.store.lookup(r.nik.to_string()).await.unwrap(),
                    expected
                );
            }
        }
    }
    mesh.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_node_bootstraps_every_village() {
    let villages = ["35.10.15.2012", "35.10.21.2003", "35.10.25.2005"];
    let roles: Vec<Option<VillageCode>> = villages
        .iter()
        .map(|v| Some(VillageCode::parse(v).unwrap()))
        .collect();
    let mut mesh = Mesh::start(&roles, 21).await;
    for (i, v) in villages.iter().enumerate() {
        let village = VillageCode::parse(v).unwrap();
        mesh.nodes[i]
            .write(village, kampung_gen::village_residents(village, 400, 1))
            .await;
    }
    mesh.wait_converged(Duration::from_secs(60)).await;
    // A checkpoint with an empty store joins late.
    mesh.add_node(None, 99).await;
    mesh.wait_converged(Duration::from_secs(60)).await;
    let late = mesh.nodes.last().unwrap();
    assert_eq!(late.store.niks().await.unwrap(), 1200);
    for v in villages {
        let village = VillageCode::parse(v).unwrap();
        let r = &kampung_gen::village_residents(village, 400, 1)[17];
        let verdict = late.store.lookup(r.nik.to_string()).await.unwrap();
        assert_eq!(
            verdict,
            mesh.nodes[0].store.lookup(r.nik.to_string()).await.unwrap()
        );
    }
    mesh.stop().await;
}

/// Node 0 is every node's bootstrap peer and may keep few peers: with
/// `max_peers` 1 it keeps 2 and accepts 4 at most. The villages that come
/// first fill it; it trims those it has held longest, so villages that come
/// later still get in and every village reaches every node. (When a full
/// node refused newcomers instead, the first 100 nodes of the regency's
/// mesh never saw the 122 that joined after them.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_bootstrap_node_makes_room_for_villages_that_come_later() {
    let villages = [
        "35.10.01.2001",
        "35.10.05.2002",
        "35.10.12.2003",
        "35.10.15.2012",
        "35.10.21.2003",
    ];
    let mut mesh = Mesh::start_tuned(&[None], |cfg| {
        cfg.max_peers = 1;
        cfg.peer_grace = Duration::from_secs(1);
    })
    .await;
    for (i, v) in villages.iter().enumerate() {
        let village = VillageCode::parse(v).unwrap();
        mesh.add_node(Some(village), 0).await;
        mesh.nodes
            .last()
            .unwrap()
            .write(
                village,
                kampung_gen::village_residents(village, 20, i as u64),
            )
            .await;
    }
    mesh.wait_converged(Duration::from_secs(120)).await;
    for node in &mesh.nodes {
        // Each village's cards and details (an open mesh: held by all).
        assert_eq!(
            node.store.doc_heads().await.unwrap().len(),
            2 * villages.len()
        );
        assert_eq!(node.store.niks().await.unwrap(), 20 * villages.len());
    }
    let hub = mesh.nodes[0].mesh.status().await.unwrap();
    assert!(
        hub.counters.peers_trimmed > 0,
        "the bootstrap node made room by trimming: {:?}",
        hub.counters
    );
    // Every village connected to it, and those trimmed are counted among
    // the connections it opened as well as those it holds.
    let opened = hub.counters.connections_opened;
    assert!(
        opened >= villages.len() as u64
            && opened >= hub.counters.peers_trimmed + hub.peers.len() as u64,
        "connections opened {opened}, trimmed {}, held {}",
        hub.counters.peers_trimmed,
        hub.peers.len()
    );
    mesh.stop().await;
}

/// Village A (node 0) registers a person; village B (node 2), cut off,
/// registers them too; then the cut heals and the mesh converges.
async fn registered_on_both_sides(
    seed: u8,
) -> (Mesh, kampung_core::Resident, kampung_core::Resident) {
    use kampung_core::resident::StatusKind;
    let a = VillageCode::parse("35.10.15.2012").unwrap();
    let b = VillageCode::parse("35.10.15.2001").unwrap();
    let mut mesh = Mesh::start(&[Some(a), None], seed).await;
    mesh.add_alone(Some(b)).await;
    let person = kampung_gen::village_residents(a, 8, u64::from(seed))
        .into_iter()
        .find(|p| p.status.kind() == StatusKind::Active)
        .unwrap();
    mesh.nodes[0].write(a, vec![person.clone()]).await;
    let mut at_b = person.clone();
    at_b.village = b;
    mesh.nodes[2].write(b, vec![at_b.clone()]).await;
    let a_addr = mesh.nodes[0].addr.parse().unwrap();
    mesh.nodes[2].mesh.dial(a_addr).await.unwrap();
    mesh.wait_converged(Duration::from_secs(60)).await;
    (mesh, person, at_b)
}

/// A person registered in village B while village A, cut off, still had
/// them: once the cut heals every node says so (verdict, status), both
/// offices see it and may still edit their record, and A's move out
/// resolves it everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_registered_on_both_sides_of_a_cut_is_shown_until_the_offices_resolve_it() {
    use kampung_core::Status;
    use kampung_node::Actor;
    let (mesh, person, mut at_b) = registered_on_both_sides(5).await;
    let (a, b) = (person.village, at_b.village);
    let nik = person.nik.to_string();
    for n in &mesh.nodes {
        let answer = n.node.verdict(&Actor::local(), &nik).unwrap();
        assert_eq!(answer.kind(), "resident");
        let mut both = answer.double_registration.clone();
        both.sort();
        assert_eq!(both, vec![b, a], "at {}", n.peer);
        let id = answer.explanation(kampung_i18n::Lang::Id);
        assert!(id.contains("terdaftar aktif di 2 desa"), "{id}");
        assert!(
            id.contains("Desa Kampunganyar (Kec. Glagah)") && id.contains("Desa Rejosari"),
            "{id}"
        );
        assert_eq!(answer.basis.len(), 2, "the answer rests on both villages");
        let status = n.node.status(&Actor::local()).await.unwrap();
        assert_eq!(status.double_registrations, 1);
    }
    for office in [&mesh.nodes[0], &mesh.nodes[2]] {
        let doubles = office.node.double_registrations(&Actor::local()).unwrap();
        assert_eq!(
            doubles.len(),
            1,
            "the office of {:?} sees it",
            office.village
        );
        assert_eq!(doubles[0].0, person.nik);
    }
    // B may still correct its record (a new double registration would be refused).
    at_b.address.dusun = "Krajan Lor".into();
    mesh.nodes[2].write(b, vec![at_b.clone()]).await;

    // A records the move out: resolved everywhere.
    let mut moved = person.clone();
    moved.status = Status::MovedOut {
        destination: "Desa Rejosari, Kec. Glagah".into(),
        date: None,
    };
    mesh.nodes[0].write(a, vec![moved]).await;
    mesh.wait_converged(Duration::from_secs(60)).await;
    for n in &mesh.nodes {
        let answer = n.node.verdict(&Actor::local(), &nik).unwrap();
        assert_eq!(answer.kind(), "resident");
        assert!(answer.double_registration.is_empty(), "at {}", n.peer);
        assert_eq!(answer.basis.len(), 1);
        let status = n.node.status(&Actor::local()).await.unwrap();
        assert_eq!(status.double_registrations, 0);
    }
    mesh.stop().await;
}

/// The other way out of a double registration: B's registration was made in
/// error and its office withdraws it. The withdrawal replicates, leaves the
/// person a resident of A alone everywhere, and keeps who did it and why in
/// B's document history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_office_withdraws_a_registration_made_in_error() {
    use kampung_node::{Actor, ErrorCode};
    let (mesh, person, at_b) = registered_on_both_sides(6).await;
    let (a, b) = (person.village, at_b.village);
    let nik = person.nik.to_string();
    let b_office = &mesh.nodes[2].node;
    assert_eq!(
        b_office
            .double_registrations(&Actor::local())
            .unwrap()
            .len(),
        1
    );

    // A reason is required; A's record is not B's to withdraw.
    let empty = b_office
        .withdraw_registration(&Actor::local(), person.nik, "  ")
        .await
        .unwrap_err();
    assert_eq!(empty.code, ErrorCode::Refused, "{empty}");
    let not_ours = mesh.nodes[0]
        .node
        .withdraw_registration(
            &Actor::local(),
            kampung_gen::village_residents(b, 3, 1)[0].nik,
            "x",
        )
        .await
        .unwrap_err();
    assert_eq!(not_ours.code, ErrorCode::NotRegistered, "{not_ours}");

    let withdrawn = b_office
        .withdraw_registration(
            &Actor::local(),
            person.nik,
            "salah daftar: warga Desa Kampunganyar",
        )
        .await
        .unwrap();
    assert_eq!(withdrawn.village, b);
    mesh.wait_converged(Duration::from_secs(60)).await;
    for n in &mesh.nodes {
        let answer = n.node.verdict(&Actor::local(), &nik).unwrap();
        assert_eq!(answer.kind(), "resident", "at {}", n.peer);
        assert!(answer.double_registration.is_empty(), "at {}", n.peer);
        assert_eq!(answer.basis.len(), 1);
        assert!(
            answer
                .explanation(kampung_i18n::Lang::Id)
                .contains("Kampunganyar"),
            "still a resident of A at {}",
            n.peer
        );
        let status = n.node.status(&Actor::local()).await.unwrap();
        assert_eq!(status.double_registrations, 0);
        assert_eq!(n.store.read(b, person.nik).await.unwrap().unwrap(), None);
        assert!(n
            .store
            .read(a, person.nik)
            .await
            .unwrap()
            .unwrap()
            .is_some());
    }
    mesh.stop().await;
}
