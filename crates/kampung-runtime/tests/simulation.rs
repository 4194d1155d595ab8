//! The deterministic simulation of the mesh (`kampung_sync::sim`) over real
//! replicas: registries with Automerge documents, signed writes checked
//! against a root-certified roster, in-memory storage that loses what was not
//! flushed when its node crashes.
//!
//! Three villages, a checkpoint and the GOR facility write while the network
//! delays, drops, duplicates and reorders messages, cuts itself in two and
//! crashes nodes, some in the middle of a write (the power goes after a
//! random number of storage operations). Then the network calms down, and for every seed:
//! the replicas converge, no write that was acknowledged is missing anywhere
//! (residents, crossings, isolation-case notes written concurrently by three
//! roles), the index equals the documents, `audit` passes on every node,
//! and no honest node blamed another.
//!
//! `SIM_SEEDS=N` runs seeds 0..N (1,000 by default); `SIM_SEED=n` runs one
//! seed, which replays exactly (a failure names its seed).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use kampung_core::nik::compose;
use kampung_core::{Address, ManualClock, Nik, Resident, RoleKind, Sex, Status, VillageCode};
use kampung_mesh::identity::Keypair;
use kampung_runtime::replica::LocalReplica;
use kampung_store::audit::audit_registry;
use kampung_store::case::{Note, Opening, Writer};
use kampung_store::crossing::{Crossing, Decision};
use kampung_store::storage::MemoryStorage;
use kampung_store::trust::RosterVerifier;
use kampung_store::{CaseUpdate, ChangeVerifier, DocId, Registry, Storage};
use kampung_sync::sim::{Sim, SimConfig, SimStats};
use kampung_trust::{Certificate, NodeKey, Roster, Signed, Statement};
use rand::Rng;

/// 1 December 2026, 08.00 WIB: the simulation's time zero.
const START_MS: i64 = 1_796_086_800_000;
const DAY_MS: i64 = 86_400_000;
const VILLAGES: [&str; 3] = ["35.10.15.2012", "35.10.15.2001", "35.10.25.2005"];
const CHECKPOINT: usize = 3;
const FACILITY: usize = 4;

type Store = Arc<MemoryStorage>;
type Node = LocalReplica<Store>;

/// The mesh's identities, the same for every seed.
struct World {
    root: NodeKey,
    keys: Vec<Keypair>,
    roles: Vec<(RoleKind, Option<VillageCode>)>,
    statements: Vec<Signed>,
    roster: Arc<RwLock<Roster>>,
}

impl World {
    fn new() -> World {
        let root_key = Keypair::ed25519_from_bytes([200; 32]).expect("a key");
        let root = NodeKey::from_public(&root_key.public()).expect("ed25519");
        let mut roles: Vec<(RoleKind, Option<VillageCode>)> = VILLAGES
            .iter()
            .map(|v| {
                (
                    RoleKind::Village,
                    Some(VillageCode::parse(v).expect("real code")),
                )
            })
            .collect();
        roles.push((RoleKind::Checkpoint, None));
        roles.push((RoleKind::Facility, None));
        let keys: Vec<Keypair> = (0..roles.len())
            .map(|i| Keypair::ed25519_from_bytes([i as u8 + 1; 32]).expect("a key"))
            .collect();
        let mut roster = Roster::new(root);
        let statements: Vec<Signed> = keys
            .iter()
            .zip(&roles)
            .map(|(key, (role, village))| {
                let cert = Signed::sign(
                    Statement::Certificate(Certificate {
                        node: NodeKey::from_public(&key.public()).expect("ed25519"),
                        role: *role,
                        village: *village,
                        label: format!("{role:?}"),
                        not_before_ms: START_MS - DAY_MS,
                        until_ms: START_MS + 365 * DAY_MS,
                    }),
                    &root_key,
                )
                .expect("signs");
                roster.add(cert.clone()).expect("certified");
                cert
            })
            .collect();
        World {
            root,
            keys,
            roles,
            statements,
            roster: Arc::new(RwLock::new(roster)),
        }
    }

    fn peer_id(&self, node: usize) -> String {
        self.keys[node].public().to_peer_id().to_string()
    }

