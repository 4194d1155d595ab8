//! `kampung trust`: the mesh's root key on this node, and the root-signed
//! statements (certificates, revocations, policy) it holds.
//!
//! Statements are verified against this node's root before they are kept;
//! once kept they also spread through the mesh to other nodes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use kampung_datadir::DataDir;
use kampung_store::trust::load_roster;
use kampung_trust::{NodeKey, Roster, Signed, Statement, MAX_STATEMENT_BYTES};
use serde::Serialize;

use super::admin::{describe, describe_policy, fmt_ms, village_name};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Verify signed statement files from the regency administrator against
    /// this node's root and keep them (works whether or not the node runs).
    #[command(
        after_help = "Example:\n  kampung trust add kampunganyar.cert ketapang.cert policy-2.json"
    )]
    Add {
        /// Files written by `kampung admin certify`, `revoke` or `policy`.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Show the roster this node holds: certificates, revocations, the policy
    /// in force (reads the store: stop the node first).
    #[command(after_help = "Example:\n  kampung trust show")]
    Show {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Configure the mesh's root public key on a node initialised without `--root`.
    #[command(after_help = "Example:\n  kampung trust root root.pub")]
    Root {
        /// The ROOT.pub file from `kampung admin keygen` (or the root's peer id).
        #[arg(value_name = "ROOT.pub")]
        root: String,
        /// Replace a different root that is already configured.
        #[arg(long)]
        replace: bool,
    },
}

pub fn run(data: &Path, c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::Add { files } => add(data, &files),
        Command::Show { json } => show(data, json),
        Command::Root { root, replace } => set_root(data, &root, replace),
    }
}

/// The root public key given on the command line: a ROOT.pub file, or a peer id.
pub fn read_root(arg: &str) -> anyhow::Result<NodeKey> {
    let path = Path::new(arg);
    if path.is_file() {
        let text = fs::read_to_string(path)
            .with_context(|| format!("cannot read the root public key {}", path.display()))?;
        return text.trim().parse::<NodeKey>().map_err(|e| {
            anyhow::anyhow!(
                "{} is not a root public key ({e}): use the .pub file written by `kampung admin keygen`",
                path.display()
            )
        });
    }
    arg.parse::<NodeKey>().map_err(|_| {
        anyhow::anyhow!(
            "{arg}: no such file, and not a peer id: give the ROOT.pub file written by `kampung admin keygen`"
        )
    })
}

fn no_root(dir: &DataDir) -> anyhow::Error {
    anyhow::anyhow!(
        "no root key is configured for {}: configure the mesh's root first with `kampung trust root ROOT.pub` (or `kampung init --root ROOT.pub` for a new node)",
        dir.path().display()
    )
}

fn set_root(data: &Path, arg: &str, replace: bool) -> anyhow::Result<ExitCode> {
    let dir = DataDir::open(data)?;
    let root = read_root(arg)?;
    // (a missing root.pub is what this command restores)
    let current = match dir.root_key() {
        Err(kampung_datadir::DataDirError::RootMissing(_)) => None,
        other => other?,
    };
    match current {
        Some(old) if old == root => {
            println!("{} already trusts root {root}", data.display());
            return Ok(ExitCode::SUCCESS);
        }
        Some(old) if !replace => bail!(
            "{} already trusts root {old}: a node trusts one root; pass --replace to trust {root} instead (statements from the old root will then be ignored)",
            data.display()
        ),
        _ => {}
    }
    dir.set_root_key(root)?;
    println!("{} now trusts root {root}", data.display());
    if super::status::running_api(data).is_some() {
        println!("restart the node for it to take effect");
    }
    Ok(ExitCode::SUCCESS)
}

/// Read and verify one statement file, naming the file in every error.
fn read_statement(path: &Path, root: &NodeKey) -> anyhow::Result<(String, Signed)> {
    let size = fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if size > 4 * MAX_STATEMENT_BYTES as u64 {
        bail!(
            "{}: {size} bytes is too large for a signed statement: is it the right file?",
            path.display()
        );
    }
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let signed = Signed::from_file_text(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e}; expected a file written by `kampung admin certify`, `revoke` or `policy`",
            path.display()
        )
    })?;
    signed.verify(root).map_err(|e| {
        anyhow::anyhow!(
            "{}: refused: {e} (this node trusts root {root})",
            path.display()
        )
    })?;
    Ok((text, signed))
}

/// Say so when a certificate for this very node does not match its role.
fn check_own(dir: &DataDir, signed: &Signed) {
    let Statement::Certificate(c) = &signed.statement else {
        return;
    };
    let own = NodeKey::from_public(&dir.keypair().public()).ok();
    if own != Some(c.node) {
        return;
    }
    let village = match dir.role() {
        kampung_datadir::Role::Village { village } => Some(*village),
        _ => None,
    };
    if c.role != dir.role().kind() || c.village != village {
        eprintln!(
            "warning: this certificate makes this node a {}{}, but it was initialised as {}: its writes will be refused by other nodes",
            c.role.as_str(),
            c.village.map(|v| format!(" of {v}")).unwrap_or_default(),
            dir.role()
        );
    }
}

