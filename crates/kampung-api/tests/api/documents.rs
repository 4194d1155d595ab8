//! Raw documents out (`GET /v1/documents/{id}`) and exported files checked
//! (`POST /v1/documents/verify`).

use automerge::ReadDoc;
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

use super::spec::Spec;
use super::{people, village, Node};

/// A request with the local credential and a raw body; (status, content
/// type, body bytes).
async fn raw(
    node: &Node,
    method: Method,
    uri: &str,
    body: Vec<u8>,
    content_type: &str,
) -> (StatusCode, String, Vec<u8>) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, node.bearer())
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap();
    let response = node.app.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let ct = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, ct, bytes.to_vec())
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

#[tokio::test]
async fn a_village_document_comes_out_whole_and_its_file_is_checked() {
    let node = Node::start(Some(village())).await;
    node.put(people(7, 2)).await;

    let (status, ct, bytes) = raw(
        &node,
        Method::GET,
        "/v1/documents/35.10.15.2012",
        vec![],
        "",
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    assert_eq!(ct, "application/octet-stream");
    let doc = automerge::Automerge::load(&bytes).unwrap();
    let (_, residents) = doc.get(automerge::ROOT, "residents").unwrap().unwrap();
    assert_eq!(doc.length(&residents), 7);
    // The full id, percent-encoded, names the same document.
    let (status, _, same) = raw(
        &node,
        Method::GET,
        "/v1/documents/v%2F35.10.15.2012",
        vec![],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        automerge::Automerge::load(&same).unwrap().get_heads(),
        doc.get_heads()
    );

    let (status, _, body) = raw(
        &node,
        Method::GET,
        "/v1/documents/c%2F0123456789abcdef",
        vec![],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(json_of(&body)["error"]["code"], "document_not_held");
    let (status, _, body) = raw(&node, Method::GET, "/v1/documents/desa", vec![], "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        json_of(&body)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'desa' is not a document id"),
        "{}",
        String::from_utf8_lossy(&body)
    );

    // The file checks: it loads, it is this village with its 7 records;
    // this node runs without a root, so authorisation is not checked and
    // the report says so (and fails, as `audit verify` does).
    let spec = Spec::load();
    let verify = |body: Vec<u8>| {
        let node = &node;
        async move {
            raw(
                node,
                Method::POST,
                "/v1/documents/verify",
                body,
                "application/octet-stream",
            )
            .await
        }
    };
    let (status, _, report) = verify(bytes.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let report = json_of(&report);
    assert_eq!(report["loads"], true, "{report}");
    assert_eq!(report["kind"], "village", "{report}");
    assert_eq!(report["doc"], "v/35.10.15.2012", "{report}");
    assert_eq!(report["records"], 7, "{report}");
    assert_eq!(report["held"], true, "{report}");
    assert_eq!(report["changes_verified"], report["changes"], "{report}");
    let kinds: Vec<&str> = report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["no_root"], "{report}");
    assert!(spec.0["paths"]["/v1/documents/verify"]["post"].is_object());

    let mut altered = bytes.clone();
    let middle = altered.len() / 2;
    altered[middle] ^= 0x40;
    let (_, _, report) = verify(altered).await;
    let report = json_of(&report);
    assert_eq!(report["ok"], false);
    assert_eq!(report["loads"], false);
    assert_eq!(report["failures"][0]["kind"], "unreadable", "{report}");
    assert!(
        report["failures"][0]["message"]
            .as_str()
            .unwrap()
            .contains("checksum"),
        "{report}"
    );
    let (status, _, body) = raw(
        &node,
        Method::POST,
        "/v1/documents/verify",
        bytes,
        "application/json",
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(json_of(&body)["error"]["code"], "unsupported_media_type");
    node.stop().await;
}

#[tokio::test]
async fn raw_documents_are_the_auditors() {
    let node = Node::start(Some(village())).await;
    node.put(people(3, 5)).await;
    let clerk = node.sign_in("clerk1", "Clerk Satu", "clerk").await;
    let r = node
        .call_with(&clerk, Method::GET, "/v1/documents/35.10.15.2012", None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.json()["error"]["code"], "forbidden");
    let auditor = node.sign_in("audit1", "Auditor Satu", "auditor").await;
    let r = node
        .call_with(
            &auditor,
            Method::GET,
            "/v1/documents/x%2F12D3KooWnotheld",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    // The auditor's export is in the access log.
    let (status, _, _) = raw(
        &node,
        Method::GET,
        "/v1/documents/35.10.15.2012",
        vec![],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let log = node.get("/v1/access-log").await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text);
    assert!(log.text.contains("export bytes="), "{}", log.text);
    node.stop().await;
}
