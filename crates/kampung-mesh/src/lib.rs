//! The libp2p side of the mesh. **Only this crate knows libp2p.**
//!
//! One task ([`EventLoop`]) owns the `Swarm`; everything else talks to it
//! through a [`Client`] over a bounded command channel, with a oneshot reply
//! (the shape of rust-libp2p's file-sharing example). The loop:
//!
//! - listens on TCP (noise + yamux) and QUIC, dials bootstrap peers and redials
//!   them with exponential backoff, discovers peers by mDNS (on a LAN) and
//!   Kademlia (beyond the bootstrap list), and runs identify and ping;
//! - gossips [`kampung_sync::Announce`]s on one topic, and answers and sends
//!   [`kampung_sync::Request`]s over request-response;
//! - runs anti-entropy sessions ([`kampung_sync::sync_with`]) with each peer
//!   on connect and then paced (at most eight per interval however many
//!   peers, the peer compared longest ago first), at most one per peer and a
//!   bounded number at once; inbound requests are served by a bounded number of tasks, and a
//!   peer that asks for more is told "busy".

mod behaviour;
pub mod codec;
mod event_loop;
mod gate;

use std::collections::BTreeMap;
use std::time::Duration;

use kampung_core::{DocId, ReadScope, Role, SharedClock, SystemClock};
use kampung_sync::{Announce, Limits, Request, RequestError, Response};
use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

pub use event_loop::EventLoop;
pub use libp2p::identity;
pub use libp2p::{multiaddr, Multiaddr as Address, PeerId as Peer};

/// The gossip topic carrying announcements.
pub const TOPIC: &str = "kampung/heads/1";

/// Who may hold a connection: the mesh asks, the trust layer answers.
///
/// With enforcement on, a peer must show a certificate (a `Hello`) that
/// passes [`Membership::check_peer`] before any of our data reaches it or any
/// of its requests or gossip is served; a peer that fails, or does not show
/// one in time, is disconnected.
pub trait Membership: Send + Sync + std::fmt::Debug + 'static {
    /// Off for an open mesh (tests and a single office without a root key).
    fn enforced(&self) -> bool;
    /// Our own certificate, as shown to peers (encoded).
    fn certificate(&self) -> Option<Vec<u8>>;
    /// May `peer` stay connected? `shown` is the certificate it just showed.
    fn check_peer(&self, peer: &PeerId, shown: Option<&[u8]>) -> Result<(), String>;
    /// Digest over every statement we hold.
    fn digest(&self) -> [u8; 32];
    /// Every statement we hold (encoded), for a peer whose digest differs.
    fn statements(&self) -> Vec<Vec<u8>>;
    /// Statements from a peer: verify, keep, and return how many were new.
    fn add_statements(&self, from: &PeerId, statements: Vec<Vec<u8>>) -> usize;
    /// Does `peer` write `doc` (so hearing from it refreshes our copy's
    /// freshness)? An open mesh trusts the role a peer claims.
    fn is_owner(&self, peer: &PeerId, doc: &DocId) -> Option<bool> {
        let _ = (peer, doc);
        None
    }
    /// What `peer` may read ([`ReadScope`]), from the certificate it
    /// showed: what it is offered and served. An open mesh: everything.
    fn read_scope(&self, peer: &PeerId) -> ReadScope {
        let _ = peer;
        ReadScope::Everything
    }
    /// Who keeps which village's details under the policy in force
    /// ([`kampung_core::HolderRule`]): part of this node's own scope.
    fn holder_rule(&self) -> kampung_core::HolderRule {
        kampung_core::HolderRule::default()
    }
    /// Members this node keeps connected whatever its number of peers
    /// (at most [`MAX_KIN`]): those that read documents with it that not
    /// every member reads ([`ReadScope::shares_restricted`]: the
    /// checkpoints and auditors with each other; a village and the
    /// villages that keep its details, or whose details it keeps; an
    /// auditor and the villages it visits). Nobody else holds or
    /// forwards those documents, so in a mesh where each node knows a few
    /// dozen of hundreds, a checkpoint's crossings would otherwise reach
    /// the auditor only if they happened to be peers. Each with what it
    /// shares, which sets how often the two compare. An open mesh: none.
    fn kin(&self) -> Vec<(PeerId, Shares)> {
        Vec::new()
    }
}

/// What a node shares with one of its kin ([`Membership::kin`]): how soon
/// a change must reach it sets how often the two compare, whatever the
/// pacing of anti-entropy with other peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Shares {
    /// Crossing logs (checkpoints and auditors with each other): a
    /// checkpoint's crossings are at the auditor and the other checkpoints
    /// within [`Shares::compare_every`] of being logged.
    CrossingLogs,
    /// A village's details (a village and the villages that keep a copy,
    /// an auditor and the villages it visits): a backup copy, which a
    /// minute behind the village itself serves as well.
    Details,
}

