//! Real `kampung run` processes on loopback: a mesh of village nodes and a
//! checkpoint that survives two villages crashing (kill -9), a checkpoint
//! that joins late, a clean stop, and the demo script.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/procs.rs"]
mod procs;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use procs::*;

/// Real villages (../shared/data/banyuwangi_villages.csv): Kampunganyar
/// (Glagah), Ketapang (Kalipuro), Bomo (Blimbingsari), Bajulmati
/// (Wongsorejo), Tamansari (Licin).
const VILLAGES: [&str; 5] = [
    "35.10.15.2012",
    "35.10.21.2003",
    "35.10.25.2005",
    "35.10.18.2007",
    "35.10.24.2008",
];
/// A valid NIK issued in Bali (51.01, Kabupaten Jembrana), in no generated file.
const BALI_NIK: &str = "5101015203850007";
/// Serial 0000: invalid.
const INVALID_NIK: &str = "3510151302850000";
const CONVERGE: Duration = Duration::from_secs(60);

/// The village's cards: the document every node holds of it.
fn doc(village: &str) -> String {
    format!("k/{village}")
}

/// A village node with `residents` generated ones imported through the store
/// (the node is not running yet).
fn village_node(dir: &Path, village: &str, residents: usize, seed: u64) -> (Node, Csv) {
    let node = Node::new(dir, &format!("village-{village}"), None);
    node.ok(&["init", "--village", village]);
    let csv = Csv::generate(
        village,
        residents,
        seed,
        &dir.join(format!("{village}.csv")),
    );
    let report = node.json(&["import", csv.path_str(), "--json"]);
    assert_eq!(report["added"], residents as u64, "{report}");
    assert_eq!(report["imported"], true);
    (node, csv)
}

/// Start the villages, the first one as everyone's bootstrap; its address.
fn start_villages(villages: &mut [Node]) -> String {
    villages[0].start(&RunArgs::loopback(vec![]));
    let boot = villages[0].bootstrap_addr();
    for v in &mut villages[1..] {
        v.start(&RunArgs::loopback(vec![boot.clone()]));
    }
    boot
}

