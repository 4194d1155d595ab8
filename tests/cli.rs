//! The `kampung` command line, run as a real process on temporary data directories.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/mod.rs"]
mod support;

use std::process::Command;

use support::*;

fn field(line: &str, i: usize) -> String {
    line.split(',').nth(i).unwrap().to_string()
}

#[test]
fn import_lookup_export_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("node");
    ok(&data, &["init", "--village", VILLAGE]);
    let csv = tmp.path().join("v.csv");
    let lines = gen_village(&data, VILLAGE, 300, 5, &csv);
    let report = json(&data, &["import", csv.to_str().unwrap(), "--json"]);
    assert_eq!(report["added"], 300);
    assert_eq!(report["imported"], true);

    // Every row answers with the verdict its status implies.
    for line in &lines[1..] {
        let v = json(&data, &["lookup", &field(line, 0), "--json"]);
        let status = field(line, 9);
        let expected = match status.as_str() {
            "active" => "resident",
            other => other,
        };
        assert_eq!(v["kind"], expected, "{line}");
        if expected == "resident" {
            assert_eq!(v["verdict"]["village"], VILLAGE);
            assert_eq!(v["verdict"]["village_name"], "Kampunganyar");
        }
    }
    let v = json(&data, &["lookup", "5101015203850007", "--json"]);
    assert_eq!(v["kind"], "non_resident");
    assert_eq!(v["verdict"]["issued_in"]["province_name"], "Bali");
    let v = json(&data, &["lookup", "3510151302850000", "--json"]);
    assert_eq!(v["kind"], "invalid");
    assert_eq!(v["verdict"]["error"]["rule"], "serial_zero");

    // Export gives back exactly what was imported.
    let out = tmp.path().join("out.csv");
    ok(&data, &["export", "--out", out.to_str().unwrap()]);
    let mut exported: Vec<String> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let mut original = lines.clone();
    exported[1..].sort();
    original[1..].sort();
    assert_eq!(exported, original);
}

#[test]
fn reimport_changes_only_what_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("node");
    ok(&data, &["init", "--village", VILLAGE]);
    let csv = tmp.path().join("v.csv");
    let mut lines = gen_village(&data, VILLAGE, 200, 9, &csv);
    ok(&data, &["import", csv.to_str().unwrap()]);
    let again = json(&data, &["import", csv.to_str().unwrap(), "--json"]);
    assert_eq!(
        (
            again["added"].as_u64(),
            again["changed"].as_u64(),
            again["unchanged"].as_u64()
        ),
        (Some(0), Some(0), Some(200))
    );

    // Correct two names and drop nothing: exactly two records change.
    for i in [3, 50] {
        let mut f: Vec<String> = lines[i].split(',').map(str::to_string).collect();
        f[1] = format!("{} Corrected", f[1]);
        lines[i] = f.join(",");
    }
    write_lines(&csv, &lines);
    let changed = json(&data, &["import", csv.to_str().unwrap(), "--json"]);
    assert_eq!(
        (
            changed["added"].as_u64(),
            changed["changed"].as_u64(),
            changed["unchanged"].as_u64()
        ),
        (Some(0), Some(2), Some(198))
    );
    let shown = json(&data, &["resident", "show", &field(&lines[3], 0), "--json"]);
    assert!(shown["full_name"].as_str().unwrap().ends_with("Corrected"));
}

