use std::fs::File;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use kampung_csv::RowError;
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The CSV file (columns: see `kampung export`). Excel's ';' separator is accepted.
    file: PathBuf,
    /// Import the good rows even if some rows are bad (the bad ones are listed and skipped).
    #[arg(long)]
    skip_bad: bool,
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
    imported: bool,
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
            message: e.reason.clone(),
        }
    }
}

pub fn run(data: &Path, a: Args) -> anyhow::Result<ExitCode> {
    let (dir, backend) = super::backend::Backend::open(data)?;
    super::own_village(&dir)?;
    let file = File::open(&a.file).with_context(|| format!("cannot open {}", a.file.display()))?;
    let read = kampung_csv::read(file, super::this_year())
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
    let refused = backend.check(&residents)?;
    let mut bad = vec![false; residents.len()];
    for r in refused {
        let Some(row) = read.rows.get(r.index) else {
            continue;
        };
        bad[r.index] = true;
        errors.push(Problem {
            line: row.line,
            field: Some(r.code.field()),
            message: r.message,
        });
    }
    errors.sort_by_key(|p| p.line);
    let good: Vec<_> = residents
        .into_iter()
        .zip(bad)
        .filter(|(_, b)| !b)
        .map(|(r, _)| r)
        .collect();
    let mut report = Report {
        file: a.file.display().to_string(),
        rows: read.rows.len() + read.errors.len(),
        added: 0,
        changed: 0,
        unchanged: 0,
        skipped: 0,
        errors,
        warnings,
        imported: false,
    };
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
    let written = backend.write(good, &mut |n| bar.set_position(n as u64))?;
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
    for e in &r.errors {
        let field = e.field.map(|f| format!(", field {f}")).unwrap_or_default();
        eprintln!("{}: line {}{field}: {}", r.file, e.line, e.message);
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
