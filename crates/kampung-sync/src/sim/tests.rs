//! The scheduler itself, with a small replica: documents as DAGs of opaque
//! changes (hash = SHA-256 of the change, which names its dependencies), the
//! shape of an Automerge history without Automerge. The real replica is
//! simulated in `kampung-runtime`'s `tests/simulation.rs`.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest as _, Sha256};

use super::*;
use crate::message::DocHeads;
use crate::replica::{Applied, ReplicaError, SignedChanges, SignedDocument};
use crate::Hash;

type Change = (Vec<Hash>, Vec<u8>);

#[derive(Default)]
struct Dag {
    /// In an order where every change follows its dependencies.
    order: Vec<Hash>,
    changes: BTreeMap<Hash, Vec<u8>>,
}

impl Dag {
    fn heads(&self) -> Vec<Hash> {
        let mut deps = BTreeSet::new();
        for bytes in self.changes.values() {
            deps.extend(decode(bytes).0);
        }
        self.order
            .iter()
            .filter(|h| !deps.contains(*h))
            .copied()
            .collect()
    }

    fn ancestors(&self, of: &[Hash]) -> BTreeSet<Hash> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<Hash> = of.to_vec();
        while let Some(h) = todo.pop() {
            if let Some(bytes) = self.changes.get(&h) {
                if seen.insert(h) {
                    todo.extend(decode(bytes).0);
                }
            }
        }
        seen
    }
}

fn decode(bytes: &[u8]) -> Change {
    postcard::from_bytes(bytes).expect("a change of this test")
}

fn hash(bytes: &[u8]) -> Hash {
    Sha256::digest(bytes).into()
}

/// A replica of DAG documents, durable at once.
#[derive(Default)]
struct DagReplica {
    docs: Mutex<BTreeMap<String, Dag>>,
    /// Its store cannot be read (a full disk): serving fails.
    failing: std::sync::atomic::AtomicBool,
}

impl DagReplica {
    fn serving(&self) -> Result<(), ReplicaError> {
        if self.failing.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(ReplicaError::Local("the disk is full".into()));
        }
        Ok(())
    }

    /// A local write: one change on top of our heads; its announcement.
    fn write(&self, doc: &str, payload: &[u8]) -> (Hash, Announce) {
        let mut docs = lock(&self.docs);
        let dag = docs.entry(doc.to_string()).or_default();
        let bytes = postcard::to_allocvec(&(dag.heads(), payload.to_vec())).expect("encodes");
        let h = hash(&bytes);
        dag.order.push(h);
        dag.changes.insert(h, bytes.clone());
        let announce = Announce {
            doc: doc.to_string(),
            heads: dag.heads(),
            changes: vec![bytes],
            signatures: Vec::new(),
            from_owner: true,
        };
        (h, announce)
    }

    fn holds(&self, doc: &str) -> bool {
        lock(&self.docs).contains_key(doc)
    }

    fn has(&self, doc: &str, h: &Hash) -> bool {
        lock(&self.docs)
            .get(doc)
            .is_some_and(|d| d.changes.contains_key(h))
    }

    fn all(&self) -> Vec<DocHeads> {
        lock(&self.docs)
            .iter()
            .map(|(doc, d)| DocHeads {
                doc: doc.clone(),
                heads: d.heads(),
            })
            .collect()
    }

    fn apply(&self, doc: &str, changes: Vec<Vec<u8>>) -> Applied {
        let mut docs = lock(&self.docs);
        let dag = docs.entry(doc.to_string()).or_default();
        let mut waiting = changes;
        let mut changed = false;
        loop {
            let before = waiting.len();
            waiting.retain(|bytes| {
                let h = hash(bytes);
                if dag.changes.contains_key(&h) {
                    return false;
                }
                let (deps, _) = decode(bytes);
                if deps.iter().all(|d| dag.changes.contains_key(d)) {
                    dag.order.push(h);
                    dag.changes.insert(h, bytes.clone());
                    changed = true;
                    return false;
                }
                true
            });
            if waiting.len() == before {
                break;
            }
        }
        let missing_deps = waiting
            .iter()
            .flat_map(|b| decode(b).0)
            .filter(|d| !dag.changes.contains_key(d))
            .collect();
        Applied {
            changed,
            heads: dag.heads(),
            missing_deps,
        }
    }
}

