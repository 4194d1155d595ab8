//! Assembling a node: the store task, the trust roster and the verifier it
//! implies, the mesh, one shutdown. Every way of running a node goes through
//! [`start`]: `kampung run` ([`start_with_config`]), the CLI on a stopped
//! node ([`open_offline`]), the tests and the benchmarks ([`Parts`]).

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use kampung_core::clock::this_year;
use kampung_core::{DocId, LogMonth, Role, SharedClock, SystemClock};
use kampung_datadir::{DataDir, DataDirError};
use kampung_mesh::identity::Keypair;
use kampung_mesh::{Membership, MeshConfig, MeshError};
use kampung_runtime::membership::RosterMembership;
use kampung_runtime::store::{accept_all, spawn_store};
use kampung_runtime::Config;
use kampung_store::storage::MemoryStorage;
use kampung_store::trust::{load_roster, RosterVerifier, SharedRoster};
use kampung_store::{ChangeVerifier, Registry, Storage, StoreError};
use kampung_trust::NodeKey;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::access::{AccessLimits, AccessLog};
use crate::people::People;
use crate::{Inner, Metrics, Node};

/// Whom the node trusts.
#[derive(Debug, Clone)]
pub enum Trust {
    /// No root key: every peer is admitted and every change accepted (a
    /// trusted network only).
    Open,
    /// The mesh's root key: the roster is the statements under it kept in
    /// the store; peers must show a certificate, and every remote write must
    /// be signed by a writer the roster allows.
    Root(NodeKey),
    /// A roster the caller shares (tests that add certificates as they go).
    Roster(SharedRoster),
}

/// What a node is made of.
#[derive(Debug)]
pub struct Parts<S: Storage> {
    pub registry: Registry<S>,
    pub keypair: Keypair,
    pub role: Role,
    pub trust: Trust,
    pub clock: SharedClock,
    /// How the node joins the mesh; `None`: offline (no mesh at all).
    pub mesh: Option<MeshConfig>,
    /// Who may connect, if not what `trust` implies (a test's rogue node
    /// that admits anyone while it verifies writes).
    pub membership: Option<Arc<dyn Membership>>,
    /// The local credential (`local.secret` of a data directory; random
    /// for a node in memory).
    pub local_secret: String,
    /// A session ends after this long unused (a shift: 12 h by default).
    pub session_idle_ms: i64,
    /// How much of the access log is kept.
    pub access_limits: AccessLimits,
    /// What the health checks look at (the data directory's disk).
    pub health: crate::HealthConfig,
}

/// A session's default idle expiry: a shift.
pub const SESSION_IDLE_MS: i64 = 12 * 3600 * 1000;

impl Parts<MemoryStorage> {
    /// A node with a fresh key and an in-memory store that signs its writes
    /// with that key (tests, examples, simulations). It listens on nothing
    /// until told to (see [`Parts::network`]).
    pub fn in_memory(role: Role) -> Parts<MemoryStorage> {
        Parts::in_memory_with_key(Keypair::generate_ed25519(), role)
    }

    /// [`Parts::in_memory`] with a given key (one a root has certified).
    pub fn in_memory_with_key(keypair: Keypair, role: Role) -> Parts<MemoryStorage> {
        let actor = node_actor(&keypair);
        let clock = SystemClock::shared();
        // A fresh in-memory store cannot fail to open.
        let mut registry = match Registry::open(MemoryStorage::new(), actor, this_year(&*clock)) {
            Ok(r) => r,
            Err(e) => unreachable!("an empty in-memory store failed to open: {e}"),
        };
        registry.set_signer(Arc::new(keypair.clone()));
        Parts::new(registry, keypair, role).clock(clock)
    }
}

/// The Automerge actor of a node's changes: its raw ed25519 public key.
fn node_actor(keypair: &Keypair) -> automerge::ActorId {
    match keypair.public().try_into_ed25519() {
        Ok(ed) => automerge::ActorId::from(ed.to_bytes().to_vec()),
        Err(_) => automerge::ActorId::from(keypair.public().encode_protobuf()),
    }
}

impl<S: Storage> Parts<S> {
    /// A node around an opened registry, with the system clock, no root
    /// (open mesh) and the mesh's defaults (no listen address, no mDNS).
    pub fn new(registry: Registry<S>, keypair: Keypair, role: Role) -> Parts<S> {
        let mut mesh = mesh_config(&keypair, &role);
        mesh.mdns = false;
        Parts {
            registry,
            keypair,
            role,
            trust: Trust::Open,
            clock: SystemClock::shared(),
            mesh: Some(mesh),
            membership: None,
            local_secret: format!(
                "kl_{}",
                (0..32)
                    .map(|_| format!("{:02x}", rand::random::<u8>()))
                    .collect::<String>()
            ),
            session_idle_ms: SESSION_IDLE_MS,
            access_limits: AccessLimits::default(),
            health: crate::HealthConfig::default(),
        }
    }

    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    pub fn trust(mut self, trust: Trust) -> Self {
        self.trust = trust;
        self
    }

