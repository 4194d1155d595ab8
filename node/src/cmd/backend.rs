//! Where a command reads and writes residents: the store itself, or, while
//! `kampung run` holds the store, the running node's API (so a clerk need not
//! stop the node to import or correct records, and the changes spread at once).

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use kampung_core::{Nik, Resident, VillageCode};
use kampung_datadir::DataDir;
use kampung_store::storage::sled_storage::SledStorage;
use kampung_store::Registry;

pub enum Backend {
    Local(Box<Registry<SledStorage>>),
    Remote(SocketAddr),
}

/// What a write did.
#[derive(Debug, Default)]
pub struct Counts {
    pub added: u64,
    pub changed: u64,
    pub unchanged: u64,
}

fn remote_error(e: ureq::Error, what: &str) -> anyhow::Error {
    anyhow::anyhow!("{what}: {e}")
}

fn post(
    addr: SocketAddr,
    path: &str,
    body: &impl serde::Serialize,
) -> anyhow::Result<serde_json::Value> {
    let url = format!("http://{addr}{path}");
    let mut resp = ureq::post(&url)
        .config()
        .http_status_as_error(false)
        .build()
        .send_json(body)
        .map_err(|e| remote_error(e, &format!("the running node at {addr} does not answer")))?;
    let status = resp.status();
    let value: serde_json::Value = resp
        .body_mut()
        .read_json()
        .with_context(|| format!("bad answer from {url}"))?;
    if !status.is_success() {
        anyhow::bail!(
            "the running node refused: {}",
            value["error"]["message"].as_str().unwrap_or("(no message)")
        );
    }
    Ok(value)
}

/// A record from the running node; `None` if it has none.
fn remote_record(addr: SocketAddr, path: &str) -> anyhow::Result<Option<Resident>> {
    super::status::get_optional(addr, path)?
        .map(|v| serde_json::from_value(v).context("bad record from the node"))
        .transpose()
}

impl Backend {
    pub fn open(data: &Path) -> anyhow::Result<(DataDir, Backend)> {
        let dir = DataDir::open(data)?;
        if let Some(addr) = super::status::running_api(data) {
            return Ok((dir, Backend::Remote(addr)));
        }
        let reg = dir.open_registry(super::this_year())?;
        Ok((dir, Backend::Local(Box::new(reg))))
    }

    /// The record of `nik` in `village`.
    pub fn read(&mut self, village: VillageCode, nik: Nik) -> anyhow::Result<Option<Resident>> {
        match self {
            Backend::Local(reg) => Ok(reg.read(village, nik)?),
            Backend::Remote(addr) => {
                remote_record(*addr, &format!("/v1/residents/{nik}?village={village}"))
            }
        }
    }

    /// The best record of `nik` in any village.
    pub fn get(&mut self, nik: Nik) -> anyhow::Result<Option<Resident>> {
        match self {
            Backend::Local(reg) => Ok(reg.get(nik)?),
            Backend::Remote(addr) => remote_record(*addr, &format!("/v1/residents/{nik}")),
        }
    }

    /// Which records a write would refuse: (position, reason).
    pub fn check(
        &mut self,
        village: VillageCode,
        records: &[Resident],
    ) -> anyhow::Result<Vec<(usize, String, bool)>> {
        match self {
            Backend::Local(reg) => Ok(reg
                .check(village, records)
                .into_iter()
                .map(|(i, r)| {
                    let wrong_village = matches!(r, kampung_store::Refusal::WrongVillage { .. });
                    (i, r.to_string(), wrong_village)
                })
                .collect()),
            Backend::Remote(addr) => {
                let v = post(*addr, "/v1/residents/check", &records)?;
                Ok(v["refused"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| {
                        let msg = r["message"].as_str()?.to_string();
                        let wrong = msg.contains("but this write is for village");
                        Some((r["index"].as_u64()? as usize, msg, wrong))
                    })
                    .collect())
            }
        }
    }

    /// Write records (durable when this returns).
    pub fn write(
        &mut self,
        village: VillageCode,
        records: &[Resident],
        progress: &mut dyn FnMut(usize),
    ) -> anyhow::Result<Counts> {
        match self {
            Backend::Local(reg) => {
                let r = reg.write(village, records, super::now_ms(), progress)?;
                reg.checkpoint()?;
                Ok(Counts {
                    added: r.added as u64,
                    changed: r.changed as u64,
                    unchanged: r.unchanged as u64,
                })
            }
            Backend::Remote(addr) => {
                let v = post(*addr, "/v1/residents", &records)?;
                progress(records.len());
                Ok(Counts {
                    added: v["added"].as_u64().unwrap_or(0),
                    changed: v["changed"].as_u64().unwrap_or(0),
                    unchanged: v["unchanged"].as_u64().unwrap_or(0),
                })
            }
        }
    }
}
