//! The pages through the router (no sockets, no browser): who gets which
//! page, forms refused without the session's token, the language of a page,
//! and an import that writes nothing until a file without errors is
//! confirmed. `tests/browser/pages.mjs` drives the same pages in Chromium.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use kampung_api::AppState;
use kampung_core::{Role, VillageCode};
use kampung_node::{Actor, Parts, PersonRole, Running};
use tower::ServiceExt;

struct Page {
    status: StatusCode,
    location: String,
    set_cookie: Option<String>,
    /// The Content-Security-Policy header ("" if none).
    csp: String,
    body: String,
}

struct Site {
    app: Router,
    running: Running,
}

impl Site {
    async fn start(role: Role) -> Site {
        Site::from_parts(Parts::in_memory(role)).await
    }

    async fn from_parts(parts: Parts<kampung_store::storage::MemoryStorage>) -> Site {
        let running = kampung_node::start(parts.offline()).await.unwrap();
        let app = kampung_web::router(AppState::new(running.node().clone()));
        Site { app, running }
    }

    /// A person of `role`, signed in: their session cookie.
    async fn person(&self, login: &str, role: PersonRole) -> String {
        let node = self.running.node();
        let (_, password) = node
            .add_person(&Actor::local(), login, "Sri Wahyuni", role)
            .unwrap();
        let form = format!("login={login}&password={password}&lanjut=%2F");
        let p = self
            .send(
                Method::POST,
                "/masuk",
                None,
                Some(("application/x-www-form-urlencoded", form.into_bytes())),
            )
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
        p.set_cookie.unwrap().split(';').next().unwrap().to_string()
    }

    async fn send(
        &self,
        method: Method,
        uri: &str,
        cookie: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Page {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::HOST, "127.0.0.1:7480");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        let body = match body {
            Some((kind, bytes)) => {
                req = req
                    .header(header::CONTENT_TYPE, kind)
                    .header(header::ORIGIN, "http://127.0.0.1:7480");
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        let r = self
            .app
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = r.status();
        let location = r
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let set_cookie = r
            .headers()
            .get(header::SET_COOKIE)
            .map(|v| v.to_str().unwrap().to_string());
        let csp = r
            .headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        Page {
            status,
            location,
            set_cookie,
            csp,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&self, uri: &str, cookie: &str) -> Page {
        self.send(Method::GET, uri, Some(cookie), None).await
    }

    async fn post_form(&self, uri: &str, cookie: &str, form: &str) -> Page {
        self.send(
            Method::POST,
            uri,
            Some(cookie),
            Some((
                "application/x-www-form-urlencoded",
                form.as_bytes().to_vec(),
            )),
        )
        .await
    }
}

/// The form token of a page (every form carries it).
fn csrf(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with its token");
    let rest = &page[at + 19..];
    rest[..rest.find('"').unwrap()].to_string()
}

#[tokio::test]
async fn every_page_wants_a_session_and_each_role_gets_its_own() {
    let site = Site::start(Role::checkpoint("ketapang").unwrap()).await;
    let p = site.send(Method::GET, "/pos", None, None).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location, "/masuk?lanjut=/pos");
    let p = site.send(Method::GET, "/masuk", None, None).await;
    assert!(
        p.body.contains("<html lang=\"id\">") && p.body.contains("Kata sandi"),
        "{}",
        p.body
    );
    // A page loads its own styles and scripts, none inline, and no one frames it.
    assert!(
        p.csp.contains("script-src 'self'")
            && p.csp.contains("frame-ancestors 'none'")
            && !p.csp.contains("unsafe-inline"),
        "{}",
        p.csp
    );

    let officer = site.person("made", PersonRole::Officer).await;
    let home = site.get("/", &officer).await;
    assert_eq!(home.location, "/pos");
    let pos = site.get("/pos?nik=3509155203900002", &officer).await;
    assert_eq!(pos.status, StatusCode::OK);
    assert!(pos.body.contains("BUKAN WARGA BANYUWANGI"), "{}", pos.body);
    assert!(pos.body.contains("data-kind=\"non_resident\""));

    // An officer has no business on the operator's page, nor a village's.
    let p = site.get("/operator", &officer).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p.body.contains("lang=\"id\""), "{}", p.body);
    let operator = site.person("rudi", PersonRole::Operator).await;
    let p = site.get("/operator", &operator).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("Kesegaran data 217 desa"));
    assert_eq!(p.body.matches("<td class=\"mono\">35.10.").count(), 217);
    let p = site.get("/desa", &operator).await;
    assert_ne!(
        p.status,
        StatusCode::OK,
        "a checkpoint has no residents' page"
    );

