//! `kampung admin`: the regency administrator's offline root key. It signs
//! membership certificates, revocations and the checkpoint policy into files
//! that nodes take with `kampung trust add`. No data directory is needed
//! (`--data` is ignored), so this runs on a machine that is never on the mesh.
//!
//! Dates are calendar days in Banyuwangi (WIB, UTC+7): a certificate is valid
//! from the start of its `--from` day to the end of its `--until` day.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use kampung_core::RoleKind;
use kampung_core::{banyuwangi, Policy, Region, VillageCode};
use kampung_trust::{Certificate, IssuedPolicy, NodeKey, Revocation, Signed, Statement};
use libp2p_identity::Keypair;
use time::{Date, OffsetDateTime, Time, UtcOffset};

/// Banyuwangi's local time, in which certificate dates are days.
const WIB: UtcOffset = time::macros::offset!(+7);
/// Longest certificate label and revocation reason (as the trust crate accepts).
const MAX_LABEL: usize = 200;
const MAX_REASON: usize = 500;
/// Longest isolation period a policy may set.
const MAX_ISOLATION_DAYS: u32 = 365;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Make the mesh's root key pair (keep FILE offline; FILE.pub goes to every node).
    #[command(after_help = "Example:\n  kampung admin keygen --out root.key")]
    Keygen(KeygenArgs),
    /// Sign a membership certificate for a node.
    #[command(
        after_help = "Example:\n  kampung admin certify --key root.key --node 12D3KooW... --role village --village 35.10.15.2012 --until 2027-12-31 --out kampunganyar.cert"
    )]
    Certify(CertifyArgs),
    /// Sign a revocation: the node is cut off, and its writes signed from then on are refused.
    #[command(
        after_help = "Example:\n  kampung admin revoke --key root.key --reason \"server stolen\" --out revoke.json 12D3KooW..."
    )]
    Revoke(RevokeArgs),
    /// Sign the checkpoint policy: barred origins and the isolation period.
    #[command(
        after_help = "Example:\n  kampung admin policy --key root.key --version 2 --isolation-days 14 --bar 51 --out policy-2.json"
    )]
    Policy(PolicyArgs),
}