impl Replica for DagReplica {
    async fn offered(&self) -> Result<Vec<DocHeads>, ReplicaError> {
        self.serving()?;
        Ok(self.all())
    }
    async fn heads(&self, doc: &str) -> Result<Option<Vec<Hash>>, ReplicaError> {
        Ok(lock(&self.docs).get(doc).map(Dag::heads))
    }
    async fn unknown(&self, doc: &str, heads: Vec<Hash>) -> Result<Vec<Hash>, ReplicaError> {
        Ok(heads.into_iter().filter(|h| !self.has(doc, h)).collect())
    }
    async fn changes_since(
        &self,
        doc: &str,
        have: Vec<Hash>,
        max_bytes: usize,
    ) -> Result<SignedChanges, ReplicaError> {
        self.serving()?;
        let docs = lock(&self.docs);
        let Some(dag) = docs.get(doc) else {
            return Ok(SignedChanges::default());
        };
        let known = dag.ancestors(&have);
        let mut page = SignedChanges::default();
        let mut bytes = 0;
        for h in dag.order.iter().filter(|h| !known.contains(*h)) {
            let c = &dag.changes[h];
            if bytes > 0 && bytes + c.len() > max_bytes {
                page.more = true;
                break;
            }
            bytes += c.len();
            page.changes.push(c.clone());
        }
        Ok(page)
    }
    async fn document(&self, doc: &str) -> Result<Option<SignedDocument>, ReplicaError> {
        self.serving()?;
        Ok(lock(&self.docs).get(doc).map(|dag| {
            let all: Vec<&Vec<u8>> = dag.order.iter().map(|h| &dag.changes[h]).collect();
            (postcard::to_allocvec(&all).expect("encodes"), Vec::new())
        }))
    }
    async fn apply_changes(
        &self,
        doc: &str,
        changes: Vec<Vec<u8>>,
        _signatures: Vec<Vec<u8>>,
        _from: &str,
    ) -> Result<Applied, ReplicaError> {
        Ok(self.apply(doc, changes))
    }
    async fn apply_document(
        &self,
        doc: &str,
        bytes: Vec<u8>,
        _signatures: Vec<Vec<u8>>,
        _from: &str,
    ) -> Result<Applied, ReplicaError> {
        let changes: Vec<Vec<u8>> = postcard::from_bytes(&bytes)
            .map_err(|e| ReplicaError::Refused(format!("not a document: {e}")))?;
        Ok(self.apply(doc, changes))
    }
}

/// One hostile run: writes everywhere, partitions, crashes (the toy keeps
/// everything), then a calm network. Returns the writes and the run.
fn run(seed: u64, nodes: usize) -> (Vec<(usize, String, Hash)>, Sim<DagReplica>) {
    let replicas: Vec<Arc<DagReplica>> = (0..nodes).map(|_| Arc::default()).collect();
    let config = SimConfig {
        drop: 0.1,
        duplicate: 0.1,
        limits: Limits {
            // Small pages, so that paging is exercised too.
            changes_page: 300,
            document_page: 500,
            heads_page: 2,
            ..Limits::default()
        },
        ..SimConfig::default()
    };
    let mut sim = Sim::new(seed, config, replicas);
    let mut written = Vec::new();
    for step in 0..40 {
        let node = sim.rng().random_range(0..nodes);
        match sim.rng().random_range(0..10) {
            0 => {
                let groups = (0..nodes).map(|_| sim.rng().random_range(0..2)).collect();
                sim.partition(groups);
            }
            1 => sim.heal(),
            2 => {
                if let Some(r) = sim.crash(node) {
                    sim.run_for(500);
                    sim.restart(node, r);
                }
            }
            _ => {
                // A node writes its own document, sometimes another's (shared cases).
                let doc = format!("d/{}", node % 3);
                if let Some(r) = sim.replica(node).cloned() {
                    let (h, announce) = r.write(&doc, format!("{seed}:{step}").as_bytes());
                    sim.announce(node, &announce);
                    written.push((node, doc, h));
                }
            }
        }
        let pause = sim.rng().random_range(0..2_000);
        sim.run_for(pause);
    }
    sim.heal();
    *sim.config_mut() = sim.config_mut().calm();
    if let Err(e) = sim.run_until_quiescent(300_000) {
        panic!("seed {seed}: {e}");
    }
    (written, sim)
}

