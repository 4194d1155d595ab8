use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use kampung_core::VillageCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write to this file instead of standard output; a name ending in
    /// `.xlsx` writes an Excel workbook (NIK and KK kept as text).
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Export this village's replica (default: this node's own village).
    #[arg(long, value_parser = |s: &str| VillageCode::parse(s).map_err(|e| e.to_string()))]
    village: Option<VillageCode>,
    /// The records as the village's document stood at this time (by its
    /// writers' clocks): 2026-06-01T08:00+07:00, 2026-06-01T08:00 (WIB) or
    /// 2026-06-01 (its start, WIB).
    #[arg(long, value_parser = super::audit::parse_time)]
    at: Option<i64>,
}

pub fn run(data: &Path, a: Args) -> anyhow::Result<ExitCode> {
    let (dir, backend) = super::backend::Backend::open(data)?;
    let village = match a.village {
        Some(v) => v,
        None => super::own_village(&dir).context("pass --village CODE to export a replica")?,
    };
    let residents = match a.at {
        None => backend.residents(village)?,
        Some(at_s) => {
            let then = match backend.local(|n| async move {
                n.village_as_of(&kampung_node::Actor::local(), village, at_s)
                    .await
            }) {
                Some(then) => then?,
                None => backend
                    .remote()?
                    .get(&format!(
                        "/v1/audit/villages/{village}?at={}",
                        super::audit::rfc3339(at_s)
                    ))?
                    .context("the node has no route for a village as it was: update it")?,
            };
            eprintln!(
                "{village} as at {}: heads {}",
                super::admin::fmt_ms(at_s.saturating_mul(1000)),
                then.heads.join(" ")
            );
            then.residents
        }
    };
    backend.close()?;
    if residents.is_empty() && Some(village) != dir.role().village() {
        anyhow::bail!("this node holds no residents of village {village}");
    }
    match a.out {
        Some(path) => {
            // Written whole beside the file, then renamed: a crash leaves
            // the old file or the new one, never half of one.
            let xlsx = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
            let bytes = if xlsx {
                kampung_csv::write_xlsx(&residents)?
            } else {
                let mut out = Vec::new();
                kampung_csv::write(&mut out, &residents)?;
                out
            };
            let tmp = path.with_extension("export.tmp");
            std::fs::write(&tmp, bytes)
                .with_context(|| format!("cannot create {}", tmp.display()))?;
            std::fs::rename(&tmp, &path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "wrote {} resident(s) of {village} to {}",
                residents.len(),
                path.display()
            );
        }
        // A reader that stops early (`| head`) ends the export quietly.
        None => match kampung_csv::write(std::io::stdout().lock(), &residents) {
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe) =>
                {}
            other => other?,
        },
    }
    Ok(ExitCode::SUCCESS)
}
