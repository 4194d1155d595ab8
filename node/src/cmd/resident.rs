use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use kampung_core::{Address, Nik, Resident, Sex, Status};
use time::Date;

fn date(s: &str) -> Result<Date, String> {
    kampung_csv::parse_date("date", s).map_err(|(_, reason)| reason)
}

fn sex(s: &str) -> Result<Sex, String> {
    Sex::parse(s).ok_or_else(|| format!("'{s}' is not L or P"))
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Register a new resident of this village.
    Add {
        #[arg(long)]
        nik: String,
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
        #[arg(long)]
        dusun: String,
        #[arg(long)]
        rt: u16,
        #[arg(long)]
        rw: u16,
    },
    /// Correct fields of a resident of this village.
    Update {
        nik: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, value_parser = sex)]
        sex: Option<Sex>,
        #[arg(long, value_parser = date)]
        birth: Option<Date>,
        #[arg(long)]
        kk: Option<String>,
        #[arg(long)]
        dusun: Option<String>,
        #[arg(long)]
        rt: Option<u16>,
        #[arg(long)]
        rw: Option<u16>,
    },
    /// Record that a resident moved away.
    MoveOut {
        nik: String,
        /// Where to (village, regency or city).
        #[arg(long)]
        to: String,
    },
    /// Record that a resident died.
    Deceased {
        nik: String,
        /// Date of death, YYYY-MM-DD.
        #[arg(long, value_parser = date)]
        on: Option<Date>,
    },
    /// Show the full record of a resident (from the documents).
    Show {
        nik: String,
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
    let (dir, mut reg) = super::backend::Backend::open(data)?;
    if let Command::Show { nik, json } = &c {
        let nik = parse_nik(nik)?;
        let Some(r) = reg.get(nik)? else {
            bail!("{nik} is not in the registry of any village held by this node");
        };
        if *json {
            super::print_json(&r)?;
        } else {
            println!("{r:#?}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let village = super::own_village(&dir)?;
    let existing = |reg: &mut super::backend::Backend, nik: &str| -> anyhow::Result<Resident> {
        let nik = parse_nik(nik)?;
        reg.read(village, nik)?.with_context(|| {
            format!(
                "{nik} is not a resident of this village ({village}); use `kampung resident add`"
            )
        })
    };
    let record = match c {
        Command::Add {
            nik,
            name,
            sex,
            birth,
            kk,
            dusun,
            rt,
            rw,
        } => {
            let nik = parse_nik(&nik)?;
            if reg.read(village, nik)?.is_some() {
                bail!("{nik} is already registered in this village; use `kampung resident update`");
            }
            Resident {
                nik,
                full_name: name,
                sex,
                birth_date: birth,
                family_card: kk,
                address: Address { dusun, rt, rw },
                village,
                status: Status::Active,
                updated_at_ms: 0,
            }
        }
        Command::Update {
            nik,
            name,
            sex,
            birth,
            kk,
            dusun,
            rt,
            rw,
        } => {
            let mut r = existing(&mut reg, &nik)?;
            r.full_name = name.unwrap_or(r.full_name);
            r.sex = sex.unwrap_or(r.sex);
            r.birth_date = birth.unwrap_or(r.birth_date);
            r.family_card = kk.unwrap_or(r.family_card);
            r.address.dusun = dusun.unwrap_or(r.address.dusun);
            r.address.rt = rt.unwrap_or(r.address.rt);
            r.address.rw = rw.unwrap_or(r.address.rw);
            r
        }
        Command::MoveOut { nik, to } => {
            let mut r = existing(&mut reg, &nik)?;
            if r.status != Status::Active {
                bail!(
                    "{} is not an active resident (status: {})",
                    r.nik,
                    r.status.kind().as_str()
                );
            }
            r.status = Status::MovedOut { destination: to };
            r
        }
        Command::Deceased { nik, on } => {
            let mut r = existing(&mut reg, &nik)?;
            if matches!(r.status, Status::Deceased { .. }) {
                bail!("{} is already recorded as deceased", r.nik);
            }
            r.status = Status::Deceased { date: on };
            r
        }
        Command::Show { .. } => unreachable!("handled above"),
    };
    let warnings = record
        .validate(super::this_year())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some((_, reason, _)) = reg
        .check(village, std::slice::from_ref(&record))?
        .into_iter()
        .next()
    {
        anyhow::bail!("{reason}");
    }
    let report = reg.write(village, std::slice::from_ref(&record), &mut |_| {})?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    if report.unchanged > 0 {
        println!("{}: nothing changed", record.nik);
    } else {
        println!(
            "{}: saved ({} {})",
            record.nik,
            record.full_name,
            record.status.kind().as_str()
        );
    }
    Ok(ExitCode::SUCCESS)
}
