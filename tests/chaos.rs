//! The chaos run: eight real `kampung run` processes (four villages, two
//! checkpoints, the GOR and an auditor), each in its own network namespace
//! behind one switch (a Linux bridge) and on its own small disk (a tmpfs),
//! with delay or a slow link and packet loss on every link, while clerks
//! register and correct residents, officers log crossings (some opening
//! isolation cases at the GOR) and facility staff write follow-ups and
//! notes, all through the HTTP API as the pages and programs do. A seeded
//! schedule meanwhile kills nodes with SIGKILL, cuts the mesh in two and
//! heals it, fills a node's disk and frees it, and restarts a village under
//! a wrong clock (libfaketime: fast, slow, before its certificate) and back.
//!
//! Then everything is healed and the checker requires: every node takes
//! writes again by itself; every write a node acknowledged is on every node
//! that may read it (residents in the documents and the index, case notes
//! and follow-ups everywhere; crossings at the checkpoints and the auditor);
//! all nodes hold the same heads of what they share; every node stops
//! cleanly; `kampung audit verify` passes on every store. It prints a report (and
//! writes it to `CHAOS_REPORT` if set).
//!
//! Run by `scripts/chaos` (`--minutes N --seed S`); CI runs 5 minutes.
//! Needs root, iproute2, nftables and faketime: without them it fails and
//! says what to install.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/procs.rs"]
mod procs;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kampung_core::{Sex, Status, VillageCode};
use procs::*;
use serde_json::{json, Value};

/// The villages of the run (code, name), from the region table.
const VILLAGES: [(&str, &str); 4] = [
    ("35.10.15.2012", "Kampunganyar"),
    ("35.10.21.2003", "Ketapang"),
    ("35.10.18.2007", "Bajulmati"),
    ("35.10.24.2008", "Tamansari"),
];
const CHECKPOINTS: [&str; 2] = ["ketapang", "wongsorejo"];
/// Residents each village imports before the run.
const IMPORTED: usize = 300;
/// Every node's disk.
const DISK_MB: u32 = 256;
const MESH_PORT: u16 = 4001;
const API_PORT: u16 = 8080;
/// Packet loss on every link, per mille.
const LOSS_PER_MILLE: u32 = 5;
/// After the last heal: every node must take a write again within this.
const RECOVER: Duration = Duration::from_secs(120);
/// And all must hold the same heads within this.
const CONVERGE: Duration = Duration::from_secs(300);
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

fn require_tools() {
    require_root(
        "builds network namespaces and mounts disks",
        &[("ip", "iproute2"), ("tc", "iproute2"), ("nft", "nftables")],
    );
    assert!(
        faketime_lib().is_some(),
        "libfaketime is missing: apt-get install -y faketime"
    );
}

