//! The resident record a village office keeps.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::banyuwangi::VillageCode;
use crate::nik::{Nik, NikError, NikWarning};

/// Sex as on the KTP: `L` (laki-laki) or `P` (perempuan).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sex {
    #[serde(rename = "L")]
    Male,
    #[serde(rename = "P")]
    Female,
}

impl Sex {
    /// Accepts `L`/`P` (KTP), `M`/`F`, `LAKI-LAKI`/`PEREMPUAN`, any case.
    pub fn parse(s: &str) -> Option<Sex> {
        match s.trim().to_ascii_uppercase().as_str() {
            "L" | "M" | "LAKI-LAKI" | "LAKI LAKI" => Some(Sex::Male),
            "P" | "F" | "PEREMPUAN" | "W" => Some(Sex::Female),
            _ => None,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Sex::Male => "L",
            Sex::Female => "P",
        }
    }
}

impl fmt::Display for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sex::Male => "male (L)",
            Sex::Female => "female (P)",
        })
    }
}

/// Address inside the village: hamlet (dusun), neighbourhood (RT) and ward (RW).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Address {
    pub dusun: String,
    pub rt: u16,
    pub rw: u16,
}

/// Where the record stands.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    Active,
    MovedOut {
        destination: String,
        /// The day the person moved, if the office knows it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        date: Option<Date>,
    },
    Deceased {
        date: Option<Date>,
    },
}

impl Status {
    pub fn kind(&self) -> StatusKind {
        match self {
            Status::Active => StatusKind::Active,
            Status::MovedOut { .. } => StatusKind::MovedOut,
            Status::Deceased { .. } => StatusKind::Deceased,
        }
    }
}

/// [`Status`] without its details, for compact indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusKind {
    Active,
    MovedOut,
    Deceased,
}

impl StatusKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusKind::Active => "active",
            StatusKind::MovedOut => "moved_out",
            StatusKind::Deceased => "deceased",
        }
    }
    pub fn parse(s: &str) -> Option<StatusKind> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace([' ', '-'], "_")
            .as_str()
        {
            "active" | "aktif" | "" => Some(StatusKind::Active),
            "moved_out" | "pindah" => Some(StatusKind::MovedOut),
            "deceased" | "meninggal" => Some(StatusKind::Deceased),
            _ => None,
        }
    }
}

/// One resident of one village.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resident {
    pub nik: Nik,
    pub full_name: String,
    pub sex: Sex,
    pub birth_date: Date,
    /// Family card number (No. KK), 16 digits, shared by a household.
    pub family_card: String,
    pub address: Address,
    pub village: VillageCode,
    pub status: Status,
    /// When the record was last written, milliseconds since the Unix epoch
    /// (set by the node that wrote it).
    pub updated_at_ms: i64,
}

/// A field of a record that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    #[error("nik: {0}")]
    Nik(#[from] NikError),
    #[error("{field}: {problem}")]
    Field {
        field: &'static str,
        problem: FieldProblem,
    },
}

impl RecordError {
    /// The record's field at fault (`nik`, `full_name`, `rt`, ...).
    pub fn field(&self) -> &'static str {
        match self {
            RecordError::Nik(_) => "nik",
            RecordError::Field { field, .. } => field,
        }
    }
}

/// What is wrong with a field (the message catalogues of `kampung-i18n`
/// render it for people; `Display` is the English of logs and tests).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldProblem {
    #[error("is empty")]
    Empty,
    #[error("is {chars} characters long, at most {max} are allowed", max = MAX_TEXT)]
    TooLong { chars: usize },
    #[error("contains a control character (line break or tab)")]
    ControlCharacter,
    #[error("contains a character that reorders text (a Unicode bidirectional control)")]
    BidiControl,
    #[error("has no visible character (only spaces or zero-width characters)")]
    Invisible,
    #[error("'{0}' is not 16 digits")]
    Not16Digits(String),
    #[error("{0} is not between 1 and 999")]
    OutOfRange(u16),
    #[error("{date} is before the birth date {born}")]
    BeforeBirth { date: Date, born: Date },
}

fn field(field: &'static str, problem: FieldProblem) -> RecordError {
    RecordError::Field { field, problem }
}

/// Longest name, dusun or destination accepted, in characters.
pub const MAX_TEXT: usize = 120;

/// Characters that reorder the text around them (Unicode bidirectional
/// embeddings, overrides, isolates and marks): in a name they can make a
/// screen or a report show something else than what is stored.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that take no room on a screen (white space aside): zero-width
/// spaces and joiners, the word joiner, the byte-order mark, the soft hyphen.
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

