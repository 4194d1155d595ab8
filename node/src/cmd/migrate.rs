//! `kampung migrate`: on a stopped node whose store an earlier kampung
//! wrote (another layout on disk), write a backup of the data directory as
//! it is, then move the store to this version's layout, and show every
//! village's residents before and after. Every other command refuses such
//! a store and says to run this one; the move itself is the store's
//! (`SledStorage::migrate`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use kampung_datadir::DataDir;
use kampung_store::storage::census::{residents_text, Migration};

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// Where to write the backup taken first, a tar file of the data
    /// directory as it is (default: beside the data directory, named after
    /// it and the time). To go back to the earlier kampung, unpack it in
    /// place of the data directory.
    #[arg(long)]
    pub backup: Option<PathBuf>,
    /// Print what was moved as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(data: &Path, a: MigrateArgs) -> anyhow::Result<ExitCode> {
    let dir = DataDir::open(data)?;
    if super::status::running_api(data).is_some() {
        bail!(
            "the node on {} is running and holds its store: stop it (systemctl stop kampung, or Ctrl-C on `kampung run`) and migrate again",
            data.display()
        );
    }
    let Some(documents) = dir.earlier_store()? else {
        if a.json {
            super::print_json(&serde_json::json!({ "migrated": false }))?;
        } else {
            println!("nothing to migrate: the store is of this version's layout");
        }
        return Ok(ExitCode::SUCCESS);
    };
    let out = a
        .backup
        .unwrap_or_else(|| super::backup::beside(data, "before-migrate"));
    copy_as_tar(data, &out).with_context(|| {
        format!(
            "the backup before the move failed ({}): nothing was changed",
            out.display()
        )
    })?;
    if !a.json {
        println!(
            "backup of the data directory as it was ({documents} document(s)): {}",
            out.display()
        );
    }
    let migration = dir.migrate_store()?;
    let differences = migration.differences();
    if a.json {
        super::print_json(&serde_json::json!({
            "migrated": true,
            "backup": out,
            "moved": migration.moved,
            "before": migration.before,
            "after": migration.after,
            "differences": differences,
        }))?;
    } else {
        print_text(&migration, &differences);
    }
    if differences.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        bail!(
            "the move changed {} document(s) (above): stop here, put the backup {} back in place of {} and report this",
            differences.len(),
            out.display(),
            data.display()
        )
    }
}

fn print_text(m: &Migration, differences: &[String]) {
    println!(
        "store moved to this version's layout: {} document(s) moved",
        m.moved
    );
    let after: std::collections::BTreeMap<&str, Option<usize>> = m
        .after
        .iter()
        .map(|c| (c.doc.as_str(), c.residents))
        .collect();
    let villages: Vec<_> = m
        .before
        .iter()
        .filter_map(|c| Some((c.doc.strip_prefix("v/")?, c)))
        .collect();
    if !villages.is_empty() {
        println!(
            "{:<16} {:>17} {:>8}",
            "village", "residents before", "after"
        );
        for (village, c) in &villages {
            let after = after.get(c.doc.as_str()).copied().flatten();
            println!(
                "{village:<16} {:>17} {:>8}",
                residents_text(c.residents),
                residents_text(after)
            );
        }
    }
    println!(
        "other documents (crossing logs, isolation cases): {}",
        m.before.len() - villages.len()
    );
    if differences.is_empty() {
        println!("nothing lost: every document is stored the same after the move");
    } else {
        for d in differences {
            println!("DIFFERENT: {d}");
        }
    }
}

/// The data directory, as it is, into a tar file written as FILE.partial
/// and renamed once complete and synced (owner-only: it holds the node's key).
fn copy_as_tar(data: &Path, out: &Path) -> anyhow::Result<()> {
    let tmp = super::backup::partial(out);
    let file = super::backup::create_private(&tmp)?;
    let mut tar = tar::Builder::new(file);
    let name = data
        .file_name()
        .map_or_else(|| "kampung-data".into(), |n| n.to_os_string());
    tar.append_dir_all(&name, data)
        .with_context(|| format!("reading {}", data.display()))?;
    let file = tar
        .into_inner()
        .with_context(|| format!("writing {}", tmp.display()))?;
    file.sync_all()
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}
