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
    // A running node holds the store: ask it (its answer also says how fresh our copy is).
    if super::status::running_api(data).is_some() {
        let path = format!("/v1/lookup/{}", a.nik.replace(['/', '?', '#', ' '], ""));
        let answer = super::status::get(data, &path)?;
        if a.json {
            super::print_json(&answer)?;
        } else {
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
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (_, reg) = super::open(data)?;
    let verdict = reg.lookup(&a.nik);
    if a.json {
        super::print_json(&verdict)?;
    } else {
        println!("{}", verdict.explain());
    }
    Ok(ExitCode::SUCCESS)
}
