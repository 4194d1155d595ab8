//! One module per subcommand.

pub mod admin;
pub mod audit;
pub mod audit_file;
pub mod audit_replay;
pub mod backend;
pub mod backup;
pub mod config;
pub mod export;
pub mod gen;
pub mod import;
pub mod index;
pub mod init;
pub mod lookup;
pub mod manual;
pub mod migrate;
pub mod people;
pub mod repair;
pub mod resident;
pub mod run;
pub mod status;
pub mod trust;
pub mod villages;

use anyhow::Context;
use kampung_core::{Clock, SystemClock, VillageCode};
use kampung_datadir::{DataDir, Role};

/// The current year in Banyuwangi by the machine's clock: the century
/// pivot of NIK birth years.
pub fn this_year() -> i32 {
    kampung_core::clock::this_year(&SystemClock)
}

/// The language of what the CLI prints: `KAMPUNG_LANG` (`id` or `en`),
/// else English.
pub fn lang() -> kampung_i18n::Lang {
    std::env::var("KAMPUNG_LANG")
        .ok()
        .and_then(|l| kampung_i18n::Lang::parse(&l))
        .unwrap_or(kampung_i18n::Lang::En)
}

/// Unix milliseconds now, by the machine's clock.
pub fn now_ms() -> i64 {
    SystemClock.now_ms()
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
