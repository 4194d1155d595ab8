use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use kampung_core::{DocId, VillageCode};
use kampung_node::Actor;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write to this file instead of standard output; a name ending in
    /// `.xlsx` writes an Excel workbook (NIK and KK kept as text). With
    /// `--automerge --all`, the directory to write the documents into.
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
    /// Write a raw Automerge document instead of CSV: DOC is a document id
    /// (v/35.10.15.2012 or just 35.10.15.2012 for a village's residents,
    /// x/PEER_ID for a checkpoint's crossing log, c/CASE_ID for an
    /// isolation case; `kampung status` on a running node lists them), or
    /// give --all. The file is the document's save(), which any Automerge
    /// implementation loads; docs/documents.md describes its fields. Needs
    /// --out; the file is readable by its owner only (personal data).
    #[arg(
        long,
        value_name = "DOC",
        num_args = 0..=1,
        requires = "out",
        conflicts_with_all = ["village", "at"]
    )]
    automerge: Option<Option<String>>,
    /// With --automerge: every document this node holds, one file each
    /// (v_35.10.15.2012.automerge, ...) in the existing directory --out names.
    #[arg(long, requires = "automerge")]
    all: bool,
}

pub fn run(data: &Path, a: Args) -> anyhow::Result<ExitCode> {
    if let Some(doc) = a.automerge {
        // `requires = "out"` makes clap refuse --automerge without --out.
        let out = a.out.context("--automerge needs --out")?;
        return automerge(data, doc, a.all, &out);
    }
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
            write_private(&path, &bytes)?;
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

/// `--automerge DOC --out FILE`, or `--automerge --all --out DIR`.
fn automerge(data: &Path, doc: Option<String>, all: bool, out: &Path) -> anyhow::Result<ExitCode> {
    let ids = match (doc, all) {
        (Some(doc), false) => vec![kampung_node::parse_document_id(&doc)?],
        (Some(doc), true) => {
            anyhow::bail!(
                "--automerge {doc} names one document and --all every one: give one of them"
            )
        }
        (None, false) => anyhow::bail!(
            "--automerge needs the document to export (e.g. --automerge 35.10.15.2012), or --all \
             for every document this node holds"
        ),
        (None, true) => Vec::new(),
    };
    if all {
        if !out.is_dir() {
            anyhow::bail!(
                "{} is not an existing directory: --all writes one file per document into it \
                 (create it first: mkdir -p {})",
                out.display(),
                out.display()
            );
        }
    } else {
        if out.is_dir() {
            anyhow::bail!(
                "{} is a directory: give the file to write (e.g. {}), or --all to write every \
                 document into the directory",
                out.display(),
                out.join(kampung_node::document_file_name(&ids[0]))
                    .display()
            );
        }
        let parent = out.parent().filter(|p| !p.as_os_str().is_empty());
        if let Some(dir) = parent.filter(|d| !d.is_dir()) {
            anyhow::bail!(
                "cannot write {}: the directory {} does not exist (create it first)",
                out.display(),
                dir.display()
            );
        }
    }
    let (_, backend) = super::backend::Backend::open(data)?;
    let ids = if all { held_documents(&backend)? } else { ids };
    let mut written = 0;
    for id in &ids {
        let bytes = document_bytes(&backend, id)?;
        let path = if all {
            out.join(kampung_node::document_file_name(id))
        } else {
            out.to_path_buf()
        };
        write_private(&path, &bytes)?;
        eprintln!("wrote {id} ({} bytes) to {}", bytes.len(), path.display());
        written += 1;
    }
    backend.close()?;
    if all {
        eprintln!(
            "{written} document(s) written to {} (readable by their owner only)",
            out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Every document the node holds.
fn held_documents(backend: &super::backend::Backend) -> anyhow::Result<Vec<DocId>> {
    if let Some(ids) = backend.local(|n| async move { n.documents(&Actor::local()).await }) {
        return ids;
    }
    #[derive(serde::Deserialize)]
    struct Held {
        doc: String,
    }
    #[derive(serde::Deserialize)]
    struct Status {
        documents: Vec<Held>,
    }
    let status: Status = backend
        .remote()?
        .get("/v1/status")?
        .context("the running node has no status route")?;
    let mut ids: Vec<DocId> = status
        .documents
        .iter()
        .filter_map(|d| DocId::parse(&d.doc))
        .collect();
    ids.sort();
    Ok(ids)
}

/// One document as the node library makes it (on a running node, through
/// its API).
fn document_bytes(backend: &super::backend::Backend, id: &DocId) -> anyhow::Result<Vec<u8>> {
    let wanted = id.clone();
    if let Some(bytes) =
        backend.local(|n| async move { n.document_bytes(&Actor::local(), &wanted).await })
    {
        return bytes;
    }
    let mut out = Vec::new();
    backend.remote()?.download(
        &format!("/v1/documents/{}", super::backend::segment(id.as_str())),
        &mut out,
    )?;
    Ok(out)
}

/// Write `bytes` to `path` whole: into a file beside it, readable by its
/// owner only (exports hold personal data), flushed, then renamed over
/// `path`: a crash leaves the old file or the new one, never half of one.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let written = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        // A file left by an earlier attempt keeps its mode: set it again.
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", tmp.display()));
    }
    std::fs::rename(&tmp, path).with_context(|| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}", path.display())
    })
}