fn all<'a>(villages: &'a [Node], others: &[&'a Node]) -> Vec<&'a Node> {
    villages.iter().chain(others.iter().copied()).collect()
}

/// The running node's heads of the document it owns.
fn own_heads(node: &Node, village: &str) -> Vec<String> {
    let status = node.status().unwrap();
    Replica::from_status(&status).heads(&doc(village)).to_vec()
}

fn assert_verdict(node: &Node, nik: &str, verdict: &str, village: &str) {
    let answer = node.lookup(nik);
    assert_eq!(
        answer["verdict"]["verdict"], verdict,
        "{}: lookup {nik}: {answer}",
        node.name
    );
    assert_eq!(
        answer["verdict"]["village"], village,
        "{}: lookup {nik}: {answer}",
        node.name
    );
}

#[test]
fn killed_villages_restart_and_nothing_acknowledged_is_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (mut villages, csvs): (Vec<Node>, Vec<Csv>) = VILLAGES
        .iter()
        .enumerate()
        .map(|(i, v)| village_node(dir, v, 300, 10 + i as u64))
        .unzip();
    let mut checkpoint = Node::new(dir, "checkpoint-ketapang", None);
    checkpoint.ok(&["init", "--checkpoint", "ketapang"]);
    let boot = start_villages(&mut villages);
    checkpoint.start(&RunArgs::loopback(vec![boot.clone()]));
    wait_agree(&all(&villages, &[&checkpoint]), 5, 1500, CONVERGE);

    // Each victim acknowledges a write of its own (through its API), then
    // crashes at once.
    let victims = [1, 2];
    let mut moved = BTreeMap::new();
    let mut acked_heads = BTreeMap::new();
    for &i in &victims {
        let nik = csvs[i].active().nth(3).unwrap().nik.clone();
        villages[i].ok(&["resident", "move-out", &nik, "--to", "Kota Malang"]);
        acked_heads.insert(i, own_heads(&villages[i], VILLAGES[i]));
        villages[i].kill9();
        moved.insert(i, nik);
    }

    // While they are down, another village imports more residents; the
    // node is running, so the CLI goes through its API.
    let writer = 3;
    let first: HashSet<&str> = csvs[writer].rows.iter().map(|r| r.nik.as_str()).collect();
    let more = Csv::generate(VILLAGES[writer], 80, 999, &dir.join("more.csv"));
    let fresh: Vec<Row> = more
        .rows
        .iter()
        .filter(|r| !first.contains(r.nik.as_str()))
        .cloned()
        .collect();
    assert!(
        fresh.len() > 50,
        "the second file should be mostly new NIKs"
    );
    let more = more.write_rows(&fresh, &dir.join("more-new.csv"));
    let report = villages[writer].json(&["import", more.path_str(), "--json"]);
    assert_eq!(report["added"], fresh.len() as u64, "{report}");
    let writer_heads = own_heads(&villages[writer], VILLAGES[writer]);
    let niks = 1500 + fresh.len() as u64;
    let mut up: Vec<&Node> = [0, 3, 4].iter().map(|&i| &villages[i]).collect();
    up.push(&checkpoint);
    let during = wait_agree(&up, 5, niks, CONVERGE);
    assert_eq!(during.heads(&doc(VILLAGES[writer])), writer_heads);

    // The crashed nodes' stores: the index agrees with the documents and the
    // acknowledged write is there. `lookup` reads the store once the stale
    // api.addr (left by kill -9) is gone.
    for &i in &victims {
        let verify = villages[i].ok(&["index", "verify"]);
        assert!(verify.contains("index agrees"), "{verify}");
        let _ = std::fs::remove_file(villages[i].api_addr_file());
        let v = villages[i].json(&["lookup", &moved[&i], "--json"]);
        assert_eq!(v["kind"], "moved_out", "{v}");
        assert_eq!(v["verdict"]["destination"], "Kota Malang", "{v}");
    }

    // Restart them: everyone converges on the acknowledged state of every village.
    for &i in &victims {
        villages[i].start(&RunArgs::loopback(vec![boot.clone()]));
    }
    let after = wait_agree(&all(&villages, &[&checkpoint]), 5, niks, CONVERGE);
    for &i in &victims {
        assert_eq!(after.heads(&doc(VILLAGES[i])), acked_heads[&i]);
    }
    assert_eq!(after.heads(&doc(VILLAGES[writer])), writer_heads);

    // Every resident of the crashed villages answers at the checkpoint as
    // its record says; the residents written meanwhile answer everywhere.
    for &i in &victims {
        for row in &csvs[i].rows {
            let expected = if row.nik == moved[&i] {
                "moved_out"
            } else {
                Csv::expected_verdict(&row.status)
            };
            assert_verdict(&checkpoint, &row.nik, expected, VILLAGES[i]);
        }
    }
    for row in &fresh {
        let expected = Csv::expected_verdict(&row.status);
        assert_verdict(&checkpoint, &row.nik, expected, VILLAGES[writer]);
        for &i in &victims {
            assert_verdict(&villages[i], &row.nik, expected, VILLAGES[writer]);
        }
    }

    let mut nodes: Vec<&mut Node> = villages.iter_mut().collect();
    nodes.push(&mut checkpoint);
    stop_all(&mut nodes);
}

