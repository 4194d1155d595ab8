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
    assert_eq!(reference.len(), villages.len());
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

/// A person registered in village B while village A, cut off, still had
/// them: once the cut heals every node says so (verdict, status), both
/// offices see it and may still edit their record, and A's move out
/// resolves it everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_registered_on_both_sides_of_a_cut_is_shown_until_the_offices_resolve_it() {
    use kampung_core::resident::StatusKind;
    use kampung_core::Status;
    use kampung_node::Actor;
    let a = VillageCode::parse("35.10.15.2012").unwrap();
    let b = VillageCode::parse("35.10.15.2001").unwrap();
    let mut mesh = Mesh::start(&[Some(a), None], 5).await;
    mesh.add_alone(Some(b)).await;
    let person = kampung_gen::village_residents(a, 8, 5)
        .into_iter()
        .find(|p| p.status.kind() == StatusKind::Active)
        .unwrap();
    let nik = person.nik.to_string();
    mesh.nodes[0].write(a, vec![person.clone()]).await;
    let mut at_b = person.clone();
    at_b.village = b;
    mesh.nodes[2].write(b, vec![at_b.clone()]).await;

    // The cut heals.
    let a_addr = mesh.nodes[0].addr.parse().unwrap();
    mesh.nodes[2].mesh.dial(a_addr).await.unwrap();
    mesh.wait_converged(Duration::from_secs(60)).await;
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
