//! Membership and audit through the `kampung` command line, as real processes:
//! the administrator's root key, certificates, `trust add`, `audit verify`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use kampung_store::storage::sled_storage::SledStorage;
use kampung_store::{DocId, Storage};
use support::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `kampung admin keygen --out DIR/NAME`; returns (key file, .pub file, root peer id).
fn keygen(tmp: &Path, name: &str) -> (PathBuf, PathBuf, String) {
    let key = tmp.join(name);
    let out = ok(tmp, &["admin", "keygen", "--out", s(&key)]);
    let root = out
        .lines()
        .find_map(|l| l.strip_prefix("root public key: "))
        .unwrap_or_else(|| panic!("no root key printed: {out}"))
        .to_string();
    let public = tmp.join(format!("{name}.pub"));
    assert_eq!(std::fs::read_to_string(&public).unwrap().trim(), root);
    (key, public, root)
}

/// The peer id `kampung init` printed.
fn peer_id(init_output: &str) -> String {
    init_output
        .lines()
        .find_map(|l| l.strip_prefix("peer id: "))
        .unwrap()
        .to_string()
}

/// A certificate for `peer` as a node of VILLAGE, signed with `key`, in `out`.
fn certify_village(tmp: &Path, key: &Path, peer: &str, out: &Path) {
    ok(
        tmp,
        &[
            "admin",
            "certify",
            "--key",
            s(key),
            "--node",
            peer,
            "--role",
            "village",
            "--village",
            VILLAGE,
            "--until",
            "2099-12-31",
            "--out",
            s(out),
        ],
    );
}

/// A village node trusting a fresh root, certified, with `n` residents imported.
struct Village {
    data: PathBuf,
    key: PathBuf,
    peer: String,
}

fn certified_village(tmp: &Path, n: usize) -> Village {
    let (key, public, root) = keygen(tmp, "root.key");
    let data = tmp.join("node");
    let init = ok(&data, &["init", "--village", VILLAGE, "--root", s(&public)]);
    assert!(init.contains(&root), "{init}");
    let peer = peer_id(&init);
    let cert = tmp.join("cert.json");
    certify_village(tmp, &key, &peer, &cert);
    let added = ok(&data, &["trust", "add", s(&cert)]);
    assert!(added.contains("added"), "{added}");
    let csv = tmp.join("v.csv");
    gen_village(&data, VILLAGE, n, 4, &csv);
    let report = json(&data, &["import", s(&csv), "--json"]);
    assert_eq!(report["added"], n);
    Village { data, key, peer }
}

/// `audit verify --json`, which may fail: (succeeded, report).
fn audit(data: &Path) -> (bool, serde_json::Value) {
    let out = kampung(data, &["audit", "verify", "--json"]);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "audit printed no JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), report)
}

fn failures(report: &serde_json::Value) -> Vec<serde_json::Value> {
    let mut all: Vec<serde_json::Value> = report["documents"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["failures"].as_array().unwrap().clone())
        .collect();
    all.extend(report["failures"].as_array().unwrap().iter().cloned());
    all
}

