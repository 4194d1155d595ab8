use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// The API address of the node running on this data directory, if one is:
/// `api.addr` must exist and the node answering there must have this
/// directory's identity (after a crash the file is stale, and its port may
/// since belong to another node).
pub fn running_api(data: &Path) -> Option<std::net::SocketAddr> {
    let addr = kampung_api::read_api_addr(data)?;
    let ours = kampung_datadir::DataDir::open(data)
        .ok()?
        .info()
        .peer_id
        .clone();
    // (an unhealthy node answers 503, and is still the node running here)
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent.get(&format!("http://{addr}/healthz")).call().ok()?;
    let health: serde_json::Value = resp.body_mut().read_json().ok()?;
    (health["peer_id"].as_str() == Some(ours.as_str())).then_some(addr)
}

/// The running node's API with this machine's local credential.
pub fn remote(data: &Path) -> anyhow::Result<super::backend::Remote> {
    let addr = running_api(data).with_context(|| {
        format!(
            "no node is running on {}: start it with `kampung run`",
            data.display()
        )
    })?;
    let credential = kampung_datadir::DataDir::open(data)?.local_secret()?;
    Ok(super::backend::Remote { addr, credential })
}

/// GET a path from the running node's API.
pub fn get(data: &Path, path: &str) -> anyhow::Result<serde_json::Value> {
    remote(data)?
        .get(path)?
        .with_context(|| format!("the running node has no {path}"))
}

fn age(v: &serde_json::Value) -> String {
    match v.as_f64() {
        Some(s) if s < 1.0 => "now".into(),
        Some(s) if s < 120.0 => format!("{s:.0} s ago"),
        Some(s) if s < 7200.0 => format!("{:.0} min ago", s / 60.0),
        Some(s) => format!("{:.1} h ago", s / 3600.0),
        None => "never".into(),
    }
}

pub fn status(data: &Path, a: Args) -> anyhow::Result<ExitCode> {
    let s = get(data, "/v1/status")?;
    if a.json {
        super::print_json(&s)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "node {} ({}), kampung {}",
        s["peer_id"].as_str().unwrap_or("?"),
        s["role"].as_str().unwrap_or("?"),
        s["version"].as_str().unwrap_or("?")
    );
    for p in s["problems"].as_array().into_iter().flatten() {
        println!(
            "PROBLEM {}: {}",
            p["code"].as_str().unwrap_or("?"),
            p["detail"].as_str().unwrap_or("")
        );
    }
    for p in s["warnings"].as_array().into_iter().flatten() {
        println!(
            "WARNING {}: {}",
            p["code"].as_str().unwrap_or("?"),
            p["detail"].as_str().unwrap_or("")
        );
    }
    if s["trust"] == "development" {
        println!(
            "DEVELOPMENT MODE: no root key, this node accepts any change from any peer \
             (loopback only); for a real mesh: kampung trust root ROOT.pub"
        );
    }
    println!("residents in the index: {}", s["niks"]);
    if s["double_registrations"].as_u64().unwrap_or(0) > 0 {
        println!(
            "DOUBLE REGISTRATIONS: {} NIK(s) are active in two villages; the village offices \
             see which on their pages and resolve each by recording the move out",
            s["double_registrations"]
        );
    }
    let villages = |key: &str| -> Vec<String> {
        s[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str())
            .map(
                |c| match c.parse().ok().and_then(kampung_core::banyuwangi::village) {
                    Some(v) => format!("{c} ({})", v.name),
                    None => c.to_string(),
                },
            )
            .collect()
    };
    let kept_by = villages("details_kept_by");
    if !kept_by.is_empty() {
        println!(
            "this village's details (residents in full) are also kept by: {}",
            kept_by.join(", ")
        );
    }
    let keeps = villages("keeps_details_of");
    if !keeps.is_empty() {
        println!(
            "this node keeps a copy of the details of: {}",
            keeps.join(", ")
        );
    }
    if let Some(f) = s["tls_fingerprint"].as_str() {
        println!("TLS certificate fingerprint (SHA-256): {f}");
    }
    let peers = s["mesh"]["peers"].as_array().map_or(0, Vec::len);
    println!("connected peers: {peers}");
    let clock = &s["clock"];
    match clock["peer_offset_ms"].as_i64() {
        Some(ms) => println!(
            "clock: peers' clocks are {:+.1} s from this node's (median of {}; at most {} s allowed)",
            ms as f64 / 1000.0,
            clock["peers_measured"],
            clock["max_offset_ms"].as_i64().unwrap_or(0) / 1000
        ),
        None => println!("clock: not compared with any peer yet"),
    }
    let docs = s["documents"].as_array().cloned().unwrap_or_default();
    // A month's crossing log is named x/<peer id>/2026-12: as wide as it takes.
    let width = docs
        .iter()
        .filter_map(|d| d["doc"].as_str().map(str::len))
        .max()
        .unwrap_or(0)
        .max(22);
    println!("{:<width$} {:>6}  owner last heard", "document", "heads");
    for d in &docs {
        let heads = d["heads"].as_array().map_or(0, Vec::len);
        let heard = if d["own_document"].as_bool() == Some(true) {
            "(this node writes it)".to_string()
        } else {
            age(&d["owner_last_heard_secs"])
        };
        println!(
            "{:<width$} {:>6}  {}",
            d["doc"].as_str().unwrap_or("?"),
            heads,
            heard
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn peers(data: &Path, a: Args) -> anyhow::Result<ExitCode> {
    let s = get(data, "/v1/peers")?;
    if a.json {
        super::print_json(&s)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("node {}", s["peer_id"].as_str().unwrap_or("?"));
    for l in s["listen"].as_array().into_iter().flatten() {
        println!("  listening on {}", l.as_str().unwrap_or("?"));
    }
    for p in s["peers"].as_array().into_iter().flatten() {
        let clock = match p["clock_offset_ms"].as_i64() {
            Some(ms) => format!("{:+.1} s", ms as f64 / 1000.0),
            None => "not measured".into(),
        };
        println!(
            "{}  {:<28} {}, connected {} s, in sync: {}, clock {clock}",
            p["peer_id"].as_str().unwrap_or("?"),
            p["role"].as_str().unwrap_or("(unknown role)"),
            p["software"].as_str().unwrap_or("(version not told)"),
            p["connected_for_secs"],
            p["in_sync"]
        );
    }
    let refused = s["refused"].as_array().map_or(&[][..], Vec::as_slice);
    if !refused.is_empty() {
        println!("refused lately:");
    }
    for r in refused {
        let when = r["at_ms"]
            .as_i64()
            .map(|ms| kampung_i18n::date_time(super::lang(), ms))
            .unwrap_or_default();
        println!(
            "  {}  {when}: {}",
            r["peer_id"].as_str().unwrap_or("?"),
            r["reason"].as_str().unwrap_or("?")
        );
    }
    Ok(ExitCode::SUCCESS)
}
