//! `kampung villages`: Banyuwangi's 217 villages with their codes, for a
//! clerk who knows "Kampunganyar, Glagah" rather than 35.10.15.2012.

use std::process::ExitCode;

use kampung_core::banyuwangi::villages;
use kampung_core::VillageKind;
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only villages or districts whose name contains this (any capitals),
    /// e.g. `--search glagah`.
    #[arg(long)]
    search: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Row {
    code: String,
    kind: &'static str,
    name: &'static str,
    district: &'static str,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let needle = a.search.as_deref().map(str::to_lowercase);
    let rows: Vec<Row> = villages()
        .iter()
        .filter(|v| {
            needle.as_ref().is_none_or(|n| {
                v.name.to_lowercase().contains(n) || v.district_name.to_lowercase().contains(n)
            })
        })
        .map(|v| Row {
            code: v.code.to_string(),
            kind: match v.kind {
                VillageKind::Desa => "desa",
                VillageKind::Kelurahan => "kelurahan",
            },
            name: v.name,
            district: v.district_name,
        })
        .collect();
    if a.json {
        super::print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        eprintln!("no village or district of Banyuwangi matches; `kampung villages` lists all 217");
        return Ok(ExitCode::FAILURE);
    }
    for r in &rows {
        println!(
            "{}  {:<9}  {:<24}  Kecamatan {}",
            r.code, r.kind, r.name, r.district
        );
    }
    Ok(ExitCode::SUCCESS)
}
