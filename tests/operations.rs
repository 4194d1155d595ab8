//! What an operator does to real `kampung run` processes: back up a running
//! node (and kill the backup anywhere in the middle), lose the server,
//! restore the backup and watch the node catch up; stop a node with the
//! signal systemd sends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/procs.rs"]
mod procs;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use procs::*;

/// Kampunganyar (Glagah) and Ketapang (Kalipuro), from ../shared/data.
const A: &str = "35.10.15.2012";
const B: &str = "35.10.21.2003";
const CONVERGE: Duration = Duration::from_secs(60);

/// A certified village node with `residents` generated ones.
fn village(root: &mut Root, dir: &Path, code: &str, residents: usize, seed: u64) -> (Node, Csv) {
    let node = Node::new(dir, &format!("village-{code}"), None);
    root.init(
        &node,
        &["--village", code],
        &["--role", "village", "--village", code],
    );
    let csv = Csv::generate(code, residents, seed, &dir.join(format!("{code}.csv")));
    let report = node.json(&["import", csv.path_str(), "--json"]);
    assert_eq!(report["added"], residents as u64, "{report}");
    (node, csv)
}

/// Two certified villages, A with `a` residents and B with `b`, each
/// holding every certificate (not running yet); the root, A, A's file, B.
fn certified_pair(dir: &Path, a: usize, b: usize, seed: u64) -> (Root, Node, Csv, Node) {
    let mut root = Root::new(dir);
    let (va, csv) = village(&mut root, dir, A, a, seed);
    let (vb, _) = village(&mut root, dir, B, b, seed + 1);
    root.hand_out(&[&va, &vb]);
    (root, va, csv, vb)
}

/// Start B, then A dialling it, and wait until both hold both villages' `niks`.
fn run_pair(a: &mut Node, b: &mut Node, niks: u64) {
    b.start(&RunArgs::loopback(vec![]));
    a.start(&RunArgs::loopback(vec![b.bootstrap_addr()]));
    wait_agree(&[&*a, &*b], 2, niks, CONVERGE);
}

/// `kampung --data DATA restore FILE`.
fn restore_into(data: &Path, file: &Path) -> std::process::Output {
    Command::new(bin())
        .args(["--data", s(data), "restore", s(file)])
        .env("KAMPUNG_LOG", "warn")
        .output()
        .unwrap()
}