fn faketime_lib() -> Option<PathBuf> {
    [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/faketime/libfaketime.so.1",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// The namespaces, the switch, the links and the disks. Dropping it
/// unmounts the disks and deletes the namespaces (and with them every
/// link); the nodes must be stopped first (declare them after the lab).
struct Lab {
    tag: String,
    /// The first three octets of every address, e.g. `10.47.12`.
    net: String,
    hub: String,
    namespaces: Vec<String>,
    mounts: Vec<PathBuf>,
    /// How links are slowed: `netem` when the kernel has it, else `tbf`.
    shaping: String,
}

impl Lab {
    fn new() -> Lab {
        require_tools();
        let pid = std::process::id();
        let tag = format!("kc{pid}");
        let mut lab = Lab {
            net: format!("10.{}.{}", 100 + (pid >> 8) % 100, pid & 0xff),
            hub: format!("{tag}h"),
            tag,
            namespaces: Vec::new(),
            mounts: Vec::new(),
            shaping: String::new(),
        };
        sh("ip", &["netns", "add", &lab.hub]);
        lab.namespaces.push(lab.hub.clone());
        sh(
            "ip",
            &["-n", &lab.hub, "link", "add", "sw", "type", "bridge"],
        );
        sh("ip", &["-n", &lab.hub, "link", "set", "sw", "up"]);
        // The operator's link: this process reaches every node's API on it,
        // across any partition (a partition cuts the mesh, not a clerk from
        // the office's own node).
        let ops = format!("{}o", lab.tag);
        sh(
            "ip",
            &[
                "link", "add", &ops, "type", "veth", "peer", "name", "ops", "netns", &lab.hub,
            ],
        );
        sh(
            "ip",
            &["-n", &lab.hub, "link", "set", "ops", "master", "sw", "up"],
        );
        sh(
            "ip",
            &["addr", "add", &format!("{}.254/24", lab.net), "dev", &ops],
        );
        sh("ip", &["link", "set", &ops, "up"]);
        lab
    }

    fn addr(&self, i: usize) -> String {
        format!("{}.{}", self.net, i + 1)
    }

    fn ns(&self, i: usize) -> String {
        format!("{}n{i}", self.tag)
    }

    /// Node `i`'s namespace, its link to the switch (slowed, lossy) and its
    /// input filter (the partition's cut set).
    fn add_node(&mut self, i: usize) -> String {
        let ns = self.ns(i);
        sh("ip", &["netns", "add", &ns]);
        self.namespaces.push(ns.clone());
        let port = format!("p{i}");
        sh(
            "ip",
            &[
                "-n", &ns, "link", "add", "eth0", "type", "veth", "peer", "name", &port, "netns",
                &self.hub,
            ],
        );
        sh(
            "ip",
            &["-n", &self.hub, "link", "set", &port, "master", "sw", "up"],
        );
        sh(
            "ip",
            &[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", self.addr(i)),
                "dev",
                "eth0",
            ],
        );
        sh("ip", &["-n", &ns, "link", "set", "lo", "up"]);
        sh("ip", &["-n", &ns, "link", "set", "eth0", "up"]);
        // Delay: netem where the kernel has it, else a slow link (a token
        // bucket: every packet waits for its turn on 4 Mbit/s).
        let netem = Command::new("ip")
            .args([
                "netns", "exec", &ns, "tc", "qdisc", "add", "dev", "eth0", "root",
            ])
            .args(["netem", "delay", "8ms", "4ms", "distribution", "normal"])
            .output()
            .is_ok_and(|o| o.status.success());
        self.shaping = if netem {
            "netem delay 8 ms ± 4 ms".into()
        } else {
            in_ns(
                &ns,
                "tc",
                &[
                    "qdisc", "add", "dev", "eth0", "root", "tbf", "rate", "4mbit", "burst", "16kb",
                    "latency", "400ms",
                ],
            );
            "tbf 4 Mbit/s (this kernel has no netem)".into()
        };
        // Loss on what arrives from other nodes (not from the operator), and
        // the partition: what comes from an address in `cut` is dropped
        // silently, as a cut fibre does.
        let ops = format!("{}.254", self.net);
        let ruleset = format!(
            "table inet chaos {{\n\
               set cut {{ type ipv4_addr; }}\n\
               chain input {{\n\
                 type filter hook input priority 0; policy accept;\n\
                 ip saddr @cut drop\n\
                 ip saddr != {ops} ip saddr {net}.0/24 numgen random mod 1000 < {LOSS_PER_MILLE} drop\n\
               }}\n\
             }}\n",
            net = self.net,
        );
        let mut nft = Command::new("ip")
            .args(["netns", "exec", &ns, "nft", "-f", "-"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        nft.stdin
            .take()
            .unwrap()
            .write_all(ruleset.as_bytes())
            .unwrap();
        assert!(nft.wait().unwrap().success(), "nft -f failed in {ns}");
        ns
    }

    /// Cut the mesh between `a` and `b` (node indices).
    fn cut(&self, a: &[usize], b: &[usize]) {
        for (from, to) in [(a, b), (b, a)] {
            let addrs: Vec<String> = to.iter().map(|&j| self.addr(j)).collect();
            for &i in from {
                let set = format!("{{ {} }}", addrs.join(", "));
                in_ns(
                    &self.ns(i),
                    "nft",
                    &["add", "element", "inet", "chaos", "cut", &set],
                );
            }
        }
    }

    fn heal(&self, nodes: usize) {
        for i in 0..nodes {
            in_ns(
                &self.ns(i),
                "nft",
                &["flush", "set", "inet", "chaos", "cut"],
            );
        }
    }

    /// A disk of `DISK_MB` at `path`.
    fn mount_disk(&mut self, path: &Path) {
        std::fs::create_dir_all(path).unwrap();
        sh(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={DISK_MB}m,mode=0700"),
                "tmpfs",
                s(path),
            ],
        );
        self.mounts.push(path.to_path_buf());
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for m in &self.mounts {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Village(usize),
    Checkpoint(usize),
    Facility,
    Auditor,
}

/// One node of the run.
struct Member {
    node: Node,
    kind: Kind,
    disk: PathBuf,
    run: RunArgs,
}

impl Member {
    /// Does its certificate let it read crossing logs (`kampung_core::ReadScope`)?
    fn reads_crossings(&self) -> bool {
        matches!(self.kind, Kind::Checkpoint(_) | Kind::Auditor)
    }

    /// May it hold `doc`: a village's details only the village and the
    /// auditor (the four villages are of four districts: none keeps
    /// another's), crossing logs checkpoints and the auditor, the rest all.
    fn may_hold(&self, doc: &str) -> bool {
        match doc.strip_prefix("v/") {
            Some(code) => match self.kind {
                Kind::Village(v) => VILLAGES[v].0 == code,
                Kind::Auditor => true,
                _ => false,
            },
            None => is_for_everyone(doc) || self.reads_crossings(),
        }
    }

    fn label(&self) -> String {
        match self.kind {
            Kind::Village(v) => format!("desa {}", VILLAGES[v].1),
            Kind::Checkpoint(c) => format!("pos {}", CHECKPOINTS[c]),
            Kind::Facility => "GOR".into(),
            Kind::Auditor => "auditor".into(),
        }
    }
}

/// What one call to a node came to.
enum Answer {
    /// 2xx: the node says it is written.
    Ack(Value),
    /// 4xx: refused, nothing written (the error code).
    Refused(String),
    /// A 5xx, a timeout or no connection: may or may not be written.
    Unknown(String),
}

struct Api {
    agent: ureq::Agent,
    base: String,
    auth: String,
}

impl Api {
    fn new(addr: SocketAddr, token: &str) -> Api {
        Api {
            agent: ureq::Agent::config_builder()
                .timeout_global(Some(HTTP_TIMEOUT))
                .http_status_as_error(false)
                .build()
                .into(),
            base: format!("http://{addr}"),
            auth: format!("Bearer {token}"),
        }
    }

    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        let url = format!("{}{path}", self.base);
        let reply = match (method, body) {
            ("GET", _) => self
                .agent
                .get(&url)
                .header("authorization", &self.auth)
                .call(),
            (_, Some(b)) => self
                .agent
                .post(&url)
                .header("authorization", &self.auth)
                .send_json(b),
            (_, None) => self
                .agent
                .post(&url)
                .header("authorization", &self.auth)
                .send_empty(),
        };
        let mut reply = match reply {
            Ok(r) => r,
            Err(e) => return Answer::Unknown(format!("no answer: {e}")),
        };
        let status = reply.status().as_u16();
        let body: Value = reply.body_mut().read_json().unwrap_or(Value::Null);
        let code = body["error"]["code"].as_str().unwrap_or("?").to_string();
        match status {
            200..=299 => Answer::Ack(body),
            400..=499 => Answer::Refused(code),
            _ => Answer::Unknown(format!("{status} {code}")),
        }
    }

    fn get(&self, path: &str) -> Result<Value, String> {
        match self.send("GET", path, None) {
            Answer::Ack(v) => Ok(v),
            Answer::Refused(c) => Err(format!("GET {path}: refused ({c})")),
            Answer::Unknown(e) => Err(format!("GET {path}: {e}")),
        }
    }
}

/// A name sent for a resident, and whether a node acknowledged it
/// (`Some(true)`), refused it (`Some(false)`) or left it unknown (`None`).
type Sent = (String, Option<bool>);

/// Every write the workers tried, and what the nodes answered.
#[derive(Default)]
struct Ledger {
    /// NIK -> (village index, the names sent in order, each with whether a
    /// node acknowledged it (`Some(true)`), refused it (`Some(false)`) or
    /// left it unknown (`None`)). The registration is the first.
    residents: BTreeMap<String, (usize, Vec<Sent>)>,
    /// Checkpoint index -> notes of acknowledged crossings.
    crossings: Vec<HashSet<String>>,
    /// Acknowledged cases (opened by a crossing) -> acknowledged note texts.
    cases: BTreeMap<String, HashSet<String>>,
    /// Cases with an acknowledged follow-up by the GOR.
    followed: HashSet<String>,
    /// (what, answer) -> count, e.g. ("register", "ack"), ("crossing", "refused clock_off").
    tally: BTreeMap<(String, String), u64>,
    /// Node index -> times of acknowledged writes (for recovery times).
    acks: HashMap<usize, Vec<Instant>>,
}

impl Ledger {
    fn count(&mut self, what: &str, answer: &Answer, node: usize) {
        let key = match answer {
            Answer::Ack(_) => {
                self.acks.entry(node).or_default().push(Instant::now());
                "acknowledged".to_string()
            }
            Answer::Refused(c) => format!("refused: {c}"),
            Answer::Unknown(e) => format!("unknown: {}", e.split(':').next().unwrap_or(e)),
        };
        *self.tally.entry((what.into(), key)).or_default() += 1;
    }
}

struct Shared {
    stop: AtomicBool,
    ledger: Mutex<Ledger>,
    apis: Vec<SocketAddr>,
    tokens: Vec<String>,
}

fn pause(rng: &mut Rng) {
    std::thread::sleep(Duration::from_millis(150 + rng.below(400)));
}

fn acked(answer: &Answer) -> Option<bool> {
    match answer {
        Answer::Ack(_) => Some(true),
        Answer::Refused(_) => Some(false),
        Answer::Unknown(_) => None,
    }
}

const SURNAMES: [&str; 8] = [
    "Wulandari",
    "Saputra",
    "Lestari",
    "Hidayat",
    "Rahayu",
    "Santoso",
    "Kusuma",
    "Purnomo",
];

/// A village clerk: registers new residents and corrects earlier ones.
fn clerk(shared: Arc<Shared>, node: usize, v: usize, seed: u64) {
    let mut rng = Rng(seed);
    let api = Api::new(shared.apis[node], &shared.tokens[node]);
    let village: VillageCode = VILLAGES[v].0.parse().unwrap();
    let mut pool = kampung_gen::village_residents(village, 6000, seed).into_iter();
    let mut own: Vec<String> = Vec::new();
    let mut edits = 0usize;
    while !shared.stop.load(Ordering::Relaxed) {
        if own.is_empty() || rng.chance(70) {
            let Some(mut person) = pool.next() else { break };
            person.status = Status::Active;
            let nik = person.nik.to_string();
            let name = person.full_name.clone();
            let answer = api.send(
                "POST",
                "/v1/residents/register",
                Some(&serde_json::to_value(&person).unwrap()),
            );
            let mut l = shared.ledger.lock().unwrap();
            l.count("register", &answer, node);
            if let Answer::Refused(code) = &answer {
                if code == "refused" {
                    // Registered already (a generated NIK met an imported one).
                    drop(l);
                    pause(&mut rng);
                    continue;
                }
            }
            l.residents
                .insert(nik.clone(), (v, vec![(name, acked(&answer))]));
            if matches!(answer, Answer::Ack(_)) {
                own.push(nik);
            }
        } else {
            let nik = rng.pick(&own).clone();
            edits += 1;
            let base = {
                let l = shared.ledger.lock().unwrap();
                l.residents[&nik].1[0].0.clone()
            };
            let name = format!("{base} {}", SURNAMES[edits % SURNAMES.len()]);
            let answer = api.send(
                "POST",
                &format!("/v1/residents/{nik}/correct"),
                Some(&json!({ "full_name": name })),
            );
            let mut l = shared.ledger.lock().unwrap();
            l.count("correct", &answer, node);
            l.residents
                .get_mut(&nik)
                .unwrap()
                .1
                .push((name, acked(&answer)));
        }
        pause(&mut rng);
    }
}

/// A checkpoint officer: residents pass, visitors from Jember go to the GOR.
fn officer(shared: Arc<Shared>, node: usize, c: usize, seed: u64, imported: Vec<String>) {
    let mut rng = Rng(seed);
    let api = Api::new(shared.apis[node], &shared.tokens[node]);
    let mut seq = 0u32;
    while !shared.stop.load(Ordering::Relaxed) {
        seq += 1;
        let note = format!("uji {} {seq}", CHECKPOINTS[c]);
        let body = if rng.chance(55) {
            let nik = rng.pick(&imported).clone();
            json!({"nik": nik, "decision": "allowed_in", "note": note})
        } else {
            let birth =
                time::Date::from_ordinal_date(1970 + (seq % 40) as i32, 1 + (seq % 365) as u16)
                    .unwrap();
            let sex = if seq % 2 == 0 { Sex::Male } else { Sex::Female };
            let serial = 1 + (c as u16) * 4000 + (seq % 4000) as u16;
            let nik = kampung_core::nik::compose(3509, 15, birth, sex, serial);
            json!({"nik": nik, "decision": "isolation_gor", "open_case": true,
                   "person_name": format!("Pengunjung {seq}"), "note": note})
        };
        let answer = api.send("POST", "/v1/crossings", Some(&body));
        let mut l = shared.ledger.lock().unwrap();
        l.count("crossing", &answer, node);
        if let Answer::Ack(v) = &answer {
            l.crossings[c].insert(note);
            if let Some(case) = v["opened_case"].as_str() {
                l.cases.entry(case.to_string()).or_default();
            }
        }
        drop(l);
        pause(&mut rng);
    }
}

/// GOR staff: a follow-up for each case once, then notes.
fn facility(shared: Arc<Shared>, node: usize, seed: u64) {
    let mut rng = Rng(seed);
    let api = Api::new(shared.apis[node], &shared.tokens[node]);
    let mut seq = 0u32;
    while !shared.stop.load(Ordering::Relaxed) {
        let (case, followed) = {
            let l = shared.ledger.lock().unwrap();
            let cases: Vec<&String> = l.cases.keys().collect();
            if cases.is_empty() {
                (None, false)
            } else {
                let c = rng.pick(&cases).to_string();
                let f = l.followed.contains(&c);
                (Some(c), f)
            }
        };
        if let Some(case) = case {
            seq += 1;
            if !followed {
                let answer = api.send(
                    "POST",
                    &format!("/v1/cases/{case}/follow-ups"),
                    Some(&json!({"outcome": "seen_ok"})),
                );
                let mut l = shared.ledger.lock().unwrap();
                l.count("follow-up", &answer, node);
                if matches!(answer, Answer::Ack(_)) {
                    l.followed.insert(case);
                }
            } else {
                let text = format!("catatan GOR {seq}");
                let answer = api.send(
                    "POST",
                    &format!("/v1/cases/{case}/notes"),
                    Some(&json!({ "text": text })),
                );
                let mut l = shared.ledger.lock().unwrap();
                l.count("note", &answer, node);
                if matches!(answer, Answer::Ack(_)) {
                    l.cases.get_mut(&case).unwrap().insert(text);
                }
            }
        }
        pause(&mut rng);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    Kill,
    Partition,
    DiskFull,
    Clock,
}

/// One fault as it happened.
struct Event {
    at: Duration,
    fault: Fault,
    what: String,
    /// Disk full: when the space came back.
    freed: Option<(usize, Instant)>,
}

fn config_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v}: not a whole number")),
        Err(_) => default,
    }
}

#[test]
#[ignore = "runs for minutes as root: scripts/chaos"]
fn chaos() {
    let seconds = config_u64("CHAOS_SECONDS", 300);
    let seed = config_u64(
        "CHAOS_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            % 100_000,
    );
    println!("chaos: seed {seed}, {seconds} s (replay: scripts/chaos --seed {seed})");
    let work =
        PathBuf::from(std::env::var("CHAOS_DIR").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../target/chaos").to_string()
        }));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let mut rng = Rng(seed);

    let mut lab = Lab::new();
    let kinds: Vec<Kind> = (0..VILLAGES.len())
        .map(Kind::Village)
        .chain((0..CHECKPOINTS.len()).map(Kind::Checkpoint))
        .chain([Kind::Facility, Kind::Auditor])
        .collect();

    // The regency administrator: root key, policy (14 days), certificates
    // valid from yesterday (a village clock a little slow stays inside).
    let admin_dir = work.join("admin");
    std::fs::create_dir_all(&admin_dir).unwrap();
    let (key, root_pub, policy) = root_and_policy(&admin_dir, 1);
    let yesterday = (time::OffsetDateTime::now_utc() - time::Duration::days(1))
        .date()
        .to_string();

    let mut members: Vec<Member> = Vec::new();
    let mut certs = Vec::new();
    let mut imported: Vec<String> = Vec::new();
    for (i, kind) in kinds.iter().enumerate() {
        let ns = lab.add_node(i);
        let disk = work.join(format!("disk-{i}"));
        lab.mount_disk(&disk);
        let name = match kind {
            Kind::Village(v) => format!("desa-{}", VILLAGES[*v].1.to_lowercase()),
            Kind::Checkpoint(c) => format!("pos-{}", CHECKPOINTS[*c]),
            Kind::Facility => "gor".into(),
            Kind::Auditor => "auditor".into(),
        };
        let mut node = Node::new(&work, &name, Some(&ns));
        node.data = disk.join("data");
        let (init_role, cert_role): (Vec<String>, Vec<String>) = match kind {
            Kind::Village(v) => (
                vec!["--village".into(), VILLAGES[*v].0.into()],
                vec![
                    "--role".into(),
                    "village".into(),
                    "--village".into(),
                    VILLAGES[*v].0.into(),
                ],
            ),
            Kind::Checkpoint(c) => (
                vec!["--checkpoint".into(), CHECKPOINTS[*c].into()],
                vec!["--role".into(), "checkpoint".into()],
            ),
            Kind::Facility => (
                vec!["--facility".into(), "gor-tawangalun".into()],
                vec!["--role".into(), "facility".into()],
            ),
            Kind::Auditor => (
                vec!["--auditor".into()],
                vec!["--role".into(), "auditor".into()],
            ),
        };
        let init_role: Vec<&str> = init_role.iter().map(String::as_str).collect();
        let peer = init(&node, &init_role, &root_pub);
        node.peer_id = peer.clone();
        let cert = admin_dir.join(format!("{name}.cert"));
        let mut args = vec!["certify", "--key", s(&key), "--node", &peer];
        args.extend(cert_role.iter().map(String::as_str));
        args.extend([
            "--from",
            &yesterday,
            "--until",
            "2099-12-31",
            "--out",
            s(&cert),
        ]);
        admin(&args);
        certs.push(cert);
        if let Kind::Village(v) = kind {
            let csv = Csv::generate(
                VILLAGES[*v].0,
                IMPORTED,
                seed + *v as u64,
                &work.join(format!("{name}.csv")),
            );
            let report = node.json(&["import", csv.path_str(), "--json"]);
            assert_eq!(report["added"], IMPORTED as u64, "{report}");
            imported.extend(csv.active().map(|r| r.nik.clone()));
        }
        let run = RunArgs {
            listen_ip: lab.addr(i),
            listen_port: MESH_PORT,
            api: format!("{}:{API_PORT}", lab.addr(i)),
            anti_entropy_secs: 5,
            heartbeat_secs: 3,
            extra: vec!["--insecure-http".into()],
            ..RunArgs::loopback(Vec::new())
        };
        members.push(Member {
            node,
            kind: *kind,
            disk,
            run,
        });
    }
    let mut trust_args = vec!["trust", "add", s(&policy)];
    trust_args.extend(certs.iter().map(|c| s(c)));
    for m in &members {
        m.node.ok(&trust_args);
    }
    // Every node knows every other's address, so a restarted node and its
    // peers find each other again.
    let addrs: Vec<String> = (0..members.len())
        .map(|i| {
            format!(
                "/ip4/{}/tcp/{MESH_PORT}/p2p/{}",
                lab.addr(i),
                members[i].node.peer_id
            )
        })
        .collect();
    for (i, m) in members.iter_mut().enumerate() {
        m.run.bootstrap = addrs
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, a)| a.clone())
            .collect();
        let run = m.run.clone();
        m.node.start(&run);
    }
    let all: Vec<&Node> = members.iter().map(|m| &m.node).collect();
    let settled = Instant::now();
    wait_agree(&all, 4, (IMPORTED * VILLAGES.len()) as u64, CONVERGE);
    println!(
        "chaos: {} nodes agree on the imported villages after {:.1} s; links: {}, {}‰ loss",
        members.len(),
        settled.elapsed().as_secs_f64(),
        lab.shaping,
        LOSS_PER_MILLE
    );

    // The people at each node (a token per role) and the workers.
    let tokens: Vec<String> = members
        .iter()
        .map(|m| {
            let role = match m.kind {
                Kind::Village(_) => "clerk",
                Kind::Checkpoint(_) => "officer",
                Kind::Facility => "facility",
                Kind::Auditor => "auditor",
            };
            let out = m
                .node
                .ok(&["token", "create", "--label", "chaos", "--role", role]);
            out.split_whitespace()
                .find(|w| w.starts_with("kt_"))
                .unwrap_or_else(|| panic!("no token printed: {out}"))
                .to_string()
        })
        .collect();
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        ledger: Mutex::new(Ledger {
            crossings: vec![HashSet::new(); CHECKPOINTS.len()],
            ..Ledger::default()
        }),
        apis: members.iter().map(|m| m.node.api.unwrap()).collect(),
        tokens,
    });
    let mut workers = Vec::new();
    for (i, m) in members.iter().enumerate() {
        let sh = shared.clone();
        let wseed = seed.wrapping_mul(31).wrapping_add(i as u64);
        let imported = imported.clone();
        workers.push(match m.kind {
            Kind::Village(v) => std::thread::spawn(move || clerk(sh, i, v, wseed)),
            Kind::Checkpoint(c) => std::thread::spawn(move || officer(sh, i, c, wseed, imported)),
            Kind::Facility => std::thread::spawn(move || facility(sh, i, wseed)),
            Kind::Auditor => continue,
        });
    }

    // The faults, one after another, each kind in turn, targets and
    // durations from the seed.
    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    let order: Vec<Fault> = match std::env::var("CHAOS_FAULTS") {
        Ok(list) => list
            .split(',')
            .map(|f| match f.trim() {
                "kill" => Fault::Kill,
                "partition" => Fault::Partition,
                "disk" => Fault::DiskFull,
                "clock" => Fault::Clock,
                other => {
                    panic!("CHAOS_FAULTS: unknown fault {other:?} (kill, partition, disk, clock)")
                }
            })
            .collect(),
        Err(_) => vec![Fault::Kill, Fault::Partition, Fault::DiskFull, Fault::Clock],
    };
    let mut events: Vec<Event> = Vec::new();
    // How long each restarted node took to answer, and which.
    let mut restarts: Vec<(Duration, String)> = Vec::new();
    let mut last_fault_end = Instant::now();
    let mut turn = rng.below(4) as usize;
    let offsets = ["+20m", "-20m", "+3m", "-2d"];
    let mut offset_turn = rng.below(4) as usize;
    let writers: Vec<usize> = (0..members.len())
        .filter(|&i| members[i].kind != Kind::Auditor)
        .collect();
    let villages: Vec<usize> = (0..members.len())
        .filter(|&i| matches!(members[i].kind, Kind::Village(_)))
        .collect();
    loop {
        std::thread::sleep(rng.secs(3, 8));
        let now = Instant::now();
        if now + Duration::from_secs(10) > end {
            break;
        }
        let hold = rng.secs(10, 30).min(end - now);
        let fault = order[turn % order.len()];
        turn += 1;
        let at = now - start;
        match fault {
            Fault::Kill => {
                let n = 1 + rng.below(2) as usize;
                let mut victims: Vec<usize> = Vec::new();
                while victims.len() < n {
                    let v = rng.below(members.len() as u64) as usize;
                    if !victims.contains(&v) {
                        victims.push(v);
                    }
                }
                for &v in &victims {
                    members[v].node.kill9();
                }
                let what = victims
                    .iter()
                    .map(|&v| members[v].label())
                    .collect::<Vec<_>>()
                    .join(", ");
                std::thread::sleep(hold.min(Duration::from_secs(15)));
                let mut took = Vec::new();
                for &v in &victims {
                    let run = members[v].run.clone();
                    let t = members[v].node.start(&run);
                    restarts.push((t, members[v].label()));
                    took.push(format!("{:.1} s", t.as_secs_f64()));
                }
                events.push(Event {
                    at,
                    fault,
                    what: format!(
                        "kill -9 {what}, restarted (answered in {})",
                        took.join(", ")
                    ),
                    freed: None,
                });
            }
            Fault::Partition => {
                let mut ids: Vec<usize> = (0..members.len()).collect();
                for k in (1..ids.len()).rev() {
                    ids.swap(k, rng.below(k as u64 + 1) as usize);
                }
                let split = 1 + rng.below(members.len() as u64 / 2) as usize;
                let (a, b) = ids.split_at(split);
                lab.cut(a, b);
                std::thread::sleep(hold);
                lab.heal(members.len());
                let names = |side: &[usize]| {
                    side.iter()
                        .map(|&i| members[i].label())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                events.push(Event {
                    at,
                    fault,
                    what: format!("{} | rest, {:.0} s", names(a), hold.as_secs_f64()),
                    freed: None,
                });
            }
            Fault::DiskFull => {
                let v = *rng.pick(&writers);
                let filler = members[v].disk.join("filler");
                fill(&filler);
                std::thread::sleep(hold);
                std::fs::remove_file(&filler).unwrap();
                events.push(Event {
                    at,
                    fault,
                    what: format!(
                        "{} full for {:.0} s",
                        members[v].label(),
                        hold.as_secs_f64()
                    ),
                    freed: Some((v, Instant::now())),
                });
            }
            Fault::Clock => {
                let v = *rng.pick(&villages);
                let offset = offsets[offset_turn % offsets.len()];
                offset_turn += 1;
                members[v].node.kill9();
                let mut skewed = members[v].run.clone();
                skewed.env = vec![
                    ("LD_PRELOAD".into(), s(&faketime_lib().unwrap()).into()),
                    ("FAKETIME".into(), offset.into()),
                    ("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()),
                ];
                let t = members[v].node.start(&skewed);
                restarts.push((t, members[v].label()));
                std::thread::sleep(hold);
                members[v].node.kill9();
                let run = members[v].run.clone();
                let t = members[v].node.start(&run);
                restarts.push((t, members[v].label()));
                events.push(Event {
                    at,
                    fault,
                    what: format!(
                        "{} clock {offset} for {:.0} s (answered in {:.1} s after)",
                        members[v].label(),
                        hold.as_secs_f64(),
                        t.as_secs_f64()
                    ),
                    freed: None,
                });
            }
        }
        last_fault_end = Instant::now();
        println!(
            "chaos: {:>5.0} s {:?}: {}",
            at.as_secs_f64(),
            fault,
            events.last().unwrap().what
        );
    }
    std::thread::sleep(end.saturating_duration_since(Instant::now()));
    shared.stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }

    // Every node takes a write again by itself (after a full disk, a wrong
    // clock, a crash): a last write at each, retried until acknowledged.
    let mut last_writes = Vec::new();
    for (i, m) in members.iter().enumerate() {
        if m.kind == Kind::Auditor {
            continue;
        }
        let api = Api::new(shared.apis[i], &shared.tokens[i]);
        let (path, body, key) = closing_write(&shared, m.kind, &imported[0]);
        let got = poll(RECOVER, || match api.send("POST", &path, Some(&body)) {
            Answer::Ack(_) => Some(()),
            _ => None,
        });
        assert!(
            got.is_some(),
            "{} takes no write {RECOVER:?} after the last fault:\n{}",
            m.label(),
            tail(&m.node.log, 30)
        );
        let mut l = shared.ledger.lock().unwrap();
        record_closing(&mut l, m.kind, &body, &key, i);
        last_writes.push(i);
    }

    let writes_back = last_fault_end.elapsed();
    let last_write = Instant::now();
    // Convergence after the last write.
    // Every node on what every member reads; the checkpoints and the
    // auditor on the crossing logs too; each village and the auditor on
    // the village's details.
    let replicas_agree = poll(CONVERGE, || {
        let r = replicas(&all_nodes(&members));
        let r: Vec<&Replica> = r.iter().map(|x| x.as_ref().ok()).collect::<Option<_>>()?;
        let shared = r[0].for_everyone();
        let readers: Vec<Replica> = members
            .iter()
            .zip(&r)
            .filter(|(m, _)| m.reads_crossings())
            .map(|(_, x)| x.without_details())
            .collect();
        let auditor = members
            .iter()
            .zip(&r)
            .find(|(m, _)| matches!(m.kind, Kind::Auditor))
            .map(|(_, x)| *x)?;
        let details_agree = members.iter().zip(&r).all(|(m, x)| match m.kind {
            Kind::Village(v) => {
                let doc = format!("v/{}", VILLAGES[v].0);
                !x.heads(&doc).is_empty() && x.heads(&doc) == auditor.heads(&doc)
            }
            _ => true,
        });
        (r.iter().all(|x| x.for_everyone() == shared)
            && readers.iter().all(|x| *x == readers[0])
            && details_agree)
            .then(|| readers[0].clone())
    });
    let converged = last_write.elapsed();
    let agreed = replicas_agree.unwrap_or_else(|| {
        let r = replicas(&all_nodes(&members));
        panic!(
            "no agreement within {CONVERGE:?} after the last fault:\n{}",
            disagreement(&members, &r)
        )
    });

    // Every acknowledged write on every node.
    let ledger = shared.ledger.lock().unwrap();
    let mut lost: Vec<String> = Vec::new();
    let mut checked = 0u64;
    for (i, m) in members.iter().enumerate() {
        // The node's own credential (the operator's CLI): it reads everything.
        let local = m.node.bearer();
        let api = Api::new(shared.apis[i], local.trim_start_matches("Bearer "));
        let cp_peers: Vec<&str> = members
            .iter()
            .filter(|m| matches!(m.kind, Kind::Checkpoint(_)))
            .map(|m| m.node.peer_id.as_str())
            .collect();
        // Crossings only where they may be read.
        let cp_peers = if m.reads_crossings() {
            cp_peers
        } else {
            Vec::new()
        };
        checked += check_node(&api, &m.label(), &ledger, &cp_peers, &mut lost);
    }
    assert!(
        lost.is_empty(),
        "{} acknowledged writes missing or wrong:\n{}",
        lost.len(),
        lost.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );

    // Every node stops cleanly and passes the audit.
    let mut nodes: Vec<&mut Node> = members.iter_mut().map(|m| &mut m.node).collect();
    stop_all(&mut nodes);
    for m in &members {
        let report = m.node.json(&["audit", "verify", "--json"]);
        assert_eq!(report["ok"], true, "audit of {}: {report}", m.label());
    }

    // The report.
    let mut r = String::new();
    let acked_total: u64 = ledger
        .tally
        .iter()
        .filter(|((_, a), _)| a == "acknowledged")
        .map(|(_, n)| n)
        .sum();
    writeln!(
        r,
        "## Chaos run: seed {seed}, {seconds} s, {} nodes\n",
        members.len()
    )
    .unwrap();
    writeln!(
        r,
        "Links: {}, {LOSS_PER_MILLE}‰ loss on every node's input. Disks: {DISK_MB} MB tmpfs each.\n",
        lab.shaping
    )
    .unwrap();
    writeln!(r, "| figure | value |\n|---|---|").unwrap();
    let count = |f: Fault| events.iter().filter(|e| e.fault == f).count();
    writeln!(
        r,
        "| faults: kill -9 / partition / disk full / wrong clock | {} / {} / {} / {} |",
        count(Fault::Kill),
        count(Fault::Partition),
        count(Fault::DiskFull),
        count(Fault::Clock)
    )
    .unwrap();
    writeln!(r, "| writes acknowledged | {acked_total} |").unwrap();
    writeln!(
        r,
        "| acknowledged writes checked on every node | {checked} |"
    )
    .unwrap();
    writeln!(r, "| acknowledged writes lost | {} |", lost.len()).unwrap();
    let mut times: Vec<Duration> = restarts.iter().map(|(t, _)| *t).collect();
    times.sort();
    if let Some((slowest, who)) = restarts.iter().max_by_key(|(t, _)| *t) {
        writeln!(
            r,
            "| restarts (kill -9, wrong clock): API answering after | {} restarts: median {:.1} s, slowest {:.1} s ({who}) |",
            times.len(),
            times[times.len() / 2].as_secs_f64(),
            slowest.as_secs_f64()
        )
        .unwrap();
    }
    writeln!(
        r,
        "| every node took a write again, after the last fault ended | within {:.1} s |",
        writes_back.as_secs_f64()
    )
    .unwrap();
    writeln!(
        r,
        "| all nodes held the same heads (crossing logs: checkpoints and auditor), after the last write | {:.1} s |",
        converged.as_secs_f64()
    )
    .unwrap();
    writeln!(
        r,
        "| documents / NIKs on a checkpoint | {} / {} |",
        agreed.docs.len(),
        agreed.niks
    )
    .unwrap();
    writeln!(
        r,
        "| `audit verify` passed | {} of {} nodes |",
        members.len(),
        members.len()
    )
    .unwrap();
    for e in &events {
        if let Some((node, freed)) = e.freed {
            let back = ledger
                .acks
                .get(&node)
                .and_then(|t| t.iter().find(|t| **t >= freed));
            let text = back.map_or("at the last write".to_string(), |t| {
                format!("{:.1} s", (*t - freed).as_secs_f64())
            });
            writeln!(
                r,
                "| first write taken after the disk of {} was freed | {text} |",
                members[node].label()
            )
            .unwrap();
        }
    }
    writeln!(r, "\n| write | answer | count |\n|---|---|---|").unwrap();
    for ((what, answer), n) in &ledger.tally {
        writeln!(r, "| {what} | {answer} | {n} |").unwrap();
    }
    writeln!(r, "\n| at | fault | what |\n|---|---|---|").unwrap();
    for e in &events {
        writeln!(
            r,
            "| {:.0} s | {:?} | {} |",
            e.at.as_secs_f64(),
            e.fault,
            e.what
        )
        .unwrap();
    }
    println!("{r}");
    if let Ok(path) = std::env::var("CHAOS_REPORT") {
        std::fs::write(&path, &r).unwrap();
        println!("chaos: report written to {path}");
    }
}

