//! `GET /v1/verdict/{nik}` and the crossing log (`POST`/`GET /v1/crossings`).

use axum::http::StatusCode;
use kampung_core::{Resident, Status};
use serde_json::{json, Value};

use super::spec::Spec;
use super::trust::{policy_file, post_text, root, signed_policy};
use super::{error_code, nik_from, people, Clock, Node, Opts, VILLAGE};

/// p[0] active, p[1] moved out, p[2] deceased, p[3] an active resident
/// holding a Bali-issued NIK.
fn residents() -> Vec<Resident> {
    let mut p = people(6, 21);
    for r in &mut p {
        r.status = Status::Active;
    }
    p[1].status = Status::MovedOut {
        destination: "Kota Surabaya".into(),
        date: None,
    };
    p[2].status = Status::Deceased { date: None };
    p[3].nik = kampung_core::nik::compose(5101, 1, p[3].birth_date, p[3].sex, 41)
        .parse()
        .unwrap();
    p
}

async fn verdict(node: &Node, nik: &str) -> Value {
    let reply = node.get(&format!("/v1/verdict/{nik}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{nik}: {}", reply.text);
    Spec::load().check_reply("/v1/verdict/{nik}", "get", &reply);
    reply.json()
}

async fn with_bali_barred(node: &Node, key: &kampung_mesh::identity::Keypair) {
    let reply = post_text(node, &policy_file(key, 3, &["51"], 14)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[tokio::test]
async fn verdicts_follow_the_registry_the_policy_and_open_cases() {
    let (key, roster) = root();
    let node = Node::start_with(Opts::village().with_roster(roster)).await;
    let p = residents();
    node.put(p.clone()).await;
    with_bali_barred(&node, &key).await;

    let v = verdict(&node, &p[0].nik.to_string()).await;
    assert_eq!(v["kind"], "resident");
    assert_eq!(v["verdict"]["verdict"], "resident");
    assert_eq!(v["verdict"]["village"], VILLAGE);
    assert_eq!(v["verdict"]["village_name"], "Kampunganyar");
    // This node owns the village: its copy is current.
    assert_eq!(v["verdict"]["copy_age_ms"], 0);
    assert_eq!(v["alert"], false);
    assert_eq!(v["policy_version"], 3);
    assert_eq!(v["basis"][0]["doc"], format!("k/{VILLAGE}"));
    assert!(!v["basis"][0]["heads"].as_array().unwrap().is_empty());
    assert!(
        v["explanation"].as_str().unwrap().starts_with("RESIDENT: "),
        "{v}"
    );

    let moved = verdict(&node, &p[1].nik.to_string()).await;
    assert_eq!(moved["kind"], "moved_out");
    assert_eq!(moved["verdict"]["isolation_days"], 14);
    let dead = verdict(&node, &p[2].nik.to_string()).await;
    assert_eq!(dead["kind"], "deceased");
    assert_eq!(dead["alert"], true);
    assert!(dead["explanation"].as_str().unwrap().contains("ALERT"));

    // Residency comes from the registry: a resident with a Bali NIK is a
    // resident, a non-resident with one is barred.
    let bali_resident = verdict(&node, &p[3].nik.to_string()).await;
    assert_eq!(bali_resident["kind"], "resident", "{bali_resident}");
    let bali = verdict(&node, &nik_from(5101, 1, 7)).await;
    assert_eq!(bali["kind"], "barred", "{bali}");
    assert_eq!(bali["verdict"]["region"], "51");
    assert_eq!(bali["verdict"]["region_name"], "Bali");
    assert!(bali["basis"].as_array().unwrap().is_empty());

    let jember = verdict(&node, &nik_from(3509, 15, 2)).await;
    assert_eq!(jember["kind"], "non_resident");
    assert_eq!(
        jember["verdict"]["issued_in"]["regency_name"],
        "Kabupaten Jember"
    );
    assert!(jember["explanation"]
        .as_str()
        .unwrap()
        .contains("isolate 14 days"));

    for (nik, rule) in [
        ("3510151302850000", "serial"),
        ("35101513028500", "16 digits"),
        ("35101x1302850001", "digit"),
    ] {
        let bad = verdict(&node, nik).await;
        assert_eq!(bad["kind"], "invalid", "{nik}");
        let text = bad["explanation"].as_str().unwrap();
        assert!(text.contains(rule), "{nik}: {text}");
    }

    let metrics = node.get("/metrics").await.text;
    for kind in ["barred", "deceased", "invalid", "resident"] {
        assert!(
            metrics.contains(&format!("kampung_verdicts_total{{verdict=\"{kind}\"}}")),
            "{kind}"
        );
    }
    node.stop().await;
}

async fn cross(node: &Node, body: Value) -> Value {
    let reply = node.post("/v1/crossings", body.clone()).await;
    assert_eq!(reply.status, StatusCode::OK, "{body}: {}", reply.text);
    Spec::load().check_reply("/v1/crossings", "post", &reply);
    reply.json()
}

async fn refused(node: &Node, body: Value, status: StatusCode, code: &str) -> String {
    let reply = node.post("/v1/crossings", body.clone()).await;
    assert_eq!(error_code(&reply, status), code, "{body}");
    Spec::load().check_reply("/v1/crossings", "post", &reply);
    reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A checkpoint trusting a new root (its key), on a manual clock at 1 May,
/// 10.00 WIB, holding [`residents`].
async fn checkpoint_on_may_first() -> (
    kampung_mesh::identity::Keypair,
    std::sync::Arc<kampung_core::ManualClock>,
    Node,
    Vec<Resident>,
) {
    let (key, roster) = root();
    let clock = Clock::manual(super::may_first_10am_ms());
    let node = Node::start_with(
        Opts::checkpoint()
            .with_roster(roster)
            .with_clock(clock.clone()),
    )
    .await;
    let p = residents();
    node.put(p.clone()).await;
    (key, clock, node, p)
}

#[tokio::test]
async fn a_checkpoint_logs_each_check_with_its_verdict_decision_and_basis() {
    let spec = Spec::load();
    let (key, clock, node, p) = checkpoint_on_may_first().await;
    with_bali_barred(&node, &key).await;

    let resident = p[0].nik.to_string();
    let officer = node.sign_in("made", "Bripka Made", "officer").await;
    let reply = node
        .call_with(
            &officer,
            axum::http::Method::POST,
            "/v1/crossings",
            Some(json!({"nik": resident, "decision": "allowed_in", "note": "by ferry"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    spec.check_reply("/v1/crossings", "post", &reply);
    let first = reply.json();
    let c = &first["crossing"];
    assert_eq!(first["checkpoint"], node.peer_id.as_str());
    assert_eq!(first["alert"], false);
    assert_eq!(first["opened_case"], Value::Null);
    assert_eq!(c["verdict"], "resident");
    assert_eq!(c["decision"], "allowed_in");
    assert_eq!(c["officer"], "Bripka Made");
    assert!(c["officer_id"].as_str().unwrap().starts_with("u-"), "{c}");
    assert_eq!(c["at_ms"], super::may_first_10am_ms());
    assert!(c["explanation"].as_str().unwrap().starts_with("RESIDENT"));
    // The basis is what the verdict was computed from: the village's heads.
    let heads = verdict(&node, &resident).await["basis"].clone();
    assert_eq!(c["basis"], heads);

    clock.advance(60_000);
    let bali = cross(
        &node,
        json!({"nik": nik_from(5101, 1, 7), "decision": "turned_back"}),
    )
    .await;
    assert_eq!(bali["crossing"]["verdict"], "barred");
    clock.advance(60_000);
    let dead = cross(
        &node,
        json!({"nik": p[2].nik.to_string(), "decision": "turned_back"}),
    )
    .await;
    assert_eq!(dead["alert"], true);
    clock.advance(60_000);
    // An invalid NIK is logged as typed.
    let typo = cross(
        &node,
        json!({"nik": "3510-15-1302850000", "decision": "turned_back"}),
    )
    .await;
    assert_eq!(typo["crossing"]["verdict"], "invalid");
    assert_eq!(typo["crossing"]["nik"], "3510-15-1302850000");

    // Open a case at the post: the person is then under isolation.
    clock.advance(60_000);
    let jember = nik_from(3509, 15, 2);
    let iso = cross(
        &node,
        json!({"nik": jember, "decision": "isolation_village_house", "village": VILLAGE, "open_case": true, "person_name": "Ani"}),
    )
    .await;
    assert_eq!(iso["crossing"]["verdict"], "non_resident");
    assert_eq!(iso["crossing"]["village"], VILLAGE);
    let case_id = iso["opened_case"].as_str().unwrap().to_string();
    assert_eq!(iso["crossing"]["case_id"], case_id.as_str());
    let case = node.get(&format!("/v1/cases/{case_id}")).await.json();
    assert_eq!(case["place"]["kind"], "village_house");
    assert_eq!(case["place"]["village"], VILLAGE);
    assert_eq!(case["required_days"], 14);
    assert_eq!(case["person_name"], "Ani");
    assert_eq!(case["opened_by"]["role"], "checkpoint");
    assert_eq!(case["origin"], "Kabupaten Jember, Jawa Timur (35.09)");
    let under = verdict(&node, &jember).await;
    assert_eq!(under["kind"], "resident_under_isolation");
    assert_eq!(under["verdict"]["case_id"], case_id.as_str());
    assert!(under["basis"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b["doc"] == format!("c/{case_id}")));
    // Seen again: the crossing refers to the open case by itself.
    clock.advance(60_000);
    let again = cross(&node, json!({"nik": jember, "decision": "turned_back"})).await;
    assert_eq!(again["crossing"]["verdict"], "resident_under_isolation");
    assert_eq!(again["crossing"]["case_id"], case_id.as_str());
    let twice = refused(
        &node,
        json!({"nik": jember, "decision": "isolation_gor", "open_case": true}),
        StatusCode::CONFLICT,
        "case_open",
    )
    .await;
    assert!(twice.contains(&case_id), "{twice}");

    // Family pick-up opens a case with the pledge.
    clock.advance(60_000);
    let family = cross(
        &node,
        json!({"nik": nik_from(3509, 15, 3), "decision": "picked_up_by_family", "open_case": true,
               "pledge": {"picked_up_by": "Siti Aminah", "relation": "mother", "phone": "0812 3456 789"}}),
    )
    .await;
    let family_case = family["opened_case"].as_str().unwrap();
    let case = node.get(&format!("/v1/cases/{family_case}")).await.json();
    assert_eq!(case["place"]["kind"], "family_pickup");
    assert_eq!(case["place"]["pledge"]["relation"], "mother");

    // The log, newest first, with paging.
    let log = node.get("/v1/crossings").await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text);
    spec.check_reply("/v1/crossings", "get", &log);
    let log = log.json();
    assert_eq!(log["checkpoint"], node.peer_id.as_str());
    assert_eq!(log["total"], 7);
    let verdicts: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(
        verdicts,
        [
            "non_resident",
            "resident_under_isolation",
            "non_resident",
            "invalid",
            "deceased",
            "barred",
            "resident"
        ]
    );
    assert_eq!(log["items"][6], first["crossing"]);
    let page = node
        .get(&format!(
            "/v1/crossings?checkpoint={}&offset=5&limit=1",
            node.peer_id
        ))
        .await
        .json();
    assert_eq!(page["total"], 7);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["verdict"], "barred");

    // The log keeps the verdicts as codes: no text in the replicated log
    // names the people checked, and the words are made when read.
    let local = kampung_node::Actor::local();
    let logged = node
        .state
        .crossings_page(&local, None, 0, 10)
        .await
        .unwrap();
    let by_nik = |n: &str| logged.items.iter().find(|c| c.nik == n).unwrap().clone();
    let r = by_nik(&resident);
    assert_eq!(
        (r.explanation.as_str(), r.found_in.map(|v| v.to_string())),
        ("", Some(VILLAGE.to_string()))
    );
    assert_eq!(
        by_nik(&nik_from(5101, 1, 7)).issued_in.as_deref(),
        Some("51.01")
    );
    assert_eq!(
        by_nik("3510-15-1302850000").rule.as_deref(),
        Some("serial_zero")
    );
    // ... in the reader's language.
    let auth = node.bearer();
    let read = node
        .call_as(
            axum::http::Method::GET,
            "/v1/crossings?limit=7",
            None,
            &[("authorization", &auth), ("accept-language", "id")],
        )
        .await
        .json();
    let lines: Vec<&str> = read["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["explanation"].as_str().unwrap())
        .collect();
    assert!(
        lines.contains(&"WARGA BANYUWANGI — terdaftar di Desa Kampunganyar (35.10.15.2012)."),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("DILARANG MASUK — ") && l.contains("Bali")),
        "{lines:?}"
    );
    let id = kampung_store::DocId::crossings_at(
        &node.peer_id,
        read["items"][0]["at_ms"]
            .as_i64()
            .expect("a crossing's time"),
    )
    .unwrap();
    let bytes = node.state.document_bytes(&local, &id).await.unwrap();
    let doc = automerge::Automerge::load(&bytes).unwrap();
    let texts = all_text(&doc, automerge::ROOT);
    // Each crossing is one value, a JSON array (crossing format 2).
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("[2,") && t.contains(&format!("\"{resident}\""))),
        "the walk reads the log: {texts:?}"
    );
    for person in &p {
        assert!(
            !texts.iter().any(|t| t.contains(person.full_name.as_str())),
            "{} is named in the crossing log: {texts:?}",
            person.full_name
        );
    }

    // The auditor replays every verdict on the registry state, the case
    // and the policy it was computed on: all seven hold.
    let replay = node.get("/v1/audit/replay").await;
    assert_eq!(replay.status, StatusCode::OK, "{}", replay.text);
    spec.check_reply("/v1/audit/replay", "get", &replay);
    let r = replay.json();
    assert_eq!(r["mismatches"], json!([]), "{r}");
    assert_eq!(
        (r["crossings"].as_u64(), r["matched"].as_u64()),
        (Some(7), Some(7)),
        "{r}"
    );
    assert_eq!(r["without_state"], 0);
    assert_eq!(r["checkpoints"], json!([node.peer_id.as_str()]));
    let later = node.get("/v1/audit/replay?from=2026-05-02").await.json();
    assert_eq!(later["crossings"], 0, "{later}");
    let mine = format!("/v1/audit/replay?checkpoint={}&to=2026-05-02", node.peer_id);
    assert_eq!(node.get(&mine).await.json()["matched"], 7);
    for (path, status, code) in [
        (
            "/v1/audit/replay?checkpoint=pos-ketapang".to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            format!("/v1/audit/replay?checkpoint={}", key.public().to_peer_id()),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "/v1/audit/replay?from=kemarin".to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "/v1/audit/replay?from=2026-05-02&to=2026-05-01".to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
    ] {
        let reply = node.get(&path).await;
        assert_eq!(error_code(&reply, status), code, "{path}: {}", reply.text);
        spec.check_reply("/v1/audit/replay", "get", &reply);
    }
    node.stop().await;
}

#[tokio::test]
async fn crossing_bodies_that_do_not_fit_are_refused_before_anything_is_written() {
    let node = Node::start_with(Opts::checkpoint()).await;
    let jember = nik_from(3509, 15, 2);
    let cases: Vec<(Value, StatusCode, &str, &str)> = vec![
        (
            json!({"nik": jember, "decision": "isolation_village_house"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "needs the village",
        ),
        (
            json!({"nik": jember, "decision": "isolation_village_house", "village": "35.10.99.2012"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "village",
        ),
        (
            json!({"nik": jember, "decision": "allowed_in", "village": VILLAGE}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "only an isolation_village_house",
        ),
        (
            json!({"nik": jember, "decision": "allowed_in", "open_case": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "isolation decision",
        ),
        (
            json!({"nik": jember, "decision": "picked_up_by_family", "open_case": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "pledge",
        ),
        (
            json!({"nik": jember, "decision": "isolation_home", "open_case": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "address",
        ),
        (
            json!({"nik": jember, "decision": "isolation_home", "address": "Jl. Ahmad Yani 1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "open_case",
        ),
        (
            json!({"nik": jember, "decision": "allowed_in", "case_id": "XYZ"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "case id",
        ),
        (
            json!({"nik": "3510151302850000", "decision": "isolation_gor", "open_case": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_nik",
            "serial",
        ),
        (
            json!({"nik": jember, "decision": "waved_through"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "unknown variant",
        ),
        (
            json!({"decision": "allowed_in"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "nik",
        ),
        (
            json!({"nik": jember, "decision": "isolation_gor", "open_case": true, "note": "x".repeat(2001)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "note: is longer than 2000",
        ),
        (
            json!({"nik": " ", "decision": "allowed_in"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "nik: is empty",
        ),
        (
            json!([]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "",
        ),
    ];
    for (body, status, code, words) in cases {
        let message = refused(&node, body.clone(), status, code).await;
        assert!(message.contains(words), "{body}: {message}");
    }
    let log = node.get("/v1/crossings").await.json();
    assert_eq!(log["total"], 0, "{log}");
    assert!(node
        .get("/v1/cases")
        .await
        .json()
        .as_array()
        .unwrap()
        .is_empty());
    node.stop().await;
}

#[tokio::test]
async fn only_a_checkpoint_logs_crossings_but_every_node_reads_logs() {
    let spec = Spec::load();
    let checkpoint = Node::start_with(Opts::checkpoint()).await;
    cross(
        &checkpoint,
        json!({"nik": nik_from(3509, 15, 2), "decision": "allowed_in"}),
    )
    .await;
    for opts in [
        Opts::village(),
        Opts::role("auditor"),
        Opts::role("facility:gor-tawangalun"),
    ] {
        let role = opts.role.tag();
        let node = Node::start_with(opts).await;
        let message = refused(
            &node,
            json!({"nik": nik_from(3509, 15, 2), "decision": "allowed_in"}),
            StatusCode::FORBIDDEN,
            "role_not_allowed",
        )
        .await;
        assert!(
            message.contains(&role) && message.contains("checkpoint"),
            "{message}"
        );
        // Without `checkpoint=` there is no log of its own to list.
        let reply = node.get("/v1/crossings").await;
        assert_eq!(
            error_code(&reply, StatusCode::BAD_REQUEST),
            "invalid_parameter"
        );
        assert_eq!(reply.json()["error"]["parameter"], "checkpoint");
        spec.check_reply("/v1/crossings", "get", &reply);
        // A log this node does not hold is empty.
        let other = node
            .get(&format!("/v1/crossings?checkpoint={}", checkpoint.peer_id))
            .await;
        assert_eq!(other.status, StatusCode::OK);
        assert_eq!(other.json()["total"], 0);
        node.stop().await;
    }
    for bad in [
        "checkpoint=not/a-peer",
        "limit=0",
        "limit=1001",
        "offset=-1",
        "chekpoint=x",
    ] {
        let reply = checkpoint.get(&format!("/v1/crossings?{bad}")).await;
        assert_eq!(
            error_code(&reply, StatusCode::BAD_REQUEST),
            "invalid_parameter",
            "{bad}"
        );
    }
    checkpoint.stop().await;
}

/// Every text value in `obj` and below.
fn all_text(doc: &automerge::Automerge, obj: automerge::ObjId) -> Vec<String> {
    use automerge::ReadDoc;
    let mut out = Vec::new();
    let values: Vec<(automerge::Value<'_>, automerge::ObjId)> = match doc.object_type(&obj) {
        Ok(automerge::ObjType::Map) => doc
            .map_range(&obj, ..)
            .map(|i| {
                let id = i.id();
                (i.value.into(), id)
            })
            .collect(),
        _ => doc
            .list_range(&obj, ..)
            .map(|i| {
                let id = i.id();
                (i.value.into(), id)
            })
            .collect(),
    };
    for (value, id) in values {
        match value {
            automerge::Value::Object(_) => out.extend(all_text(doc, id)),
            automerge::Value::Scalar(s) => {
                if let automerge::ScalarValue::Str(t) = s.as_ref() {
                    out.push(t.to_string());
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn crossing_months_past_the_policys_retention_leave_the_node() {
    let (key, clock, node, p) = checkpoint_on_may_first().await;
    let mut policy = kampung_core::Policy {
        version: 4,
        ..Default::default()
    };
    policy.retention.crossing_months = 1;
    let added = post_text(&node, &signed_policy(&key, policy)).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text);
    let total = |node: &Node| {
        let node = node.state.clone();
        async move {
            let logs = node.store().doc_heads().await.unwrap();
            let months: Vec<String> = logs
                .iter()
                .map(|(id, _)| id.to_string())
                .filter(|id| id.starts_with("x/"))
                .collect();
            months
        }
    };
    // Two crossings in May, one in June: a log for each month.
    for person in &p[..2] {
        cross(
            &node,
            json!({"nik": person.nik.to_string(), "decision": "allowed_in"}),
        )
        .await;
        clock.advance(60_000);
    }
    clock.advance(31 * 86_400_000);
    cross(
        &node,
        json!({"nik": p[0].nik.to_string(), "decision": "allowed_in"}),
    )
    .await;
    let peer = node.peer_id.clone();
    assert_eq!(
        total(&node).await,
        [format!("x/{peer}/2026-05"), format!("x/{peer}/2026-06")]
    );
    // In June, May is kept (one month after its own). The village's
    // details this test wrote into the checkpoint's own store have left
    // (at this sweep or the node's first): a checkpoint holds the
    // village's cards only.
    let swept = node.state.expire().await.unwrap();
    assert_eq!(swept.crossing_logs, 0);
    let held = node.state.store().doc_heads().await.unwrap();
    assert!(
        held.iter().all(|(id, _)| id.as_village().is_none()),
        "{held:?}"
    );
    assert!(
        held.iter().any(|(id, _)| id.as_card().is_some()),
        "{held:?}"
    );
    let listed = node.get("/v1/crossings?limit=10").await.json();
    assert_eq!(listed["total"], 3, "{listed}");
    // In July it goes: from memory, disk, and the list.
    clock.advance(30 * 86_400_000);
    let swept = node.state.expire().await.unwrap();
    assert_eq!(swept.crossing_logs, 1);
    assert_eq!(total(&node).await, [format!("x/{peer}/2026-06")]);
    let listed = node.get("/v1/crossings?limit=10").await.json();
    assert_eq!(listed["total"], 1, "{listed}");
    // The May log, and the details.
    let metrics = node.get("/metrics").await.text;
    assert!(
        metrics.contains("kampung_documents_expired_total 2"),
        "{metrics}"
    );
}
