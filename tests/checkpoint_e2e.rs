//! The checkpoint end to end, through the HTTP API of real `kampung run`
//! processes on loopback: a certified mesh of two villages and a checkpoint
//! under a policy that bars Bali (added to the running checkpoint with
//! `kampung trust add`, which posts it to `POST /v1/trust`, and spread by
//! the mesh). At the checkpoint: a resident of the other village, a
//! Bali-issued NIK of a non-resident and of a registered resident, an
//! invalid NIK, a person under isolation and a deceased person's NIK. Then
//! the crossing log replicates to the auditor (and to no village: read
//! scopes), an isolation case to every node, a village writes to the case,
//! and the auditor's audit passes every signed change.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/procs.rs"]
mod procs;

use std::time::Duration;

use kampung_core::Sex;
use procs::*;
use serde_json::{json, Value};

/// Kampunganyar (Glagah) and Ketapang (Kalipuro).
const VILLAGE_A: &str = "35.10.15.2012";
const VILLAGE_B: &str = "35.10.21.2003";
const CONVERGE: Duration = Duration::from_secs(60);
/// Longest wait for a write to reach another node (gossip, or anti-entropy
/// every second; rosters are exchanged every 5 s).
const SPREAD: Duration = Duration::from_secs(30);
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(HTTP_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into()
}

/// GET an API path of a running node: (status, JSON body).
fn get(node: &Node, path: &str) -> (u16, Value) {
    let addr = node.api.expect("the node runs");
    let mut resp = agent()
        .get(&format!("http://{addr}{path}"))
        .header("authorization", &node.bearer())
        .call()
        .unwrap_or_else(|e| panic!("{}: GET {path}: {e}", node.name));
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_json().unwrap())
}

/// POST JSON to a running node: (status, JSON body).
fn post(node: &Node, path: &str, body: &Value) -> (u16, Value) {
    let addr = node.api.expect("the node runs");
    let mut resp = agent()
        .post(&format!("http://{addr}{path}"))
        .header("authorization", &node.bearer())
        .send_json(body)
        .unwrap_or_else(|e| panic!("{}: POST {path}: {e}", node.name));
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_json().unwrap())
}

fn post_ok(node: &Node, path: &str, body: &Value) -> Value {
    let (status, v) = post(node, path, body);
    assert_eq!(status, 200, "{}: POST {path} {body}: {v}", node.name);
    v
}

fn verdict(node: &Node, nik: &str) -> Value {
    let (status, v) = get(node, &format!("/v1/verdict/{nik}"));
    assert_eq!(status, 200, "{}: verdict {nik}: {v}", node.name);
    v
}

/// Poll `f` until it gives `Some`, or panic with `what` and the last value seen.
fn wait_for<T>(what: &str, mut f: impl FnMut() -> Result<T, String>) -> T {
    let mut last = String::new();
    poll(SPREAD, || match f() {
        Ok(v) => Some(v),
        Err(e) => {
            last = e;
            None
        }
    })
    .unwrap_or_else(|| panic!("{what}: not within {SPREAD:?}; last seen: {last}"))
}