#[test]
fn a_late_checkpoint_answers_for_every_village() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (mut villages, csvs): (Vec<Node>, Vec<Csv>) = VILLAGES
        .iter()
        .enumerate()
        .map(|(i, v)| village_node(dir, v, 150, 20 + i as u64))
        .unzip();
    for csv in &csvs {
        assert!(csv.rows.iter().all(|r| r.nik != BALI_NIK));
    }
    start_villages(&mut villages);
    // A move-out recorded while the village runs.
    let moved = csvs[1].active().next().unwrap().nik.clone();
    villages[1].ok(&["resident", "move-out", &moved, "--to", "Kabupaten Jember"]);
    wait_agree(&all(&villages, &[]), 5, 750, CONVERGE);

    // The checkpoint starts empty, after every village has its data, and
    // knows only the last village.
    let mut checkpoint = Node::new(dir, "checkpoint-ketapang", None);
    checkpoint.ok(&["init", "--checkpoint", "ketapang"]);
    checkpoint.start(&RunArgs::loopback(vec![villages[4].bootstrap_addr()]));
    wait_agree(&all(&villages, &[&checkpoint]), 5, 750, CONVERGE);
    // The data may have come from one village; each village's own heartbeat
    // follows within seconds: then the checkpoint can say how fresh every copy is.
    poll(CONVERGE, || {
        let status = checkpoint.status().ok()?;
        // The villages' cards (a mesh without a root: the details too,
        // whose age verdicts do not show).
        let docs: Vec<&serde_json::Value> = status["documents"]
            .as_array()?
            .iter()
            .filter(|d| d["doc"].as_str().is_some_and(|d| d.starts_with("k/")))
            .collect();
        (docs.len() == 5 && docs.iter().all(|d| d["owner_last_heard_secs"].is_number()))
            .then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "the checkpoint has not heard from every village: {:?}",
            checkpoint.status()
        )
    });

    for (v, csv) in VILLAGES.iter().zip(&csvs) {
        let row = csv.active().nth(1).unwrap();
        let answer = checkpoint.lookup(&row.nik);
        assert_eq!(answer["verdict"]["verdict"], "resident", "{answer}");
        assert_eq!(answer["verdict"]["village"], *v, "{answer}");
        assert_eq!(answer["freshness"]["doc"], doc(v), "{answer}");
        assert_eq!(answer["freshness"]["own_document"], false, "{answer}");
        assert!(
            answer["freshness"]["owner_last_heard_secs"].is_number(),
            "the checkpoint has heard from {v}: {answer}"
        );
    }
    // Residency comes from the registry, not the NIK prefix: a resident
    // carrying a Bali NIK is a resident.
    let (v, bali_resident) = VILLAGES
        .iter()
        .zip(&csvs)
        .find_map(|(v, c)| Some((v, c.active().find(|r| r.nik.starts_with("51"))?)))
        .expect("the generator gives some residents a Bali NIK");
    assert_verdict(&checkpoint, &bali_resident.nik, "resident", v);

    let answer = checkpoint.lookup(&moved);
    assert_eq!(answer["verdict"]["verdict"], "moved_out", "{answer}");
    assert_eq!(answer["verdict"]["village"], VILLAGES[1], "{answer}");
    assert_eq!(
        answer["verdict"]["destination"], "Kabupaten Jember",
        "{answer}"
    );
    let deceased = csvs
        .iter()
        .zip(VILLAGES)
        .find_map(|(c, v)| Some((c.rows.iter().find(|r| r.status == "deceased")?, v)))
        .expect("the generator marks some residents deceased");
    assert_verdict(&checkpoint, &deceased.0.nik, "deceased", deceased.1);

    let answer = checkpoint.lookup(BALI_NIK);
    assert_eq!(answer["verdict"]["verdict"], "non_resident", "{answer}");
    assert_eq!(
        answer["verdict"]["issued_in"]["province_name"], "Bali",
        "{answer}"
    );
    assert!(answer["freshness"].is_null(), "{answer}");
    let answer = checkpoint.lookup(INVALID_NIK);
    assert_eq!(answer["verdict"]["verdict"], "invalid", "{answer}");

    let mut nodes: Vec<&mut Node> = villages.iter_mut().collect();
    nodes.push(&mut checkpoint);
    stop_all(&mut nodes);
}

/// The values of MIMALLOC_PURGE_DELAY in a running node's environment.
fn purge_delay(node: &Node) -> Vec<String> {
    let pid = node.pid().expect("the node runs");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    environ
        .split(|b| *b == 0)
        .filter_map(|kv| kv.strip_prefix(b"MIMALLOC_PURGE_DELAY="))
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

#[test]
fn sigint_stops_cleanly_and_releases_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut node, csv) = village_node(tmp.path(), VILLAGES[0], 50, 3);
    node.start(&RunArgs::loopback(vec![]));
    assert!(node.api_addr_file().exists());
    assert_eq!(node.status().unwrap()["niks"], 50);
    // `run` started itself again (the same process) with the allocator's
    // purge delay set, so an idle node gives back what it freed.
    assert_eq!(purge_delay(&node), vec!["10".to_string()]);
    node.stop();
    // ... unless the operator chose one.
    let mut chosen = RunArgs::loopback(vec![]);
    chosen.env = vec![("MIMALLOC_PURGE_DELAY".into(), "250".into())];
    node.start(&chosen);
    assert_eq!(purge_delay(&node), vec!["250".to_string()]);

    let status = node.stop();
    assert!(status.success(), "exit status {status:?}");
    let log = node.last_run_log();
    assert!(log.contains("\nstopped cleanly\n"), "{log}");
    assert!(!node.api_addr_file().exists(), "api.addr is removed");
    let left = processes_mentioning(tmp.path().to_str().unwrap());
    assert!(left.is_empty(), "still running: {left:?}");
    // The store is released: the CLI opens it directly.
    let row = csv.active().next().unwrap();
    let v = node.json(&["lookup", &row.nik, "--json"]);
    assert_eq!(v["kind"], "resident", "{v}");
}

