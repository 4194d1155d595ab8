//! The OpenAPI description covers every route, and real answers match it.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use kampung_core::Status;
use serde_json::{json, Value};

use super::spec::Spec;
use super::{people, village, Node};

/// The paths the router really has, read from its `Debug` form (axum keeps
/// no public list). Only the routed paths, not the fallback's.
fn router_paths(node: &Node) -> BTreeSet<String> {
    let dbg = format!("{:?}", node.app);
    let start = dbg
        .find("path_router")
        .expect("axum's Router Debug shows path_router");
    let section = &dbg[start..];
    let section = &section[..section.find("fallback_router").unwrap_or(section.len())];
    let at = section
        .find("paths: {")
        .expect("axum's Router Debug lists the paths");
    // Every quoted string after `paths: {` is a path (Debug escapes quotes inside).
    section[at..]
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// A path template with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{nik}", "3510155203850001")
        .replace("{id}", "0123456789abcdef")
}

fn spec_operations(spec: &Spec) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in spec.0["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            ops.push((path.clone(), method.clone()));
        }
    }
    ops
}

#[tokio::test]
async fn every_route_of_the_router_is_in_the_spec_and_back() {
    let node = Node::start(Some(village())).await;
    let spec = Spec::load();
    let routed = router_paths(&node);
    assert!(
        routed.contains("/healthz") && routed.contains("/v1/residents/{nik}"),
        "could not read the router's paths: {routed:?}"
    );
    let described: BTreeSet<String> = spec.0["paths"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let missing: Vec<_> = routed.difference(&described).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the OpenAPI description: {missing:?}"
    );
    let extra: Vec<_> = described.difference(&routed).collect();
    assert!(extra.is_empty(), "described but not routed: {extra:?}");

    // Every method a path answers is described: probe each path with every
    // method (the router answers 405 to the ones it does not route).
    let described_ops = spec_operations(&spec);
    for path in &routed {
        let uri = concrete(path);
        for m in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ] {
            let reply = node.call(m.clone(), &uri, Some(json!([]))).await;
            if reply.status != StatusCode::METHOD_NOT_ALLOWED {
                let op = (path.clone(), m.as_str().to_lowercase());
                assert!(
                    described_ops.contains(&op),
                    "{m} {path} is routed but not in the OpenAPI description"
                );
            }
        }
    }

    // Every described method is routed (no 405, no unmatched 404).
    for (path, method) in described_ops {
        let uri = concrete(&path);
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let body = (m == Method::POST).then(|| json!([]));
        let reply = node.call(m, &uri, body).await;
        assert_ne!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        if reply.status == StatusCode::NOT_FOUND {
            assert_ne!(
                reply.json()["error"]["code"],
                "not_found",
                "{method} {path}"
            );
        }
    }
    node.stop().await;
}

#[tokio::test]
async fn the_node_serves_an_openapi_3_document() {
    let node = Node::start(None).await;
    let reply = node.get("/v1/openapi.json").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type, "application/json");
    let doc = reply.json();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let codes = &doc["components"]["schemas"]["ErrorCode"]["enum"];
    for code in [
        "invalid_parameter",
        "not_registered",
        "not_found",
        "shutting_down",
    ] {
        assert!(codes.as_array().unwrap().contains(&json!(code)), "{code}");
    }
    // Every operation documents its success response.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(op["responses"]["200"].is_object(), "{method} {path}");
        }
    }
    node.stop().await;
}