/// `n` NIKs as people type them: one of `people`, 16 random digits, a NIK
/// composed for a regency (Papua's before the 2022 split among them), or a
/// few digits; with separators, white space or a character a URL treats
/// specially put anywhere. The same every run (a fixed seed), after the
/// empty NIK, one with a `/` in it and each of `people` as printed.
fn typed_niks(people: Vec<String>, n: usize) -> Vec<String> {
    use proptest::prelude::*;
    use proptest::sample::select;
    use proptest::strategy::ValueTree;
    let composed = (
        select(vec![3510u16, 3509, 5101, 9101, 9271, 6471, 3578]),
        1u8..=20,
        1950i32..2020,
        1u8..=12,
        1u8..=28,
        any::<bool>(),
        1u16..=40,
    )
        .prop_map(|(regency, district, year, month, day, female, serial)| {
            let month = time::Month::try_from(month).unwrap();
            let birth = time::Date::from_calendar_date(year, month, day).unwrap();
            let sex = if female { Sex::Female } else { Sex::Male };
            kampung_core::nik::compose(regency, district, birth, sex, serial)
        });
    let nik = prop_oneof![
        4 => select(people.clone()),
        2 => "[0-9]{16}",
        2 => composed,
        1 => "[0-9]{0,18}",
    ];
    let marks = select(vec![
        " ", ".", "-", "\t", "\u{a0}", "\n", "/", "?", "#", "%", "+", "O",
    ]);
    let typed =
        (nik, proptest::collection::vec((0usize..18, marks), 0..3)).prop_map(|(nik, marks)| {
            let mut chars: Vec<String> = nik.chars().map(String::from).collect();
            for (at, mark) in marks {
                chars.insert(at.min(chars.len()), mark.to_string());
            }
            chars.concat()
        });
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut out = vec![String::new(), "351015/7007990050".to_string()];
    out.extend(people.iter().cloned());
    out.extend((0..n).map(|_| typed.new_tree(&mut runner).unwrap().current()));
    out
}

/// Every byte but the unreserved ones percent-encoded, as a URL path segment.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A verdict without what changes from one moment to the next (how old our
/// copy of a village is, and the sentence saying so; a stopped node has
/// heard nobody).
fn comparable(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("freshness");
    }
    if let Some(o) = v["verdict"].as_object_mut() {
        o.remove("copy_age_ms");
    }
    if let Some(text) = v["explanation"].as_str() {
        // The freshness sentence: the running node has heard the village's
        // node (how long ago), the stopped one cannot know.
        let text = [" Our copy of", " We have never heard from"]
            .iter()
            .fold(text, |t, cut| t.split(cut).next().unwrap_or(""))
            .to_string();
        v["explanation"] = Value::String(text);
    }
    v
}

/// A generated CSV row, split into its 12 fields.
fn fields(line: &str) -> Vec<String> {
    line.split(',').map(str::to_string).collect()
}