#[test]
fn the_demo_script_converges_and_leaves_nothing_running() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("demo");
    let out_path = tmp.path().join("demo.out");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/demo");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut child = Command::new("bash")
        .arg(&script)
        .args(["--no-wait", "--villages", "3", "--residents", "150"])
        .arg("--dir")
        .arg(&work)
        .env("KAMPUNG_BIN", bin())
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let status = poll(Duration::from_secs(150), || child.try_wait().unwrap());
    let text = std::fs::read_to_string(&out_path).unwrap();
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the demo did not finish within 150 s:\n{text}");
    };
    assert!(status.success(), "demo failed ({status:?}):\n{text}");
    assert!(text.contains("converged"), "{text}");
    let left = processes_mentioning(work.to_str().unwrap());
    assert!(left.is_empty(), "still running: {left:?}\n{text}");

    // The example it printed for the checkpoint is a real resident of a village.
    let line = text
        .lines()
        .find(|l| l.contains("checkpoint-ketapang lookup"))
        .unwrap_or_else(|| panic!("no checkpoint lookup example:\n{text}"));
    let nik = line
        .split_whitespace()
        .find(|w| w.len() == 16 && w.bytes().all(|b| b.is_ascii_digit()))
        .unwrap();
    let checkpoint = Node::new(&work, "checkpoint-ketapang", None);
    assert!(!checkpoint.api_addr_file().exists());
    let v = checkpoint.json(&["lookup", nik, "--json"]);
    assert_eq!(v["kind"], "resident", "{v}");
    for n in ["auditor", "village-kampunganyar"] {
        let log = Node::new(&work, n, None).last_run_log();
        assert!(log.contains("stopped cleanly"), "{n}: {log}");
    }
}

/// The CLI writes to a stopped node's store with the node library's
/// workflow; when the node runs again the mesh gets those writes without
/// waiting for anti-entropy's period (set to an hour here).
#[test]
fn writes_made_while_the_node_was_stopped_spread_when_it_runs_again() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut village, csv) = village_node(tmp.path(), VILLAGES[0], 40, 5);
    let slow = |bootstrap| RunArgs {
        anti_entropy_secs: 3600,
        heartbeat_secs: 3600,
        ..RunArgs::loopback(bootstrap)
    };
    village.start(&slow(vec![]));
    let mut checkpoint = Node::new(tmp.path(), "checkpoint-ketapang", None);
    checkpoint.ok(&["init", "--checkpoint", "ketapang"]);
    checkpoint.start(&slow(vec![village.bootstrap_addr()]));
    let row = csv.active().next().unwrap().nik.clone();
    poll(CONVERGE, || {
        (checkpoint.lookup(&row)["kind"] == "resident").then_some(())
    })
    .expect("the checkpoint learns the village");

    // The village office's server is off; the clerk records a move with the CLI.
    assert!(village.stop().success());
    village.ok(&["resident", "move-out", &row, "--to", "Kabupaten Situbondo"]);
    assert_eq!(
        village.json(&["lookup", &row, "--json"])["kind"],
        "moved_out"
    );
    assert_eq!(checkpoint.lookup(&row)["kind"], "resident");

    // Back on: the checkpoint has the move within the wait, not an hour.
    village.start(&slow(vec![checkpoint.bootstrap_addr()]));
    let answer = poll(CONVERGE, || {
        let a = checkpoint.lookup(&row);
        (a["kind"] == "moved_out").then_some(a)
    })
    .unwrap_or_else(|| {
        panic!(
            "the move did not reach the checkpoint: {}",
            checkpoint.lookup(&row)
        )
    });
    assert_eq!(
        answer["verdict"]["destination"], "Kabupaten Situbondo",
        "{answer}"
    );
    stop_all(&mut [&mut village, &mut checkpoint]);
}

