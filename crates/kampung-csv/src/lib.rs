//! The resident CSV of a village office: what `kampung import` reads and
//! `kampung export` writes (the same columns both ways).
//!
//! Reading validates every row and reports every bad one with its line, the
//! field and the reason, so a clerk can fix the file in one go. It checks what
//! can be checked from the file alone (NIK rules, dates, codes, duplicates in
//! the file); whether a NIK is already registered in another village is the
//! store's business.
//!
//! ```
//! let file = "nik,full_name,sex,birth_date,family_card,dusun,rt,rw,village_code,status,moved_to,died_on\n\
//!             3510155203850001,Sri Wahyuni,P,1985-03-12,3510150101100001,Krajan,1,2,35.10.15.2012,active,,\n";
//! let report = kampung_csv::read(file.as_bytes(), 2026).unwrap();
//! assert!(report.errors.is_empty());
//! assert_eq!(report.rows[0].resident.full_name, "Sri Wahyuni");
//! ```

use std::collections::HashMap;
use std::fmt;
use std::io::{Read, Write};

use kampung_core::nik::NikWarning;
use kampung_core::resident::StatusKind;
use kampung_core::{Address, Nik, Resident, Sex, Status, VillageCode};
use time::macros::format_description;
use time::Date;

/// The columns, in the order `export` writes them.
pub const COLUMNS: [&str; 12] = [
    "nik",
    "full_name",
    "sex",
    "birth_date",
    "family_card",
    "dusun",
    "rt",
    "rw",
    "village_code",
    "status",
    "moved_to",
    "died_on",
];
/// Columns that may be left out of an imported file (they default to an active resident).
const OPTIONAL: [&str; 3] = ["status", "moved_to", "died_on"];

/// Largest file line accepted, in bytes: a row is a dozen short fields.
pub const MAX_RECORD_BYTES: usize = 4096;

/// A row that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// 1-based line number in the file.
    pub line: u64,
    pub resident: Resident,
    pub warnings: Vec<NikWarning>,
}

/// A row that failed a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub field: Option<&'static str>,
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.field {
            Some(field) => write!(f, "line {}, field {field}: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// Everything read from a file: good rows and bad rows.
#[derive(Debug, Default)]
pub struct ReadReport {
    pub rows: Vec<Row>,
    pub errors: Vec<RowError>,
}

/// The file as a whole cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    #[error("the file is empty: expected a header line with the columns {}", COLUMNS.join(","))]
    Empty,
    #[error("line 1 (header): missing column(s) {missing}{}; expected the columns {}", unknown.as_ref().map(|u| format!(" (and unknown column(s) {u}: renamed?)")).unwrap_or_default(), COLUMNS.join(","))]
    MissingColumns {
        missing: String,
        unknown: Option<String>,
    },
    #[error("line 1 (header): unknown column(s) {unknown}; expected the columns {}", COLUMNS.join(","))]
    UnknownColumns { unknown: String },
    #[error("line 1 (header): column '{0}' appears twice")]
    DuplicateColumn(String),
    #[error("cannot read the file: {0}")]
    Csv(#[from] csv::Error),
}

/// Read a whole file, checking every row. `this_year` is the century pivot of NIK birth years.
pub fn read<R: Read>(input: R, this_year: i32) -> Result<ReadReport, FileError> {
    let mut buffered = std::io::BufReader::new(input);
    let delimiter = sniff_delimiter(&mut buffered)?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(buffered);
    let header = reader.headers()?.clone();
    if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
        return Err(FileError::Empty);
    }
    let columns = Columns::from_header(&header)?;
    let mut report = ReadReport::default();
    let mut seen: HashMap<Nik, u64> = HashMap::new();
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line());
                let fatal = matches!(e.kind(), csv::ErrorKind::Io(_));
                report.errors.push(RowError {
                    line,
                    field: None,
                    reason: describe_csv_error(&e),
                });
                if fatal {
                    break;
                }
                continue;
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        if record.as_slice().len() > MAX_RECORD_BYTES {
            report.errors.push(RowError {
                line,
                field: None,
                reason: format!("the row is longer than {MAX_RECORD_BYTES} bytes"),
            });
            continue;
        }
        if record.iter().all(str::is_empty) {
            continue; // blank line, as spreadsheets leave at the end
        }
        match columns.parse(&record, this_year) {
            Ok((resident, warnings)) => {
                if let Some(first) = seen.insert(resident.nik, line) {
                    report.errors.push(RowError {
                        line,
                        field: Some("nik"),
                        reason: format!(
                            "{} appears twice in the file (first on line {first})",
                            resident.nik
                        ),
                    });
                    continue;
                }
                report.rows.push(Row {
                    line,
                    resident,
                    warnings,
                });
            }
            Err((field, reason)) => report.errors.push(RowError {
                line,
                field: Some(field),
                reason,
            }),
        }
    }
    Ok(report)
}