/// A clerk's import is previewed (`--dry-run`), never makes a registered NIK
/// another person unless confirmed for that NIK (`--confirm`), names every
/// person it changes, and reads back its own `.xlsx` export.
#[test]
fn an_import_is_previewed_and_never_overwrites_a_person_unless_confirmed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("node");
    ok(&data, &["init", "--village", VILLAGE]);
    let csv = tmp.path().join("v.csv");
    let mut lines = gen_village(&data, VILLAGE, 50, 4, &csv);
    ok(&data, &["import", csv.to_str().unwrap()]);

    // Row 4 (line 4 of the file) becomes someone else; row 6 gets a typo fixed.
    let nik = field(&lines[3], 0);
    let mut f: Vec<String> = lines[3].split(',').map(str::to_string).collect();
    let was = f[1].clone();
    f[1] = "Suparman Effendi".into();
    lines[3] = f.join(",");
    let mut f: Vec<String> = lines[5].split(',').map(str::to_string).collect();
    f[1] = format!("{} Putra", f[1]);
    lines[5] = f.join(",");
    write_lines(&csv, &lines);

    let preview = kampung(
        &data,
        &["import", csv.to_str().unwrap(), "--dry-run", "--json"],
    );
    assert!(
        !preview.status.success(),
        "a dry run with a refused row fails"
    );
    let preview: serde_json::Value = serde_json::from_slice(&preview.stdout).unwrap();
    assert_eq!(preview["dry_run"], true);
    assert_eq!(preview["errors"][0]["line"], 4);
    assert_eq!(preview["errors"][0]["field"], "full_name");
    assert!(preview["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains(&was));
    assert_eq!(preview["changes"][0]["line"], 6);
    assert_eq!(preview["changes"][0]["fields"][0]["field"], "full_name");
    let err = fails(&data, &["import", csv.to_str().unwrap()]);
    assert!(err.contains("line 4, field full_name"), "{err}");
    let shown = json(&data, &["resident", "show", &nik, "--json"]);
    assert_eq!(
        shown["full_name"].as_str(),
        Some(was.as_str()),
        "nothing was written"
    );

    // Confirmed for that NIK: both changes are written, each named.
    let done = ok(&data, &["import", csv.to_str().unwrap(), "--confirm", &nik]);
    assert!(done.contains(&format!("line 4: changed {nik}")), "{done}");
    assert!(done.contains("line 6: changed"), "{done}");
    let shown = json(&data, &["resident", "show", &nik, "--json"]);
    assert_eq!(shown["full_name"], "Suparman Effendi");

    // The Excel export keeps every digit and imports back unchanged.
    let xlsx = tmp.path().join("warga.xlsx");
    ok(&data, &["export", "--out", xlsx.to_str().unwrap()]);
    let again = json(&data, &["import", xlsx.to_str().unwrap(), "--json"]);
    assert_eq!(again["unchanged"], 50, "{again}");
    assert_eq!(again["errors"].as_array().map(Vec::len), Some(0));
}

#[test]
fn a_bad_file_reports_every_bad_row_and_imports_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("node");
    ok(&data, &["init", "--village", VILLAGE]);
    let csv = tmp.path().join("v.csv");
    let mut lines = gen_village(&data, VILLAGE, 20, 2, &csv);
    let good_nik = field(&lines[1], 0);
    // line 3: bad NIK (day 32); line 5: unknown village code; line 7: duplicate of line 2;
    // line 9: another village's code; line 10: a missing separator; line 21: an unclosed quote.
    lines[2] = {
        let mut f: Vec<String> = lines[2].split(',').map(str::to_string).collect();
        let mut nik = f[0].clone();
        nik.replace_range(6..8, "32");
        f[0] = nik;
        f.join(",")
    };
    lines[4] = lines[4].replace(VILLAGE, "35.10.15.2999");
    lines[6] = {
        let mut f: Vec<String> = lines[6].split(',').map(str::to_string).collect();
        f[0] = good_nik.clone();
        f.join(",")
    };
    lines[8] = lines[8].replace(VILLAGE, "35.10.15.2001");
    lines[9] = lines[9].replacen(',', ";", 1);
    lines[20] = format!("\"{}", lines[20]);
    write_lines(&csv, &lines);

    let before = ok(&data, &["export"]);
    let out = kampung(&data, &["import", csv.to_str().unwrap(), "--json"]);
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors = report["errors"].as_array().unwrap();
    let lines_fields: Vec<(u64, String)> = errors
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["field"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    assert_eq!(
        lines_fields,
        vec![
            (3, "nik".to_string()),
            (5, "village_code".to_string()),
            (7, "nik".to_string()),
            (9, "village_code".to_string()),
            (10, "-".to_string()),
            (21, "-".to_string()),
        ],
        "{errors:#?}"
    );
    assert!(errors[0]["message"]
        .as_str()
        .unwrap()
        .contains("birth day 32"));
    assert!(errors[2]["message"]
        .as_str()
        .unwrap()
        .contains("first on row 2"));
    assert!(errors[3]["message"]
        .as_str()
        .unwrap()
        .contains("35.10.15.2001"));
    assert_eq!(report["imported"], false);
    assert_eq!(ok(&data, &["export"]), before, "nothing was imported");
    let v = json(&data, &["lookup", &good_nik, "--json"]);
    assert_eq!(v["kind"], "non_resident");

    // The human report names file, line and field.
    let text = fails(&data, &["import", csv.to_str().unwrap()]);
    assert!(
        text.contains("v.csv: line 3, field nik: birth day 32"),
        "{text}"
    );
    assert!(
        text.contains("nothing was imported: 6 bad row(s)"),
        "{text}"
    );

    // --skip-bad imports the 14 good rows (line 2 is good; 7 is the duplicate).
    let r = json(
        &data,
        &["import", csv.to_str().unwrap(), "--skip-bad", "--json"],
    );
    assert_eq!(r["added"], 14);
    assert_eq!(r["skipped"], 6);
    assert_eq!(
        json(&data, &["lookup", &good_nik, "--json"])["kind"],
        "resident"
    );
}

#[test]
fn header_errors_and_missing_files() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("node");
    ok(&data, &["init", "--village", VILLAGE]);
    let csv = tmp.path().join("bad.csv");
    std::fs::write(&csv, "nik,name\n3510155203850001,Sri\n").unwrap();
    let text = fails(&data, &["import", csv.to_str().unwrap()]);
    assert!(
        text.contains("line 1 (header): missing column(s) full_name"),
        "{text}"
    );
    let text = fails(&data, &["import", "/nonexistent/file.csv"]);
    assert!(text.contains("cannot open /nonexistent/file.csv"), "{text}");
    // An endless file is refused by its size, not read whole.
    let text = fails(&data, &["import", "/dev/zero"]);
    assert!(
        text.contains("/dev/zero") && text.contains("larger than 16 MB"),
        "{text}"
    );
}