#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Where to write the root key pair (mode 0600); the public key goes to FILE.pub.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct CertifyArgs {
    /// The root key pair file from `kampung admin keygen`.
    #[arg(long, value_name = "ROOT_KEY")]
    key: PathBuf,
    /// The node's peer id, as `kampung init` printed it.
    #[arg(long, value_name = "PEER_ID", value_parser = parse_node)]
    node: NodeKey,
    /// What the node is: village, checkpoint, facility or auditor.
    #[arg(long, value_parser = parse_role)]
    role: RoleKind,
    /// The village a village node writes for (e.g. 35.10.15.2012); only with --role village.
    #[arg(long, value_name = "CODE", value_parser = parse_village)]
    village: Option<VillageCode>,
    /// A name people recognise, e.g. "Pelabuhan Ketapang" [default for a village: "Kantor Desa NAME"].
    #[arg(long, value_name = "TEXT")]
    label: Option<String>,
    /// First day of validity, YYYY-MM-DD [default: now].
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    from: Option<Date>,
    /// Last day of validity, YYYY-MM-DD (valid to the end of that day, WIB).
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    until: Date,
    /// Where to write the signed certificate (must not exist).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    /// The root key pair file from `kampung admin keygen`.
    #[arg(long, value_name = "ROOT_KEY")]
    key: PathBuf,
    /// The revoked node's peer id.
    #[arg(value_name = "PEER_ID", value_parser = parse_node)]
    node: NodeKey,
    /// From when: YYYY-MM-DD (the start of that day, WIB) or `now` [default: now].
    #[arg(long, value_name = "DATE|now", value_parser = parse_from)]
    from: Option<Start>,
    /// Why (shown to operators and auditors).
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// Where to write the signed revocation (must not exist).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct PolicyArgs {
    /// The root key pair file from `kampung admin keygen`.
    #[arg(long, value_name = "ROOT_KEY")]
    key: PathBuf,
    /// The policy's version: nodes apply the highest they have verified, so
    /// each new policy needs a higher one.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    version: u64,
    /// Days a non-resident must isolate (0: none).
    #[arg(long, value_name = "D", value_parser = clap::value_parser!(u32).range(..=i64::from(MAX_ISOLATION_DAYS)))]
    isolation_days: u32,
    /// A region whose non-residents are turned back: a province (51) or a
    /// regency (35.09). Repeat for several.
    #[arg(long = "bar", value_name = "REGION", value_parser = parse_region)]
    barred: Vec<Region>,
    /// Months a checkpoint's crossings of a month stay on the nodes after
    /// that month ends (0: for ever). Every node must run a version that
    /// knows retention before a policy sets it.
    #[arg(long, value_name = "MONTHS", default_value_t = 0)]
    keep_crossing_months: u32,
    /// Days an isolation case stays on the nodes after its release (0: for ever).
    #[arg(long, value_name = "DAYS", default_value_t = 0)]
    keep_closed_case_days: u32,
    /// Months auditors' nodes keep crossings and closed cases longer than the others.
    #[arg(long, value_name = "MONTHS", default_value_t = 0)]
    auditor_extra_months: u32,
    /// How many villages of the same district keep a copy of each village's
    /// details (its residents in full), besides the village and auditors.
    /// Every node must run a version that knows holder rules before a
    /// policy sets anything but the default.
    #[arg(long, value_name = "N", default_value_t = kampung_core::holders::DEFAULT_BACKUPS)]
    detail_backups: u8,
    /// A village whose details are kept by the villages named instead:
    /// `35.10.15.2012=35.10.04.2001,35.10.04.2002`. Repeat for several.
    #[arg(long = "detail-holders", value_name = "VILLAGE=HOLDERS", value_parser = parse_holders)]
    detail_holders: Vec<(VillageCode, Vec<VillageCode>)>,
    /// Where to write the signed policy (must not exist).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// The start of a revocation.
#[derive(Debug, Clone, Copy)]
pub enum Start {
    Now,
    Day(Date),
}

pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::Keygen(a) => keygen(a),
        Command::Certify(a) => certify(a),
        Command::Revoke(a) => revoke(a),
        Command::Policy(a) => policy(a),
    }
}

// ---- argument parsers (clap names the flag in their errors) ----

fn parse_node(s: &str) -> Result<NodeKey, String> {
    s.parse::<NodeKey>().map_err(|_| {
        format!("'{s}' is not a peer id: copy the 'peer id' line that `kampung init` printed on that node (12D3KooW...)")
    })
}

fn parse_role(s: &str) -> Result<RoleKind, String> {
    s.parse::<RoleKind>().map_err(|e| e.to_string())
}

fn parse_village(s: &str) -> Result<VillageCode, String> {
    VillageCode::parse(s).map_err(|e| e.to_string())
}

/// `VILLAGE=HOLDER,HOLDER`, by code.
fn parse_holders(s: &str) -> Result<(VillageCode, Vec<VillageCode>), String> {
    let (village, holders) = s.split_once('=').ok_or_else(|| {
        format!("'{s}': write the village, '=', and its holders: 35.10.15.2012=35.10.04.2001,35.10.04.2002")
    })?;
    let code = |c: &str| {
        c.trim()
            .parse::<VillageCode>()
            .map_err(|e| format!("'{s}': {e}"))
    };
    let holders = holders
        .split(',')
        .map(code)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((code(village)?, holders))
}

fn parse_region(s: &str) -> Result<Region, String> {
    Region::parse(s).map_err(|e| e.to_string())
}

