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
//! let file = "nik,full_name,sex,birth_date,family_card,dusun,rt,rw,village_code,status,moved_to,moved_on,died_on\n\
//!             3510155203850001,Sri Wahyuni,P,1985-03-12,3510150101100001,Krajan,1,2,35.10.15.2012,active,,,\n";
//! let report = kampung_csv::read(file.as_bytes(), 2026).unwrap();
//! assert!(report.errors.is_empty());
//! assert_eq!(report.rows[0].resident.full_name, "Sri Wahyuni");
//! ```

use std::collections::HashMap;
use std::fmt;
use std::io::{Read, Write};

use kampung_core::banyuwangi::VillageCodeError;
use kampung_core::nik::{NikError, NikWarning};
use kampung_core::resident::{RecordError, StatusKind};
use kampung_core::{Address, Nik, Resident, Sex, Status, VillageCode};
use kampung_i18n::Lang;
use time::Date;

/// The columns, in the order `export` writes them.
pub const COLUMNS: [&str; 13] = [
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
    "moved_on",
    "died_on",
];
/// Columns that may be left out of an imported file (they default to an
/// active resident; a file made before `moved_on` was kept has none).
const OPTIONAL: [&str; 4] = ["status", "moved_to", "moved_on", "died_on"];

/// Largest file line accepted, in bytes: a row is a dozen short fields.
pub const MAX_RECORD_BYTES: usize = 4096;

