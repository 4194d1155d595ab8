//! Where a command does its work: a node opened on the data directory
//! (offline, when `kampung run` is not running), or, while `kampung run`
//! holds the store, the running node through its API (so a clerk need not
//! stop the node, and the changes spread at once). Either way the workflow
//! is the node library's: the API's handlers call the same methods.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use kampung_core::{Nik, Resident, VillageCode};
use kampung_datadir::DataDir;
use kampung_node::{
    Actor, Confirmed, Correction, ImportPreview, RecordWritten, ResidentQuery, Running,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use time::Date;

pub enum Backend {
    Local {
        rt: tokio::runtime::Runtime,
        running: Option<Running>,
    },
    Remote(Remote),
}

/// The running node's API, and the local credential that lets this
/// machine's CLI act there (`local.secret` in the data directory).
#[derive(Debug, Clone)]
pub struct Remote {
    pub addr: SocketAddr,
    pub credential: String,
}

impl Remote {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.credential)
    }

    pub fn post<T: DeserializeOwned>(&self, path: &str, body: &Value) -> anyhow::Result<T> {
        let url = self.url(path);
        let resp = ureq::post(&url)
            .config()
            .http_status_as_error(false)
            .build()
            .header("authorization", &self.bearer())
            .send_json(body)
            .map_err(|e| {
                anyhow::anyhow!("the running node at {} does not answer: {e}", self.addr)
            })?;
        answer(resp, &url)
    }

    /// GET a path; `None` on 404.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<Option<T>> {
        let (url, resp) = self.send_get(path)?;
        if resp.status() == 404 {
            return Ok(None);
        }
        answer(resp, &url).map(Some)
    }

    /// GET a path; any refusal (a 404 too) is the node's own message.
    pub fn get_json<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let (url, resp) = self.send_get(path)?;
        answer(resp, &url)
    }

    /// GET a path and copy the answer's body to `out` (a backup); the
    /// node's JSON error when it refuses.
    pub fn download(&self, path: &str, out: &mut impl std::io::Write) -> anyhow::Result<()> {
        let (url, resp) = self.send_get(path)?;
        if !resp.status().is_success() {
            return answer::<Value>(resp, &url).map(|_| ());
        }
        let mut body = resp.into_body();
        std::io::copy(&mut body.as_reader(), out)
            .with_context(|| format!("the answer from {url} stopped"))?;
        Ok(())
    }

    /// GET a path with the local credential, in the CLI's language; the
    /// URL (for messages) and the answer, whatever its status.
    fn send_get(&self, path: &str) -> anyhow::Result<(String, ureq::http::Response<ureq::Body>)> {
        let url = self.url(path);
        let resp = ureq::get(&url)
            .config()
            .http_status_as_error(false)
            .build()
            .header("authorization", &self.bearer())
            .header("accept-language", super::lang().code())
            .call()
            .map_err(|e| {
                anyhow::anyhow!("the running node at {} does not answer: {e}", self.addr)
            })?;
        Ok((url, resp))
    }

    /// POST a file as it is (`application/octet-stream`).
    pub fn post_bytes<T: DeserializeOwned>(&self, path: &str, bytes: &[u8]) -> anyhow::Result<T> {
        self.post_body(path, "application/octet-stream", bytes)
    }

    /// POST a text body (a statement file).
    pub fn post_text<T: DeserializeOwned>(&self, path: &str, text: &str) -> anyhow::Result<T> {
        self.post_body(path, "application/json", text.as_bytes())
    }

    fn post_body<T: DeserializeOwned>(
        &self,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> anyhow::Result<T> {
        let url = self.url(path);
        let resp = ureq::post(&url)
            .config()
            .http_status_as_error(false)
            .build()
            .header("authorization", &self.bearer())
            .header("content-type", content_type)
            .send(body)
            .map_err(|e| {
                anyhow::anyhow!("the running node at {} does not answer: {e}", self.addr)
            })?;
        answer(resp, &url)
    }
}

/// What a write did.
#[derive(Debug, Default)]
pub struct Counts {
    pub added: u64,
    pub changed: u64,
    pub unchanged: u64,
}

/// A record-writing workflow, as the CLI asks for it.
pub enum RecordChange {
    Register(Box<Resident>),
    Correct(Nik, Correction),
    MoveOut(Nik, String, Option<Date>),
    Deceased(Nik, Option<Date>),
}

/// A path segment, percent-encoded (a NIK as typed may hold `/`, `?`, `#`).
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An answer from the running node: the value, or its error message.
fn answer<T: DeserializeOwned>(
    mut resp: ureq::http::Response<ureq::Body>,
    url: &str,
) -> anyhow::Result<T> {
    let status = resp.status();
    let value: Value = resp
        .body_mut()
        .read_json()
        .with_context(|| format!("bad answer from {url}"))?;
    if !status.is_success() {
        anyhow::bail!(
            "the running node refused: {}",
            value["error"]["message"].as_str().unwrap_or("(no message)")
        );
    }
    serde_json::from_value(value).with_context(|| format!("unexpected answer from {url}"))
}