/// `kampung backup --out FILE` started in the background.
fn start_backup(node: &Node, out: &Path) -> std::process::Child {
    node.command()
        .args(["backup", "--out", s(out)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_running_node_is_backed_up_and_a_lost_server_restored_from_it_catches_up() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (_root, mut a, csv, mut b) = certified_pair(dir, 400, 100, 1);
    a.ok(&[
        "user",
        "add",
        "ayu",
        "--name",
        "Ayu Lestari",
        "--role",
        "clerk",
    ]);
    run_pair(&mut a, &mut b, 500);

    // A backup of the running node: complete, checked, owner-only.
    let backup = dir.join("a.tar");
    let out = a.ok(&["backup", "--out", s(&backup)]);
    assert!(
        // Both villages' cards, and A's details (B's are not A's to hold).
        out.contains("documents: 3") && out.contains("checked"),
        "{out}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the backup holds the node's key: {mode:o}");
    }
    assert!(!dir.join("a.tar.partial").exists());

    // kill -9 a backup at different moments: as soon as its partial file
    // appears, once it holds bytes, and after fixed delays. Whenever the
    // kill lands, FILE is either absent or a complete backup, what was cut
    // off is refused, and the node keeps answering.
    let mut cut_in_the_middle = 0;
    for (i, moment) in ["appears", "has bytes", "0 ms", "120 ms"]
        .into_iter()
        .enumerate()
    {
        let out = dir.join(format!("killed-{i}.tar"));
        let partial = dir.join(format!("killed-{i}.tar.partial"));
        let mut child = start_backup(&a, &out);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let reached = || match moment {
            "appears" => partial.exists(),
            "has bytes" => std::fs::metadata(&partial).is_ok_and(|m| m.len() > 0),
            _ => true,
        };
        while !reached() && !out.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(200));
        }
        if moment == "120 ms" {
            std::thread::sleep(Duration::from_millis(120));
        }
        let _ = child.kill();
        let status = child.wait().unwrap();
        eprintln!(
            "backup killed when its file {moment}: {status:?}, file {}, partial {}",
            if out.exists() { "complete" } else { "absent" },
            std::fs::metadata(&partial).map_or("absent".into(), |m| format!("{} bytes", m.len()))
        );
        if out.exists() {
            // It finished before the kill: then it is whole.
            let check = dir.join(format!("check-{i}"));
            let restored = restore_into(&check, &out);
            assert!(
                restored.status.success(),
                "a backup file that exists restores ({status:?}): {}",
                String::from_utf8_lossy(&restored.stderr)
            );
        } else if partial.exists() {
            cut_in_the_middle += 1;
            let into = dir.join(format!("cut-{i}"));
            let cut = restore_into(&into, &partial);
            // A partial file that happens to be whole (killed between its
            // last byte and the rename) restores; any other is refused.
            if !cut.status.success() {
                let err = String::from_utf8_lossy(&cut.stderr);
                assert!(
                    err.contains("interrupted") || err.contains("not a backup"),
                    "{err}"
                );
                assert!(!into.join("role.toml").exists(), "nothing half restored");
            }
        }
        let row = csv.active().next().unwrap();
        assert_eq!(a.lookup(&row.nik)["verdict"]["verdict"], "resident");
    }
    assert!(
        cut_in_the_middle > 0,
        "no kill landed in the middle of a backup"
    );

    // Written after the backup: reaches B, so the restored node gets it back.
    let later = Csv::generate(A, 20, 77, &dir.join("later.csv"));
    let report = a.json(&["import", later.path_str(), "--json"]);
    let added = report["added"].as_u64().unwrap();
    assert!(added > 0, "{report}");
    wait_agree(&[&a, &b], 2, 500 + added, CONVERGE);

    // The server dies and its disk is lost.
    let identity = a.peer_id.clone();
    a.kill9();
    std::fs::remove_dir_all(&a.data).unwrap();
    let out = a.ok(&["restore", s(&backup)]);
    assert!(
        out.contains("documents: 3") && out.contains("accounts: 1"),
        "{out}"
    );
    let users = a.ok(&["user", "list"]);
    assert!(users.contains("ayu"), "{users}");
    // Restoring over a node is refused.
    let again = a.cli(&["restore", s(&backup)]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("restore into a new or empty directory")
    );

    // It rejoins as the same node and catches up, its own later writes included.
    a.start(&RunArgs::loopback(vec![b.bootstrap_addr()]));
    wait_agree(&[&a, &b], 2, 500 + added, CONVERGE);
    assert_eq!(a.peer_id, identity, "the same node");
    let late = later.active().next().unwrap();
    assert_eq!(a.lookup(&late.nik)["verdict"]["village"], A);
    let audit = {
        let mut n: Vec<&mut Node> = vec![&mut a, &mut b];
        stop_all(&mut n);
        a.ok(&["audit", "verify"])
    };
    assert!(audit.contains("ALL GOOD"), "{audit}");
}

/// The packaged systemd unit, as `key=value` lines of its sections.
fn unit() -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("debian/kampung.service");
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn unit_value(key: &str) -> String {
    unit()
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("kampung.service has no {key}="))
}

#[test]
fn the_service_unit_runs_the_node_confined_and_its_config_checks() {
    for (key, value) in [
        ("User", "kampung"),
        ("StateDirectory", "kampung"),
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("Restart", "on-failure"),
        ("KillSignal", "SIGTERM"),
    ] {
        assert_eq!(unit_value(key), value, "{key}");
    }
    let exec = unit_value("ExecStart");
    let config = exec
        .split_once("--config ")
        .map(|(_, c)| c.to_string())
        .expect("ExecStart names the configuration");
    assert_eq!(config, "/etc/kampung/kampung.toml");
    // The configuration the package installs there is valid, and names the
    // unit's state directory as the data directory.
    let packaged = Path::new(env!("CARGO_MANIFEST_DIR")).join("debian/kampung.toml");
    let out = Command::new(bin())
        .args(["config", "check", s(&packaged)])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("/var/lib/kampung"), "{text}");
}

#[test]
fn sigterm_stops_a_node_cleanly_as_systemd_stops_it() {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = Node::new(tmp.path(), "village", None);
    node.ok(&["init", "--village", A]);
    node.start(&RunArgs::loopback(vec![]));
    let pid = node.pid().unwrap();
    let sent = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    // systemd waits TimeoutStopSec before it kills: the node must be gone by then.
    let timeout: u64 = unit_value("TimeoutStopSec").parse().unwrap();
    let mut stopped = None;
    let exited = poll(Duration::from_secs(timeout), || {
        stopped = node.try_exit();
        stopped
    });
    let status = exited.unwrap_or_else(|| {
        panic!(
            "no exit within the unit's TimeoutStopSec={timeout}:\n{}",
            node.last_run_log()
        )
    });
    assert!(status.success(), "exit status {status:?}");
    let log = node.last_run_log();
    assert!(log.contains("\nstopped cleanly\n"), "{log}");
    assert!(!node.api_addr_file().exists(), "api.addr is removed");
}