#[test]
fn resident_commands_follow_a_life() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("node");
    ok(&data, &["init", "--village", VILLAGE]);
    let nik = "3510155203850001";
    let add = [
        "resident",
        "add",
        "--nik",
        nik,
        "--name",
        "Sri Wahyuni",
        "--sex",
        "P",
        "--birth",
        "1985-03-12",
        "--kk",
        "3510150101100001",
        "--dusun",
        "Krajan",
        "--rt",
        "1",
        "--rw",
        "2",
    ];
    ok(&data, &add);
    assert_eq!(json(&data, &["lookup", nik, "--json"])["kind"], "resident");
    let text = fails(&data, &add);
    assert!(text.contains("already registered"), "{text}");
    ok(
        &data,
        &["resident", "update", nik, "--name", "Sri Wahyuningsih"],
    );
    assert_eq!(
        json(&data, &["lookup", nik, "--json"])["verdict"]["full_name"],
        "Sri Wahyuningsih"
    );
    ok(
        &data,
        &["resident", "move-out", nik, "--to", "Kota Surabaya"],
    );
    let v = json(&data, &["lookup", nik, "--json"]);
    assert_eq!(v["kind"], "moved_out");
    assert_eq!(v["verdict"]["destination"], "Kota Surabaya");
    ok(&data, &["resident", "deceased", nik, "--on", "2024-01-02"]);
    assert_eq!(json(&data, &["lookup", nik, "--json"])["kind"], "deceased");
    let text = fails(
        &data,
        &["resident", "update", "3510155203850002", "--name", "X"],
    );
    assert!(text.contains("not a resident of this village"), "{text}");
    let text = fails(
        &data,
        &["resident", "update", "3510155203850000", "--name", "X"],
    );
    assert!(text.contains("serial number 0000"), "{text}");
    assert!(ok(&data, &["index", "verify"]).contains("agrees"));

    // The auditor's view of that life: every change, field by field.
    let h = json(&data, &["audit", "history", nik, "--json"]);
    let kinds: Vec<&str> = h["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["added", "corrected", "moved_out", "deceased"],
        "{h}"
    );
    let text = ok(&data, &["audit", "history", nik]);
    assert!(
        text.contains("full_name: \"Sri Wahyuni\" -> \"Sri Wahyuningsih\""),
        "{text}"
    );
    assert!(text.contains("moved out by the node itself"), "{text}");
    // The village as it was before any of it, and what changed since.
    let before = ok(&data, &["export", "--at", "2020-01-01"]);
    assert_eq!(before.lines().count(), 1, "only the header: {before}");
    let now = ok(&data, &["export", "--at", "2099-01-01T00:00+07:00"]);
    assert!(now.contains("Sri Wahyuningsih"), "{now}");
    let c = json(
        &data,
        &[
            "audit",
            "changes",
            "--village",
            VILLAGE,
            "--from",
            "2020-01-01",
            "--json",
        ],
    );
    assert_eq!(c["added"][0]["full_name"], "Sri Wahyuningsih", "{c}");
    let text = fails(&data, &["export", "--at", "kemarin"]);
    assert!(text.contains("'kemarin' is not a time"), "{text}");
    // The audit as a file to keep: no root here, so it fails, and says so.
    let file = tmp.path().join("laporan.html");
    fails(
        &data,
        &["audit", "verify", "--html", file.to_str().unwrap()],
    );
    let html = std::fs::read_to_string(&file).unwrap();
    for part in ["ADA MASALAH", "Perubahan per bulan", "<style>", "NoRoot"] {
        assert!(html.contains(part), "the report lacks {part:?}");
    }
    assert!(!html.contains("<script"), "the report runs no script");
}