    fn writer(&self, node: usize) -> Writer {
        Writer {
            peer: self.peer_id(node),
            role: self.roles[node].0,
            person: None,
        }
    }

    /// Open node `node` on `storage`, as a node starts: its actor is a new
    /// session actor of its key (`session` drawn from the seed, so a run replays).
    fn open(
        &self,
        node: usize,
        storage: Store,
        clock: &Arc<ManualClock>,
        session: [u8; kampung_trust::SESSION_BYTES],
    ) -> Arc<Node> {
        let key = &self.keys[node];
        let actor = automerge::ActorId::from(
            key.public()
                .try_into_ed25519()
                .expect("ed25519")
                .to_bytes()
                .to_vec(),
        );
        let mut reg = Registry::open(storage, actor, 2026).expect("opens");
        reg.set_signer_in_session(Arc::new(key.clone()), session);
        let verifier: Arc<dyn ChangeVerifier + Send + Sync> =
            Arc::new(RosterVerifier::new(self.roster.clone(), clock.clone()));
        Arc::new(LocalReplica::new(reg, verifier))
    }
}

/// What was acknowledged to the people who wrote it.
#[derive(Default)]
struct Acked {
    residents: BTreeMap<Nik, Resident>,
    crossings: usize,
    /// Case id → texts of notes written to it.
    notes: BTreeMap<String, Vec<String>>,
    writes: usize,
}

/// Person `p` of village `v`, the `n`th village (NIK issued in the
/// village's own district, its serial unique across the villages).
fn person(p: u16, (n, v): (usize, VillageCode), name: String, status: Status) -> Resident {
    let birth = time::Date::from_calendar_date(1950, time::Month::January, 1).expect("a date")
        + time::Duration::days(i64::from(p) * 53);
    let sex = if p % 2 == 0 { Sex::Male } else { Sex::Female };
    let nik = compose(3510, v.district_code(), birth, sex, 100 * n as u16 + p + 1);
    Resident {
        nik: Nik::parse(&nik, 2026).expect("a valid NIK").nik(),
        full_name: name,
        sex,
        birth_date: birth,
        family_card: format!("3510{:02}0101{:06}", v.district_code(), p),
        address: Address {
            dusun: "Krajan".into(),
            rt: 1 + p % 9,
            rw: 1 + p % 4,
        },
        village: v,
        status,
        updated_at_ms: 0,
    }
}

struct Run<'w> {
    world: &'w World,
    sim: Sim<Node>,
    storages: Vec<Store>,
    clock: Arc<ManualClock>,
    acked: Acked,
    /// Cases opened (ids), for updates by any role.
    cases: Vec<String>,
}