#[test]
fn a_rotated_key_takes_over_its_village_and_the_old_key_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (mut root, mut a, _, mut b) = certified_pair(dir, 150, 50, 3);
    run_pair(&mut a, &mut b, 200);

    // docs/operations.md, "Rotate a node's key": stop, keep the old
    // directory aside, a new key for the same village, certified; the old
    // key revoked from now (its earlier writes stay valid).
    let old_peer = a.peer_id.clone();
    let st = a.stop();
    assert!(st.success());
    let mut old = Node::new(dir, "village-old", None);
    std::fs::rename(&a.data, &old.data).unwrap();
    // (Its data directory at the same place; the test's node needs another
    // name for its certificate file.)
    let mut a = Node::new(dir, "village-rotated", None);
    let new_peer = root.init(
        &a,
        &["--village", A],
        &["--role", "village", "--village", A],
    );
    assert_ne!(new_peer, old_peer);
    let revocation = dir.join("old.revoke");
    admin(&[
        "revoke",
        "--key",
        s(&root.key),
        &old_peer,
        "--reason",
        "key rotated",
        "--out",
        s(&revocation),
    ]);
    root.hand_out(&[&a]);
    a.ok(&["trust", "add", s(&revocation)]);
    a.start(&RunArgs::loopback(vec![b.bootstrap_addr()]));
    // The village's residents come back from the peer.
    wait_agree(&[&a, &b], 2, 200, CONVERGE);
    assert_eq!(a.peer_id, new_peer);

    // The new key writes for the village, and the peer takes its writes.
    let later = Csv::generate(A, 12, 9, &dir.join("later.csv"));
    let report = a.json(&["import", later.path_str(), "--json"]);
    let added = report["added"].as_u64().unwrap();
    assert!(added > 0, "{report}");
    wait_agree(&[&a, &b], 2, 200 + added, CONVERGE);

    // The revocation reached the peer: the old key, back on the network,
    // is refused there, and says why.
    old.start(&RunArgs::loopback(vec![b.bootstrap_addr()]));
    let reason = poll(CONVERGE, || {
        let peers = b.peers().ok()?;
        peers["refused"]
            .as_array()?
            .iter()
            .find(|r| r["peer_id"] == old_peer.as_str())
            .and_then(|r| r["reason"].as_str().map(str::to_string))
    })
    .expect("the peer refuses the revoked key");
    assert!(reason.contains("revoked"), "{reason}");
    // It keeps redialling and is refused each time, but the peer's log
    // warns about it once (at most every 10 minutes), not per attempt.
    let refusals = |n: &Node| n.status().ok()?["mesh"]["counters"]["peers_refused"].as_u64();
    let first = refusals(&b).unwrap();
    poll(CONVERGE, || (refusals(&b)? >= first + 2).then_some(()))
        .expect("the old key keeps coming back");
    let warned = b
        .last_run_log()
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("refused peer") && l.contains(&old_peer))
        .count();
    assert_eq!(warned, 1, "{}", b.last_run_log());
    let mut nodes: Vec<&mut Node> = vec![&mut a, &mut b, &mut old];
    stop_all(&mut nodes);
}

