//! Documents out, in the open (issue 14.5), as real processes:
//! - the reference JavaScript implementation of Automerge
//!   (`@automerge/automerge`, run by tests/automerge-js/read-village.mjs
//!   with the machine's Node.js) loads a village document from `kampung
//!   export --automerge` and reads the same residents, field by field, as
//!   `kampung export` writes to CSV;
//! - the same implementation (tests/automerge-js/read-crossings.mjs) reads a
//!   checkpoint's crossing log of both forms (maps, and values of crossing
//!   format 2) as the node reads it;
//! - on a running node, `export --automerge` and `audit verify --file` go
//!   through its API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/procs.rs"]
mod procs;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use procs::{s, Csv, Node, Root, RunArgs};

const VILLAGE: &str = "35.10.15.2012";

/// tests/automerge-js, where `npm ci` installs the reference implementation.
fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/automerge-js")
}

/// Node.js and the pinned `@automerge/automerge` must be there: without
/// them this test fails (it never skips), saying how to install them.
fn require_js() {
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "Node.js (`node`) is not installed: this test runs the reference Automerge \
         implementation with it (apt-get install nodejs), then `npm ci --prefix tests/automerge-js`"
    );
    let package = js_dir().join("node_modules/@automerge/automerge/package.json");
    assert!(
        package.exists(),
        "{} is missing: run `npm ci --prefix tests/automerge-js` (scripts/test does) to install \
         the reference Automerge implementation this test compares with",
        package.display()
    );
}

/// A cell as `kampung export` means it: a text a spreadsheet would run as
/// a formula is written after a `'` (kampung_csv's `defuse`).
fn undefuse(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => cell,
    }
}

/// The residents of an exported CSV: NIK -> column -> cell.
fn read_csv(path: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let mut out = BTreeMap::new();
    for row in reader.records() {
        let row = row.unwrap();
        let fields: BTreeMap<String, String> = header
            .iter()
            .zip(row.iter())
            .map(|(h, c)| (h.clone(), undefuse(c).to_string()))
            .collect();
        out.insert(fields["nik"].clone(), fields);
    }
    out
}

/// The residents as the reference implementation reads the document.
fn read_with_js(file: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let out = Command::new("node")
        .arg(js_dir().join("read-village.mjs"))
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "read-village.mjs failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Vec<BTreeMap<String, String>> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("read-village.mjs printed no JSON list ({e})"));
    list.into_iter().map(|r| (r["nik"].clone(), r)).collect()
}

#[test]
fn the_reference_javascript_automerge_reads_the_same_residents_as_the_csv_export() {
    require_js();
    let tmp = tempfile::tempdir().unwrap();
    let desa = Node::new(tmp.path(), "desa", None);
    desa.ok(&["init", "--village", VILLAGE]);
    let csv = Csv::generate(VILLAGE, 300, 11, &tmp.path().join("warga.csv"));
    desa.ok(&["import", csv.path_str()]);
    // Every field kind in use: a move out with its day, a death on a day
    // not known, a corrected name.
    let active: Vec<&str> = csv
        .rows
        .iter()
        .filter(|r| r.status == "active")
        .map(|r| r.nik.as_str())
        .collect();
    let (moved, died, renamed) = (active[0], active[1], active[2]);
    desa.ok(&[
        "resident",
        "move-out",
        moved,
        "--to",
        "Kota Surabaya",
        "--on",
        "2025-11-01",
    ]);
    desa.ok(&["resident", "deceased", died]);
    desa.ok(&["resident", "update", renamed, "--name", "Siti Nur Aini"]);

    let exported_csv = tmp.path().join("export.csv");
    desa.ok(&["export", "--out", s(&exported_csv)]);
    let file = tmp.path().join("desa.automerge");
    desa.ok(&["export", "--automerge", VILLAGE, "--out", s(&file)]);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the export holds personal data");

    let from_csv = read_csv(&exported_csv);
    let from_js = read_with_js(&file);
    assert_eq!(from_csv.len(), 300);
    assert_eq!(
        from_js.keys().collect::<Vec<_>>(),
        from_csv.keys().collect::<Vec<_>>(),
        "the same NIKs"
    );
    let mut compared = 0;
    for (nik, row) in &from_csv {
        let js = &from_js[nik];
        assert_eq!(
            js.keys().collect::<Vec<_>>(),
            row.keys().collect::<Vec<_>>(),
            "{nik}: the same columns"
        );
        for (column, cell) in row {
            assert_eq!(&js[column], cell, "{nik}: {column}");
            compared += 1;
        }
    }
    assert_eq!(compared, 300 * 13);
    assert_eq!(from_js[moved]["status"], "moved_out");
    assert_eq!(from_js[moved]["moved_to"], "Kota Surabaya");
    assert_eq!(from_js[moved]["moved_on"], "2025-11-01");
    assert_eq!(from_js[died]["status"], "deceased");
    assert_eq!(from_js[died]["died_on"], "");
    assert_eq!(from_js[renamed]["full_name"], "Siti Nur Aini");
    let generated_deaths = from_js
        .values()
        .filter(|r| r["status"] == "deceased" && !r["died_on"].is_empty())
        .count();
    assert!(generated_deaths > 0, "the population has deaths with a day");
}