    // A decision posted without the page's token changes nothing.
    let form = "csrf=&nik=3509155203900002&keputusan=isolation_gor";
    let p = site.post_form("/pos/catat", &officer, form).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let node = site.running.node();
    assert!(node.cases(&Actor::local()).await.unwrap().is_empty());
    let token = csrf(&pos.body);
    let form = format!("csrf={token}&nik=3509155203900002&keputusan=isolation_gor&nama=Rina");
    let p = site.post_form("/pos/catat", &officer, &form).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert!(
        p.location.starts_with("/pos?catat=isolation_gor&kasus="),
        "{}",
        p.location
    );
    let cases = node.cases(&Actor::local()).await.unwrap();
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].info.person_name.as_deref(), Some("Rina"));

    // The auditor replays that verdict; the officer may not.
    let p = site.get("/audit/putar-ulang?jalankan=1", &officer).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let auditor = site.person("wulan", PersonRole::Auditor).await;
    let form = site.get("/audit/putar-ulang", &auditor).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(!form.body.contains("hasil-putar"), "runs only on request");
    let p = site
        .get("/audit/putar-ulang?jalankan=1&dari=&sampai=", &auditor)
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(p.body.contains("SEMUA PUTUSAN COCOK"), "{}", p.body);
    assert!(p.body.contains("1 pemeriksaan dari 1 pos"), "{}", p.body);
    let p = site
        .get("/audit/putar-ulang?jalankan=1&dari=kemarin", &auditor)
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
    assert!(
        p.body.contains("&#39;kemarin&#39; is not a date"),
        "{}",
        p.body
    );

    // English on request, kept for the person.
    let p = site
        .post_form("/bahasa", &officer, "bahasa=en&kembali=%2Fpos")
        .await;
    assert_eq!(p.location, "/pos");
    let p = site.get("/pos", &officer).await;
    assert!(p.body.contains("<html lang=\"en\">") && p.body.contains("Latest checks at this post"));
    // Signed out, the cookie opens nothing.
    site.post_form("/keluar", &officer, "").await;
    assert_eq!(
        site.get("/pos", &officer).await.status,
        StatusCode::SEE_OTHER
    );
}

fn multipart(token: &str, file: &str) -> (String, Vec<u8>) {
    let b = "x-kampung-boundary";
    let body = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{token}\r\n--{b}\r\nContent-Disposition: form-data; name=\"berkas\"; filename=\"warga.csv\"\r\nContent-Type: text/csv\r\n\r\n{file}\r\n--{b}--\r\n"
    );
    (
        format!("multipart/form-data; boundary={b}"),
        body.into_bytes(),
    )
}

/// Upload `file` to the clerk's import form: the preview page.
async fn upload(site: &Site, clerk: &str, token: &str, file: &str) -> Page {
    let (kind, body) = multipart(token, file);
    site.send(
        Method::POST,
        "/desa/impor",
        Some(clerk),
        Some((&kind, body)),
    )
    .await
}

