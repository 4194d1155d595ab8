//! An in-process mesh of real libp2p swarms on 127.0.0.1 with in-memory stores.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use kampung_core::{Resident, Role, VillageCode};
use kampung_mesh::{Client, MeshConfig};
use kampung_node::{Actor, Parts, Running};
use kampung_runtime::store::StoreHandle;

#[derive(Clone)]
pub struct Node {
    pub peer: String,
    pub node: kampung_node::Node,
    pub store: StoreHandle,
    pub mesh: Client,
    pub village: Option<VillageCode>,
    pub addr: String,
}

impl Node {
    /// Write as the village office does: the node library's workflow
    /// (durable, then announced).
    pub async fn write(&self, village: VillageCode, records: Vec<Resident>) {
        assert_eq!(Some(village), self.village, "a node writes its own village");
        self.node
            .write_residents(&Actor::local(), records, &Default::default(), None)
            .await
            .unwrap();
    }
}

pub struct Mesh {
    pub nodes: Vec<Node>,
    pub running: Vec<Running>,
    /// Applied to every node's mesh configuration after the defaults.
    pub tune: fn(&mut MeshConfig),
}

async fn start_node(
    village: Option<VillageCode>,
    bootstrap: Vec<String>,
    tune: fn(&mut MeshConfig),
) -> (Node, Running) {
    let role = match village {
        Some(village) => Role::Village { village },
        None => Role::checkpoint("test").unwrap(),
    };
    let parts = Parts::in_memory(role).network(|cfg| {
        cfg.listen = vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()];
        cfg.bootstrap = bootstrap.iter().map(|a| a.parse().unwrap()).collect();
        cfg.anti_entropy_every = Duration::from_secs(2);
        cfg.heartbeat_every = Duration::from_secs(2);
        tune(cfg);
    });
    let running = kampung_node::start(parts).await.unwrap();
    let node = running.node().clone();
    let mesh = node.mesh().unwrap().clone();
    let addr = listen_addr(&mesh).await;
    let peer = node.peer_id().to_string();
    (
        Node {
            addr: format!("{addr}/p2p/{peer}"),
            peer,
            store: node.store().clone(),
            mesh,
            node,
            village,
        },
        running,
    )
}

/// The first address `mesh` listens on, once it does (within 10 s).
pub async fn listen_addr(mesh: &Client) -> String {
    wait_for(Duration::from_secs(10), || {
        let mesh = mesh.clone();
        async move {
            mesh.status()
                .await
                .ok()
                .and_then(|s| s.listen.first().cloned())
        }
    })
    .await
    .expect("node listens")
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
    /// Start one node per role (a village, or `None` for a replica-only
    /// checkpoint); every node bootstraps from the first one. (`_seed` named
    /// the nodes' Automerge actors; each node's actor is now its own key.)
    pub async fn start(roles: &[Option<VillageCode>], _seed: u8) -> Mesh {
        Mesh::start_tuned(roles, |_| {}).await
    }

    /// [`Mesh::start`], every node's mesh configuration changed by `tune`.
    pub async fn start_tuned(roles: &[Option<VillageCode>], tune: fn(&mut MeshConfig)) -> Mesh {
        let mut mesh = Mesh {
            nodes: Vec::new(),
            running: Vec::new(),
            tune,
        };
        for v in roles {
            mesh.add_node(*v, 0).await;
        }
        mesh
    }

    pub async fn add_node(&mut self, village: Option<VillageCode>, _seed: u8) {
        let bootstrap = self
            .nodes
            .first()
            .map(|n| vec![n.addr.clone()])
            .unwrap_or_default();
        let (node, running) = start_node(village, bootstrap, self.tune).await;
        self.nodes.push(node);
        self.running.push(running);
    }

    /// A node that knows no other (a village cut off from the mesh); it
    /// joins when it dials one (`mesh.dial`).
    pub async fn add_alone(&mut self, village: Option<VillageCode>) {
        let (node, running) = start_node(village, Vec::new(), self.tune).await;
        self.nodes.push(node);
        self.running.push(running);
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

    /// Stop every node, and check each stops within 10 s.
    pub async fn stop(self) {
        drop(self.nodes);
        for r in self.running {
            tokio::time::timeout(Duration::from_secs(10), r.stop())
                .await
                .expect("every node stops on shutdown")
                .unwrap();
        }
    }
}
