//! The NIK (Nomor Induk Kependudukan): 16 digits, `PP KK CC DDMMYY SSSS`.
//!
//! Province, regency and district *where it was issued*; birth date with 40
//! added to the day for women; serial from 0001. There is no check digit, so
//! validation checks every field against the rules and the real region table.
//! A NIK says where it was issued, never where its holder lives now: residency
//! comes from the registry (see [`crate::verdict`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{Date, Month};

use crate::banyuwangi;
use crate::region::regions;
use crate::resident::Sex;

/// A syntactically valid NIK, kept as a number (16 digits fit in a `u64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nik(u64);

/// Where a NIK was issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuedIn {
    pub province_code: u8,
    pub province_name: &'static str,
    /// `PPKK`, e.g. 3510.
    pub regency_code: u16,
    pub regency_name: &'static str,
    pub district_code: u8,
    /// Known only for Banyuwangi's own districts.
    pub district_name: Option<&'static str>,
}

/// A NIK whose every field passed the rules, with its decoded parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedNik {
    nik: Nik,
    issued_in: IssuedIn,
    birth_date: Date,
    sex: Sex,
    serial: u16,
    warnings: Vec<NikWarning>,
}

/// A rule the NIK breaks. Each variant names exactly one rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
#[non_exhaustive]
pub enum NikError {
    #[error("the NIK is empty")]
    Empty,
    #[error("character '{ch}' at position {position} is not a digit (a NIK has only digits; spaces, dots and dashes are ignored)")]
    NotADigit { ch: char, position: usize },
    #[error("a NIK has 16 digits, this one has {found}")]
    Length { found: usize },
    #[error("province code {code:02} (digits 1-2) does not exist")]
    UnknownProvince { code: u8 },
    #[error(
        "regency code {code:02} (digits 3-4) is neither a kabupaten (01-69) nor a kota (71-99)"
    )]
    RegencyOutOfRange { code: u8 },
    #[error("regency {province:02}.{regency:02} (digits 1-4) does not exist in {province_name}")]
    UnknownRegency {
        province: u8,
        regency: u8,
        province_name: &'static str,
    },
    #[error("birth day {day:02} (digits 7-8) is neither 01-31 (men) nor 41-71 (women, day + 40)")]
    BadDay { day: u8 },
    #[error("birth month {month:02} (digits 9-10) is not 01-12")]
    BadMonth { month: u8 },
    #[error("birth date {day:02}-{month:02}-{year} (digits 7-12) does not exist")]
    ImpossibleDate { day: u8, month: u8, year: i32 },
    #[error("serial number 0000 is not issued (the last 4 digits start at 0001)")]
    SerialZero,
}

/// Something odd about a NIK that does not make it invalid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "warning", rename_all = "snake_case")]
#[non_exhaustive]
pub enum NikWarning {
    /// Districts split and NIKs keep their old code, so an unknown district
    /// under a known regency is only a warning.
    UnknownDistrict { regency: u16, district: u8 },
    /// The registry holds another birth date for this NIK.
    BirthDateDiffers { nik: Date, registry: Date },
    /// The registry holds another sex for this NIK (the NIK encodes it in the day).
    SexDiffers { nik: Sex, registry: Sex },
}

impl fmt::Display for NikWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NikWarning::UnknownDistrict { regency, district } => write!(
                f,
                "district {district:02} (digits 5-6) is not a current district of {}.{:02}; it may predate a split",
                regency / 100,
                regency % 100
            ),
            NikWarning::BirthDateDiffers { nik, registry } => write!(
                f,
                "the NIK says born {nik}, the registry says {registry}"
            ),
            NikWarning::SexDiffers { nik, registry } => write!(
                f,
                "the NIK says {nik}, the registry says {registry}"
            ),
        }
    }
}

/// Strip the separators people type (spaces, dots, dashes) and check the
/// remaining characters are exactly 16 digits.
fn digits(input: &str) -> Result<[u8; 16], NikError> {
    let mut out = [0u8; 16];
    let mut n = 0usize;
    for (position, ch) in input.chars().enumerate() {
        match ch {
            // As typed, scanned or pasted: any white space (a tab, a
            // line break, a no-break space from a spreadsheet), dots and
            // dashes between the digits.
            c if c.is_whitespace() || c == '.' || c == '-' => continue,
            '0'..='9' => {
                if n < 16 {
                    out[n] = ch as u8 - b'0';
                }
                n += 1;
            }
            _ => {
                return Err(NikError::NotADigit {
                    ch,
                    position: position + 1,
                })
            }
        }
    }
    match n {
        0 => Err(NikError::Empty),
        16 => Ok(out),
        found => Err(NikError::Length { found }),
    }
}

/// Century pivot used where no clock is at hand (serde, `FromStr`).
pub const DEFAULT_YEAR: i32 = 2026;

fn two(d: &[u8; 16], at: usize) -> u8 {
    d[at] * 10 + d[at + 1]
}

/// The century a two-digit birth year falls in: the latest one that does not
/// put the birth in the future.
pub fn full_year(yy: u8, this_year: i32) -> i32 {
    let y = 2000 + i32::from(yy);
    if y <= this_year {
        y
    } else {
        y - 100
    }
}

