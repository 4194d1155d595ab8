//! The whole regency's mesh on one machine: one `kampung run` process per
//! village of Banyuwangi (all 217, real codes), four checkpoints, the GOR
//! and an auditor (223 nodes), each in its own network namespace, linked as
//! fibre would link them: every node to its district's hub (a router
//! namespace), the 25 hubs to the regency's core (another router).
//!
//! ```text
//!   node ── 2 ms ── hub (district) ── 3 ms ── core ── 3 ms ── hub ── 2 ms ── node
//! ```
//!
//! This kernel has no `netem`, so the routers hand every packet they forward
//! to a netfilter queue and a thread of this process holds it for its hop's
//! latency (`support/linkdelay.rs`); the routers also drop a little
//! (`REGENCY_LOSS_PER_MILLE` at each router). Every node is certified by
//! one root key and holds only its own certificate: peers show theirs in the
//! hello. Each village imports a small generated population.
//!
//! The run grows the mesh in steps (25, 50, 100 nodes, then all but one),
//! waiting at each until every node holds the same heads, and measures:
//! - idle cost per node at each size: CPU share, RSS, bytes per second on
//!   its link (heartbeats and anti-entropy, nothing else happening);
//! - a checkpoint (Ketapang) joining last with an empty store: time until it
//!   answers for all 217 villages;
//! - a single registration at a random village visible at every other node
//!   (from the `kampung::applied` debug lines of every node's JSON log),
//!   p50 and p99 over `REGENCY_EDITS` edits, next to the path's floor;
//! - a district cut off from the core for `REGENCY_CUT_SECS` with
//!   registrations on both sides: time to converge after the heal, and
//!   acknowledged writes lost (must be 0).
//!
//! It prints a table (and writes it to `REGENCY_REPORT` if set), and stops
//! every node it started by its process id. Run by `scripts/regency-mesh`.
//! Needs root, iproute2 and iptables.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/linkdelay.rs"]
mod linkdelay;
#[path = "support/procs.rs"]
mod procs;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime};

use kampung_core::{DocId, Status, VillageCode};
use linkdelay::Delayer;
use procs::*;
use serde_json::Value;

const MESH_PORT: u16 = 4001;
const API_PORT: u16 = 8080;
/// Where each checkpoint is (district code), in the order they start; the
/// first of them joins last, with an empty store.
const CHECKPOINTS: [(&str, u8); 4] = [
    ("ketapang", 21),
    ("wongsorejo", 18),
    ("kalibaru", 11),
    ("licin", 24),
];
/// The GOR Tawangalun and the inspectorate: in Banyuwangi town.
const TOWN: u8 = 16;
/// The district cut off from the core in the partition run: Wongsorejo
/// (eleven villages and a checkpoint).
const CUT_DISTRICT: u8 = 18;
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// The product's network defaults (`network.heartbeat_secs`,
/// `network.anti_entropy_secs`): what an idle node costs in the field.
fn defaults() -> kampung_runtime::config::Network {
    kampung_runtime::Config::default().network
}

fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a valid value")),
        Err(_) => default,
    }
}

/// What the run does, from the environment (`scripts/regency-mesh` sets it).
struct Config {
    residents: usize,
    /// Mesh sizes to measure idle at; the last is all the nodes.
    sizes: Vec<usize>,
    edits: usize,
    idle: Duration,
    cut: Duration,
    /// How long to wait for the auditor to hold every village's details.
    details_wait: Duration,
    village_ms: u64,
    core_ms: u64,
    loss_per_mille: u32,
    seed: u64,
    report: Option<PathBuf>,
}

