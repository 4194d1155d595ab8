//! `POST /v1/trust`: root-signed statement files handed to a running node.

use std::sync::{Arc, RwLock};

use axum::http::StatusCode;
use kampung_core::RoleKind;
use kampung_core::{Policy, Region};
use kampung_mesh::identity::Keypair;
use kampung_store::trust::SharedRoster;
use kampung_trust::{Certificate, IssuedPolicy, NodeKey, Roster, Signed, Statement};
use serde_json::Value;

use super::spec::Spec;
use super::{error_code, nik_from, Node, Opts};

/// A fresh root key and an empty roster trusting it.
pub fn root() -> (Keypair, SharedRoster) {
    let key = Keypair::generate_ed25519();
    let roster = Roster::new(NodeKey::from_public(&key.public()).unwrap());
    (key, Arc::new(RwLock::new(roster)))
}

/// The file text of a policy signed by `root`.
pub fn policy_file(root: &Keypair, version: u64, barred: &[&str], days: u32) -> String {
    let policy = Policy {
        version,
        barred: barred.iter().map(|r| Region::parse(r).unwrap()).collect(),
        isolation_days: days,
        ..Default::default()
    };
    signed_policy(root, policy)
}

/// The file text of `policy` signed by `root`.
pub fn signed_policy(root: &Keypair, policy: Policy) -> String {
    Signed::sign(
        IssuedPolicy {
            policy,
            issued_ms: 1_700_000_000_000,
        }
        .into_statement(),
        root,
    )
    .unwrap()
    .to_file_text()
}

fn certificate_file(root: &Keypair) -> String {
    let node = Keypair::generate_ed25519();
    Signed::sign(
        Statement::Certificate(Certificate {
            node: NodeKey::from_public(&node.public()).unwrap(),
            role: RoleKind::Facility,
            village: None,
            label: "GOR Tawangalun".into(),
            not_before_ms: 0,
            until_ms: i64::MAX,
        }),
        root,
    )
    .unwrap()
    .to_file_text()
}

/// POST a statement file's text, as `kampung trust add` sends it.
pub async fn post_text(node: &Node, text: &str) -> super::Reply {
    let value: Value = serde_json::from_str(text).unwrap_or(Value::String(text.to_string()));
    node.post("/v1/trust", value).await
}

#[tokio::test]
async fn a_policy_from_the_root_is_added_once_and_applied_at_once() {
    let spec = Spec::load();
    let (key, roster) = root();
    let node = Node::start_with(Opts::checkpoint().with_roster(roster.clone())).await;
    let bali = nik_from(5101, 1, 7);
    let before = node.get(&format!("/v1/verdict/{bali}")).await.json();
    assert_eq!(before["kind"], "non_resident", "{before}");
    assert_eq!(before["policy_version"], 0);

    let file = policy_file(&key, 2, &["51"], 10);
    let added = post_text(&node, &file).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text);
    spec.check_reply("/v1/trust", "post", &added);
    let v = added.json();
    assert_eq!(v["kind"], "policy");
    assert_eq!(v["new"], true);
    assert_eq!(v["id"].as_str().unwrap().len(), 64);
    assert_eq!(roster.read().unwrap().policy().version, 2);

    let again = post_text(&node, &file).await.json();
    assert_eq!(again["new"], false);
    assert_eq!(again["id"], v["id"]);

    let after = node.get(&format!("/v1/verdict/{bali}")).await.json();
    assert_eq!(after["kind"], "barred", "{after}");
    assert_eq!(after["policy_version"], 2);
    let jember = node
        .get(&format!("/v1/verdict/{}", nik_from(3509, 15, 2)))
        .await
        .json();
    assert_eq!(jember["verdict"]["isolation_days"], 10, "{jember}");

    let cert = post_text(&node, &certificate_file(&key)).await;
    assert_eq!(cert.status, StatusCode::OK, "{}", cert.text);
    assert_eq!(cert.json()["kind"], "certificate");
    assert_eq!(roster.read().unwrap().len(), 2);
    node.stop().await;
}

#[tokio::test]
async fn statements_from_another_root_or_malformed_or_without_a_root_are_refused() {
    let spec = Spec::load();
    let (_key, roster) = root();
    let node = Node::start_with(Opts::checkpoint().with_roster(roster.clone())).await;
    let (other, _) = root();
    let foreign = post_text(&node, &policy_file(&other, 9, &["51"], 14)).await;
    assert_eq!(
        error_code(&foreign, StatusCode::FORBIDDEN),
        "not_signed_by_root"
    );
    spec.check_reply("/v1/trust", "post", &foreign);
    assert!(
        foreign.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("root"),
        "{}",
        foreign.text
    );

    for garbage in ["{\"statement\": 1}", "not json at all", ""] {
        let reply = post_text(&node, garbage).await;
        assert_eq!(
            error_code(&reply, StatusCode::BAD_REQUEST),
            "invalid_statement",
            "{garbage}"
        );
        spec.check_reply("/v1/trust", "post", &reply);
    }
    assert!(roster.read().unwrap().is_empty());
    node.stop().await;

    // A node with no root cannot verify anything.
    let open = Node::start_with(Opts::checkpoint()).await;
    let (key, _) = root();
    let reply = post_text(&open, &policy_file(&key, 2, &["51"], 14)).await;
    assert_eq!(error_code(&reply, StatusCode::CONFLICT), "no_root");
    spec.check_reply("/v1/trust", "post", &reply);
    open.stop().await;
}