#[test]
fn certified_writes_pass_the_audit_until_a_revocation_from_before_them() {
    let tmp = tempfile::tempdir().unwrap();
    let v = certified_village(tmp.path(), 40);

    let (passed, report) = audit(&v.data);
    assert!(passed, "{report:#}");
    assert_eq!(report["ok"], true);
    assert_eq!(report["authorisation_checked"], true);
    // The village's cards and its details.
    for (i, doc) in ["k", "v"].into_iter().enumerate() {
        let d = &report["documents"][i];
        assert_eq!(d["doc"], format!("{doc}/{VILLAGE}"));
        assert_eq!(d["changes"], 41);
    }
    let writer = &report["writers"][0];
    assert_eq!(writer["writer"], v.peer.as_str());
    assert_eq!(writer["role"], "village");
    assert_eq!(writer["village"], VILLAGE);
    assert_eq!(writer["changes"], 80);
    assert_eq!(report["index"]["niks"], 40);
    let text = ok(&v.data, &["audit", "verify"]);
    assert!(
        text.contains("who changed what") && text.contains("ALL GOOD"),
        "{text}"
    );

    let shown = json(&v.data, &["trust", "show", "--json"]);
    assert_eq!(shown["admitted"], true);
    assert_eq!(shown["certificates"][0]["state"], "in_force");
    assert_eq!(shown["certificates"][0]["village"], VILLAGE);

    // The administrator revokes the node from a day before all its writes.
    let revocation = tmp.path().join("revoke.json");
    ok(
        tmp.path(),
        &[
            "admin",
            "revoke",
            "--key",
            s(&v.key),
            &v.peer,
            "--from",
            "2020-01-01",
            "--reason",
            "office laptop stolen",
            "--out",
            s(&revocation),
        ],
    );
    ok(&v.data, &["trust", "add", s(&revocation)]);
    let (passed, report) = audit(&v.data);
    assert!(!passed);
    assert_eq!(report["ok"], false);
    let f = failures(&report);
    let denied = f
        .iter()
        .find(|f| f["kind"] == "not_authorised")
        .unwrap_or_else(|| panic!("{f:#?}"));
    assert_eq!(denied["doc"], format!("k/{VILLAGE}"));
    assert_eq!(denied["writer"], v.peer.as_str());
    assert!(denied["message"]
        .as_str()
        .unwrap()
        .contains("office laptop stolen"));
    let unsigned = f.iter().find(|f| f["kind"] == "unsigned").unwrap();
    assert_eq!(unsigned["count"], 40);
    let text = String::from_utf8_lossy(&kampung(&v.data, &["audit", "verify"]).stdout).into_owned();
    assert!(
        text.contains(&format!("document k/{VILLAGE}"))
            && text.contains(&format!("document v/{VILLAGE}"))
            && text.contains("FAILED"),
        "{text}"
    );
    let shown = json(&v.data, &["trust", "show", "--json"]);
    assert_eq!(shown["certificates"][0]["state"], "revoked");
    assert_eq!(shown["admitted"], false);
}

#[test]
fn an_altered_stored_signature_fails_the_audit() {
    let tmp = tempfile::tempdir().unwrap();
    let v = certified_village(tmp.path(), 20);
    assert!(audit(&v.data).0);
    {
        let storage = SledStorage::open(&v.data.join("store")).unwrap();
        let id = DocId::village(kampung_core::VillageCode::parse(VILLAGE).unwrap());
        let stored = storage.load(&id).unwrap().unwrap();
        let (hash, mut sig) = stored.signatures[0].clone();
        let last = sig.len() - 1;
        sig[last] ^= 0x01;
        // Re-append changes the document already holds, storing the altered signature.
        let chunk = stored
            .chunks
            .last()
            .map(|c| c.1.clone())
            .or(stored.snapshot.clone())
            .unwrap();
        storage
            .append(&id, &chunk, &stored.heads, &[(hash, sig)])
            .unwrap();
        storage.flush().unwrap();
    }
    let (passed, report) = audit(&v.data);
    assert!(!passed);
    let f = failures(&report);
    let bad = f
        .iter()
        .find(|f| f["kind"] == "bad_signature")
        .unwrap_or_else(|| panic!("{f:#?}"));
    assert_eq!(bad["doc"], format!("v/{VILLAGE}"));
    assert_eq!(bad["writer"], v.peer.as_str());
    assert!(f
        .iter()
        .any(|f| f["kind"] == "unsigned" && f["writer"] == v.peer.as_str()));
}

