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