#[test]
fn bad_arguments_and_roles_get_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let text = fails(
        &tmp.path().join("a"),
        &["init", "--village", "35.10.15.2999"],
    );
    assert!(
        text.contains("not one of Banyuwangi's 217 villages"),
        "{text}"
    );
    assert!(
        !tmp.path().join("a").exists(),
        "a refused init creates nothing"
    );
    let text = fails(&tmp.path().join("b"), &["lookup", "3510155203850001"]);
    assert!(text.contains("run `kampung init` first"), "{text}");
    let cp = tmp.path().join("cp");
    ok(&cp, &["init", "--checkpoint", "ketapang"]);
    let csv = tmp.path().join("v.csv");
    gen_village(&cp, VILLAGE, 5, 1, &csv);
    let text = fails(&cp, &["import", csv.to_str().unwrap()]);
    assert!(
        text.contains("this node is a checkpoint ketapang: only a village node writes residents"),
        "{text}"
    );
    let text = fails(&cp, &["init", "--auditor"]);
    assert!(text.contains("already initialised"), "{text}");
}

#[test]
fn a_damaged_data_dir_is_named_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("node");
    ok(&data, &["init", "--village", VILLAGE]);
    let key = std::fs::read(data.join("node.key")).unwrap();
    std::fs::write(data.join("node.key"), b"not a key").unwrap();
    let text = fails(&data, &["lookup", "3510155203850001"]);
    assert!(text.contains("node.key is damaged"), "{text}");
    assert_eq!(
        std::fs::read(data.join("node.key")).unwrap(),
        b"not a key",
        "left as it was"
    );
    std::fs::write(data.join("node.key"), key).unwrap();
    ok(&data, &["lookup", "3510155203850001"]);
}