/// `audit verify --file FILE` on an exported document: the file as
/// exported passes (every change signed by the certified clerk, as this
/// node's signatures show); cut short, a byte flipped, or a change forged
/// into it, it fails, saying what is wrong.
#[test]
fn an_exported_document_passes_audit_verify_file_and_an_altered_one_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let v = certified_village(tmp.path(), 30);
    let file = tmp.path().join("desa.automerge");
    ok(
        &v.data,
        &["export", "--automerge", VILLAGE, "--out", s(&file)],
    );
    let good = std::fs::read(&file).unwrap();

    let text = ok(&v.data, &["audit", "verify", "--file", s(&file)]);
    assert!(text.contains("ALL GOOD"), "{text}");
    assert!(text.contains("31 of 31 change(s) covered"), "{text}");
    let report = json(&v.data, &["audit", "verify", "--file", s(&file), "--json"]);
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["kind"], "village");
    assert_eq!(report["doc"], format!("v/{VILLAGE}"));
    assert_eq!(report["records"], 30);
    assert_eq!(report["writers"][0]["writer"], v.peer.as_str());
    assert_eq!(report["writers"][0]["role"], "village");

    let check = |name: &str, bytes: &[u8]| -> (serde_json::Value, String) {
        let path = tmp.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let text = fails(&v.data, &["audit", "verify", "--file", s(&path)]);
        let out = kampung(&v.data, &["audit", "verify", "--file", s(&path), "--json"]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        (serde_json::from_slice(&out.stdout).unwrap(), text)
    };
    let (report, text) = check("truncated.automerge", &good[..good.len() * 2 / 3]);
    assert_eq!(report["loads"], false);
    assert_eq!(report["failures"][0]["kind"], "unreadable");
    assert!(
        text.contains("truncated") && text.contains("FAILED"),
        "{text}"
    );

    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x10;
    let (report, text) = check("flipped.automerge", &flipped);
    assert_eq!(report["failures"][0]["kind"], "unreadable");
    assert!(
        text.contains("bad checksum") && text.contains("altered"),
        "{text}"
    );

    // A change made under the clerk's key that the clerk never signed.
    let mut doc = automerge::Automerge::load(&good).unwrap();
    let clerk_key = libp2p_identity::PeerId::from_str(&v.peer).unwrap();
    let key = kampung_trust::NodeKey::from_peer_id(&clerk_key).unwrap();
    doc.set_actor(automerge::ActorId::from(key.session_actor([7; 8])));
    let (_, residents) = automerge::ReadDoc::get(&doc, automerge::ROOT, "residents")
        .unwrap()
        .unwrap();
    let first = automerge::ReadDoc::keys(&doc, &residents).next().unwrap();
    let (record, _) = automerge::ReadDoc::get(&doc, &residents, first.as_str())
        .unwrap()
        .unwrap();
    let forged =
        record
            .as_str()
            .expect("a record is one value")
            .replacen("[2,\"", "[2,\"Nama Palsu ", 1);
    let mut tx = doc.transaction();
    automerge::transaction::Transactable::put(&mut tx, &residents, first.as_str(), forged).unwrap();
    tx.commit();
    let (report, text) = check("forged.automerge", &doc.save());
    assert_eq!(report["loads"], true);
    assert_eq!(report["records"], 30);
    let failures = report["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{report:#}");
    assert_eq!(failures[0]["kind"], "unsigned");
    assert_eq!(failures[0]["writer"], v.peer.as_str());
    assert_eq!(failures[0]["count"], 1);
    assert!(text.contains("not in this node's copy"), "{text}");
}

#[test]
fn statements_from_another_root_are_refused_and_nothing_is_added() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, public, _) = keygen(tmp.path(), "root.key");
    let (other_key, _, _) = keygen(tmp.path(), "other.key");
    let data = tmp.path().join("node");
    let peer = peer_id(&ok(
        &data,
        &["init", "--village", VILLAGE, "--root", s(&public)],
    ));
    let forged = tmp.path().join("forged.json");
    certify_village(tmp.path(), &other_key, &peer, &forged);
    let err = fails(&data, &["trust", "add", s(&forged)]);
    assert!(
        err.contains("forged.json") && err.contains("not signed by this mesh's root key"),
        "{err}"
    );
    let shown = json(&data, &["trust", "show", "--json"]);
    assert_eq!(shown["certificates"].as_array().unwrap().len(), 0);
    assert_eq!(shown["admitted"], false);

    // Not a statement at all, named too.
    let junk = tmp.path().join("junk.json");
    std::fs::write(&junk, "{\"hello\": 1}").unwrap();
    let err = fails(&data, &["trust", "add", s(&junk)]);
    assert!(err.contains("junk.json"), "{err}");

    // A node with no root configured refuses everything, and says how to fix it.
    let bare = tmp.path().join("bare");
    ok(&bare, &["init", "--auditor"]);
    let err = fails(&bare, &["trust", "add", s(&forged)]);
    assert!(err.contains("no root key is configured"), "{err}");
    let (passed, report) = audit(&bare);
    assert!(!passed);
    let f = failures(&report);
    assert!(f[0]["message"]
        .as_str()
        .unwrap()
        .contains("cannot check authorisation: no root key configured"));
}