#[tokio::test]
async fn an_import_writes_nothing_until_a_file_without_errors_is_confirmed() {
    let village = VillageCode::parse("35.10.15.2012").unwrap();
    let site = Site::start(Role::Village { village }).await;
    let clerk = site.person("sri", PersonRole::Clerk).await;
    let form = site.get("/desa/impor", &clerk).await;
    let token = csrf(&form.body);
    let header = "nik,full_name,sex,birth_date,family_card,dusun,rt,rw,village_code";
    let good =
        "3510155507959901,Dewi Kartika,P,1995-07-15,3510150101990001,Krajan,1,1,35.10.15.2012";
    let bad = "3510151203889902,Agus Salim,L,1988-02-30,3510150101990002,Krajan,1,1,35.10.15.2012";

    let p = upload(&site, &clerk, &token, &format!("{header}\n{good}\n{bad}\n")).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(
        p.body
            .contains("<td>3</td><td class=\"mono\">birth_date</td>"),
        "{}",
        p.body
    );
    // The reason in the clerk's language, from the catalogue.
    assert!(
        p.body.contains("&#39;1988-02-30&#39; bukan tanggal")
            || p.body.contains("'1988-02-30' bukan tanggal"),
        "{}",
        p.body
    );
    assert!(
        !p.body.contains("/desa/impor/konfirmasi"),
        "a file with an error cannot be confirmed"
    );
    let node = site.running.node();
    let q = kampung_node::ResidentQuery::new(village, 10);
    assert_eq!(
        node.residents_page(&Actor::local(), q.clone())
            .await
            .unwrap()
            .total,
        0
    );

    // Fixed, and as an office keeps its list: without the village code
    // (the file is of this village) and with a column the node does not
    // keep (left out, and said so).
    let fixed = bad.replace("1988-02-30", "1988-03-12");
    let own = |row: &str| row.replace(",35.10.15.2012", ",Islam");
    let p = upload(
        &site,
        &clerk,
        &token,
        &format!(
            "{}\n{}\n{}\n",
            header.replace(",village_code", ",Agama"),
            own(good),
            own(&fixed)
        ),
    )
    .await;
    assert!(p.body.contains("2 warga baru"), "{}", p.body);
    assert!(
        p.body
            .contains("Kolom yang tidak disimpan node ini, dilewati: Agama."),
        "{}",
        p.body
    );
    let at = p.body.find("name=\"token\" value=\"").unwrap();
    let preview = &p.body[at + 20..at + 52];
    // Still nothing written: only the confirmation writes.
    assert_eq!(
        node.residents_page(&Actor::local(), q.clone())
            .await
            .unwrap()
            .total,
        0
    );
    let p = site
        .post_form(
            "/desa/impor/konfirmasi",
            &clerk,
            &format!("csrf={token}&token={preview}"),
        )
        .await;
    assert_eq!(p.location, "/desa/impor?ditulis=2&diubah=0");
    assert_eq!(
        node.residents_page(&Actor::local(), q).await.unwrap().total,
        2
    );
    // A preview is confirmed once.
    let p = site
        .post_form(
            "/desa/impor/konfirmasi",
            &clerk,
            &format!("csrf={token}&token={preview}"),
        )
        .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);

    // A correction is shown before it is saved, then saved by the person.
    let p = site
        .post_form(
            "/desa/warga/3510155507959901/ubah",
            &clerk,
            &format!(
                "csrf={token}&aksi=pindah&tujuan=Kota+Malang&tanggal=2026-11-01&langkah=pratinjau"
            ),
        )
        .await;
    assert!(
        p.body
            .contains("<ins>pindah ke Kota Malang pada 1 November 2026</ins>"),
        "{}",
        p.body
    );
    let r = node
        .resident(
            &Actor::local(),
            node.parse_nik("3510155507959901").unwrap(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        r.status,
        kampung_core::Status::Active,
        "a preview writes nothing"
    );
    let p = site
        .post_form(
            "/desa/warga/3510155507959901/ubah",
            &clerk,
            &format!(
                "csrf={token}&aksi=pindah&tujuan=Kota+Malang&tanggal=2026-11-01&langkah=simpan"
            ),
        )
        .await;
    assert_eq!(p.location, "/desa/warga/3510155507959901?hasil=saved");
    let verdict = node.verdict(&Actor::local(), "3510155507959901").unwrap();
    assert_eq!(verdict.kind(), "moved_out");

    // An older file with another person on Dewi's NIK: held back, and why
    // is said in the clerk's language.
    let older = "3510155507959901,Sulastri,P,1995-07-15,3510150101990001,Krajan,1,1,35.10.15.2012";
    let p = upload(&site, &clerk, &token, &format!("{header}\n{older}\n")).await;
    for words in [
        "3510155507959901 terdaftar atas nama Dewi Kartika (P, lahir 15 Juli 1995)",
        "kantor desa sudah mencatat Dewi Kartika (3510155507959901) pindah",
    ] {
        assert!(p.body.contains(words), "{words}: {}", p.body);
    }
}

