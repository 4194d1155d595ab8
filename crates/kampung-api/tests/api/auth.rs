//! Who may call what: every route needs a session or a token (but the few
//! that cannot), each role gets only its routes, and the browser-safety
//! rules hold (host allow-list, same-origin posts, cookies, headers).

use axum::http::{header, Method, StatusCode};
use serde_json::{json, Value};

use super::spec::Spec;
use super::{error_code, Node, Opts};

/// Routes a caller with no credentials may use.
const OPEN: [(&str, &str); 3] = [
    ("get", "/healthz"),
    ("post", "/v1/session"),
    ("delete", "/v1/session"),
];

fn concrete(path: &str) -> String {
    path.replace("{nik}", "3510155203850001")
        .replace("{id}", "0123456789abcdef")
        .replace("{login}", "made")
        .replace("{action}", "reset")
}

/// A token of `role` made through the API by the node's own machine.
async fn token(node: &Node, role: &str) -> String {
    let r = node
        .post(
            "/v1/tokens",
            json!({"label": format!("{role} test"), "role": role}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()["token"].as_str().unwrap().to_string()
}

async fn as_bearer(
    node: &Node,
    m: Method,
    uri: &str,
    body: Option<Value>,
    token: &str,
) -> super::Reply {
    let auth = format!("Bearer {token}");
    node.call_as(m, uri, body, &[("authorization", &auth)])
        .await
}

#[tokio::test]
async fn every_route_but_a_few_needs_credentials() {
    let node = Node::start_with(Opts::checkpoint()).await;
    let spec = Spec::load();
    let mut checked = 0;
    for (path, item) in spec.0["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if OPEN.contains(&(method.as_str(), path.as_str())) {
                continue;
            }
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (m == Method::POST).then(|| json!({}));
            let reply = node.call_as(m, &concrete(path), body, &[]).await;
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} without credentials: {}",
                reply.text
            );
            checked += 1;
        }
    }
    assert!(checked > 30, "only {checked} operations checked");
    // A bearer that is not a token of this node.
    let r = as_bearer(&node, Method::GET, "/v1/status", None, "kt_t-00000000_abc").await;
    assert_eq!(error_code(&r, StatusCode::UNAUTHORIZED), "unauthenticated");
    node.stop().await;
}