/// A village written before records were one value (the fixture of
/// tests/upgrade.rs: records as maps of fields), with one record written
/// since (a value): the reference implementation reads both forms as
/// docs/documents.md describes them, the same as the CSV export.
#[test]
fn the_reference_javascript_automerge_reads_records_of_both_forms() {
    require_js();
    let tmp = tempfile::tempdir().unwrap();
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/layout1-village.tar.gz");
    let untar = Command::new("tar")
        .arg("-xzf")
        .arg(fixture)
        .arg("-C")
        .arg(tmp.path())
        .status()
        .unwrap();
    assert!(untar.success());
    let desa = Node::new(tmp.path(), "village", None);
    desa.ok(&["migrate"]);
    let before = tmp.path().join("before.automerge");
    desa.ok(&["export", "--automerge", VILLAGE, "--out", s(&before)]);
    let maps = read_with_js(&before);
    assert_eq!(maps.len(), 300);
    let nik = maps.keys().nth(20).unwrap().clone();
    desa.ok(&["resident", "update", &nik, "--name", "Siti Nur Aini"]);

    let exported_csv = tmp.path().join("export.csv");
    desa.ok(&["export", "--out", s(&exported_csv)]);
    let file = tmp.path().join("after.automerge");
    desa.ok(&["export", "--automerge", VILLAGE, "--out", s(&file)]);
    let from_csv = read_csv(&exported_csv);
    let from_js = read_with_js(&file);
    assert_eq!(from_js, from_csv);
    assert_eq!(from_js[&nik]["full_name"], "Siti Nur Aini");
    assert_eq!(
        from_js
            .values()
            .filter(|r| r["status"] == "moved_out")
            .count(),
        3,
        "the fixture's moves out, read from maps"
    );
    for (n, r) in &maps {
        if *n != nik {
            assert_eq!(&from_js[n], r, "{n}: untouched records read the same");
        }
    }
}

#[test]
fn a_running_node_exports_and_checks_documents_through_its_api() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut root = Root::new(dir);
    let mut desa = Node::new(dir, "desa", None);
    root.init(
        &desa,
        &["--village", VILLAGE],
        &["--role", "village", "--village", VILLAGE],
    );
    root.hand_out(&[&desa]);
    let csv = Csv::generate(VILLAGE, 50, 3, &dir.join("warga.csv"));
    desa.ok(&["import", csv.path_str()]);
    desa.start(&RunArgs::loopback(vec![]));

    let file = dir.join("desa.automerge");
    desa.ok(&[
        "export",
        "--automerge",
        &format!("v/{VILLAGE}"),
        "--out",
        s(&file),
    ]);
    let report = desa.json(&["audit", "verify", "--file", s(&file), "--json"]);
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["records"], 50);
    assert_eq!(report["held"], true);

    let mut altered = std::fs::read(&file).unwrap();
    let last = altered.len() - 1;
    altered[last] ^= 0x01;
    let bad = dir.join("altered.automerge");
    std::fs::write(&bad, &altered).unwrap();
    let out = desa.cli(&["audit", "verify", "--file", s(&bad)]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("bad checksum") && text.contains("FAILED"),
        "{text}"
    );

    let all = dir.join("dokumen");
    std::fs::create_dir(&all).unwrap();
    let out = desa.cli(&["export", "--automerge", "--all", "--out", s(&all)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("2 document(s) written") && said.contains(&format!("k_{VILLAGE}.automerge")),
        "{said}"
    );
    let written = all.join(format!("v_{VILLAGE}.automerge"));
    assert_eq!(
        std::fs::read(&written).unwrap(),
        std::fs::read(&file).unwrap()
    );

    let out = desa.cli(&[
        "export",
        "--automerge",
        "c/0123456789abcdef",
        "--out",
        s(&bad),
    ]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("holds no document c/0123456789abcdef"),
        "{said}"
    );
    assert!(desa.stop().success());
}

/// The crossings of a log as the reference implementation reads the file,
/// in list order.
fn crossings_with_js(file: &Path) -> Vec<serde_json::Value> {
    let out = Command::new("node")
        .arg(js_dir().join("read-crossings.mjs"))
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "read-crossings.mjs failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("read-crossings.mjs printed no JSON list ({e})"))
}