/// A calendar day, `YYYY-MM-DD`.
pub fn parse_day(s: &str) -> Result<Date, String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s.trim(), &format)
        .map_err(|_| format!("'{s}' is not a date: write it as YYYY-MM-DD, e.g. 2026-12-31"))
}

fn parse_from(s: &str) -> Result<Start, String> {
    if s.trim().eq_ignore_ascii_case("now") {
        return Ok(Start::Now);
    }
    parse_day(s)
        .map(Start::Day)
        .map_err(|e| format!("{e}, or `now`"))
}

// ---- times ----

/// The first millisecond of `day` in Banyuwangi.
pub fn day_start_ms(day: Date) -> i64 {
    let t = day.with_time(Time::MIDNIGHT).assume_offset(WIB);
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The last millisecond of `day` in Banyuwangi.
pub fn day_end_ms(day: Date) -> i64 {
    day.next_day()
        .map_or(i64::MAX, |next| day_start_ms(next) - 1)
}

/// A time for people: `2026-12-31 23:59 WIB`.
pub fn fmt_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(|t| t.to_offset(WIB))
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] WIB"
            ))
            .ok()
        })
        .unwrap_or_else(|| format!("{ms} ms"))
}

/// The name of a village for people: `Kampunganyar (Glagah)`.
pub fn village_name(code: VillageCode) -> String {
    banyuwangi::village(code).map_or_else(
        || code.to_string(),
        |v| format!("{} ({})", v.name, v.district_name),
    )
}

// ---- files ----

/// `FILE.pub` next to `FILE`.
fn pub_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}

/// Create `path` with `bytes`; refuse if it exists.
fn write_new(path: &Path, bytes: &[u8], private: bool) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} already exists: choose another --out, or move the old file away first",
                path.display()
            )
        } else {
            anyhow::anyhow!("cannot create {}: {e}", path.display())
        }
    })?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn refuse_existing(path: &Path, flag: &str) -> anyhow::Result<()> {
    if path.exists() {
        bail!(
            "{flag} {} already exists: choose another name, or move the old file away first",
            path.display()
        );
    }
    Ok(())
}

/// Read the root key pair given with --key.
fn load_root(path: &Path) -> anyhow::Result<Keypair> {
    let bytes = fs::read(path)
        .with_context(|| format!("--key {}: cannot read the root key", path.display()))?;
    if std::str::from_utf8(&bytes)
        .ok()
        .and_then(|t| t.trim().parse::<NodeKey>().ok())
        .is_some()
    {
        bail!(
            "--key {} holds only a public key: give the private key file written by `kampung admin keygen` (not its .pub)",
            path.display()
        );
    }
    let key = Keypair::from_protobuf_encoding(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "--key {}: not a root key pair ({e}); give the file written by `kampung admin keygen`",
            path.display()
        )
    })?;
    NodeKey::from_public(&key.public())
        .map_err(|e| anyhow::anyhow!("--key {}: {e}", path.display()))?;
    #[cfg(unix)]
    if let Ok(meta) = fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            eprintln!(
                "warning: {} is readable by other users: run `chmod 600 {}`",
                path.display(),
                path.display()
            );
        }
    }
    Ok(key)
}