#[test]
fn bad_admin_inputs_give_clear_errors_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let (key, public, _) = keygen(t, "root.key");
    // Any ed25519 peer id will do as the node certified.
    let (_, _, node) = keygen(t, "node.key");
    let node = node.as_str();
    let out = t.join("out.json");
    let o = s(&out);
    let k = s(&key);
    let missing_key = t.join("missing.key");
    let missing = s(&missing_key);
    // A policy of version 1 with `extra` arguments, written to `o`.
    let policy = |extra: &[&'static str]| -> Vec<&str> {
        let mut args = vec![
            "admin",
            "policy",
            "--key",
            k,
            "--version",
            "1",
            "--isolation-days",
            "14",
        ];
        args.extend_from_slice(extra);
        args.extend(["--out", o]);
        args
    };
    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (
            vec![
                "admin",
                "certify",
                "--key",
                k,
                "--node",
                node,
                "--role",
                "village",
                "--village",
                VILLAGE,
                "--until",
                "2026-13-01",
                "--out",
                o,
            ],
            &["--until", "YYYY-MM-DD"],
        ),
        (
            vec![
                "admin",
                "certify",
                "--key",
                k,
                "--node",
                node,
                "--role",
                "village",
                "--until",
                "2099-01-01",
                "--out",
                o,
            ],
            &["--village", "required"],
        ),
        (
            vec![
                "admin",
                "certify",
                "--key",
                k,
                "--node",
                node,
                "--role",
                "village",
                "--village",
                "35.10.15.9999",
                "--until",
                "2099-01-01",
                "--out",
                o,
            ],
            &["--village", "217 villages"],
        ),
        (
            vec![
                "admin",
                "certify",
                "--key",
                k,
                "--node",
                node,
                "--role",
                "checkpoint",
                "--village",
                VILLAGE,
                "--until",
                "2099-01-01",
                "--out",
                o,
            ],
            &["--village is only for --role village"],
        ),
        (
            vec![
                "admin",
                "certify",
                "--key",
                k,
                "--node",
                node,
                "--role",
                "mayor",
                "--until",
                "2099-01-01",
                "--out",
                o,
            ],
            &["--role", "village, checkpoint, facility or auditor"],
        ),
        (
            vec![
                "admin",
                "certify",
                "--key",
                k,
                "--node",
                "not-a-peer",
                "--role",
                "auditor",
                "--until",
                "2099-01-01",
                "--out",
                o,
            ],
            &["--node", "not a peer id"],
        ),
        (
            vec![
                "admin",
                "certify",
                "--key",
                k,
                "--node",
                node,
                "--role",
                "auditor",
                "--from",
                "2099-02-01",
                "--until",
                "2099-01-01",
                "--out",
                o,
            ],
            &["--until 2099-01-01 is before --from"],
        ),
        (
            vec![
                "admin",
                "certify",
                "--key",
                k,
                "--node",
                node,
                "--role",
                "auditor",
                "--until",
                "2020-01-01",
                "--out",
                o,
            ],
            &["--until 2020-01-01 has passed"],
        ),
        (
            vec![
                "admin",
                "certify",
                "--key",
                s(&public),
                "--node",
                node,
                "--role",
                "auditor",
                "--until",
                "2099-01-01",
                "--out",
                o,
            ],
            &["--key", "public key"],
        ),
        (
            vec![
                "admin",
                "certify",
                "--key",
                missing,
                "--node",
                node,
                "--role",
                "auditor",
                "--until",
                "2099-01-01",
                "--out",
                o,
            ],
            &["--key", "missing.key"],
        ),
        (
            vec![
                "admin", "revoke", "--key", k, node, "--reason", "  ", "--out", o,
            ],
            &["--reason"],
        ),
        (
            vec![
                "admin",
                "revoke",
                "--key",
                k,
                node,
                "--from",
                "yesterday",
                "--reason",
                "x",
                "--out",
                o,
            ],
            &["--from", "YYYY-MM-DD"],
        ),
        (
            vec![
                "admin",
                "policy",
                "--key",
                k,
                "--version",
                "1",
                "--isolation-days",
                "14",
                "--bar",
                "99",
                "--out",
                o,
            ],
            &["--bar", "99"],
        ),
        (
            vec![
                "admin",
                "policy",
                "--key",
                k,
                "--version",
                "0",
                "--isolation-days",
                "14",
                "--out",
                o,
            ],
            &["--version"],
        ),
        (
            policy(&["--detail-holders", "35.10.15.2012=35.10.15.2012"]),
            &["35.10.15.2012", "own holder"],
        ),
        (
            policy(&["--detail-holders", "35.10.15.2012"]),
            &["--detail-holders", "35.10.15.2012=35.10.04.2001"],
        ),
        (policy(&["--detail-backups", "0"]), &["1 to 4"]),
    ];
    for (args, expected) in &cases {
        let err = fails(t, args);
        for e in *expected {
            assert!(err.contains(e), "{args:?}: expected '{e}' in: {err}");
        }
        assert!(!out.exists(), "{args:?} wrote {o}");
    }

    // Existing files are never overwritten.
    let before = std::fs::read(&key).unwrap();
    let err = fails(t, &["admin", "keygen", "--out", k]);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read(&key).unwrap(), before);
    std::fs::write(&out, "keep me").unwrap();
    let err = fails(
        t,
        &[
            "admin",
            "policy",
            "--key",
            k,
            "--version",
            "1",
            "--isolation-days",
            "14",
            "--out",
            o,
        ],
    );
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");
    std::fs::remove_file(&out).unwrap();

    // And good inputs work: a policy barring Bali and Jember, a facility.
    ok(
        t,
        &[
            "admin",
            "policy",
            "--key",
            k,
            "--version",
            "2",
            "--isolation-days",
            "14",
            "--bar",
            "51",
            "--bar",
            "35.09",
            "--out",
            o,
        ],
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains("\"51\"") && text.contains("\"35.09\""),
        "{text}"
    );
    let facility = t.join("gor.json");
    ok(
        t,
        &[
            "admin",
            "certify",
            "--key",
            k,
            "--node",
            node,
            "--role",
            "facility",
            "--label",
            "GOR Tawangalun",
            "--until",
            "2099-01-01",
            "--out",
            s(&facility),
        ],
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn a_facility_node_is_initialised_with_its_root() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, public, root) = keygen(tmp.path(), "root.key");
    let data = tmp.path().join("gor");
    let init = ok(
        &data,
        &["init", "--facility", "gor-tawangalun", "--root", s(&public)],
    );
    assert!(init.contains("facility gor-tawangalun"), "{init}");
    assert_eq!(
        std::fs::read_to_string(data.join("root.pub"))
            .unwrap()
            .trim(),
        root
    );
    // A bad root file leaves no data directory behind.
    let junk = tmp.path().join("junk.pub");
    std::fs::write(&junk, "hello").unwrap();
    let other = tmp.path().join("other");
    let err = fails(&other, &["init", "--auditor", "--root", s(&junk)]);
    assert!(err.contains("junk.pub"), "{err}");
    assert!(!other.exists());
}