/// Where the nodes' replicas differ: per document, which nodes hold which heads.
fn disagreement(members: &[Member], r: &[Result<Replica, String>]) -> String {
    let mut out = String::new();
    let mut docs: Vec<&String> = r.iter().flatten().flat_map(|x| x.docs.keys()).collect();
    docs.sort();
    docs.dedup();
    for (m, x) in members.iter().zip(r) {
        match x {
            Ok(x) => writeln!(
                out,
                "{}: {} NIKs, {} documents",
                m.label(),
                x.niks,
                x.docs.len()
            ),
            Err(e) => writeln!(out, "{}: {e}", m.label()),
        }
        .unwrap();
    }
    for doc in docs {
        let mut by_heads: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (m, x) in members.iter().zip(r) {
            if !m.may_hold(doc) {
                continue;
            }
            let heads = match x {
                Ok(x) => x
                    .heads(doc)
                    .iter()
                    .map(|h| h[..8].to_string())
                    .collect::<Vec<_>>()
                    .join("+"),
                Err(_) => "?".into(),
            };
            by_heads.entry(heads).or_default().push(m.label());
        }
        if by_heads.len() > 1 {
            writeln!(out, "{doc}: {by_heads:?}").unwrap();
        }
    }
    out
}

fn all_nodes(members: &[Member]) -> Vec<&Node> {
    members.iter().map(|m| &m.node).collect()
}

