//! The API through its router (no sockets): one in-memory store and one mesh
//! with no listeners per test node.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod cases;
mod checkpoint;
mod documents;
mod metrics;
mod openapi;
mod residents;
mod spec;
mod trust;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use std::sync::Arc;

use kampung_api::AppState;
use kampung_core::{ManualClock, Resident, Role, SharedClock, SystemClock, VillageCode};
use kampung_node::{Parts, Trust};
use kampung_store::trust::SharedRoster;
use serde_json::Value;
use tower::ServiceExt;

pub const VILLAGE: &str = "35.10.15.2012";

pub fn village() -> VillageCode {
    VillageCode::parse(VILLAGE).unwrap()
}

/// A node's API with its store and mesh tasks.
#[derive(Debug)]
pub struct Node {
    pub app: Router,
    pub state: AppState,
    /// The node's peer id.
    pub peer_id: String,
    running: kampung_node::Running,
}

/// A clock set by hand (a case on its 15th day without waiting two weeks).
#[derive(Debug)]
pub struct Clock;

impl Clock {
    pub fn manual(unix_ms: i64) -> Arc<ManualClock> {
        ManualClock::new(unix_ms)
    }
}

/// A response: status, content type and body (JSON when it parses).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub text: String,
    /// The `Set-Cookie` header, if any.
    pub set_cookie: Option<String>,
    /// Every header, lowercase names (the last of repeated ones).
    pub headers: std::collections::HashMap<String, String>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

/// How a test node is set up.
#[derive(Debug, Clone)]
pub struct Opts {
    pub role: Role,
    pub roster: Option<SharedRoster>,
    pub clock: SharedClock,
    pub health: kampung_node::HealthConfig,
}

impl Opts {
    pub fn village() -> Opts {
        Opts::role(&format!("village:{VILLAGE}"))
    }

    /// A node of `role` (`checkpoint:ketapang`, `auditor`, ...).
    pub fn role(role: &str) -> Opts {
        Opts {
            role: role.parse().unwrap(),
            roster: None,
            clock: SystemClock::shared(),
            health: kampung_node::HealthConfig::default(),
        }
    }

    pub fn checkpoint() -> Opts {
        Opts::role("checkpoint:ketapang")
    }

    pub fn with_clock(mut self, clock: Arc<ManualClock>) -> Opts {
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
            roster,
            clock,
            health,
        } = opts;
        let trust = roster.map_or(Trust::Open, Trust::Roster);
        let mut parts = Parts::in_memory(role)
            .clock(clock)
            .trust(trust)
            .network(|m| m.kademlia = false);
        parts.health = health;
        let running = kampung_node::start(parts).await.unwrap();
        let state = AppState::new(running.node().clone());
        Node {
            app: kampung_api::router(state.clone()),
            peer_id: running.node().peer_id().to_string(),
            state,
            running,
        }
    }

    /// Write records straight to the store (setup, not under test).
    pub async fn put(&self, records: Vec<Resident>) {
        let village = records[0].village;
        self.state
            .store()
            .write(village, records, 1, None)
            .await
            .unwrap()
            .unwrap();
    }

    /// `Bearer` and the node's local credential.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.running.local_credential())
    }

    /// A request as the node's own machine makes it (the local credential).
    pub async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> Reply {
        let auth = format!("Bearer {}", self.running.local_credential());
        self.call_as(
            method,
            uri,
            body,
            &[(header::AUTHORIZATION.as_str(), &auth)],
        )
        .await
    }

    /// A request with these headers (and no credential unless given).
    pub async fn call_as(
        &self,
        method: Method,
        uri: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
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
        let set_cookie = response
            .headers()
            .get(header::SET_COOKIE)
            .map(|v| v.to_str().unwrap().to_string());
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Reply {
            status,
            content_type,
            text: String::from_utf8(bytes.to_vec()).unwrap(),
            set_cookie,
            headers,
        }
    }

    /// Add a person with this role (as the node's own machine) and sign them
    /// in; the session cookie, `kampung_session=...`.
    pub async fn sign_in(&self, login: &str, name: &str, role: &str) -> String {
        let r = self
            .post(
                "/v1/users",
                serde_json::json!({"login": login, "name": name, "role": role}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let password = r.json()["password"].as_str().unwrap().to_string();
        let r = self
            .call_as(
                Method::POST,
                "/v1/session",
                Some(serde_json::json!({"login": login, "password": password})),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.set_cookie.unwrap().split(';').next().unwrap().to_string()
    }

    /// A request from a signed-in browser of this node (its cookie, same origin).
    pub async fn call_with(
        &self,
        cookie: &str,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> Reply {
        self.call_as(
            method,
            uri,
            body,
            &[
                ("cookie", cookie),
                ("host", "127.0.0.1:7480"),
                ("origin", "http://127.0.0.1:7480"),
            ],
        )
        .await
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.call(Method::GET, uri, None).await
    }

    pub async fn post(&self, uri: &str, body: Value) -> Reply {
        self.call(Method::POST, uri, Some(body)).await
    }

    /// Stop the mesh and the store, and check both ended cleanly.
    pub async fn stop(self) {
        drop(self.app);
        drop(self.state);
        tokio::time::timeout(std::time::Duration::from_secs(10), self.running.stop())
            .await
            .expect("the node stops within 10 s")
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