#[test]
fn hostile_networks_converge_with_every_write() {
    for seed in 0..200 {
        let (written, sim) = run(seed, 4);
        assert!(
            sim.stats().peer_faults.is_empty(),
            "seed {seed}: {:?}",
            sim.stats().peer_faults
        );
        for node in 0..sim.nodes() {
            let r = sim.replica(node).expect("all up at the end");
            for (by, doc, h) in &written {
                assert!(
                    r.has(doc, h),
                    "seed {seed}: node {node} lacks a write of node {by} in {doc}"
                );
            }
        }
    }
}

#[test]
fn the_network_really_is_hostile() {
    let mut totals = SimStats::default();
    for seed in 0..20 {
        let (_, sim) = run(seed, 4);
        let s = sim.stats();
        totals.dropped += s.dropped;
        totals.duplicated += s.duplicated;
        totals.timeouts += s.timeouts;
        totals.crashes += s.crashes;
        totals.failed += s.failed;
        totals.sessions += s.sessions;
    }
    assert!(totals.dropped > 100, "{totals:?}");
    assert!(totals.duplicated > 100, "{totals:?}");
    assert!(totals.timeouts > 10, "{totals:?}");
    assert!(totals.crashes > 5, "{totals:?}");
    assert!(
        totals.failed > 0,
        "sessions cut short by the network: {totals:?}"
    );
}

#[test]
fn a_seed_replays_exactly() {
    let (a, sa) = run(42, 5);
    let (b, sb) = run(42, 5);
    assert_eq!(a, b);
    assert_eq!(sa.stats(), sb.stats());
    let (c, _) = run(43, 5);
    assert_ne!(a, c, "another seed, another run");
}

#[test]
fn a_partition_that_never_heals_is_reported() {
    let replicas: Vec<Arc<DagReplica>> = (0..3).map(|_| Arc::default()).collect();
    let mut sim = Sim::new(1, SimConfig::default().calm(), replicas);
    sim.partition(vec![0, 0, 1]);
    let (_, a) = sim.replica(0).cloned().expect("up").write("d/0", b"x");
    sim.announce(0, &a);
    let err = sim
        .run_until_quiescent(20_000)
        .expect_err("node 2 is cut off");
    assert!(
        err.reason.contains("replicas differ") && err.reason.contains("[0, 1]"),
        "{err}"
    );
    sim.heal();
    sim.run_until_quiescent(20_000)
        .expect("converges once healed");
}