impl Shares {
    /// How often a node compares with a kin sharing this.
    pub fn compare_every(self) -> Duration {
        match self {
            Shares::CrossingLogs => Duration::from_secs(10),
            Shares::Details => Duration::from_secs(60),
        }
    }
}

/// Kin ([`Membership::kin`]) a node keeps connected at most, beyond
/// `max_peers`: a regency has a handful of checkpoints and auditors, a
/// village 4 by default (the villages that keep its details and those
/// whose details it keeps); an auditor fills the rest with the villages
/// it visits.
pub const MAX_KIN: usize = 16;

/// Everyone may connect.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenMesh;

impl Membership for OpenMesh {
    fn enforced(&self) -> bool {
        false
    }
    fn certificate(&self) -> Option<Vec<u8>> {
        None
    }
    fn check_peer(&self, _: &PeerId, _: Option<&[u8]>) -> Result<(), String> {
        Ok(())
    }
    fn digest(&self) -> [u8; 32] {
        [0; 32]
    }
    fn statements(&self) -> Vec<Vec<u8>> {
        Vec::new()
    }
    fn add_statements(&self, _: &PeerId, _: Vec<Vec<u8>>) -> usize {
        0
    }
}

/// How the mesh is set up.
#[derive(Debug, Clone)]
pub struct MeshConfig {
    /// Who may connect (see [`Membership`]).
    pub membership: std::sync::Arc<dyn Membership>,
    pub keypair: Keypair,
    pub listen: Vec<Multiaddr>,
    pub bootstrap: Vec<Multiaddr>,
    pub mdns: bool,
    pub kademlia: bool,
    /// How often to compare digests with each peer; with more peers than
    /// `ANTI_ENTROPY_FANOUT` (8), that many sessions in this time, with
    /// the peers compared longest ago.
    pub anti_entropy_every: Duration,
    /// How often an owner announces its documents even if nothing changed.
    pub heartbeat_every: Duration,
    /// What this node is, as shown to peers (`village:35.10.15.2012`,
    /// `checkpoint:ketapang`, `auditor` in identify's agent version).
    pub role: Role,
    /// The documents this node writes (announced as their owner).
    pub owned_docs: Vec<DocId>,
    /// The wall clock of "when we last heard from an owner".
    pub clock: SharedClock,
    pub limits: Limits,
    /// Anti-entropy sessions running at once.
    pub max_sessions: usize,
    /// Inbound requests served at once; more get "busy".
    pub max_inbound: usize,
    /// Announcements processed at once; more are dropped (anti-entropy catches up).
    pub max_announce_tasks: usize,
    pub request_timeout: Duration,
    /// Peers this node dials up to. It keeps twice as many (peers that
    /// dialled it, or that Kademlia reached): beyond that it trims the
    /// longest-held peers outside gossip's mesh, once they are older than
    /// `peer_grace`. Connections from others are accepted up to four times
    /// `max_peers`, so a node that is full still lets a newcomer in and
    /// makes room by trimming, instead of refusing it for ever.
    pub max_peers: usize,
    /// A new peer is never trimmed this soon: time for a session with it.
    pub peer_grace: Duration,
    /// This node's software and version, told to peers in the hello.
    pub software: String,
    /// The wire protocol version this node speaks: [`kampung_sync::WIRE_VERSION`]
    /// (a test sets another to play a node of another version).
    pub wire_version: u32,
    /// Gossip only documents every member may read (see
    /// [`kampung_core::ReadScope::for_everyone`]); a test turns it off to
    /// play a rogue that gossips a crossing log.
    pub scoped_gossip: bool,
}

impl MeshConfig {
    pub fn new(keypair: Keypair, role: Role) -> Self {
        MeshConfig {
            membership: std::sync::Arc::new(OpenMesh),
            keypair,
            listen: Vec::new(),
            bootstrap: Vec::new(),
            mdns: false,
            kademlia: true,
            anti_entropy_every: Duration::from_secs(30),
            heartbeat_every: Duration::from_secs(300),
            role,
            owned_docs: Vec::new(),
            clock: SystemClock::shared(),
            limits: Limits::default(),
            max_sessions: 8,
            max_inbound: 32,
            max_announce_tasks: 64,
            request_timeout: Duration::from_secs(30),
            max_peers: 16,
            peer_grace: Duration::from_secs(30),
            software: format!("kampung {}", env!("CARGO_PKG_VERSION")),
            wire_version: kampung_sync::WIRE_VERSION,
            scoped_gossip: true,
        }
    }
}

