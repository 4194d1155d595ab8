use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use std::collections::HashMap;

use kampung_core::Nik;
use kampung_csv::RowError;
use kampung_node::Confirmed;
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file: CSV (columns: see `kampung export`; Excel's ';' separator
    /// is accepted) or a workbook (.xlsx, .xls, .ods: its first sheet).
    /// Headers as SIAK writes them (NIK, NAMA LENGKAP, JENIS KELAMIN,
    /// TANGGAL LAHIR, NO KK, ...) are understood.
    file: PathBuf,
    /// Import the good rows even if some rows are bad (the bad ones are listed and skipped).
    #[arg(long)]
    skip_bad: bool,
    /// Show what the import would do (who is added, whose record changes,
    /// field by field, old -> new, and every bad row) and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Confirm, for this NIK, a change the import otherwise refuses: another
    /// name or sex, or a new name and birth date together (another
    /// person?), or a return from a recorded move out or death. Repeat for
    /// each NIK.
    #[arg(long, value_name = "NIK")]
    confirm: Vec<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    file: String,
    rows: usize,
    added: usize,
    changed: usize,
    unchanged: usize,
    skipped: usize,
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
    /// Columns of the file this node does not keep, left out.
    ignored_columns: Vec<String>,
    /// Every person whose record the import changes (or would, with --dry-run).
    changes: Vec<Changed>,
    dry_run: bool,
    imported: bool,
}

#[derive(Debug, Serialize)]
struct Changed {
    line: u64,
    nik: String,
    full_name: String,
    fields: Vec<kampung_node::FieldChange>,
}

#[derive(Debug, Serialize)]
struct Problem {
    line: u64,
    field: Option<&'static str>,
    message: String,
}

impl From<&RowError> for Problem {
    fn from(e: &RowError) -> Self {
        Problem {
            line: e.line,
            field: e.field,
            message: e.reason.to_string(),
        }
    }
}