/// Largest file accepted, in bytes: a village of 20,000 people is about
/// 2.5 MB of CSV (less as a workbook).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

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
    pub reason: Reason,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.field {
            Some(field) => write!(f, "line {}, field {field}: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// Why a row cannot be imported, with its particulars: [`Reason::message`]
/// renders it from the message catalogues in the clerk's language
/// (`Display` is the English one).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// The NIK breaks one of its rules.
    Nik(NikError),
    /// A field breaks a rule of a record.
    Record(RecordError),
    /// Not one of Banyuwangi's village codes.
    Village(VillageCodeError),
    /// The NIK is on an earlier row of the file too.
    Duplicate {
        nik: Nik,
        first: u64,
    },
    NotSex(String),
    NotDate(String),
    NotNumber(String),
    NotStatus(String),
    /// A NIK (or KK number) a spreadsheet turned into a number, as shown.
    ExcelNumber {
        nik: bool,
        shown: String,
    },
    TooLong,
    FieldCount {
        found: u64,
        expected: u64,
    },
    NotUtf8,
    /// The CSV reader's own words.
    Unreadable(String),
}

impl Reason {
    /// The reason in `lang`, from the message catalogues.
    pub fn message(&self, lang: Lang) -> String {
        use kampung_i18n::tr;
        let value = |key: &str, v: &str| tr(lang, key, &[("value", v.into())]);
        match self {
            Reason::Nik(e) => kampung_i18n::nik_error(lang, e),
            Reason::Record(e) => kampung_i18n::record_error(lang, e),
            Reason::Village(e) => kampung_i18n::village_code_error(lang, e),
            Reason::Duplicate { nik, first } => tr(
                lang,
                "row-duplicate",
                &[
                    ("nik", nik.to_string().into()),
                    ("first", first.to_string().into()),
                ],
            ),
            Reason::NotSex(v) => value("row-not_sex", v),
            Reason::NotDate(v) => value("row-not_date", v),
            Reason::NotNumber(v) => value("row-not_number", v),
            Reason::NotStatus(v) => value("row-not_status", v),
            Reason::ExcelNumber { nik: true, shown } => value("row-excel_nik", shown),
            Reason::ExcelNumber { nik: false, shown } => value("row-excel_kk", shown),
            Reason::TooLong => tr(
                lang,
                "row-too_long",
                &[("max", MAX_RECORD_BYTES.to_string().into())],
            ),
            Reason::FieldCount { found, expected } => tr(
                lang,
                "row-field_count",
                &[
                    ("found", found.to_string().into()),
                    ("expected", expected.to_string().into()),
                ],
            ),
            Reason::NotUtf8 => kampung_i18n::t(lang, "row-not_utf8"),
            Reason::Unreadable(detail) => tr(
                lang,
                "row-unreadable",
                &[("detail", detail.as_str().into())],
            ),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(Lang::En))
    }
}

/// Everything read from a file: good rows and bad rows.
#[derive(Debug, Default)]
pub struct ReadReport {
    pub rows: Vec<Row>,
    pub errors: Vec<RowError>,
    /// Columns of the file this node does not keep (a list's running
    /// number, place of birth, religion, occupation...: [`NOT_KEPT`]),
    /// as their headers read: left out, and said so.
    pub ignored: Vec<String>,
}

/// Columns an office's list (SIAK's exports among them) often has that the
/// registry does not keep, as headers are normalised (see [`column_of`]):
/// left out of an import, not refused. Any other column this node does not
/// know is refused (a misspelt `status` must not quietly register everyone
/// as active).
pub const NOT_KEPT: [&str; 27] = [
    "no",
    "no urut",
    "nomor",
    "nomor urut",
    "tempat lahir",
    "tmp lahir",
    "tempat lhr",
    "alamat",
    "agama",
    "pekerjaan",
    "jenis pekerjaan",
    "pendidikan",
    "pendidikan terakhir",
    "status perkawinan",
    "status kawin",
    "stat kwn",
    "golongan darah",
    "gol darah",
    "nama ayah",
    "nama ibu",
    "kewarganegaraan",
    "shdk",
    "hubungan keluarga",
    "status hubungan dalam keluarga",
    "umur",
    "usia",
    "keterangan",
];

/// Is `header` a column the registry deliberately does not keep?
fn not_kept(header: &str) -> bool {
    NOT_KEPT.contains(&normalise(header).as_str())
}

/// A header as it is compared: lowercase, its words separated by one space.
fn normalise(header: &str) -> String {
    header
        .trim()
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The file as a whole cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
#[error("{}", self.message(Lang::En))]
pub enum FileError {
    Empty,
    MissingColumns {
        missing: String,
        unknown: Option<String>,
    },
    UnknownColumns {
        unknown: String,
    },
    DuplicateColumn(String),
    Csv(#[from] csv::Error),
    Workbook(String),
    /// Larger than [`MAX_FILE_BYTES`] (or endless): read no further.
    TooLarge,
}

impl FileError {
    /// What is wrong with the file in `lang`, from the message catalogues.
    pub fn message(&self, lang: Lang) -> String {
        use kampung_i18n::tr;
        let columns = COLUMNS.join(",");
        match self {
            FileError::Empty => tr(lang, "file-empty", &[("columns", columns.into())]),
            FileError::MissingColumns {
                missing,
                unknown: None,
            } => tr(
                lang,
                "file-missing_columns",
                &[
                    ("missing", missing.as_str().into()),
                    ("columns", columns.into()),
                ],
            ),
            FileError::MissingColumns {
                missing,
                unknown: Some(unknown),
            } => tr(
                lang,
                "file-missing_and_unknown_columns",
                &[
                    ("missing", missing.as_str().into()),
                    ("unknown", unknown.as_str().into()),
                    ("columns", columns.into()),
                ],
            ),
            FileError::UnknownColumns { unknown } => tr(
                lang,
                "file-unknown_columns",
                &[
                    ("unknown", unknown.as_str().into()),
                    ("columns", columns.into()),
                ],
            ),
            FileError::DuplicateColumn(column) => tr(
                lang,
                "file-duplicate_column",
                &[("column", column.as_str().into())],
            ),
            FileError::Csv(e) => tr(lang, "file-unreadable", &[("detail", e.to_string().into())]),
            FileError::Workbook(detail) => {
                tr(lang, "file-workbook", &[("detail", detail.as_str().into())])
            }
            FileError::TooLarge => tr(
                lang,
                "file-too_large",
                &[("mb", (MAX_FILE_BYTES / 1024 / 1024).to_string().into())],
            ),
        }
    }
}

/// Read a whole file, checking every row. `this_year` is the century pivot of NIK birth years.
pub fn read<R: Read>(input: R, this_year: i32) -> Result<ReadReport, FileError> {
    read_for(input, this_year, None)
}

/// [`read`] for the office of `village` (see [`read_file_for`]).
fn read_for<R: Read>(
    mut input: R,
    this_year: i32,
    village: Option<VillageCode>,
) -> Result<ReadReport, FileError> {
    // A village's file is a few megabytes at most; held whole, every row's
    // number is found from its bytes (see [`Rows`]).
    let mut data = Vec::new();
    input.read_to_end(&mut data).map_err(csv::Error::from)?;
    let data = data.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(&data);
    if data.is_empty() {
        return Err(FileError::Empty);
    }
    let rows = Rows::of(data);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sniff_delimiter(data))
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(data);
    let header = reader.headers()?.clone();
    let mut checker = Checker::new(&header, this_year, village)?;
    let mut record = csv::StringRecord::new();
    loop {
        let before = reader.position().byte();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let at = e.position().map_or(before, csv::Position::byte);
                let fatal = matches!(e.kind(), csv::ErrorKind::Io(_));
                checker.report.errors.push(RowError {
                    line: rows.row_at(at),
                    field: None,
                    reason: describe_csv_error(&e),
                });
                if fatal {
                    break;
                }
                continue;
            }
        }
        let line = rows.row_at(record.position().map_or(before, csv::Position::byte));
        if record.as_slice().len() > MAX_RECORD_BYTES {
            checker.report.errors.push(RowError {
                line,
                field: None,
                reason: Reason::TooLong,
            });
            continue;
        }
        checker.row(line, &record);
    }
    Ok(checker.report)
}