#[test]
fn a_checkpoint_gives_every_verdict_through_the_api_and_its_log_replicates() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    // The administrator's root key and policy: Bali barred, 14 days.
    let (key, root_pub, policy) = root_and_policy(dir, 2);

    // Two villages, a checkpoint and an auditor, each certified; every node
    // holds every certificate.
    let mut a = Node::new(dir, "village-a", None);
    let mut b = Node::new(dir, "village-b", None);
    let mut cp = Node::new(dir, "checkpoint", None);
    let mut au = Node::new(dir, "auditor", None);
    let a_peer = init(&a, &["--village", VILLAGE_A], &root_pub);
    let b_peer = init(&b, &["--village", VILLAGE_B], &root_pub);
    let cp_peer = init(&cp, &["--checkpoint", "ketapang"], &root_pub);
    let au_peer = init(&au, &["--auditor"], &root_pub);
    let certs = [
        certify(
            dir,
            &key,
            &a_peer,
            &["--role", "village", "--village", VILLAGE_A],
            "a",
        ),
        certify(
            dir,
            &key,
            &b_peer,
            &["--role", "village", "--village", VILLAGE_B],
            "b",
        ),
        certify(dir, &key, &cp_peer, &["--role", "checkpoint"], "cp"),
        certify(dir, &key, &au_peer, &["--role", "auditor"], "au"),
    ];
    let cert_args: Vec<&str> = std::iter::once("trust")
        .chain(std::iter::once("add"))
        .chain(certs.iter().map(|c| s(c)))
        .collect();
    for n in [&a, &b, &cp, &au] {
        n.ok(&cert_args);
    }

    // Village A: generated residents, one of them holding a Bali-issued NIK
    // (registered here all the same), one deceased.
    let gen_a = Csv::generate(VILLAGE_A, 30, 1, &dir.join("a-gen.csv"));
    let mut rows = gen_a.rows.clone();
    let active: Vec<usize> = (0..rows.len())
        .filter(|&i| rows[i].status == "active")
        .collect();
    let (bali_i, dead_i) = (active[0], active[1]);
    let mut f = fields(&rows[bali_i].line);
    let birth = time::Date::parse(
        &f[3],
        &time::macros::format_description!("[year]-[month]-[day]"),
    )
    .unwrap();
    let sex = if f[2] == "P" { Sex::Female } else { Sex::Male };
    let bali_resident = kampung_core::nik::compose(5101, 1, birth, sex, 41);
    f[0] = bali_resident.clone();
    rows[bali_i].line = f.join(",");
    rows[bali_i].nik = bali_resident.clone();
    let mut f = fields(&rows[dead_i].line);
    f[9] = "deceased".into();
    f[12] = "2025-08-17".into();
    rows[dead_i].line = f.join(",");
    rows[dead_i].status = "deceased".into();
    let deceased = rows[dead_i].nik.clone();
    let csv_a = gen_a.write_rows(&rows, &dir.join("a.csv"));
    let report = a.json(&["import", csv_a.path_str(), "--json"]);
    assert_eq!(report["added"], 30, "{report}");
    // Village B: generated residents.
    let csv_b = Csv::generate(VILLAGE_B, 30, 2, &dir.join("b.csv"));
    let report = b.json(&["import", csv_b.path_str(), "--json"]);
    assert_eq!(report["added"], 30, "{report}");
    let b_resident = csv_b.active().next().unwrap().nik.clone();

    a.start(&RunArgs::loopback(vec![]));
    let boot = a.bootstrap_addr();
    b.start(&RunArgs::loopback(vec![boot.clone()]));
    cp.start(&RunArgs::loopback(vec![boot.clone()]));
    au.start(&RunArgs::loopback(vec![boot, cp.bootstrap_addr()]));
    wait_agree(&[&a, &b, &cp, &au], 2, 60, CONVERGE);
    // Every node holds both villages' cards; their details (family cards,
    // addresses) only the village itself and the auditor (the two are in
    // different districts: neither keeps the other's).
    let details = |n: &Node| -> Vec<String> {
        let r = Replica::from_status(&n.status().unwrap());
        r.docs
            .keys()
            .filter(|d| d.starts_with("v/"))
            .cloned()
            .collect()
    };
    let both = vec![format!("v/{VILLAGE_A}"), format!("v/{VILLAGE_B}")];
    let auditor_has_both = poll(CONVERGE, || (details(&au) == both).then_some(()));
    assert!(auditor_has_both.is_some(), "auditor: {:?}", details(&au));
    assert_eq!(details(&a), [format!("v/{VILLAGE_A}")]);
    assert_eq!(details(&b), [format!("v/{VILLAGE_B}")]);
    assert!(details(&cp).is_empty(), "checkpoint: {:?}", details(&cp));

    // The policy, handed to the running checkpoint (the CLI posts it to
    // POST /v1/trust), applies at once there.
    let bali_visitor =
        kampung_core::nik::compose(5101, 1, time::macros::date!(1985 - 03 - 12), Sex::Female, 7);
    assert_eq!(verdict(&cp, &bali_visitor)["kind"], "non_resident");
    let added = cp.ok(&["trust", "add", s(&policy)]);
    assert!(added.contains("sent to the running node"), "{added}");

    // A resident of another village: resident, with the village and how
    // fresh our copy of it is (the checkpoint hears village B's heartbeats).
    let v = wait_for("a copy age for village B", || {
        let v = verdict(&cp, &b_resident);
        if v["verdict"]["copy_age_ms"].is_u64() {
            Ok(v)
        } else {
            Err(v.to_string())
        }
    });
    assert_eq!(v["kind"], "resident", "{v}");
    assert_eq!(v["verdict"]["village"], VILLAGE_B);
    assert_eq!(v["verdict"]["village_name"], "Ketapang");
    let text = v["explanation"].as_str().unwrap();
    assert!(text.contains("Our copy of Ketapang is"), "{text}");
    assert_eq!(v["basis"][0]["doc"], format!("k/{VILLAGE_B}"));
    assert_eq!(v["policy_version"], 2);

    // A Bali-issued NIK: barred if not a resident, resident if registered.
    let barred = verdict(&cp, &bali_visitor);
    assert_eq!(barred["kind"], "barred", "{barred}");
    assert_eq!(barred["verdict"]["region_name"], "Bali");
    assert!(barred["explanation"]
        .as_str()
        .unwrap()
        .contains("Turn back"));
    let registered = verdict(&cp, &bali_resident);
    assert_eq!(registered["kind"], "resident", "{registered}");
    assert_eq!(registered["verdict"]["village"], VILLAGE_A);

    // An invalid NIK names the rule it breaks.
    let invalid = verdict(&cp, "3510151302850000");
    assert_eq!(invalid["kind"], "invalid", "{invalid}");
    assert_eq!(invalid["verdict"]["error"]["rule"], "serial_zero");
    assert!(invalid["explanation"]
        .as_str()
        .unwrap()
        .contains("serial number 0000"));

    // A deceased person's KTP is an alert.
    let dead = verdict(&cp, &deceased);
    assert_eq!(dead["kind"], "deceased", "{dead}");
    assert_eq!(dead["alert"], true);

    // A non-resident from Jember: 14 days of isolation; once a case is open,
    // under isolation.
    let jember = kampung_core::nik::compose(
        3509,
        15,
        time::macros::date!(1990 - 03 - 12),
        Sex::Female,
        2,
    );
    let before = verdict(&cp, &jember);
    assert_eq!(before["kind"], "non_resident", "{before}");
    assert_eq!(before["verdict"]["isolation_days"], 14);
    let case = post_ok(
        &cp,
        "/v1/cases",
        &json!({"nik": jember, "person_name": "Ani", "place": {"kind": "gor"}}),
    );
    let case_id = case["case_id"].as_str().unwrap().to_string();
    assert_eq!(case["required_days"], 14);
    let under = verdict(&cp, &jember);
    assert_eq!(under["kind"], "resident_under_isolation", "{under}");
    assert_eq!(under["verdict"]["case_id"], case_id.as_str());
    assert!(under["explanation"]
        .as_str()
        .unwrap()
        .contains("GOR Tawangalun"));

    // An officer of the post signs in; the crossing they log names them,
    // on every node (the name travels inside the replicated change).
    let added = cp.ok(&[
        "user",
        "add",
        "made.suarta",
        "--name",
        "Bripka Made Suarta",
        "--role",
        "officer",
    ]);
    let password = added
        .split_whitespace()
        .skip_while(|w| *w != "password")
        .nth(1)
        .unwrap_or_else(|| panic!("no password printed: {added}"))
        .to_string();
    let addr = cp.api.unwrap();
    let signed_in = agent()
        .post(&format!("http://{addr}/v1/session"))
        .send_json(json!({"login": "made.suarta", "password": password}))
        .unwrap();
    assert_eq!(signed_in.status().as_u16(), 200);
    let cookie = signed_in
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_string();
    let mut logged = agent()
        .post(&format!("http://{addr}/v1/crossings"))
        .header("cookie", &cookie)
        .send_json(json!({"nik": b_resident, "decision": "allowed_in"}))
        .unwrap();
    assert_eq!(logged.status().as_u16(), 200);
    let logged: Value = logged.body_mut().read_json().unwrap();
    assert_eq!(
        logged["crossing"]["officer"], "Bripka Made Suarta",
        "{logged}"
    );
    // A program's token works, and a wrong one is refused.
    let made = cp.ok(&["token", "create", "--label", "scanner", "--role", "officer"]);
    let token = made
        .split_whitespace()
        .find(|w| w.starts_with("kt_"))
        .unwrap_or_else(|| panic!("no token printed: {made}"))
        .to_string();
    let ok = agent()
        .get(&format!("http://{addr}/v1/verdict/{b_resident}"))
        .header("authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let refused = agent()
        .get(&format!("http://{addr}/v1/verdict/{b_resident}"))
        .header("authorization", &format!("Bearer {token}x"))
        .call()
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    // Crossings, one of them opening a case in village A's isolation house.
    post_ok(
        &cp,
        "/v1/crossings",
        &json!({"nik": bali_visitor, "decision": "turned_back"}),
    );
    let visitor =
        kampung_core::nik::compose(3509, 15, time::macros::date!(1992 - 07 - 01), Sex::Male, 3);
    let iso = post_ok(
        &cp,
        "/v1/crossings",
        &json!({"nik": visitor, "decision": "isolation_village_house", "village": VILLAGE_A, "open_case": true}),
    );
    let house_case = iso["opened_case"].as_str().unwrap().to_string();
    let (status, own_log) = get(&cp, "/v1/crossings");
    assert_eq!(status, 200, "{own_log}");
    assert_eq!(own_log["total"], 3, "{own_log}");
    assert_eq!(own_log["checkpoint"], cp_peer.as_str());

    // The crossing log replicates to the auditor...
    let path = format!("/v1/crossings?checkpoint={cp_peer}");
    let log = wait_for("the crossing log at the auditor", || {
        let (status, log) = get(&au, &path);
        if status == 200 && log["total"] == 3 {
            Ok(log)
        } else {
            Err(log.to_string())
        }
    });
    assert_eq!(log["items"], own_log["items"]);
    // The policy spread through the mesh to village B and the auditor
    // (which replays the verdicts under it below).
    for n in [&b, &au] {
        wait_for(&format!("the policy at {}", n.name), || {
            let v = verdict(n, &bali_visitor);
            (v["kind"] == "barred").then_some(()).ok_or(v.to_string())
        });
    }

    // Village A sees the case placed in its house and follows it up; the
    // checkpoint sees the village's follow-up.
    let at_a = wait_for("the case at village A", || {
        let (status, c) = get(&a, &format!("/v1/cases/{house_case}"));
        (status == 200).then_some(c.clone()).ok_or(c.to_string())
    });
    assert_eq!(at_a["place"]["kind"], "village_house");
    assert_eq!(at_a["place"]["village"], VILLAGE_A);
    assert_eq!(at_a["opened_by"]["role"], "checkpoint");
    let followed = post_ok(
        &a,
        &format!("/v1/cases/{house_case}/follow-ups"),
        &json!({"outcome": "seen_ok"}),
    );
    assert_eq!(followed["today"][0]["by"]["role"], "village");
    wait_for("village A's follow-up at the checkpoint", || {
        let (_, c) = get(&cp, &format!("/v1/cases/{house_case}"));
        (c["today"][0]["by"]["peer"] == a_peer.as_str())
            .then_some(())
            .ok_or(c.to_string())
    });
    // A village node does not log crossings.
    let (status, refused) = post(
        &a,
        "/v1/crossings",
        &json!({"nik": jember, "decision": "allowed_in"}),
    );
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error"]["code"], "role_not_allowed");

    // ...and to no village: the villages hold the two villages and the two
    // cases; the checkpoint and the auditor the crossing log besides.
    wait_agree(&[&cp, &au], 5, 60, CONVERGE);
    let villages = wait_agree(&[&a, &b], 4, 60, CONVERGE);
    assert!(
        villages.docs.keys().all(|d| !d.starts_with("x/")),
        "{villages:?}"
    );
    let (status, none) = get(&a, &path);
    assert_ne!(status, 500, "{none}");
    assert_ne!(none["total"], 3, "{none}");
    for n in [&a, &b, &cp, &au] {
        let status = n.status().unwrap();
        assert_eq!(
            status["mesh"]["counters"]["changes_rejected"], 0,
            "{}: {status}",
            n.name
        );
    }
    // One verdict for one KTP at every front door: for generated NIKs (the
    // people above and random ones, typed with separators, white space and
    // the characters a URL would eat), the CLI through the running
    // checkpoint answers as the API does; once the node is stopped, the CLI
    // from the store answers the same again (policy and open cases applied).
    let people = vec![
        b_resident.clone(),
        bali_resident.clone(),
        bali_visitor.clone(),
        deceased.clone(),
        jember.clone(),
    ];
    let inputs = typed_niks(people, 32);
    let running: Vec<(String, Value)> = inputs
        .iter()
        .map(|typed| {
            let api = verdict(&cp, &encode(typed));
            let cli = cp.json(&["lookup", "--json", "--", typed]);
            assert_eq!(comparable(&cli), comparable(&api), "typed {typed:?}");
            (typed.clone(), api)
        })
        .collect();
    let kinds: std::collections::BTreeSet<&str> = running
        .iter()
        .map(|(_, v)| v["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "resident",
        "barred",
        "invalid",
        "resident_under_isolation",
        "deceased",
    ] {
        assert!(kinds.contains(kind), "no {kind} among {kinds:?}");
    }
    stop_all(&mut [&mut a, &mut b, &mut cp, &mut au]);
    for (typed, api) in &running {
        let cli = cp.json(&["lookup", "--json", "--", typed]);
        assert_eq!(
            comparable(&cli),
            comparable(api),
            "typed {typed:?}, node stopped"
        );
    }

    // Every change, including the crossings and case updates made through
    // the API, is signed by a writer the roster allowed.
    let report = au.json(&["audit", "verify", "--json"]);
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["authorisation_checked"], true);
    let docs: Vec<&str> = report["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["doc"].as_str().unwrap())
        .collect();
    // The checkpoint's crossings of this month, in their own log.
    assert!(
        docs.iter().any(|d| d
            .strip_prefix(&format!("x/{cp_peer}/"))
            .is_some_and(|m| kampung_core::LogMonth::parse(m).is_some())),
        "{docs:?}"
    );
    assert!(docs.contains(&format!("c/{case_id}").as_str()), "{docs:?}");
    // Who changed what names the officer at the checkpoint's node.
    let officer = report["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["person"] == "Bripka Made Suarta")
        .unwrap_or_else(|| panic!("the officer is not in the audit: {:#}", report["people"]));
    assert_eq!(officer["writer"], cp_peer.as_str());
    let text = au.ok(&["audit", "verify"]);
    assert!(text.contains("Bripka Made Suarta ("), "{text}");
    // The auditor replays every verdict the checkpoint logged from the
    // registry state and the policy each names: it needs nothing from the
    // checkpoint but its replicated log.
    let replay = au.json(&["audit", "replay", "--json"]);
    assert_eq!(replay["mismatches"], json!([]), "{replay:#}");
    assert_eq!(replay["without_state"], 0, "{replay:#}");
    assert_eq!(replay["matched"], replay["crossings"], "{replay:#}");
    assert!(replay["crossings"].as_u64().unwrap() >= 3, "{replay:#}");
    let text = au.ok(&["audit", "replay", "--checkpoint", &cp_peer]);
    assert!(text.contains(" 0 not matched"), "{text}");
    // A person's history names their crossings and everything written on
    // their case, by whom, beside their records' changes.
    let h = au.json(&["audit", "history", &visitor, "--json"]);
    let crossings = h["crossings"].as_array().unwrap();
    assert_eq!(crossings.len(), 1, "{h:#}");
    assert_eq!(crossings[0]["decision"], "isolation_village_house");
    assert_eq!(crossings[0]["case_id"], house_case.as_str());
    let what: Vec<(&str, &str)> = h["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["what"].as_str().unwrap(),
                e["by"]["peer"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        what,
        [("opened", cp_peer.as_str()), ("follow_up", a_peer.as_str())],
        "{h:#}"
    );
    let text = au.ok(&["audit", "history", &visitor]);
    assert!(
        text.contains("isolation cases:") && text.contains("follow_up seen_ok"),
        "{text}"
    );
    // No secret reached a log: not the password, the session cookie or a token.
    let log = std::fs::read_to_string(&cp.log).unwrap();
    let session = cookie.split_once('=').unwrap().1;
    for secret in [password.as_str(), session, token.as_str()] {
        assert!(!log.contains(secret), "a secret is in {}", cp.log.display());
    }
    assert!(log.contains("signed in"), "sign-ins are logged, by name");
}
