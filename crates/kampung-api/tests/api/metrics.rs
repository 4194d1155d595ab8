//! `/metrics` after real requests: names, labels and values.

use axum::http::StatusCode;
use kampung_core::Status;
use prometheus_client::metrics::counter::Counter;

use super::{people, village, Node, Opts};

/// The value of one series (`name{labels}` exactly as exposed), if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .map(|v| v.split(' ').next().unwrap_or(v).parse().unwrap())
    })
}

fn must(text: &str, series: &str) -> f64 {
    value(text, series).unwrap_or_else(|| panic!("no series {series} in:\n{text}"))
}

#[tokio::test]
async fn metrics_count_lookups_verdicts_requests_and_store_state() {
    let node = Node::start(Some(village())).await;
    let mut p = people(6, 2);
    for r in &mut p {
        r.status = Status::Active;
    }
    p[5].status = Status::Deceased { date: None };
    node.put(p.clone()).await;

    for nik in [
        p[0].nik.to_string(),
        p[1].nik.to_string(),
        p[2].nik.to_string(),
        p[5].nik.to_string(),
        "5101015203850007".to_string(), // Bali-issued, not registered
        "3510151302850000".to_string(), // serial 0000
        "3510151302850000".to_string(),
    ] {
        let r = node.get(&format!("/v1/lookup/{nik}")).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    assert_eq!(
        node.get("/v1/no-such-route").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        node.get("/v1/residents?limit=abc").await.status,
        StatusCode::BAD_REQUEST
    );

    let reply = node.get("/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply
            .content_type
            .starts_with("application/openmetrics-text"),
        "{}",
        reply.content_type
    );
    let text = reply.text;
    assert!(text.trim_end().ends_with("# EOF"));
    assert!(text.contains("# TYPE kampung_lookups counter"));
    assert_eq!(must(&text, "kampung_lookups_total"), 7.0);
    // Which build answers (as /healthz and /v1/status say too).
    let (commit, date) = kampung_node::VERSION
        .split_once('(')
        .unwrap()
        .1
        .trim_end_matches(')')
        .split_once(' ')
        .unwrap();
    let build = format!(
        r#"kampung_build_info{{version="{}",commit="{commit}",commit_date="{date}"}}"#,
        env!("CARGO_PKG_VERSION"),
    );
    assert_eq!(must(&text, &build), 1.0, "{text}");
    assert_eq!(
        must(&text, r#"kampung_verdicts_total{verdict="resident"}"#),
        3.0
    );
    assert_eq!(
        must(&text, r#"kampung_verdicts_total{verdict="deceased"}"#),
        1.0
    );
    assert_eq!(
        must(&text, r#"kampung_verdicts_total{verdict="non_resident"}"#),
        1.0
    );
    assert_eq!(
        must(&text, r#"kampung_verdicts_total{verdict="invalid"}"#),
        2.0
    );
    assert_eq!(
        value(&text, r#"kampung_verdicts_total{verdict="moved_out"}"#),
        None
    );

    // Requests by route template (never the raw path) and status.
    assert_eq!(
        must(
            &text,
            r#"kampung_http_requests_total{method="GET",route="/v1/lookup/{nik}",status="200"}"#
        ),
        7.0
    );
    assert_eq!(
        must(
            &text,
            r#"kampung_http_requests_total{method="GET",route="unmatched",status="404"}"#
        ),
        1.0
    );
    assert_eq!(
        must(
            &text,
            r#"kampung_http_requests_total{method="GET",route="/v1/residents",status="400"}"#
        ),
        1.0
    );
    assert!(!text.contains("no-such-route"));
    assert!(text.contains("# TYPE kampung_http_request_duration_seconds histogram"));
    assert_eq!(
        must(
            &text,
            r#"kampung_http_request_duration_seconds_count{method="GET",route="/v1/lookup/{nik}"}"#
        ),
        7.0
    );
    assert_eq!(
        must(
            &text,
            r#"kampung_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/v1/lookup/{nik}"}"#
        ),
        7.0
    );

    // State read at scrape time: the store and the (lonely) mesh.
    // The village's cards and details.
    assert_eq!(must(&text, "kampung_documents"), 2.0);
    assert_eq!(must(&text, "kampung_niks_indexed"), 6.0);
    assert_eq!(must(&text, "kampung_mesh_peers"), 0.0);
    assert_eq!(must(&text, "kampung_remote_changes_rejected_total"), 0.0);
    assert_eq!(
        must(&text, r#"kampung_sync_lag_seconds{doc="k/35.10.15.2012"}"#),
        0.0
    );

    // The scrape itself is counted from the next one on.
    let again = node.get("/metrics").await.text;
    assert_eq!(
        must(
            &again,
            r#"kampung_http_requests_total{method="GET",route="/metrics",status="200"}"#
        ),
        1.0
    );
    node.stop().await;
}

#[tokio::test]
async fn other_subsystems_register_and_count_their_own_metrics() {
    let node = Node::start(None).await;
    let crossings = Counter::<u64>::default();
    node.state.metrics().register(
        "crossings_recorded",
        "Crossings recorded",
        crossings.clone(),
    );
    crossings.inc_by(3);
    let text = node.get("/metrics").await.text;
    assert_eq!(must(&text, "kampung_crossings_recorded_total"), 3.0);
    // A checkpoint holds no document yet and writes none: every village's
    // copy is missing, its lag unbounded.
    assert_eq!(must(&text, "kampung_documents"), 0.0);
    let lags: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("kampung_sync_lag_seconds{"))
        .collect();
    assert_eq!(lags.len(), 217, "one per village");
    assert!(lags.iter().all(|l| l.ends_with(" +Inf")), "{lags:?}");
    node.stop().await;
}

#[tokio::test]
async fn healthz_tells_the_truth_about_the_disk_and_the_certificate() {
    // Healthy: 200, no problems.
    let node = Node::start_with(Opts::checkpoint()).await;
    let r = node.get("/healthz").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["status"], "ok");
    assert_eq!(r.json()["version"], kampung_node::VERSION);
    assert_eq!(r.json()["problems"], serde_json::json!([]));

    // A disk with less room than the node needs: 503, which, and what to do;
    // status says the same.
    let dir = tempfile::tempdir().unwrap();
    let mut opts = Opts::checkpoint();
    opts.health = kampung_node::HealthConfig {
        data_dir: Some(dir.path().to_path_buf()),
        min_free_bytes: u64::MAX,
    };
    let node = Node::start_with(opts).await;
    let r = node.get("/healthz").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    let v = r.json();
    assert_eq!(v["status"], "unhealthy");
    assert_eq!(v["problems"][0]["code"], "disk_low", "{v}");
    assert!(
        v["problems"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("free some space"),
        "{v}"
    );
    let status = node.get("/v1/status").await.json();
    assert_eq!(status["problems"][0]["code"], "disk_low", "{status}");

    // A node under a root that holds no certificate of its own.
    let root = kampung_mesh::identity::Keypair::generate_ed25519();
    let roster =
        kampung_trust::Roster::new(kampung_trust::NodeKey::from_public(&root.public()).unwrap());
    let node = Node::start_with(
        Opts::checkpoint().with_roster(std::sync::Arc::new(std::sync::RwLock::new(roster))),
    )
    .await;
    let r = node.get("/healthz").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert_eq!(r.json()["problems"][0]["code"], "no_certificate");

    // Its certificate starts tomorrow: this computer's clock is behind it.
    let (root, roster) = super::trust::root();
    let node = Node::start_with(Opts::checkpoint().with_roster(roster.clone())).await;
    let tomorrow = node.state.now_ms() + 86_400_000;
    let cert = kampung_trust::Signed::sign(
        kampung_trust::Statement::Certificate(kampung_trust::Certificate {
            node: node.peer_id.parse().unwrap(),
            role: kampung_core::RoleKind::Checkpoint,
            village: None,
            label: "Pos Pelabuhan Ketapang".into(),
            not_before_ms: tomorrow,
            until_ms: tomorrow + 86_400_000,
        }),
        &root,
    )
    .unwrap();
    roster.write().unwrap().add(cert).unwrap();
    let r = node.get("/healthz").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    let v = r.json();
    assert_eq!(v["problems"][0]["code"], "clock_before_certificate", "{v}");
    assert!(
        v["problems"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("check the date, time and time zone"),
        "{v}"
    );
}

/// Every `expr` of a Grafana dashboard, wherever it is nested.
fn exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr", serde_json::Value::String(e)) => out.push(e.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn prometheus_text_passes_promtool_and_the_dashboard_names_only_metrics_that_exist() {
    let node = Node::start(Some(village())).await;
    let p = people(3, 4);
    node.put(p.clone()).await;
    assert_eq!(
        node.get(&format!("/v1/lookup/{}", p[0].nik)).await.status,
        StatusCode::OK
    );
    // What a classic scraper (and promtool) asks for.
    let auth = format!("Bearer {}", node.running.local_credential());
    let reply = node
        .call_as(
            axum::http::Method::GET,
            "/metrics",
            None,
            &[
                ("authorization", auth.as_str()),
                ("accept", "text/plain;version=0.0.4;q=1,*/*;q=0.1"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply.content_type.starts_with("text/plain; version=0.0.4"),
        "{}",
        reply.content_type
    );
    let text = reply.text;
    assert!(!text.contains("# EOF"), "{text}");

    use std::io::Write;
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool runs (Debian's prometheus package; .ci/run installs it)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(
        checked.status.success() && said.trim().is_empty(),
        "promtool: {said}\n{text}"
    );

    // The dashboard in the repository names only metrics the node exposes.
    let dashboard: serde_json::Value =
        serde_json::from_str(include_str!("../../../../docs/grafana/kampung.json")).unwrap();
    let mut all = Vec::new();
    exprs(&dashboard, &mut all);
    assert!(all.len() >= 10, "{all:?}");
    let exposed: std::collections::HashSet<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let mut named = 0;
    for expr in &all {
        for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')) {
            if word.starts_with("kampung_") || word.starts_with("process_") {
                named += 1;
                assert!(
                    exposed.contains(word),
                    "the dashboard names {word} (in {expr}), which /metrics does not expose"
                );
            }
        }
    }
    assert!(named >= all.len(), "every panel names a metric");
    node.stop().await;
}
