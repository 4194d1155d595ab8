//! One module per subcommand.

pub mod admin;
pub mod audit;
pub mod backend;
pub mod export;
pub mod gen;
pub mod import;
pub mod index;
pub mod init;
pub mod lookup;
pub mod resident;
pub mod run;
pub mod status;
pub mod trust;

use std::path::Path;

use anyhow::Context;
use kampung_core::VillageCode;
use kampung_datadir::{DataDir, Role};
use kampung_store::storage::sled_storage::SledStorage;
use kampung_store::Registry;

/// The current year, the century pivot of NIK birth years.
pub fn this_year() -> i32 {
    time::OffsetDateTime::now_utc().year()
}

pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn open(data: &Path) -> anyhow::Result<(DataDir, Registry<SledStorage>)> {
    let dir = DataDir::open(data)?;
    let reg = dir.open_registry(this_year())?;
    Ok((dir, reg))
}

/// The village this node writes for, or an error saying why it cannot write residents.
pub fn own_village(dir: &DataDir) -> anyhow::Result<VillageCode> {
    match dir.role() {
        Role::Village { village } => Ok(*village),
        other => anyhow::bail!(
            "this node is a {other}: only a village node writes residents (its data directory is {})",
            dir.path().display()
        ),
    }
}

pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(value).context("encoding JSON")?
    );
    Ok(())
}
