use std::path::Path;
use std::process::ExitCode;

use kampung_core::VillageCode;
use kampung_datadir::{DataDir, Role};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    role: RoleArgs,
    /// The mesh's root public key: the ROOT.pub file from `kampung admin keygen`
    /// (or the root's peer id). Without it the node is in development mode:
    /// it accepts anything, so it runs on loopback only.
    #[arg(long, value_name = "ROOT.pub")]
    root: Option<String>,
}

/// What the node is for: exactly one.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct RoleArgs {
    /// A village office node: its code (35.10.15.2012) or its name
    /// (Kampunganyar; "Karangrejo, Gambiran" where two districts share a
    /// name). `kampung villages` lists them.
    #[arg(long, value_parser = |s: &str| kampung_core::banyuwangi::village_named(s).map(|v| v.code))]
    village: Option<VillageCode>,
    /// A border checkpoint node, by name (e.g. ketapang).
    #[arg(long)]
    checkpoint: Option<String>,
    /// An isolation facility node, by name (e.g. gor-tawangalun).
    #[arg(long)]
    facility: Option<String>,
    /// A read-only auditor node.
    #[arg(long)]
    auditor: bool,
}

pub fn run(data: &Path, a: Args) -> anyhow::Result<ExitCode> {
    let r = a.role;
    let role = match (r.village, r.checkpoint, r.facility) {
        (Some(village), _, _) => Role::Village { village },
        (None, Some(name), _) => Role::checkpoint(&name)?,
        (None, None, Some(name)) => Role::facility(&name)?,
        (None, None, None) => Role::Auditor,
    };
    // Read the root before creating anything: a wrong file leaves no directory behind.
    let root = a.root.as_deref().map(super::trust::read_root).transpose()?;
    let dir = DataDir::init(data, role)?;
    match root {
        Some(root) => dir.set_root_key(root)?,
        None => dir.mark_development()?,
    }
    // Create the store now so that a damaged or locked directory shows up at once.
    dir.open_registry(super::this_year())?;
    println!("initialised {} as {}", data.display(), dir.role());
    println!("peer id: {}", dir.info().peer_id);
    match root {
        Some(root) => println!(
            "root: {root}; ask the regency administrator for a certificate for this peer id (role {}), then `kampung trust add FILE`",
            dir.role().kind().as_str()
        ),
        None => println!(
            "no root key: DEVELOPMENT MODE. This node accepts any change from any peer, so \
             `kampung run` keeps it on this machine (loopback addresses only, mDNS off). \
             For a real mesh: `kampung trust root ROOT.pub`"
        ),
    }
    Ok(ExitCode::SUCCESS)
}