impl Config {
    fn from_env(total: usize) -> Config {
        let sizes: String = env_or("REGENCY_SIZES", "25,50,100".to_string());
        let mut sizes: Vec<usize> = sizes
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.trim().parse().expect("REGENCY_SIZES: numbers"))
            .filter(|&n| n >= 2 && n < total)
            .collect();
        sizes.sort_unstable();
        sizes.dedup();
        sizes.push(total);
        Config {
            residents: env_or("REGENCY_RESIDENTS", 200),
            sizes,
            edits: env_or("REGENCY_EDITS", 200),
            idle: Duration::from_secs(env_or("REGENCY_IDLE_SECS", 60)),
            details_wait: Duration::from_secs(env_or("REGENCY_DETAILS_SECS", 1500)),
            cut: Duration::from_secs(env_or("REGENCY_CUT_SECS", 300)),
            village_ms: env_or("REGENCY_VILLAGE_MS", 2),
            core_ms: env_or("REGENCY_CORE_MS", 3),
            loss_per_mille: env_or("REGENCY_LOSS_PER_MILLE", 1),
            seed: env_or("REGENCY_SEED", 2020),
            report: std::env::var("REGENCY_REPORT").ok().map(PathBuf::from),
        }
    }

    /// One way, village to village in another district: the sum of the
    /// link latencies on the longest path.
    fn floor_ms(&self) -> u64 {
        2 * self.village_ms + 2 * self.core_ms
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Village(VillageCode),
    Checkpoint(&'static str),
    Facility,
    Auditor,
}

/// One node of the plan.
struct Member {
    kind: Kind,
    district: u8,
    node: Node,
    run: RunArgs,
}

/// Every node, in the order they start: three checkpoints, the GOR and the
/// auditor, then the villages taking one district after another (so that
/// every size spans the regency), then the late checkpoint.
fn plan() -> Vec<(Kind, u8, String)> {
    let mut out: Vec<(Kind, u8, String)> = Vec::new();
    for (name, d) in &CHECKPOINTS[1..] {
        out.push((Kind::Checkpoint(name), *d, format!("pos-{name}")));
    }
    out.push((Kind::Facility, TOWN, "gor".into()));
    out.push((Kind::Auditor, TOWN, "auditor".into()));
    let mut by_district: BTreeMap<u8, Vec<&kampung_core::banyuwangi::Village>> = BTreeMap::new();
    for v in kampung_core::banyuwangi::villages() {
        by_district.entry(v.code.district).or_default().push(v);
    }
    let most = by_district.values().map(Vec::len).max().unwrap_or(0);
    for round in 0..most {
        for (d, vs) in &by_district {
            if let Some(v) = vs.get(round) {
                let name = format!(
                    "desa-{:03}-{}",
                    v.ordinal,
                    v.name.to_lowercase().replace(' ', "-")
                );
                out.push((Kind::Village(v.code), *d, name));
            }
        }
    }
    let (name, d) = CHECKPOINTS[0];
    out.push((Kind::Checkpoint(name), d, format!("pos-{name}")));
    out
}

/// The routers, the namespaces, the links and the delays. Dropping it stops
/// the delays and deletes every namespace (and with them every link); the
/// nodes must be stopped first.
struct Lab {
    tag: String,
    /// Second octet of every address: 10.N.d.k is node k of district d.
    net: u8,
    core: String,
    namespaces: Vec<String>,
    delayers: Vec<Delayer>,
    /// Hosts given out per district.
    hosts: HashMap<u8, u8>,
    operator_link: String,
    mounts: Vec<PathBuf>,
}

impl Lab {
    fn new(cfg: &Config) -> Lab {
        require_root(
            "builds network namespaces and routers",
            &[("ip", "iproute2"), ("iptables-legacy", "iptables")],
        );
        let pid = std::process::id();
        let tag = format!("rm{pid}");
        let mut lab = Lab {
            net: (200 + pid % 50) as u8,
            core: format!("{tag}c"),
            operator_link: format!("{tag}o"),
            tag,
            namespaces: Vec::new(),
            delayers: Vec::new(),
            hosts: HashMap::new(),
            mounts: Vec::new(),
        };
        let n = lab.net;
        let core = lab.core.clone();
        lab.router(&core);
        // The operator's link (this process reaches every node's API through
        // the core; never delayed, never cut).
        let ops = lab.operator_link.clone();
        sh(
            "ip",
            &[
                "link", "add", &ops, "type", "veth", "peer", "name", "ops", "netns", &core,
            ],
        );
        sh(
            "ip",
            &["addr", "add", &format!("10.{n}.255.1/32"), "dev", &ops],
        );
        sh("ip", &["link", "set", &ops, "up"]);
        sh(
            "ip",
            &["route", "add", &format!("10.{n}.255.254/32"), "dev", &ops],
        );
        sh(
            "ip",
            &[
                "route",
                "add",
                &format!("10.{n}.0.0/16"),
                "via",
                &format!("10.{n}.255.254"),
                "dev",
                &ops,
            ],
        );
        sh(
            "ip",
            &[
                "-n",
                &core,
                "addr",
                "add",
                &format!("10.{n}.255.254/32"),
                "dev",
                "ops",
            ],
        );
        sh("ip", &["-n", &core, "link", "set", "ops", "up"]);
        sh(
            "ip",
            &[
                "-n",
                &core,
                "route",
                "add",
                &format!("10.{n}.255.1/32"),
                "dev",
                "ops",
            ],
        );
        // The core holds every packet between districts for one uplink's
        // latency (a cut district's packets are dropped before: `cut`).
        lab.forward(
            &core,
            cfg,
            &[&["-j", "NFQUEUE", "--queue-num", "2", "--queue-bypass"]],
        );
        lab.delayers.push(
            Delayer::start(&core, &[(2, Duration::from_millis(cfg.core_ms))])
                .expect("a delay on the core (needs nfnetlink_queue)"),
        );
        for d in kampung_core::banyuwangi::districts() {
            lab.add_hub(d.code, cfg);
        }
        lab
    }

    fn hub(&self, district: u8) -> String {
        format!("{}h{district}", self.tag)
    }

    fn router(&mut self, ns: &str) {
        sh("ip", &["netns", "add", ns]);
        self.namespaces.push(ns.to_string());
        sh("ip", &["-n", ns, "link", "set", "lo", "up"]);
        in_ns(ns, "sh", &["-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"]);
    }

    /// The forward chain of router `ns`: the operator's traffic passes
    /// untouched, the rest loses a little and goes through `rules` (this
    /// kernel has iptables' NFQUEUE target but not nftables' `queue`).
    fn forward(&self, ns: &str, cfg: &Config, rules: &[&[&str]]) {
        let ops = format!("10.{}.255.1", self.net);
        let probability = format!("{}", f64::from(cfg.loss_per_mille) / 1000.0);
        let mut all: Vec<Vec<&str>> = vec![
            vec!["-s", &ops, "-j", "ACCEPT"],
            vec!["-d", &ops, "-j", "ACCEPT"],
        ];
        if cfg.loss_per_mille > 0 {
            all.push(vec![
                "-m",
                "statistic",
                "--mode",
                "random",
                "--probability",
                &probability,
                "-j",
                "DROP",
            ]);
        }
        all.extend(rules.iter().map(|r| r.to_vec()));
        for rule in all {
            let mut args = vec!["-A", "FORWARD"];
            args.extend(rule);
            in_ns(ns, "iptables-legacy", &args);
        }
    }

    /// A district's hub, linked to the core.
    fn add_hub(&mut self, d: u8, cfg: &Config) {
        let n = self.net;
        let hub = self.hub(d);
        let core = self.core.clone();
        self.router(&hub);
        let down = format!("d{d}");
        sh(
            "ip",
            &[
                "-n", &hub, "link", "add", "name", "uplink", "type", "veth", "peer", "name", &down,
                "netns", &core,
            ],
        );
        sh(
            "ip",
            &[
                "-n",
                &hub,
                "addr",
                "add",
                &format!("10.{n}.0.{d}/32"),
                "dev",
                "uplink",
            ],
        );
        sh("ip", &["-n", &hub, "link", "set", "uplink", "up"]);
        sh(
            "ip",
            &[
                "-n",
                &hub,
                "route",
                "add",
                "default",
                "via",
                &format!("10.{n}.0.254"),
                "dev",
                "uplink",
                "onlink",
            ],
        );
        sh(
            "ip",
            &[
                "-n",
                &core,
                "addr",
                "add",
                &format!("10.{n}.0.254/32"),
                "dev",
                &down,
            ],
        );
        sh("ip", &["-n", &core, "link", "set", &down, "up"]);
        sh(
            "ip",
            &[
                "-n",
                &core,
                "route",
                "add",
                &format!("10.{n}.0.{d}/32"),
                "dev",
                &down,
            ],
        );
        sh(
            "ip",
            &[
                "-n",
                &core,
                "route",
                "add",
                &format!("10.{n}.{d}.0/24"),
                "via",
                &format!("10.{n}.0.{d}"),
                "dev",
                &down,
            ],
        );
        // Between two villages of the district: both their links; between a
        // village and the core: its link and half the uplink (the core holds
        // packets between districts for the other halves).
        self.forward(
            &hub,
            cfg,
            &[
                &[
                    "-i",
                    "uplink",
                    "-j",
                    "NFQUEUE",
                    "--queue-num",
                    "1",
                    "--queue-bypass",
                ],
                &[
                    "-o",
                    "uplink",
                    "-j",
                    "NFQUEUE",
                    "--queue-num",
                    "1",
                    "--queue-bypass",
                ],
                &["-j", "NFQUEUE", "--queue-num", "0", "--queue-bypass"],
            ],
        );
        let v = Duration::from_millis(cfg.village_ms);
        let up = Duration::from_micros(cfg.core_ms * 500);
        self.delayers.push(
            Delayer::start(&hub, &[(0, 2 * v), (1, v + up)])
                .unwrap_or_else(|e| panic!("a delay on {hub}: {e}")),
        );
    }

    /// A node's namespace on its district's hub; its address.
    fn add_node(&mut self, i: usize, d: u8) -> (String, String) {
        let n = self.net;
        let k = {
            let h = self.hosts.entry(d).or_insert(0);
            *h += 1;
            *h
        };
        assert!(k < 250, "district {d} has too many nodes");
        let ns = format!("{}n{i}", self.tag);
        let hub = self.hub(d);
        let addr = format!("10.{n}.{d}.{k}");
        let port = format!("v{k}");
        sh("ip", &["netns", "add", &ns]);
        self.namespaces.push(ns.clone());
        sh(
            "ip",
            &[
                "-n", &ns, "link", "add", "name", "eth0", "type", "veth", "peer", "name", &port,
                "netns", &hub,
            ],
        );
        sh(
            "ip",
            &[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{addr}/32"),
                "dev",
                "eth0",
            ],
        );
        sh("ip", &["-n", &ns, "link", "set", "lo", "up"]);
        sh("ip", &["-n", &ns, "link", "set", "eth0", "up"]);
        sh(
            "ip",
            &[
                "-n",
                &ns,
                "route",
                "add",
                "default",
                "via",
                &format!("10.{n}.{d}.254"),
                "dev",
                "eth0",
                "onlink",
            ],
        );
        sh(
            "ip",
            &[
                "-n",
                &hub,
                "addr",
                "add",
                &format!("10.{n}.{d}.254/32"),
                "dev",
                &port,
            ],
        );
        sh("ip", &["-n", &hub, "link", "set", &port, "up"]);
        sh(
            "ip",
            &[
                "-n",
                &hub,
                "route",
                "add",
                &format!("{addr}/32"),
                "dev",
                &port,
            ],
        );
        (ns, addr)
    }

    /// A RAM disk at `path`: each node's store lives on it, as if every
    /// node had a disk of its own (on one shared disk, 200 nodes applying
    /// the same change at once queue behind each other's fsync).
    fn ram_disk(&mut self, path: &Path) {
        std::fs::create_dir_all(path).unwrap();
        sh(
            "mount",
            &["-t", "tmpfs", "-o", "size=8g,mode=0700", "tmpfs", s(path)],
        );
        self.mounts.push(path.to_path_buf());
    }

    /// Cut a district off from the core (its hub keeps its villages
    /// linked), or heal it: drop what goes to or comes from its uplink,
    /// ahead of the delays and after the operator's rules.
    fn cut(&self, district: u8, cut: bool) {
        let link = format!("d{district}");
        for dir in ["-i", "-o"] {
            let rule: &[&str] = if cut {
                &["-I", "FORWARD", "3", dir, &link, "-j", "DROP"]
            } else {
                &["-D", "FORWARD", dir, &link, "-j", "DROP"]
            };
            in_ns(&self.core, "iptables-legacy", rule);
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for m in &self.mounts {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
        for d in self.delayers.drain(..) {
            let _ = d.stop();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.operator_link])
            .status();
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// HTTP to a node's API with its local credential.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(HTTP_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into()
}

fn post(node: &Node, path: &str, body: &Value) -> Result<Value, String> {
    let addr = node.api.ok_or("not running")?;
    let mut reply = agent()
        .post(&format!("http://{addr}{path}"))
        .header("authorization", &node.bearer())
        .send_json(body)
        .map_err(|e| format!("{}: POST {path}: {e}", node.name))?;
    let status = reply.status().as_u16();
    let body: Value = reply.body_mut().read_json().unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        Ok(body)
    } else {
        Err(format!("{}: POST {path}: {status} {body}", node.name))
    }
}

/// Where each checkpoint's crossing log got to (see [`log_crossings`]).
struct Crossings {
    checkpoints: usize,
    /// Checkpoints whose log the auditor does not hold after the wait.
    missing: Vec<String>,
    /// From the first crossing logged to the auditor holding every log.
    took: Option<Duration>,
    /// Checkpoints among the auditor's admitted peers at the end.
    connected: usize,
}

impl Crossings {
    fn line(&self) -> String {
        match self.took {
            Some(t) => format!(
                "all {} after {:.1} s; the auditor connected to {} of them",
                self.checkpoints,
                t.as_secs_f64(),
                self.connected
            ),
            None => format!(
                "{} of {} missing after 180 s ({}); the auditor connected to {} of them",
                self.missing.len(),
                self.checkpoints,
                self.missing.join(", "),
                self.connected
            ),
        }
    }
}

/// Each running checkpoint logs a crossing (allowed in); wait until the
/// auditor holds every checkpoint's log.
fn log_crossings(members: &[Member]) -> Crossings {
    let auditor = &members
        .iter()
        .find(|m| m.kind == Kind::Auditor)
        .expect("the plan has an auditor")
        .node;
    let checkpoints: Vec<&Node> = members
        .iter()
        .filter(|m| matches!(m.kind, Kind::Checkpoint(_)))
        .map(|m| &m.node)
        .collect();
    let t0 = Instant::now();
    for c in &checkpoints {
        // A traveller from Jember (35.09): not a resident, let through.
        post(
            c,
            "/v1/crossings",
            &serde_json::json!({"nik": "3509154203900002", "decision": "allowed_in"}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let missing = |docs: &Replica| -> Vec<String> {
        checkpoints
            .iter()
            .filter(|c| {
                let prefix = format!("x/{}/", c.peer_id);
                !docs.docs.keys().any(|d| d.starts_with(&prefix))
            })
            .map(|c| c.name.clone())
            .collect()
    };
    let mut left = checkpoints.iter().map(|c| c.name.clone()).collect();
    let mut took = None;
    while t0.elapsed() < Duration::from_secs(180) {
        if let Ok(status) = auditor.status() {
            left = missing(&Replica::from_status(&status));
            if left.is_empty() {
                took = Some(t0.elapsed());
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let admitted: Vec<String> = auditor
        .peers()
        .ok()
        .and_then(|p| p["peers"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter(|p| p["admitted"] == true)
        .filter_map(|p| Some(p["peer_id"].as_str()?.to_string()))
        .collect();
    Crossings {
        checkpoints: checkpoints.len(),
        missing: left,
        took,
        connected: checkpoints
            .iter()
            .filter(|c| admitted.contains(&c.peer_id))
            .count(),
    }
}

/// How much of the villages' details the auditor held (see [`auditor_details`]).
struct Details {
    villages: usize,
    /// Villages whose details the auditor held as the village does, at the first look.
    at_first: usize,
    /// ... and at the last.
    at_last: usize,
    /// From the first look to all of them, if within the wait.
    took: Option<Duration>,
    waited: Duration,
}

impl Details {
    fn line(&self) -> String {
        match self.took {
            Some(t) => format!(
                "{} of {} at once, all after {:.0} s",
                self.at_first,
                self.villages,
                t.as_secs_f64()
            ),
            None => format!(
                "{} of {} at once, {} after {:.0} s",
                self.at_first,
                self.villages,
                self.at_last,
                self.waited.as_secs_f64()
            ),
        }
    }
}

/// An auditor reads every village's details, which only the village and
/// the villages keeping a copy hold: it visits the villages in turn (a
/// window of them kept connected each minute). Wait up to `wait` until it
/// holds every running village's details as the village does.
fn auditor_details(members: &[Member], wait: Duration) -> Details {
    let auditor = &members
        .iter()
        .find(|m| m.kind == Kind::Auditor)
        .expect("the plan has an auditor")
        .node;
    // The villages are idle: their details' heads, once.
    let villages: Vec<(String, Vec<String>)> = members
        .iter()
        .filter_map(|m| match m.kind {
            Kind::Village(code) => {
                let doc = DocId::village(code).to_string();
                let heads = Replica::from_status(&m.node.status().ok()?)
                    .heads(&doc)
                    .to_vec();
                Some((doc, heads))
            }
            _ => None,
        })
        .collect();
    let held = || -> Option<usize> {
        let theirs = Replica::from_status(&auditor.status().ok()?);
        Some(
            villages
                .iter()
                .filter(|(doc, heads)| !heads.is_empty() && theirs.heads(doc) == heads.as_slice())
                .count(),
        )
    };
    let t0 = Instant::now();
    let at_first = held().unwrap_or(0);
    let mut at_last = at_first;
    let mut took = (at_first == villages.len()).then(Duration::default);
    while took.is_none() && t0.elapsed() < wait {
        std::thread::sleep(Duration::from_secs(10));
        at_last = held().unwrap_or(at_last);
        if at_last == villages.len() {
            took = Some(t0.elapsed());
        }
    }
    Details {
        villages: villages.len(),
        at_first,
        at_last,
        took,
        waited: t0.elapsed(),
    }
}

/// Wait until every node in `nodes` holds the same heads and `niks` NIKs;
/// how long it took, or what each holds after `timeout`.
fn converge(nodes: &[&Node], niks: u64, timeout: Duration) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        let mut first: Option<Replica> = None;
        let mut apart = Vec::new();
        for n in nodes {
            // Crossing logs are held by checkpoints and the auditor only.
            match n.status().map(|s| Replica::from_status(&s).for_everyone()) {
                Ok(r) if r.niks != niks => apart.push(format!("{}: {} NIKs", n.name, r.niks)),
                Ok(r) => match &first {
                    None => first = Some(r),
                    Some(f) if *f != r => apart.push(format!("{}: other heads", n.name)),
                    Some(_) => {}
                },
                Err(e) => apart.push(e),
            }
        }
        if apart.is_empty() {
            return Ok(start.elapsed());
        }
        let last = format!(
            "{} of {} nodes apart, e.g.: {}",
            apart.len(),
            nodes.len(),
            apart.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
        );
        if start.elapsed() > timeout {
            return Err(last);
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// CPU ticks (user + system), and bytes received and sent on `eth0`, of a
/// process in its own namespace.
fn counters(pid: u32) -> Option<(u64, u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime), counted from the state (3).
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let dev = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).ok()?;
    let line = dev.lines().find(|l| l.trim_start().starts_with("eth0:"))?;
    let nums: Vec<u64> = line
        .split(':')
        .nth(1)?
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    Some((ticks, *nums.first()?, *nums.get(8)?))
}

fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

/// Idle cost of every running node over `window`, nothing else happening.
struct Idle {
    nodes: usize,
    cpu_pct: Vec<f64>,
    rss_mb: Vec<f64>,
    rx_bps: Vec<f64>,
    tx_bps: Vec<f64>,
    /// From the nodes' own counters: connected peers, sync bytes (read and
    /// written) and gossip bytes received per second, anti-entropy
    /// sessions and announcements received per second.
    peers: Vec<f64>,
    sync_bps: Vec<f64>,
    gossip_bps: Vec<f64>,
    sessions_ps: Vec<f64>,
    announces_ps: Vec<f64>,
    /// Connections opened (either way) and peers trimmed per second: churn.
    opened_ps: Vec<f64>,
    trimmed_ps: Vec<f64>,
    /// The three nodes that used the most CPU, busiest first: (name, %).
    busiest: Vec<(String, f64)>,
}

/// A node's mesh counters that the idle measurement follows.
fn mesh_counters(node: &Node) -> Option<[f64; 6]> {
    let status = node.status().ok()?;
    let c = &status["mesh"]["counters"];
    let n = |k: &str| c[k].as_f64().unwrap_or(0.0);
    Some([
        n("sync_bytes_read") + n("sync_bytes_written"),
        n("gossip_bytes_received"),
        n("sessions_ok"),
        n("announces_received"),
        n("connections_opened"),
        n("peers_trimmed"),
    ])
}

/// "auditor 1.30 %, pos-ketapang 1.05 %, …": the busiest idle nodes.
fn busiest(idle: &Idle) -> String {
    idle.busiest
        .iter()
        .map(|(name, cpu)| format!("{name} {cpu:.2} %"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn measure_idle(nodes: &[&Node], window: Duration) -> Idle {
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    // The running nodes: their process ids and names, read once.
    let running: Vec<(u32, &str)> = nodes
        .iter()
        .filter_map(|n| Some((n.pid()?, n.name.as_str())))
        .collect();
    let mesh_before: Vec<Option<[f64; 6]>> = nodes.iter().map(|n| mesh_counters(n)).collect();
    let before: Vec<Option<(u64, u64, u64)>> = running.iter().map(|&(p, _)| counters(p)).collect();
    let t0 = Instant::now();
    std::thread::sleep(window);
    let secs = t0.elapsed().as_secs_f64();
    let mut idle = Idle {
        nodes: nodes.len(),
        cpu_pct: Vec::new(),
        rss_mb: Vec::new(),
        rx_bps: Vec::new(),
        tx_bps: Vec::new(),
        peers: Vec::new(),
        sync_bps: Vec::new(),
        gossip_bps: Vec::new(),
        sessions_ps: Vec::new(),
        announces_ps: Vec::new(),
        opened_ps: Vec::new(),
        trimmed_ps: Vec::new(),
        busiest: Vec::new(),
    };
    for (&(pid, name), b) in running.iter().zip(&before) {
        let (Some((t0, r0, s0)), Some((t1, r1, s1))) = (b, counters(pid)) else {
            continue;
        };
        let cpu = (t1 - t0) as f64 / hz / secs * 100.0;
        idle.cpu_pct.push(cpu);
        idle.busiest.push((name.to_string(), cpu));
        idle.rx_bps.push((r1 - r0) as f64 / secs);
        idle.tx_bps.push((s1 - s0) as f64 / secs);
        if let Some(m) = rss_mb(pid) {
            idle.rss_mb.push(m);
        }
    }
    // The nodes' own counters (asked after the window: the asking is not
    // in the process figures above).
    let mesh_secs = t0.elapsed().as_secs_f64();
    for (n, b) in nodes.iter().zip(&mesh_before) {
        let (Some(b), Some(a)) = (b, mesh_counters(n)) else {
            continue;
        };
        idle.sync_bps.push((a[0] - b[0]) / mesh_secs);
        idle.gossip_bps.push((a[1] - b[1]) / mesh_secs);
        idle.sessions_ps.push((a[2] - b[2]) / mesh_secs);
        idle.announces_ps.push((a[3] - b[3]) / mesh_secs);
        idle.opened_ps.push((a[4] - b[4]) / mesh_secs);
        idle.trimmed_ps.push((a[5] - b[5]) / mesh_secs);
        if let Ok(p) = n.peers() {
            idle.peers
                .push(p["peers"].as_array().map_or(0, Vec::len) as f64);
        }
    }
    idle.peers = sorted(idle.peers);
    idle.sync_bps = sorted(idle.sync_bps);
    idle.gossip_bps = sorted(idle.gossip_bps);
    idle.sessions_ps = sorted(idle.sessions_ps);
    idle.announces_ps = sorted(idle.announces_ps);
    idle.opened_ps = sorted(idle.opened_ps);
    idle.trimmed_ps = sorted(idle.trimmed_ps);
    idle.cpu_pct = sorted(idle.cpu_pct);
    idle.busiest.sort_by(|a, b| b.1.total_cmp(&a.1));
    idle.busiest.truncate(3);
    idle.rss_mb = sorted(idle.rss_mb);
    idle.rx_bps = sorted(idle.rx_bps);
    idle.tx_bps = sorted(idle.tx_bps);
    idle
}

/// One registration made for the propagation measurement.
struct Edit {
    node: usize,
    doc: String,
    head: String,
    /// When the clerk's request was sent, and when the node acknowledged it
    /// (durable and announced).
    sent: SystemTime,
    at: SystemTime,
}

/// A `kampung::applied` line: when a node changed `doc` to `heads`.
struct AppliedLine {
    at: SystemTime,
    doc: String,
    heads: Vec<String>,
}

fn applied_lines(log: &Path) -> Vec<AppliedLine> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|l| l.contains("kampung::applied"))
        .filter_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            let at = time::OffsetDateTime::parse(
                v["timestamp"].as_str()?,
                &time::format_description::well_known::Rfc3339,
            )
            .ok()?;
            Some(AppliedLine {
                at: at.into(),
                doc: v["fields"]["doc"].as_str()?.to_string(),
                heads: v["fields"]["heads"]
                    .as_str()?
                    .split(',')
                    .map(str::to_string)
                    .collect(),
            })
        })
        .collect()
}

/// A person not in the village yet, for a registration.
fn newcomer(code: VillageCode, rng: &mut Rng, taken: &mut BTreeSet<String>) -> Value {
    loop {
        let seed = rng.next();
        let mut person = kampung_gen::village_residents(code, 1, seed)
            .into_iter()
            .next()
            .unwrap();
        if taken.insert(person.nik.to_string()) {
            person.status = Status::Active;
            return serde_json::to_value(&person).unwrap();
        }
    }
}

/// Register a newcomer at `node`: the document's head after it, and when
/// the request was sent.
fn register(
    node: &Node,
    code: VillageCode,
    rng: &mut Rng,
    taken: &mut BTreeSet<String>,
) -> Result<(String, SystemTime, SystemTime), String> {
    for _ in 0..5 {
        let person = newcomer(code, rng, taken);
        let sent = SystemTime::now();
        match post(node, "/v1/residents/register", &person) {
            Ok(_) => {
                let at = SystemTime::now();
                // The village's cards: what every node holds of it.
                let doc = DocId::card(code).to_string();
                let status = node.status()?;
                let heads = Replica::from_status(&status).heads(&doc).to_vec();
                return match heads.as_slice() {
                    [h] => Ok((h.clone(), sent, at)),
                    other => Err(format!("{}: {doc} has heads {other:?}", node.name)),
                };
            }
            // The generated NIK is someone's already: another.
            Err(e) if e.contains(" 422 ") => continue,
            Err(e) => return Err(e),
        }
    }
    Err(format!("{}: five registrations refused", node.name))
}

fn fmt_ms(d: f64) -> String {
    if d.is_nan() {
        "—".into()
    } else {
        format!("{d:.0} ms")
    }
}

#[test]
#[ignore = "223 processes and about half an hour: scripts/regency-mesh"]
fn regency_mesh() {
    let mut planned = plan();
    // A smaller mesh for a quick try: the first nodes of the plan, and the
    // late checkpoint.
    let limit: usize = env_or("REGENCY_NODES", planned.len());
    if limit >= 3 && limit < planned.len() {
        let late = planned.pop().unwrap();
        planned.truncate(limit - 1);
        planned.push(late);
    }
    let cfg = Config::from_env(planned.len());
    let work = PathBuf::from(std::env::var("REGENCY_DIR").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../target/regency-mesh").to_string()
    }));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let mut table = String::new();
    let mut notes: Vec<String> = Vec::new();
    let mut rng = Rng(cfg.seed);
    let run_started = Instant::now();
    let say = |what: &str| {
        println!(
            "regency-mesh [{:>5.0} s] {what}",
            run_started.elapsed().as_secs_f64()
        )
    };

    let mut lab = Lab::new(&cfg);
    say(&format!(
        "network: core + {} district hubs; links {} ms (node-hub), {} ms (hub-core), {}‰ loss per router",
        kampung_core::banyuwangi::districts().len(),
        cfg.village_ms,
        cfg.core_ms,
        cfg.loss_per_mille
    ));

    // The regency administrator: root key, policy, a certificate per node.
    let admin_dir = work.join("admin");
    std::fs::create_dir_all(&admin_dir).unwrap();
    let (key, root_pub, policy) = root_and_policy(&admin_dir, 1);
    let stores = work.join("stores");
    lab.ram_disk(&stores);
    let mut members: Vec<Member> = Vec::new();
    for (i, (kind, district, name)) in planned.iter().enumerate() {
        let (ns, addr) = lab.add_node(i, *district);
        let mut node = Node::new(&work, name, Some(&ns));
        node.data = stores.join(name);
        let (init_role, cert_role): (Vec<String>, Vec<String>) = match kind {
            Kind::Village(code) => (
                vec!["--village".into(), code.to_string()],
                vec![
                    "--role".into(),
                    "village".into(),
                    "--village".into(),
                    code.to_string(),
                ],
            ),
            Kind::Checkpoint(c) => (
                vec!["--checkpoint".into(), (*c).into()],
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
        node.peer_id = init(&node, &init_role, &root_pub);
        let cert = certify(
            &admin_dir,
            &key,
            &node.peer_id,
            &cert_role.iter().map(String::as_str).collect::<Vec<_>>(),
            name,
        );
        node.ok(&["trust", "add", s(&policy), s(&cert)]);
        if let Kind::Village(code) = kind {
            let csv = Csv::generate(
                &code.to_string(),
                cfg.residents,
                cfg.seed + i as u64,
                &work.join(format!("{name}.csv")),
            );
            let report = node.json(&["import", csv.path_str(), "--json"]);
            assert_eq!(report["added"], cfg.residents as u64, "{name}: {report}");
        }
        let run = RunArgs {
            listen_ip: addr.clone(),
            listen_port: MESH_PORT,
            api: format!("{addr}:{API_PORT}"),
            // The product's defaults: what an idle node costs in the field.
            anti_entropy_secs: defaults().anti_entropy_secs,
            heartbeat_secs: defaults().heartbeat_secs,
            extra: vec![
                "--insecure-http".into(),
                "--log-format".into(),
                "json".into(),
            ],
            env: vec![(
                "KAMPUNG_LOG".into(),
                std::env::var("REGENCY_LOG")
                    .unwrap_or_else(|_| "warn,libp2p_kad=error,kampung::applied=debug".into()),
            )],
            ..RunArgs::loopback(Vec::new())
        };
        members.push(Member {
            kind: *kind,
            district: *district,
            node,
            run,
        });
        if (i + 1) % 25 == 0 {
            say(&format!(
                "{} nodes initialised, certified and imported",
                i + 1
            ));
        }
    }
    let total = members.len();
    let villages_before = |n: usize| {
        planned[..n]
            .iter()
            .filter(|p| matches!(p.0, Kind::Village(_)))
            .count() as u64
    };

    // Grow the mesh: each size, wait until all agree, let it settle, then
    // measure it idle. The last node (a checkpoint with an empty store)
    // joins alone and is timed.
    let mut idles: Vec<Idle> = Vec::new();
    let mut started = 0usize;
    let mut late_join: Option<Duration> = None;
    for &size in &cfg.sizes {
        let last_step = size == total;
        let upto = if last_step { total - 1 } else { size };
        while started < upto {
            start_member(&mut members, started);
            started += 1;
        }
        let running: Vec<&Node> = members[..started].iter().map(|m| &m.node).collect();
        let niks = villages_before(started) * cfg.residents as u64;
        let took = converge(&running, niks, Duration::from_secs(900))
            .unwrap_or_else(|e| panic!("{started} nodes did not agree: {e}"));
        say(&format!(
            "{started} nodes agree ({niks} NIKs), {:.1} s after the last started",
            took.as_secs_f64()
        ));
        if last_step {
            let t0 = Instant::now();
            start_member(&mut members, started);
            started += 1;
            let late = &members[started - 1].node;
            converge(&[late], niks, Duration::from_secs(600))
                .unwrap_or_else(|e| panic!("the late checkpoint did not catch up: {e}"));
            late_join = Some(t0.elapsed());
            say(&format!(
                "{} (empty store) answers for all {} villages after {:.1} s",
                late.name,
                villages_before(started),
                t0.elapsed().as_secs_f64()
            ));
            let running: Vec<&Node> = members.iter().map(|m| &m.node).collect();
            converge(&running, niks, Duration::from_secs(600))
                .unwrap_or_else(|e| panic!("all nodes did not agree: {e}"));
        }
        std::thread::sleep(Duration::from_secs(20));
        let running: Vec<&Node> = members[..started].iter().map(|m| &m.node).collect();
        let idle = measure_idle(&running, cfg.idle);
        say(&format!(
            "idle at {} nodes: CPU median {:.2} % (max {:.2}), RSS median {:.1} MB (max {:.1}), received median {:.0} B/s, sent {:.0} B/s",
            idle.nodes,
            quantile(&idle.cpu_pct, 0.5),
            quantile(&idle.cpu_pct, 1.0),
            quantile(&idle.rss_mb, 0.5),
            quantile(&idle.rss_mb, 1.0),
            quantile(&idle.rx_bps, 0.5),
            quantile(&idle.tx_bps, 0.5),
        ));
        say(&format!(
            "  per node (medians): {:.0} peers, sync {:.0} B/s, gossip received {:.0} B/s, {:.2} anti-entropy sessions/s, {:.2} announcements received/s, {:.2} connections opened/s, {:.2} peers trimmed/s",
            quantile(&idle.peers, 0.5),
            quantile(&idle.sync_bps, 0.5),
            quantile(&idle.gossip_bps, 0.5),
            quantile(&idle.sessions_ps, 0.5),
            quantile(&idle.announces_ps, 0.5),
            quantile(&idle.opened_ps, 0.5),
            quantile(&idle.trimmed_ps, 0.5),
        ));
        say(&format!("  busiest: {}", busiest(&idle)));
        idles.push(idle);
    }
    let all: Vec<&Node> = members.iter().map(|m| &m.node).collect();
    let mut niks = villages_before(total) * cfg.residents as u64;

    // Crossings: each checkpoint logs one. Crossing logs travel only
    // between checkpoints and the auditor (never through a village), so
    // each must reach the auditor directly or through another checkpoint:
    // they keep each other connected as kin whatever else they trim.
    let crossings = log_crossings(&members);
    say(&crossings.line());
    let details = auditor_details(&members, cfg.details_wait);
    say(&format!(
        "the villages' details at the auditor: {}",
        details.line()
    ));

    // Propagation: single registrations at random villages, one at a time.
    let villages: Vec<usize> = (0..total)
        .filter(|&i| matches!(members[i].kind, Kind::Village(_)))
        .collect();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut edits: Vec<Edit> = Vec::new();
    for e in 0..cfg.edits {
        let i = *rng.pick(&villages);
        let Kind::Village(code) = members[i].kind else {
            unreachable!()
        };
        let (head, sent, at) = register(&members[i].node, code, &mut rng, &mut taken)
            .unwrap_or_else(|err| panic!("edit {e}: {err}"));
        edits.push(Edit {
            node: i,
            doc: DocId::card(code).to_string(),
            head,
            sent,
            at,
        });
        niks += 1;
        std::thread::sleep(Duration::from_millis(1200));
        if (e + 1) % 50 == 0 {
            say(&format!("{} edits made", e + 1));
        }
    }
    std::thread::sleep(Duration::from_secs(10));
    // When each node first held each edit (or a later edit of the same
    // village, which includes it).
    let mut later: HashMap<usize, BTreeSet<String>> = HashMap::new();
    for (e, edit) in edits.iter().enumerate().rev() {
        let mut set: BTreeSet<String> = edits[e + 1..]
            .iter()
            .filter(|x| x.doc == edit.doc)
            .map(|x| x.head.clone())
            .collect();
        set.insert(edit.head.clone());
        later.insert(e, set);
    }
    let logs: Vec<Vec<AppliedLine>> = members.iter().map(|m| applied_lines(&m.node.log)).collect();
    let mut everywhere: Vec<f64> = Vec::new();
    let mut from_sent: Vec<f64> = Vec::new();
    let mut acks: Vec<f64> = Vec::new();
    let mut per_node: Vec<f64> = Vec::new();
    let mut missed = 0usize;
    for (e, edit) in edits.iter().enumerate() {
        let wanted = &later[&e];
        let mut worst = 0.0f64;
        let mut complete = true;
        for (j, lines) in logs.iter().enumerate() {
            if j == edit.node {
                continue;
            }
            // (A node may apply the announcement before the clerk's answer
            // arrives here: it counts as 0 ms after the answer.)
            let seen = lines.iter().find(|l| {
                l.at >= edit.sent && l.doc == edit.doc && l.heads.iter().any(|h| wanted.contains(h))
            });
            match seen {
                Some(l) => {
                    let ms =
                        l.at.duration_since(edit.at)
                            .unwrap_or_default()
                            .as_secs_f64()
                            * 1e3;
                    per_node.push(ms);
                    worst = worst.max(ms);
                }
                None => {
                    missed += 1;
                    complete = false;
                }
            }
        }
        let ack_ms = edit
            .at
            .duration_since(edit.sent)
            .unwrap_or_default()
            .as_secs_f64()
            * 1e3;
        acks.push(ack_ms);
        if complete {
            everywhere.push(worst);
            from_sent.push(worst + ack_ms);
        }
    }
    let acks = sorted(acks);
    let from_sent = sorted(from_sent);
    let everywhere = sorted(everywhere);
    let per_node = sorted(per_node);
    say(&format!(
        "propagation: visible at every node p50 {} p99 {} (per node p50 {}); {missed} node-deliveries not seen",
        fmt_ms(quantile(&everywhere, 0.5)),
        fmt_ms(quantile(&everywhere, 0.99)),
        fmt_ms(quantile(&per_node, 0.5)),
    ));
    converge(&all, niks, Duration::from_secs(300))
        .unwrap_or_else(|e| panic!("after the edits the nodes do not agree: {e}"));

    // A district cut off from the core, with registrations on both sides
    // (Wongsorejo, or in a smaller mesh the district with most villages).
    let count = |d: u8| {
        villages
            .iter()
            .filter(|&&i| members[i].district == d)
            .count()
    };
    let cut_district = if count(CUT_DISTRICT) > 0 {
        CUT_DISTRICT
    } else {
        (1..=25).max_by_key(|&d| count(d)).unwrap()
    };
    let inside: Vec<usize> = villages
        .iter()
        .copied()
        .filter(|&i| members[i].district == cut_district)
        .collect();
    let outside: Vec<usize> = villages
        .iter()
        .copied()
        .filter(|&i| members[i].district != cut_district)
        .collect();
    assert!(
        !inside.is_empty() && !outside.is_empty(),
        "the cut needs villages on both sides"
    );
    lab.cut(cut_district, true);
    say(&format!(
        "district {cut_district} ({} villages) cut off from the core for {} s",
        inside.len(),
        cfg.cut.as_secs()
    ));
    let cut_start = Instant::now();
    let mut written: Vec<(usize, String)> = Vec::new();
    let mut refused = 0usize;
    let mut turn = 0usize;
    while cut_start.elapsed() < cfg.cut {
        let side = if turn % 2 == 0 { &inside } else { &outside };
        turn += 1;
        let i = *rng.pick(side);
        let Kind::Village(code) = members[i].kind else {
            unreachable!()
        };
        let person = newcomer(code, &mut rng, &mut taken);
        match post(&members[i].node, "/v1/residents/register", &person) {
            Ok(_) => written.push((i, person["nik"].as_str().unwrap().to_string())),
            Err(e) if e.contains(" 422 ") => refused += 1,
            Err(e) => panic!("a registration during the cut: {e}"),
        }
        std::thread::sleep(Duration::from_millis(1000));
    }
    lab.cut(cut_district, false);
    let healed = Instant::now();
    niks += written.len() as u64;
    let converged = converge(&all, niks, Duration::from_secs(900));
    let heal_time = healed.elapsed();
    let lost: Vec<String> = match &converged {
        Ok(_) => {
            // Every acknowledged write is in the agreed replica: ask one
            // node on each side for each.
            let askers = [&members[inside[0]].node, &members[outside[0]].node];
            written
                .iter()
                .filter(|(_, nik)| {
                    askers.iter().any(|n| {
                        let v = n.lookup(nik);
                        v["verdict"]["verdict"].as_str() != Some("resident")
                    })
                })
                .map(|(i, nik)| format!("{nik} at {}", members[*i].node.name))
                .collect()
        }
        Err(e) => vec![format!("no convergence: {e}")],
    };
    say(&format!(
        "healed: {} acknowledged registrations during the cut ({refused} refused as taken), converged {:.1} s after the heal, {} lost",
        written.len(),
        heal_time.as_secs_f64(),
        lost.len()
    ));

    // Stop everything by its own process id, then the lab.
    let stop_start = Instant::now();
    for m in &members {
        m.node.interrupt();
    }
    let mut unclean = Vec::new();
    for m in &mut members {
        let status = m.node.wait_exit();
        if !status.success() {
            unclean.push(format!("{}: {status}", m.node.name));
        }
    }
    say(&format!(
        "{} nodes stopped in {:.1} s",
        members.len(),
        stop_start.elapsed().as_secs_f64()
    ));
    let delayed: u64 = lab
        .delayers
        .drain(..)
        .map(|d| d.stop().map(|s| s.packets).unwrap_or(0))
        .sum();
    drop(lab);

    // The table.
    let floor = cfg.floor_ms() as f64;
    let p50 = quantile(&everywhere, 0.5);
    let p99 = quantile(&everywhere, 0.99);
    let met = |ok: bool| if ok { "yes" } else { "**no**" };
    let _ = writeln!(table, "| measurement | target | measured | met? |");
    let _ = writeln!(table, "|---|---|---|---|");
    let _ = writeln!(
        table,
        "| One registration at a random village visible at every other node ({} nodes), p50 of {} edits | ≤ 2 × path floor = {} | {} (per node: p50 {}) | {} |",
        total,
        edits.len(),
        fmt_ms(2.0 * floor),
        fmt_ms(p50),
        fmt_ms(quantile(&per_node, 0.5)),
        met(p50 <= 2.0 * floor)
    );
    let _ = writeln!(
        table,
        "| … p99 | ≤ 1000 ms | {} (max {}; {} of {} node-deliveries not seen) | {} |",
        fmt_ms(p99),
        fmt_ms(quantile(&everywhere, 1.0)),
        missed,
        edits.len() * (total - 1),
        met(p99 <= 1000.0 && missed == 0)
    );
    let _ = writeln!(
        table,
        "| Each checkpoint's crossing log at the auditor (crossing logs travel only between checkpoints and auditors) | all | {} | {} |",
        crossings.line(),
        met(crossings.missing.is_empty())
    );
    let _ = writeln!(
        table,
        "| Each village's details at the auditor (held by the village, the villages keeping a copy and auditors; an auditor visits the villages in turn, a window of them a minute) | all within {:.0} s | {} | {} |",
        cfg.details_wait.as_secs_f64(),
        details.line(),
        met(details.took.is_some())
    );
    let late = late_join.map_or(f64::NAN, |d| d.as_secs_f64());
    let _ = writeln!(
        table,
        "| A checkpoint joining last with an empty store answers for all {} villages | ≤ 30 s | {late:.1} s | {} |",
        villages.len(),
        met(late <= 30.0)
    );
    for idle in &idles {
        let cpu = quantile(&idle.cpu_pct, 0.5);
        let cpu_max = quantile(&idle.cpu_pct, 1.0);
        let rss = quantile(&idle.rss_mb, 0.5);
        let rss_max = quantile(&idle.rss_mb, 1.0);
        let _ = writeln!(
            table,
            "| Idle node at {} nodes: CPU, median (max; the busiest) | ≤ 1 % of a core | {cpu:.2} % ({cpu_max:.2} %; {}) | {} |",
            idle.nodes,
            busiest(idle),
            met(cpu_max <= 1.0)
        );
        let _ = writeln!(
            table,
            "| … RSS, median (max) | ≤ 64 MB | {rss:.1} MB ({rss_max:.1} MB) | {} |",
            met(rss_max <= 64.0)
        );
        let _ = writeln!(
            table,
            "| … bytes per second on its link, received / sent, median (max received) | grows ≤ log(nodes) | {:.0} / {:.0} B/s ({:.0}) | see below |",
            quantile(&idle.rx_bps, 0.5),
            quantile(&idle.tx_bps, 0.5),
            quantile(&idle.rx_bps, 1.0),
        );
        let _ = writeln!(
            table,
            "| … of which, median per node: sync (read + written) / gossip received; peers; sessions and announcements received per second; connections opened and peers trimmed per second | — | {:.0} / {:.0} B/s; {:.0} peers; {:.2} sessions/s, {:.2} announcements/s; {:.2} opened/s, {:.2} trimmed/s | — |",
            quantile(&idle.sync_bps, 0.5),
            quantile(&idle.gossip_bps, 0.5),
            quantile(&idle.peers, 0.5),
            quantile(&idle.sessions_ps, 0.5),
            quantile(&idle.announces_ps, 0.5),
            quantile(&idle.opened_ps, 0.5),
            quantile(&idle.trimmed_ps, 0.5),
        );
    }
    let heal_s = heal_time.as_secs_f64();
    let _ = writeln!(
        table,
        "| District {cut_district} cut off from the core for {} s, registrations on both sides: converged after the heal | — | {heal_s:.1} s ({} acknowledged during the cut) | — |",
        cfg.cut.as_secs(),
        written.len()
    );
    let _ = writeln!(
        table,
        "| … acknowledged writes lost | 0 | {} | {} |",
        lost.len(),
        met(lost.is_empty() && converged.is_ok())
    );
    let heartbeat = defaults().heartbeat_secs;
    if cfg.idle < Duration::from_secs(heartbeat) {
        notes.push(format!(
            "The idle window ({} s) is shorter than the owners' heartbeat period ({heartbeat} s): it holds a share of their heartbeats (each node has a phase of its own), so its traffic figures vary between runs by chance; compare runs with `--idle {heartbeat}` or more.",
            cfg.idle.as_secs()
        ));
    }
    if idles.len() >= 2 {
        let first = &idles[0];
        let last = idles.last().unwrap();
        let grow = quantile(&last.rx_bps, 0.5) / quantile(&first.rx_bps, 0.5);
        let log_grow = (last.nodes as f64).ln() / (first.nodes as f64).ln();
        let lin_grow = last.nodes as f64 / first.nodes as f64;
        notes.push(format!(
            "Idle traffic per node grew {grow:.2}× from {} to {} nodes; logarithmic growth would be {log_grow:.2}×, linear {lin_grow:.2}×.",
            first.nodes, last.nodes
        ));
    }
    notes.push(format!(
        "Propagation is timed from the clerk's answer (the registration is durable and announced) to the `kampung::applied` log line of each other node (its copy is applied and stored). From the clerk's request instead: p50 {}, p99 {}; the registration itself took p50 {}, p99 {}.",
        fmt_ms(quantile(&from_sent, 0.5)),
        fmt_ms(quantile(&from_sent, 0.99)),
        fmt_ms(quantile(&acks, 0.5)),
        fmt_ms(quantile(&acks, 0.99)),
    ));
    notes.push(format!(
        "{total} nodes ({} villages of {} residents, 4 checkpoints, the GOR, an auditor), one process and one network namespace each, stores on a RAM disk (no fsync cost); product defaults (anti-entropy every {} s, at most 8 sessions in that time; owners announce their heads every {heartbeat} s; 16 peers dialled at most, 32 kept, 64 accepted, and the checkpoints and the auditor keep each other). Links: {} ms node–hub, {} ms hub–core, {}‰ loss at each router; path floor village to village across districts {} ms one way. {delayed} packets delayed. Seed {}.",
        villages.len(),
        cfg.residents,
        defaults().anti_entropy_secs,
        cfg.village_ms,
        cfg.core_ms,
        cfg.loss_per_mille,
        cfg.floor_ms(),
        cfg.seed
    ));
    if !unclean.is_empty() {
        notes.push(format!("Not stopped cleanly: {}", unclean.join(", ")));
    }
    let mut out = table.clone();
    out.push('\n');
    for n in &notes {
        out.push_str(n);
        out.push_str("\n\n");
    }
    println!("\n{out}");
    if let Some(path) = &cfg.report {
        std::fs::write(path, &out).unwrap();
    }
    assert!(lost.is_empty(), "writes lost after the partition: {lost:?}");
    assert!(converged.is_ok(), "no convergence after the heal");
    assert!(
        details.took.is_some(),
        "the auditor lacks villages' details: {}",
        details.line()
    );
    assert!(
        unclean.is_empty(),
        "nodes did not stop cleanly: {unclean:?}"
    );
}

/// Start member `i`, bootstrapping from the first node of its district, the
/// first node of all, and the node started just before it.
fn start_member(members: &mut [Member], i: usize) {
    let mut boot: Vec<String> = Vec::new();
    let district = members[i].district;
    let mut add = |j: usize| {
        let a = format!(
            "/ip4/{}/tcp/{MESH_PORT}/p2p/{}",
            members[j].run.listen_ip, members[j].node.peer_id
        );
        if j != i && !boot.contains(&a) {
            boot.push(a);
        }
    };
    if let Some(j) = (0..i).find(|&j| members[j].district == district) {
        add(j);
    }
    if i > 0 {
        add(0);
        add(i - 1);
    }
    let m = &mut members[i];
    m.run.bootstrap = boot;
    let run = m.run.clone();
    m.node.start(&run);
}