/// The forged-village case: a node whose `role.toml` was edited to claim
/// village B (its certificate says A) imports B's residents, signed with
/// its own key. `audit verify` flags them; `kampung repair` backs the node
/// up, takes them out and rebuilds the index; the audit then passes, A's
/// own residents are untouched, and the backup still holds what was taken.
#[test]
fn repair_takes_a_forged_villages_writes_out_after_a_backup() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut root = Root::new(dir);
    let (a, own) = village(&mut root, dir, A, 40, 3);
    root.hand_out(&[&a]);
    a.ok(&["audit", "verify"]);

    let role = a.data.join("role.toml");
    let claimed = std::fs::read_to_string(&role).unwrap().replace(A, B);
    std::fs::write(&role, claimed).unwrap();
    let forged = Csv::generate(B, 15, 4, &dir.join("forged.csv"));
    a.ok(&["import", forged.path_str()]);
    let audit = a.cli(&["audit", "verify"]);
    assert!(!audit.status.success(), "the forged writes pass the audit");
    assert!(
        String::from_utf8_lossy(&audit.stdout).contains(&format!("v/{B}")),
        "{}",
        String::from_utf8_lossy(&audit.stdout)
    );

    let backup = dir.join("before-repair.tar");
    let out = a.ok(&["repair", "--backup", s(&backup)]);
    assert!(
        out.contains(&format!("v/{B}")) && out.contains("removed whole"),
        "{out}"
    );
    assert!(out.contains("audit: ALL GOOD"), "{out}");
    a.ok(&["audit", "verify"]);
    for row in forged.rows.iter().take(5) {
        assert_eq!(
            a.json(&["lookup", &row.nik, "--json"])["kind"],
            "non_resident",
            "{}",
            row.nik
        );
    }
    let active = own.rows.iter().find(|r| r.status == "active").unwrap();
    assert_eq!(
        a.json(&["lookup", &active.nik, "--json"])["kind"],
        "resident"
    );
    a.ok(&["index", "verify"]);

    // The backup was taken before: it still holds the forged document,
    // which a restore checks as it would a peer's, and refuses.
    let r = restore_into(&dir.join("restored"), &backup);
    let said = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(
        (said.contains(&format!("k/{B}")) || said.contains(&format!("v/{B}")))
            && said.contains("may not write the residents"),
        "{said}"
    );
}

/// Kampunganyar (A, `a` residents), Bakungan (a district neighbour that
/// keeps A's details under the default rule) and Ketapang (B, another
/// district), certified by `root` and running until they agree.
fn holders_mesh(root: &mut Root, dir: &Path, a: usize, seed: u64) -> (Node, Csv, Node, Node) {
    const NEIGHBOUR: &str = "35.10.15.1002"; // Bakungan, Glagah
    let (mut va, csv) = village(root, dir, A, a, seed);
    let (mut n, _) = village(root, dir, NEIGHBOUR, 10, seed + 1);
    let (mut b, _) = village(root, dir, B, 10, seed + 2);
    root.hand_out(&[&va, &n, &b]);
    n.start(&RunArgs::loopback(vec![]));
    b.start(&RunArgs::loopback(vec![n.bootstrap_addr()]));
    va.start(&RunArgs::loopback(vec![n.bootstrap_addr()]));
    wait_agree(&[&va, &n, &b], 3, a as u64 + 20, CONVERGE);
    (va, csv, n, b)
}

/// Does `node` hold A's details as `village` does (and any at all)?
fn holds_details(node: &Node, village: &Node) -> bool {
    let details = format!("v/{A}");
    let theirs = Replica::from_status(&node.status().unwrap());
    let ours = Replica::from_status(&village.status().unwrap());
    !theirs.heads(&details).is_empty() && theirs.heads(&details) == ours.heads(&details)
}

/// A's server dies with its disk (killed, its directory wiped); a new
/// machine with a new key certified for the village (holding `statements`
/// besides the certificates) starts dialling `peer`.
fn replace_village(
    root: &mut Root,
    dir: &Path,
    a: &mut Node,
    statements: &[&Path],
    peer: &Node,
) -> Node {
    a.kill9();
    std::fs::remove_dir_all(&a.data).unwrap();
    let mut a2 = Node::new(dir, "village-replaced", None);
    root.init(
        &a2,
        &["--village", A],
        &["--role", "village", "--village", A],
    );
    root.hand_out(&[&a2]);
    for st in statements {
        a2.ok(&["trust", "add", s(st)]);
    }
    a2.start(&RunArgs::loopback(vec![peer.bootstrap_addr()]));
    a2
}

/// The residents `node` exports, as CSV text.
fn exported(node: &Node, path: &Path) -> String {
    node.ok(&["export", "--out", s(path)]);
    std::fs::read_to_string(path).unwrap()
}

