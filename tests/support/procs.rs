//! Real `kampung run` processes for the integration tests: start a node (in a
//! network namespace if asked), wait until its API answers and it listens,
//! query it, crash it, stop it. A node still running when its [`Node`] is
//! dropped is killed, so a failing test leaves nothing behind; while a test
//! is panicking, the tail of every node's log is printed.
//!
//! Every wait polls a condition with a deadline: no fixed ports, no sleeps as
//! synchronisation.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a node may take to start answering.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a node may take to stop after SIGINT.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Timeout of one HTTP request to a node's API.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kampung"))
}

/// Call `f` until it returns `Some`, every 100 ms, for at most `timeout`.
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// How a node is run.
#[derive(Debug, Clone)]
pub struct RunArgs {
    /// The IPv4 address to listen on for the mesh.
    pub listen_ip: String,
    /// Its TCP port (0: any free port; a fixed one lets peers redial a node
    /// that restarted, e.g. in its own network namespace).
    pub listen_port: u16,
    /// Full multiaddrs (`.../p2p/<peer id>`) to dial at start.
    pub bootstrap: Vec<String>,
    pub anti_entropy_secs: u64,
    pub heartbeat_secs: u64,
    /// The address of the API and the pages (`--api`).
    pub api: String,
    /// More arguments of `kampung run`.
    pub extra: Vec<String>,
    /// Environment variables of the process (e.g. libfaketime's, for a
    /// village PC whose clock is wrong).
    pub env: Vec<(String, String)>,
}

impl RunArgs {
    pub fn loopback(bootstrap: Vec<String>) -> RunArgs {
        RunArgs {
            listen_ip: "127.0.0.1".into(),
            listen_port: 0,
            bootstrap,
            anti_entropy_secs: 1,
            heartbeat_secs: 1,
            api: "127.0.0.1:0".into(),
            extra: Vec::new(),
            env: Vec::new(),
        }
    }
}

/// One node: a data directory, and while it runs, its `kampung run` process.
#[derive(Debug)]
pub struct Node {
    pub name: String,
    pub data: PathBuf,
    /// stdout and stderr of every run of this node, appended.
    pub log: PathBuf,
    /// The network namespace the node and every command on it run in.
    pub netns: Option<String>,
    child: Option<Child>,
    /// The API address of the current run (HTTP is used only without a namespace).
    pub api: Option<SocketAddr>,
    pub peer_id: String,
    /// The mesh listen addresses of the current run.
    pub listen: Vec<String>,
}

impl Node {
    /// A node whose data directory is `dir/name` and log `dir/name.log`
    /// (nothing is created: call [`Node::ok`] with `init` first).
    pub fn new(dir: &Path, name: &str, netns: Option<&str>) -> Node {
        Node {
            name: name.to_string(),
            data: dir.join(name),
            log: dir.join(format!("{name}.log")),
            netns: netns.map(str::to_string),
            child: None,
            api: None,
            peer_id: String::new(),
            listen: Vec::new(),
        }
    }

