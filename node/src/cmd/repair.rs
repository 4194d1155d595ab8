//! `kampung repair`: on a stopped node, after a backup, take out of the
//! store every change the audit refuses (and what was built on them),
//! rebuild the index, and audit again. The remedy for a node that stored
//! writes it was not allowed to make (its `node.toml` edited to claim
//! another village): honest peers refused them; afterwards this node holds
//! what they hold. The checks are `kampung_store::audit`'s.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use kampung_datadir::DataDir;
use kampung_store::audit::{self, Repaired};

use super::backup::{backup, BackupArgs};

#[derive(Debug, clap::Args)]
pub struct RepairArgs {
    /// Where to write the backup taken first (default: beside the data
    /// directory, named after it and the time).
    #[arg(long)]
    pub backup: Option<PathBuf>,
    /// Print what was repaired as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(data: &Path, a: RepairArgs) -> anyhow::Result<ExitCode> {
    let dir = DataDir::open(data)?;
    if super::status::running_api(data).is_some() {
        bail!(
            "the node on {} is running and holds its store: stop it (systemctl stop kampung, or Ctrl-C on `kampung run`) and repair again",
            data.display()
        );
    }
    let Some(root) = dir.root_key()? else {
        bail!(
            "repair keeps what the mesh's root allowed, and this node has no root key: `kampung trust root ROOT.pub` first"
        );
    };
    let out = a
        .backup
        .unwrap_or_else(|| super::backup::beside(data, "before-repair"));
    backup(data, BackupArgs { out: out.clone() }).with_context(|| {
        format!(
            "the backup before the repair failed ({}): nothing was changed",
            out.display()
        )
    })?;

    let storage = dir.open_storage()?;
    let repaired = audit::repair(&storage, root, super::now_ms())?;
    let mut reg = kampung_store::Registry::open(storage.clone(), dir.actor(), super::this_year())?;
    reg.rebuild_index()?;
    drop(reg);
    let report = audit::audit(&storage, Some(root), super::now_ms(), super::this_year())?;
    if a.json {
        super::print_json(&serde_json::json!({
            "backup": out,
            "repaired": repaired,
            "audit_ok": report.ok,
        }))?;
    } else {
        print_text(&repaired, &out);
        if report.ok {
            println!("audit: ALL GOOD ({} documents)", report.documents.len());
        } else {
            println!(
                "audit still fails ({} failure(s)): see `kampung audit verify`",
                report.all_failures().count()
            );
        }
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_text(repaired: &[Repaired], backup: &Path) {
    if repaired.is_empty() {
        println!("nothing to repair: every stored change passes the audit");
        return;
    }
    for r in repaired {
        let what = if r.removed {
            "removed whole (nothing valid left; peers send it again)".to_string()
        } else {
            format!("{} change(s) kept", r.changes_kept)
        };
        println!(
            "{}: {} change(s) and {} signature(s) taken out ({}); written by {}",
            r.doc,
            r.changes_removed,
            r.signatures_removed,
            what,
            if r.writers.is_empty() {
                "-".to_string()
            } else {
                r.writers.join(", ")
            }
        );
    }
    println!(
        "index rebuilt. What was taken out is in the backup {}",
        backup.display()
    );
}