fn add(data: &Path, files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let dir = DataDir::open(data)?;
    let root = dir.root_key()?.ok_or_else(|| no_root(&dir))?;
    // Verify every file before keeping any: a refused file leaves the node as it was.
    let mut statements = Vec::with_capacity(files.len());
    for path in files {
        statements.push((path, read_statement(path, &root)?));
    }
    for (_, (_, signed)) in &statements {
        check_own(&dir, signed);
    }
    // The node's workflow, on the store or through the running node.
    let (_, backend) = super::backend::Backend::open(data)?;
    let running = matches!(backend, super::backend::Backend::Remote(_));
    for (path, (text, signed)) in &statements {
        let line = describe(&signed.statement);
        let new = backend
            .add_statement(text)
            .map_err(|e| anyhow::anyhow!("{}: refused: {e:#}", path.display()))?;
        let what = match (running, new) {
            (true, _) => "sent to the running node",
            (false, true) => "added",
            (false, false) => "already held",
        };
        println!("{}: {line} ({what})", path.display());
    }
    backend.close()?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Serialize)]
struct CertView {
    node: String,
    role: &'static str,
    village: Option<String>,
    village_name: Option<String>,
    label: String,
    not_before_ms: i64,
    until_ms: i64,
    /// in_force, expired, not_yet, revoked
    state: &'static str,
}

#[derive(Debug, Serialize)]
struct RevocationView {
    node: String,
    from_ms: i64,
    reason: String,
}

#[derive(Debug, Serialize)]
struct PolicyView {
    /// False when no policy was issued and the default applies.
    issued: bool,
    issued_ms: Option<i64>,
    version: u64,
    barred: Vec<String>,
    isolation_days: u32,
    retention: kampung_core::Retention,
}

#[derive(Debug, Serialize)]
struct RosterView {
    root: String,
    node: String,
    /// This node's own certificate is in force now and it is not revoked.
    admitted: bool,
    statements: usize,
    certificates: Vec<CertView>,
    revocations: Vec<RevocationView>,
    policy: PolicyView,
}

fn view(roster: &Roster, own: &str, now: i64) -> RosterView {
    let mut certificates = Vec::new();
    let mut revocations = Vec::new();
    for s in roster.statements() {
        match &s.statement {
            Statement::Certificate(c) => {
                let revoked = roster.revocation(&c.node).is_some_and(|r| r.from_ms <= now);
                let state = if revoked {
                    "revoked"
                } else if now < c.not_before_ms {
                    "not_yet"
                } else if now > c.until_ms {
                    "expired"
                } else {
                    "in_force"
                };
                certificates.push(CertView {
                    node: c.node.to_string(),
                    role: c.role.as_str(),
                    village: c.village.map(|v| v.to_string()),
                    village_name: c.village.map(village_name),
                    label: c.label.clone(),
                    not_before_ms: c.not_before_ms,
                    until_ms: c.until_ms,
                    state,
                });
            }
            Statement::Revocation(r) => revocations.push(RevocationView {
                node: r.node.to_string(),
                from_ms: r.from_ms,
                reason: r.reason.clone(),
            }),
            Statement::Policy(_) | Statement::RetainedPolicy(_) | Statement::HeldPolicy(_) => {}
        }
    }
    certificates
        .sort_by(|a, b| (&a.role, &a.village, &a.node).cmp(&(&b.role, &b.village, &b.node)));
    let policy = roster.policy();
    let own_key = own.parse::<NodeKey>().ok();
    RosterView {
        root: roster.root().to_string(),
        node: own.to_string(),
        admitted: own_key.is_some_and(|k| roster.admit(&k, now).is_ok()),
        statements: roster.len(),
        certificates,
        revocations,
        policy: PolicyView {
            issued: roster.issued_policy().is_some(),
            issued_ms: roster.issued_policy().map(|p| p.issued_ms),
            version: policy.version,
            barred: policy.barred.iter().map(ToString::to_string).collect(),
            isolation_days: policy.isolation_days,
            retention: policy.retention,
        },
    }
}

fn show(data: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let dir = DataDir::open(data)?;
    let root = dir.root_key()?.ok_or_else(|| no_root(&dir))?;
    if super::status::running_api(data).is_some() {
        bail!(
            "the node on {} is running and holds its store: stop it to show the roster",
            data.display()
        );
    }
    let storage = dir.open_storage()?;
    let roster = load_roster(&storage, root)?;
    let now = super::now_ms();
    let v = view(&roster, &dir.info().peer_id, now);
    if json {
        super::print_json(&v)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("root: {}", v.root);
    println!(
        "this node: {} ({}): {}",
        v.node,
        dir.role(),
        if v.admitted {
            "certificate in force"
        } else {
            "NO certificate in force: peers will not admit it; add one with `kampung trust add`"
        }
    );
    println!("certificates ({}):", v.certificates.len());
    for c in &v.certificates {
        let scope = match (&c.village, &c.village_name) {
            (Some(code), Some(name)) => format!(" {code} {name}"),
            _ => String::new(),
        };
        let label = if c.label.is_empty() {
            String::new()
        } else {
            format!(" \"{}\"", c.label)
        };
        println!(
            "  {}  {}{scope}{label}  {} to {}  {}",
            c.node,
            c.role,
            fmt_ms(c.not_before_ms),
            fmt_ms(c.until_ms),
            c.state.replace('_', " ")
        );
    }
    if !v.revocations.is_empty() {
        println!("revocations ({}):", v.revocations.len());
        for r in &v.revocations {
            println!("  {}  from {}: {}", r.node, fmt_ms(r.from_ms), r.reason);
        }
    }
    match roster.issued_policy() {
        Some(p) => println!(
            "policy in force: version {}, issued {}: {}",
            p.policy.version,
            fmt_ms(p.issued_ms),
            describe_policy(&p.policy)
        ),
        None => println!(
            "policy in force: none issued, the default applies: {}",
            describe_policy(&roster.policy())
        ),
    }
    Ok(ExitCode::SUCCESS)
}
