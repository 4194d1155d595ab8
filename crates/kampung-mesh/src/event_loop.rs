//! The one task that owns the Swarm.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kampung_core::{DocId, ReadScope, Role};
use kampung_sync::message::{decode_announce, encode};
use kampung_sync::{
    Announce, Hello, Replica, Request, RequestError, Response, SessionStats, SyncError,
};
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::swarm::{dial_opts::DialOpts, SwarmEvent};
use libp2p::{gossipsub, identify, kad, mdns, noise, tcp, yamux, Multiaddr, PeerId, Swarm};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, instrument, trace, warn};

use crate::behaviour::{self, Behaviour, BehaviourEvent};
use crate::codec::Inbound;
use crate::{
    Client, Command, Counters, MeshConfig, MeshError, MeshStatus, PeerInfo, PeerRequester, TOPIC,
};

/// Results of spawned work, back into the loop.
enum Internal {
    Respond {
        channel: ResponseChannel<Response>,
        response: Response,
    },
    SessionDone {
        peer: PeerId,
        result: Result<SessionStats, SyncError>,
    },
    AnnounceDone {
        peer: PeerId,
        message: gossipsub::MessageId,
        result: Result<SessionStats, SyncError>,
    },
}

struct PeerState {
    /// Showed a valid certificate (always true in an open mesh).
    admitted: bool,
    role: Option<String>,
    addresses: Vec<Multiaddr>,
    since: Instant,
    last_sync: Option<(Instant, i64, bool)>,
    /// When we last asked it for its roster.
    last_roster: Option<Instant>,
    /// Some of its data waits (deferred): its roster was asked for, and if
    /// that brings new statements (a writer's certificate that had not
    /// reached us) it is synced again at once.
    behind_roster: bool,
    /// Sync with it at the next tick, whenever it was last synced.
    resync: bool,
    /// Being disconnected to make room (see `EventLoop::trim`).
    trimmed: bool,
    connections: usize,
    /// The software it said it runs in its hello.
    software: Option<String>,
    /// The digest of the roster it last said it holds (in its roster
    /// request): who may read what follows from the roster, so while ours
    /// differ the two of us may disagree on it in good faith.
    roster_digest: Option<[u8; 32]>,
}

/// Why a peer was last refused, and when it was last warned about.
struct Refusal {
    logged: Instant,
    at_ms: i64,
    reason: String,
    /// The reason is the peer's (it refused us), not ours.
    relayed: bool,
}

struct Redial {
    next: Instant,
    backoff: Duration,
}

const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Paced anti-entropy sessions a node starts per `anti_entropy_every` at
/// most (besides the first with each new peer): a node's idle traffic stays
/// flat however many peers it holds, and a change still reaches a node that
/// missed it within a few rounds (epidemic anti-entropy).
const ANTI_ENTROPY_FANOUT: u32 = 8;
/// How often a node checks that its kin are connected (and the first
/// backoff of dialling one that is not).
const KIN_EVERY: Duration = Duration::from_secs(10);
/// A peer must show a valid certificate this soon after connecting.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// How often admitted peers are checked again (expiry, revocations) and asked for their roster.
const RECHECK_EVERY: Duration = Duration::from_secs(5);
/// Peers asked for their roster at each recheck (those asked longest ago
/// first) while the roster here is unchanged: the background comparison
/// (and clock sample) with every peer in turn. Eight every 5 s were a
/// quarter of an idle node's packets (BENCHMARKS-regency-mesh.md).
const ROSTER_FANOUT: usize = 2;
/// Peers offered the roster at the first recheck after it changed here (a
/// statement learnt from a peer or given by the operator): each sees our
/// digest differ, asks back, learns it and offers it on in turn, so a
/// revocation crosses the mesh in a few round trips.
const ROSTER_PUSH: usize = 8;

/// How long after its refusal a cut-off peer is disconnected: the refusal
/// is a response on the connection, and closing at once could drop it.
const EXPEL_AFTER: Duration = Duration::from_millis(200);
/// The least time between two roster requests to one peer asked because its
/// data waits for a certificate.
const ROSTER_RETRY: Duration = Duration::from_secs(1);
/// Refused peers remembered at most (for the rate limit and the status).
const MAX_REFUSALS_KEPT: usize = 4096;
/// How often the refusal of one peer is logged as a warning.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(600);

/// How long before its first heartbeat a node starts as if it had sent
/// one: a point of the period taken from its peer id, so the mesh's
/// heartbeats spread over the period.
fn heartbeat_phase(peer: &PeerId, every: Duration) -> Duration {
    let bytes = peer.to_bytes();
    let tail: [u8; 8] = bytes[bytes.len() - 8..].try_into().unwrap_or_default();
    let every_ms = every.as_millis().max(1) as u64;
    Duration::from_millis(u64::from_be_bytes(tail) % every_ms)
}

/// Owns the swarm; see the crate docs.
pub struct EventLoop<R> {
    swarm: Swarm<Behaviour>,
    config: MeshConfig,
    replica: R,
    client: Client,
    commands: mpsc::Receiver<Command>,
    internal_tx: mpsc::Sender<Internal>,
    internal_rx: mpsc::Receiver<Internal>,
    pending: HashMap<OutboundRequestId, oneshot::Sender<Result<Response, RequestError>>>,
    /// Hello and roster requests in flight: to whom, and for a roster
    /// request when it was sent (monotonic, and by our clock).
    pending_trust: HashMap<OutboundRequestId, (PeerId, Option<(Instant, i64)>)>,
    clocks: crate::PeerClocks,
    /// Each refused peer's last refusal (bounded).
    refusals: HashMap<PeerId, Refusal>,
    /// Peers to cut off, with when they were refused: each is disconnected
    /// at the first tick [`EXPEL_AFTER`] later, so that the refusal (a
    /// response on the connection) is written before the connection closes.
    expel: Vec<(PeerId, Instant)>,
    /// Peers being cut off (each counted once in `peers_refused`).
    cutting: HashSet<PeerId>,
    last_recheck: Instant,
    /// The roster digest at the last recheck: one that differs now was
    /// changed here since, and is offered to [`ROSTER_PUSH`] peers.
    roster_checked: Option<[u8; 32]>,
    peers: HashMap<PeerId, PeerState>,
    syncing: HashSet<PeerId>,
    /// Documents our sessions and announcement handlers are pulling now:
    /// each is pulled from one peer at a time (a joining node's sessions
    /// would otherwise each fetch every document).
    pulls: kampung_sync::Pulls,
    inbound: Arc<Semaphore>,
    announce_tasks: Arc<Semaphore>,
    tasks: JoinSet<()>,
    owner_heard: crate::Heard,
    redial: HashMap<Multiaddr, Redial>,
    dialled_addr: HashMap<Multiaddr, PeerId>,
    counters: Counters,
    topic: libp2p::gossipsub::IdentTopic,
    last_heartbeat: Instant,
    last_walk: Instant,
    /// Members kept connected whatever the number of peers
    /// ([`crate::Membership::kin`]), as of `last_kin`, each with how
    /// often it is compared with whatever the pacing of anti-entropy
    /// ([`crate::Shares::compare_every`]): restricted documents travel only
    /// between kin, each pulling what the other has, so a change reaches
    /// them within this, not when pacing comes round to them (with dozens
    /// of peers, minutes).
    kin: HashMap<PeerId, Duration>,
    /// Kin not connected and since when, shared with every [`Client`].
    kin_away: crate::KinAway,
    last_kin: Option<Instant>,
    /// When each kin not connected may be dialled or looked up again.
    kin_redial: HashMap<PeerId, Redial>,
    /// When the next paced anti-entropy session may start.
    next_anti_entropy: Instant,
    wire: Arc<crate::codec::WireBytes>,
}