/// Kill the importer at random points: the data directory always reopens, and
/// holds either none or all of the file (one write is one durable chunk).
#[test]
fn kill_during_import_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("node");
    ok(&data, &["init", "--village", VILLAGE]);
    let csv = tmp.path().join("v.csv");
    let lines = gen_village(&data, VILLAGE, 3000, 4, &csv);
    let probe = field(&lines[lines.len() - 1], 0);
    for delay_ms in [30u64, 150, 400] {
        let mut child = Command::new(bin())
            .args([
                "--data",
                data.to_str().unwrap(),
                "import",
                csv.to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        let v = json(&data, &["lookup", &probe, "--json"]);
        let verify = ok(&data, &["index", "verify"]);
        assert!(verify.contains("agrees"), "{verify}");
        if status.success() {
            assert_ne!(
                v["kind"], "non_resident",
                "an acknowledged import is durable"
            );
        }
    }
    let r = json(&data, &["import", csv.to_str().unwrap(), "--json"]);
    assert_eq!(
        r["added"].as_u64().unwrap() + r["unchanged"].as_u64().unwrap(),
        3000
    );
    assert_ne!(
        json(&data, &["lookup", &probe, "--json"])["kind"],
        "non_resident"
    );
}

/// The node's people are managed from its own machine; look-ups go to the
/// access log, which `audit access` reads.
#[test]
fn people_tokens_and_the_access_log_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("node");
    ok(&data, &["init", "--village", VILLAGE]);
    let secret = std::fs::read_to_string(data.join("local.secret")).unwrap();
    assert!(secret.starts_with("kl_"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("local.secret"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the local credential is owner-only");
    }
    let added = ok(
        &data,
        &[
            "user",
            "add",
            "sri.wahyuni",
            "--name",
            "Sri Wahyuni",
            "--role",
            "clerk",
        ],
    );
    assert!(added.contains("one-time password"), "{added}");
    let text = fails(
        &data,
        &["user", "add", "made", "--name", "Made", "--role", "officer"],
    );
    assert!(text.contains("officers work at checkpoints"), "{text}");
    let list = json(&data, &["user", "list", "--json"]);
    assert_eq!(list[0]["login"], "sri.wahyuni");
    assert_eq!(list[0]["role"], "clerk");
    ok(&data, &["user", "disable", "sri.wahyuni"]);
    assert_eq!(
        json(&data, &["user", "list", "--json"])[0]["disabled"],
        true
    );
    let made = ok(
        &data,
        &[
            "token",
            "create",
            "--label",
            "sync",
            "--role",
            "auditor",
            "--expires",
            "30",
        ],
    );
    let id = made.split_whitespace().nth(1).unwrap().to_string();
    ok(&data, &["token", "revoke", &id]);
    assert_eq!(
        json(&data, &["token", "list", "--json"])[0]["revoked"],
        true
    );

    // A look-up from this machine is logged as "local".
    let nik = "5101015203850007";
    ok(&data, &["lookup", nik]);
    let log = json(&data, &["audit", "access", "--nik", nik, "--json"]);
    assert_eq!(log[0]["who"], "local", "{log}");
    assert_eq!(log[0]["what"], "verdict");
    assert_eq!(log[0]["answer"], "non_resident");
    assert_eq!(
        json(
            &data,
            &["audit", "access", "--nik", "3510155203850001", "--json"]
        ),
        serde_json::json!([])
    );
}

/// A clerk knows the village's name, not its code.
#[test]
fn villages_are_listed_and_chosen_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("node");
    let list = ok(&data, &["villages", "--search", "glagah"]);
    assert!(
        list.contains("35.10.15.2012") && list.contains("Kampunganyar"),
        "{list}"
    );
    assert!(list.lines().all(|l| l.contains("Glagah")), "{list}");
    let all = json(&data, &["villages", "--json"]);
    assert_eq!(all.as_array().map(Vec::len), Some(217));

    // A name in two districts is refused with both codes to choose from.
    let err = fails(&data, &["init", "--village", "Karangrejo"]);
    assert!(
        err.contains("2 villages") && err.matches("35.10.").count() >= 2,
        "{err}"
    );
    ok(&data, &["init", "--village", "Kampunganyar"]);

    // The node is Kampunganyar's (its residents import); a record is shown
    // as a clerk reads it.
    let csv = tmp.path().join("v.csv");
    let lines = gen_village(&data, VILLAGE, 5, 3, &csv);
    ok(&data, &["import", csv.to_str().unwrap()]);
    let shown = ok(&data, &["resident", "show", &field(&lines[1], 0)]);
    assert!(
        shown.contains("Kampunganyar (35.10.15.2012, Kecamatan Glagah)"),
        "{shown}"
    );
    assert!(!shown.contains("Resident {"), "{shown}");
}

/// `config check` reads a file as `run` would: relative paths from the
/// file's folder, addresses by libp2p's parser; a mistake names the file
/// and the field, and exits non-zero.
#[test]
fn config_check_says_what_a_file_would_do_and_names_a_mistake() {
    let tmp = tempfile::tempdir().unwrap();
    let etc = tmp.path().join("etc");
    std::fs::create_dir(&etc).unwrap();
    ok(&etc.join("desa"), &["init", "--village", VILLAGE]);
    let file = etc.join("kampung.toml");
    std::fs::write(
        &file,
        "data = \"desa\"\n[network]\nbootstrap = [\"/ip4/10.0.0.1/tcp/7400\"]\n",
    )
    .unwrap();
    let elsewhere = tmp.path().join("elsewhere");
    let out = ok(&elsewhere, &["config", "check", file.to_str().unwrap()]);
    assert!(out.contains("valid"), "{out}");
    assert!(out.contains("a village:35.10.15.2012 node"), "{out}");
    assert!(out.contains("/ip4/10.0.0.1/tcp/7400"), "{out}");

    std::fs::write(
        &file,
        "data = \"desa\"\n[network]\nbootstrap = [\"/ip4/10.0.0.1/tcp/99999\"]\n",
    )
    .unwrap();
    let err = fails(&elsewhere, &["config", "check", file.to_str().unwrap()]);
    assert!(
        err.contains("kampung.toml") && err.contains("network.bootstrap[0]"),
        "{err}"
    );
    std::fs::write(&file, "[network]\nmdsn = true\n").unwrap();
    let err = fails(&elsewhere, &["config", "check", file.to_str().unwrap()]);
    assert!(
        err.contains("kampung.toml") && err.contains("mdsn"),
        "{err}"
    );
}

#[test]
fn version_completions_man_pages_and_json_logs() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("node");
    // `kampung 0.1.0 (1a2b3c4d5e6f 2026-12-02)`: the commit and its date.
    let version = ok(&data, &["--version"]);
    let inner = version
        .trim()
        .strip_prefix(&format!("kampung {} (", env!("CARGO_PKG_VERSION")))
        .and_then(|v| v.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{version}"));
    let (commit, date) = inner.split_once(' ').unwrap();
    assert!(commit == "unknown" || commit.len() == 12, "{version}");
    assert!(
        date == "unknown"
            || time::Date::parse(date, &time::format_description::well_known::Iso8601::DATE)
                .is_ok(),
        "{version}"
    );

    // Completions know every command; a closed pipe is not an error.
    for shell in ["bash", "zsh", "fish"] {
        let script = ok(&data, &["completions", shell]);
        for command in ["lookup", "import", "backup", "restore", "manpages"] {
            assert!(script.contains(command), "{shell}: no {command}");
        }
    }
    let err = fails(&data, &["completions", "cmd.exe"]);
    assert!(err.contains("bash"), "{err}");

    // A man page for the program and one for every command.
    let man = tmp.path().join("man");
    ok(&data, &["manpages", "--out", man.to_str().unwrap()]);
    for page in [
        "kampung.1",
        "kampung-user-add.1",
        "kampung-backup.1",
        "kampung-admin-certify.1",
    ] {
        let text =
            std::fs::read_to_string(man.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(
            text.starts_with(".ie") || text.contains(".TH"),
            "{page}: {text}"
        );
    }
    let add = std::fs::read_to_string(man.join("kampung-user-add.1")).unwrap();
    assert!(add.contains("role") && add.contains("Example"), "{add}");

    // JSON logs: one object per line with a UTC time and the level.
    ok(&data, &["init", "--village", VILLAGE]);
    let out = Command::new(bin())
        .args([
            "--data",
            data.to_str().unwrap(),
            "--log-format",
            "json",
            "lookup",
            "3510155203850001",
        ])
        .env("RUST_LOG", "debug")
        .env_remove("KAMPUNG_LOG")
        .output()
        .unwrap();
    let logs = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "RUST_LOG=debug logs something");
    for line in lines.iter().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{line}"
        );
        assert!(v["level"].is_string(), "{line}");
    }
    assert!(lines.iter().any(|l| l.starts_with('{')), "{logs}");
    assert!(!logs.contains('\u{1b}'), "no colour codes in a pipe");
}