/// What is wrong with a text people typed (a name, an address, a note), if
/// anything, beyond its length: a control character (line breaks allowed
/// when `multiline`), a character that reorders text, or (when not empty)
/// no visible character at all.
pub fn text_problem(value: &str, multiline: bool) -> Option<FieldProblem> {
    let allowed = |c: char| multiline && matches!(c, '\n' | '\r' | '\t');
    if value.chars().any(|c| c.is_control() && !allowed(c)) {
        return Some(FieldProblem::ControlCharacter);
    }
    if value.chars().any(is_bidi_control) {
        return Some(FieldProblem::BidiControl);
    }
    if !value.is_empty() && value.chars().all(is_invisible) {
        return Some(FieldProblem::Invisible);
    }
    None
}

/// Check one line of text a person typed as `name` (a field of a record,
/// the reason for a withdrawal): not empty, not too long, no control or
/// text-reordering characters, something visible.
pub fn check_line(name: &'static str, value: &str) -> Result<(), RecordError> {
    text(name, value)
}

fn text(name: &'static str, value: &str) -> Result<(), RecordError> {
    let n = value.trim().chars().count();
    if n == 0 {
        return Err(field(name, FieldProblem::Empty));
    }
    if n > MAX_TEXT {
        return Err(field(name, FieldProblem::TooLong { chars: n }));
    }
    match text_problem(value, false) {
        Some(problem) => Err(field(name, problem)),
        None => Ok(()),
    }
}

impl Resident {
    /// Check every field; return the NIK warnings (which do not reject).
    pub fn validate(&self, this_year: i32) -> Result<Vec<NikWarning>, RecordError> {
        let parsed = Nik::parse(&self.nik.to_string(), this_year)?;
        text("full_name", &self.full_name)?;
        if self.family_card.len() != 16 || !self.family_card.bytes().all(|b| b.is_ascii_digit()) {
            return Err(field(
                "family_card",
                FieldProblem::Not16Digits(self.family_card.clone()),
            ));
        }
        text("dusun", &self.address.dusun)?;
        for (name, v) in [("rt", self.address.rt), ("rw", self.address.rw)] {
            if !(1..=999).contains(&v) {
                return Err(field(name, FieldProblem::OutOfRange(v)));
            }
        }
        match &self.status {
            Status::Active => {}
            Status::MovedOut { destination, date } => {
                text("moved_to", destination)?;
                self.not_before_birth("moved_on", *date)?;
            }
            Status::Deceased { date } => self.not_before_birth("died_on", *date)?,
        }
        let mut warnings = parsed.warnings().to_vec();
        warnings.extend(parsed.check_against(self.birth_date, self.sex));
        Ok(warnings)
    }

    /// A day of this person's life (`field`) cannot be before their birth.
    fn not_before_birth(&self, name: &'static str, date: Option<Date>) -> Result<(), RecordError> {
        match date {
            Some(d) if d < self.birth_date => Err(field(
                name,
                FieldProblem::BeforeBirth {
                    date: d,
                    born: self.birth_date,
                },
            )),
            _ => Ok(()),
        }
    }

    /// True if both records say the same, ignoring when they were written.
    /// The verdict card of this record: what a verdict needs (NIK, name,
    /// sex, village, status with its destination and dates), replicated to
    /// every node. The family card and the address stay out (empty), and
    /// the birth date is the one the NIK gives (with `this_year`'s century
    /// pivot), so the card tells nothing of it that the NIK does not: the
    /// full date, where they differ, is in the details only.
    pub fn card(&self, this_year: i32) -> Resident {
        let birth_date = crate::nik::Nik::parse(&self.nik.to_string(), this_year)
            .map_or(self.birth_date, |p| p.birth_date());
        Resident {
            nik: self.nik,
            full_name: self.full_name.clone(),
            sex: self.sex,
            birth_date,
            family_card: String::new(),
            address: Address {
                dusun: String::new(),
                rt: 0,
                rw: 0,
            },
            village: self.village,
            status: self.status.clone(),
            updated_at_ms: self.updated_at_ms,
        }
    }

    pub fn same_content(&self, other: &Resident) -> bool {
        self.nik == other.nik
            && self.full_name == other.full_name
            && self.sex == other.sex
            && self.birth_date == other.birth_date
            && self.family_card == other.family_card
            && self.address == other.address
            && self.village == other.village
            && self.status == other.status
    }
}