/// A checkpoint stopped and started again while its village is off (a
/// cut, a power failure) still says how old its copy of the village is,
/// counted from when it last heard the village before the stop, instead of
/// "not known" until the village's next heartbeat.
#[test]
fn a_restarted_node_still_says_how_old_its_copies_are() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut village, csv) = village_node(tmp.path(), VILLAGES[0], 20, 9);
    village.start(&RunArgs::loopback(vec![]));
    let mut checkpoint = Node::new(tmp.path(), "checkpoint-ketapang", None);
    checkpoint.ok(&["init", "--checkpoint", "ketapang"]);
    checkpoint.start(&RunArgs::loopback(vec![village.bootstrap_addr()]));
    let nik = csv.active().next().unwrap().nik.clone();
    let age = |node: &Node| {
        let a = node.lookup(&nik);
        (a["kind"] == "resident")
            .then(|| a["freshness"]["owner_last_heard_secs"].as_f64())
            .flatten()
    };
    poll(CONVERGE, || age(&checkpoint)).expect("the checkpoint hears the village");

    assert!(village.stop().success());
    assert!(checkpoint.stop().success());
    std::thread::sleep(Duration::from_secs(2));
    checkpoint.start(&RunArgs::loopback(vec![]));
    let after = age(&checkpoint)
        .unwrap_or_else(|| panic!("no copy age after the restart: {}", checkpoint.lookup(&nik)));
    assert!(after >= 2.0, "counted from before the stop: {after} s");
    stop_all(&mut [&mut checkpoint]);
}

/// The pages and API on a LAN address are served only over TLS: the
/// certificate `init` made, whose fingerprint `status` shows; plain HTTP
/// there only with `--insecure-http`, said loudly in the log.
#[test]
fn a_lan_address_is_served_over_tls_unless_insecure_http_is_asked_for() {
    use sha2::Digest;
    use std::sync::Arc;
    use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

    let tmp = tempfile::tempdir().unwrap();
    let (mut node, _) = village_node(tmp.path(), VILLAGES[0], 5, 8);
    // A LAN address needs the mesh's root (a node without one keeps to
    // loopback), and a healthy node its certificate.
    let root = Root::new(tmp.path());
    node.ok(&["trust", "root", s(&root.public)]);
    let info = std::fs::read_to_string(node.data.join("role.toml")).unwrap();
    let peer = info
        .lines()
        .find_map(|l| l.strip_prefix("peer_id = "))
        .unwrap()
        .trim_matches('"')
        .to_string();
    let cert = certify(
        tmp.path(),
        &root.key,
        &peer,
        &["--role", "village", "--village", VILLAGES[0]],
        "village",
    );
    node.ok(&["trust", "add", s(&cert)]);
    let lan = RunArgs {
        api: "0.0.0.0:0".into(),
        ..RunArgs::loopback(vec![])
    };
    node.start(&lan);
    // The CLI still talks to the node (over a loopback listener).
    let status = node.status().unwrap();
    let shown = status["tls_fingerprint"].as_str().unwrap().to_string();
    let pem = std::fs::read(node.data.join("tls.crt")).unwrap();
    let cert = Certificate::from_pem(&pem).unwrap();
    let fingerprint: Vec<String> = sha2::Sha256::digest(cert.der())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert_eq!(shown, fingerprint.join(":"));
    let text = node.ok(&["status"]);
    assert!(text.contains(&shown), "{text}");
    let log = node.last_run_log();
    let port: u16 = log
        .split("https://0.0.0.0:")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no https address in the log:\n{log}"));
    // A client that trusts exactly this certificate gets an answer...
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(
            TlsConfig::builder()
                .provider(TlsProvider::Rustls)
                .unversioned_rustls_crypto_provider(provider)
                .root_certs(RootCerts::new_with_certs(std::slice::from_ref(&cert)))
                .build(),
        )
        .http_status_as_error(false)
        .build()
        .into();
    let health: serde_json::Value = agent
        .get(&format!("https://127.0.0.1:{port}/healthz"))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    assert_eq!(health["status"], "ok");
    // ...and the session cookie is Secure there.
    let r = agent
        .post(&format!("https://127.0.0.1:{port}/v1/session"))
        .send_json(serde_json::json!({"login": "nobody", "password": "x"}))
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // Plain HTTP on that port gets nothing.
    let plain = ureq::get(&format!("http://127.0.0.1:{port}/healthz")).call();
    assert!(plain.is_err(), "plain HTTP answered on the TLS port");
    assert!(node.stop().success());

    // Asked for, plain HTTP on a LAN address works, with a loud warning.
    node.start(&RunArgs {
        extra: vec!["--insecure-http".into()],
        ..lan
    });
    let log = node.last_run_log();
    assert!(log.contains("INSECURE"), "{log}");
    let port: u16 = log
        .split("http://0.0.0.0:")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no http address in the log:\n{log}"));
    let plain = ureq::get(&format!("http://127.0.0.1:{port}/healthz"))
        .call()
        .unwrap();
    assert_eq!(plain.status().as_u16(), 200);
    assert!(node.stop().success());
}

