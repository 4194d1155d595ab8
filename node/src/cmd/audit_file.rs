//! `kampung audit verify --file FILE`: check a raw document file from
//! `kampung export --automerge` (the checks are in
//! `kampung_store::audit::file`). The file carries the document only:
//! whether its changes were signed by writers allowed to make them is
//! checked against the write signatures this node holds for the document
//! of that name, so the node must hold it (every node does once synced).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use kampung_node::Actor;
use kampung_store::audit::file::FileReport;

use super::audit::{failure_line, writer_line};
use super::backend::Backend;

pub fn run(data: &Path, file: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| {
        format!(
            "cannot read {}: give the file `kampung export --automerge` wrote",
            file.display()
        )
    })?;
    let (_, backend) = Backend::open(data)?;
    let report: FileReport = match &backend {
        Backend::Remote(remote) => {
            if bytes.len() > kampung_api::MAX_BODY {
                anyhow::bail!(
                    "{} is {} bytes, more than a running node takes ({} bytes): stop the node \
                     and run this again, which checks the file on its store directly",
                    file.display(),
                    bytes.len(),
                    kampung_api::MAX_BODY
                );
            }
            remote.post_bytes("/v1/documents/verify", &bytes)?
        }
        Backend::Local { .. } => backend
            .local(|n| async move { n.check_document_file(&Actor::local(), bytes).await })
            .context("the local node has stopped")??,
    };
    backend.close()?;
    if json {
        super::print_json(&report)?;
    } else {
        print_text(file, &report);
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_text(file: &Path, r: &FileReport) {
    if !r.loads {
        println!("file {} ({} bytes): does NOT load", file.display(), r.bytes);
    } else {
        println!(
            "file {} ({} bytes): loads as an Automerge document: {} change(s), head(s) {}",
            file.display(),
            r.bytes,
            r.changes,
            r.heads.join(" ")
        );
    }
    if let (Some(kind), Some(doc)) = (r.kind, &r.doc) {
        let name = doc
            .strip_prefix("v/")
            .and_then(|c| kampung_core::VillageCode::parse(c).ok())
            .and_then(kampung_core::banyuwangi::village)
            .map(|v| format!(" ({})", v.name))
            .unwrap_or_default();
        let records = match r.records {
            Some(n) => format!("{n} record(s) read"),
            None => "its records do NOT read".into(),
        };
        let genesis = match r.genesis {
            Some(true) => "; its genesis is the mesh's",
            Some(false) => "; its genesis is NOT the mesh's",
            None => "",
        };
        println!(
            "document {doc}: {}{name}; {records}{genesis}",
            kind.describe()
        );
    }
    if r.loads && r.doc.is_some() {
        let against = if r.authorisation_checked {
            "this node's signatures and the certificates its root signed"
        } else {
            "this node's signatures (no root key configured: not who was allowed to write)"
        };
        if r.held {
            println!(
                "signatures: checked against {against}: {} of {} change(s) covered by a valid \
                 signature of their writer{}",
                r.changes_verified,
                r.changes,
                if r.changes_not_held > 0 {
                    format!(
                        "; {} change(s) of the file are not in this node's copy",
                        r.changes_not_held
                    )
                } else {
                    String::new()
                }
            );
        } else {
            println!(
                "signatures: NOT checked: this node does not hold {}, and the file carries no \
                 signatures",
                r.doc.as_deref().unwrap_or_default()
            );
        }
    }
    for w in &r.writers {
        println!("  writer {}", writer_line(w));
    }
    for f in &r.failures {
        println!("  {}", failure_line(f));
    }
    println!(
        "result: {}",
        if r.ok {
            "ALL GOOD".to_string()
        } else {
            format!("FAILED ({} problem(s))", r.failures.len())
        }
    );
}