#[tokio::test]
async fn answers_match_the_spec() {
    let spec = Spec::load();
    let node = Node::start(Some(village())).await;
    let mut p = people(12, 4);
    p[0].status = Status::Active;
    p[1].status = Status::MovedOut {
        destination: "Kota Surabaya".into(),
        date: None,
    };
    p[2].status = Status::Deceased {
        date: Some(time::macros::date!(2024 - 05 - 01)),
    };
    node.put(p.clone()).await;

    let check = |path: &'static str, method: &'static str| {
        let spec = &spec;
        move |reply: super::Reply| spec.check_reply(path, method, &reply)
    };
    check("/healthz", "get")(node.get("/healthz").await);
    for nik in [
        p[0].nik.to_string(),
        p[1].nik.to_string(),
        p[2].nik.to_string(),
        "5101015203850007".to_string(),
        "3510151302850000".to_string(),
        "35101x".to_string(),
    ] {
        let reply = node.get(&format!("/v1/lookup/{nik}")).await;
        assert_eq!(reply.status, StatusCode::OK);
        check("/v1/lookup/{nik}", "get")(reply);
    }
    check("/v1/residents", "get")(node.get("/v1/residents?limit=5").await);
    check("/v1/residents", "get")(node.get("/v1/residents?limit=0").await);
    let one = node.get(&format!("/v1/residents/{}", p[2].nik)).await;
    assert_eq!(one.status, StatusCode::OK);
    check("/v1/residents/{nik}", "get")(one);
    let path = "/v1/residents/{nik}";
    check(path, "get")(node.get("/v1/residents/3510155203859999").await);
    check(path, "get")(node.get("/v1/residents/351015").await);
    check(path, "get")(node.get("/v1/residents/3510155203850001?village=1").await);

    let records = serde_json::to_value(&p[..3]).unwrap();
    let mut wrong = p[3].clone();
    wrong.village = kampung_core::VillageCode::parse("35.10.21.2003").unwrap();
    let mixed: Value = json!([records[0], serde_json::to_value(&wrong).unwrap()]);
    let checked = node
        .call(Method::POST, "/v1/residents/check", Some(mixed))
        .await;
    assert_eq!(checked.json()["refused"][0]["index"], 1);
    check("/v1/residents/check", "post")(checked);
    let written = node
        .call(Method::POST, "/v1/residents", Some(records))
        .await;
    assert_eq!(written.status, StatusCode::OK, "{}", written.text);
    check("/v1/residents", "post")(written);
    check("/v1/residents", "post")(
        node.call(
            Method::POST,
            "/v1/residents",
            Some(json!({"not": "a list"})),
        )
        .await,
    );
    check("/v1/status", "get")(node.get("/v1/status").await);
    check("/v1/peers", "get")(node.get("/v1/peers").await);
    let history = node
        .get(&format!(
            "/v1/audit/history/{}?village=35.10.15.2012",
            p[1].nik
        ))
        .await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.text);
    let events = history.json()["events"].clone();
    assert_eq!(events[0]["kind"], "added", "{events}");
    assert_eq!(events[0]["verified"], true, "{events}");
    check("/v1/audit/history/{nik}", "get")(history);
    check("/v1/audit/history/{nik}", "get")(node.get("/v1/audit/history/35101x").await);
    let verified = node.get("/v1/audit/verify").await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text);
    let report = verified.json();
    assert!(
        report["summary"]["changes"].as_u64().unwrap() > 3,
        "{report}"
    );
    assert!(
        !report["periods"].as_array().unwrap().is_empty(),
        "{report}"
    );
    check("/v1/audit/verify", "get")(verified);
    check("/v1/audit/history/{nik}", "get")(
        node.get(&format!("/v1/audit/history/{}?village=35.10", p[1].nik))
            .await,
    );

    let checkpoint = Node::start(None).await;
    let refused = checkpoint
        .call(Method::POST, "/v1/residents", Some(json!([])))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    spec.check_reply("/v1/residents", "post", &refused);
    checkpoint.stop().await;
    node.stop().await;
}

#[tokio::test]
async fn errors_are_json_with_stable_codes() {
    let spec = Spec::load();
    let error_body = json!({"$ref": "#/components/schemas/ErrorBody"});
    let node = Node::start(Some(village())).await;
    let cases: Vec<(Method, &str, Option<Value>, StatusCode, &str)> = vec![
        (
            Method::GET,
            "/v1/nope",
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::DELETE,
            "/v1/status",
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Method::GET,
            "/v1/residents/3510155203850001?vilage=35.10.15.2012",
            None,
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            Method::GET,
            "/v1/residents/3510155203850001",
            None,
            StatusCode::NOT_FOUND,
            "not_registered",
        ),
        (
            Method::GET,
            "/v1/residents/3510155203850001?village=35.10.99.2012",
            None,
            StatusCode::BAD_REQUEST,
            "invalid_village",
        ),
        (
            Method::POST,
            "/v1/residents",
            Some(json!([{"nik": 12}])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
    ];
    for (method, uri, body, status, code) in cases {
        let reply = node.call(method.clone(), uri, body).await;
        assert_eq!(reply.status, status, "{method} {uri}: {}", reply.text);
        assert!(
            reply.content_type.starts_with("application/json"),
            "{method} {uri}"
        );
        let v = reply.json();
        assert_eq!(v["error"]["code"], code, "{method} {uri}: {v}");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty());
        spec.check(&v, &error_body, "$").unwrap();
    }
    // A body that is not declared as JSON.
    let raw = post_raw(&node, "/v1/residents", "text/plain", "[]").await;
    assert_eq!(raw.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(raw.1["error"]["code"], "unsupported_media_type");
    node.stop().await;
}

/// Send a POST with any content type.
async fn post_raw(node: &Node, uri: &str, content_type: &str, body: &str) -> (StatusCode, Value) {
    use tower::ServiceExt;
    let app = &node.app;
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header("authorization", node.bearer())
        .header("content-type", content_type)
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

/// A third-party validator (Python's openapi-spec-validator, which `.ci/run`
/// and `scripts/test` install) accepts the description.
#[test]
fn a_third_party_validator_accepts_the_description() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openapi.json");
    std::fs::write(&path, kampung_api::openapi::json()).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&path)
        .output()
        .expect("python3 runs (scripts/test installs openapi-spec-validator)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains("No module named"),
        "openapi-spec-validator is not installed: run `pip install openapi-spec-validator` (scripts/test does)"
    );
    assert!(
        out.status.success(),
        "the OpenAPI description is invalid:\n{text}"
    );
}
