//! `kampung audit verify`: check, from this node's store alone, that every
//! stored change was signed by a writer whose certificate allowed it, that
//! no change graph has a hole, and that the index equals the documents
//! (the checks themselves are in `kampung_store::audit`).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use kampung_core::VillageCode;
use kampung_datadir::DataDir;
use kampung_node::{Actor, RecordEventKind};
use kampung_store::audit::{self, AuditReport, Failure, Writer};

use super::admin::fmt_ms;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check every stored change against its signature and the certificate in
    /// force when it was made; exits non-zero on any failure.
    #[command(
        after_help = "Examples:\n  kampung audit verify\n  kampung audit verify --json > audit.json\n  kampung audit verify --html laporan-audit.html\n  kampung audit verify --file v_35.10.15.2012.automerge\n\nOn a running node the check runs inside it (through its API); on a stopped one, on its store."
    )]
    Verify {
        /// Check a raw document file (from `kampung export --automerge`)
        /// instead of this node's store: that Automerge loads it (a
        /// truncated or altered file is refused, saying what is wrong),
        /// which document it is, that its records read, and that every
        /// change in it is covered by a signature of a writer allowed to
        /// make it. The file carries no signatures: they are checked
        /// against those this node holds for that document, so run it on
        /// a node that holds it (every node does once synced). Exits 1 if
        /// anything fails.
        #[arg(long, value_name = "FILE", conflicts_with = "html")]
        file: Option<std::path::PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Also write the report as one self-contained HTML file (in
        /// Bahasa Indonesia; `--lang en` for English) an inspector can keep.
        #[arg(long, value_name = "FILE")]
        html: Option<std::path::PathBuf>,
        /// The language of the HTML report: id or en.
        #[arg(long, default_value = "id", value_parser = ["id", "en"])]
        lang: String,
    },
    /// Who looked up whose data on this node, newest first (the access log).
    ///
    /// Example: kampung audit access --nik 3510155203850001
    #[command(
        after_help = "Examples:\n  kampung audit access --nik 3510155203850001\n  kampung audit access --user made.suarta --limit 50"
    )]
    Access {
        /// Only look-ups of this NIK.
        #[arg(long)]
        nik: Option<String>,
        /// Only look-ups by this account (login name or id) or token id.
        #[arg(long)]
        user: Option<String>,
        /// Entries at most.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Every change to a person's records, oldest first: when, which node
    /// and person, each field old → new, and whether the change passes
    /// `audit verify`'s signature and authority check. Works on a running
    /// node too.
    #[command(
        after_help = "Examples:\n  kampung audit history 3510155203850001\n  kampung audit history 3510155203850001 --village 35.10.15.2012 --json"
    )]
    History {
        /// The NIK (16 digits; spaces, dots and dashes are ignored).
        nik: String,
        /// Also read this village's document: where the record was
        /// withdrawn, the index no longer names the village.
        #[arg(long, value_parser = parse_village)]
        village: Option<VillageCode>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// What changed in a village's records between two times (by the
    /// writers' clocks): who was added, whose record changed, whose was
    /// withdrawn.
    #[command(
        after_help = "Examples:\n  kampung audit changes --village 35.10.15.2012 --from 2026-06-01 --to 2026-06-08\n  kampung audit changes --village 35.10.15.2012 --from 2026-06-01T08:00+07:00 --to 2026-06-01T17:00 --json"
    )]
    Changes {
        /// The village's code (e.g. 35.10.15.2012).
        #[arg(long, value_parser = parse_village)]
        village: VillageCode,
        /// From this time: 2026-06-01T08:00+07:00, 2026-06-01T08:00 (WIB)
        /// or 2026-06-01 (its start, WIB).
        #[arg(long, value_parser = parse_time)]
        from: i64,
        /// To this time (default: now).
        #[arg(long, value_parser = parse_time)]
        to: Option<i64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Compute every crossing's verdict again from the registry state it
    /// was computed on and the policy then in force, and report each one
    /// that does not match; exits non-zero if any does not. Works on a
    /// running node too.
    #[command(
        after_help = "Examples:\n  kampung audit replay\n  kampung audit replay --checkpoint 12D3KooW... --from 2026-06-01 --to 2026-06-08\n  kampung audit replay --json > replay.json"
    )]
    Replay {
        /// Only this checkpoint's crossings (its peer id).
        #[arg(long, value_name = "PEER")]
        checkpoint: Option<String>,
        /// Crossings from this time: 2026-06-01T08:00+07:00,
        /// 2026-06-01T08:00 (WIB) or 2026-06-01 (its start, WIB).
        #[arg(long, value_parser = parse_time)]
        from: Option<i64>,
        /// Crossings before this time.
        #[arg(long, value_parser = parse_time)]
        to: Option<i64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn parse_village(s: &str) -> Result<VillageCode, String> {
    VillageCode::parse(s).map_err(|e| e.to_string())
}

/// A time as `kampung_core::clock::parse_instant` reads it (unix seconds).
pub fn parse_time(s: &str) -> Result<i64, String> {
    kampung_core::clock::parse_instant(s)
}

pub fn run(data: &Path, c: Command) -> anyhow::Result<ExitCode> {
    if let Command::Verify {
        file: Some(file),
        json,
        ..
    } = &c
    {
        return super::audit_file::run(data, file, *json);
    }
    let (json, html, lang) = match c {
        Command::Verify {
            json, html, lang, ..
        } => (json, html, lang),
        Command::Access {
            nik,
            user,
            limit,
            json,
        } => return access(data, nik, user, limit, json),
        Command::History { nik, village, json } => return history(data, &nik, village, json),
        Command::Changes {
            village,
            from,
            to,
            json,
        } => return changes(data, village, from, to, json),
        Command::Replay {
            checkpoint,
            from,
            to,
            json,
        } => return super::audit_replay::run(data, checkpoint, from, to, json),
    };
    let report = match super::status::running_api(data) {
        // A running node holds its store: it runs the check itself.
        Some(_) => {
            let (_, backend) = super::backend::Backend::open(data)?;
            let report: AuditReport = backend
                .remote()?
                .get("/v1/audit/verify")?
                .context("the running node has no audit route: update it")?;
            backend.close()?;
            report
        }
        None => {
            let dir = DataDir::open(data)?;
            let root = dir.root_key()?;
            let storage = dir.open_storage()?;
            audit::audit(&storage, root, super::now_ms(), super::this_year())?
        }
    };
    if let Some(path) = html {
        let lang = if lang == "en" {
            kampung_i18n::Lang::En
        } else {
            kampung_i18n::Lang::Id
        };
        let page = kampung_web::report::report_html(
            lang,
            &report,
            super::now_ms(),
            &data.display().to_string(),
            &kampung_web::report::label_or_peer,
        );
        std::fs::write(&path, page)
            .with_context(|| format!("cannot write the report to {}", path.display()))?;
        eprintln!("report written to {}", path.display());
    }
    if json {
        super::print_json(&report)?;
    } else {
        print_text(data, &report);
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn access(
    data: &Path,
    nik: Option<String>,
    user: Option<String>,
    limit: usize,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (_, backend) = super::backend::Backend::open(data)?;
    let q = kampung_node::AccessQuery {
        subject: nik.clone(),
        who: user.clone(),
        limit: limit.clamp(1, 1000),
    };
    let entries: serde_json::Value = match backend.local(|n| async move {
        Ok(serde_json::to_value(
            n.read_access_log(&kampung_node::Actor::local(), &q)?
                .into_iter()
                .map(|e| {
                    serde_json::json!({"at_ms": e.at_ms, "who": e.who, "name": e.name,
                        "role": e.role, "what": e.what.as_str(), "subject": e.subject, "answer": e.answer})
                })
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default())
    }) {
        Some(r) => r?,
        None => {
            let mut path = format!("/v1/access-log?limit={}", limit.clamp(1, 1000));
            if let Some(n) = &nik {
                path.push_str(&format!("&nik={}", super::backend::segment(n)));
            }
            if let Some(u) = &user {
                path.push_str(&format!("&who={}", super::backend::segment(u)));
            }
            backend.remote()?.get(&path)?.unwrap_or_default()
        }
    };
    backend.close()?;
    if json {
        super::print_json(&entries)?;
        return Ok(ExitCode::SUCCESS);
    }
    let list = entries.as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        println!("no look-ups recorded that match");
    }
    for e in list {
        println!(
            "{}  {:<8} {:<24} {:<10} {:<18} {}",
            fmt_ms(e["at_ms"].as_i64().unwrap_or(0)),
            e["what"].as_str().unwrap_or("?"),
            format!(
                "{} ({})",
                e["name"].as_str().unwrap_or("?"),
                e["role"].as_str().unwrap_or("?")
            ),
            e["who"].as_str().unwrap_or("?"),
            e["subject"].as_str().unwrap_or("?"),
            e["answer"].as_str().unwrap_or("?")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn history(
    data: &Path,
    nik: &str,
    village: Option<VillageCode>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (_, backend) = super::backend::Backend::open(data)?;
    let also: Vec<VillageCode> = village.into_iter().collect();
    let timeline: serde_json::Value = match backend.local(|n| {
        let also = also.clone();
        async move {
            let t = n.record_timeline(&Actor::local(), nik, &also).await?;
            Ok(serde_json::to_value(t).unwrap_or_default())
        }
    }) {
        Some(t) => t?,
        None => {
            let mut path = format!("/v1/audit/history/{}", super::backend::segment(nik));
            if let Some(v) = village {
                path.push_str(&format!("?village={v}"));
            }
            backend
                .remote()?
                .get(&path)?
                .context("the node has no history route: update it")?
        }
    };
    backend.close()?;
    if json {
        super::print_json(&timeline)?;
        return Ok(ExitCode::SUCCESS);
    }
    let t: kampung_node::RecordTimeline = serde_json::from_value(timeline)?;
    let read: Vec<String> = t.villages.iter().map(ToString::to_string).collect();
    println!(
        "history of {} in {}",
        t.nik,
        if read.is_empty() {
            "no village document (no record: name a village with --village)".to_string()
        } else {
            read.join(", ")
        }
    );
    let mut unverified = 0;
    for e in &t.events {
        let what = match e.kind {
            RecordEventKind::Added => "added",
            RecordEventKind::Corrected => "corrected",
            RecordEventKind::MovedOut => "moved out",
            RecordEventKind::Deceased => "deceased",
            RecordEventKind::Withdrawn => "withdrawn",
        };
        let mut node = e.node.clone();
        if let Some(role) = e.node_role {
            node.push_str(&format!(" {}", role.as_str()));
        }
        if let Some(l) = e.node_label.as_deref().filter(|l| !l.is_empty()) {
            node.push_str(&format!(" \"{l}\""));
        }
        let person = match (&e.person, &e.person_id) {
            (Some(p), Some(id)) => format!("{p} ({id})"),
            _ => "the node itself".to_string(),
        };
        let check = if e.verified {
            "signature ok"
        } else {
            unverified += 1;
            "FAILS the audit: no valid, authorised signature"
        };
        println!(
            "{}  {}  {what} by {person} at {node}; {check} [change {}]",
            fmt_s(e.at_s),
            e.village,
            e.change
        );
        if let Some(why) = &e.reason {
            println!("    reason: {why}");
        }
        for f in &e.fields {
            println!("    {}: {:?} -> {:?}", f.field, f.old, f.new);
        }
    }
    if t.events.is_empty() {
        println!("no changes found");
    }
    if !t.crossings.is_empty() {
        println!("checks at checkpoints:");
    }
    for c in &t.crossings {
        let post = c
            .checkpoint_label
            .clone()
            .unwrap_or_else(|| c.checkpoint.clone());
        let officer = match (&c.officer, &c.officer_id) {
            (Some(name), Some(id)) => format!("{name} ({id})"),
            (Some(name), None) => name.clone(),
            _ => "no officer signed in".to_string(),
        };
        let case = c
            .case_id
            .as_deref()
            .map(|id| format!(", case {id}"))
            .unwrap_or_default();
        println!(
            "{}  {post}: {}, {} by {officer}{case}",
            fmt_ms(c.at_ms),
            c.verdict,
            c.decision
        );
    }
    if !t.cases.is_empty() {
        println!("isolation cases:");
    }
    for e in &t.cases {
        let who = match &e.by.person {
            Some(p) => format!(
                "{} ({}) at {} {}",
                p.name,
                p.id,
                e.by.role.as_str(),
                e.by.peer
            ),
            None => format!("{} {}", e.by.role.as_str(), e.by.peer),
        };
        let detail = e
            .detail
            .as_deref()
            .map(|d| format!(" {d}"))
            .unwrap_or_default();
        println!(
            "{}  case {}: {}{detail} by {who}",
            fmt_ms(e.at_ms),
            e.case_id,
            e.what
        );
    }
    Ok(if unverified == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn changes(
    data: &Path,
    village: VillageCode,
    from: i64,
    to: Option<i64>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let to = to.unwrap_or_else(|| super::now_ms() / 1000);
    if to < from {
        bail!("--to is before --from");
    }
    let (_, backend) = super::backend::Backend::open(data)?;
    let found: serde_json::Value = match backend.local(|n| async move {
        let c = n
            .village_changes(&Actor::local(), village, from, to)
            .await?;
        Ok(serde_json::to_value(c).unwrap_or_default())
    }) {
        Some(c) => c?,
        None => {
            let path = format!(
                "/v1/audit/villages/{village}/changes?from={}&to={}",
                rfc3339(from),
                rfc3339(to)
            );
            backend
                .remote()?
                .get(&path)?
                .context("the node has no changes route: update it")?
        }
    };
    backend.close()?;
    if json {
        super::print_json(&found)?;
        return Ok(ExitCode::SUCCESS);
    }
    let c: kampung_node::VillageChanges = serde_json::from_value(found)?;
    println!(
        "{village}: from {} to {}: {} added, {} changed, {} withdrawn",
        fmt_s(c.from_s),
        fmt_s(c.to_s),
        c.added.len(),
        c.changed.len(),
        c.withdrawn.len()
    );
    for r in &c.added {
        println!("  added      {}  {}", r.nik, r.full_name);
    }
    for r in &c.changed {
        let fields: Vec<String> = r
            .fields
            .iter()
            .map(|f| format!("{}: {:?} -> {:?}", f.field, f.old, f.new))
            .collect();
        println!(
            "  changed    {}  {}: {}",
            r.new.nik,
            r.new.full_name,
            fields.join("; ")
        );
    }
    for r in &c.withdrawn {
        println!("  withdrawn  {}  {}", r.nik, r.full_name);
    }
    Ok(ExitCode::SUCCESS)
}

/// Unix seconds as `2026-06-01T01:00:00Z`, for a query parameter.
pub fn rfc3339(s: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(s)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_default()
}

fn fmt_s(s: i64) -> String {
    fmt_ms(s.saturating_mul(1000))
}

pub(super) fn writer_line(w: &Writer) -> String {
    let mut who = w.writer.clone();
    if let Some(role) = w.role {
        who.push_str(&format!(" {}", role.as_str()));
    }
    if let Some(v) = &w.village {
        who.push_str(&format!(" {v}"));
    }
    if let Some(l) = w.label.as_deref().filter(|l| !l.is_empty()) {
        who.push_str(&format!(" \"{l}\""));
    }
    if w.role.is_none() {
        who.push_str(" (no certificate known here)");
    }
    format!(
        "{who}: {} change(s), {} to {}",
        w.changes,
        fmt_s(w.first_s),
        fmt_s(w.last_s)
    )
}

pub(super) fn failure_line(f: &Failure) -> String {
    // The same stable name as in --json.
    let kind = serde_json::to_value(f.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mut line = format!("FAIL {kind}: {}", f.message);
    if let Some(first) = f.changes.first() {
        line.push_str(&format!(" [change {first}"));
        if f.count > 1 {
            line.push_str(&format!(" and {} more", f.count - 1));
        }
        line.push(']');
    }
    line
}

fn print_text(data: &Path, r: &AuditReport) {
    match &r.root {
        Some(root) => println!(
            "audit of {} against root {root} ({} statement(s) verified{})",
            data.display(),
            r.statements,
            if r.statements_skipped > 0 {
                format!(", {} not from this root ignored", r.statements_skipped)
            } else {
                String::new()
            }
        ),
        None => println!(
            "audit of {}: no root key configured, so only signatures are checked",
            data.display()
        ),
    }
    for d in &r.documents {
        println!(
            "document {}: {} change(s), {} signature(s) checked, {} valid: {}",
            d.doc,
            d.changes,
            d.signatures,
            d.signatures_valid,
            if d.ok { "ok" } else { "FAILED" }
        );
        if d.signatures_clock_off > 0 {
            println!(
                "  {} signature(s) made with a clock off (after this audit's time, or outside the signer's certificate): they cover nothing; a later signature covers their changes",
                d.signatures_clock_off
            );
        }
        for w in &d.writers {
            println!("  writer {}", writer_line(w));
        }
        for f in &d.failures {
            println!("  {}", failure_line(f));
        }
    }
    println!("who changed what:");
    if r.writers.is_empty() {
        println!("  (no changes besides the documents' genesis)");
    }
    for w in &r.writers {
        println!("  {} in {} document(s)", writer_line(w), w.documents);
        for p in r.people.iter().filter(|p| p.writer == w.writer) {
            let who = match (&p.person, &p.person_id) {
                (Some(name), Some(id)) => format!("{name} ({id})"),
                _ => "the node itself (no one signed in)".to_string(),
            };
            println!(
                "    {who}: {} change(s), {} to {}",
                p.changes,
                fmt_s(p.first_s),
                fmt_s(p.last_s)
            );
        }
    }
    if r.index.ok {
        println!("index: agrees with the documents ({} NIKs)", r.index.niks);
    } else {
        println!("index: {} problem(s)", r.index.problems.len());
        for p in r.index.problems.iter().take(20) {
            println!("  {p}");
        }
    }
    for f in &r.failures {
        println!("{}", failure_line(f));
    }
    let s = &r.summary;
    println!(
        "summary: {} document(s) ({} failed), {} change(s), {} signature(s), {} failure(s): {}",
        s.documents,
        s.documents_failed,
        s.changes,
        s.signatures,
        s.failures,
        if r.ok { "ALL GOOD" } else { "FAILED" }
    );
}
