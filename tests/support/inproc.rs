//! An in-process mesh of real libp2p swarms on 127.0.0.1 with in-memory stores.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use kampung_core::{Resident, VillageCode};
use kampung_mesh::{identity::Keypair, Client, MeshConfig};
use kampung_runtime::store::{accept_all, spawn_store, StoreHandle};
use kampung_store::storage::MemoryStorage;
use kampung_store::Registry;
use kampung_sync::Replica;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct Node {
    pub peer: String,
    pub store: StoreHandle,
    pub mesh: Client,
    pub village: Option<VillageCode>,
    pub addr: String,
}

impl Node {
    /// Write as the village office would: durable, then announced.
    pub async fn write(&self, village: VillageCode, records: Vec<Resident>) {
        let (_, announce) = self
            .store
            .write(village, records, 1)
            .await
            .unwrap()
            .unwrap();
        self.mesh.announce(announce).await.unwrap();
    }
}

pub struct Mesh {
    pub nodes: Vec<Node>,
    pub shutdown: CancellationToken,
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}

async fn start_node(
    village: Option<VillageCode>,
    bootstrap: Vec<String>,
    seed: u8,
    shutdown: &CancellationToken,
) -> (Node, tokio::task::JoinHandle<()>) {
    let key = Keypair::generate_ed25519();
    let actor = automerge::ActorId::from(vec![seed; 32]);
    let registry = Registry::open(MemoryStorage::new(), actor, 2026).unwrap();
    let (store, _join) = spawn_store(registry, accept_all());
    let role = match village {
        Some(v) => format!("village:{v}"),
        None => "checkpoint:test".to_string(),
    };
    let mut cfg = MeshConfig::new(key.clone(), role);
    cfg.listen = vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()];
    cfg.bootstrap = bootstrap.iter().map(|a| a.parse().unwrap()).collect();
    cfg.anti_entropy_every = Duration::from_secs(2);
    cfg.heartbeat_every = Duration::from_secs(2);
    cfg.owned_docs = village.map(|v| format!("v/{v}")).into_iter().collect();
    let (client, event_loop) = kampung_mesh::new(cfg, store.clone()).unwrap();
    let task = tokio::spawn(event_loop.run(shutdown.child_token()));
    let addr = wait_for(Duration::from_secs(10), || {
        let client = client.clone();
        async move {
            client
                .status()
                .await
                .ok()
                .and_then(|s| s.listen.first().cloned())
        }
    })
    .await
    .expect("node listens");
    let peer = key.public().to_peer_id().to_string();
    (
        Node {
            peer: peer.clone(),
            store,
            mesh: client,
            village,
            addr: format!("{addr}/p2p/{peer}"),
        },
        task,
    )
}

/// Poll `f` every 50 ms until it returns Some, or give up after `timeout`.
pub async fn wait_for<T, F, Fut>(timeout: Duration, mut f: F) -> Option<T>
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

impl Mesh {
    /// Start one node per role (a village, or `None` for a replica-only node);
    /// every node bootstraps from the first one.
    pub async fn start(roles: &[Option<VillageCode>], seed: u8) -> Mesh {
        let shutdown = CancellationToken::new();
        let mut mesh = Mesh {
            nodes: Vec::new(),
            shutdown,
            tasks: Vec::new(),
        };
        for (i, v) in roles.iter().enumerate() {
            mesh.add_node(*v, seed.wrapping_add(i as u8)).await;
        }
        mesh
    }

    pub async fn add_node(&mut self, village: Option<VillageCode>, seed: u8) {
        let bootstrap = self
            .nodes
            .first()
            .map(|n| vec![n.addr.clone()])
            .unwrap_or_default();
        let (node, task) = start_node(village, bootstrap, seed, &self.shutdown).await;
        self.nodes.push(node);
        self.tasks.push(task);
    }

    /// Wait until every node has the same digest over all documents.
    pub async fn wait_converged(&self, timeout: Duration) {
        let nodes = self.nodes.clone();
        let ok = wait_for(timeout, || {
            let nodes = nodes.clone();
            async move {
                let mut digests = Vec::new();
                for n in &nodes {
                    digests.push(n.store.digest().await.ok()?);
                }
                digests.windows(2).all(|w| w[0] == w[1]).then_some(())
            }
        })
        .await;
        if ok.is_none() {
            for n in &self.nodes {
                let s = n.mesh.status().await.unwrap();
                eprintln!(
                    "{}: {} peers, digest {:?}",
                    n.peer,
                    s.peers.len(),
                    n.store.digest().await.ok().map(|d| d.1)
                );
            }
            panic!("the mesh did not converge within {timeout:?}");
        }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        for t in self.tasks {
            tokio::time::timeout(Duration::from_secs(10), t)
                .await
                .expect("every mesh loop stops on shutdown")
                .unwrap();
        }
    }
}
