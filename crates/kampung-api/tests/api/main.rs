//! The API through its router (no sockets): one in-memory store and one mesh
//! with no listeners per test node.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cases;
mod checkpoint;
mod metrics;
mod openapi;
mod residents;
mod spec;
mod trust;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use kampung_api::{ApiContext, AppState, Clock, Metrics};
use kampung_core::{Resident, VillageCode};
use kampung_mesh::MeshConfig;
use kampung_runtime::store::{accept_all, spawn_store};
use kampung_store::storage::MemoryStorage;
use kampung_store::trust::SharedRoster;
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

/// How a test node is set up.
#[derive(Debug, Clone)]
pub struct Opts {
    /// `village:...`, `checkpoint:...`, `facility:...`, `auditor`.
    pub role: String,
    pub village: Option<VillageCode>,
    pub roster: Option<SharedRoster>,
    pub clock: Clock,
}

impl Opts {
    pub fn village() -> Opts {
        Opts {
            role: format!("village:{VILLAGE}"),
            village: Some(village()),
            roster: None,
            clock: Clock::system(),
        }
    }

    /// A node of `role` that owns no village (`checkpoint:ketapang`, `auditor`, ...).
    pub fn role(role: &str) -> Opts {
        Opts {
            role: role.to_string(),
            village: None,
            roster: None,
            clock: Clock::system(),
        }
    }

    pub fn checkpoint() -> Opts {
        Opts::role("checkpoint:ketapang")
    }

    pub fn with_clock(mut self, clock: Clock) -> Opts {
        self.clock = clock;
        self
    }

    pub fn with_roster(mut self, roster: SharedRoster) -> Opts {
        self.roster = Some(roster);
        self
    }
}

impl Node {
    /// A village node of [`VILLAGE`] (`Some`), or a checkpoint (`None`).
    pub async fn start(village: Option<VillageCode>) -> Node {
        match village {
            Some(v) => {
                assert_eq!(v, self::village());
                Node::start_with(Opts::village()).await
            }
            None => Node::start_with(Opts::checkpoint()).await,
        }
    }

    pub async fn start_with(opts: Opts) -> Node {
        let Opts {
            role,
            village,
            roster,
            clock,
        } = opts;
        let registry = Registry::open(
            MemoryStorage::new(),
            automerge::ActorId::from(vec![9u8; 32]),
            THIS_YEAR,
        )
        .unwrap();
        let (store, store_thread) = spawn_store(registry, accept_all());
        let key = kampung_mesh::identity::Keypair::generate_ed25519();
        let peer_id = key.public().to_peer_id().to_string();
        let mut cfg = MeshConfig::new(key, role.clone());
        cfg.kademlia = false;
        cfg.mdns = false;
        cfg.owned_docs = village.map(|v| format!("v/{v}")).into_iter().collect();
        let (mesh, event_loop) = kampung_mesh::new(cfg, store.clone()).unwrap();
        let shutdown = CancellationToken::new();
        let mesh_task = tokio::spawn(event_loop.run(shutdown.child_token()));
        let state = AppState::new(ApiContext {
            store,
            mesh,
            role,
            own_village: village,
            peer_id,
            this_year: THIS_YEAR,
            metrics: Metrics::new(),
            roster,
            clock,
        });
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

    pub async fn post(&self, uri: &str, body: Value) -> Reply {
        self.call(Method::POST, uri, Some(body)).await
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

/// A reply's error code, after checking its status.
pub fn error_code(reply: &Reply, status: StatusCode) -> String {
    assert_eq!(reply.status, status, "{}", reply.text);
    reply.json()["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code: {}", reply.text))
        .to_string()
}

/// A valid NIK issued in `regency` (`PPKK`), district `district`, born
/// 1990-03-12 (a woman), with this serial.
pub fn nik_from(regency: u16, district: u8, serial: u16) -> String {
    kampung_core::nik::compose(
        regency,
        district,
        time::macros::date!(1990 - 03 - 12),
        kampung_core::Sex::Female,
        serial,
    )
}

/// 10:00 on 1 May 2026 in Banyuwangi (WIB), unix ms.
pub fn may_first_10am_ms() -> i64 {
    time::macros::datetime!(2026-05-01 10:00 +7).unix_timestamp() * 1000
}

pub const DAY_MS: i64 = 86_400_000;