#[tokio::test]
async fn each_role_gets_its_routes_only() {
    let checkpoint = Node::start_with(Opts::checkpoint()).await;
    let officer = token(&checkpoint, "officer").await;
    let auditor = token(&checkpoint, "auditor").await;
    let operator = token(&checkpoint, "operator").await;
    let nik = super::nik_from(3509, 15, 2);
    let crossing = json!({"nik": nik, "decision": "allowed_in"});

    let r = as_bearer(
        &checkpoint,
        Method::POST,
        "/v1/crossings",
        Some(crossing.clone()),
        &officer,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for t in [&auditor, &operator] {
        let r = as_bearer(
            &checkpoint,
            Method::POST,
            "/v1/crossings",
            Some(crossing.clone()),
            t,
        )
        .await;
        assert_eq!(error_code(&r, StatusCode::FORBIDDEN), "forbidden");
    }
    // The operator runs the node but reads nobody's data.
    let r = as_bearer(
        &checkpoint,
        Method::GET,
        &format!("/v1/verdict/{nik}"),
        None,
        &operator,
    )
    .await;
    assert_eq!(error_code(&r, StatusCode::FORBIDDEN), "forbidden");
    let r = as_bearer(&checkpoint, Method::GET, "/v1/status", None, &operator).await;
    assert_eq!(r.status, StatusCode::OK);
    // Only the operator manages people; only an auditor reads the access log.
    let r = as_bearer(&checkpoint, Method::GET, "/v1/users", None, &officer).await;
    assert_eq!(error_code(&r, StatusCode::FORBIDDEN), "forbidden");
    let r = as_bearer(&checkpoint, Method::GET, "/v1/access-log", None, &officer).await;
    assert_eq!(error_code(&r, StatusCode::FORBIDDEN), "forbidden");
    let r = as_bearer(
        &checkpoint,
        Method::GET,
        &format!("/v1/access-log?nik={nik}"),
        None,
        &auditor,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let log = r.json();
    assert_eq!(log[0]["what"], "crossing", "{log}");
    assert_eq!(log[0]["role"], "officer", "{log}");
    // An officer exists only at a checkpoint, a clerk only at a village.
    let r = checkpoint
        .post(
            "/v1/users",
            json!({"login": "sri", "name": "Sri", "role": "clerk"}),
        )
        .await;
    assert_eq!(
        error_code(&r, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_body"
    );
    checkpoint.stop().await;

    let village = Node::start_with(Opts::village()).await;
    let clerk = token(&village, "clerk").await;
    let people = super::people(3, 4);
    let r = as_bearer(
        &village,
        Method::POST,
        "/v1/residents",
        Some(json!(people)),
        &clerk,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let facility = token(&village, "facility").await;
    let r = as_bearer(
        &village,
        Method::POST,
        "/v1/residents",
        Some(json!(people)),
        &facility,
    )
    .await;
    assert_eq!(error_code(&r, StatusCode::FORBIDDEN), "forbidden");
    // A person's history is the auditor's, not the clerk's.
    let history = format!("/v1/audit/history/{}", people[0].nik);
    for path in [history.as_str(), "/v1/audit/verify"] {
        let r = as_bearer(&village, Method::GET, path, None, &clerk).await;
        assert_eq!(error_code(&r, StatusCode::FORBIDDEN), "forbidden", "{path}");
    }
    let auditor = token(&village, "auditor").await;
    let r = as_bearer(&village, Method::GET, &history, None, &auditor).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["events"][0]["person"], "clerk test", "{}", r.text);
    village.stop().await;
}

#[tokio::test]
async fn tokens_expire_and_are_revoked() {
    let node = Node::start_with(Opts::checkpoint()).await;
    let r = node
        .post(
            "/v1/tokens",
            json!({"label": "scanner", "role": "officer", "expires_days": 1}),
        )
        .await;
    let t = r.json();
    let secret = t["token"].as_str().unwrap().to_string();
    let id = t["info"]["id"].as_str().unwrap().to_string();
    let listed = node.get("/v1/tokens").await.text;
    assert!(
        listed.contains(&id) && !listed.contains(&secret[12..]),
        "{listed}"
    );
    let ok = as_bearer(&node, Method::GET, "/v1/status", None, &secret).await;
    assert_eq!(ok.status, StatusCode::OK);
    let r = node
        .post(&format!("/v1/tokens/{id}/revoke"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = as_bearer(&node, Method::GET, "/v1/status", None, &secret).await;
    assert_eq!(error_code(&r, StatusCode::UNAUTHORIZED), "unauthenticated");
    assert!(!r.text.contains(&secret), "errors never repeat a token");
    node.stop().await;

    // Expiry, on a clock moved past it.
    let clock = super::Clock::manual(super::may_first_10am_ms());
    let node = Node::start_with(Opts::checkpoint().with_clock(clock.clone())).await;
    let r = node
        .post(
            "/v1/tokens",
            json!({"label": "scanner", "role": "officer", "expires_days": 1}),
        )
        .await;
    let secret = r.json()["token"].as_str().unwrap().to_string();
    assert_eq!(
        as_bearer(&node, Method::GET, "/v1/status", None, &secret)
            .await
            .status,
        StatusCode::OK
    );
    clock.advance(super::DAY_MS + 1);
    let r = as_bearer(&node, Method::GET, "/v1/status", None, &secret).await;
    assert_eq!(error_code(&r, StatusCode::UNAUTHORIZED), "unauthenticated");
    node.stop().await;
}

/// Sign in as `login` through the API; the session cookie.
async fn sign_in(node: &Node, login: &str, password: &str) -> Result<String, super::Reply> {
    let r = node
        .call_as(
            Method::POST,
            "/v1/session",
            Some(json!({"login": login, "password": password})),
            &[],
        )
        .await;
    if r.status != StatusCode::OK {
        return Err(r);
    }
    Ok(r.set_cookie.clone().expect("a session cookie"))
}

#[tokio::test]
async fn sessions_sign_in_out_and_end_with_the_account() {
    let node = Node::start_with(Opts::checkpoint()).await;
    let r = node
        .post(
            "/v1/users",
            json!({"login": "made", "name": "Bripka Made", "role": "officer"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let password = r.json()["password"].as_str().unwrap().to_string();
    let set_cookie = sign_in(&node, "made", &password).await.unwrap();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let me = node
        .call_as(Method::GET, "/v1/session", None, &[("cookie", &cookie)])
        .await;
    assert_eq!(me.json()["name"], "Bripka Made");

    // A cross-site form post with the session is refused; a same-origin one passes.
    let nik = super::nik_from(3509, 15, 3);
    let body = json!({"nik": nik, "decision": "allowed_in"});
    let evil = node
        .call_as(
            Method::POST,
            "/v1/crossings",
            Some(body.clone()),
            &[
                ("cookie", &cookie),
                ("origin", "http://evil.example"),
                ("host", "127.0.0.1:7480"),
            ],
        )
        .await;
    assert_eq!(error_code(&evil, StatusCode::FORBIDDEN), "cross_site");
    // `Origin: null` says nothing: the browser's Sec-Fetch-Site decides.
    for (site, refused) in [
        ("cross-site", true),
        ("same-site", true),
        ("same-origin", false),
    ] {
        let r = node
            .call_as(
                Method::POST,
                "/v1/crossings",
                Some(body.clone()),
                &[
                    ("cookie", &cookie),
                    ("origin", "null"),
                    ("sec-fetch-site", site),
                    ("host", "127.0.0.1:7480"),
                ],
            )
            .await;
        if refused {
            assert_eq!(
                error_code(&r, StatusCode::FORBIDDEN),
                "cross_site",
                "{site}"
            );
        } else {
            assert_eq!(r.status, StatusCode::OK, "{site}: {}", r.text);
        }
    }
    let good = node
        .call_as(
            Method::POST,
            "/v1/crossings",
            Some(body),
            &[
                ("cookie", &cookie),
                ("origin", "http://127.0.0.1:7480"),
                ("host", "127.0.0.1:7480"),
            ],
        )
        .await;
    assert_eq!(good.status, StatusCode::OK, "{}", good.text);
    let log = node.get("/v1/crossings").await.json();
    assert_eq!(log["items"][0]["officer"], "Bripka Made", "{log}");
    assert_eq!(
        log["total"], 2,
        "the same-origin posts were logged, the others not: {log}"
    );

    // Signed out: the same cookie, replayed, signs nobody in.
    let out = node
        .call_as(Method::DELETE, "/v1/session", None, &[("cookie", &cookie)])
        .await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(out.set_cookie.unwrap().contains("Max-Age=0"));
    let replay = node
        .call_as(Method::GET, "/v1/status", None, &[("cookie", &cookie)])
        .await;
    assert_eq!(
        error_code(&replay, StatusCode::UNAUTHORIZED),
        "unauthenticated"
    );

    // A disabled account cannot sign in, and its sessions end.
    let cookie = sign_in(&node, "made", &password).await.unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let r = node.post("/v1/users/made/disable", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = node
        .call_as(Method::GET, "/v1/status", None, &[("cookie", &cookie)])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = sign_in(&node, "made", &password).await.unwrap_err();
    assert_eq!(
        error_code(&r, StatusCode::UNAUTHORIZED),
        "wrong_credentials"
    );
    assert!(!r.text.contains(&password));
    node.stop().await;
}

#[tokio::test]
async fn bad_sign_ins_are_refused_and_counted() {
    let node = Node::start_with(Opts::checkpoint()).await;
    let r = node
        .post(
            "/v1/users",
            json!({"login": "ayu", "name": "Ayu", "role": "officer"}),
        )
        .await;
    let password = r.json()["password"].as_str().unwrap().to_string();
    let unknown = sign_in(&node, "nobody", "whatever").await.unwrap_err();
    let wrong = sign_in(&node, "ayu", "whatever").await.unwrap_err();
    assert_eq!(
        unknown.text, wrong.text,
        "an unknown name and a wrong password read alike"
    );
    // A flood of guesses from one device: it has to wait, the right password too.
    let mut waited = 0;
    for i in 0..1000 {
        if let Err(r) = sign_in(&node, "ayu", &format!("guess{i}")).await {
            if r.status == StatusCode::TOO_MANY_REQUESTS {
                waited += 1;
            }
        }
    }
    assert!(waited > 990, "{waited} of 1000 guesses were made to wait");
    let r = sign_in(&node, "ayu", &password).await.unwrap_err();
    assert_eq!(
        error_code(&r, StatusCode::TOO_MANY_REQUESTS),
        "too_many_attempts"
    );

    // Oversized and malformed sign-ins.
    let big = "x".repeat(10_000);
    let r = node
        .call_as(
            Method::POST,
            "/v1/session",
            Some(json!({"login": "ayu", "password": big})),
            &[],
        )
        .await;
    assert_eq!(
        error_code(&r, StatusCode::PAYLOAD_TOO_LARGE),
        "body_too_large"
    );
    let r = node
        .call_as(
            Method::POST,
            "/v1/session",
            Some(json!({"login": "ayu"})),
            &[],
        )
        .await;
    assert_eq!(error_code(&r, StatusCode::BAD_REQUEST), "invalid_body");
    let r = node
        .call_as(Method::POST, "/v1/session", Some(json!([1, 2])), &[])
        .await;
    assert_eq!(error_code(&r, StatusCode::BAD_REQUEST), "invalid_body");
    node.stop().await;
}

#[tokio::test]
async fn rebinding_hosts_are_refused_and_answers_carry_safety_headers() {
    let node = Node::start_with(Opts::checkpoint()).await;
    let r = node
        .call_as(
            Method::GET,
            "/healthz",
            None,
            &[("host", "evil.example:7480")],
        )
        .await;
    assert_eq!(
        error_code(&r, StatusCode::MISDIRECTED_REQUEST),
        "misdirected_host"
    );
    let r = node
        .call_as(Method::GET, "/healthz", None, &[("host", "localhost:7480")])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    for (name, want) in [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("x-frame-options", "DENY"),
    ] {
        assert_eq!(
            r.headers.get(name).map(String::as_str),
            Some(want),
            "{name}"
        );
    }
    let csp = r.headers.get("content-security-policy").unwrap();
    assert_eq!(
        csp, "default-src 'none'; frame-ancestors 'none'",
        "JSON loads nothing"
    );
    assert!(
        !r.headers.contains_key("access-control-allow-origin"),
        "no CORS"
    );
    assert!(
        !r.headers.contains_key("cross-origin-opener-policy"),
        "a document's header only"
    );
    let _ = header::HOST;
    node.stop().await;
}

#[tokio::test]
async fn a_client_asking_for_bahasa_indonesia_reads_it() {
    let node = Node::start_with(Opts::checkpoint()).await;
    let auth = node.bearer();
    let r = node
        .call_as(
            Method::GET,
            "/v1/verdict/351015520385001",
            None,
            &[
                ("authorization", &auth),
                ("accept-language", "id-ID,id;q=0.9,en;q=0.5"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json()["explanation"],
        "NIK TIDAK VALID — NIK harus 16 angka, ini 15 angka."
    );
    let r = node
        .call_as(
            Method::GET,
            "/v1/status",
            None,
            &[("accept-language", "id")],
        )
        .await;
    let v = r.json();
    assert_eq!(error_code(&r, StatusCode::UNAUTHORIZED), "unauthenticated");
    assert_eq!(v["error"]["message"], "Silakan masuk terlebih dahulu.");
    assert!(
        v["error"]["detail"].as_str().unwrap().contains("sign in"),
        "{v}"
    );
    // English stays the default of the API.
    let r = node.call_as(Method::GET, "/v1/status", None, &[]).await;
    assert!(r.json()["error"].get("detail").is_none());
    node.stop().await;
}