/// Fill the disk holding `path` until it is full.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 1 << 20];
    while f.write_all(&block).is_ok() {}
    let _ = f.sync_all();
}

/// The last write at a node after every fault: path, body, and the NIK or
/// case it is about.
fn closing_write(shared: &Shared, kind: Kind, resident: &str) -> (String, Value, String) {
    let l = shared.ledger.lock().unwrap();
    match kind {
        Kind::Village(v) => {
            let nik = l
                .residents
                .iter()
                .find(|(_, (village, names))| *village == v && names[0].1 == Some(true))
                .map(|(n, _)| n.clone())
                .expect("the clerk registered someone");
            (
                format!("/v1/residents/{nik}/correct"),
                json!({"full_name": "Siti Aminah Terakhir"}),
                nik,
            )
        }
        Kind::Checkpoint(c) => (
            "/v1/crossings".into(),
            json!({"nik": resident, "decision": "allowed_in", "note": format!("uji {} terakhir", CHECKPOINTS[c])}),
            String::new(),
        ),
        Kind::Facility => {
            let case = l.cases.keys().next().expect("a case was opened").clone();
            (
                format!("/v1/cases/{case}/notes"),
                json!({"text": "catatan GOR terakhir"}),
                case,
            )
        }
        Kind::Auditor => unreachable!("the auditor writes nothing"),
    }
}