/// A clerk withdraws a registration made in error: only with a reason and
/// the box ticked; then the list says so and the verdict no longer finds it.
#[tokio::test]
async fn a_clerk_withdraws_a_registration_made_in_error() {
    let village = VillageCode::parse("35.10.15.2012").unwrap();
    let site = Site::start(Role::Village { village }).await;
    let clerk = site.person("sri", PersonRole::Clerk).await;
    let node = site.running.node();
    let nik = "3510155507959901";
    let form = site.get("/desa/baru", &clerk).await;
    let token = csrf(&form.body);
    let p = site
        .post_form(
            "/desa/baru",
            &clerk,
            &format!(
                "csrf={token}&nik={nik}&nama=Dewi+Kartika&jk=P&lahir=1995-07-15&kk=3510150101990001&dusun=Krajan&rt=1&rw=1&langkah=simpan"
            ),
        )
        .await;
    assert_eq!(
        p.location,
        format!("/desa/warga/{nik}?hasil=saved"),
        "{}",
        p.body
    );
    let page = site.get(&format!("/desa/warga/{nik}"), &clerk).await;
    assert!(
        page.body.contains("Tarik pendaftaran (salah daftar)"),
        "{}",
        page.body
    );

    let withdraw = |fields: &'static str| {
        let (site, clerk) = (&site, &clerk);
        let form = format!("csrf={token}&{fields}");
        async move {
            site.post_form(&format!("/desa/warga/{nik}/tarik"), clerk, &form)
                .await
        }
    };
    let kind = || node.verdict(&Actor::local(), nik).unwrap().kind();
    // Not ticked, or no reason: refused in the clerk's language, nothing written.
    for fields in ["alasan=salah+daftar", "alasan=+&yakin=ya"] {
        let p = withdraw(fields).await;
        assert_eq!(p.status, StatusCode::OK);
        assert!(p.body.contains("flash error"), "{fields}: {}", p.body);
        assert_eq!(kind(), "resident", "{fields}");
    }

    let p = withdraw("alasan=terdaftar+di+Desa+Rejosari&yakin=ya").await;
    assert_eq!(p.location, format!("/desa?ditarik={nik}"));
    let list = site.get(&p.location, &clerk).await;
    assert!(
        list.body
            .contains(&format!("Pendaftaran NIK {nik} sudah ditarik.")),
        "{}",
        list.body
    );
    assert_eq!(kind(), "non_resident");
}

/// A village site whose own certificate runs from `from_ms` to `until_ms`.
async fn certified_site(village: VillageCode, from_ms: i64, until_ms: i64) -> Site {
    certified_site_with(village, from_ms, until_ms, &[]).await
}

/// [`certified_site`], whose roster also certifies checkpoints: (label,
/// periods of its certificates).
async fn certified_site_with(
    village: VillageCode,
    from_ms: i64,
    until_ms: i64,
    peers: &[(&str, &[(i64, i64)])],
) -> Site {
    use kampung_mesh::identity::Keypair;
    use kampung_trust::{Certificate, NodeKey, RoleKind, Roster, Signed, Statement};
    let root = Keypair::generate_ed25519();
    let key = Keypair::generate_ed25519();
    let mut roster = Roster::new(NodeKey::from_public(&root.public()).unwrap());
    let certificate = Certificate {
        node: NodeKey::from_public(&key.public()).unwrap(),
        role: RoleKind::Village,
        village: Some(village),
        label: "Desa Kampunganyar".into(),
        not_before_ms: from_ms,
        until_ms,
    };
    roster
        .add(Signed::sign(Statement::Certificate(certificate), &root).unwrap())
        .unwrap();
    for (label, periods) in peers {
        let peer = NodeKey::from_public(&Keypair::generate_ed25519().public()).unwrap();
        for (from, until) in *periods {
            let c = Certificate {
                node: peer,
                role: RoleKind::Checkpoint,
                village: None,
                label: (*label).into(),
                not_before_ms: *from,
                until_ms: *until,
            };
            roster
                .add(Signed::sign(Statement::Certificate(c), &root).unwrap())
                .unwrap();
        }
    }
    let roster = std::sync::Arc::new(std::sync::RwLock::new(roster));
    let parts = Parts::in_memory_with_key(key, Role::Village { village })
        .trust(kampung_node::Trust::Roster(roster));
    Site::from_parts(parts).await
}

const DAY_MS: i64 = 86_400_000;

