use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The NIK as typed or scanned (spaces, dots and dashes are ignored).
    nik: String,
    /// Print the verdict as JSON (the same answer as the API's /v1/verdict).
    #[arg(long)]
    json: bool,
}

/// The verdict under the policy in force, with open isolation cases: from
/// the running node if there is one (its answer also says how fresh its
/// copy of the village is), else from the store.
pub fn run(data: &Path, a: Args) -> anyhow::Result<ExitCode> {
    let (_, backend) = super::backend::Backend::open(data)?;
    let answer = backend.verdict(&a.nik)?;
    backend.close()?;
    if a.json {
        super::print_json(&answer)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}", answer["explanation"].as_str().unwrap_or(""));
    let f = &answer["freshness"];
    if f.is_object() && f["own_document"].as_bool() != Some(true) {
        match f["owner_last_heard_secs"].as_f64() {
            Some(s) => println!(
                "  (our copy of {}: last heard from its village {s:.0} s ago)",
                f["doc"].as_str().unwrap_or("")
            ),
            None => println!(
                "  (our copy of {}: not heard from its village since this node started)",
                f["doc"].as_str().unwrap_or("")
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}