impl Nik {
    /// Parse and validate a NIK typed or scanned by a person.
    ///
    /// `this_year` picks the century of the two-digit birth year (the latest
    /// that is not in the future); pass the current year.
    pub fn parse(input: &str, this_year: i32) -> Result<ParsedNik, NikError> {
        let d = digits(input)?;
        let province = two(&d, 0);
        let Some(province_name) = regions().province(province) else {
            return Err(NikError::UnknownProvince { code: province });
        };
        let regency = two(&d, 2);
        if !(1..=69).contains(&regency) && !(71..=99).contains(&regency) {
            return Err(NikError::RegencyOutOfRange { code: regency });
        }
        let regency_code = u16::from(province) * 100 + u16::from(regency);
        let Some(regency_name) = regions().regency(regency_code) else {
            return Err(NikError::UnknownRegency {
                province,
                regency,
                province_name,
            });
        };
        let day_field = two(&d, 6);
        let (day, sex) = match day_field {
            1..=31 => (day_field, Sex::Male),
            41..=71 => (day_field - 40, Sex::Female),
            _ => return Err(NikError::BadDay { day: day_field }),
        };
        let month = two(&d, 8);
        let Some(month_enum) = Month::try_from(month).ok().filter(|_| month >= 1) else {
            return Err(NikError::BadMonth { month });
        };
        let year = full_year(two(&d, 10), this_year);
        let Ok(birth_date) = Date::from_calendar_date(year, month_enum, day) else {
            return Err(NikError::ImpossibleDate { day, month, year });
        };
        let serial = u16::from(two(&d, 12)) * 100 + u16::from(two(&d, 14));
        if serial == 0 {
            return Err(NikError::SerialZero);
        }
        let district = two(&d, 4);
        let mut warnings = Vec::new();
        let mut district_name = None;
        if regency_code == banyuwangi::REGENCY_CODE {
            match banyuwangi::district(district) {
                Some(dist) => district_name = Some(dist.name),
                None => warnings.push(NikWarning::UnknownDistrict {
                    regency: regency_code,
                    district,
                }),
            }
        }
        let value = d.iter().fold(0u64, |acc, &x| acc * 10 + u64::from(x));
        Ok(ParsedNik {
            nik: Nik(value),
            issued_in: IssuedIn {
                province_code: province,
                province_name,
                regency_code,
                regency_name,
                district_code: district,
                district_name,
            },
            birth_date,
            sex,
            serial,
            warnings,
        })
    }

    /// The NIK as a number.
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// Rebuild from a number that was produced by [`Nik::as_u64`] of a valid NIK
    /// (index keys, storage). Returns `None` if it has more than 16 digits.
    pub fn from_u64(value: u64) -> Option<Nik> {
        (value < 10_000_000_000_000_000).then_some(Nik(value))
    }
}

impl fmt::Display for Nik {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016}", self.0)
    }
}

impl FromStr for Nik {
    type Err = NikError;
    /// Parses with [`DEFAULT_YEAR`] as the century pivot; use [`Nik::parse`]
    /// where the birth date matters.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Nik::parse(s, DEFAULT_YEAR).map(|p| p.nik)
    }
}

impl Serialize for Nik {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Nik {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        // Structural check only: stored NIKs were validated when written.
        let d = digits(&s).map_err(serde::de::Error::custom)?;
        Ok(Nik(d.iter().fold(0u64, |acc, &x| acc * 10 + u64::from(x))))
    }
}

impl ParsedNik {
    pub fn nik(&self) -> Nik {
        self.nik
    }
    pub fn issued_in(&self) -> &IssuedIn {
        &self.issued_in
    }
    pub fn birth_date(&self) -> Date {
        self.birth_date
    }
    pub fn sex(&self) -> Sex {
        self.sex
    }
    pub fn serial(&self) -> u16 {
        self.serial
    }
    /// Warnings that do not make the NIK invalid.
    pub fn warnings(&self) -> &[NikWarning] {
        &self.warnings
    }

    /// Compare with what the registry holds; disagreements are warnings.
    pub fn check_against(&self, birth_date: Date, sex: Sex) -> Vec<NikWarning> {
        let mut out = Vec::new();
        if birth_date != self.birth_date {
            out.push(NikWarning::BirthDateDiffers {
                nik: self.birth_date,
                registry: birth_date,
            });
        }
        if sex != self.sex {
            out.push(NikWarning::SexDiffers {
                nik: self.sex,
                registry: sex,
            });
        }
        out
    }
}

/// Build the 16 digits of a NIK from its parts (for generators and tests).
/// The parts are not validated: feed the result to [`Nik::parse`].
pub fn compose(regency_code: u16, district: u8, birth_date: Date, sex: Sex, serial: u16) -> String {
    let day = birth_date.day() + if sex == Sex::Female { 40 } else { 0 };
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:04}",
        regency_code,
        district,
        day,
        u8::from(birth_date.month()),
        birth_date.year().rem_euclid(100),
        serial
    )
}

#[cfg(test)]
mod tests;