fn now_ms() -> i64 {
    kampung_core::Clock::now_ms(&kampung_core::SystemClock)
}

/// A certificate ending in 10 days: the operator is warned (the node is
/// still healthy); one ending in a year says nothing.
#[tokio::test]
async fn the_operator_is_warned_before_the_certificate_ends() {
    let village = VillageCode::parse("35.10.15.2012").unwrap();
    let site = certified_site(village, now_ms() - DAY_MS, now_ms() + 10 * DAY_MS).await;
    let node = site.running.node();
    let warnings = node.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].code, "certificate_expiring");
    assert!(warnings[0].detail.contains("in 9 days") || warnings[0].detail.contains("in 10 days"));
    assert!(node.health().await.is_empty(), "still healthy");
    let operator = site.person("made", PersonRole::Operator).await;
    let p = site.get("/operator", &operator).await;
    assert!(
        p.body.contains("Sertifikat node ini segera berakhir"),
        "{}",
        p.body
    );
    let later = certified_site(village, now_ms() - DAY_MS, now_ms() + 365 * DAY_MS).await;
    assert!(later.running.node().warnings().is_empty());
}

/// Another node's certificate ending in 10 days with no renewal: this
/// node's operator is warned too (by name); one renewed in time is not.
#[tokio::test]
async fn the_operator_is_warned_before_a_peers_certificate_ends() {
    let village = VillageCode::parse("35.10.15.2012").unwrap();
    let (now, year) = (now_ms(), 365 * DAY_MS);
    let site = certified_site_with(
        village,
        now - DAY_MS,
        now + year,
        &[
            ("Pos Ketapang", &[(now - DAY_MS, now + 10 * DAY_MS)]),
            (
                "Pos Kalibaru",
                &[
                    (now - DAY_MS, now + 10 * DAY_MS),
                    (now + 5 * DAY_MS, now + year),
                ],
            ),
        ],
    )
    .await;
    let node = site.running.node();
    let warnings = node.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].code, "peer_certificates_expiring");
    assert!(
        warnings[0].detail.contains("Pos Ketapang"),
        "{:?}",
        warnings[0]
    );
    assert!(
        !warnings[0].detail.contains("Pos Kalibaru"),
        "renewed: {:?}",
        warnings[0]
    );
    assert!(node.health().await.is_empty(), "still healthy");
    let operator = site.person("made", PersonRole::Operator).await;
    let p = site.get("/operator", &operator).await;
    assert!(
        p.body.contains("Sertifikat node lain segera berakhir"),
        "{}",
        p.body
    );
}

/// A village PC whose clock says a time before the node's certificate
/// starts: the clerk sees why on every page, and a registration saves
/// nothing and says why, in Bahasa Indonesia.
#[tokio::test]
async fn a_clerk_whose_clock_is_wrong_is_told_on_every_page_and_nothing_is_saved() {
    let village = VillageCode::parse("35.10.15.2012").unwrap();
    let site = certified_site(village, now_ms() + DAY_MS, now_ms() + 400 * DAY_MS).await;
    let clerk = site.person("sri", PersonRole::Clerk).await;

    let warning = "Jam komputer ini lebih awal dari mulai berlakunya sertifikat";
    let p = site.get("/desa", &clerk).await;
    assert!(p.body.contains(warning), "{}", p.body);
    let form = site.get("/desa/baru", &clerk).await;
    assert!(form.body.contains(warning), "{}", form.body);
    let token = csrf(&form.body);
    let p = site
        .post_form(
            "/desa/baru",
            &clerk,
            &format!(
                "csrf={token}&nik=3510155507959901&nama=Dewi+Kartika&jk=P&lahir=1995-07-15\
                 &kk=3510150101990001&dusun=Krajan&rt=1&rw=1&langkah=simpan"
            ),
        )
        .await;
    assert!(
        p.body
            .contains("Jam komputer ini tidak cocok dengan node lain"),
        "{}",
        p.body
    );
    assert!(p.body.contains("before this node"), "{}", p.body);
    let q = kampung_node::ResidentQuery::new(village, 10);
    let node = site.running.node();
    assert_eq!(
        node.residents_page(&Actor::local(), q).await.unwrap().total,
        0,
        "nothing was saved"
    );
}