/// The bytes of a file to import, read no further than [`MAX_FILE_BYTES`]
/// (a wrong file, or `/dev/zero`, is refused by its size, not read whole).
pub fn read_bounded<R: Read>(input: R) -> Result<Vec<u8>, FileError> {
    let mut bytes = Vec::new();
    input
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(csv::Error::from)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(FileError::TooLarge);
    }
    Ok(bytes)
}

/// Read a village office's file, whichever it is: a workbook (`.xlsx`,
/// `.xls`, `.ods`: its first sheet) or CSV text, told apart by its first
/// bytes (not its name).
pub fn read_file(bytes: &[u8], this_year: i32) -> Result<ReadReport, FileError> {
    read_file_for(bytes, this_year, None)
}

/// [`read_file`] as the office of `village` imports it: a file without a
/// village code column (a list of the village's own people, as an office
/// keeps it) is of `village`; a file with one is read as it says (the
/// import refuses rows of another village).
pub fn read_file_for(
    bytes: &[u8],
    this_year: i32,
    village: Option<VillageCode>,
) -> Result<ReadReport, FileError> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(FileError::TooLarge);
    }
    if is_workbook(bytes) {
        sheet::read_workbook_for(bytes, this_year, village)
    } else {
        read_for(bytes, this_year, village)
    }
}

/// The checks of every row, whatever file it came from.
pub(crate) struct Checker {
    columns: Columns,
    this_year: i32,
    seen: HashMap<Nik, u64>,
    pub(crate) report: ReadReport,
}

impl Checker {
    /// For a file with this header row (`FileError` if it is not one of ours).
    /// A file without a village code column is of `village`, if given.
    pub(crate) fn new(
        header: &csv::StringRecord,
        this_year: i32,
        village: Option<VillageCode>,
    ) -> Result<Self, FileError> {
        if header.is_empty() || header.iter().all(|h| h.trim().is_empty()) {
            return Err(FileError::Empty);
        }
        let columns = Columns::from_header(header, village)?;
        let report = ReadReport {
            ignored: columns.ignored.clone(),
            ..ReadReport::default()
        };
        Ok(Checker {
            columns,
            this_year,
            seen: HashMap::new(),
            report,
        })
    }

    /// Check the row numbered `line` (as a spreadsheet shows it).
    pub(crate) fn row(&mut self, line: u64, record: &csv::StringRecord) {
        if record.iter().all(str::is_empty) {
            return; // a blank row, as spreadsheets leave at the end
        }
        match self.columns.parse(record, self.this_year) {
            Ok((resident, warnings)) => {
                if let Some(first) = self.seen.insert(resident.nik, line) {
                    self.report.errors.push(RowError {
                        line,
                        field: Some("nik"),
                        reason: Reason::Duplicate {
                            nik: resident.nik,
                            first,
                        },
                    });
                    return;
                }
                self.report.rows.push(Row {
                    line,
                    resident,
                    warnings,
                });
            }
            Err((field, reason)) => self.report.errors.push(RowError {
                line,
                field: Some(field),
                reason,
            }),
        }
    }
}

