use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The NIK as typed or scanned (spaces, dots and dashes are ignored).
    nik: String,
    /// Print the verdict as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(data: &Path, a: Args) -> anyhow::Result<ExitCode> {
    let (_, reg) = super::open(data)?;
    let verdict = reg.lookup(&a.nik);
    if a.json {
        super::print_json(&verdict)?;
    } else {
        println!("{}", verdict.explain());
    }
    Ok(ExitCode::SUCCESS)
}