#[test]
fn a_peer_whose_store_fails_declines_and_is_not_blamed() {
    let replicas: Vec<Arc<DagReplica>> = (0..2).map(|_| Arc::default()).collect();
    let mut sim = Sim::new(3, SimConfig::default().calm(), replicas);
    let writer = sim.replica(1).cloned().expect("up");
    let (h, mut announce) = writer.write("d/1", b"x");
    writer
        .failing
        .store(true, std::sync::atomic::Ordering::Relaxed);
    // Heads only: node 0 must pull, and node 1 answers with a refusal.
    announce.changes.clear();
    sim.announce(1, &announce);
    sim.run_for(10_000);
    assert!(sim.stats().failed > 0, "{:?}", sim.stats());
    assert!(
        sim.stats().peer_faults.is_empty(),
        "{:?}",
        sim.stats().peer_faults
    );
    assert!(!sim.replica(0).expect("up").has("d/1", &h));
    // Its disk has space again: the next round brings the write.
    writer
        .failing
        .store(false, std::sync::atomic::Ordering::Relaxed);
    sim.run_until_quiescent(60_000).expect("converges");
    assert!(sim.replica(0).expect("up").has("d/1", &h));
    assert!(sim.stats().peer_faults.is_empty());
}

/// Answers at once from another replica, after letting other sessions run,
/// and counts the whole-document pages it is asked for.
struct Direct<'a> {
    to: &'a DagReplica,
    name: String,
    documents: &'a std::sync::atomic::AtomicUsize,
}

