//! A deterministic network for replication tests (feature `sim`).
//!
//! Several replicas run the real protocol ([`sync_with`], [`on_announce`],
//! [`respond`], every message encoded and decoded as on the wire) through one
//! seeded scheduler with virtual time. The scheduler delays, drops,
//! duplicates and so reorders messages, cuts the network into groups, and
//! crashes nodes: a crashed node's tasks and connections vanish, and the test
//! brings it back with whatever replica its storage still holds.
//!
//! Everything happens on the calling thread, one event at a time, and every
//! choice comes from the seed: the same seed gives the same run, so a failing
//! seed is reproduced from its number. Replicas must answer without waiting
//! on anything but this network (an in-memory store does).
//!
//! Anti-entropy runs on every node at a jittered interval with a random
//! peer, as the mesh does; announcements go from the writer to every node
//! (gossip with its forwarding folded into one hop: a dropped one is what
//! anti-entropy is for).
//!
//! ```
//! use std::sync::Arc;
//! use kampung_sync::{sim::{Sim, SimConfig}, Replica};
//!
//! /// Replicas that converge whatever the network does, for this seed.
//! fn converge<R: Replica + 'static>(seed: u64, replicas: Vec<Arc<R>>) {
//!     let mut sim = Sim::new(seed, SimConfig::default(), replicas);
//!     sim.partition(vec![0, 0, 1]);
//!     sim.run_for(30_000);
//!     sim.heal();
//!     *sim.config_mut() = sim.config_mut().calm();
//!     let took = sim.run_until_quiescent(120_000);
//!     assert!(took.is_ok(), "seed {seed}: {took:?}");
//!     assert!(sim.stats().peer_faults.is_empty());
//! }
//! ```

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::channel::oneshot;
use futures::task::{waker, ArcWake};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::message::{decode_announce, decode_request, decode_response, encode};
use crate::{
    digest_for, on_announce, respond, sync_with, Announce, Limits, Pulls, Replica, Request,
    RequestError, Requester, Response, Scope, SyncError,
};
use kampung_core::{DocId, ReadScope};

/// How hostile the network is. Probabilities are per message.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// A message is lost.
    pub drop: f64,
    /// A message arrives twice (each copy with its own delay).
    pub duplicate: f64,
    /// Delay of each message, uniform in this range (ms): reorders them.
    pub delay_ms: (u64, u64),
    /// A request not answered within this is a timeout.
    pub timeout_ms: u64,
    /// Each node starts an anti-entropy session about this often (± half).
    pub anti_entropy_ms: u64,
    pub limits: Limits,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            drop: 0.05,
            duplicate: 0.05,
            delay_ms: (1, 80),
            timeout_ms: 2_000,
            anti_entropy_ms: 3_000,
            limits: Limits::default(),
        }
    }
}

impl SimConfig {
    /// A network that loses, repeats and reorders nothing (for settling).
    pub fn calm(&self) -> SimConfig {
        SimConfig {
            drop: 0.0,
            duplicate: 0.0,
            ..self.clone()
        }
    }
}

/// What happened during a run, for reports and assertions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimStats {
    pub events: u64,
    pub messages: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub timeouts: u64,
    pub sessions: u64,
    /// Sessions and announcement handlers that ended in an error.
    pub failed: u64,
    /// Errors that blamed a peer: between honest replicas there must be none.
    pub peer_faults: Vec<String>,
    pub crashes: u64,
}

/// The scheduler and its network. `R` is a node's replica.
pub struct Sim<R: Replica + 'static> {
    rng: ChaCha8Rng,
    config: SimConfig,
    now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Event>,
    nodes: Vec<Slot<R>>,
    /// Node → group; messages cross no group boundary.
    groups: Option<Vec<u8>>,
    tasks: BTreeMap<u64, Task>,
    next_task: u64,
    woken: Arc<Mutex<VecDeque<u64>>>,
    shared: Arc<Mutex<Shared>>,
    stats: SimStats,
}

struct Slot<R> {
    replica: Option<Arc<R>>,
    /// What its certificate lets it read (an open mesh's `Everything` unless set).
    scope: ReadScope,
    incarnation: u64,
    /// Peers this node runs an anti-entropy session with now (one at a time each).
    sessions: BTreeSet<usize>,
    /// The documents its sessions pull now (a new set for each incarnation).
    pulls: Pulls,
}

struct Task {
    node: usize,
    incarnation: u64,
    future: Pin<Box<dyn Future<Output = ()> + Send>>,
}

