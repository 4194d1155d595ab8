//! A data directory an earlier kampung wrote opens with this one: the
//! store's first layout (long keys, values inside sled; made by
//! `tests/fixtures/make-layout1` with kampung at commit c60410e) is moved at
//! the first open, and nothing is lost.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/procs.rs"]
mod procs;

use std::path::{Path, PathBuf};
use std::process::Command;

use procs::*;

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

    // Every resident as the earlier kampung exported them, its three
    // moves out included.
    let expected = std::fs::read_to_string(fixtures().join("layout1-village.csv")).unwrap();
    assert_eq!(expected.lines().count(), 301);
    assert_eq!(expected.matches(",moved_out,Kota Surabaya,").count(), 3);
    assert_eq!(export(&node, tmp.path(), "first.csv"), expected);
    assert!(store.join("values").is_dir(), "the store was not moved");

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
