//! Certified in-process nodes of real libp2p swarms on 127.0.0.1: a root,
//! its certificates, and nodes whose roster trusts it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, RwLock};
use std::time::Duration;

use kampung_core::{RoleKind, SharedClock, VillageCode};
use kampung_mesh::{identity::Keypair, Client, Membership, MeshConfig, OpenMesh};
use kampung_node::{Parts, Trust};
use kampung_runtime::store::StoreHandle;
use kampung_store::trust::SharedRoster;
use kampung_trust::{Certificate, NodeKey, Roster, Signed, Statement};
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(30);

pub fn cert(
    root: &Keypair,
    node: &Keypair,
    role: RoleKind,
    v: Option<VillageCode>,
    until_ms: i64,
) -> Signed {
    cert_from(root, node, role, v, 0, until_ms)
}

/// [`cert`], in force from `not_before_ms`.
pub fn cert_from(
    root: &Keypair,
    node: &Keypair,
    role: RoleKind,
    v: Option<VillageCode>,
    not_before_ms: i64,
    until_ms: i64,
) -> Signed {
    Signed::sign(
        Statement::Certificate(Certificate {
            node: NodeKey::from_public(&node.public()).unwrap(),
            role,
            village: v,
            label: "test".into(),
            not_before_ms,
            until_ms,
        }),
        root,
    )
    .unwrap()
}

pub struct TestNode {
    pub peer: String,
    pub node: kampung_node::Node,
    pub store: StoreHandle,
    pub mesh: Client,
    pub addr: String,
    pub roster: SharedRoster,
}

/// A node whose roster trusts `root` and holds `statements` (its own certificate
/// at least); `open` makes it ignore membership (a rogue that checks nothing).
pub async fn node(
    key: Keypair,
    root: &Keypair,
    statements: Vec<Signed>,
    open: bool,
    bootstrap: Option<&str>,
    shutdown: &CancellationToken,
) -> TestNode {
    let clock = kampung_core::SystemClock::shared();
    node_with(
        key,
        root,
        statements,
        open,
        bootstrap,
        shutdown,
        clock,
        |_| {},
    )
    .await
}

/// [`node`], on `clock`, with the mesh configuration adjusted by `tweak`.
#[allow(clippy::too_many_arguments)]
pub async fn node_with(
    key: Keypair,
    root: &Keypair,
    statements: Vec<Signed>,
    open: bool,
    bootstrap: Option<&str>,
    shutdown: &CancellationToken,
    clock: SharedClock,
    tweak: impl FnOnce(&mut MeshConfig),
) -> TestNode {
    let own = NodeKey::from_public(&key.public()).unwrap();
    // The role its own certificate gives it (a rogue without one: a checkpoint).
    let role = statements
        .iter()
        .find_map(|s| match &s.statement {
            Statement::Certificate(c) if c.node == own => Some(match (c.role, c.village) {
                (RoleKind::Village, Some(village)) => kampung_core::Role::Village { village },
                (RoleKind::Facility, _) => kampung_core::Role::facility("test").unwrap(),
                (RoleKind::Auditor, _) => kampung_core::Role::Auditor,
                _ => kampung_core::Role::checkpoint("test").unwrap(),
            }),
            _ => None,
        })
        .unwrap_or_else(|| kampung_core::Role::checkpoint("test").unwrap());
    let mut roster = Roster::new(NodeKey::from_public(&root.public()).unwrap());
    for s in statements {
        roster.add(s).unwrap();
    }
    let roster: SharedRoster = Arc::new(RwLock::new(roster));
    let mut parts = Parts::in_memory_with_key(key.clone(), role)
        .trust(Trust::Roster(roster.clone()))
        .clock(clock)
        .network(|cfg| {
            cfg.listen = vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()];
            cfg.bootstrap = bootstrap.iter().map(|a| a.parse().unwrap()).collect();
            cfg.kademlia = false;
            cfg.anti_entropy_every = Duration::from_secs(1);
            tweak(cfg);
        });
    if open {
        parts = parts.membership(Arc::new(OpenMesh) as Arc<dyn Membership>);
    }
    let running = kampung_node::start(parts).await.unwrap();
    let node = running.node().clone();
    let mesh = node.mesh().unwrap().clone();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        stop.cancelled().await;
        let _ = running.stop().await;
    });
    let listen = super::inproc::listen_addr(&mesh).await;
    let peer = key.public().to_peer_id().to_string();
    TestNode {
        addr: format!("{listen}/p2p/{peer}"),
        peer,
        store: node.store().clone(),
        node,
        mesh,
        roster,
    }
}