/// A crossing logged as nodes before crossing format 2 did: a map of
/// fields, its basis heads as 32 bytes.
fn log_as_map(doc: &mut automerge::Automerge, at_ms: i64, nik: &str, head: [u8; 32]) {
    use automerge::transaction::Transactable;
    use automerge::{ObjType, ReadDoc, ScalarValue, ROOT};
    let Some((_, list)) = doc.get(ROOT, "crossings").unwrap() else {
        panic!("no crossings list");
    };
    let mut tx = doc.transaction();
    let at = tx.length(&list);
    let c = tx.insert_object(&list, at, ObjType::Map).unwrap();
    tx.put(&c, "at", ScalarValue::Timestamp(at_ms)).unwrap();
    tx.put(&c, "nik", nik).unwrap();
    tx.put(&c, "verdict", "resident").unwrap();
    tx.put(&c, "found", VILLAGE).unwrap();
    tx.put(&c, "decision", "allowed_in").unwrap();
    tx.put(&c, "officer", "Bripka Made").unwrap();
    let basis = tx.put_object(&c, "basis", ObjType::Map).unwrap();
    let heads = tx
        .put_object(&basis, format!("v/{VILLAGE}").as_str(), ObjType::List)
        .unwrap();
    tx.insert(&heads, 0, ScalarValue::Bytes(head.to_vec()))
        .unwrap();
    tx.put(&c, "policy", ScalarValue::Uint(2)).unwrap();
    tx.commit();
}

#[test]
fn the_reference_javascript_automerge_reads_a_crossing_log_of_both_forms() {
    use kampung_store::crossing::{Crossing, CrossingLog, Decision, DocHeads};
    require_js();
    let tmp = tempfile::tempdir().unwrap();
    let peer = "12D3KooWKetapangHarbourCheckpoint";
    let month = kampung_core::LogMonth::parse("2026-12").unwrap();
    let head = [0xab; 32];
    // Two crossings a node before format 2 logged, then three as values.
    let mut log = CrossingLog::genesis_in(peer, Some(month));
    log_as_map(log.automerge_mut(), 1_000, "3510155203850001", head);
    log_as_map(log.automerge_mut(), 2_000, "3510155203850002", head);
    let village = kampung_core::VillageCode::parse(VILLAGE).unwrap();
    let mut new = Vec::new();
    for (i, decision) in [
        Decision::TurnedBack,
        Decision::IsolationVillageHouse { village },
        Decision::PickedUpByFamily,
    ]
    .into_iter()
    .enumerate()
    {
        let i = i as i64;
        new.push(Crossing {
            at_ms: 3_000 + i,
            nik: format!("510101520385000{i}"),
            verdict: "non_resident".into(),
            explanation: String::new(),
            decision,
            case_id: (i > 0).then(|| format!("00c0ffee00c0ffe{i}")),
            officer: Some("Bripka \"Agus\" Ünal".into()),
            officer_id: Some("u-agus".into()),
            note: (i == 2).then(|| "dijemput kakaknya, [KTP] difoto".into()),
            basis: vec![DocHeads {
                doc: format!("c/00c0ffee00c0ffe{i}"),
                heads: vec!["cd".repeat(32)],
            }],
            state: None,
            policy: Some(3),
            found_in: None,
            issued_in: Some("51.01".into()),
            rule: None,
        });
    }
    let actor = automerge::ActorId::from(vec![7u8; 32]);
    for c in &new {
        log.record(&actor, c).unwrap();
    }
    let file = tmp.path().join("crossings.automerge");
    std::fs::write(&file, log.save()).unwrap();

    let ours = CrossingLog::load(peer, Some(&std::fs::read(&file).unwrap()), [])
        .unwrap()
        .entries()
        .unwrap();
    let theirs = crossings_with_js(&file);
    assert_eq!(ours.len(), 5);
    assert_eq!(theirs.len(), 5);
    for (o, t) in ours.iter().zip(&theirs) {
        let text = |v: &Option<String>| v.clone().map_or(serde_json::Value::Null, Into::into);
        let village = match &o.decision {
            Decision::IsolationVillageHouse { village } => Some(village.to_string()),
            _ => None,
        };
        let basis: serde_json::Map<String, serde_json::Value> = o
            .basis
            .iter()
            .map(|b| (b.doc.clone(), serde_json::json!(b.heads)))
            .collect();
        let want = serde_json::json!({
            "at": o.at_ms,
            "nik": o.nik,
            "verdict": o.verdict,
            "decision": o.decision.kind(),
            "village": village,
            "found": o.found_in.map(|v| v.to_string()),
            "issued": text(&o.issued_in),
            "rule": text(&o.rule),
            "case": text(&o.case_id),
            "officer_id": text(&o.officer_id),
            "officer": text(&o.officer),
            "note": text(&o.note),
            "policy": o.policy,
            "state": o.state,
            "basis": basis,
            "explain": o.explanation,
        });
        assert_eq!(t, &want, "crossing at {}", o.at_ms);
    }
    assert_eq!(
        theirs[0]["basis"][format!("v/{VILLAGE}")][0],
        "ab".repeat(32)
    );
}
