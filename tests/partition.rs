//! A network partition between real nodes: two Linux network namespaces
//! joined by a veth pair, two villages on one side, a village and a
//! checkpoint on the other. Both sides keep writing while the link is down;
//! each side converges on its own, and once the link is back every write
//! reaches every node.
//!
//! Needs root (network namespaces) and iproute2's `ip`; without them the
//! test fails and says so, it does not pass silently.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/procs.rs"]
mod procs;

use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

use procs::*;

const CONVERGE: Duration = Duration::from_secs(60);
/// After the link comes back, TCP's retransmission back-off may delay the
/// first packets by some seconds.
const HEAL: Duration = Duration::from_secs(90);

/// Side A: Kampunganyar (Glagah) and Ketapang (Kalipuro).
const A_VILLAGES: [&str; 2] = ["35.10.15.2012", "35.10.21.2003"];
/// Side B: Bajulmati (Wongsorejo), next to the Wongsorejo checkpoint.
const B_VILLAGE: &str = "35.10.18.2007";

/// Run `ip ARGS`, requiring success.
fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap_or_else(|e| {
        panic!("cannot run `ip` ({e}): install iproute2 (apt-get install -y iproute2)")
    });
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two namespaces joined by a veth pair, and the nodes running in them.
/// Dropping it kills the nodes and deletes the namespaces (the veth pair
/// goes with them), also when the test fails.
struct Lab {
    ns: [String; 2],
    veth: [String; 2],
    addr: [String; 2],
    created: Vec<String>,
    nodes: Vec<Node>,
}