    /// Admit peers by `membership` instead of by what `trust` implies.
    pub fn membership(mut self, membership: Arc<dyn Membership>) -> Self {
        self.membership = Some(membership);
        self
    }

    /// No mesh: the node writes and reads its own store only.
    pub fn offline(mut self) -> Self {
        self.mesh = None;
        self
    }

    /// Set up how the node joins the mesh (listen and bootstrap addresses,
    /// intervals, limits); the role, key, membership and owned documents are
    /// filled in by [`start`].
    pub fn network(mut self, set: impl FnOnce(&mut MeshConfig)) -> Self {
        let mesh = self
            .mesh
            .get_or_insert_with(|| mesh_config(&self.keypair, &self.role));
        set(mesh);
        self
    }
}

/// The mesh's defaults, with this build's version told to peers.
fn mesh_config(keypair: &Keypair, role: &Role) -> MeshConfig {
    let mut mesh = MeshConfig::new(keypair.clone(), role.clone());
    mesh.software = format!("kampung {}", crate::VERSION);
    mesh
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Mesh(#[from] MeshError),
    #[error("{field}: {reason}")]
    Config { field: String, reason: String },
    #[error("the node key is not an ed25519 key")]
    NotEd25519,
    #[error("the store thread panicked")]
    StorePanicked,
    #[error("the node's people cannot be read: {0}")]
    People(crate::NodeError),
}

/// A started node: its handle, and what stops it.
#[derive(Debug)]
pub struct Running {
    node: Node,
    local_secret: String,
    /// The access log's, the retention's and the owners-heard tasks.
    tasks: Vec<tokio::task::JoinHandle<()>>,
    shutdown: CancellationToken,
    mesh_task: Option<tokio::task::JoinHandle<()>>,
    store_thread: Option<std::thread::JoinHandle<Result<(), StoreError>>>,
}

impl Running {
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The local credential (what the CLI on this machine shows the API).
    pub fn local_credential(&self) -> &str {
        &self.local_secret
    }

    /// A token cancelled when the node stops: tasks serving the node (the
    /// API server) stop with it.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.child_token()
    }

    /// Stop the mesh, persist the index and stop the store; returns the
    /// store's final error, if any. Handles still held answer "shutting down".
    pub async fn stop(mut self) -> Result<(), StartError> {
        self.shutdown.cancel();
        if let Some(task) = self.mesh_task.take() {
            let _ = task.await;
        }
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
        self.node.store().stop().await;
        let Some(thread) = self.store_thread.take() else {
            return Ok(());
        };
        match tokio::task::spawn_blocking(move || thread.join()).await {
            Ok(Ok(result)) => Ok(result?),
            _ => Err(StartError::StorePanicked),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A node dropped without `stop` still stops its mesh task.
        self.shutdown.cancel();
    }
}

/// Start a node from its parts: the store task, the roster and verifier
/// its trust implies, and (unless offline) the mesh.
pub async fn start<S: Storage>(parts: Parts<S>) -> Result<Running, StartError> {
    let Parts {
        mut registry,
        keypair,
        role,
        trust,
        clock,
        mesh,
        membership,
        local_secret,
        session_idle_ms,
        access_limits,
        health,
    } = parts;
    let table = |name| registry.storage().local_table(name);
    let local_tables = crate::backup::LOCAL_TABLES
        .into_iter()
        .map(|name| Ok((name, table(name)?)))
        .collect::<Result<Vec<_>, kampung_store::StoreError>>()?;
    let access = AccessLog::new(table("access")?, access_limits);
    let heard_table = table(crate::heard::TABLE)?;
    let people = People::open(
        table("people")?,
        table("sessions")?,
        table("tokens")?,
        &local_secret,
        session_idle_ms,
    )
    .map_err(StartError::People)?;
    let roster: Option<SharedRoster> = match trust {
        Trust::Open => None,
        Trust::Root(root) => Some(Arc::new(RwLock::new(load_roster(
            registry.storage(),
            root,
        )?))),
        Trust::Roster(r) => Some(r),
    };
    let verifier: Arc<dyn ChangeVerifier + Send + Sync> = match &roster {
        Some(r) => Arc::new(RosterVerifier::new(r.clone(), clock.clone())),
        None => accept_all(),
    };
    let this_year = this_year(&*clock);
    if matches!(role, Role::Auditor) {
        // The auditor searches and replays every log: it keeps them all,
        // loaded while the store is idle once the node answers.
        registry.set_logs_held(usize::MAX);
    }
    // With a root, a node holds only what its certificate lets it read.
    registry.set_scope(crate::own_scope(&role, roster.as_ref()));
    if let Role::Village { village } = &role {
        // A village's cards follow its details: made here for a store from
        // before cards, mended after a write that stopped between the two.
        if let Err(e) = registry.derive_card(*village, clock.now_ms()) {
            tracing::warn!(%village, error = %e, "cannot bring the village's verdict cards in line with its details; tried again at the next start");
        }
    }
    let metrics = Metrics::new();
    let (store, store_thread) = spawn_store(registry, verifier);
    let peer_id = keypair.public().to_peer_id().to_string();
    let shutdown = CancellationToken::new();
    let (mesh_client, mesh_task) = match mesh {
        None => (None, None),
        Some(mut config) => {
            config.keypair = keypair.clone();
            config.role = role.clone();
            config.clock = clock.clone();
            config.owned_docs = owned_docs(&role, &peer_id, &clock);
            if let Some(r) = &roster {
                let own =
                    NodeKey::from_public(&keypair.public()).map_err(|_| StartError::NotEd25519)?;
                if r.read()
                    .map(|r| r.signed_certificate(&own, clock.now_ms()).is_none())
                    .unwrap_or(true)
                {
                    warn!("this node has no certificate in force: peers will not admit it. Ask the regency administrator for one and add it with `kampung trust add`");
                }
                let expired = metrics.documents_expired.clone();
                config.membership = Arc::new(
                    RosterMembership::new(r.clone(), own, store.clone(), clock.clone()).on_dropped(
                        Arc::new(move |dropped| {
                            expired.inc_by(dropped as u64);
                        }),
                    ),
                );
            }
            if let Some(m) = membership {
                config.membership = m;
            }
            let (client, event_loop) = kampung_mesh::new(config, store.clone())?;
            let task = tokio::spawn(event_loop.run(shutdown.child_token()));
            (Some(client), Some(task))
        }
    };
    let node = Node(Arc::new(Inner {
        store,
        mesh: mesh_client,
        role,
        peer_id,
        this_year,
        roster,
        clock,
        metrics,
        people,
        access: access.clone(),
        health,
        local_tables,
    }));
    let access_task = tokio::spawn(access.run(node.clock().clone(), shutdown.child_token()));
    let retention_task = tokio::spawn(
        node.clone()
            .run_retention(crate::retention::SWEEP_EVERY, shutdown.child_token()),
    );
    let mut tasks = vec![access_task, retention_task];
    if let Some(mesh) = node.mesh() {
        // When owners were last heard, as this node knew before it stopped.
        let heard = mesh.heard();
        match crate::heard::restore(&heard_table, &heard) {
            Ok(n) => tracing::debug!(documents = n, "owners last heard, as kept"),
            Err(e) => {
                warn!(error = %e, "cannot read when owners were last heard; copies count as not heard from until they are")
            }
        }
        tasks.push(tokio::spawn(crate::heard::run(
            heard_table,
            heard,
            shutdown.child_token(),
        )));
    }
    for w in node.warnings() {
        warn!(code = w.code, "{}", w.detail);
    }
    Ok(Running {
        local_secret,
        tasks,
        node,
        shutdown,
        mesh_task,
        store_thread: Some(store_thread),
    })
}

/// The documents a node of `role` writes as their owner: a village its
/// cards and details, a checkpoint its crossing log.
fn owned_docs(role: &Role, peer_id: &str, clock: &SharedClock) -> Vec<DocId> {
    match role {
        Role::Village { village } => vec![DocId::card(*village), DocId::village(*village)],
        Role::Checkpoint { .. } => {
            // This month's and last month's logs: what peers may lack after
            // a cut. Older months reach them by anti-entropy.
            let now = clock.now_ms();
            [0, -1]
                .into_iter()
                .filter_map(|n| LogMonth::of_ms(now).map(|m| DocId::crossings(peer_id, m.plus(n))))
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Open a node's data directory: its registry (signing with its key) and
/// whom it trusts.
fn open_dir(
    data: &Path,
    clock: &SharedClock,
) -> Result<Parts<kampung_store::storage::sled_storage::SledStorage>, StartError> {
    let dir = DataDir::open(data)?;
    let registry = dir.open_registry(this_year(&**clock))?;
    let trust = match dir.root_key()? {
        Some(root) => Trust::Root(root),
        None => Trust::Open,
    };
    let mut parts = Parts::new(registry, dir.keypair().clone(), dir.role().clone())
        .trust(trust)
        .clock(clock.clone());
    parts.local_secret = dir.local_secret()?;
    parts.health.data_dir = Some(data.to_path_buf());
    Ok(parts)
}

/// Open a stopped node's data directory without joining the mesh (the CLI
/// writing or reading while `kampung run` is not running). Its writes are
/// announced when the node next runs: the owner announces its documents as
/// soon as a peer admits it, and anti-entropy pulls the rest.
pub async fn open_offline(data: &Path) -> Result<Running, StartError> {
    start(open_dir(data, &SystemClock::shared())?.offline()).await
}

/// Start the node `kampung run` runs: the data directory and mesh settings
/// of `config`.
pub async fn start_with_config(config: &Config) -> Result<Running, StartError> {
    let parts = open_dir(&config.data, &SystemClock::shared())?;
    let net = &config.network;
    let mut listen = parse_addrs("network.listen", &net.listen)?;
    let bootstrap = parse_addrs("network.bootstrap", &net.bootstrap)?;
    let development = matches!(parts.trust, Trust::Open);
    if development {
        // Without the root nothing is checked: such a node must not be
        // reachable from another machine, nor look for peers on the LAN.
        listen = listen.into_iter().map(unspecified_to_loopback).collect();
        development_only_on_loopback(&listen, &config.api.listen)?;
        warn!(
            "DEVELOPMENT MODE (no root key): this node accepts any change from any peer; \
             it listens on loopback only and mDNS is off. For a real mesh: kampung trust root ROOT.pub"
        );
    }
    let parts = parts.network(|m| {
        m.listen = listen;
        m.bootstrap = bootstrap;
        m.mdns = net.mdns && !development;
        m.kademlia = net.kademlia;
        m.anti_entropy_every = config.anti_entropy();
        m.heartbeat_every = config.heartbeat();
        m.max_peers = net.max_peers;
        m.max_sessions = config.limits.max_sessions;
        m.max_inbound = config.limits.max_inbound_requests;
        m.request_timeout = Duration::from_secs(config.limits.request_timeout_secs);
        m.limits.max_message = config.limits.max_message_bytes;
    });
    let mut parts = parts;
    parts.session_idle_ms = i64::try_from(config.api.session_idle_hours)
        .unwrap_or(12)
        .saturating_mul(3_600_000);
    parts.access_limits = AccessLimits {
        days: config.api.access_log_days,
        max_entries: config.api.access_log_max_entries,
    };
    let running = start(parts).await?;
    info!(peer = %running.node().peer_id(), role = %running.node().role().tag(), "node started");
    Ok(running)
}

/// "Every interface" (`0.0.0.0`, `::`, the default) becomes this machine's
/// loopback for a node in development mode.
fn unspecified_to_loopback(a: kampung_mesh::Address) -> kampung_mesh::Address {
    use kampung_mesh::multiaddr::Protocol;
    a.iter()
        .map(|p| match p {
            Protocol::Ip4(ip) if ip.is_unspecified() => {
                Protocol::Ip4(std::net::Ipv4Addr::LOCALHOST)
            }
            Protocol::Ip6(ip) if ip.is_unspecified() => {
                Protocol::Ip6(std::net::Ipv6Addr::LOCALHOST)
            }
            other => other,
        })
        .collect()
}

/// A node in development mode listens on loopback addresses only (the mesh
/// and the API), or refuses to start saying which address and why.
fn development_only_on_loopback(
    listen: &[kampung_mesh::Address],
    api: &str,
) -> Result<(), StartError> {
    use kampung_mesh::multiaddr::Protocol;
    let refuse = |field: String, what: &str| {
        StartError::Config {
        field,
        reason: format!(
            "'{what}' is not a loopback address: a node without the mesh's root key \
             (development mode) accepts any change from anyone, so it listens on this machine only \
             (127.0.0.1 or ::1). Configure the root with `kampung trust root ROOT.pub` to join a real mesh"
        ),
    }
    };
    for (i, a) in listen.iter().enumerate() {
        let loopback = match a.iter().next() {
            Some(Protocol::Ip4(ip)) => ip.is_loopback(),
            Some(Protocol::Ip6(ip)) => ip.is_loopback(),
            _ => false,
        };
        if !loopback {
            return Err(refuse(format!("network.listen[{i}]"), &a.to_string()));
        }
    }
    let api_loopback = api
        .parse::<std::net::SocketAddr>()
        .is_ok_and(|a| a.ip().is_loopback())
        || api.starts_with("localhost:");
    if !api_loopback {
        return Err(refuse("api.listen".into(), api));
    }
    Ok(())
}

fn parse_addrs(field: &str, list: &[String]) -> Result<Vec<kampung_mesh::Address>, StartError> {
    list.iter()
        .enumerate()
        .map(|(i, a)| {
            a.parse().map_err(|_| StartError::Config {
                field: format!("{field}[{i}]"),
                reason: format!("'{a}' is not a multiaddr"),
            })
        })
        .collect()
}