fn record_closing(l: &mut Ledger, kind: Kind, body: &Value, key: &str, node: usize) {
    l.count("last write", &Answer::Ack(Value::Null), node);
    match kind {
        Kind::Village(_) => {
            l.residents
                .get_mut(key)
                .unwrap()
                .1
                .push((body["full_name"].as_str().unwrap().into(), Some(true)));
        }
        Kind::Checkpoint(c) => {
            l.crossings[c].insert(body["note"].as_str().unwrap().into());
        }
        Kind::Facility => {
            l.cases
                .get_mut(key)
                .unwrap()
                .insert(body["text"].as_str().unwrap().into());
        }
        Kind::Auditor => {}
    }
}

/// Check every acknowledged write on one node; push what is missing to
/// `lost`; the number of writes checked.
fn check_node(
    api: &Api,
    label: &str,
    l: &Ledger,
    cp_peers: &[&str],
    lost: &mut Vec<String>,
) -> u64 {
    let mut checked = 0;
    // Residents: the documents (the listing) and the index (a look-up).
    for (v, (code, _)) in VILLAGES.iter().enumerate() {
        let mut held: HashMap<String, (String, String)> = HashMap::new();
        let mut offset = 0;
        loop {
            let page = api
                .get(&format!(
                    "/v1/residents?village={code}&limit=500&offset={offset}"
                ))
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            let items = page["items"].as_array().unwrap();
            for r in items {
                held.insert(
                    r["nik"].as_str().unwrap().into(),
                    (
                        r["full_name"].as_str().unwrap().into(),
                        r["status"]["status"].as_str().unwrap_or("?").into(),
                    ),
                );
            }
            offset += items.len();
            if items.is_empty() || offset >= page["total"].as_u64().unwrap() as usize {
                break;
            }
        }
        for (nik, (village, names)) in &l.residents {
            if *village != v {
                continue;
            }
            // The names that may stand: from the last acknowledged on,
            // except those refused.
            let Some(last_ack) = names.iter().rposition(|(_, a)| *a == Some(true)) else {
                continue;
            };
            checked += 1;
            let allowed: Vec<&str> = names[last_ack..]
                .iter()
                .filter(|(_, a)| *a != Some(false))
                .map(|(n, _)| n.as_str())
                .collect();
            match held.get(nik) {
                None => lost.push(format!("{label}: resident {nik} of {code} missing")),
                Some((name, status)) => {
                    if !allowed.contains(&name.as_str()) {
                        lost.push(format!(
                            "{label}: {nik} is named {name:?}, expected one of {allowed:?}"
                        ));
                    }
                    if status != "active" {
                        lost.push(format!("{label}: {nik} has status {status}"));
                    }
                }
            }
        }
    }
    for (nik, (village, names)) in l
        .residents
        .iter()
        .filter(|(_, (_, n))| n[0].1 == Some(true))
        .take(100)
    {
        let v = api
            .get(&format!("/v1/lookup/{nik}"))
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        if v["verdict"]["verdict"] != "resident" || v["verdict"]["village"] != VILLAGES[*village].0
        {
            lost.push(format!(
                "{label}: the index answers {} for {nik} ({:?})",
                v["verdict"], names[0].0
            ));
        }
    }
    // Crossings, at a node that may read them (`cp_peers` empty: it may not).
    for (c, notes) in l.crossings.iter().enumerate() {
        let Some(cp_peer) = cp_peers.get(c) else {
            break;
        };
        let mut held: HashSet<String> = HashSet::new();
        let mut offset = 0;
        loop {
            let page = api
                .get(&format!(
                    "/v1/crossings?checkpoint={cp_peer}&limit=1000&offset={offset}"
                ))
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            let items = page["items"].as_array().unwrap();
            held.extend(
                items
                    .iter()
                    .filter_map(|x| Some(x["note"].as_str()?.to_string())),
            );
            offset += items.len();
            if items.is_empty() || offset >= page["total"].as_u64().unwrap() as usize {
                break;
            }
        }
        for note in notes {
            checked += 1;
            if !held.contains(note) {
                lost.push(format!("{label}: crossing {note:?} missing"));
            }
        }
    }
    // Cases: opened, followed up, noted.
    for (case, notes) in &l.cases {
        checked += 1;
        let h = match api.get(&format!("/v1/cases/{case}/history")) {
            Ok(h) => h,
            Err(e) => {
                lost.push(format!("{label}: case {case}: {e}"));
                continue;
            }
        };
        let held: HashSet<&str> = h["notes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|n| n["text"].as_str())
            .collect();
        for note in notes {
            checked += 1;
            if !held.contains(note.as_str()) {
                lost.push(format!("{label}: note {note:?} on case {case} missing"));
            }
        }
        if l.followed.contains(case) {
            checked += 1;
            let by_gor = h["follow_ups"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["by"]["role"] == "facility");
            if !by_gor {
                lost.push(format!(
                    "{label}: the GOR's follow-up on case {case} missing"
                ));
            }
        }
    }
    checked
}