impl Lab {
    fn new() -> Lab {
        require_root("builds network namespaces", &[("ip", "iproute2")]);
        let pid = std::process::id();
        let mut lab = Lab {
            ns: [format!("kp-{pid}-a"), format!("kp-{pid}-b")],
            veth: [format!("kpv{pid}a"), format!("kpv{pid}b")],
            addr: [
                format!("10.{}.{}.1", (pid >> 8) & 0xff, pid & 0xff),
                format!("10.{}.{}.2", (pid >> 8) & 0xff, pid & 0xff),
            ],
            created: Vec::new(),
            nodes: Vec::new(),
        };
        for ns in lab.ns.clone() {
            ip(&["netns", "add", &ns]);
            lab.created.push(ns);
        }
        let [a, b] = &lab.ns;
        let [va, vb] = &lab.veth;
        ip(&[
            "link", "add", va, "netns", a, "type", "veth", "peer", "name", vb, "netns", b,
        ]);
        for i in 0..2 {
            let (ns, veth) = (&lab.ns[i], &lab.veth[i]);
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{}/24", lab.addr[i]),
                "dev",
                veth,
            ]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "link", "set", veth, "up"]);
        }
        lab
    }

    /// Take side A's end of the link down: nothing crosses, each side still
    /// reaches its own addresses.
    fn partition(&self) {
        ip(&["-n", &self.ns[0], "link", "set", &self.veth[0], "down"]);
    }

    fn heal(&self) {
        ip(&["-n", &self.ns[0], "link", "set", &self.veth[0], "up"]);
    }

    fn run_args(&self, side: usize, bootstrap: Vec<String>) -> RunArgs {
        RunArgs {
            listen_ip: self.addr[side].clone(),
            ..RunArgs::loopback(bootstrap)
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.nodes.clear();
        for ns in &self.created {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// The village's cards: the document every node holds of it.
fn doc(village: &str) -> String {
    format!("k/{village}")
}

fn verdict(node: &Node, nik: &str) -> String {
    let answer = node.lookup(nik);
    answer["verdict"]["verdict"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no verdict for {nik}: {answer}", node.name))
        .to_string()
}

fn assert_verdicts(nodes: &[&Node], niks: &[String], expected: &str) {
    for n in nodes {
        for nik in niks {
            assert_eq!(verdict(n, nik), expected, "{}: lookup {nik}", n.name);
        }
    }
}

#[test]
fn both_sides_write_through_a_partition_and_converge_after_it_heals() {
    let mut lab = Lab::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    // Nodes 0, 1: villages on side A; 2: village on side B; 3: the checkpoint
    // on side B; each certified by the mesh's root (a node without one keeps
    // to loopback).
    let mut root = Root::new(dir);
    let mut csvs = Vec::new();
    for (i, (village, side)) in [(A_VILLAGES[0], 0), (A_VILLAGES[1], 0), (B_VILLAGE, 1)]
        .into_iter()
        .enumerate()
    {
        let node = Node::new(dir, &format!("village-{village}"), Some(&lab.ns[side]));
        root.init(
            &node,
            &["--village", village],
            &["--role", "village", "--village", village],
        );
        let csv = Csv::generate(
            village,
            150,
            40 + i as u64,
            &dir.join(format!("{village}.csv")),
        );
        let report = node.json(&["import", csv.path_str(), "--json"]);
        assert_eq!(report["added"], 150, "{report}");
        csvs.push(csv);
        lab.nodes.push(node);
    }
    let checkpoint = Node::new(dir, "checkpoint-wongsorejo", Some(&lab.ns[1]));
    root.init(
        &checkpoint,
        &["--checkpoint", "wongsorejo"],
        &["--role", "checkpoint"],
    );
    lab.nodes.push(checkpoint);
    root.hand_out(&lab.nodes.iter().collect::<Vec<_>>());

    let args = lab.run_args(0, vec![]);
    lab.nodes[0].start(&args);
    let boot = lab.nodes[0].bootstrap_addr();
    let args = lab.run_args(0, vec![boot.clone()]);
    lab.nodes[1].start(&args);
    let args = lab.run_args(1, vec![boot.clone()]);
    lab.nodes[2].start(&args);
    // The checkpoint also knows its neighbour on side B, so that side B is
    // connected on its own once the link is down.
    let args = lab.run_args(1, vec![boot, lab.nodes[2].bootstrap_addr()]);
    lab.nodes[3].start(&args);

    let everyone: Vec<&Node> = lab.nodes.iter().collect();
    let before = wait_agree(&everyone, 3, 450, CONVERGE);
    let b_village_peer = lab.nodes[2].peer_id.clone();
    poll(CONVERGE, || {
        let peers = lab.nodes[3].peers().ok()?;
        peers["peers"]
            .as_array()?
            .iter()
            .any(|p| p["peer_id"] == b_village_peer.as_str())
            .then_some(())
    })
    .expect("the checkpoint connects to the village on its side");

    lab.partition();

    // Side A: new residents at the first village (through its API).
    let known: HashSet<&str> = csvs[0].rows.iter().map(|r| r.nik.as_str()).collect();
    let more = Csv::generate(A_VILLAGES[0], 40, 777, &dir.join("more.csv"));
    let fresh: Vec<Row> = more
        .rows
        .iter()
        .filter(|r| !known.contains(r.nik.as_str()) && r.status == "active")
        .cloned()
        .collect();
    assert!(
        fresh.len() > 20,
        "the second file should be mostly new NIKs"
    );
    let more = more.write_rows(&fresh, &dir.join("more-new.csv"));
    let report = lab.nodes[0].json(&["import", more.path_str(), "--json"]);
    assert_eq!(report["added"], fresh.len() as u64, "{report}");
    let new_niks: Vec<String> = fresh.iter().map(|r| r.nik.clone()).collect();
    // Side B: three residents of its village move out.
    let moved: Vec<String> = csvs[2].active().take(3).map(|r| r.nik.clone()).collect();
    for nik in &moved {
        lab.nodes[2].ok(&["resident", "move-out", nik, "--to", "Kabupaten Situbondo"]);
    }
    let niks = 450 + fresh.len() as u64;

    // Each side converges on its own, and neither sees the other's writes.
    let side_a: Vec<&Node> = lab.nodes[..2].iter().collect();
    let side_b: Vec<&Node> = lab.nodes[2..].iter().collect();
    let a = wait_agree(&side_a, 3, niks, CONVERGE);
    let b = wait_agree(&side_b, 3, 450, CONVERGE);
    let (a_doc, b_doc) = (doc(A_VILLAGES[0]), doc(B_VILLAGE));
    assert_ne!(a.heads(&a_doc), before.heads(&a_doc), "side A wrote");
    assert_ne!(b.heads(&b_doc), before.heads(&b_doc), "side B wrote");
    assert_eq!(
        a.heads(&b_doc),
        before.heads(&b_doc),
        "side B's move-outs crossed the partition"
    );
    assert_eq!(
        b.heads(&a_doc),
        before.heads(&a_doc),
        "side A's new residents crossed the partition"
    );
    assert_verdicts(&side_a, &new_niks[..3], "resident");
    assert_verdicts(&side_a, &moved, "resident");
    assert_verdicts(&side_b, &new_niks[..3], "non_resident");
    assert_verdicts(&side_b, &moved, "moved_out");

    // Cut off, the checkpoint still answers for side A's residents from its
    // copy, and says that copy is getting old (heartbeats every second).
    let a_resident = csvs[0].active().next().unwrap().nik.clone();
    let heard = |node: &Node| -> Option<f64> {
        let answer = node.lookup(&a_resident);
        assert_eq!(answer["verdict"]["verdict"], "resident", "{answer}");
        answer["freshness"]["owner_last_heard_secs"].as_f64()
    };
    poll(CONVERGE, || heard(&lab.nodes[3]).filter(|&s| s > 3.0))
        .expect("the checkpoint's copy of side A ages during the partition");

    // Heal: every node ends with both sides' writes.
    lab.heal();
    let healed = Instant::now();
    let everyone: Vec<&Node> = lab.nodes.iter().collect();
    let after = wait_agree(&everyone, 3, niks, HEAL);
    eprintln!("converged {:?} after the link came back", healed.elapsed());
    assert_eq!(after.heads(&a_doc), a.heads(&a_doc));
    assert_eq!(after.heads(&b_doc), b.heads(&b_doc));
    assert_eq!(
        after.heads(&doc(A_VILLAGES[1])),
        before.heads(&doc(A_VILLAGES[1]))
    );
    poll(CONVERGE, || heard(&lab.nodes[3]).filter(|&s| s < 3.0))
        .expect("the checkpoint hears from side A again");
    assert_verdicts(&everyone, &new_niks, "resident");
    assert_verdicts(&everyone, &moved, "moved_out");
    for node in &everyone {
        let answer = node.lookup(&moved[0]);
        assert_eq!(
            answer["verdict"]["destination"], "Kabupaten Situbondo",
            "{}: {answer}",
            node.name
        );
    }

    let mut nodes: Vec<&mut Node> = lab.nodes.iter_mut().collect();
    stop_all(&mut nodes);
}