impl Requester for Direct<'_> {
    fn peer(&self) -> String {
        self.name.clone()
    }

    async fn request(&self, req: Request) -> Result<Response, RequestError> {
        let mut yielded = false;
        futures::future::poll_fn(|cx| {
            if std::mem::replace(&mut yielded, true) {
                Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await;
        if matches!(req, Request::Document { .. }) {
            self.documents
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(respond(self.to, req, &Limits::default(), &crate::Scope::ALL).await)
    }
}

/// A node that joins with three peers holding the same documents syncs
/// with all three at once; how many whole documents does it fetch?
fn documents_fetched_by_a_joining_node(shared_pulls: bool) -> usize {
    let peers: Vec<DagReplica> = (0..3).map(|_| DagReplica::default()).collect();
    for d in 0..6 {
        let doc = format!("v/{d}");
        let (_, announce) = peers[0].write(&doc, b"resident");
        for p in &peers[1..] {
            p.apply(&doc, announce.changes.clone());
        }
    }
    let joining = DagReplica::default();
    let documents = std::sync::atomic::AtomicUsize::new(0);
    let pulls = Pulls::new();
    let sessions = peers.iter().enumerate().map(|(i, p)| {
        let requester = Direct {
            to: p,
            name: format!("peer-{i}"),
            documents: &documents,
        };
        let pulls = if shared_pulls {
            pulls.clone()
        } else {
            Pulls::new()
        };
        let joining = &joining;
        async move {
            sync_with(
                joining,
                &requester,
                &Limits::default(),
                &pulls,
                &crate::Scope::ALL,
            )
            .await
        }
    });
    for result in futures::executor::block_on(futures::future::join_all(sessions)) {
        result.expect("honest peers");
    }
    assert_eq!(joining.all(), peers[0].all(), "the joining node holds all");
    assert_eq!(pulls.in_flight(), 0, "every claim is given back");
    documents.into_inner()
}

#[test]
fn a_joining_node_fetches_each_document_once_from_all_its_peers() {
    // The same sessions each pulling for themselves fetch every document
    // once per peer: the test sees the concurrency it means to tame.
    assert_eq!(documents_fetched_by_a_joining_node(false), 18);
    assert_eq!(documents_fetched_by_a_joining_node(true), 6);
}

/// Read scopes: a village's cards reach every node, its details only the
/// village, a village that keeps a copy and the auditor; a checkpoint's
/// crossing log only the checkpoints and the auditor, by anti-entropy
/// (never gossiped), through any losses; a rogue's gossip of the log or of
/// the details is refused by every node and blamed on it.
#[test]
fn a_crossing_log_reaches_only_the_nodes_that_may_read_it() {
    use kampung_core::{ReadScope, RoleKind, VillageCode};
    const VILLAGE: &str = "k/35.10.15.2012";
    const DETAILS: &str = "v/35.10.15.2012";
    const LOG: &str = "x/12D3KooWKetapang/2026-12";
    let own: VillageCode = "35.10.15.2012".parse().unwrap();
    let holder = kampung_core::banyuwangi::detail_holders(own)[0];
    let elsewhere: VillageCode = "35.10.01.2001".parse().unwrap();
    let kinds = [
        RoleKind::Village,
        RoleKind::Checkpoint,
        RoleKind::Auditor,
        RoleKind::Facility,
        RoleKind::Checkpoint,
        RoleKind::Village,
        RoleKind::Village,
    ];
    let villages = [
        Some(own),
        None,
        None,
        None,
        None,
        Some(holder),
        Some(elsewhere),
    ];
    for seed in 0..20 {
        let replicas: Vec<Arc<DagReplica>> = kinds.iter().map(|_| Arc::default()).collect();
        let mut sim = Sim::new(seed, SimConfig::default(), replicas);
        for (i, k) in kinds.iter().enumerate() {
            sim.set_scope(
                i,
                ReadScope::of_node(*k, villages[i], &kampung_core::HolderRule::default()),
            );
        }
        let village = sim.replica(0).cloned().expect("up");
        let checkpoint = sim.replica(1).cloned().expect("up");
        let mut logged = Vec::new();
        let mut detailed = Vec::new();
        for i in 0..3u8 {
            let (_, a) = village.write(VILLAGE, &[i]);
            sim.announce(0, &a);
            let (h, a) = village.write(DETAILS, &[i]);
            detailed.push((h, a));
            let (h, a) = checkpoint.write(LOG, &[i]);
            sim.announce(1, &a);
            logged.push((h, a));
            sim.run_for(1_000);
        }
        *sim.config_mut() = sim.config_mut().calm();
        sim.run_until_quiescent(120_000)
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert!(
            sim.stats().peer_faults.is_empty(),
            "seed {seed}: {:?}",
            sim.stats()
        );
        for (i, k) in kinds.iter().enumerate() {
            let r = sim.replica(i).expect("up");
            assert!(r.holds(VILLAGE), "seed {seed}: node {i} ({k})");
            let reads = matches!(k, RoleKind::Checkpoint | RoleKind::Auditor);
            assert_eq!(
                logged.iter().all(|(h, _)| r.has(LOG, h)),
                reads,
                "seed {seed}: node {i} ({k})"
            );
            if !reads {
                assert!(!r.holds(LOG), "seed {seed}: node {i} ({k})");
            }
            let reads_details = [0, 2, 5].contains(&i);
            assert_eq!(
                detailed.iter().all(|(h, _)| r.has(DETAILS, h)),
                reads_details,
                "seed {seed}: details at node {i} ({k})"
            );
            if !reads_details {
                assert!(!r.holds(DETAILS), "seed {seed}: node {i} ({k})");
            }
        }
        // The checkpoint gone rogue gossips its log: every node refuses it.
        sim.gossip(1, &logged[2].1);
        sim.run_for(5_000);
        let blamed = &sim.stats().peer_faults;
        assert!(
            !blamed.is_empty()
                && blamed
                    .iter()
                    .all(|f| f.contains("node-1") && f.contains("not every member may read")),
            "seed {seed}: {blamed:?}"
        );
        assert!(!sim.replica(0).expect("up").holds(LOG));
        assert!(!sim.replica(3).expect("up").holds(LOG));
        // The village gone rogue gossips its details: refused and blamed.
        sim.gossip(0, &detailed[2].1);
        sim.run_for(5_000);
        assert!(
            sim.stats()
                .peer_faults
                .iter()
                .any(|f| f.contains("node-0") && f.contains("not every member may read")),
            "seed {seed}: {:?}",
            sim.stats().peer_faults
        );
        for i in [1, 3, 4, 6] {
            assert!(
                !sim.replica(i).expect("up").holds(DETAILS),
                "seed {seed}: node {i}"
            );
        }
    }
}