/// A node without the mesh's root key accepts any change from anyone: it
/// says so, keeps to loopback (every-interface becomes loopback, any other
/// address is refused) and looks for no peers on the LAN. A root.pub deleted
/// from a node set up with one stops the node with the remedy, never opens it.
#[test]
fn no_root_means_loopback_only_and_a_deleted_root_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    let mut dev = Node::new(dir, "development", None);
    let out = dev.ok(&["init", "--village", VILLAGES[0]]);
    assert!(out.contains("DEVELOPMENT MODE"), "{out}");
    for (listen, api) in [
        ("/ip4/192.0.2.7/tcp/0", "127.0.0.1:0"),
        ("/ip4/127.0.0.1/tcp/0", "0.0.0.0:0"),
    ] {
        let run = dev.cli(&["run", "--listen", listen, "--api", api]);
        assert!(!run.status.success(), "{listen} {api} was accepted");
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(
            err.contains("not a loopback address") && err.contains("kampung trust root"),
            "{listen} {api}: {err}"
        );
    }
    let mut args = RunArgs::loopback(vec![]);
    args.listen_ip = "0.0.0.0".into();
    dev.start(&args);
    assert!(
        dev.listen.iter().all(|a| a.starts_with("/ip4/127.0.0.1/")),
        "{:?}",
        dev.listen
    );
    assert_eq!(dev.status().unwrap()["trust"], "development");
    assert!(dev.ok(&["status"]).contains("DEVELOPMENT MODE"));
    dev.stop();
    // The log file is plain text (no terminal colours), and says it.
    let log = dev.last_run_log();
    assert!(log.contains("DEVELOPMENT MODE"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in the log file:\n{log}"
    );
    // RUST_LOG is understood when KAMPUNG_LOG is not set.
    let out = dev
        .command()
        .env_remove("KAMPUNG_LOG")
        .env("RUST_LOG", "info")
        .args(["lookup", BALI_NIK])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("INFO"), "RUST_LOG=info was ignored: {err}");

    // A node set up with the root, whose root.pub is then deleted.
    let mut root = Root::new(dir);
    let rooted = Node::new(dir, "rooted", None);
    root.init(
        &rooted,
        &["--village", VILLAGES[1]],
        &["--role", "village", "--village", VILLAGES[1]],
    );
    std::fs::remove_file(rooted.data.join("root.pub")).unwrap();
    for args in [
        vec!["lookup", BALI_NIK],
        vec!["run", "--api", "127.0.0.1:0"],
    ] {
        let out = rooted.cli(&args);
        assert!(!out.status.success(), "{args:?} ran without root.pub");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("root.pub is missing") && err.contains("kampung trust root"),
            "{args:?}: {err}"
        );
    }
    rooted.ok(&["trust", "root", s(&root.public)]);
    assert_eq!(
        rooted.json(&["lookup", BALI_NIK, "--json"])["kind"],
        "non_resident"
    );
}
