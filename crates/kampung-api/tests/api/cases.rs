//! Isolation cases through the API: open, place, pick-up, follow-ups,
//! release, today's due follow-ups; who may write; bad input.

use axum::http::StatusCode;
use kampung_core::Status;
use serde_json::{json, Value};

use super::spec::Spec;
use super::{error_code, may_first_10am_ms, nik_from, people, Clock, Node, Opts, DAY_MS, VILLAGE};

async fn ok(node: &Node, uri: &str, path: &str, body: Value) -> Value {
    let reply = node.post(uri, body.clone()).await;
    assert_eq!(reply.status, StatusCode::OK, "{uri} {body}: {}", reply.text);
    Spec::load().check_reply(path, "post", &reply);
    reply.json()
}

/// POST and require an error: its message.
async fn err(
    node: &Node,
    uri: &str,
    path: &str,
    body: Value,
    status: StatusCode,
    code: &str,
) -> String {
    let reply = node.post(uri, body.clone()).await;
    assert_eq!(error_code(&reply, status), code, "{uri} {body}");
    Spec::load().check_reply(path, "post", &reply);
    reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn open(node: &Node, body: Value) -> Value {
    ok(node, "/v1/cases", "/v1/cases", body).await
}

async fn case(node: &Node, id: &str) -> Value {
    let reply = node.get(&format!("/v1/cases/{id}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    Spec::load().check_reply("/v1/cases/{id}", "get", &reply);
    reply.json()
}

async fn due(node: &Node) -> Value {
    let reply = node.get("/v1/follow-ups/today").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    Spec::load().check_reply("/v1/follow-ups/today", "get", &reply);
    reply.json()
}

fn due_ids(d: &Value) -> Vec<String> {
    d["due"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["case_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_case_runs_from_opening_through_follow_ups_and_transfers_to_release() {
    let clock = Clock::manual(may_first_10am_ms());
    let node =
        Node::start_with(Opts::role("facility:gor-tawangalun").with_clock(clock.clone())).await;
    let jember = nik_from(3509, 15, 2);
    let opened = open(&node, json!({"nik": jember, "place": {"kind": "gor"}})).await;
    let id = opened["case_id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 16);
    assert_eq!(opened["nik"], jember.as_str());
    assert_eq!(opened["origin"], "Kabupaten Jember, Jawa Timur (35.09)");
    assert_eq!(opened["opened_on"], "2026-05-01");
    assert_eq!(opened["opened_by"]["peer"], node.peer_id.as_str());
    assert_eq!(opened["opened_by"]["role"], "facility");
    assert_eq!(opened["required_days"], 14);
    assert_eq!(opened["day"], 1);
    assert_eq!(opened["days_remaining"], 14);
    assert_eq!(opened["period_ended"], false);
    assert_eq!(opened["released"], false);
    assert_eq!(opened["place"], json!({"kind": "gor"}));
    assert_eq!(opened["person_name"], Value::Null);
    assert_eq!(case(&node, &id).await, opened);

    // A second case for the same person is refused.
    let again = err(
        &node,
        "/v1/cases",
        "/v1/cases",
        json!({"nik": jember, "place": {"kind": "gor"}}),
        StatusCode::CONFLICT,
        "case_open",
    )
    .await;
    assert!(again.contains(&id), "{again}");

    // Day 1: a follow-up is due until someone records it.
    let d = due(&node).await;
    assert_eq!(d["date"], "2026-05-01");
    assert_eq!(due_ids(&d), std::slice::from_ref(&id));
    let fu = format!("/v1/cases/{id}/follow-ups");
    let path = "/v1/cases/{id}/follow-ups";
    let seen = ok(
        &node,
        &fu,
        path,
        json!({"outcome": "seen_ok", "note": "fever gone"}),
    )
    .await;
    assert_eq!(seen["follow_up_due"], false);
    assert_eq!(seen["today"][0]["date"], "2026-05-01");
    assert_eq!(seen["today"][0]["outcome"], "seen_ok");
    assert_eq!(seen["today"][0]["note"], "fever gone");
    assert!(due_ids(&due(&node).await).is_empty());
    for (body, code, words) in [
        (
            json!({"outcome": "seen_ok", "date": "2026-04-30"}),
            "refused",
            "opened on 2026-05-01",
        ),
        (
            json!({"outcome": "seen_ok", "date": "2026-05-02"}),
            "refused",
            "recorded on 2026-05-01",
        ),
        (
            json!({"outcome": "seen_ok", "date": "1 May"}),
            "invalid_body",
            "YYYY-MM-DD",
        ),
        (
            json!({"outcome": "fine"}),
            "invalid_body",
            "unknown variant",
        ),
    ] {
        let message = err(
            &node,
            &fu,
            path,
            body.clone(),
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
        )
        .await;
        assert!(message.contains(words), "{body}: {message}");
    }

    // Day 2: transfer home, then family pick-up with the pledge.
    clock.advance(DAY_MS);
    assert_eq!(due_ids(&due(&node).await), std::slice::from_ref(&id));
    let home = ok(
        &node,
        &format!("/v1/cases/{id}/placement"),
        "/v1/cases/{id}/placement",
        json!({"place": {"kind": "home", "address": "Jl. Ahmad Yani 12, Kampunganyar"}}),
    )
    .await;
    assert_eq!(home["day"], 2);
    assert_eq!(home["place"]["kind"], "home");
    let empty_home = err(
        &node,
        &format!("/v1/cases/{id}/placement"),
        "/v1/cases/{id}/placement",
        json!({"place": {"kind": "home", "address": " "}}),
        StatusCode::UNPROCESSABLE_ENTITY,
        "refused",
    )
    .await;
    assert!(empty_home.contains("home address"), "{empty_home}");
    let pickup = format!("/v1/cases/{id}/pickup");
    let bad_phone = err(
        &node,
        &pickup,
        "/v1/cases/{id}/pickup",
        json!({"picked_up_by": "Siti", "relation": "mother", "phone": "call me"}),
        StatusCode::UNPROCESSABLE_ENTITY,
        "refused",
    )
    .await;
    assert!(bad_phone.contains("phone"), "{bad_phone}");
    clock.advance(1000);
    let family = ok(
        &node,
        &pickup,
        "/v1/cases/{id}/pickup",
        json!({"picked_up_by": "Siti Aminah", "relation": "mother", "phone": "+62 812-3456-7890"}),
    )
    .await;
    assert_eq!(family["place"]["kind"], "family_pickup");
    assert_eq!(family["place"]["pledge"]["picked_up_by"], "Siti Aminah");
    assert_eq!(family["placed_by"]["role"], "facility");
    let noted = ok(
        &node,
        &format!("/v1/cases/{id}/notes"),
        "/v1/cases/{id}/notes",
        json!({"text": "mother will bring her to the puskesmas on day 7"}),
    )
    .await;
    assert_eq!(noted["case_id"], id.as_str());

    // The period is not over: a period_ended release is refused, naming the day.
    let release = format!("/v1/cases/{id}/release");
    let rpath = "/v1/cases/{id}/release";
    let early = err(
        &node,
        &release,
        rpath,
        json!({"reason": "period_ended"}),
        StatusCode::UNPROCESSABLE_ENTITY,
        "refused",
    )
    .await;
    assert!(early.contains("day 2 of 14"), "{early}");
    let with_detail = err(
        &node,
        &release,
        rpath,
        json!({"reason": "period_ended", "detail": "x"}),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    assert!(with_detail.contains("detail"), "{with_detail}");

    // Day 15: the period has ended.
    clock.advance(13 * DAY_MS);
    let day15 = case(&node, &id).await;
    assert_eq!(day15["day"], 15);
    assert_eq!(day15["days_remaining"], 0);
    assert_eq!(day15["period_ended"], true);
    let released = ok(&node, &release, rpath, json!({"reason": "period_ended"})).await;
    assert_eq!(released["released"], true);
    assert_eq!(released["release"]["reason"], "period_ended");
    assert_eq!(released["release"]["on"], "2026-05-15");
    assert_eq!(released["release"]["detail"], Value::Null);
    assert_eq!(released["follow_up_due"], false);
    assert!(due_ids(&due(&node).await).is_empty());
    let twice = err(
        &node,
        &release,
        rpath,
        json!({"reason": "period_ended"}),
        StatusCode::UNPROCESSABLE_ENTITY,
        "refused",
    )
    .await;
    assert!(twice.contains("already released"), "{twice}");
    let after = err(
        &node,
        &format!("/v1/cases/{id}/placement"),
        "/v1/cases/{id}/placement",
        json!({"place": {"kind": "gor"}}),
        StatusCode::UNPROCESSABLE_ENTITY,
        "refused",
    )
    .await;
    assert!(after.contains("released"), "{after}");
    // The whole history: every placement, follow-up, note and the release,
    // in time order, although `today` has long moved on.
    let reply = node.get(&format!("/v1/cases/{id}/history")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    Spec::load().check_reply("/v1/cases/{id}/history", "get", &reply);
    let h = reply.json();
    assert_eq!(h["case"]["case_id"], id.as_str());
    assert_eq!(h["case"]["released"], true);
    let kinds: Vec<&str> = h["placements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["place"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["gor", "home", "family_pickup"], "{h}");
    assert_eq!(h["follow_ups"].as_array().unwrap().len(), 1, "{h}");
    assert_eq!(h["follow_ups"][0]["date"], "2026-05-01");
    assert_eq!(h["follow_ups"][0]["note"], "fever gone");
    assert_eq!(
        h["notes"][0]["text"],
        "mother will bring her to the puskesmas on day 7"
    );
    assert_eq!(h["notes"][0]["by"]["role"], "facility");
    assert_eq!(h["releases"].as_array().unwrap().len(), 1, "{h}");
    assert_eq!(h["releases"][0]["on"], "2026-05-15");
    let missing = node.get("/v1/cases/0000000000000000/history").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text);
    // Released: the person may open a new case.
    let reopened = open(&node, json!({"nik": jember, "place": {"kind": "gor"}})).await;
    assert_ne!(reopened["case_id"], id.as_str());
    node.stop().await;
}

#[tokio::test]
async fn an_early_release_needs_its_reason() {
    let node = Node::start_with(Opts::village()).await;
    let mut p = people(3, 5);
    p[0].status = Status::Active;
    node.put(p.clone()).await;
    // A resident: the name comes from the registry.
    let opened = open(
        &node,
        json!({"nik": p[0].nik.to_string(), "place": {"kind": "village_house", "village": VILLAGE}}),
    )
    .await;
    assert_eq!(opened["person_name"], p[0].full_name.as_str());
    assert_eq!(opened["opened_by"]["role"], "village");
    let id = opened["case_id"].as_str().unwrap();
    let release = format!("/v1/cases/{id}/release");
    let rpath = "/v1/cases/{id}/release";
    let message = err(
        &node,
        &release,
        rpath,
        json!({"reason": "early"}),
        StatusCode::UNPROCESSABLE_ENTITY,
        "refused",
    )
    .await;
    assert!(message.contains("must say why"), "{message}");
    let done = ok(
        &node,
        &release,
        rpath,
        json!({"reason": "early", "detail": "negative PCR test, decision of the task force"}),
    )
    .await;
    assert_eq!(done["release"]["reason"], "early");
    assert_eq!(
        done["release"]["detail"],
        "negative PCR test, decision of the task force"
    );
    assert_eq!(done["day"], 1);
    let listed = node.get("/v1/cases").await;
    Spec::load().check_reply("/v1/cases", "get", &listed);
    assert_eq!(listed.json().as_array().unwrap().len(), 1);
    node.stop().await;
}

#[tokio::test]
async fn an_auditor_reads_cases_but_writes_none() {
    let writer = Node::start_with(Opts::checkpoint()).await;
    let opened = open(
        &writer,
        json!({"nik": nik_from(3509, 15, 2), "place": {"kind": "gor"}}),
    )
    .await;
    let id = opened["case_id"].as_str().unwrap().to_string();
    writer.stop().await;

    let auditor = Node::start_with(Opts::role("auditor")).await;
    let message = err(
        &auditor,
        "/v1/cases",
        "/v1/cases",
        json!({"nik": nik_from(3509, 15, 2), "place": {"kind": "gor"}}),
        StatusCode::FORBIDDEN,
        "role_not_allowed",
    )
    .await;
    assert!(
        message.contains("auditor") && message.contains("reads them only"),
        "{message}"
    );
    // Updates are refused for the role before the case is looked for.
    for (route, body) in [
        ("placement", json!({"place": {"kind": "gor"}})),
        (
            "pickup",
            json!({"picked_up_by": "Siti", "relation": "mother", "phone": "0812345678"}),
        ),
        ("follow-ups", json!({"outcome": "missed"})),
        ("notes", json!({"text": "x"})),
        ("release", json!({"reason": "early", "detail": "x"})),
    ] {
        err(
            &auditor,
            &format!("/v1/cases/{id}/{route}"),
            &format!("/v1/cases/{{id}}/{route}"),
            body,
            StatusCode::FORBIDDEN,
            "role_not_allowed",
        )
        .await;
    }
    let listed = auditor.get("/v1/cases").await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(listed.json().as_array().unwrap().is_empty());
    assert!(due_ids(&due(&auditor).await).is_empty());
    auditor.stop().await;
}

#[tokio::test]
async fn bad_case_requests_are_refused_with_their_reason() {
    let node = Node::start_with(Opts::checkpoint()).await;
    for (body, code, words) in [
        (
            json!({"nik": "3510151302850000", "place": {"kind": "gor"}}),
            "invalid_nik",
            "serial",
        ),
        (
            json!({"nik": nik_from(3509, 15, 2)}),
            "invalid_body",
            "place",
        ),
        (
            json!({"nik": nik_from(3509, 15, 2), "place": {"kind": "hotel"}}),
            "invalid_body",
            "unknown variant",
        ),
        (
            json!({"nik": nik_from(3509, 15, 2), "place": {"kind": "gor"}, "colour": 1}),
            "invalid_body",
            "colour",
        ),
        (
            json!({"nik": nik_from(3509, 15, 2), "place": {"kind": "family_pickup", "pledge": {"picked_up_by": "", "relation": "x", "phone": "0812345678"}}}),
            "refused",
            "picked up by",
        ),
    ] {
        let message = err(
            &node,
            "/v1/cases",
            "/v1/cases",
            body.clone(),
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
        )
        .await;
        assert!(message.contains(words), "{body}: {message}");
    }
    assert!(node
        .get("/v1/cases")
        .await
        .json()
        .as_array()
        .unwrap()
        .is_empty());

    let missing = node.get("/v1/cases/0123456789abcdef").await;
    assert_eq!(
        error_code(&missing, StatusCode::NOT_FOUND),
        "case_not_found"
    );
    Spec::load().check_reply("/v1/cases/{id}", "get", &missing);
    let update = err(
        &node,
        "/v1/cases/0123456789abcdef/notes",
        "/v1/cases/{id}/notes",
        json!({"text": "x"}),
        StatusCode::NOT_FOUND,
        "case_not_found",
    )
    .await;
    assert!(update.contains("0123456789abcdef"), "{update}");
    let malformed = node.get("/v1/cases/ABC").await;
    assert_eq!(
        error_code(&malformed, StatusCode::BAD_REQUEST),
        "invalid_parameter"
    );
    assert_eq!(malformed.json()["error"]["parameter"], "id");
    Spec::load().check_reply("/v1/cases/{id}", "get", &malformed);
    node.stop().await;
}