pub fn run(data: &Path, a: Args) -> anyhow::Result<ExitCode> {
    let (dir, backend) = super::backend::Backend::open(data)?;
    let village = super::own_village(&dir)?;
    let file = std::fs::File::open(&a.file)
        .with_context(|| format!("cannot open {}", a.file.display()))?;
    let bytes = kampung_csv::read_bounded(file).with_context(|| format!("{}", a.file.display()))?;
    let read = kampung_csv::read_file_for(&bytes, super::this_year(), Some(village))
        .with_context(|| format!("{}", a.file.display()))?;
    let mut errors: Vec<Problem> = read.errors.iter().map(Problem::from).collect();
    let mut warnings = Vec::new();
    for row in &read.rows {
        for w in &row.warnings {
            warnings.push(Problem {
                line: row.line,
                field: Some("nik"),
                message: w.to_string(),
            });
        }
    }
    let residents: Vec<_> = read.rows.iter().map(|r| r.resident.clone()).collect();
    let confirmed = a
        .confirm
        .iter()
        .map(|n| {
            kampung_core::Nik::parse(n, super::this_year())
                .map(|p| p.nik())
                .map_err(|e| anyhow::anyhow!("--confirm {n}: {e}"))
        })
        .collect::<anyhow::Result<Confirmed>>()?;
    let preview = backend.preview(&residents, &confirmed)?;
    let mut bad = vec![false; residents.len()];
    for r in &preview.refused {
        let Some(row) = read.rows.get(r.index) else {
            continue;
        };
        bad[r.index] = true;
        errors.push(Problem {
            line: row.line,
            field: Some(if r.field.is_empty() {
                r.code.field()
            } else {
                field_name(&r.field)
            }),
            message: r.message.clone(),
        });
    }
    errors.sort_by_key(|p| p.line);
    let line_of: HashMap<Nik, u64> = read.rows.iter().map(|r| (r.resident.nik, r.line)).collect();
    let changes: Vec<Changed> = preview
        .changed
        .iter()
        .map(|c| Changed {
            line: line_of.get(&c.new.nik).copied().unwrap_or(0),
            nik: c.new.nik.to_string(),
            full_name: c.old.full_name.clone(),
            fields: c.fields.clone(),
        })
        .collect();
    let good: Vec<_> = residents
        .into_iter()
        .zip(bad)
        .filter(|(_, b)| !b)
        .map(|(r, _)| r)
        .collect();
    let mut report = Report {
        file: a.file.display().to_string(),
        rows: read.rows.len() + read.errors.len(),
        added: preview.added.len(),
        changed: preview.changed.len(),
        unchanged: preview.unchanged,
        skipped: 0,
        errors,
        warnings,
        ignored_columns: read.ignored.clone(),
        changes,
        dry_run: a.dry_run,
        imported: false,
    };
    if a.dry_run {
        report.skipped = report.rows - good.len();
        print_report(&report, a.json)?;
        if !a.json {
            println!(
                "{}: would add {}, change {}, leave {} unchanged; {} bad row(s). Nothing was written (--dry-run).",
                report.file,
                report.added,
                report.changed,
                report.unchanged,
                report.errors.len()
            );
        }
        return Ok(if report.errors.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    if !report.errors.is_empty() && !a.skip_bad {
        print_report(&report, a.json)?;
        if !a.json {
            eprintln!(
                "nothing was imported: {} bad row(s). Fix them and import again, or pass --skip-bad to import the {} good row(s).",
                report.errors.len(),
                good.len()
            );
        }
        return Ok(ExitCode::FAILURE);
    }
    report.skipped = report.rows - good.len();
    let bar = if std::io::stderr().is_terminal() && !a.json {
        indicatif::ProgressBar::new(good.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} importing [{bar:40}] {pos}/{len} residents ({eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let written = backend.write(good, &confirmed, &mut |n| bar.set_position(n as u64))?;
    backend.close()?;
    bar.finish_and_clear();
    report.added = written.added as usize;
    report.changed = written.changed as usize;
    report.unchanged = written.unchanged as usize;
    report.imported = true;
    print_report(&report, a.json)?;
    Ok(ExitCode::SUCCESS)
}

fn print_report(r: &Report, json: bool) -> anyhow::Result<()> {
    if json {
        return super::print_json(r);
    }
    if !r.ignored_columns.is_empty() {
        eprintln!(
            "{}: column(s) this node does not keep, left out: {}",
            r.file,
            r.ignored_columns.join(", ")
        );
    }
    for e in &r.errors {
        let field = e.field.map(|f| format!(", field {f}")).unwrap_or_default();
        eprintln!("{}: line {}{field}: {}", r.file, e.line, e.message);
    }
    for c in &r.changes {
        let fields: Vec<String> = c
            .fields
            .iter()
            .map(|f| format!("{} '{}' -> '{}'", f.field, f.old, f.new))
            .collect();
        println!(
            "{}: line {}: {} {}: {}",
            r.file,
            c.line,
            if r.imported {
                "changed"
            } else {
                "would change"
            },
            c.nik,
            format_args!("{}: {}", c.full_name, fields.join(", "))
        );
    }
    const SHOWN: usize = 20;
    for w in r.warnings.iter().take(SHOWN) {
        eprintln!("{}: line {}: warning: {}", r.file, w.line, w.message);
    }
    if r.warnings.len() > SHOWN {
        eprintln!(
            "... and {} more warning(s) (use --json for all)",
            r.warnings.len() - SHOWN
        );
    }
    if r.imported {
        println!(
            "{}: {} row(s): {} added, {} changed, {} unchanged, {} skipped, {} warning(s)",
            r.file,
            r.rows,
            r.added,
            r.changed,
            r.unchanged,
            r.skipped,
            r.warnings.len()
        );
    }
    Ok(())
}

/// The static name of a refused record's field (the CSV's columns).
fn field_name(field: &str) -> &'static str {
    kampung_csv::COLUMNS
        .iter()
        .find(|c| **c == field)
        .copied()
        .unwrap_or(match field {
            "village" => "village_code",
            _ => "nik",
        })
}
