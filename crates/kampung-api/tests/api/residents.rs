//! `GET /v1/residents`: paging, search, status filter and bad parameters.

use axum::http::StatusCode;
use kampung_core::{Resident, Status};
use serde_json::Value;

use super::{people, village, Node, VILLAGE};

fn niks(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["nik"].as_str().unwrap().to_string())
        .collect()
}

async fn page(node: &Node, query: &str) -> Value {
    let reply = node.get(&format!("/v1/residents?{query}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.text);
    reply.json()
}

/// 75 residents: the 4th of every 10 moved out, the 7th deceased.
async fn village_node() -> (Node, Vec<Resident>) {
    let node = Node::start(Some(village())).await;
    let mut p = people(75, 11);
    for (i, r) in p.iter_mut().enumerate() {
        r.status = match i % 10 {
            3 => Status::MovedOut {
                destination: "Kabupaten Jember".into(),
                date: None,
            },
            6 => Status::Deceased { date: None },
            _ => Status::Active,
        };
    }
    node.put(p.clone()).await;
    (node, p)
}

#[tokio::test]
async fn pages_cover_every_resident_once_in_nik_order() {
    let (node, p) = village_node().await;
    let all: Vec<String> = p.iter().map(|r| r.nik.to_string()).collect();

    // Defaults: offset 0, limit 50, this node's village.
    let first = page(&node, "").await;
    assert_eq!(first["total"], 75);
    assert_eq!(first["offset"], 0);
    assert_eq!(first["limit"], 50);
    assert_eq!(niks(&first), all[..50]);

    let mut seen = Vec::new();
    for offset in (0..75).step_by(20) {
        let pg = page(
            &node,
            &format!("village={VILLAGE}&offset={offset}&limit=20"),
        )
        .await;
        assert_eq!(pg["total"], 75);
        assert_eq!(pg["offset"], offset);
        assert_eq!(pg["limit"], 20);
        seen.extend(niks(&pg));
    }
    assert_eq!(seen, all);

    let past = page(&node, "offset=500&limit=500").await;
    assert_eq!(past["total"], 75);
    assert!(niks(&past).is_empty());
    // Full records, as written (the store stamps the write time: 1 here).
    let one = page(&node, "limit=1").await;
    let mut first_record = p[0].clone();
    first_record.updated_at_ms = 1;
    assert_eq!(
        one["items"][0],
        serde_json::to_value(&first_record).unwrap()
    );
    node.stop().await;
}

#[tokio::test]
async fn search_by_name_part_or_nik_prefix_and_filter_by_status() {
    let (node, p) = village_node().await;

    let target = &p[42];
    let word = target.full_name.split(' ').next().unwrap();
    let part: String = word
        .chars()
        .skip(1)
        .take(3)
        .collect::<String>()
        .to_uppercase();
    let expected: Vec<String> = p
        .iter()
        .filter(|r| r.full_name.to_lowercase().contains(&part.to_lowercase()))
        .map(|r| r.nik.to_string())
        .collect();
    let found = page(&node, &format!("q={part}&limit=500")).await;
    assert_eq!(found["total"], expected.len());
    assert_eq!(niks(&found), expected);
    assert!(expected.contains(&target.nik.to_string()));

    let nik = target.nik.to_string();
    let prefix = &nik[..13];
    let by_nik = page(&node, &format!("q={prefix}&limit=500")).await;
    let expected: Vec<String> = p
        .iter()
        .map(|r| r.nik.to_string())
        .filter(|n| n.starts_with(prefix))
        .collect();
    assert_eq!(niks(&by_nik), expected);
    assert_eq!(page(&node, &format!("q={nik}")).await["total"], 1);
    assert_eq!(page(&node, "q=zzzzqqq").await["total"], 0);

    for status in ["active", "moved_out", "deceased"] {
        let pg = page(&node, &format!("status={status}&limit=500")).await;
        let expected = p
            .iter()
            .filter(|r| r.status.kind().as_str() == status)
            .count();
        assert_eq!(pg["total"], expected, "{status}");
        assert!(expected > 0, "{status}: the fixture has some");
        assert!(pg["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"]["status"] == status));
    }
    // Filter and search together, paged.
    let both = page(&node, &format!("status=active&q={prefix}&limit=1")).await;
    let expected = p
        .iter()
        .filter(|r| r.status == Status::Active && r.nik.to_string().starts_with(prefix))
        .count();
    assert_eq!(both["total"], expected);
    assert!(niks(&both).len() <= 1);
    node.stop().await;
}

#[tokio::test]
async fn bad_parameters_are_400_naming_the_parameter() {
    let (node, _) = village_node().await;
    let long = "a".repeat(121);
    let cases = [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("offset=1.5", "offset"),
        ("status=alive", "status"),
        ("village=35.10.99.9999", "village"),
        ("village=banyuwangi", "village"),
        (&format!("q={long}") as &str, "q"),
        ("stauts=active", "stauts"),
        ("limit=5&limit=6", "limit"),
    ];
    for (query, parameter) in cases {
        let reply = node.get(&format!("/v1/residents?{query}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        let e = &reply.json()["error"];
        assert_eq!(e["code"], "invalid_parameter", "{query}");
        assert_eq!(e["parameter"], parameter, "{query}: {e}");
        let message = e["message"].as_str().unwrap();
        assert!(message.contains(parameter), "{query}: {message}");
    }
    // Empty values are the defaults, not errors.
    let pg = page(&node, "q=&status=&offset=&limit=").await;
    assert_eq!(
        (pg["total"].as_u64(), pg["limit"].as_u64()),
        (Some(75), Some(50))
    );
    node.stop().await;
}

#[tokio::test]
async fn a_checkpoint_names_the_village_to_list() {
    let node = Node::start(None).await;
    let reply = node.get("/v1/residents").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["error"]["parameter"], "village");
    // A village whose document this node does not hold has no residents yet.
    let pg = page(&node, &format!("village={VILLAGE}")).await;
    assert_eq!(pg["total"], 0);
    assert!(niks(&pg).is_empty());
    node.stop().await;
}

#[tokio::test]
async fn a_preview_gives_its_refusals_in_the_language_the_client_reads() {
    let node = Node::start(Some(village())).await;
    let p = people(2, 12);
    node.put(p.clone()).await;
    // Another person on a registered NIK: held back, with who it is now.
    let mut other = p[0].clone();
    other.full_name = "Sulastri".into();
    other.sex = match other.sex {
        kampung_core::Sex::Male => kampung_core::Sex::Female,
        _ => kampung_core::Sex::Male,
    };
    let body = serde_json::to_value(vec![other]).unwrap();
    let auth = node.bearer();
    for (lang, words) in [
        (
            "id",
            format!("{} terdaftar atas nama {}", p[0].nik, p[0].full_name),
        ),
        (
            "en",
            format!("{} is registered as {}", p[0].nik, p[0].full_name),
        ),
    ] {
        for uri in ["/v1/residents/preview", "/v1/residents/check"] {
            let r = node
                .call_as(
                    axum::http::Method::POST,
                    uri,
                    Some(body.clone()),
                    &[("authorization", &auth), ("accept-language", lang)],
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.text);
            let refused = &r.json()["refused"][0];
            assert_eq!(refused["code"], "identity_change", "{uri}: {refused}");
            let message = refused["message"].as_str().unwrap();
            assert!(message.starts_with(&words), "{uri} in {lang}: {message}");
        }
    }
}

#[tokio::test]
async fn nothing_typed_is_the_verdict_on_an_empty_nik() {
    let node = Node::start(Some(village())).await;
    for uri in ["/v1/verdict/", "/v1/lookup/"] {
        let r = node.get(uri).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.text);
        let v = r.json();
        assert_eq!(v["kind"], "invalid", "{uri}: {v}");
        assert_eq!(v["verdict"]["error"]["rule"], "empty", "{uri}: {v}");
    }
}