/// Errors setting up the mesh.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MeshError {
    #[error("cannot set up the network transport: {0}")]
    Transport(String),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: String, reason: String },
    #[error("the mesh has stopped")]
    Stopped,
}

/// One connected peer.
#[derive(Debug, Clone, Serialize)]
pub struct PeerInfo {
    pub peer_id: String,
    /// Showed a valid certificate (always true in an open mesh).
    pub admitted: bool,
    pub role: Option<String>,
    pub addresses: Vec<String>,
    pub connected_for_secs: u64,
    /// Unix milliseconds of the last completed anti-entropy session.
    pub last_sync_ms: Option<i64>,
    pub in_sync: Option<bool>,
    /// How far the peer's clock is ahead of ours (ms; negative: behind),
    /// once measured (with a root: at every roster exchange).
    pub clock_offset_ms: Option<i64>,
    /// The software and version it runs, as it said in its hello.
    pub software: Option<String>,
}

/// Most recently refused peers shown in the status, at most.
pub const MAX_REFUSED_SHOWN: usize = 20;

/// A peer this node refused (no valid certificate, revoked, another wire
/// protocol version), with the latest reason.
#[derive(Debug, Clone, Serialize)]
pub struct RefusedPeer {
    pub peer_id: String,
    /// Unix milliseconds of the latest refusal.
    pub at_ms: i64,
    pub reason: String,
}

/// Counters since start.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counters {
    pub announces_sent: u64,
    pub announces_received: u64,
    pub announces_dropped: u64,
    pub sessions_ok: u64,
    pub sessions_failed: u64,
    pub changes_received: u64,
    pub documents_received: u64,
    pub bytes_received: u64,
    pub requests_served: u64,
    pub requests_busy: u64,
    /// Requests for a document the peer may not read (refused; each also
    /// a peer fault, and the peer is disconnected).
    pub requests_beyond_scope: u64,
    pub peer_faults: u64,
    /// Documents whose received changes wait for a signature in force (a
    /// writer signed with a wrong clock): not applied yet, nobody's fault.
    pub changes_deferred: u64,
    /// Changes or documents from peers that our store refused to apply
    /// (malformed, or not allowed by the verifier).
    pub changes_rejected: u64,
    /// Peers disconnected for having no valid certificate (or a revoked one).
    pub peers_refused: u64,
    /// Peers disconnected to keep at most twice `max_peers` (see [`MeshConfig::max_peers`]).
    pub peers_trimmed: u64,
    /// Connections established, either way (a peer's churn: with the
    /// peers trimmed, what an idle node's traffic spends on handshakes).
    pub connections_opened: u64,
    /// Requests refused because the peer had not shown a certificate.
    pub requests_unadmitted: u64,
    /// Bytes of sync protocol messages read from peers.
    pub sync_bytes_read: u64,
    /// Bytes of sync protocol messages written to peers.
    pub sync_bytes_written: u64,
    /// Bytes of announcements received by gossip.
    pub gossip_bytes_received: u64,
}

/// A snapshot of the mesh.
#[derive(Debug, Clone, Serialize)]
pub struct MeshStatus {
    pub peer_id: String,
    pub role: String,
    pub listen: Vec<String>,
    pub peers: Vec<PeerInfo>,
    /// Document -> unix milliseconds we last heard from its owner (directly or by gossip).
    pub owner_heard_ms: BTreeMap<DocId, i64>,
    pub sessions_running: usize,
    /// The most recently refused peers, newest first (at most [`MAX_REFUSED_SHOWN`]).
    pub refused: Vec<RefusedPeer>,
    pub counters: Counters,
    /// Bootstrap addresses and the wait before the next redial while not
    /// connected (ms): it doubles up to a minute, and starts again only
    /// once a sync session with a peer there succeeds.
    pub bootstrap: Vec<BootstrapState>,
}

/// One bootstrap address.
#[derive(Debug, Clone, Serialize)]
pub struct BootstrapState {
    pub address: String,
    pub backoff_ms: u64,
}

pub(crate) enum Command {
    Request {
        peer: PeerId,
        req: Request,
        reply: oneshot::Sender<Result<Response, RequestError>>,
    },
    Announce {
        announce: Announce,
    },
    Status {
        reply: oneshot::Sender<MeshStatus>,
    },
    Dial {
        addr: Multiaddr,
    },
    SyncNow,
}