/// What tasks hand to the scheduler while it polls them.
#[derive(Default)]
struct Shared {
    next_request: u64,
    outbox: Vec<Outgoing>,
    /// Requests waiting for an answer: who asked, in which incarnation.
    pending: BTreeMap<u64, Pending>,
    finished: Vec<Finished>,
}

struct Pending {
    node: usize,
    reply: oneshot::Sender<Result<Response, RequestError>>,
}

struct Outgoing {
    from: usize,
    incarnation: u64,
    to: usize,
    message: Message,
}

struct Finished {
    node: usize,
    incarnation: u64,
    /// The peer of an anti-entropy session (its slot is freed).
    session_with: Option<usize>,
    error: Option<SyncError>,
}

#[derive(Clone)]
enum Message {
    Request { id: u64, bytes: Vec<u8> },
    Response { id: u64, bytes: Vec<u8> },
    Announce { bytes: Vec<u8> },
}

enum Event {
    Deliver {
        from: usize,
        from_incarnation: u64,
        to: usize,
        to_incarnation: u64,
        message: Message,
    },
    Timeout {
        id: u64,
    },
    AntiEntropy {
        node: usize,
    },
}

/// The peer `to`, as node `from` asks it.
struct SimPeer {
    shared: Arc<Mutex<Shared>>,
    from: usize,
    incarnation: u64,
    to: usize,
}

impl Requester for SimPeer {
    fn peer(&self) -> String {
        format!("node-{}", self.to)
    }

    fn request(&self, req: Request) -> impl Future<Output = Result<Response, RequestError>> + Send {
        let (tx, rx) = oneshot::channel();
        {
            let mut s = lock(&self.shared);
            s.next_request += 1;
            let id = s.next_request;
            s.pending.insert(
                id,
                Pending {
                    node: self.from,
                    reply: tx,
                },
            );
            s.outbox.push(Outgoing {
                from: self.from,
                incarnation: self.incarnation,
                to: self.to,
                message: Message::Request {
                    id,
                    bytes: encode(&req),
                },
            });
        }
        async move { rx.await.unwrap_or(Err(RequestError::Shutdown)) }
    }
}

struct Wake {
    task: u64,
    woken: Arc<Mutex<VecDeque<u64>>>,
}