/// Issue 15.3: a village office whose server died with its disk (killed,
/// its directory wiped) is set up again with a new certified key and gets
/// its residents back in full, family cards and addresses too, from the
/// villages that keep a copy of its details (for Kampunganyar, the last
/// village of Glagah: Bakungan and Banjarsari, the first two); a village
/// of another district holds its cards only.
#[test]
fn a_village_server_lost_with_its_disk_gets_its_details_back_from_their_holders() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut root = Root::new(dir);
    let (mut a, _, mut h, mut b) = holders_mesh(&mut root, dir, 40, 21);
    let replica = |n: &Node| Replica::from_status(&n.status().unwrap());
    assert!(
        poll(CONVERGE, || holds_details(&h, &a).then_some(())).is_some(),
        "the holder never took A's details: {:?}",
        replica(&h).docs.keys()
    );
    assert!(
        replica(&b).heads(&format!("v/{A}")).is_empty(),
        "B is of another district"
    );
    let before = exported(&a, &dir.join("before.csv"));

    let mut a2 = replace_village(&mut root, dir, &mut a, &[], &h);
    let back = poll(CONVERGE, || {
        (replica(&a2).niks == 60 && holds_details(&a2, &h)).then_some(())
    });
    assert!(back.is_some(), "details not back: {:?}", replica(&a2).docs);
    assert_eq!(
        exported(&a2, &dir.join("after.csv")),
        before,
        "every resident back in full"
    );
    let mut nodes: Vec<&mut Node> = vec![&mut a2, &mut h, &mut b];
    stop_all(&mut nodes);
}

/// The root's policy names who keeps a village's details: a policy naming
/// Ketapang (another district) for Kampunganyar moves the copy there from
/// the district neighbour that kept it under the default rule, which lets
/// it go as soon as the policy reaches it; the village server, lost with its disk, then
/// gets its residents back in full from Ketapang alone.
#[test]
fn a_policy_that_names_a_villages_holders_moves_its_details_there() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut root = Root::new(dir);
    let (mut a, a_csv, mut n, mut b) = holders_mesh(&mut root, dir, 30, 31);
    let details = format!("v/{A}");
    let replica = |node: &Node| Replica::from_status(&node.status().unwrap());
    assert!(
        poll(CONVERGE, || holds_details(&n, &a).then_some(())).is_some(),
        "the default holder never took A's details"
    );
    assert!(
        replica(&b).heads(&details).is_empty(),
        "B is of another district"
    );
    let kept_by = |node: &Node| node.status().unwrap()["details_kept_by"].clone();
    assert_eq!(
        kept_by(&a),
        serde_json::json!(["35.10.15.1002", "35.10.15.1003"]),
        "the default rule: Bakungan and Banjarsari, the first two villages of Glagah"
    );

    // The administrator names Ketapang as Kampunganyar's only holder; the
    // policy is added at the village and spreads with the roster.
    let policy = dir.join("policy-holders.json");
    admin(&[
        "policy",
        "--key",
        s(&root.key),
        "--version",
        "1",
        "--isolation-days",
        "14",
        "--detail-holders",
        &format!("{A}={B}"),
        "--out",
        s(&policy),
    ]);
    a.ok(&["trust", "add", s(&policy)]);
    assert!(
        poll(CONVERGE, || holds_details(&b, &a).then_some(())).is_some(),
        "Ketapang never took A's details: {:?}",
        replica(&b).docs.keys()
    );
    assert_eq!(kept_by(&a), serde_json::json!([B]));
    let keeps = b.status().unwrap()["keeps_details_of"].clone();
    assert!(
        keeps.as_array().unwrap().contains(&serde_json::json!(A)),
        "{keeps}"
    );
    // An edit after the change reaches the new holder too.
    let nik = &a_csv
        .rows
        .iter()
        .find(|r| r.status == "active")
        .unwrap()
        .nik;
    a.ok(&["resident", "update", nik, "--rt", "9"]);
    assert!(
        poll(CONVERGE, || holds_details(&b, &a).then_some(())).is_some(),
        "the edit's details did not reach Ketapang"
    );
    // The neighbour no longer may hold them: gone from its store as soon
    // as the policy reaches it.
    assert!(
        poll(CONVERGE, || replica(&n)
            .heads(&details)
            .is_empty()
            .then_some(()))
        .is_some(),
        "the neighbour kept A's details after the policy moved them"
    );
    // ... and counted, as every document a node stops keeping is.
    let expired = n.metric("kampung_documents_expired_total").unwrap();
    assert!(expired >= 1.0, "the drop was not counted: {expired}");
    let before = exported(&a, &dir.join("before.csv"));
    n.interrupt();
    assert!(n.wait_exit().success());

    // The village server dies with its disk and comes back from Ketapang.
    let mut a2 = replace_village(&mut root, dir, &mut a, &[&policy], &b);
    assert!(
        poll(CONVERGE, || holds_details(&a2, &b).then_some(())).is_some(),
        "details not back from Ketapang: {:?}",
        replica(&a2).docs.keys()
    );
    assert_eq!(
        exported(&a2, &dir.join("after.csv")),
        before,
        "every resident back in full"
    );
    let mut nodes: Vec<&mut Node> = vec![&mut a2, &mut b];
    stop_all(&mut nodes);
}
