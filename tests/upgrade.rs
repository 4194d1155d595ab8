//! A data directory an earlier kampung wrote opens with this one: the
//! store's first layout (long keys, values inside sled; made by
//! `tests/fixtures/make-layout1` with kampung at commit c60410e) is refused
//! with a message saying to run `kampung migrate`, which backs the data
//! directory up, moves the store and counts the village's residents before
//! and after; nothing is lost.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/procs.rs"]
mod procs;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use procs::*;

const VILLAGE: &str = "35.10.15.2012";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

fn export(node: &Node, dir: &Path, name: &str) -> String {
    let out = dir.join(name);
    node.ok(&["export", "--out", s(&out)]);
    std::fs::read_to_string(out).unwrap()
}

#[test]
fn a_village_stored_in_the_first_layout_opens_with_everything_in_it() {
    let tmp = tempfile::tempdir().unwrap();
    let untar = Command::new("tar")
        .arg("-xzf")
        .arg(fixtures().join("layout1-village.tar.gz"))
        .arg("-C")
        .arg(tmp.path())
        .status()
        .unwrap();
    assert!(untar.success());
    let node = Node::new(tmp.path(), "village", None);
    let store = node.data.join("store");
    assert!(
        !store.join("values").exists(),
        "the fixture is of the first layout"
    );

    // Not opened as it is: every command says what to do, and changes nothing.
    for args in [
        &["export", "--out", s(&tmp.path().join("refused.csv"))][..],
        &["audit", "verify"],
        &["index", "verify"],
    ] {
        let refused = node.cli(args);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success(), "{args:?} opened it: {stderr}");
        assert!(
            stderr.contains("earlier kampung") && stderr.contains("run `kampung migrate`"),
            "{args:?}: {stderr}"
        );
    }
    // `kampung run` (what the service starts) stops at once with the same words.
    let mut run = node
        .command()
        .args([
            "run",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--api",
            "127.0.0.1:0",
            "--no-mdns",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let waited = Instant::now();
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        if waited.elapsed() > Duration::from_secs(60) {
            run.kill().unwrap();
            panic!("`kampung run` started on a store of the first layout");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    run.stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("run `kampung migrate`"), "{stderr}");
    assert!(
        !store.join("values").exists(),
        "a refusal changed the store"
    );

    // `kampung migrate`: a backup of the directory as it was, then the
    // move, with the village's residents counted before and after.
    let backup = tmp.path().join("before.tar");
    let text = node.ok(&["migrate", "--backup", s(&backup)]);
    assert!(text.contains("nothing lost"), "{text}");
    // The refusals above moved nothing: the move found every document.
    let moved: usize = text
        .split("document(s) moved")
        .next()
        .and_then(|t| t.rsplit(' ').nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of documents moved: {text}"));
    assert!(moved >= 1, "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with(VILLAGE))
        .unwrap_or_else(|| panic!("no row for the village: {text}"));
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        [VILLAGE, "300", "300"],
        "{text}"
    );
    assert!(store.join("values").is_dir(), "the store was not moved");
    let listed = Command::new("tar")
        .arg("-tf")
        .arg(&backup)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    for entry in ["village/role.toml", "village/node.key", "village/store/db"] {
        assert!(
            listed.lines().any(|l| l == entry),
            "{entry} not in the backup: {listed}"
        );
    }
    // The backup is the store as it was (the earlier kampung reads it):
    // unpacked, it is of the first layout still.
    let back = tmp.path().join("back");
    std::fs::create_dir(&back).unwrap();
    let untar = Command::new("tar")
        .arg("-xf")
        .arg(&backup)
        .arg("-C")
        .arg(&back)
        .status()
        .unwrap();
    assert!(untar.success());
    assert!(back.join("village/store/db").is_file());
    assert!(!back.join("village/store/values").exists());
    let again = node.json(&["migrate", "--json"]);
    assert_eq!(again["migrated"], false, "{again}");

    // Every resident as the earlier kampung exported them, its three
    // moves out included.
    let expected = std::fs::read_to_string(fixtures().join("layout1-village.csv")).unwrap();
    assert_eq!(expected.lines().count(), 301);
    assert_eq!(expected.matches(",moved_out,Kota Surabaya,").count(), 3);
    assert_eq!(export(&node, tmp.path(), "first.csv"), expected);

    // Every change still carries a signature its writer's certificate allows.
    let report = node.json(&["audit", "verify", "--json"]);
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["authorisation_checked"], true);
    assert!(node.ok(&["index", "verify"]).contains("agrees"));

    // And the village goes on: one more edit, seen after another open.
    let nik = expected.lines().nth(10).unwrap().split(',').next().unwrap();
    node.ok(&["resident", "deceased", nik, "--on", "2026-12-01"]);
    let after = export(&node, tmp.path(), "after.csv");
    assert_eq!(after.lines().count(), 301);
    let row = after.lines().find(|l| l.starts_with(nik)).unwrap();
    assert!(row.contains(",deceased,"), "{row}");
    assert_eq!(
        after
            .lines()
            .filter(|l| !l.starts_with(nik))
            .collect::<Vec<_>>(),
        expected
            .lines()
            .filter(|l| !l.starts_with(nik))
            .collect::<Vec<_>>()
    );
}
