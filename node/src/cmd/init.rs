use std::path::Path;
use std::process::ExitCode;

use kampung_core::VillageCode;
use kampung_datadir::{DataDir, Role};

#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct Args {
    /// A village office node, by village code (e.g. 35.10.15.2012).
    #[arg(long, value_parser = |s: &str| VillageCode::parse(s).map_err(|e| e.to_string()))]
    village: Option<VillageCode>,
    /// A border checkpoint node, by name (e.g. ketapang).
    #[arg(long)]
    checkpoint: Option<String>,
    /// A read-only auditor node.
    #[arg(long)]
    auditor: bool,
}

pub fn run(data: &Path, a: Args) -> anyhow::Result<ExitCode> {
    let role = match (a.village, a.checkpoint) {
        (Some(village), _) => Role::Village { village },
        (None, Some(name)) => Role::checkpoint(&name)?,
        (None, None) => Role::Auditor,
    };
    let dir = DataDir::init(data, role)?;
    // Create the store now so that a damaged or locked directory shows up at once.
    dir.open_registry(super::this_year())?;
    println!("initialised {} as {}", data.display(), dir.role());
    println!("peer id: {}", dir.info().peer_id);
    Ok(ExitCode::SUCCESS)
}