/// Document -> unix milliseconds we last heard from its owner, shared by the
/// event loop (which writes it) and every [`Client`] (which read it without a
/// round trip to the loop: a verdict needs it on the hot path).
pub type Heard = std::sync::Arc<std::sync::RwLock<BTreeMap<DocId, i64>>>;

/// Admitted peer -> how far its clock is ahead of ours (ms; negative:
/// behind), measured at each roster exchange from the time it answered and
/// the round trip. Written by the event loop, read by every [`Client`].
pub type PeerClocks = std::sync::Arc<std::sync::RwLock<BTreeMap<PeerId, i64>>>;

/// Each kin ([`Membership::kin`]) -> since when (unix ms) it is not
/// connected, `None` while it is. Written by the event loop, read by every
/// [`Client`].
pub type KinAway = std::sync::Arc<std::sync::RwLock<BTreeMap<PeerId, Option<i64>>>>;

/// Talks to the event loop. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    tx: mpsc::Sender<Command>,
    heard: Heard,
    clocks: PeerClocks,
    kin_away: KinAway,
}

impl Client {
    /// When we last heard from each document's owner (shared, read without
    /// asking the event loop).
    pub fn heard(&self) -> Heard {
        self.heard.clone()
    }

    /// The clock offsets of connected peers (theirs minus ours, ms), as last measured.
    pub fn peer_clock_offsets(&self) -> Vec<i64> {
        self.clocks
            .read()
            .map(|m| m.values().copied().collect())
            .unwrap_or_default()
    }

    pub(crate) fn clocks(&self) -> PeerClocks {
        self.clocks.clone()
    }

    pub(crate) fn kin_away_map(&self) -> KinAway {
        self.kin_away.clone()
    }

    /// This node's kin ([`Membership::kin`]), each with since when (unix
    /// ms) it is not connected, `None` while it is: crossing logs travel
    /// only between kin.
    pub fn kin(&self) -> Vec<(PeerId, Option<i64>)> {
        self.kin_away
            .read()
            .map(|m| m.iter().map(|(p, t)| (*p, *t)).collect())
            .unwrap_or_default()
    }

    /// Unix milliseconds we last heard from the owner of `doc`.
    pub fn heard_from_owner(&self, doc: &DocId) -> Option<i64> {
        self.heard.read().ok()?.get(doc).copied()
    }

    /// Announce new heads of a document (after a local write).
    pub async fn announce(&self, announce: Announce) -> Result<(), MeshError> {
        self.tx
            .send(Command::Announce { announce })
            .await
            .map_err(|_| MeshError::Stopped)
    }

    pub async fn status(&self) -> Result<MeshStatus, MeshError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Status { reply })
            .await
            .map_err(|_| MeshError::Stopped)?;
        rx.await.map_err(|_| MeshError::Stopped)
    }

    pub async fn dial(&self, addr: Multiaddr) -> Result<(), MeshError> {
        self.tx
            .send(Command::Dial { addr })
            .await
            .map_err(|_| MeshError::Stopped)
    }

    /// Start anti-entropy with every connected peer now.
    pub async fn sync_now(&self) -> Result<(), MeshError> {
        self.tx
            .send(Command::SyncNow)
            .await
            .map_err(|_| MeshError::Stopped)
    }

    /// Ask one connected peer directly and wait for its answer (anti-entropy
    /// does this itself; this is for tools and tests).
    pub async fn request(&self, peer: PeerId, req: Request) -> Result<Response, RequestError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Request { peer, req, reply })
            .await
            .map_err(|_| RequestError::Shutdown)?;
        rx.await.map_err(|_| RequestError::Shutdown)?
    }
}

/// Asks one peer through the event loop.
#[derive(Debug, Clone)]
pub(crate) struct PeerRequester {
    pub peer: PeerId,
    pub client: Client,
}

impl kampung_sync::Requester for PeerRequester {
    fn peer(&self) -> String {
        self.peer.to_string()
    }
    async fn request(&self, req: Request) -> Result<Response, RequestError> {
        self.client.request(self.peer, req).await
    }
}

/// Build the swarm and its loop. Run the loop with [`EventLoop::run`].
pub fn new<R>(config: MeshConfig, replica: R) -> Result<(Client, EventLoop<R>), MeshError>
where
    R: kampung_sync::Replica + Clone + 'static,
{
    let (tx, rx) = mpsc::channel(256);
    let client = Client {
        tx,
        heard: Heard::default(),
        clocks: PeerClocks::default(),
        kin_away: KinAway::default(),
    };
    let event_loop = EventLoop::new(config, replica, client.clone(), rx)?;
    Ok((client, event_loop))
}