impl<R> std::fmt::Debug for EventLoop<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoop")
            .field("peer", self.swarm.local_peer_id())
            .field("peers", &self.peers.len())
            .finish()
    }
}

impl<R: Replica + Clone + 'static> EventLoop<R> {
    pub(crate) fn new(
        config: MeshConfig,
        replica: R,
        client: Client,
        commands: mpsc::Receiver<Command>,
    ) -> Result<Self, MeshError> {
        let transport = |e: &dyn std::fmt::Display| MeshError::Transport(e.to_string());
        let cfg = config.clone();
        let wire = Arc::new(crate::codec::WireBytes::default());
        let wire_for_behaviour = wire.clone();
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(config.keypair.clone())
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .map_err(|e| transport(&e))?
            .with_quic()
            .with_behaviour(|key| behaviour::build(key, &cfg, wire_for_behaviour))
            .map_err(|e| transport(&e))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
            .build();
        let topic = gossipsub::IdentTopic::new(TOPIC);
        swarm
            .behaviour_mut()
            .gossipsub
            .inner_mut()
            .subscribe(&topic)
            .map_err(|e| transport(&e))?;
        for addr in &config.listen {
            swarm
                .listen_on(addr.clone())
                .map_err(|e| MeshError::Listen {
                    addr: addr.to_string(),
                    reason: e.to_string(),
                })?;
        }
        let now = Instant::now();
        let redial = config
            .bootstrap
            .iter()
            .map(|a| {
                (
                    a.clone(),
                    Redial {
                        next: now,
                        backoff: Duration::from_millis(500),
                    },
                )
            })
            .collect();
        // Each node's heartbeats keep a phase of their own (from its peer
        // id), so nodes started together (a district after a power cut, the
        // regency mesh) do not all announce in the same second.
        let phase = heartbeat_phase(swarm.local_peer_id(), config.heartbeat_every);
        let last_heartbeat = now.checked_sub(phase).unwrap_or(now);
        let (internal_tx, internal_rx) = mpsc::channel(256);
        let heard = client.heard();
        let clocks = client.clocks();
        let kin_away = client.kin_away_map();
        Ok(EventLoop {
            swarm,
            inbound: Arc::new(Semaphore::new(config.max_inbound)),
            announce_tasks: Arc::new(Semaphore::new(config.max_announce_tasks)),
            config,
            replica,
            client,
            commands,
            internal_tx,
            internal_rx,
            pending: HashMap::new(),
            pending_trust: HashMap::new(),
            clocks,
            refusals: HashMap::new(),
            expel: Vec::new(),
            cutting: HashSet::new(),
            last_recheck: now,
            roster_checked: None,
            peers: HashMap::new(),
            syncing: HashSet::new(),
            pulls: kampung_sync::Pulls::new(),
            tasks: JoinSet::new(),
            owner_heard: heard,
            redial,
            dialled_addr: HashMap::new(),
            counters: Counters::default(),
            topic,
            last_heartbeat,
            next_anti_entropy: now,
            last_walk: now,
            kin: HashMap::new(),
            kin_away,
            last_kin: None,
            kin_redial: HashMap::new(),
            wire,
        })
    }

    /// Run until `shutdown` is cancelled; then stop every task this loop started.
    #[instrument(skip_all, fields(peer = %self.swarm.local_peer_id()))]
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                Some(cmd) = self.commands.recv() => self.on_command(cmd),
                Some(done) = self.internal_rx.recv() => self.on_internal(done),
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                _ = tick.tick() => self.on_tick(),
                Some(_) = self.tasks.join_next(), if !self.tasks.is_empty() => {}
            }
        }
        self.tasks.shutdown().await;
        for (_, reply) in self.pending.drain() {
            let _ = reply.send(Err(RequestError::Shutdown));
        }
        info!("mesh stopped");
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Request { peer, req, reply } => {
                if !self.swarm.is_connected(&peer) {
                    let _ = reply.send(Err(RequestError::Unreachable(format!(
                        "{peer} is not connected"
                    ))));
                    return;
                }
                let id = self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_request(&peer, req.into());
                self.pending.insert(id, reply);
            }
            Command::Announce { announce } => self.publish(&announce),
            Command::Status { reply } => {
                let _ = reply.send(self.status());
            }
            Command::Dial { addr } => {
                if let Err(e) = self.swarm.dial(addr.clone()) {
                    warn!(%addr, error = %e, "dial failed");
                }
            }
            Command::SyncNow => {
                let peers: Vec<PeerId> = self
                    .peers
                    .iter()
                    .filter(|(_, s)| s.admitted)
                    .map(|(p, _)| *p)
                    .collect();
                for p in peers {
                    self.start_session(p);
                }
            }
        }
    }

    /// What this node itself may read: its certified role's scope; an
    /// open mesh's everything.
    fn own_scope(&self) -> ReadScope {
        if self.config.membership.enforced() {
            ReadScope::of_node(
                self.config.role.kind(),
                self.config.role.village(),
                &self.config.membership.holder_rule(),
            )
        } else {
            ReadScope::Everything
        }
    }

    /// Could an honest `peer` ask for this out of scope? Only a village
    /// asking for another village's details, while the roster it last
    /// showed differs from ours: the policy in force names who keeps
    /// which village's details ([`kampung_core::HolderRule`]), and a new
    /// one reaches nodes one by one. Anything else out of scope (a
    /// checkpoint asking for details, anyone for a crossing log it may not
    /// read) no rule of any policy allows, and is the peer's fault.
    fn may_disagree_on_holders(
        &self,
        peer: &PeerId,
        scope: &kampung_sync::Scope,
        request: &Request,
    ) -> bool {
        let doc = match request {
            Request::Changes { doc, .. } | Request::Document { doc, .. } => doc,
            _ => return false,
        };
        let details = DocId::parse(doc).is_some_and(|d| d.as_village().is_some());
        let village = matches!(
            scope.theirs,
            ReadScope::Certified(kampung_core::RoleKind::Village, Some(_), _)
        );
        let differs = self
            .peers
            .get(peer)
            .and_then(|s| s.roster_digest)
            .is_some_and(|d| d != self.config.membership.digest());
        details && village && differs
    }

    /// The scope of an exchange with `peer` (what both may read).
    fn scope_with(&self, peer: &PeerId) -> kampung_sync::Scope {
        kampung_sync::Scope::new(self.own_scope(), self.config.membership.read_scope(peer))
    }

    fn publish(&mut self, announce: &Announce) {
        if self.config.scoped_gossip
            && DocId::parse(&announce.doc).is_some_and(|d| !ReadScope::for_everyone(&d))
        {
            // Gossip reaches every member: a document only some may read
            // replicates by anti-entropy, between nodes that both may.
            trace!(doc = %announce.doc, "not gossiped: not every member may read it");
            return;
        }
        let mut bytes = encode(announce);
        if bytes.len() > self.config.limits.max_inline {
            // Too big to carry the changes: announce the heads only; peers pull.
            let mut light = announce.clone();
            light.changes.clear();
            bytes = encode(&light);
        }
        match self
            .swarm
            .behaviour_mut()
            .gossipsub
            .inner_mut()
            .publish(self.topic.clone(), bytes)
        {
            Ok(_) => self.counters.announces_sent += 1,
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
                trace!("no peers to announce to")
            }
            Err(e) => debug!(error = %e, doc = %announce.doc, "announce not published"),
        }
    }

    fn on_internal(&mut self, done: Internal) {
        match done {
            Internal::Respond { channel, response } => {
                if self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_response(channel, response)
                    .is_err()
                {
                    trace!("response dropped: peer went away");
                }
            }
            Internal::SessionDone { peer, result } => {
                self.syncing.remove(&peer);
                match result {
                    Ok(stats) => {
                        self.counters.sessions_ok += 1;
                        self.connection_held(peer);
                        self.count(&stats);
                        if let Some(state) = self.peers.get_mut(&peer) {
                            state.last_sync =
                                Some((Instant::now(), self.config.clock.now_ms(), stats.in_sync));
                        }
                        self.heard_from(peer);
                        if stats.deferred > 0 {
                            self.roster_behind(peer);
                        }
                        debug!(%peer, docs = stats.docs_pulled, changes = stats.changes, "anti-entropy done");
                    }
                    Err(e) => self.on_sync_error(peer, &e),
                }
            }
            Internal::AnnounceDone {
                peer,
                message,
                result,
            } => {
                // Gossip forwards an announcement only once it has been
                // applied here: a refused change is never passed on.
                // Nor is one whose changes wait for a signature in force:
                // this node does not hold them, so nobody could pull them here.
                let verdict = match &result {
                    Ok(stats) if stats.deferred > 0 => gossipsub::MessageAcceptance::Ignore,
                    Ok(_) => gossipsub::MessageAcceptance::Accept,
                    Err(e) if e.is_peer_fault() => gossipsub::MessageAcceptance::Reject,
                    Err(_) => gossipsub::MessageAcceptance::Ignore,
                };
                self.report(&message, &peer, verdict);
                match result {
                    Ok(stats) => {
                        if stats.deferred > 0 {
                            self.roster_behind(peer);
                        }
                        self.count(&stats);
                    }
                    Err(e) => self.on_sync_error(peer, &e),
                }
            }
        }
    }

    fn count(&mut self, stats: &SessionStats) {
        self.counters.changes_received += stats.changes as u64;
        self.counters.documents_received += stats.documents as u64;
        self.counters.bytes_received += stats.bytes as u64;
        self.counters.changes_deferred += stats.deferred as u64;
    }

    fn on_sync_error(&mut self, peer: PeerId, e: &SyncError) {
        self.counters.sessions_failed += 1;
        if matches!(
            e,
            SyncError::Replica(kampung_sync::ReplicaError::Refused(_))
        ) {
            self.counters.changes_rejected += 1;
        }
        if e.is_peer_fault() {
            self.counters.peer_faults += 1;
            warn!(%peer, error = %e, "peer sent bad data; disconnecting it");
            let _ = self.swarm.disconnect_peer_id(peer);
        } else {
            debug!(%peer, error = %e, "sync interrupted");
        }
    }

    /// A completed exchange with a peer counts as hearing from the owner of the documents it writes.
    fn heard_from(&mut self, peer: PeerId) {
        let Some(role) = self.peers.get(&peer).and_then(|p| p.role.clone()) else {
            return;
        };
        if let Some(doc) = owned_doc(&role) {
            // The role in identify is only a claim: with certificates, the
            // roster decides whether this peer writes that document.
            if self.config.membership.is_owner(&peer, &doc) != Some(false) {
                self.set_heard(doc);
            }
        }
    }

    fn start_session(&mut self, peer: PeerId) {
        if self.syncing.contains(&peer) || self.syncing.len() >= self.config.max_sessions {
            return;
        }
        self.syncing.insert(peer);
        if let Some(s) = self.peers.get_mut(&peer) {
            s.resync = false;
        }
        let replica = self.replica.clone();
        let requester = PeerRequester {
            peer,
            client: self.client.clone(),
        };
        let limits = self.config.limits.clone();
        let pulls = self.pulls.clone();
        let scope = self.scope_with(&peer);
        let tx = self.internal_tx.clone();
        self.tasks.spawn(async move {
            let result =
                kampung_sync::sync_with(&replica, &requester, &limits, &pulls, &scope).await;
            let _ = tx.send(Internal::SessionDone { peer, result }).await;
        });
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        self.refresh_kin(now);
        self.police(now);
        self.trim(now);
        // Anti-entropy: at once with a peer not synced yet (it just
        // connected, or its last session failed), then one session every
        // `anti_entropy_every / ANTI_ENTROPY_FANOUT` with the peer synced
        // longest ago, if that is at least `anti_entropy_every` ago. A node
        // with few peers compares with each every `anti_entropy_every`; one
        // with many starts at most ANTI_ENTROPY_FANOUT sessions in that time,
        // not one per peer (BENCHMARKS-regency-mesh.md).
        let fresh: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, s)| s.admitted && (s.last_sync.is_none() || s.resync))
            .map(|(p, _)| *p)
            .collect();
        for p in fresh {
            self.start_session(p);
        }
        let kin_due: Vec<PeerId> = self
            .kin
            .iter()
            .filter(|(p, every)| {
                self.peers.get(p).is_some_and(|s| {
                    s.admitted
                        && s.last_sync
                            .is_some_and(|(t, _, _)| now.duration_since(t) >= **every)
                })
            })
            .map(|(p, _)| *p)
            .collect();
        for p in kin_due {
            self.start_session(p);
        }
        if now >= self.next_anti_entropy {
            self.next_anti_entropy = now + self.config.anti_entropy_every / ANTI_ENTROPY_FANOUT;
            let oldest = self
                .peers
                .iter()
                .filter(|(p, s)| s.admitted && !self.syncing.contains(p))
                .filter_map(|(p, s)| Some((s.last_sync?.0, *p)))
                .filter(|(t, _)| now.duration_since(*t) >= self.config.anti_entropy_every)
                .min();
            if let Some((_, p)) = oldest {
                self.start_session(p);
            }
        }
        // Owners announce their heads now and then, so everyone knows how fresh they are.
        if now.duration_since(self.last_heartbeat) >= self.config.heartbeat_every {
            self.last_heartbeat = now;
            self.heartbeat();
        }
        // Redial bootstrap peers we are not connected to, with backoff,
        // while this node has fewer peers than it dials: one that has
        // enough does not come back to a bootstrap peer that trimmed it.
        let connected_addrs: HashSet<Multiaddr> = self.dialled_addr.keys().cloned().collect();
        let wants_peers = self.peers.len() < self.config.max_peers;
        for (addr, r) in &mut self.redial {
            if !wants_peers || connected_addrs.contains(addr) || r.next > now {
                continue;
            }
            if let Some(libp2p::multiaddr::Protocol::P2p(peer)) = addr.iter().last() {
                if self.swarm.is_connected(&peer) {
                    continue;
                }
            }
            debug!(%addr, backoff = ?r.backoff, "dialling bootstrap peer");
            let _ = self.swarm.dial(addr.clone());
            r.next = now + r.backoff;
            r.backoff = (r.backoff * 2).min(MAX_BACKOFF);
        }
        self.reach_kin(now);
        // A Kademlia random walk now and then, to find peers beyond the
        // bootstrap list: every 20 s while this node has fewer than half
        // the peers it dials, every 5 minutes while fewer than all; none
        // once it has them (a walk dials peers that trimming drops again).
        let walk_every = if self.peers.len() < self.config.max_peers / 2 {
            Some(Duration::from_secs(20))
        } else if self.peers.len() < self.config.max_peers {
            Some(Duration::from_secs(300))
        } else {
            None
        };
        if walk_every.is_some_and(|every| now.duration_since(self.last_walk) >= every) {
            self.last_walk = now;
            if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                kad.get_closest_peers(PeerId::random());
            }
        }
    }

    /// Which members are kin now ([`crate::Membership::kin`]): asked of
    /// the roster once a second, before peers are trimmed, so a kin just
    /// admitted (its certificate just learnt) is never trimmed.
    fn refresh_kin(&mut self, now: Instant) {
        if self
            .last_kin
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            return;
        }
        self.last_kin = Some(now);
        let me = *self.swarm.local_peer_id();
        self.kin = kin_cadence(self.config.membership.kin(), &me);
        let kin = &self.kin;
        self.kin_redial.retain(|p, _| kin.contains_key(p));
        let now_ms = self.config.clock.now_ms();
        if let Ok(mut away) = self.kin_away.write() {
            away.retain(|p, _| kin.contains_key(p));
            for peer in kin.keys() {
                let since = away.entry(*peer).or_insert(Some(now_ms));
                if self.peers.get(peer).is_some_and(|s| s.admitted) {
                    *since = None;
                } else {
                    since.get_or_insert(now_ms);
                }
            }
        }
    }

    /// Dial each kin not connected, first at once, then with a growing
    /// backoff from [`KIN_EVERY`]: by the addresses the swarm knows
    /// (Kademlia's, identify's), or, knowing none, by asking Kademlia for
    /// the peers closest to it (the answer dials it, see
    /// [`Self::on_closest_peers`]).
    fn reach_kin(&mut self, now: Instant) {
        let kin: Vec<PeerId> = self.kin.keys().copied().collect();
        for peer in kin {
            if self.swarm.is_connected(&peer) {
                self.kin_redial.remove(&peer);
                continue;
            }
            let r = self.kin_redial.entry(peer).or_insert(Redial {
                next: now,
                backoff: KIN_EVERY,
            });
            if r.next > now {
                continue;
            }
            r.next = now + r.backoff;
            r.backoff = (r.backoff * 2).min(MAX_BACKOFF);
            debug!(%peer, "dialling a kin member");
            let dialled = self.swarm.dial(
                DialOpts::peer_id(peer)
                    .condition(libp2p::swarm::dial_opts::PeerCondition::DisconnectedAndNotDialing)
                    .build(),
            );
            if let Err(libp2p::swarm::DialError::NoAddresses) = dialled {
                if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                    kad.get_closest_peers(peer);
                }
            }
        }
    }

    /// A Kademlia lookup answered: dial the kin it found.
    fn on_closest_peers(&mut self, peers: Vec<kad::PeerInfo>) {
        for info in peers {
            if self.kin.contains_key(&info.peer_id)
                && !info.addrs.is_empty()
                && !self.swarm.is_connected(&info.peer_id)
            {
                debug!(peer = %info.peer_id, "found a kin member; dialling it");
                let _ = self.swarm.dial(
                    DialOpts::peer_id(info.peer_id)
                        .addresses(info.addrs)
                        .build(),
                );
            }
        }
    }

    fn heartbeat(&mut self) {
        // Only documents gossip carries (see `publish`): a village's details
        // and a checkpoint's log reach their readers by anti-entropy.
        let scoped = self.config.scoped_gossip;
        let gossiped: Vec<DocId> = self
            .config
            .owned_docs
            .iter()
            .filter(|d| !scoped || ReadScope::for_everyone(d))
            .cloned()
            .collect();
        for doc in gossiped {
            let replica = self.replica.clone();
            let client = self.client.clone();
            self.tasks.spawn(async move {
                if let Ok(Some(heads)) = replica.heads(doc.as_str()).await {
                    let _ = client
                        .announce(Announce {
                            doc: doc.to_string(),
                            heads,
                            changes: Vec::new(),
                            signatures: Vec::new(),
                            from_owner: true,
                        })
                        .await;
                }
            });
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => info!(%address, "listening"),
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                num_established,
                ..
            } => {
                self.counters.connections_opened += 1;
                let addr = endpoint.get_remote_address().clone();
                if let libp2p::core::ConnectedPoint::Dialer { address, .. } = &endpoint {
                    // The backoff starts again only once a session with the
                    // peer succeeds: a peer that connects and is refused
                    // (revoked, no certificate) is redialled ever more slowly.
                    self.dialled_addr.insert(address.clone(), peer_id);
                }
                let open = !self.config.membership.enforced();
                let state = self.peers.entry(peer_id).or_insert_with(|| PeerState {
                    admitted: open,
                    role: None,
                    addresses: Vec::new(),
                    since: Instant::now(),
                    last_sync: None,
                    last_roster: None,
                    behind_roster: false,
                    resync: false,
                    trimmed: false,
                    connections: 0,
                    software: None,
                    roster_digest: None,
                });
                state.connections = num_established.get() as usize;
                if !state.addresses.contains(&addr) {
                    state.addresses.push(addr);
                }
                if num_established.get() == 1 {
                    debug!(peer = %peer_id, "connected");
                    // The hello tells the peer our wire protocol version
                    // (and certificate); an open mesh admits at once.
                    self.send_hello(peer_id);
                    if open {
                        self.start_session(peer_id);
                    }
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                debug!(peer = %peer_id, "disconnected");
                self.peers.remove(&peer_id);
                if let Ok(mut clocks) = self.clocks.write() {
                    clocks.remove(&peer_id);
                }
                self.cutting.remove(&peer_id);
                self.swarm.behaviour_mut().gossipsub.expel(&peer_id);
                self.dialled_addr.retain(|_, p| *p != peer_id);
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                trace!(peer = ?peer_id, error = %error, "dial failed");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                let role = info
                    .agent_version
                    .strip_prefix("kampung/")
                    .and_then(|rest| rest.split_once(' '))
                    .map(|(_, role)| role.to_string());
                if let Some(state) = self.peers.get_mut(&peer_id) {
                    state.role = role;
                }
                if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                    for addr in info.listen_addrs {
                        kad.add_address(&peer_id, addr);
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::RoutingUpdated {
                peer,
                addresses,
                ..
            })) if !self.swarm.is_connected(&peer)
                && (self.peers.len() < self.config.max_peers || self.kin.contains_key(&peer)) =>
            {
                let opts = DialOpts::peer_id(peer)
                    .addresses(addresses.into_vec())
                    .build();
                let _ = self.swarm.dial(opts);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::OutboundQueryProgressed {
                result: kad::QueryResult::GetClosestPeers(Ok(found)),
                ..
            })) => self.on_closest_peers(found.peers),
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(found))) => {
                for (peer, addr) in found {
                    if !self.swarm.is_connected(&peer) && self.peers.len() < self.config.max_peers {
                        let _ = self
                            .swarm
                            .dial(DialOpts::peer_id(peer).addresses(vec![addr]).build());
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self.on_announce(propagation_source, message_id, message),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.on_sync_event(event),
            _ => {}
        }
    }

    fn report(
        &mut self,
        id: &gossipsub::MessageId,
        from: &PeerId,
        verdict: gossipsub::MessageAcceptance,
    ) {
        let _ = self
            .swarm
            .behaviour_mut()
            .gossipsub
            .inner_mut()
            .report_message_validation_result(id, from, verdict);
    }

    fn on_announce(&mut self, via: PeerId, id: gossipsub::MessageId, message: gossipsub::Message) {
        self.counters.gossip_bytes_received += message.data.len() as u64;
        let announce = match decode_announce(&message.data, &self.config.limits) {
            Ok(a) => a,
            Err(e) => {
                self.counters.peer_faults += 1;
                warn!(peer = %via, source = ?message.source, error = %e, "bad announcement");
                self.report(&id, &via, gossipsub::MessageAcceptance::Reject);
                return;
            }
        };
        self.counters.announces_received += 1;
        // "From the owner" counts only if the message's (signed) author owns
        // the document, when the roster can tell.
        if let Some(doc) = DocId::parse(&announce.doc) {
            let author_owns = message
                .source
                .map(|s| self.config.membership.is_owner(&s, &doc) != Some(false))
                .unwrap_or(false);
            if announce.from_owner && author_owns {
                self.set_heard(doc);
            }
        }
        let Ok(permit) = self.announce_tasks.clone().try_acquire_owned() else {
            self.counters.announces_dropped += 1;
            // Not checked, so not forwarded; anti-entropy catches up.
            self.report(&id, &via, gossipsub::MessageAcceptance::Ignore);
            return;
        };
        let replica = self.replica.clone();
        let requester = PeerRequester {
            peer: via,
            client: self.client.clone(),
        };
        let limits = self.config.limits.clone();
        let pulls = self.pulls.clone();
        let tx = self.internal_tx.clone();
        self.tasks.spawn(async move {
            let result =
                kampung_sync::on_announce(&replica, announce, &requester, &limits, &pulls).await;
            drop(permit);
            let _ = tx
                .send(Internal::AnnounceDone {
                    peer: via,
                    message: id,
                    result,
                })
                .await;
        });
    }

    /// A request that is the peer's fault: refused with `reason`, counted,
    /// and the peer cut off.
    fn refuse_faulty(
        &mut self,
        peer: PeerId,
        channel: request_response::ResponseChannel<Response>,
        reason: String,
    ) {
        self.counters.peer_faults += 1;
        let refused = Response::Refused { reason };
        let _ = self
            .swarm
            .behaviour_mut()
            .sync
            .send_response(channel, refused);
        self.cut(peer);
    }

    fn on_sync_event(&mut self, event: request_response::Event<Inbound, Response>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    let request = match request {
                        Inbound::Valid(r) => r,
                        Inbound::Invalid(reason) => {
                            // Too large, malformed or out of bounds: the peer's fault.
                            warn!(%peer, %reason, "peer sent a bad request; disconnecting it");
                            return self.refuse_faulty(peer, channel, reason);
                        }
                    };
                    let request = match self.on_trust_request(peer, request) {
                        Ok(r) => r,
                        Err(response) => {
                            let _ = self
                                .swarm
                                .behaviour_mut()
                                .sync
                                .send_response(channel, response);
                            return;
                        }
                    };
                    let scope = self.scope_with(&peer);
                    if let Some(reason) = scope.beyond(&request) {
                        self.counters.requests_beyond_scope += 1;
                        if self.may_disagree_on_holders(&peer, &scope, &request) {
                            // A village that keeps another's details under
                            // a policy we do not hold yet (or no longer
                            // under ours): refused, not cut off, until our
                            // rosters agree.
                            debug!(%peer, %reason, "peer asked for details our rosters disagree on; refused");
                            let refused = Response::Refused {
                                reason: format!("{reason} under the policy this node holds; our rosters differ, ask again once they agree"),
                            };
                            let _ = self
                                .swarm
                                .behaviour_mut()
                                .sync
                                .send_response(channel, refused);
                            return;
                        }
                        // Asked for what its certificate does not let it
                        // read: it was never offered it, so it guessed.
                        warn!(%peer, %reason, "peer asked beyond its read scope; disconnecting it");
                        return self.refuse_faulty(peer, channel, reason);
                    }
                    let Ok(permit) = self.inbound.clone().try_acquire_owned() else {
                        self.counters.requests_busy += 1;
                        let busy = Response::Refused {
                            reason: "busy, try again later".into(),
                        };
                        let _ = self.swarm.behaviour_mut().sync.send_response(channel, busy);
                        return;
                    };
                    self.counters.requests_served += 1;
                    trace!(%peer, ?request, "serving");
                    let replica = self.replica.clone();
                    let limits = self.config.limits.clone();
                    let tx = self.internal_tx.clone();
                    self.tasks.spawn(async move {
                        let response =
                            kampung_sync::respond(&replica, request, &limits, &scope).await;
                        drop(permit);
                        let _ = tx.send(Internal::Respond { channel, response }).await;
                    });
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some((asked, sent)) = self.pending_trust.remove(&request_id) {
                        self.on_trust_response(asked, sent, response);
                    } else if let Some(reply) = self.pending.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            request_response::Event::OutboundFailure {
                request_id,
                error,
                peer,
                ..
            } => {
                if self.pending_trust.remove(&request_id).is_some() {
                    debug!(%peer, error = %error, "hello or roster request failed");
                    if self.config.membership.enforced()
                        && self.peers.get(&peer).is_some_and(|p| !p.admitted)
                    {
                        self.cut(peer);
                    }
                } else if let Some(reply) = self.pending.remove(&request_id) {
                    let err = match error {
                        request_response::OutboundFailure::Timeout => RequestError::Timeout,
                        request_response::OutboundFailure::Io(e)
                            if e.kind() == std::io::ErrorKind::InvalidData =>
                        {
                            RequestError::BadResponse(e.to_string())
                        }
                        other => RequestError::Unreachable(format!("{peer}: {other}")),
                    };
                    let _ = reply.send(Err(err));
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                debug!(%peer, error = %error, "inbound request failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    fn send_hello(&mut self, peer: PeerId) {
        let Some(hello) = self.hello() else {
            warn!(%peer, "this node has no certificate in force: peers will not admit it. Ask the regency administrator for one and add it with `kampung trust add`");
            self.cut(peer);
            return;
        };
        let id = self
            .swarm
            .behaviour_mut()
            .sync
            .send_request(&peer, Request::Hello(hello).into());
        self.pending_trust.insert(id, (peer, None));
    }

    /// What we show a peer first; `None` on an enforced mesh while this
    /// node has no certificate in force.
    fn hello(&self) -> Option<Hello> {
        let certificate = match self.config.membership.certificate() {
            Some(c) => c,
            None if !self.config.membership.enforced() => Vec::new(),
            None => return None,
        };
        Some(Hello {
            wire: self.config.wire_version,
            software: self.config.software.clone(),
            certificate,
        })
    }

    /// Check a peer's hello: its wire protocol version, then its
    /// certificate. On success the peer's software is remembered.
    fn check_hello(&mut self, peer: PeerId, hello: Hello) -> Result<(), String> {
        if let Some(why) = hello.incompatible(self.config.wire_version, &self.config.software) {
            return Err(why);
        }
        self.config
            .membership
            .check_peer(&peer, Some(&hello.certificate))?;
        if let Some(state) = self.peers.get_mut(&peer) {
            state.software = Some(hello.software);
        }
        Ok(())
    }

    /// Data from `peer` waits for a signature in force: perhaps its
    /// writer's certificate has not reached us yet (it travels behind the
    /// writes it allows), and `peer`, which relayed only what it verified,
    /// holds it. Ask for its roster now (at most once a second); new
    /// statements in the answer bring a session with it at once.
    fn roster_behind(&mut self, peer: PeerId) {
        let Some(s) = self.peers.get_mut(&peer) else {
            return;
        };
        s.behind_roster = true;
        if s.last_roster.is_none_or(|t| t.elapsed() >= ROSTER_RETRY) {
            self.ask_roster(peer);
        }
    }

    fn ask_roster(&mut self, peer: PeerId) {
        if !self.config.membership.enforced() {
            return;
        }
        let digest = self.config.membership.digest();
        let id = self
            .swarm
            .behaviour_mut()
            .sync
            .send_request(&peer, Request::Roster { digest }.into());
        let sent = (Instant::now(), self.config.clock.now_ms());
        self.pending_trust.insert(id, (peer, Some(sent)));
        if let Some(s) = self.peers.get_mut(&peer) {
            s.last_roster = Some(sent.0);
        }
    }

    /// The peer showed a valid certificate: let it in.
    fn admit(&mut self, peer: PeerId) {
        let Some(state) = self.peers.get_mut(&peer) else {
            return;
        };
        if state.admitted {
            return;
        }
        state.admitted = true;
        info!(%peer, "peer admitted");
        self.swarm.behaviour_mut().gossipsub.admit(peer);
        self.ask_roster(peer);
        self.start_session(peer);
        // The first peer after a start (or after being cut off from every
        // peer) hears at once what this node owns, including writes made
        // while it was not running (the CLI on a stopped node).
        if self.peers.values().filter(|p| p.admitted).count() == 1 {
            self.heartbeat();
        }
    }

    /// Disconnect `peer` at the next tick; counted once per connection.
    fn cut(&mut self, peer: PeerId) {
        if self.cutting.insert(peer) {
            self.counters.peers_refused += 1;
        }
        self.expel.push((peer, Instant::now()));
    }

    /// A session with `peer` succeeded, so both sides admitted each other:
    /// a bootstrap address of it is redialled quickly again if it drops.
    fn connection_held(&mut self, peer: PeerId) {
        for (addr, _) in self.dialled_addr.iter().filter(|(_, p)| **p == peer) {
            if let Some(r) = self.redial.get_mut(addr) {
                r.backoff = Duration::from_millis(500);
            }
        }
    }

    fn refuse(&mut self, peer: PeerId, reason: &str) {
        self.refuse_as(peer, reason, false);
    }

    /// [`Self::refuse`]; `relayed`: the reason is the peer's, about us.
    fn refuse_as(&mut self, peer: PeerId, reason: &str, relayed: bool) {
        // A refused peer that keeps coming back is warned about once per
        // REFUSAL_LOG_EVERY (each refusal still counts in `peers_refused`,
        // and the status shows its latest reason).
        let now = Instant::now();
        let at_ms = self.config.clock.now_ms();
        match self.refusals.get_mut(&peer) {
            Some(r) if now.duration_since(r.logged) < REFUSAL_LOG_EVERY => {
                debug!(%peer, %reason, "peer refused again: disconnecting");
                r.at_ms = at_ms;
                r.relayed = relayed;
                reason.clone_into(&mut r.reason);
            }
            _ => {
                warn!(%peer, %reason, "disconnecting from a refused peer (said again at most every 10 minutes)");
                if self.refusals.len() >= MAX_REFUSALS_KEPT {
                    self.refusals
                        .retain(|_, r| now.duration_since(r.logged) < REFUSAL_LOG_EVERY);
                }
                // Still full (many new identities at once): forget the oldest,
                // so that no flood of peers grows this map.
                if self.refusals.len() >= MAX_REFUSALS_KEPT {
                    let oldest = self
                        .refusals
                        .iter()
                        .min_by_key(|(_, r)| r.logged)
                        .map(|(p, _)| *p);
                    if let Some(p) = oldest {
                        self.refusals.remove(&p);
                    }
                }
                self.refusals.insert(
                    peer,
                    Refusal {
                        logged: now,
                        at_ms,
                        reason: reason.to_string(),
                        relayed,
                    },
                );
            }
        }
        self.cut(peer);
    }

    /// Membership requests are answered here; any other request from a peer
    /// that has not been admitted is refused. `Ok` passes a request on.
    fn on_trust_request(&mut self, peer: PeerId, request: Request) -> Result<Request, Response> {
        let membership = self.config.membership.clone();
        let admitted = self.peers.get(&peer).is_some_and(|p| p.admitted);
        match request {
            Request::Hello(hello) => match self.check_hello(peer, hello) {
                Ok(()) => {
                    self.admit(peer);
                    Err(match self.hello() {
                        Some(hello) => Response::Hello(hello),
                        None => Response::Refused {
                            reason: "this node has no certificate in force".into(),
                        },
                    })
                }
                Err(reason) => {
                    self.refuse(peer, &reason);
                    Err(Response::Refused { reason })
                }
            },
            _ if !admitted => {
                self.counters.requests_unadmitted += 1;
                Err(Response::Refused {
                    reason: "show a valid certificate (hello) first".into(),
                })
            }
            Request::Roster { digest } => {
                let ours = membership.digest();
                // If it holds statements we lack, ask for its own: a newer
                // policy reaches us from any peer that has it.
                let ask = self.peers.get_mut(&peer).is_some_and(|s| {
                    s.roster_digest = Some(digest);
                    digest != ours && s.last_roster.is_none_or(|t| t.elapsed() >= ROSTER_RETRY)
                });
                if ask {
                    self.ask_roster(peer);
                }
                Err(Response::Roster {
                    statements: if digest == ours {
                        Vec::new()
                    } else {
                        membership.statements()
                    },
                    now_ms: self.config.clock.now_ms(),
                })
            }
            other => Ok(other),
        }
    }

    fn on_trust_response(
        &mut self,
        peer: PeerId,
        sent: Option<(Instant, i64)>,
        response: Response,
    ) {
        let membership = self.config.membership.clone();
        match response {
            Response::Hello(hello) => match self.check_hello(peer, hello) {
                Ok(()) => self.admit(peer),
                Err(reason) => self.refuse(peer, &reason),
            },
            Response::Roster { statements, now_ms } => {
                if let Some(sent) = sent {
                    self.on_peer_clock(peer, sent, now_ms);
                }
                let added = membership.add_statements(&peer, statements);
                if added > 0 {
                    // New revocations cut peers off now, not at the next recheck.
                    self.last_recheck = Instant::now() - RECHECK_EVERY;
                }
                if let Some(s) = self.peers.get_mut(&peer) {
                    if std::mem::take(&mut s.behind_roster) && added > 0 {
                        s.resync = true;
                    }
                }
            }
            Response::Refused { reason } => {
                if self.peers.get(&peer).is_some_and(|p| !p.admitted) {
                    // Our own reason, when we have one, reads from our side.
                    let own = self
                        .refusals
                        .get(&peer)
                        .is_some_and(|r| !r.relayed && r.logged.elapsed() < REFUSAL_LOG_EVERY);
                    if own {
                        self.cut(peer);
                    } else {
                        let reason = format!("the peer refused this node, saying: {reason}");
                        self.refuse_as(peer, &reason, true);
                    }
                }
            }
            other => debug!(%peer, ?other, "unexpected answer to a membership request"),
        }
    }

    /// The peer said its clock read `peer_ms` when it answered a request we
    /// sent at `sent`: taken as the middle of the round trip, the offset is
    /// off by at most half of it.
    fn on_peer_clock(&mut self, peer: PeerId, sent: (Instant, i64), peer_ms: i64) {
        let round_trip = i64::try_from(sent.0.elapsed().as_millis()).unwrap_or(i64::MAX);
        let offset = peer_ms.saturating_sub(sent.1.saturating_add(round_trip / 2));
        trace!(%peer, offset_ms = offset, round_trip_ms = round_trip, "peer's clock");
        if self.peers.contains_key(&peer) {
            if let Ok(mut clocks) = self.clocks.write() {
                clocks.insert(peer, offset);
            }
        }
    }

    /// Cut off refused peers, peers that did not show a certificate in time,
    /// and admitted peers whose certificate expired or was revoked.
    fn police(&mut self, now: Instant) {
        let mut out: Vec<PeerId> = Vec::new();
        self.expel.retain(|(peer, at)| {
            let due = now.duration_since(*at) >= EXPEL_AFTER;
            if due {
                out.push(*peer);
            }
            !due
        });
        let enforced = self.config.membership.enforced();
        out.extend(
            self.peers
                .iter()
                .filter(|(_, s)| {
                    enforced && !s.admitted && now.duration_since(s.since) > HELLO_TIMEOUT
                })
                .map(|(p, _)| *p),
        );
        if enforced && now.duration_since(self.last_recheck) >= RECHECK_EVERY {
            self.last_recheck = now;
            let membership = self.config.membership.clone();
            for (peer, s) in &self.peers {
                if s.admitted {
                    if let Err(reason) = membership.check_peer(peer, None) {
                        warn!(%peer, %reason, "peer no longer admitted");
                        out.push(*peer);
                    }
                }
            }
            // Rosters (and clocks) are compared with the peers asked
            // longest ago, not with every peer: with 90 peers, asking all
            // every 5 s was most of an idle node's traffic. A roster that
            // changed here is offered to more of them at once.
            let digest = membership.digest();
            let changed = self
                .roster_checked
                .replace(digest)
                .is_some_and(|before| before != digest);
            let fanout = if changed { ROSTER_PUSH } else { ROSTER_FANOUT };
            let mut admitted: Vec<(Option<Instant>, PeerId)> = self
                .peers
                .iter()
                .filter(|(_, s)| s.admitted)
                .map(|(p, s)| (s.last_roster, *p))
                .collect();
            admitted.sort_unstable();
            for (_, p) in admitted.into_iter().take(fanout) {
                self.ask_roster(p);
            }
        }
        out.sort_unstable();
        out.dedup();
        for peer in out {
            if self.cutting.insert(peer) {
                self.counters.peers_refused += 1;
            }
            self.swarm.behaviour_mut().gossipsub.expel(&peer);
            if let Some(s) = self.peers.get_mut(&peer) {
                s.admitted = false;
            }
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }

    /// Keep at most twice `max_peers` admitted peers. A node everyone
    /// dials (a bootstrap peer, a district's first village) would otherwise
    /// fill up with its first peers and refuse every later one: at 222
    /// nodes started after 100, the first hundred held 56 peers each,
    /// refused all newcomers and never saw a new village's document. Like
    /// go-libp2p's connection manager, it accepts the newcomer (up to a
    /// hard ceiling) and closes the peers it has held longest, those
    /// outside gossip's mesh first, sparing peers in a session, peers being
    /// cut and peers younger than `peer_grace`. Those it closes still have
    /// the peers they dialled, and gossip grafts another in a trimmed
    /// mesh peer's place.
    fn trim(&mut self, now: Instant) {
        let keep = self.config.max_peers.saturating_mul(2);
        // Kin are kept beyond that (at most MAX_KIN of them).
        let admitted = self
            .peers
            .iter()
            .filter(|(p, s)| s.admitted && !s.trimmed && !self.kin.contains_key(p))
            .count();
        if admitted <= keep {
            return;
        }
        let gossip: HashSet<PeerId> = self
            .swarm
            .behaviour_mut()
            .gossipsub
            .inner_mut()
            .all_mesh_peers()
            .copied()
            .collect();
        let mut candidates: Vec<(bool, Instant, PeerId)> = self
            .peers
            .iter()
            .filter(|(p, s)| {
                s.admitted
                    && !s.trimmed
                    && now.duration_since(s.since) >= self.config.peer_grace
                    && !self.syncing.contains(p)
                    && !self.cutting.contains(p)
                    && !self.kin.contains_key(p)
            })
            .map(|(p, s)| (gossip.contains(p), s.since, *p))
            .collect();
        candidates.sort_unstable();
        for (_, _, peer) in candidates.into_iter().take(admitted - keep) {
            debug!(%peer, admitted, keep, "trimmed: this node holds enough peers");
            self.counters.peers_trimmed += 1;
            if let Some(s) = self.peers.get_mut(&peer) {
                s.trimmed = true;
            }
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }

    /// We heard from `doc`'s owner now (the map is shared with every [`Client`]).
    fn set_heard(&mut self, doc: DocId) {
        let now = self.config.clock.now_ms();
        if let Ok(mut m) = self.owner_heard.write() {
            m.insert(doc, now);
        }
    }

    fn status(&self) -> MeshStatus {
        let now = Instant::now();
        let clocks = self.clocks.read().map(|c| c.clone()).unwrap_or_default();
        let mut peers: Vec<PeerInfo> = self
            .peers
            .iter()
            .map(|(id, s)| PeerInfo {
                peer_id: id.to_string(),
                admitted: s.admitted,
                role: s.role.clone(),
                addresses: s.addresses.iter().map(ToString::to_string).collect(),
                connected_for_secs: now.duration_since(s.since).as_secs(),
                last_sync_ms: s.last_sync.map(|(_, ms, _)| ms),
                in_sync: s.last_sync.map(|(_, _, in_sync)| in_sync),
                clock_offset_ms: clocks.get(id).copied(),
                software: s.software.clone(),
            })
            .collect();
        peers.sort_by(|a, b| a.peer_id.cmp(&b.peer_id));
        let mut refused: Vec<crate::RefusedPeer> = self
            .refusals
            .iter()
            .map(|(peer, r)| crate::RefusedPeer {
                peer_id: peer.to_string(),
                at_ms: r.at_ms,
                reason: r.reason.clone(),
            })
            .collect();
        refused.sort_by_key(|r| std::cmp::Reverse(r.at_ms));
        refused.truncate(crate::MAX_REFUSED_SHOWN);
        MeshStatus {
            peer_id: self.swarm.local_peer_id().to_string(),
            role: self.config.role.tag(),
            listen: self.swarm.listeners().map(ToString::to_string).collect(),
            peers,
            owner_heard_ms: self
                .owner_heard
                .read()
                .map(|m| m.clone())
                .unwrap_or_default(),
            sessions_running: self.syncing.len(),
            refused,
            bootstrap: self
                .redial
                .iter()
                .map(|(addr, r)| crate::BootstrapState {
                    address: addr.to_string(),
                    backoff_ms: u64::try_from(r.backoff.as_millis()).unwrap_or(u64::MAX),
                })
                .collect(),
            counters: Counters {
                sync_bytes_read: self.wire.read.load(std::sync::atomic::Ordering::Relaxed),
                sync_bytes_written: self.wire.written.load(std::sync::atomic::Ordering::Relaxed),
                ..self.counters.clone()
            },
        }
    }
}

/// This node's kin as the membership names them, in its order, without
/// itself: the first [`crate::MAX_KIN`] peers, each compared as often as
/// the most urgent thing it shares asks.
fn kin_cadence(kin: Vec<(PeerId, crate::Shares)>, me: &PeerId) -> HashMap<PeerId, Duration> {
    let mut out: HashMap<PeerId, Duration> = HashMap::new();
    for (peer, shares) in kin {
        if peer == *me {
            continue;
        }
        let every = shares.compare_every();
        let full = out.len() >= crate::MAX_KIN;
        match out.entry(peer) {
            Entry::Occupied(mut e) => {
                let e = e.get_mut();
                *e = (*e).min(every);
            }
            Entry::Vacant(e) if !full => {
                e.insert(every);
            }
            Entry::Vacant(_) => {}
        }
    }
    out
}

/// The cards a claimed role writes: `village:35.10.15.2012` writes `k/35.10.15.2012`.
fn owned_doc(role: &str) -> Option<DocId> {
    role.parse::<Role>().ok()?.owned_village_doc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_phases_spread_over_the_period() {
        let every = Duration::from_secs(300);
        let phases: Vec<Duration> = (0..200)
            .map(|_| heartbeat_phase(&PeerId::random(), every))
            .collect();
        assert!(phases.iter().all(|p| *p < every));
        // A node keeps its phase.
        let peer = PeerId::random();
        assert_eq!(heartbeat_phase(&peer, every), heartbeat_phase(&peer, every));
        // Spread: each fifth of the period holds some of 200 nodes (all in
        // one fifth would be chance of 5 * 0.2^200).
        for fifth in 0..5u32 {
            let (lo, hi) = (every * fifth / 5, every * (fifth + 1) / 5);
            assert!(
                phases.iter().any(|p| (lo..hi).contains(p)),
                "none in {lo:?}..{hi:?}"
            );
        }
    }

    /// A checkpoint's crossings must reach the auditor within seconds; a
    /// village's details are a backup its holders may take a minute later.
    /// A peer named twice is compared as often as the more urgent asks, the
    /// node itself is never its own kin, and at most MAX_KIN are kept, the
    /// first named.
    #[test]
    fn kin_are_compared_as_often_as_what_they_share_asks() {
        use crate::Shares::{CrossingLogs, Details};
        let me = PeerId::random();
        let (auditor, holder) = (PeerId::random(), PeerId::random());
        let kin = kin_cadence(
            vec![
                (me, CrossingLogs),
                (holder, Details),
                (auditor, Details),
                (auditor, CrossingLogs),
            ],
            &me,
        );
        assert_eq!(kin.len(), 2, "{kin:?}");
        assert_eq!(kin[&auditor], Duration::from_secs(10));
        assert_eq!(kin[&holder], Duration::from_secs(60));
        assert!(!kin.contains_key(&me));

        let named: Vec<PeerId> = (0..crate::MAX_KIN + 5).map(|_| PeerId::random()).collect();
        let kept = kin_cadence(named.iter().map(|p| (*p, Details)).collect(), &me);
        assert_eq!(kept.len(), crate::MAX_KIN);
        assert!(named[..crate::MAX_KIN].iter().all(|p| kept.contains_key(p)));
    }
}
