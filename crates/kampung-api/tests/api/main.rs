//! The API through its router (no sockets): one in-memory store and one mesh
//! with no listeners per test node.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod metrics;
mod openapi;
mod residents;
mod spec;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use kampung_api::{AppState, Metrics};
use kampung_core::{Resident, VillageCode};
use kampung_mesh::MeshConfig;
use kampung_runtime::store::{accept_all, spawn_store};
use kampung_store::storage::MemoryStorage;
use kampung_store::Registry;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

pub const VILLAGE: &str = "35.10.15.2012";
pub const THIS_YEAR: i32 = 2026;

pub fn village() -> VillageCode {
    VillageCode::parse(VILLAGE).unwrap()
}

/// A node's API with its store and mesh tasks.
#[derive(Debug)]
pub struct Node {
    pub app: Router,
    pub state: AppState,
    shutdown: CancellationToken,
    mesh_task: tokio::task::JoinHandle<()>,
    store_thread: std::thread::JoinHandle<Result<(), kampung_store::StoreError>>,
}

/// A response: status, content type and body (JSON when it parses).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

impl Node {
    /// A village node of [`VILLAGE`] (`Some`), or a checkpoint (`None`).
    pub async fn start(village: Option<VillageCode>) -> Node {
        let registry = Registry::open(
            MemoryStorage::new(),
            automerge::ActorId::from(vec![9u8; 32]),
            THIS_YEAR,
        )
        .unwrap();
        let (store, store_thread) = spawn_store(registry, accept_all());
        let role = match village {
            Some(v) => format!("village:{v}"),
            None => "checkpoint:ketapang".to_string(),
        };
        let key = kampung_mesh::identity::Keypair::generate_ed25519();
        let peer_id = key.public().to_peer_id().to_string();
        let mut cfg = MeshConfig::new(key, role.clone());
        cfg.kademlia = false;
        cfg.mdns = false;
        cfg.owned_docs = village.map(|v| format!("v/{v}")).into_iter().collect();
        let (mesh, event_loop) = kampung_mesh::new(cfg, store.clone()).unwrap();
        let shutdown = CancellationToken::new();
        let mesh_task = tokio::spawn(event_loop.run(shutdown.child_token()));
        let state = AppState {
            store,
            mesh,
            role,
            own_village: village,
            peer_id,
            this_year: THIS_YEAR,
            metrics: Metrics::new(),
        };
        Node {
            app: kampung_api::router(state.clone()),
            state,
            shutdown,
            mesh_task,
            store_thread,
        }
    }

    /// Write records straight to the store (setup, not under test).
    pub async fn put(&self, records: Vec<Resident>) {
        let village = records[0].village;
        self.state
            .store
            .write(village, records, 1)
            .await
            .unwrap()
            .unwrap();
    }

    pub async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let response = self
            .app
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Reply {
            status,
            content_type,
            text: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.call(Method::GET, uri, None).await
    }

    /// Stop the mesh and the store, and check both ended cleanly.
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(10), self.mesh_task)
            .await
            .expect("the mesh stops within 10 s")
            .unwrap();
        drop(self.app);
        drop(self.state);
        let joined = tokio::task::spawn_blocking(move || self.store_thread.join())
            .await
            .unwrap();
        joined
            .expect("store thread")
            .expect("store stopped cleanly");
    }
}

/// `n` synthetic residents of [`VILLAGE`], in NIK order.
pub fn people(n: usize, seed: u64) -> Vec<Resident> {
    let mut p = kampung_gen::village_residents(village(), n, seed);
    p.sort_by_key(|r| r.nik);
    p
}