/// Where each row of a file starts, as a spreadsheet numbers its rows: a
/// row ends at a line break outside quotes, whichever a program wrote
/// (`\r\n` from Excel on Windows, `\n`, or a lone `\r` from old Macs); a
/// line break inside a quoted cell stays in its row. (The csv reader's own
/// line count is one short after a `\r\n` and ignores a lone `\r`.)
struct Rows<'a> {
    data: &'a [u8],
    starts: Vec<usize>,
}

impl<'a> Rows<'a> {
    fn of(data: &'a [u8]) -> Self {
        let mut starts = vec![0];
        let mut quoted = false;
        let mut i = 0;
        while i < data.len() {
            match data[i] {
                b'"' => quoted = !quoted,
                b'\r' if !quoted => {
                    if data.get(i + 1) == Some(&b'\n') {
                        i += 1;
                    }
                    starts.push(i + 1);
                }
                b'\n' if !quoted => starts.push(i + 1),
                _ => {}
            }
            i += 1;
        }
        Rows { data, starts }
    }

    /// The 1-based row of the record the reader began at byte `at`: it may
    /// begin on the line break that ended the row before (or on blank
    /// lines it skips), never inside a record, so its first other byte is
    /// where the record starts.
    fn row_at(&self, at: u64) -> u64 {
        let mut at = usize::try_from(at)
            .unwrap_or(usize::MAX)
            .min(self.data.len());
        while at < self.data.len() && matches!(self.data[at], b'\r' | b'\n') {
            at += 1;
        }
        self.starts.partition_point(|&s| s <= at) as u64
    }
}

/// Excel in Indonesian locales writes `;`: take whichever of `,` `;` `\t` the header uses.
fn sniff_delimiter(data: &[u8]) -> u8 {
    let first_line = data
        .split(|&b| b == b'\n' || b == b'\r')
        .next()
        .unwrap_or_default();
    let count = |d: u8| first_line.iter().filter(|&&b| b == d).count();
    [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|&d| count(d))
        .unwrap_or(b',')
}

fn describe_csv_error(e: &csv::Error) -> Reason {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => Reason::FieldCount {
            found: *len,
            expected: *expected_len,
        },
        csv::ErrorKind::Utf8 { .. } => Reason::NotUtf8,
        _ => Reason::Unreadable(e.to_string()),
    }
}

/// Where each column sits in this file.
struct Columns {
    at: [Option<usize>; COLUMNS.len()],
    /// Headers of the columns left out ([`NOT_KEPT`]).
    ignored: Vec<String>,
    /// The village of every row when the file has no village code column.
    village: Option<VillageCode>,
}