    /// `kampung --data DIR`, inside the node's namespace if it has one.
    pub fn command(&self) -> Command {
        let mut c = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(bin());
                c
            }
            None => Command::new(bin()),
        };
        c.arg("--data")
            .arg(&self.data)
            .env("KAMPUNG_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        c
    }

    /// Run a CLI command on this node's data directory.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .output()
            .expect("the kampung binary runs")
    }

    /// Run a CLI command and require success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "{}: kampung {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            self.name,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let text = self.ok(args);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: {args:?} is not JSON ({e}): {text}", self.name))
    }

    /// `Bearer` and the local credential: what the CLI on the node's own
    /// machine shows its API.
    pub fn bearer(&self) -> String {
        let secret = std::fs::read_to_string(self.data.join("local.secret"))
            .unwrap_or_else(|e| panic!("{}: no local credential: {e}", self.name));
        format!("Bearer {}", secret.trim())
    }

    pub fn api_addr_file(&self) -> PathBuf {
        self.data.join("api.addr")
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process of the current run is still alive.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Start `kampung run` and wait until its API answers and it listens;
    /// how long that took.
    pub fn start(&mut self, run: &RunArgs) -> Duration {
        let began = Instant::now();
        assert!(self.child.is_none(), "{} is already running", self.name);
        // After a crash api.addr is stale: remove it so that waiting for it
        // waits for this run (`run` would overwrite it anyway).
        let _ = std::fs::remove_file(self.api_addr_file());
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut c = self.command();
        c.env("KAMPUNG_LOG", "info,libp2p_kad=error")
            .arg("run")
            .arg("--listen")
            .arg(format!("/ip4/{}/tcp/{}", run.listen_ip, run.listen_port))
            .args(["--api", &run.api, "--no-mdns"])
            .args(&run.extra)
            .arg("--anti-entropy-secs")
            .arg(run.anti_entropy_secs.to_string())
            .arg("--heartbeat-secs")
            .arg(run.heartbeat_secs.to_string())
            .envs(run.env.iter().map(|(k, v)| (k, v)));
        for b in &run.bootstrap {
            c.arg("--bootstrap").arg(b);
        }
        c.stdout(log.try_clone().unwrap()).stderr(log);
        self.child = Some(c.spawn().expect("kampung run starts"));
        self.api = None;
        self.listen.clear();

        let ready = poll(START_TIMEOUT, || {
            if !self.is_running() {
                return Some(Err(()));
            }
            let addr: SocketAddr = std::fs::read_to_string(self.api_addr_file())
                .ok()?
                .trim()
                .parse()
                .ok()?;
            self.api = Some(addr);
            let peers = self.peers().ok()?;
            let listen: Vec<String> = peers["listen"]
                .as_array()?
                .iter()
                .filter_map(|a| Some(a.as_str()?.to_string()))
                .collect();
            if listen.is_empty() {
                return None;
            }
            Some(Ok((peers["peer_id"].as_str()?.to_string(), listen)))
        });
        match ready {
            Some(Ok((peer_id, listen))) => {
                self.peer_id = peer_id;
                self.listen = listen;
                began.elapsed()
            }
            Some(Err(())) => panic!("{} exited at start:\n{}", self.name, tail(&self.log, 40)),
            None => panic!(
                "{} did not answer within {START_TIMEOUT:?}:\n{}\n{}",
                self.name,
                tail(&self.log, 40),
                self.pid().map(threads_of).unwrap_or_default()
            ),
        }
    }

    /// The address other nodes bootstrap from.
    pub fn bootstrap_addr(&self) -> String {
        assert!(!self.listen.is_empty(), "{} is not running", self.name);
        format!("{}/p2p/{}", self.listen[0], self.peer_id)
    }

    /// Can this process reach the node's API over HTTP: the node runs in our
    /// namespace, or its API listens on an address routed to us (not its
    /// namespace's loopback)?
    pub fn api_reachable(&self) -> bool {
        self.netns.is_none() || self.api.is_some_and(|a| !a.ip().is_loopback())
    }

    /// GET an API path: over HTTP if the API is reachable, else through the
    /// CLI inside the node's namespace (`status`, `peers`, `lookup` only).
    pub fn get(&self, path: &str) -> Result<Value, String> {
        if let (Some(ns), false) = (&self.netns, self.api_reachable()) {
            let args: Vec<&str> = match path.strip_prefix("/v1/") {
                Some("status") => vec!["status", "--json"],
                Some("peers") => vec!["peers", "--json"],
                Some(p) if p.starts_with("lookup/") => vec!["lookup", &p[7..], "--json"],
                _ => panic!("no CLI command for {path}"),
            };
            let out = self.cli(&args);
            if !out.status.success() {
                return Err(format!(
                    "{} (in {ns}): {args:?}: {}",
                    self.name,
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            return serde_json::from_slice(&out.stdout).map_err(|e| e.to_string());
        }
        let text = self.get_text(path)?;
        serde_json::from_str(&text).map_err(|e| format!("{}: GET {path}: {e}", self.name))
    }

    /// GET an API path over HTTP, with the node's own credential; the body.
    pub fn get_text(&self, path: &str) -> Result<String, String> {
        let addr = self
            .api
            .ok_or_else(|| format!("{} is not running", self.name))?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(HTTP_TIMEOUT))
            .build()
            .into();
        agent
            .get(&format!("http://{addr}{path}"))
            .header("authorization", &self.bearer())
            .call()
            .map_err(|e| format!("{}: GET {path}: {e}", self.name))?
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("{}: GET {path}: {e}", self.name))
    }

    /// The value of an unlabelled metric (`/metrics`, over HTTP).
    pub fn metric(&self, name: &str) -> Result<f64, String> {
        let text = self.get_text("/metrics")?;
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
            .ok_or_else(|| format!("{}: no metric {name}", self.name))
    }

    pub fn status(&self) -> Result<Value, String> {
        self.get("/v1/status")
    }

    pub fn peers(&self) -> Result<Value, String> {
        self.get("/v1/peers")
    }

    /// The running node's answer for a NIK: `{"verdict": {..}, "freshness": ..}`.
    pub fn lookup(&self, nik: &str) -> Value {
        self.get(&format!("/v1/lookup/{nik}"))
            .unwrap_or_else(|e| panic!("lookup {nik}: {e}"))
    }

    /// Crash: SIGKILL, no chance to clean up (api.addr stays behind).
    pub fn kill9(&mut self) {
        let mut c = self.child.take().expect("the node runs");
        c.kill().unwrap();
        c.wait().unwrap();
        self.api = None;
    }

    /// Send SIGINT without waiting.
    pub fn interrupt(&self) {
        let pid = self.pid().expect("the node runs");
        let st = Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .unwrap();
        assert!(st.success(), "kill -INT {pid} failed");
    }

    /// The exit status if the process has exited (then it is no longer running).
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        self.api = None;
        Some(status)
    }

    /// Wait (with a deadline) for the process to exit; SIGKILL and panic if it does not.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let mut c = self.child.take().expect("the node runs");
        let status = poll(STOP_TIMEOUT, || c.try_wait().unwrap());
        self.api = None;
        match status {
            Some(s) => s,
            None => {
                let _ = c.kill();
                let _ = c.wait();
                panic!(
                    "{} did not stop within {STOP_TIMEOUT:?} after SIGINT:\n{}",
                    self.name,
                    tail(&self.log, 40)
                );
            }
        }
    }

    /// The log of the latest run (the log file is appended to by every run).
    pub fn last_run_log(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        match text.rfind("running; API on") {
            Some(i) => text[i..].to_string(),
            None => text,
        }
    }

    /// SIGINT and wait; the exit status.
    pub fn stop(&mut self) -> ExitStatus {
        self.interrupt();
        self.wait_exit()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "---- last lines of {} ({}) ----\n{}",
                self.name,
                self.log.display(),
                tail(&self.log, 25)
            );
        }
    }
}