/// Sign and write a statement; print what was signed.
fn sign_to(statement: Statement, key: &Keypair, out: &Path) -> anyhow::Result<ExitCode> {
    let signed = Signed::sign(statement, key).context("cannot sign")?;
    let mut text = signed.to_file_text();
    text.push('\n');
    write_new(out, text.as_bytes(), false)?;
    println!("{}", describe(&signed.statement));
    println!(
        "written to {}: take it to the nodes and run `kampung trust add {}` there",
        out.display(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// One line saying what a statement says.
pub fn describe(s: &Statement) -> String {
    match s {
        Statement::Certificate(c) => {
            let scope = c
                .village
                .map(|v| format!(" for {v} {}", village_name(v)))
                .unwrap_or_default();
            let label = if c.label.is_empty() {
                String::new()
            } else {
                format!(" \"{}\"", c.label)
            };
            format!(
                "certificate: {} as {}{scope}{label}, valid {} to {}",
                c.node,
                c.role.as_str(),
                fmt_ms(c.not_before_ms),
                fmt_ms(c.until_ms)
            )
        }
        Statement::Revocation(r) => format!(
            "revocation: {} from {}: {}",
            r.node,
            fmt_ms(r.from_ms),
            r.reason
        ),
        Statement::Policy(_) | Statement::RetainedPolicy(_) | Statement::HeldPolicy(_) => {
            let Some(p) = s.policy() else {
                return String::new();
            };
            format!(
                "policy version {} issued {}: {}",
                p.policy.version,
                fmt_ms(p.issued_ms),
                describe_policy(&p.policy)
            )
        }
    }
}

pub fn describe_policy(p: &Policy) -> String {
    let barred = if p.barred.is_empty() {
        "nobody barred".to_string()
    } else {
        let names: Vec<String> = p
            .barred
            .iter()
            .map(|r| format!("{r} ({})", r.name().unwrap_or("?")))
            .collect();
        format!("non-residents from {} barred", names.join(", "))
    };
    let kept = |n: u32, unit: &str| match n {
        0 => "for ever".to_string(),
        n => format!("{n} {unit}(s)"),
    };
    let r = &p.retention;
    let mut out = format!("{barred}; isolation {} day(s)", p.isolation_days);
    if !r.keeps_everything() {
        out.push_str(&format!(
            "; crossings kept {} after their month, closed cases {} after release",
            kept(r.crossing_months, "month"),
            kept(r.closed_case_days, "day")
        ));
        if r.auditor_extra_months > 0 {
            out.push_str(&format!(
                " (auditors {} month(s) longer)",
                r.auditor_extra_months
            ));
        }
    }
    let h = &p.holders;
    if !h.is_default() {
        out.push_str(&format!(
            "; each village's details kept by the next {} village(s) of its district",
            h.backups()
        ));
        for (village, holders) in h.named() {
            let names: Vec<String> = holders.iter().map(|c| village_label(*c)).collect();
            out.push_str(&format!(
                ", {} by {}",
                village_label(*village),
                names.join(" and ")
            ));
        }
    }
    out
}

// ---- the commands ----

fn keygen(a: KeygenArgs) -> anyhow::Result<ExitCode> {
    let public = pub_path(&a.out);
    refuse_existing(&a.out, "--out")?;
    refuse_existing(&public, "--out")?;
    let key = Keypair::generate_ed25519();
    let root = NodeKey::from_public(&key.public())?;
    let bytes = key
        .to_protobuf_encoding()
        .context("cannot encode the key pair")?;
    write_new(&a.out, &bytes, true)?;
    write_new(&public, format!("{root}\n").as_bytes(), false)?;
    println!("root public key: {root}");
    println!(
        "key pair written to {} (keep it offline and backed up: whoever holds it controls the mesh)",
        a.out.display()
    );
    println!(
        "public key written to {}: configure every node with `kampung init --root {}`",
        public.display(),
        public.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn certify(a: CertifyArgs) -> anyhow::Result<ExitCode> {
    match (a.role, a.village) {
        (RoleKind::Village, None) => bail!(
            "--village is required with --role village: the village code the node writes for, e.g. 35.10.15.2012"
        ),
        (RoleKind::Village, Some(_)) | (_, None) => {}
        (role, Some(_)) => bail!(
            "--village is only for --role village: a {} node does not write a village's residents",
            role.as_str()
        ),
    }
    let label = match (a.label, a.village) {
        (Some(l), _) => l.trim().to_string(),
        (None, Some(v)) => banyuwangi::village(v).map_or_else(
            || v.to_string(),
            |x| match x.kind {
                banyuwangi::VillageKind::Desa => format!("Kantor Desa {}", x.name),
                banyuwangi::VillageKind::Kelurahan => format!("Kantor Kelurahan {}", x.name),
            },
        ),
        (None, None) => String::new(),
    };
    if label.len() > MAX_LABEL {
        bail!("--label is {} bytes long: at most {MAX_LABEL}", label.len());
    }
    let now = super::now_ms();
    let not_before_ms = a.from.map_or(now, day_start_ms);
    let until_ms = day_end_ms(a.until);
    if until_ms < now {
        bail!(
            "--until {} has passed: the certificate would already have expired",
            a.until
        );
    }
    if until_ms < not_before_ms {
        bail!(
            "--until {} is before --from {}: the certificate would never be valid",
            a.until,
            a.from
                .map_or_else(|| "(now)".to_string(), |d| d.to_string())
        );
    }
    refuse_existing(&a.out, "--out")?;
    let key = load_root(&a.key)?;
    let cert = Certificate {
        node: a.node,
        role: a.role,
        village: a.village,
        label,
        not_before_ms,
        until_ms,
    };
    sign_to(Statement::Certificate(cert), &key, &a.out)
}

fn revoke(a: RevokeArgs) -> anyhow::Result<ExitCode> {
    let reason = a.reason.trim().to_string();
    if reason.is_empty() {
        bail!("--reason is empty: say why the node is revoked (operators and auditors read it)");
    }
    if reason.len() > MAX_REASON {
        bail!(
            "--reason is {} bytes long: at most {MAX_REASON}",
            reason.len()
        );
    }
    let from_ms = match a.from.unwrap_or(Start::Now) {
        Start::Now => super::now_ms(),
        Start::Day(d) => day_start_ms(d),
    };
    refuse_existing(&a.out, "--out")?;
    let key = load_root(&a.key)?;
    if NodeKey::from_public(&key.public()).ok() == Some(a.node) {
        bail!("PEER_ID is the root key itself: revoke nodes, not the root");
    }
    let revocation = Revocation {
        node: a.node,
        from_ms,
        reason,
    };
    sign_to(Statement::Revocation(revocation), &key, &a.out)
}

fn policy(a: PolicyArgs) -> anyhow::Result<ExitCode> {
    let mut barred = a.barred;
    barred.sort_unstable();
    barred.dedup();
    refuse_existing(&a.out, "--out")?;
    let key = load_root(&a.key)?;
    let issued = IssuedPolicy {
        policy: Policy {
            version: a.version,
            barred,
            isolation_days: a.isolation_days,
            retention: kampung_core::Retention {
                crossing_months: a.keep_crossing_months,
                closed_case_days: a.keep_closed_case_days,
                auditor_extra_months: a.auditor_extra_months,
            },
            holders: kampung_core::HolderRule::new(a.detail_backups, a.detail_holders)
                .context("--detail-backups / --detail-holders")?,
        },
        issued_ms: super::now_ms(),
    };
    sign_to(issued.into_statement(), &key, &a.out)
}

/// `35.10.04.2001 (Licin)`.
fn village_label(code: VillageCode) -> String {
    match banyuwangi::village(code) {
        Some(v) => format!("{code} ({})", v.name),
        None => code.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_wib_calendar_days() {
        let d = parse_day("2026-01-01").unwrap_or(Date::MIN);
        // 2026-01-01 00:00 WIB is 2025-12-31 17:00 UTC.
        assert_eq!(day_start_ms(d), 1_767_200_400_000);
        assert_eq!(day_end_ms(d) - day_start_ms(d), 86_400_000 - 1);
        assert_eq!(fmt_ms(day_start_ms(d)), "2026-01-01 00:00 WIB");
        assert!(parse_day("2026-02-30").is_err());
        assert!(parse_day("31-12-2026").is_err());
        assert!(matches!(parse_from("now"), Ok(Start::Now)));
    }
}