impl Backend {
    pub fn open(data: &Path) -> anyhow::Result<(DataDir, Backend)> {
        let dir = DataDir::open(data)?;
        if let Some(addr) = super::status::running_api(data) {
            let credential = dir.local_secret()?;
            return Ok((dir, Backend::Remote(Remote { addr, credential })));
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let running = rt.block_on(kampung_node::open_offline(data))?;
        Ok((
            dir,
            Backend::Local {
                rt,
                running: Some(running),
            },
        ))
    }

    /// Run a workflow on the local node.
    pub fn local<F, Fut, T>(&self, f: F) -> Option<anyhow::Result<T>>
    where
        F: FnOnce(kampung_node::Node) -> Fut,
        Fut: Future<Output = Result<T, kampung_node::NodeError>>,
    {
        match self {
            Backend::Local {
                rt,
                running: Some(r),
            } => Some(rt.block_on(f(r.node().clone())).map_err(Into::into)),
            _ => None,
        }
    }

    pub fn remote(&self) -> anyhow::Result<&Remote> {
        match self {
            Backend::Remote(r) => Ok(r),
            Backend::Local { .. } => anyhow::bail!("the local node has stopped"),
        }
    }

    /// Stop a local node (its index persisted); nothing to do for a remote one.
    pub fn close(mut self) -> anyhow::Result<()> {
        if let Backend::Local { rt, running } = &mut self {
            if let Some(r) = running.take() {
                rt.block_on(r.stop())?;
            }
        }
        Ok(())
    }

    /// The verdict on a NIK as typed, as the API's `/v1/verdict` answers it.
    pub fn verdict(&self, input: &str) -> anyhow::Result<Value> {
        if let Some(r) = self.local(|n| async move {
            let answer = n.verdict(&Actor::local(), input)?;
            Ok(kampung_api::routes::verdict::VerdictResponse::new(
                answer,
                super::lang(),
            ))
        }) {
            return Ok(serde_json::to_value(r?)?);
        }
        self.remote()?
            .get(&format!("/v1/verdict/{}", segment(input)))?
            .context("the running node has no verdict route")
    }

    /// The record of `nik` (in `village`, else the one deciding the verdict).
    pub fn resident(
        &self,
        nik: Nik,
        village: Option<VillageCode>,
    ) -> anyhow::Result<Option<Resident>> {
        if let Some(r) = self.local(|n| async move {
            match n.resident(&Actor::local(), nik, village).await {
                Ok(r) => Ok(Some(r)),
                Err(e) if e.code == kampung_node::ErrorCode::NotRegistered => Ok(None),
                Err(e) => Err(e),
            }
        }) {
            return r;
        }
        let path = match village {
            Some(v) => format!("/v1/residents/{nik}?village={v}"),
            None => format!("/v1/residents/{nik}"),
        };
        self.remote()?.get(&path)
    }

    /// The query string naming the confirmed NIKs, for the API.
    fn confirm_query(confirmed: &Confirmed) -> String {
        if confirmed.is_empty() {
            return String::new();
        }
        let niks: Vec<String> = confirmed.iter().map(ToString::to_string).collect();
        format!("?confirm={}", niks.join(","))
    }

    /// What writing `records` would do (added, changed field by field,
    /// unchanged, refused); writes nothing.
    pub fn preview(
        &self,
        records: &[Resident],
        confirmed: &Confirmed,
    ) -> anyhow::Result<ImportPreview> {
        let owned = records.to_vec();
        let c = confirmed.clone();
        if let Some(r) =
            self.local(|n| async move { n.preview_import(&Actor::local(), owned, &c).await })
        {
            return r;
        }
        self.remote()?.post(
            &format!("/v1/residents/preview{}", Self::confirm_query(confirmed)),
            &json!(records),
        )
    }

    /// Write records of this node's village (durable when this returns).
    pub fn write(
        &self,
        records: Vec<Resident>,
        confirmed: &Confirmed,
        progress: &mut dyn FnMut(usize),
    ) -> anyhow::Result<Counts> {
        if let Backend::Local {
            rt,
            running: Some(r),
        } = self
        {
            let node = r.node().clone();
            let (tx, mut rx) = tokio::sync::watch::channel(0);
            let by = Actor::local();
            let confirmed = confirmed.clone();
            let report = rt.block_on(async move {
                let write = node.write_residents(&by, records, &confirmed, Some(tx));
                tokio::pin!(write);
                loop {
                    tokio::select! {
                        done = &mut write => break done,
                        Ok(()) = rx.changed() => progress(*rx.borrow()),
                    }
                }
            })?;
            let r = report.report;
            return Ok(Counts {
                added: r.added as u64,
                changed: r.changed as u64,
                unchanged: r.unchanged as u64,
            });
        }
        let n = records.len();
        let v: Value = self.remote()?.post(
            &format!("/v1/residents{}", Self::confirm_query(confirmed)),
            &json!(records),
        )?;
        progress(n);
        Ok(Counts {
            added: v["added"].as_u64().unwrap_or(0),
            changed: v["changed"].as_u64().unwrap_or(0),
            unchanged: v["unchanged"].as_u64().unwrap_or(0),
        })
    }

    /// Register, correct, move out or mark deceased one record.
    pub fn change(&self, change: RecordChange) -> anyhow::Result<RecordWritten> {
        let by = Actor::local();
        if let Backend::Local { .. } = self {
            let done = self.local(|n| async move {
                match change {
                    RecordChange::Register(r) => n.register(&by, *r).await,
                    RecordChange::Correct(nik, fix) => n.correct(&by, nik, fix).await,
                    RecordChange::MoveOut(nik, to, on) => n.move_out(&by, nik, to, on).await,
                    RecordChange::Deceased(nik, on) => n.mark_deceased(&by, nik, on).await,
                }
            });
            return done.unwrap_or_else(|| Err(anyhow::anyhow!("the local node has stopped")));
        }
        let remote = self.remote()?;
        match change {
            RecordChange::Register(r) => remote.post("/v1/residents/register", &json!(r)),
            RecordChange::Correct(nik, fix) => remote.post(
                &format!("/v1/residents/{nik}/correct"),
                &json!({
                    "full_name": fix.full_name,
                    "sex": fix.sex,
                    "birth_date": fix.birth_date.map(|d| d.to_string()),
                    "family_card": fix.family_card,
                    "dusun": fix.dusun,
                    "rt": fix.rt,
                    "rw": fix.rw,
                }),
            ),
            RecordChange::MoveOut(nik, to, on) => remote.post(
                &format!("/v1/residents/{nik}/move-out"),
                &json!({ "to": to, "on": on.map(|d| d.to_string()) }),
            ),
            RecordChange::Deceased(nik, on) => remote.post(
                &format!("/v1/residents/{nik}/deceased"),
                &json!({ "on": on.map(|d| d.to_string()) }),
            ),
        }
    }

    /// Withdraw a registration of this village made in error; the record as it was.
    pub fn withdraw(&self, nik: Nik, reason: String) -> anyhow::Result<Resident> {
        if let Backend::Local { .. } = self {
            let done = self.local(|n| async move {
                n.withdraw_registration(&Actor::local(), nik, &reason).await
            });
            return done.unwrap_or_else(|| Err(anyhow::anyhow!("the local node has stopped")));
        }
        #[derive(serde::Deserialize)]
        struct Withdrawn {
            withdrawn: Resident,
        }
        let w: Withdrawn = self.remote()?.post(
            &format!("/v1/residents/{nik}/withdraw"),
            &json!({ "reason": reason }),
        )?;
        Ok(w.withdrawn)
    }

    /// Every resident of `village`, in NIK order, page by page.
    pub fn residents(&self, village: VillageCode) -> anyhow::Result<Vec<Resident>> {
        const PAGE: usize = 500;
        let mut all = Vec::new();
        loop {
            let mut q = ResidentQuery::new(village, PAGE);
            q.offset = all.len();
            let (total, items) =
                match self.local(|n| async move { n.residents_page(&Actor::local(), q).await }) {
                    Some(page) => {
                        let page = page?;
                        (page.total, page.items)
                    }
                    None => {
                        #[derive(serde::Deserialize)]
                        struct Page {
                            total: usize,
                            items: Vec<Resident>,
                        }
                        let path = format!(
                            "/v1/residents?village={village}&offset={}&limit={PAGE}",
                            all.len()
                        );
                        let p: Page = self.remote()?.get(&path)?.context("no residents route")?;
                        (p.total, p.items)
                    }
                };
            let done = items.is_empty();
            all.extend(items);
            if done || all.len() >= total {
                return Ok(all);
            }
        }
    }

    /// Add a root-signed statement file's text (verified against the root).
    pub fn add_statement(&self, text: &str) -> anyhow::Result<bool> {
        if let Some(r) = self
            .local(|n| async move { n.add_statement(&Actor::local(), text).await.map(|a| a.new) })
        {
            return r;
        }
        let v: Value = self.remote()?.post_text("/v1/trust", text)?;
        Ok(v["new"].as_bool().unwrap_or(false))
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        // A command that ends early still persists the local node's index.
        if let Backend::Local { rt, running } = self {
            if let Some(r) = running.take() {
                if let Err(e) = rt.block_on(r.stop()) {
                    tracing::warn!(error = %e, "the local store did not stop cleanly");
                }
            }
        }
    }
}
