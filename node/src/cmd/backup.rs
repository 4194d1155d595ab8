//! `kampung backup` and `kampung restore`: the workflow is the node
//! library's (`kampung_node::backup`); a running node streams its backup
//! through its API, a stopped one is read directly.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use kampung_node::backup::{restore, Backup};
use kampung_node::Actor;

use super::backend::Backend;

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The backup file to write (a tar file, owner-only: it holds the
    /// node's key). Written as FILE.partial and renamed once complete and
    /// checked, so FILE is never a half-written backup.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// A file written by `kampung backup`.
    pub file: PathBuf,
}

/// `DATA-WHAT-YYYYMMDD-HHMMSS.tar` beside the data directory: the backup a
/// command takes before it changes the store.
pub fn beside(data: &Path, what: &str) -> PathBuf {
    let name = data
        .file_name()
        .map_or_else(|| "kampung".into(), |n| n.to_string_lossy().into_owned());
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]-[hour][minute][second]"
        ))
        .unwrap_or_default();
    data.with_file_name(format!("{name}-{what}-{stamp}.tar"))
}

/// FILE.partial beside FILE.
pub fn partial(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    out.with_file_name(name)
}

pub fn create_private(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))
}

pub fn backup(data: &Path, a: BackupArgs) -> anyhow::Result<ExitCode> {
    let (_dir, backend) = Backend::open(data)?;
    let tmp = partial(&a.out);
    let mut file = create_private(&tmp)?;
    let written = match &backend {
        Backend::Remote(r) => r.download("/v1/backup", &mut file),
        Backend::Local { .. } => {
            let mut out = tokio::fs::File::from_std(
                file.try_clone()
                    .with_context(|| format!("cannot write {}", tmp.display()))?,
            );
            backend
                .local(|n| async move { n.backup(&Actor::local(), &mut out).await.map(|_| ()) })
                .unwrap_or_else(|| Err(anyhow::anyhow!("the local node has stopped")))
        }
    };
    backend.close()?;
    written?;
    file.flush()?;
    file.sync_all()
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    drop(file);
    // Read it back as a restore would: complete, every entry as its manifest says.
    let checked = Backup::read(&tmp)?;
    std::fs::rename(&tmp, &a.out).with_context(|| format!("cannot write {}", a.out.display()))?;
    if let Some(dir) = a.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    let m = &checked.manifest;
    let bytes = std::fs::metadata(&a.out).map(|m| m.len()).unwrap_or(0);
    println!(
        "backup of {} ({}) written to {} and checked: documents: {}, trust statements: {}, {:.1} MB. Keep it safe: it holds the node's key.",
        m.role,
        m.peer_id,
        a.out.display(),
        m.documents,
        m.statements,
        bytes as f64 / 1e6
    );
    Ok(ExitCode::SUCCESS)
}

pub fn restore_cmd(data: &Path, a: RestoreArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let r = rt.block_on(restore(&a.file, data))?;
    println!(
        "restored {} ({}) into {} from the backup of {}: documents: {}, trust statements: {}, accounts: {} (signed-in sessions are not kept: people sign in again). Start it with `kampung run`; it catches up from its peers, including what it wrote after the backup.",
        r.role,
        r.peer_id,
        data.display(),
        kampung_i18n::date_time(super::lang(), r.taken_at_ms),
        r.documents,
        r.statements,
        r.people
    );
    Ok(ExitCode::SUCCESS)
}
