use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use kampung_node::Correction;

use super::backend::RecordChange;
use kampung_core::{Address, Nik, Resident, Sex, Status};
use time::Date;

fn date(s: &str) -> Result<Date, String> {
    kampung_csv::parse_date("date", s).map_err(|(_, reason)| reason.to_string())
}

fn sex(s: &str) -> Result<Sex, String> {
    Sex::parse(s).ok_or_else(|| kampung_csv::Reason::NotSex(s.to_string()).to_string())
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Register a new resident of this village.
    #[command(
        after_help = "Example:\n  kampung resident add --nik 3510155203850001 --name \"Sri Wahyuni\" --sex P --birth 1985-03-12 --kk 3510150101100001 --dusun Krajan --rt 1 --rw 2"
    )]
    Add {
        /// The NIK on the KTP, 16 digits.
        #[arg(long)]
        nik: String,
        /// Full name, as on the KTP.
        #[arg(long)]
        name: String,
        /// L or P.
        #[arg(long, value_parser = sex)]
        sex: Sex,
        /// YYYY-MM-DD.
        #[arg(long, value_parser = date)]
        birth: Date,
        /// Family card number (No. KK), 16 digits.
        #[arg(long)]
        kk: String,
        /// Dusun (hamlet) of the address.
        #[arg(long)]
        dusun: String,
        /// RT number of the address.
        #[arg(long)]
        rt: u16,
        /// RW number of the address.
        #[arg(long)]
        rw: u16,
    },
    /// Correct fields of a resident of this village.
    #[command(
        after_help = "Example:\n  kampung resident update 3510155203850001 --dusun Krajan --rt 3"
    )]
    Update {
        /// The resident's NIK.
        nik: String,
        /// The corrected full name.
        #[arg(long)]
        name: Option<String>,
        /// The corrected sex: L or P.
        #[arg(long, value_parser = sex)]
        sex: Option<Sex>,
        /// The corrected birth date, YYYY-MM-DD or 12/3/1985.
        #[arg(long, value_parser = date)]
        birth: Option<Date>,
        /// The corrected family card number (No. KK), 16 digits.
        #[arg(long)]
        kk: Option<String>,
        /// The new dusun of the address.
        #[arg(long)]
        dusun: Option<String>,
        /// The new RT number.
        #[arg(long)]
        rt: Option<u16>,
        /// The new RW number.
        #[arg(long)]
        rw: Option<u16>,
    },
    /// Record that a resident moved away.
    #[command(
        after_help = "Example:\n  kampung resident move-out 3510155203850001 --to \"Kota Surabaya\" --on 2026-11-30"
    )]
    MoveOut {
        /// The resident's NIK.
        nik: String,
        /// Where to (village, regency or city).
        #[arg(long)]
        to: String,
        /// The day of moving, YYYY-MM-DD, if known.
        #[arg(long, value_parser = date)]
        on: Option<Date>,
    },
    /// Record that a resident died.
    #[command(
        after_help = "Example:\n  kampung resident deceased 3510155203850001 --on 2026-11-30"
    )]
    Deceased {
        /// The resident's NIK.
        nik: String,
        /// Date of death, YYYY-MM-DD.
        #[arg(long, value_parser = date)]
        on: Option<Date>,
    },
    /// Withdraw a registration of this village made in error (one side of
    /// a double registration, say). The record leaves the village's list on
    /// every node; its history keeps it, with the reason.
    #[command(
        after_help = "Example:\n  kampung resident withdraw 3510155203850001 --reason \"salah daftar: warga Desa Kampunganyar\""
    )]
    Withdraw {
        /// The resident's NIK.
        nik: String,
        /// Why (kept in the document's history for the auditor).
        #[arg(long)]
        reason: String,
    },
    /// Show the full record of a resident (from the documents).
    #[command(after_help = "Example:\n  kampung resident show 3510155203850001")]
    Show {
        /// The resident's NIK.
        nik: String,
        /// Print the record as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn parse_nik(s: &str) -> anyhow::Result<Nik> {
    Ok(Nik::parse(s, super::this_year())
        .with_context(|| format!("NIK '{s}'"))?
        .nik())
}

pub fn run(data: &Path, c: Command) -> anyhow::Result<ExitCode> {
    let (dir, backend) = super::backend::Backend::open(data)?;
    if let Command::Show { nik, json } = &c {
        let nik = parse_nik(nik)?;
        let Some(r) = backend.resident(nik, None)? else {
            bail!("{nik} is not in the registry of any village held by this node");
        };
        if *json {
            super::print_json(&r)?;
        } else {
            print_record(&r);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let village = super::own_village(&dir)?;
    if let Command::Withdraw { nik, reason } = c {
        let r = backend.withdraw(parse_nik(&nik)?, reason)?;
        backend.close()?;
        println!("{}: registration withdrawn ({})", r.nik, r.full_name);
        return Ok(ExitCode::SUCCESS);
    }
    let change = match c {
        Command::Add {
            nik,
            name,
            sex,
            birth,
            kk,
            dusun,
            rt,
            rw,
        } => RecordChange::Register(Box::new(Resident {
            nik: parse_nik(&nik)?,
            full_name: name,
            sex,
            birth_date: birth,
            family_card: kk,
            address: Address { dusun, rt, rw },
            village,
            status: Status::Active,
            updated_at_ms: 0,
        })),
        Command::Update {
            nik,
            name,
            sex,
            birth,
            kk,
            dusun,
            rt,
            rw,
        } => RecordChange::Correct(
            parse_nik(&nik)?,
            Correction {
                full_name: name,
                sex,
                birth_date: birth,
                family_card: kk,
                dusun,
                rt,
                rw,
            },
        ),
        Command::MoveOut { nik, to, on } => RecordChange::MoveOut(parse_nik(&nik)?, to, on),
        Command::Deceased { nik, on } => RecordChange::Deceased(parse_nik(&nik)?, on),
        Command::Show { .. } | Command::Withdraw { .. } => unreachable!("handled above"),
    };
    let written = backend.change(change)?;
    backend.close()?;
    for w in &written.warnings {
        eprintln!("warning: {w}");
    }
    let r = &written.record;
    if written.changed {
        println!(
            "{}: saved ({} {})",
            r.nik,
            r.full_name,
            r.status.kind().as_str()
        );
    } else {
        println!("{}: nothing changed", r.nik);
    }
    Ok(ExitCode::SUCCESS)
}

/// A record as a clerk reads it.
fn print_record(r: &Resident) {
    let village = kampung_core::banyuwangi::village(r.village).map_or_else(
        || r.village.to_string(),
        |v| format!("{} ({}, Kecamatan {})", v.name, r.village, v.district_name),
    );
    let status = kampung_i18n::status(super::lang(), &r.status);
    let sex = match r.sex {
        kampung_core::Sex::Male => "L (male)",
        kampung_core::Sex::Female => "P (female)",
    };
    println!("NIK          {}", r.nik);
    println!("name         {}", r.full_name);
    println!("sex          {sex}");
    if r.family_card.is_empty() {
        // A verdict card: this node does not hold the village's details.
        println!("born         {} (as the NIK gives it)", r.birth_date);
        println!("family card  (held by the village office only)");
        println!("address      (held by the village office only)");
    } else {
        println!("born         {}", r.birth_date);
        println!("family card  {}", r.family_card);
        println!(
            "address      Dusun {}, RT {:03}/RW {:03}",
            r.address.dusun, r.address.rt, r.address.rw
        );
    }
    println!("village      {village}");
    println!("status       {status}");
}