/// Stop every running node with SIGINT (all at once, then wait for each) and
/// require a clean exit.
/// `kampung admin ARGS` (no data directory); stdout.
pub fn admin(args: &[&str]) -> String {
    let out = Command::new(bin())
        .arg("admin")
        .args(args)
        .env("KAMPUNG_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kampung admin {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Initialise a node trusting `root_pub`; its peer id.
pub fn init(node: &Node, role: &[&str], root_pub: &Path) -> String {
    let mut args = vec!["init"];
    args.extend_from_slice(role);
    args.extend(["--root", s(root_pub)]);
    let out = node.ok(&args);
    out.lines()
        .find_map(|l| l.strip_prefix("peer id: "))
        .unwrap_or_else(|| panic!("no peer id printed: {out}"))
        .to_string()
}

/// A certificate for `peer` in `dir/name.cert`.
pub fn certify(dir: &Path, key: &Path, peer: &str, role: &[&str], name: &str) -> PathBuf {
    let out = dir.join(format!("{name}.cert"));
    let mut args = vec!["certify", "--key", s(key), "--node", peer];
    args.extend_from_slice(role);
    args.extend(["--until", "2099-12-31", "--out", s(&out)]);
    admin(&args);
    out
}

/// The regency administrator of a test mesh: a root key in `dir`, nodes
/// initialised trusting it, and a certificate for each.
pub struct Root {
    dir: PathBuf,
    pub key: PathBuf,
    pub public: PathBuf,
    pub certs: Vec<PathBuf>,
}

impl Root {
    pub fn new(dir: &Path) -> Root {
        let key = dir.join("root.key");
        admin(&["keygen", "--out", s(&key)]);
        Root {
            dir: dir.to_path_buf(),
            public: dir.join("root.key.pub"),
            key,
            certs: Vec::new(),
        }
    }

    /// `kampung init ROLE --root`, and a certificate for the node
    /// (`cert_role`: `--role village --village CODE`, ...); its peer id.
    pub fn init(&mut self, node: &Node, role: &[&str], cert_role: &[&str]) -> String {
        let peer = init(node, role, &self.public);
        let cert = certify(&self.dir, &self.key, &peer, cert_role, &node.name);
        self.certs.push(cert);
        peer
    }

    /// Every certificate made so far, added to each of `nodes`.
    pub fn hand_out(&self, nodes: &[&Node]) {
        let mut args = vec!["trust", "add"];
        args.extend(self.certs.iter().map(|c| s(c)));
        for n in nodes {
            n.ok(&args);
        }
    }
}

pub fn stop_all(nodes: &mut [&mut Node]) {
    for n in nodes.iter_mut() {
        if n.is_running() {
            n.interrupt();
        }
    }
    for n in nodes.iter_mut() {
        if n.child.is_some() {
            let st = n.wait_exit();
            assert!(st.success(), "{} exited with {st:?}", n.name);
            assert!(
                n.last_run_log().contains("\nstopped cleanly\n"),
                "{} did not print \"stopped cleanly\":\n{}",
                n.name,
                tail(&n.log, 20)
            );
        }
    }
}

/// The last `n` lines of a file.
/// What each thread of process `pid` is doing (its state and the kernel
/// function it waits in), for a node that does not answer.
fn threads_of(pid: u32) -> String {
    let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
    let mut out = format!("---- threads of process {pid} ----\n");
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out + "(gone)";
    };
    for task in tasks.flatten() {
        let dir = task.path();
        let state = read(dir.join("status"))
            .lines()
            .find(|l| l.starts_with("State:"))
            .unwrap_or_default()
            .to_string();
        out += &format!(
            "{} {}: {state}, waiting in {}\n",
            task.file_name().to_string_lossy(),
            read(dir.join("comm")).trim(),
            read(dir.join("wchan")).trim()
        );
    }
    // Where each thread is, if gdb is here (a thread running for the whole
    // wait says more by its stack than by its state).
    let stacks = Command::new("timeout")
        .args(["20", "gdb", "-p", &pid.to_string(), "-batch", "-nx"])
        .args(["-ex", "set pagination off", "-ex", "thread apply all bt 12"])
        // The main thread's outermost frames: who called what it is doing.
        .args(["-ex", "thread apply 1 bt -40"])
        .stdin(Stdio::null())
        .output();
    if let Ok(o) = stacks {
        if o.status.success() {
            let text = String::from_utf8_lossy(&o.stdout);
            out += "---- stacks (gdb) ----\n";
            out += &text
                .lines()
                .filter(|l| l.starts_with('#') || l.starts_with("Thread"))
                .collect::<Vec<_>>()
                .join("\n");
        }
    }
    out
}

pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// What a node holds: the heads of every document, and how many NIKs its index has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    pub docs: BTreeMap<String, Vec<String>>,
    pub niks: u64,
}