/// Excel in Indonesian locales writes `;`: take whichever of `,` `;` `\t` the header uses.
/// Also skips a UTF-8 byte order mark.
fn sniff_delimiter<R: Read>(r: &mut std::io::BufReader<R>) -> Result<u8, FileError> {
    use std::io::BufRead;
    let buf = r.fill_buf().map_err(csv::Error::from)?;
    if buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
        r.consume(3);
    }
    let buf = r.fill_buf().map_err(csv::Error::from)?;
    if buf.is_empty() {
        return Err(FileError::Empty);
    }
    let first_line = buf.split(|&b| b == b'\n').next().unwrap_or_default();
    let count = |d: u8| first_line.iter().filter(|&&b| b == d).count();
    Ok([b',', b';', b'\t']
        .into_iter()
        .max_by_key(|&d| count(d))
        .unwrap_or(b','))
}

fn describe_csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => format!(
            "has {len} fields, the header has {expected_len} (a missing or extra separator, or an unclosed quote?)"
        ),
        csv::ErrorKind::Utf8 { .. } => {
            "is not valid UTF-8 text; save the file as 'CSV UTF-8' and import again".to_string()
        }
        _ => e.to_string(),
    }
}

/// Where each column sits in this file.
struct Columns {
    at: [Option<usize>; COLUMNS.len()],
}