type FieldError = (&'static str, Reason);

impl Columns {
    fn from_header(
        header: &csv::StringRecord,
        village: Option<VillageCode>,
    ) -> Result<Self, FileError> {
        let mut at = [None; COLUMNS.len()];
        let mut unknown = Vec::new();
        let mut ignored = Vec::new();
        for (i, name) in header.iter().enumerate() {
            let norm = column_of(name).unwrap_or_default();
            match COLUMNS.iter().position(|c| *c == norm) {
                Some(c) if at[c].is_some() => {
                    return Err(FileError::DuplicateColumn(norm.to_string()))
                }
                Some(c) => at[c] = Some(i),
                None if not_kept(name) => ignored.push(name.trim().to_string()),
                None => unknown.push(name.to_string()),
            }
        }
        let missing: Vec<&str> = COLUMNS
            .iter()
            .zip(at.iter())
            .filter(|(c, a)| {
                a.is_none()
                    && !OPTIONAL.contains(c)
                    && !(**c == "village_code" && village.is_some())
            })
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
        let has_village = COLUMNS
            .iter()
            .position(|c| *c == "village_code")
            .is_some_and(|i| at[i].is_some());
        Ok(Columns {
            at,
            ignored,
            village: village.filter(|_| !has_village),
        })
    }

    fn get<'r>(&self, record: &'r csv::StringRecord, name: &'static str) -> &'r str {
        COLUMNS
            .iter()
            .position(|c| *c == name)
            .and_then(|c| self.at[c])
            .and_then(|i| record.get(i))
            .map_or("", undefuse)
    }

    fn parse(
        &self,
        r: &csv::StringRecord,
        this_year: i32,
    ) -> Result<(Resident, Vec<NikWarning>), FieldError> {
        let nik_text = self.get(r, "nik");
        excel_number("nik", nik_text)?;
        let nik = Nik::parse(nik_text, this_year)
            .map_err(|e| ("nik", Reason::Nik(e)))?
            .nik();
        excel_number("family_card", self.get(r, "family_card"))?;
        let sex_text = self.get(r, "sex");
        let sex = Sex::parse(sex_text).ok_or(("sex", Reason::NotSex(sex_text.to_string())))?;
        let birth_date = parse_date("birth_date", self.get(r, "birth_date"))?;
        let village = match self.village {
            Some(v) => v,
            None => VillageCode::parse(self.get(r, "village_code"))
                .map_err(|e| ("village_code", Reason::Village(e)))?,
        };
        let status_text = self.get(r, "status");
        let status = match StatusKind::parse(status_text) {
            Some(StatusKind::Active) => Status::Active,
            Some(StatusKind::MovedOut) => Status::MovedOut {
                destination: self.get(r, "moved_to").to_string(),
                date: parse_optional_date("moved_on", self.get(r, "moved_on"))?,
            },
            Some(StatusKind::Deceased) => Status::Deceased {
                date: parse_optional_date("died_on", self.get(r, "died_on"))?,
            },
            None => return Err(("status", Reason::NotStatus(status_text.to_string()))),
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
        let warnings = resident
            .validate(this_year)
            .map_err(|e| (e.field(), Reason::Record(e)))?;
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
        .map_err(|_| (field, Reason::NotNumber(s.to_string())))
}

/// `YYYY-MM-DD`, or the Indonesian day first: `DD-MM-YYYY`, `DD/MM/YYYY`,
/// `D/M/YYYY` (as Excel shows it), `DD.MM.YYYY`.
pub fn parse_date(field: &'static str, s: &str) -> Result<Date, FieldError> {
    let bad = || (field, Reason::NotDate(s.to_string()));
    let parts: Vec<&str> = s.trim().split(['-', '/', '.']).collect();
    let [a, b, c] = parts.as_slice() else {
        return Err(bad());
    };
    let number = |t: &str, max_len: usize| {
        (!t.is_empty() && t.len() <= max_len && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse::<i32>().ok())
            .flatten()
    };
    let (year, month, day) = if a.len() == 4 {
        (number(a, 4), number(b, 2), number(c, 2))
    } else if c.len() == 4 {
        (number(c, 4), number(b, 2), number(a, 2))
    } else {
        return Err(bad());
    };
    let (Some(year), Some(month), Some(day)) = (year, month, day) else {
        return Err(bad());
    };
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .ok_or_else(bad)?;
    let day = u8::try_from(day).map_err(|_| bad())?;
    Date::from_calendar_date(year, month, day).map_err(|_| bad())
}

/// A day that may be left empty (not known), else as [`parse_date`] reads it.
pub fn parse_optional_date(field: &'static str, s: &str) -> Result<Option<Date>, FieldError> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        parse_date(field, s).map(Some)
    }
}

/// A NIK or KK number that a spreadsheet turned into a number
/// (`3,51015E+15`): its last digits are gone, and only the office's source
/// file has them.
fn excel_number(field: &'static str, s: &str) -> Result<(), FieldError> {
    let upper = s.trim().to_ascii_uppercase();
    let scientific = upper.contains("E+")
        && upper.starts_with(|c: char| c.is_ascii_digit())
        && upper.contains([',', '.']);
    if scientific {
        return Err((field, excel_number_reason(field, s)));
    }
    Ok(())
}

/// Why a NIK or KK held as a number cannot be read.
pub(crate) fn excel_number_reason(field: &str, shown: &str) -> Reason {
    Reason::ExcelNumber {
        nik: field == "nik",
        shown: shown.to_string(),
    }
}

/// The column a header names: ours (`nik`, `full_name`, ...), or a name
/// village offices use, in Bahasa Indonesia or as SIAK exports write it
/// (`NAMA LENGKAP`, `JENIS KELAMIN`, `TGL_LHR`, `NO KK`, ...).
pub fn column_of(header: &str) -> Option<&'static str> {
    let norm = normalise(header);
    let own = norm.replace(' ', "_");
    if let Some(c) = COLUMNS.iter().find(|c| **c == own) {
        return Some(c);
    }
    ALIASES
        .iter()
        .find(|(_, names)| names.contains(&norm.as_str()))
        .map(|(c, _)| *c)
}

/// Other names of each column, as headers are normalised (lowercase, words
/// separated by one space).
const ALIASES: [(&str, &[&str]); 13] = [
    ("nik", &["no nik", "nomor nik", "nomor induk kependudukan"]),
    (
        "full_name",
        &[
            "nama",
            "nama lengkap",
            "nama lgkp",
            "nama penduduk",
            "full name",
        ],
    ),
    (
        "sex",
        &["jenis kelamin", "jenis klmin", "jk", "kelamin", "l p"],
    ),
    (
        "birth_date",
        &[
            "tanggal lahir",
            "tgl lahir",
            "tgl lhr",
            "tanggal lhr",
            "birth date",
        ],
    ),
    (
        "family_card",
        &[
            "no kk",
            "nomor kk",
            "nkk",
            "kk",
            "no kartu keluarga",
            "nomor kartu keluarga",
        ],
    ),
    (
        "dusun",
        &["nama dusun", "dusun lingkungan", "lingkungan", "dsn"],
    ),
    ("rt", &["no rt", "nomor rt"]),
    ("rw", &["no rw", "nomor rw"]),
    (
        "village_code",
        &[
            "kode desa",
            "kode kelurahan",
            "kode wilayah",
            "kode desa kelurahan",
        ],
    ),
    ("status", &["status penduduk", "status warga"]),
    ("moved_to", &["pindah ke", "tujuan pindah", "alamat tujuan"]),
    (
        "moved_on",
        &[
            "tanggal pindah",
            "tgl pindah",
            "tanggal kepindahan",
            "moved on",
        ],
    ),
    (
        "died_on",
        &[
            "tanggal meninggal",
            "tgl meninggal",
            "tgl kematian",
            "tanggal kematian",
        ],
    ),
];

/// Does a spreadsheet read this cell as a formula?
fn formula_like(s: &str) -> bool {
    s.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// A cell as a CSV export writes it: a formula-like text after a `'`.
fn defuse(cell: &str) -> String {
    if formula_like(cell) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

/// A cell as read back: the `'` of [`defuse`] taken off.
fn undefuse(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if formula_like(rest) => rest,
        _ => cell,
    }
}

/// A resident's cells in the order of [`COLUMNS`]: what both exports write.
pub(crate) fn cells(r: &Resident) -> [String; COLUMNS.len()] {
    let day = |d: &Option<Date>| d.map(|d| d.to_string()).unwrap_or_default();
    let (status, moved_to, moved_on, died_on) = match &r.status {
        Status::Active => ("active", String::new(), String::new(), String::new()),
        Status::MovedOut { destination, date } => {
            ("moved_out", destination.clone(), day(date), String::new())
        }
        Status::Deceased { date } => ("deceased", String::new(), String::new(), day(date)),
    };
    [
        r.nik.to_string(),
        r.full_name.clone(),
        r.sex.code().to_string(),
        r.birth_date.to_string(),
        r.family_card.clone(),
        r.address.dusun.clone(),
        r.address.rt.to_string(),
        r.address.rw.to_string(),
        r.village.to_string(),
        status.to_string(),
        moved_to,
        moved_on,
        died_on,
    ]
}

/// Write residents with the import columns. A text cell that a spreadsheet
/// would run as a formula (it begins with `=`, `+`, `-`, `@`, a tab or a
/// carriage return) is written after a `'`, as OWASP advises against CSV
/// injection; [`read`] takes the `'` off again.
pub fn write<'a, W: Write>(
    out: W,
    residents: impl IntoIterator<Item = &'a Resident>,
) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS)?;
    for r in residents {
        w.write_record(cells(r).map(|c| defuse(&c)))?;
    }
    w.flush()?;
    Ok(())
}

mod sheet;
pub use sheet::{is_workbook, read_workbook, write_xlsx};

#[cfg(test)]
mod tests;