impl Replica {
    pub fn from_status(status: &Value) -> Replica {
        let docs = status["documents"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| {
                let mut heads: Vec<String> = d["heads"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|h| Some(h.as_str()?.to_string()))
                    .collect();
                heads.sort();
                (d["doc"].as_str().unwrap_or("?").to_string(), heads)
            })
            .collect();
        Replica {
            docs,
            niks: status["niks"].as_u64().unwrap_or(0),
        }
    }

    pub fn heads(&self, doc: &str) -> &[String] {
        self.docs.get(doc).map_or(&[], Vec::as_slice)
    }

    /// Without villages' details (`v/`), which only the village, the
    /// villages that keep a copy of them and auditors hold.
    pub fn without_details(&self) -> Replica {
        Replica {
            docs: self
                .docs
                .iter()
                .filter(|(d, _)| !d.starts_with("v/"))
                .map(|(d, h)| (d.clone(), h.clone()))
                .collect(),
            niks: self.niks,
        }
    }

    /// The part every member may read (without crossing logs, which only
    /// checkpoints and auditors hold: `kampung_core::ReadScope`).
    pub fn for_everyone(&self) -> Replica {
        Replica {
            docs: self
                .docs
                .iter()
                .filter(|(d, _)| is_for_everyone(d))
                .map(|(d, h)| (d.clone(), h.clone()))
                .collect(),
            niks: self.niks,
        }
    }

    fn short(&self) -> String {
        let docs: Vec<String> = self
            .docs
            .iter()
            .map(|(d, h)| {
                let h: Vec<&str> = h.iter().map(|h| &h[..8.min(h.len())]).collect();
                format!("{d}={}", h.join("+"))
            })
            .collect();
        format!("niks {} [{}]", self.niks, docs.join(" "))
    }
}

/// May every member read the document named `doc`?
pub fn is_for_everyone(doc: &str) -> bool {
    kampung_core::DocId::parse(doc).is_none_or(|d| kampung_core::ReadScope::for_everyone(&d))
}

/// The replica of every node, in order (an error text for a node that does not answer).
pub fn replicas(nodes: &[&Node]) -> Vec<Result<Replica, String>> {
    nodes
        .iter()
        .map(|n| n.status().map(|s| Replica::from_status(&s)))
        .collect()
}