type FieldError = (&'static str, String);

impl Columns {
    fn from_header(header: &csv::StringRecord) -> Result<Self, FileError> {
        let mut at = [None; COLUMNS.len()];
        let mut unknown = Vec::new();
        for (i, name) in header.iter().enumerate() {
            let norm = name.trim().to_ascii_lowercase();
            match COLUMNS.iter().position(|c| *c == norm) {
                Some(c) if at[c].is_some() => return Err(FileError::DuplicateColumn(norm)),
                Some(c) => at[c] = Some(i),
                None => unknown.push(name.to_string()),
            }
        }
        let missing: Vec<&str> = COLUMNS
            .iter()
            .zip(at.iter())
            .filter(|(c, a)| a.is_none() && !OPTIONAL.contains(c))
            .map(|(c, _)| *c)
            .collect();
        if !missing.is_empty() {
            return Err(FileError::MissingColumns {
                missing: missing.join(", "),
                unknown: (!unknown.is_empty()).then(|| unknown.join(", ")),
            });
        }
        if !unknown.is_empty() {
            return Err(FileError::UnknownColumns {
                unknown: unknown.join(", "),
            });
        }
        Ok(Columns { at })
    }

    fn get<'r>(&self, record: &'r csv::StringRecord, name: &'static str) -> &'r str {
        COLUMNS
            .iter()
            .position(|c| *c == name)
            .and_then(|c| self.at[c])
            .and_then(|i| record.get(i))
            .unwrap_or("")
    }

    fn parse(
        &self,
        r: &csv::StringRecord,
        this_year: i32,
    ) -> Result<(Resident, Vec<NikWarning>), FieldError> {
        let nik = Nik::parse(self.get(r, "nik"), this_year)
            .map_err(|e| ("nik", e.to_string()))?
            .nik();
        let sex_text = self.get(r, "sex");
        let sex = Sex::parse(sex_text).ok_or(("sex", format!("'{sex_text}' is not L or P")))?;
        let birth_date = parse_date("birth_date", self.get(r, "birth_date"))?;
        let village_text = self.get(r, "village_code");
        let village =
            VillageCode::parse(village_text).map_err(|e| ("village_code", e.to_string()))?;
        let status_text = self.get(r, "status");
        let status = match StatusKind::parse(status_text) {
            Some(StatusKind::Active) => Status::Active,
            Some(StatusKind::MovedOut) => Status::MovedOut {
                destination: self.get(r, "moved_to").to_string(),
            },
            Some(StatusKind::Deceased) => {
                let died = self.get(r, "died_on");
                Status::Deceased {
                    date: if died.is_empty() {
                        None
                    } else {
                        Some(parse_date("died_on", died)?)
                    },
                }
            }
            None => {
                return Err((
                    "status",
                    format!("'{status_text}' is not one of active, moved_out, deceased"),
                ))
            }
        };
        let resident = Resident {
            nik,
            full_name: self.get(r, "full_name").to_string(),
            sex,
            birth_date,
            family_card: self.get(r, "family_card").to_string(),
            address: Address {
                dusun: self.get(r, "dusun").to_string(),
                rt: parse_number("rt", self.get(r, "rt"))?,
                rw: parse_number("rw", self.get(r, "rw"))?,
            },
            village,
            status,
            updated_at_ms: 0,
        };
        let warnings = resident.validate(this_year).map_err(|e| match e {
            kampung_core::resident::RecordError::Field { field, reason } => (field, reason),
            other => ("nik", other.to_string()),
        })?;
        Ok((resident, warnings))
    }
}

fn parse_number(field: &'static str, s: &str) -> Result<u16, FieldError> {
    s.trim_start_matches('0')
        .parse::<u16>()
        .or_else(|e| {
            if s.chars().all(|c| c == '0') && !s.is_empty() {
                Ok(0)
            } else {
                Err(e)
            }
        })
        .map_err(|_| (field, format!("'{s}' is not a number")))
}

/// `YYYY-MM-DD`, or the Indonesian `DD-MM-YYYY` / `DD/MM/YYYY`.
pub fn parse_date(field: &'static str, s: &str) -> Result<Date, FieldError> {
    let iso = format_description!("[year]-[month]-[day]");
    let dmy = format_description!("[day]-[month]-[year]");
    let normal = s.replace('/', "-");
    Date::parse(&normal, iso)
        .or_else(|_| Date::parse(&normal, dmy))
        .map_err(|_| {
            (
                field,
                format!("'{s}' is not a date (write YYYY-MM-DD, e.g. 1985-03-12)"),
            )
        })
}

/// Write residents with the import columns.
pub fn write<'a, W: Write>(
    out: W,
    residents: impl IntoIterator<Item = &'a Resident>,
) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS)?;
    for r in residents {
        let (status, moved_to, died_on) = match &r.status {
            Status::Active => ("active", String::new(), String::new()),
            Status::MovedOut { destination } => ("moved_out", destination.clone(), String::new()),
            Status::Deceased { date } => (
                "deceased",
                String::new(),
                date.map(|d| d.to_string()).unwrap_or_default(),
            ),
        };
        w.write_record([
            r.nik.to_string().as_str(),
            &r.full_name,
            r.sex.code(),
            &r.birth_date.to_string(),
            &r.family_card,
            &r.address.dusun,
            &r.address.rt.to_string(),
            &r.address.rw.to_string(),
            &r.village.to_string(),
            status,
            &moved_to,
            &died_on,
        ])?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests;