impl Run<'_> {
    fn now_ms(&self) -> i64 {
        START_MS + self.sim.now_ms() as i64
    }

    fn run_for(&mut self, ms: u64) {
        // In steps, so that the verifiers' clock follows virtual time.
        let mut left = ms;
        while left > 0 {
            let step = left.min(250);
            self.sim.run_for(step);
            left -= step;
            self.clock.set(self.now_ms());
        }
    }

    fn village_write(&mut self, node: usize) {
        let v = self.world.roles[node].1.expect("a village");
        let p = self.sim.rng().random_range(0..12u16);
        let status = if self.sim.rng().random_bool(0.2) {
            Status::Deceased { date: None }
        } else {
            Status::Active
        };
        let step = self.acked.writes;
        let record = person(p, (node, v), format!("Warga {p} tulisan {step}"), status);
        let now = self.now_ms();
        let Some(r) = self.sim.replica(node).cloned() else {
            return;
        };
        let written = r.write(&DocId::village(v), |reg| {
            reg.write(v, std::slice::from_ref(&record), now, &mut |_| {})
        });
        let (_, announce) = written.expect("a village writes its own residents");
        self.acked.residents.insert(record.nik, record);
        self.acked.writes += 1;
        self.sim.announce(node, &announce);
    }

    fn check_at_post(&mut self) {
        let Some(r) = self.sim.replica(CHECKPOINT).cloned() else {
            return;
        };
        let now = self.now_ms();
        let serial = self.acked.crossings as u16 + 1;
        let nik = compose(
            3508,
            1,
            time::macros::date!(1985 - 03 - 12),
            Sex::Female,
            serial,
        );
        let open = self.sim.rng().random_bool(0.4);
        let case_id = format!("{:016x}", self.sim.rng().random::<u64>());
        let crossing = Crossing {
            at_ms: now,
            nik: nik.clone(),
            verdict: "non_resident".into(),
            explanation: "BUKAN WARGA BANYUWANGI".into(),
            decision: if open {
                Decision::IsolationGor
            } else {
                Decision::AllowedIn
            },
            case_id: open.then(|| case_id.clone()),
            officer: None,
            officer_id: None,
            note: None,
            basis: Vec::new(),
            state: None,
            policy: None,
            found_in: None,
            issued_in: None,
            rule: None,
        };
        let opening = Opening {
            nik: nik.parse().expect("a valid NIK"),
            person_name: None,
            at_ms: now,
            by: self.world.writer(CHECKPOINT),
            origin: "Kabupaten Lumajang, Jawa Timur (35.08)".into(),
            required_days: 14,
            place: kampung_core::Place::Gor,
        };
        let peer = self.world.peer_id(CHECKPOINT);
        let log = DocId::crossings_at(&peer, now).expect("the simulation's clock is a date");
        let written = r.write(&log, |reg| {
            let case = open.then_some((case_id.as_str(), &opening));
            reg.record_check(&peer, &crossing, case, now)
        });
        let (_, announce) = written.expect("a checkpoint logs its checks");
        self.acked.crossings += 1;
        self.acked.writes += 1;
        self.sim.announce(CHECKPOINT, &announce);
        if open {
            let announce = r.announce_since(&DocId::case(&case_id), &[]);
            self.sim
                .announce(CHECKPOINT, &announce.expect("the case is held"));
            self.cases.push(case_id.clone());
            self.acked.notes.insert(case_id, Vec::new());
        }
    }

    /// The checkpoint, the facility or a village notes something on a case
    /// it holds: concurrent writers of one document.
    fn note_case(&mut self, node: usize) {
        if self.cases.is_empty() {
            return;
        }
        let i = self.sim.rng().random_range(0..self.cases.len());
        let case_id = self.cases[i].clone();
        let Some(r) = self.sim.replica(node).cloned() else {
            return;
        };
        if r.registry().isolation_case(&case_id).is_none() {
            return; // not replicated here yet
        }
        let now = self.now_ms();
        let text = format!("catatan {} dari node {node}", self.acked.writes);
        let note = CaseUpdate::Note(Note {
            text: text.clone(),
            at_ms: now,
            by: self.world.writer(node),
        });
        let written = r.write(&DocId::case(&case_id), |reg| {
            reg.update_isolation_case(&case_id, &note, now)
        });
        let (_, announce) = written.expect("a held case takes a note");
        self.acked.notes.entry(case_id).or_default().push(text);
        self.acked.writes += 1;
        self.sim.announce(node, &announce);
    }

    /// A village writes and the power goes during the write, or just
    /// after it: acknowledged only if the write returned; then the node is
    /// dead and comes back with what its storage had flushed.
    fn torn_write(&mut self, node: usize, down_ms: u64) {
        let Some(r) = self.sim.replica(node).cloned() else {
            return;
        };
        let v = self.world.roles[node].1.expect("a village");
        let p = self.sim.rng().random_range(0..12u16);
        let step = self.acked.writes;
        let record = person(
            p,
            (node, v),
            format!("Warga {p} terputus {step}"),
            Status::Active,
        );
        let cut = self.sim.rng().random_range(0..6);
        self.storages[node].power_cut_after(cut);
        let now = self.now_ms();
        let written = r.write(&DocId::village(v), |reg| {
            reg.write(v, std::slice::from_ref(&record), now, &mut |_| {})
        });
        if let Ok((_, announce)) = written {
            self.acked.residents.insert(record.nik, record);
            self.acked.writes += 1;
            self.sim.announce(node, &announce);
        }
        self.crash(node, down_ms);
    }

    /// Kill the node; bring it back, after `down_ms`, with what its storage
    /// had flushed.
    fn crash(&mut self, node: usize, down_ms: u64) {
        if self.sim.crash(node).is_none() {
            return;
        }
        let survived = Arc::new(self.storages[node].after_crash());
        self.storages[node] = survived.clone();
        self.run_for(down_ms);
        let session = self.sim.rng().random();
        let reopened = self.world.open(node, survived, &self.clock, session);
        self.sim.restart(node, reopened);
    }
}