impl ArcWake for Wake {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        lock(&arc_self.woken).push_back(arc_self.task);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The run did not settle: replicas still differ, or work was still in flight.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not quiescent after {waited_ms} ms of virtual time: {reason}")]
pub struct NotQuiescent {
    pub waited_ms: u64,
    pub reason: String,
}

impl<R: Replica + 'static> std::fmt::Debug for Sim<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("now_ms", &self.now)
            .field("nodes", &self.nodes.len())
            .field("tasks", &self.tasks.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<R: Replica + 'static> Sim<R> {
    /// A network of `replicas` (node `i` is `replicas[i]`), all up and connected.
    pub fn new(seed: u64, config: SimConfig, replicas: Vec<Arc<R>>) -> Self {
        let mut sim = Sim {
            rng: ChaCha8Rng::seed_from_u64(seed),
            config,
            now: 0,
            seq: 0,
            queue: BTreeMap::new(),
            nodes: Vec::new(),
            groups: None,
            tasks: BTreeMap::new(),
            next_task: 0,
            woken: Arc::default(),
            shared: Arc::default(),
            stats: SimStats::default(),
        };
        for r in replicas {
            sim.nodes.push(Slot {
                replica: Some(r),
                scope: ReadScope::Everything,
                incarnation: 0,
                sessions: BTreeSet::new(),
                pulls: Pulls::new(),
            });
        }
        for node in 0..sim.nodes.len() {
            let first = sim.rng.random_range(0..sim.config.anti_entropy_ms.max(1));
            sim.schedule(first, Event::AntiEntropy { node });
        }
        sim
    }

    /// Virtual milliseconds since the start.
    pub fn now_ms(&self) -> u64 {
        self.now
    }

    pub fn stats(&self) -> &SimStats {
        &self.stats
    }

    /// The seeded generator, for the test's own choices (so they replay too).
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    pub fn config_mut(&mut self) -> &mut SimConfig {
        &mut self.config
    }

    pub fn nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Node `i`'s replica, unless it is down.
    pub fn replica(&self, node: usize) -> Option<&Arc<R>> {
        self.nodes[node].replica.as_ref()
    }

    pub fn is_up(&self, node: usize) -> bool {
        self.nodes[node].replica.is_some()
    }

    /// Cut the network: node `i` reaches only nodes of the same `groups[i]`.
    /// What `node` may read, as its certificate would say: the protocol
    /// then offers, serves and takes only what both ends of an exchange may
    /// read, and settles when each pair agrees on that.
    pub fn set_scope(&mut self, node: usize, scope: ReadScope) {
        self.nodes[node].scope = scope;
    }

    /// The scope of an exchange from `node` with `peer`.
    fn scope(&self, node: usize, peer: usize) -> Scope {
        Scope::new(
            self.nodes[node].scope.clone(),
            self.nodes[peer].scope.clone(),
        )
    }

    pub fn partition(&mut self, groups: Vec<u8>) {
        assert_eq!(groups.len(), self.nodes.len(), "one group per node");
        self.groups = Some(groups);
    }

    pub fn heal(&mut self) {
        self.groups = None;
    }

    /// The node dies: its tasks, requests and messages in flight vanish.
    /// Returns its replica so the test can reopen what survives of it.
    pub fn crash(&mut self, node: usize) -> Option<Arc<R>> {
        let slot = &mut self.nodes[node];
        let replica = slot.replica.take()?;
        slot.incarnation += 1;
        slot.sessions.clear();
        slot.pulls = Pulls::new();
        self.stats.crashes += 1;
        self.tasks.retain(|_, t| t.node != node);
        lock(&self.shared).pending.retain(|_, p| p.node != node);
        Some(replica)
    }

    /// The node comes back with `replica` (what its storage kept).
    pub fn restart(&mut self, node: usize, replica: Arc<R>) {
        let slot = &mut self.nodes[node];
        assert!(slot.replica.is_none(), "node {node} is running");
        slot.replica = Some(replica);
        let first = self.rng.random_range(0..self.config.anti_entropy_ms.max(1));
        self.schedule(first, Event::AntiEntropy { node });
    }

    /// Node `from` announces a change it made, to every other node.
    /// Gossip `announce` from its writer, as the mesh does: only a document
    /// every member may read travels by gossip; others wait for anti-entropy.
    pub fn announce(&mut self, from: usize, announce: &Announce) {
        if DocId::parse(&announce.doc).is_some_and(|d| !ReadScope::for_everyone(&d)) {
            return;
        }
        self.gossip(from, announce);
    }

    /// Send `announce` to every node whatever it names (a rogue's gossip).
    pub fn gossip(&mut self, from: usize, announce: &Announce) {
        let bytes = encode(announce);
        let incarnation = self.nodes[from].incarnation;
        for to in 0..self.nodes.len() {
            if to != from {
                self.send(Outgoing {
                    from,
                    incarnation,
                    to,
                    message: Message::Announce {
                        bytes: bytes.clone(),
                    },
                });
            }
        }
    }

    /// Process events until `ms` of virtual time have passed.
    pub fn run_for(&mut self, ms: u64) {
        let until = self.now + ms;
        while let Some((&(at, _), _)) = self.queue.first_key_value() {
            if at > until {
                break;
            }
            let Some((_, event)) = self.queue.pop_first() else {
                break;
            };
            self.now = at;
            self.stats.events += 1;
            self.on_event(event);
        }
        self.now = until;
    }

    /// With a calm network, run until every running replica holds the same
    /// digest and nothing is in flight; how long it took (virtual ms).
    pub fn run_until_quiescent(&mut self, max_ms: u64) -> Result<u64, NotQuiescent> {
        let start = self.now;
        let step = self.config.anti_entropy_ms.max(1);
        loop {
            if let Some(reason) = self.unsettled() {
                let waited = self.now - start;
                if waited >= max_ms {
                    return Err(NotQuiescent {
                        waited_ms: waited,
                        reason,
                    });
                }
                self.run_for(step.min(max_ms - waited));
            } else {
                return Ok(self.now - start);
            }
        }
    }

    /// Why the network is not settled yet, if it is not.
    fn unsettled(&self) -> Option<String> {
        for (i, slot) in self.nodes.iter().enumerate() {
            if slot.replica.is_none() {
                return Some(format!("node {i} is down"));
            }
        }
        let digest = |node: usize, peer: usize| {
            let r = self.nodes[node].replica.as_ref()?;
            futures::executor::block_on(digest_for(r.as_ref(), &self.scope(node, peer))).ok()
        };
        let n = self.nodes.len();
        if self.nodes.iter().all(|s| s.scope == self.nodes[0].scope) {
            // One scope for all: every node on one digest.
            let mut digests = BTreeMap::new();
            for i in 0..n {
                let Some((d, _)) = digest(i, i) else {
                    return Some(format!("node {i} cannot give its digest"));
                };
                digests.entry(d).or_insert_with(Vec::new).push(i);
            }
            if digests.len() > 1 {
                let groups: Vec<String> = digests.values().map(|n| format!("{n:?}")).collect();
                return Some(format!("replicas differ: {}", groups.join(" vs ")));
            }
        } else {
            // Every pair agrees on what both may read.
            for a in 0..n {
                for b in a + 1..n {
                    match (digest(a, b), digest(b, a)) {
                        (Some(x), Some(y)) if x.0 == y.0 => {}
                        (Some(_), Some(_)) => {
                            return Some(format!("replicas differ: [{a}] vs [{b}]"));
                        }
                        _ => return Some(format!("node {a} or {b} cannot give its digest")),
                    }
                }
            }
        }
        let in_flight = self
            .queue
            .values()
            .filter(|e| matches!(e, Event::Deliver { .. }))
            .count();
        (in_flight > 0 || !self.tasks.is_empty()).then(|| {
            format!(
                "{in_flight} messages in flight, {} tasks running",
                self.tasks.len()
            )
        })
    }

    fn schedule(&mut self, after: u64, event: Event) {
        self.seq += 1;
        self.queue.insert((self.now + after, self.seq), event);
    }

    fn reachable(&self, a: usize, b: usize) -> bool {
        self.groups.as_ref().is_none_or(|g| g[a] == g[b])
    }

    fn send(&mut self, out: Outgoing) {
        self.stats.messages += 1;
        if let Message::Request { id, .. } = &out.message {
            let timeout = self.config.timeout_ms;
            self.schedule(timeout, Event::Timeout { id: *id });
        }
        let copies = if self.rng.random_bool(self.config.drop) {
            self.stats.dropped += 1;
            0
        } else if self.rng.random_bool(self.config.duplicate) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        let to_incarnation = self.nodes[out.to].incarnation;
        for _ in 0..copies {
            let (lo, hi) = self.config.delay_ms;
            let delay = self.rng.random_range(lo..=hi.max(lo));
            let message = out.message.clone();
            self.schedule(
                delay,
                Event::Deliver {
                    from: out.from,
                    from_incarnation: out.incarnation,
                    to: out.to,
                    to_incarnation,
                    message,
                },
            );
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Deliver {
                from,
                from_incarnation,
                to,
                to_incarnation,
                message,
            } => self.on_deliver(from, from_incarnation, to, to_incarnation, message),
            Event::Timeout { id } => self.on_timeout(id),
            Event::AntiEntropy { node } => self.on_anti_entropy(node),
        }
        self.poll_woken();
    }

    fn on_deliver(
        &mut self,
        from: usize,
        from_incarnation: u64,
        to: usize,
        to_incarnation: u64,
        message: Message,
    ) {
        // A connection does not outlive either end's crash, nor a cut.
        let alive = |n: usize, inc: u64| {
            self.nodes[n].replica.is_some() && self.nodes[n].incarnation == inc
        };
        if !alive(from, from_incarnation) || !alive(to, to_incarnation) || !self.reachable(from, to)
        {
            self.stats.dropped += 1;
            return;
        }
        let limits = self.config.limits.clone();
        let Some(replica) = self.nodes[to].replica.clone() else {
            return;
        };
        match message {
            Message::Request { id, bytes } => {
                let req = match decode_request(&bytes, &limits) {
                    Ok(req) => req,
                    Err(e) => return self.undecodable(from, "request", e),
                };
                let shared = self.shared.clone();
                let scope = self.scope(to, from);
                if let Some(reason) = scope.beyond(&req) {
                    // As the mesh does: refused, and the asker's fault.
                    self.stats.peer_faults.push(format!(
                        "at {} ms node {from} asked node {to}: {reason}",
                        self.now
                    ));
                }
                self.spawn(to, None, async move {
                    let resp = respond(replica.as_ref(), req, &limits, &scope).await;
                    lock(&shared).outbox.push(Outgoing {
                        from: to,
                        incarnation: to_incarnation,
                        to: from,
                        message: Message::Response {
                            id,
                            bytes: encode(&resp),
                        },
                    });
                    Ok(())
                });
            }
            Message::Response { id, bytes } => {
                let resp = decode_response(&bytes, &limits);
                let mut s = lock(&self.shared);
                if let Some(p) = s.pending.remove(&id) {
                    let resp = resp.map_err(|e| RequestError::BadResponse(e.to_string()));
                    let _ = p.reply.send(resp);
                }
            }
            Message::Announce { bytes } => {
                let announce = match decode_announce(&bytes, &limits) {
                    Ok(a) => a,
                    Err(e) => return self.undecodable(from, "announcement", e),
                };
                let peer = self.peer(to, from);
                let pulls = self.nodes[to].pulls.clone();
                self.spawn(to, None, async move {
                    on_announce(replica.as_ref(), announce, &peer, &limits, &pulls)
                        .await
                        .map(|_| ())
                });
            }
        }
    }

    /// An honest node sent what the wire refuses (too big, say): its fault.
    fn undecodable(&mut self, from: usize, what: &str, e: impl std::fmt::Display) {
        self.stats.peer_faults.push(format!(
            "at {} ms node {from} sent a {what} that does not decode: {e}",
            self.now
        ));
    }

    fn on_timeout(&mut self, id: u64) {
        if let Some(p) = lock(&self.shared).pending.remove(&id) {
            self.stats.timeouts += 1;
            let _ = p.reply.send(Err(RequestError::Timeout));
        }
    }

    fn on_anti_entropy(&mut self, node: usize) {
        let Some(replica) = self.nodes[node].replica.clone() else {
            return; // down: restart schedules the next one
        };
        let n = self.nodes.len();
        let every = self.config.anti_entropy_ms.max(2);
        let next = self.rng.random_range(every / 2..=every + every / 2);
        self.schedule(next, Event::AntiEntropy { node });
        if n < 2 {
            return;
        }
        let mut peer = self.rng.random_range(0..n - 1);
        if peer >= node {
            peer += 1;
        }
        if !self.nodes[node].sessions.insert(peer) {
            return; // still running with that peer
        }
        self.stats.sessions += 1;
        let limits = self.config.limits.clone();
        let requester = self.peer(node, peer);
        let pulls = self.nodes[node].pulls.clone();
        let scope = self.scope(node, peer);
        self.spawn(node, Some(peer), async move {
            sync_with(replica.as_ref(), &requester, &limits, &pulls, &scope)
                .await
                .map(|_| ())
        });
    }

    fn peer(&self, from: usize, to: usize) -> SimPeer {
        SimPeer {
            shared: self.shared.clone(),
            from,
            incarnation: self.nodes[from].incarnation,
            to,
        }
    }

    fn spawn(
        &mut self,
        node: usize,
        session_with: Option<usize>,
        work: impl Future<Output = Result<(), SyncError>> + Send + 'static,
    ) {
        let incarnation = self.nodes[node].incarnation;
        let shared = self.shared.clone();
        let future = async move {
            let error = work.await.err();
            lock(&shared).finished.push(Finished {
                node,
                incarnation,
                session_with,
                error,
            });
        };
        self.next_task += 1;
        let id = self.next_task;
        self.tasks.insert(
            id,
            Task {
                node,
                incarnation,
                future: Box::pin(future),
            },
        );
        lock(&self.woken).push_back(id);
    }

    /// Poll every woken task until none is left, then send what they sent.
    fn poll_woken(&mut self) {
        loop {
            let next = lock(&self.woken).pop_front();
            let Some(id) = next else {
                let out = std::mem::take(&mut lock(&self.shared).outbox);
                let finished = std::mem::take(&mut lock(&self.shared).finished);
                if out.is_empty() && finished.is_empty() {
                    return;
                }
                for o in out {
                    self.send(o);
                }
                for f in finished {
                    self.on_finished(f);
                }
                continue;
            };
            let Some(mut task) = self.tasks.remove(&id) else {
                continue; // finished, or its node crashed
            };
            if self.nodes[task.node].incarnation != task.incarnation {
                continue;
            }
            let w = waker(Arc::new(Wake {
                task: id,
                woken: self.woken.clone(),
            }));
            let mut cx = Context::from_waker(&w);
            if task.future.as_mut().poll(&mut cx) == Poll::Pending {
                self.tasks.insert(id, task);
            }
        }
    }

    fn on_finished(&mut self, f: Finished) {
        if self.nodes[f.node].incarnation != f.incarnation {
            return;
        }
        if let Some(peer) = f.session_with {
            self.nodes[f.node].sessions.remove(&peer);
        }
        if let Some(e) = f.error {
            self.stats.failed += 1;
            if e.is_peer_fault() {
                self.stats
                    .peer_faults
                    .push(format!("at {} ms node {}: {e}", self.now, f.node));
            }
        }
    }
}

#[cfg(test)]
mod tests;