/// Wait until every node holds the same heads for exactly `docs` documents
/// and `niks` NIKs, villages' details aside (each node holds only some, or
/// with no root all: see [`Replica::without_details`]); the agreed replica.
/// Panics after `timeout` with what each node holds.
pub fn wait_agree(nodes: &[&Node], docs: usize, niks: u64, timeout: Duration) -> Replica {
    let mut last = Vec::new();
    let agreed = poll(timeout, || {
        last = replicas(nodes)
            .into_iter()
            .map(|r| r.map(|r| r.without_details()))
            .collect();
        let first = last.first()?.as_ref().ok()?;
        let all_same = last.iter().all(|r| r.as_ref().ok() == Some(first));
        (all_same && first.docs.len() == docs && first.niks == niks).then(|| first.clone())
    });
    agreed.unwrap_or_else(|| {
        let report: Vec<String> = nodes
            .iter()
            .zip(&last)
            .map(|(n, r)| match r {
                Ok(r) => format!("  {}: {}", n.name, r.short()),
                Err(e) => format!("  {}: {e}", n.name),
            })
            .collect();
        panic!(
            "no agreement on {docs} documents and {niks} NIKs within {timeout:?}:\n{}",
            report.join("\n")
        )
    })
}

/// A generated village file: its rows (without the header) as `(nik, status, line)`.
#[derive(Debug, Clone)]
pub struct Csv {
    pub path: PathBuf,
    pub header: String,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone)]
pub struct Row {
    pub nik: String,
    pub status: String,
    pub line: String,
}

impl Csv {
    /// `kampung gen` into `path`.
    pub fn generate(village: &str, residents: usize, seed: u64, path: &Path) -> Csv {
        let out = Command::new(bin())
            .args(["gen", "--village", village, "--residents"])
            .arg(residents.to_string())
            .arg("--seed")
            .arg(seed.to_string())
            .arg("--out")
            .arg(path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "gen failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Csv::read(path)
    }

    pub fn read(path: &Path) -> Csv {
        let text = std::fs::read_to_string(path).unwrap();
        let mut lines = text.lines();
        let header = lines.next().unwrap().to_string();
        let rows = lines
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                Row {
                    nik: f[0].to_string(),
                    status: f[9].to_string(),
                    line: l.to_string(),
                }
            })
            .collect();
        Csv {
            path: path.to_path_buf(),
            header,
            rows,
        }
    }

    /// Write `rows` under this file's header to `path`.
    pub fn write_rows(&self, rows: &[Row], path: &Path) -> Csv {
        let mut text = self.header.clone() + "\n";
        for r in rows {
            text.push_str(&r.line);
            text.push('\n');
        }
        std::fs::write(path, text).unwrap();
        Csv::read(path)
    }

    /// The verdict a row's status implies.
    pub fn expected_verdict(status: &str) -> &str {
        match status {
            "active" => "resident",
            other => other,
        }
    }

    pub fn active(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.status == "active")
    }

    pub fn path_str(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

/// Processes whose command line mentions `needle` (e.g. a temp directory).
pub fn processes_mentioning(needle: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    let me = std::process::id();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&raw).replace('\0', " ");
        if cmd.contains(needle) {
            found.push((pid, cmd));
        }
    }
    found
}

/// Fail, saying what to do, unless this test runs as root (network
/// namespaces, mounts) and each of `tools` (command, Debian package) runs.
pub fn require_root(why: &str, tools: &[(&str, &str)]) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("?");
    assert_eq!(
        euid, "0",
        "this test {why} and needs root (effective uid is {euid}): run it as root, e.g. `sudo -E cargo test`"
    );
    for (tool, package) in tools {
        assert!(
            Command::new(tool).arg("-V").output().is_ok(),
            "`{tool}` is missing: apt-get install -y {package}"
        );
    }
}

/// The regency administrator's root key (`root.key`, `root.key.pub`) and a
/// signed policy (`version`, 14 isolation days, Bali barred) in `dir`:
/// (key, public key, policy).
pub fn root_and_policy(dir: &Path, version: u32) -> (PathBuf, PathBuf, PathBuf) {
    let key = dir.join("root.key");
    admin(&["keygen", "--out", s(&key)]);
    let policy = dir.join(format!("policy-{version}.json"));
    admin(&[
        "policy",
        "--key",
        s(&key),
        "--version",
        &version.to_string(),
        "--isolation-days",
        "14",
        "--bar",
        "51",
        "--out",
        s(&policy),
    ]);
    (key.clone(), dir.join("root.key.pub"), policy)
}

/// splitmix64: a run's schedule and workload replay from its seed.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn secs(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo * 1000 + self.below((hi - lo) * 1000 + 1))
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

pub fn sh(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `{program}` ({e}): see the test's header for what to install")
        });
    assert!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn in_ns(ns: &str, program: &str, args: &[&str]) {
    let mut all = vec!["netns", "exec", ns, program];
    all.extend_from_slice(args);
    sh("ip", &all);
}