/// Everything that must hold at the end of one seed; the first that does not.
fn check(run: &Run<'_>) -> Result<(), String> {
    if !run.sim.stats().peer_faults.is_empty() {
        return Err(format!(
            "an honest node blamed another: {:?}",
            run.sim.stats().peer_faults
        ));
    }
    let checkpoint = run.world.peer_id(CHECKPOINT);
    for node in 0..run.sim.nodes() {
        let r = run.sim.replica(node).ok_or("a node is down at the end")?;
        let mut reg = r.registry();
        for (nik, want) in &run.acked.residents {
            let got = reg.get(*nik).map_err(|e| e.to_string())?;
            let same = got.as_ref().is_some_and(|g| {
                g.full_name == want.full_name
                    && g.status == want.status
                    && g.village == want.village
            });
            if !same {
                return Err(format!(
                    "node {node}: acknowledged resident {nik} ({}, {:?}) reads as {:?}",
                    want.full_name,
                    want.status,
                    got.map(|g| (g.full_name, g.status))
                ));
            }
        }
        let crossings = reg.crossings(&checkpoint).map_err(|e| e.to_string())?.len();
        if crossings != run.acked.crossings {
            return Err(format!(
                "node {node}: {crossings} crossings, {} acknowledged",
                run.acked.crossings
            ));
        }
        for (case_id, texts) in &run.acked.notes {
            let history = reg
                .isolation_case_history(case_id, run.now_ms())
                .ok_or_else(|| format!("node {node}: case {case_id} missing"))?;
            for t in texts {
                if !history.1.notes.iter().any(|n| &n.text == t) {
                    return Err(format!("node {node}: case {case_id} lost the note '{t}'"));
                }
            }
        }
        let problems = reg.verify_index().map_err(|e| e.to_string())?;
        if !problems.is_empty() {
            return Err(format!(
                "node {node}: index differs from documents: {problems:?}"
            ));
        }
        let audit = audit_registry(&mut reg, Some(run.world.root), run.now_ms())
            .map_err(|e| e.to_string())?;
        if !audit.ok {
            let failures: Vec<String> = audit.all_failures().map(|f| format!("{f:?}")).collect();
            return Err(format!("node {node}: audit failed: {failures:?}"));
        }
    }
    Ok(())
}

/// What one seed did, for the summary.
#[derive(Default, Debug)]
struct Outcome {
    writes: usize,
    settle_ms: u64,
    stats: SimStats,
}

fn run_seed(world: &World, seed: u64) -> Result<Outcome, String> {
    let clock = ManualClock::new(START_MS);
    let storages: Vec<Store> = (0..world.keys.len())
        .map(|_| Arc::new(MemoryStorage::losing_unflushed()))
        .collect();
    let mut replicas = Vec::new();
    for (node, storage) in storages.iter().enumerate() {
        for s in &world.statements {
            storage
                .put_statement(&s.id(), &s.encode())
                .map_err(|e| e.to_string())?;
        }
        storage.flush().map_err(|e| e.to_string())?;
        replicas.push(world.open(node, storage.clone(), &clock, [node as u8; 8]));
    }
    let config = SimConfig {
        drop: 0.1,
        duplicate: 0.05,
        ..SimConfig::default()
    };
    let mut run = Run {
        world,
        sim: Sim::new(seed, config, replicas),
        storages,
        clock,
        acked: Acked::default(),
        cases: Vec::new(),
    };
    let nodes = run.sim.nodes();
    for _ in 0..30 {
        let node = run.sim.rng().random_range(0..nodes);
        match run.sim.rng().random_range(0..20) {
            0..=6 => run.village_write(node % VILLAGES.len()),
            7..=9 => run.check_at_post(),
            10..=13 => {
                let who = [CHECKPOINT, FACILITY, node % VILLAGES.len()][node % 3];
                run.note_case(who);
            }
            14 => {
                let down = run.sim.rng().random_range(0..5_000);
                run.crash(node, down);
            }
            15 => {
                let down = run.sim.rng().random_range(0..5_000);
                run.torn_write(node % VILLAGES.len(), down);
            }
            16 | 17 => {
                let groups = (0..nodes)
                    .map(|_| run.sim.rng().random_range(0..2))
                    .collect();
                run.sim.partition(groups);
            }
            _ => run.sim.heal(),
        }
        let pause = run.sim.rng().random_range(0..3_000);
        run.run_for(pause);
    }
    run.sim.heal();
    *run.sim.config_mut() = run.sim.config_mut().calm();
    let mut settle_ms = 0;
    let mut settled = false;
    // Settle in steps, so that the verifiers' clock follows.
    while settle_ms < 600_000 {
        match run.sim.run_until_quiescent(0) {
            Ok(_) => {
                settled = true;
                break;
            }
            Err(_) => {
                run.run_for(1_000);
                settle_ms += 1_000;
            }
        }
    }
    if !settled {
        let why = run.sim.run_until_quiescent(0).err().map(|e| e.reason);
        return Err(format!("did not converge in 10 minutes: {why:?}"));
    }
    check(&run)?;
    Ok(Outcome {
        writes: run.acked.writes,
        settle_ms,
        stats: run.sim.stats().clone(),
    })
}

fn seeds() -> Vec<u64> {
    if let Ok(one) = std::env::var("SIM_SEED") {
        return vec![one.parse().expect("SIM_SEED is a number")];
    }
    let n: u64 = std::env::var("SIM_SEEDS")
        .ok()
        .map(|n| n.parse().expect("SIM_SEEDS is a number"))
        .unwrap_or(1_000);
    (0..n).collect()
}

#[test]
fn every_seed_converges_with_every_acknowledged_write() {
    let world = World::new();
    let seeds = seeds();
    let next = AtomicU64::new(0);
    let results: Mutex<Vec<(u64, Result<Outcome, String>)>> = Mutex::default();
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(&seed) = seeds.get(i) else {
                    return;
                };
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run_seed(&world, seed)
                }))
                .unwrap_or_else(|p| {
                    Err(p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "panicked".into()))
                });
                results.lock().expect("not poisoned").push((seed, outcome));
            });
        }
    });
    let mut results = results.into_inner().expect("not poisoned");
    results.sort_by_key(|(seed, _)| *seed);
    let failed: Vec<String> = results
        .iter()
        .filter_map(|(seed, r)| r.as_ref().err().map(|e| format!("seed {seed}: {e}")))
        .collect();
    let ok: Vec<&Outcome> = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .collect();
    let sum = |f: &dyn Fn(&Outcome) -> u64| ok.iter().map(|o| f(o)).sum::<u64>();
    let mut settle: Vec<u64> = ok.iter().map(|o| o.settle_ms).collect();
    settle.sort_unstable();
    println!(
        "{} seeds: {} acknowledged writes, {} messages ({} dropped, {} duplicated), {} timeouts, \
         {} crashes, {} sessions ({} cut short); settled after the heal in p50 {} ms, max {} ms \
         of virtual time",
        results.len(),
        sum(&|o| o.writes as u64),
        sum(&|o| o.stats.messages),
        sum(&|o| o.stats.dropped),
        sum(&|o| o.stats.duplicated),
        sum(&|o| o.stats.timeouts),
        sum(&|o| o.stats.crashes),
        sum(&|o| o.stats.sessions),
        sum(&|o| o.stats.failed),
        settle.get(settle.len() / 2).copied().unwrap_or(0),
        settle.last().copied().unwrap_or(0),
    );
    assert!(
        failed.is_empty(),
        "{} of {} seeds failed (replay one with SIM_SEED=n cargo test -p kampung-runtime \
         --test simulation):\n{}",
        failed.len(),
        results.len(),
        failed.join("\n")
    );
    if results.len() >= 100 {
        // The network was hostile, or passing would prove little.
        assert!(sum(&|o| o.stats.crashes) > 0 && sum(&|o| o.stats.dropped) > 0);
        assert!(sum(&|o| o.writes as u64) > 10 * results.len() as u64);
    }
}
