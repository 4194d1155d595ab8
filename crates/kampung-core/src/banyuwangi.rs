//! Kabupaten Banyuwangi (35.10): its 25 districts (kecamatan) and 217 villages
//! (189 desa, 28 kelurahan) with their real Kemendagri codes, embedded at build
//! time from `data/`. Village names repeat across districts (Karangrejo,
//! Watukebo, Tamansari), so the code, never the name, is the key.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Province code of Jawa Timur.
pub const PROVINCE: u8 = 35;
/// Regency code of Banyuwangi within Jawa Timur.
pub const REGENCY: u8 = 10;
/// `PPKK` of Banyuwangi.
pub const REGENCY_CODE: u16 = 3510;

const DISTRICTS_CSV: &str = include_str!("../data/banyuwangi_districts.csv");
const VILLAGES_CSV: &str = include_str!("../data/banyuwangi_villages.csv");
const CODE_CHANGES_CSV: &str = include_str!("../data/banyuwangi_code_changes.csv");

/// A Banyuwangi village code, `35.10.DD.VVVV` (district, village).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VillageCode {
    pub district: u8,
    pub village: u16,
}

/// Why a village code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VillageCodeError {
    #[error("'{0}' is not a village code: write it as 35.10.DD.VVVV, for example 35.10.15.2012")]
    Malformed(String),
    #[error("'{0}' is not in Banyuwangi (35.10): this mesh holds only Banyuwangi's villages")]
    OutsideBanyuwangi(String),
    #[error(
        "{0} is not one of Banyuwangi's 217 villages (Kepmendagri 2025 codes); check the code"
    )]
    Unknown(VillageCode),
}

impl VillageCode {
    /// Parse `35.10.15.2012` (or the same ten digits without dots) and check it
    /// names one of the 217 villages.
    pub fn parse(s: &str) -> Result<Self, VillageCodeError> {
        let code = Self::parse_unchecked(s)?;
        if village(code).is_none() {
            return Err(VillageCodeError::Unknown(code));
        }
        Ok(code)
    }

    /// Parse the shape only, without looking the code up.
    fn parse_unchecked(s: &str) -> Result<Self, VillageCodeError> {
        let digits: String = s.trim().chars().filter(|c| *c != '.').collect();
        let dotted_ok = {
            let parts: Vec<&str> = s.trim().split('.').collect();
            parts.len() == 1
                || (parts.len() == 4
                    && [2, 2, 2, 4]
                        == [
                            parts[0].len(),
                            parts[1].len(),
                            parts[2].len(),
                            parts[3].len(),
                        ])
        };
        if digits.len() != 10 || !dotted_ok || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(VillageCodeError::Malformed(s.to_string()));
        }
        let num = |r: std::ops::Range<usize>| digits[r].parse::<u16>().unwrap_or(0);
        if num(0..2) != u16::from(PROVINCE) || num(2..4) != u16::from(REGENCY) {
            return Err(VillageCodeError::OutsideBanyuwangi(s.to_string()));
        }
        Ok(VillageCode {
            district: num(4..6) as u8,
            village: num(6..10),
        })
    }

    /// The district code `35.10.DD` as a number `DD`.
    pub fn district_code(self) -> u8 {
        self.district
    }
}

impl VillageCode {
    /// `35.10.DD.VVVV` as bytes, written without the formatting machinery
    /// (every verdict names its village's document).
    fn text(self) -> [u8; 13] {
        let digit = |n: u16, place: u16| b'0' + ((n / place) % 10) as u8;
        let d = u16::from(self.district);
        let v = self.village;
        [
            b'0' + PROVINCE / 10,
            b'0' + PROVINCE % 10,
            b'.',
            b'0' + REGENCY / 10,
            b'0' + REGENCY % 10,
            b'.',
            digit(d, 10),
            digit(d, 1),
            b'.',
            digit(v, 1000),
            digit(v, 100),
            digit(v, 10),
            digit(v, 1),
        ]
    }
}

impl fmt::Display for VillageCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.district > 99 || self.village > 9999 {
            // Not a code `parse` gives: shown as it is.
            return write!(
                f,
                "{PROVINCE}.{REGENCY}.{:02}.{:04}",
                self.district, self.village
            );
        }
        let text = self.text();
        // Only ASCII digits and dots: always UTF-8.
        f.pad(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl FromStr for VillageCode {
    type Err = VillageCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for VillageCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for VillageCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        VillageCode::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Desa (rural village) or kelurahan (urban ward).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VillageKind {
    Desa,
    Kelurahan,
}

/// A kecamatan of Banyuwangi.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct District {
    /// `DD` of `35.10.DD`.
    pub code: u8,
    pub name: &'static str,
}

/// A desa or kelurahan of Banyuwangi.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Village {
    pub code: VillageCode,
    pub kind: VillageKind,
    pub name: &'static str,
    pub district_name: &'static str,
    /// For the ten villages that moved into Blimbingsari (35.10.25): the district
    /// code they had before the split (Rogojampi 13 or Kabat 14). NIKs issued
    /// there before the split carry this code, and keep it.
    pub old_district: Option<u8>,
    /// Position in [`villages()`], a compact id for indexes.
    pub ordinal: u16,
}

struct Tables {
    districts: Vec<District>,
    villages: Vec<Village>,
    by_code: HashMap<VillageCode, usize>,
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let districts = DISTRICTS_CSV
        .lines()
        .skip(1)
        .filter_map(|l| {
            let (code, name) = l.split_once(',')?;
            Some(District {
                code: code.rsplit('.').next()?.parse().ok()?,
                name,
            })
        })
        .collect();
    let old_codes: HashMap<VillageCode, u8> = CODE_CHANGES_CSV
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let old = VillageCode::parse_unchecked(f.first()?).ok()?;
            let new = VillageCode::parse_unchecked(f.get(2)?).ok()?;
            Some((new, old.district))
        })
        .collect();
    let mut villages = Vec::new();
    for l in VILLAGES_CSV.lines().skip(1) {
        let f: Vec<&'static str> = l.split(',').collect();
        let (Some(code), Some(kind), Some(name), Some(district_name)) =
            (f.first(), f.get(1), f.get(2), f.get(4))
        else {
            continue;
        };
        let Ok(code) = VillageCode::parse_unchecked(code) else {
            continue;
        };
        let kind = if *kind == "kelurahan" {
            VillageKind::Kelurahan
        } else {
            VillageKind::Desa
        };
        villages.push(Village {
            code,
            kind,
            name,
            district_name,
            old_district: old_codes.get(&code).copied(),
            ordinal: villages.len() as u16,
        });
    }
    let by_code = villages
        .iter()
        .enumerate()
        .map(|(i, v)| (v.code, i))
        .collect();
    Tables {
        districts,
        villages,
        by_code,
    }
});

/// The 25 districts, in code order.
pub fn districts() -> &'static [District] {
    &TABLES.districts
}

/// The 217 villages, in code order.
pub fn villages() -> &'static [Village] {
    &TABLES.villages
}

/// A village by code.
pub fn village(code: VillageCode) -> Option<&'static Village> {
    TABLES.by_code.get(&code).map(|&i| &TABLES.villages[i])
}

/// How many other villages hold a copy of each village's details
/// ([`detail_holders`]).
pub const DETAIL_BACKUPS: usize = 2;

/// The villages that hold a copy of `code`'s details (its residents in
/// full) besides the village itself when the policy names no other rule
/// ([`crate::HolderRule`]): the next [`DETAIL_BACKUPS`] villages
/// of the same district in code order, counting on from the first after
/// the last. A village office whose server died is restored from them (or
/// from an auditor). One pure function of the code, so every node agrees
/// on it without asking anyone; a district of fewer villages has fewer.
///
/// ```
/// use kampung_core::banyuwangi::detail_holders;
/// use kampung_core::VillageCode;
/// let kampunganyar: VillageCode = "35.10.15.2012".parse().unwrap();
/// let holders = detail_holders(kampunganyar);
/// assert_eq!(holders.len(), 2);
/// assert!(holders.iter().all(|h| h.district == 15 && *h != kampunganyar));
/// ```
pub fn detail_holders(code: VillageCode) -> Vec<VillageCode> {
    district_after(code, DETAIL_BACKUPS)
}

/// The next `n` villages of `code`'s district in code order, counting on
/// from the first after the last (fewer in a district of fewer villages).
pub fn district_after(code: VillageCode, n: usize) -> Vec<VillageCode> {
    let district: Vec<VillageCode> = villages()
        .iter()
        .filter(|v| v.code.district == code.district)
        .map(|v| v.code)
        .collect();
    let Some(at) = district.iter().position(|c| *c == code) else {
        return Vec::new();
    };
    (1..district.len())
        .take(n)
        .map(|step| district[(at + step) % district.len()])
        .collect()
}

/// The villages a clerk's words name: a code (`35.10.15.2012`), a name
/// (`Kampunganyar`, `desa kampunganyar`), a name and its district
/// (`Karangrejo, Gambiran`), in any capitals. Three names occur in two
/// districts each: those give two villages, for the person to choose.
pub fn villages_named(text: &str) -> Vec<&'static Village> {
    if let Ok(code) = VillageCode::parse(text.trim()) {
        return village(code).into_iter().collect();
    }
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let (name, district) = match text.split_once(',') {
        Some((n, d)) => (norm(n), Some(norm(d))),
        None => (norm(text), None),
    };
    let name = ["desa ", "kelurahan ", "kel. "]
        .iter()
        .find_map(|p| name.strip_prefix(p))
        .map_or(name.clone(), str::to_string);
    let district = district.map(|d| {
        d.strip_prefix("kecamatan ")
            .map_or(d.clone(), str::to_string)
    });
    villages()
        .iter()
        .filter(|v| norm(v.name) == name)
        .filter(|v| {
            district
                .as_ref()
                .is_none_or(|d| norm(v.district_name) == *d)
        })
        .collect()
}

/// The one village `text` names ([`villages_named`]), or what to write
/// instead: none is found (with the closest names), or two are.
pub fn village_named(text: &str) -> Result<&'static Village, String> {
    match villages_named(text).as_slice() {
        [one] => Ok(one),
        [] => {
            let needle = text.trim().to_lowercase();
            let like: Vec<String> = villages()
                .iter()
                .filter(|v| {
                    let n = v.name.to_lowercase();
                    needle.len() >= 3 && (n.contains(&needle) || needle.contains(&n))
                })
                .take(5)
                .map(|v| format!("{} ({}, {})", v.code, v.name, v.district_name))
                .collect();
            Err(if like.is_empty() {
                format!("'{text}' is not one of Banyuwangi's 217 villages: `kampung villages --search TEXT` lists them")
            } else {
                format!("'{text}' is not one of Banyuwangi's 217 villages; did you mean {}?", like.join(", "))
            })
        }
        many => Err(format!(
            "'{text}' is the name of {} villages: {}; write the code or the name with its district (\"{}, {}\")",
            many.len(),
            many.iter()
                .map(|v| format!("{} in {}", v.code, v.district_name))
                .collect::<Vec<_>>()
                .join(", "),
            many[0].name,
            many[0].district_name
        )),
    }
}

/// A village by its ordinal (see [`Village::ordinal`]).
pub fn village_by_ordinal(ordinal: u16) -> Option<&'static Village> {
    TABLES.villages.get(usize::from(ordinal))
}

/// The name of a district by its `DD` code.
pub fn district(code: u8) -> Option<&'static District> {
    TABLES.districts.iter().find(|d| d.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_hold_the_real_counts() {
        assert_eq!(districts().len(), 25);
        assert_eq!(villages().len(), 217);
        let kel = villages()
            .iter()
            .filter(|v| v.kind == VillageKind::Kelurahan)
            .count();
        assert_eq!(kel, 28);
        assert_eq!(
            villages()
                .iter()
                .filter(|v| v.old_district.is_some())
                .count(),
            10
        );
    }

    #[test]
    fn villages_are_found_by_name_and_district() {
        let k = village_named("Kampunganyar").unwrap();
        assert_eq!(k.code.to_string(), "35.10.15.2012");
        assert_eq!(village_named("  desa  KAMPUNGANYAR ").unwrap().code, k.code);
        assert_eq!(village_named("35.10.15.2012").unwrap().code, k.code);
        // The three names that occur in two districts each.
        for name in ["Karangrejo", "Watukebo", "Tamansari"] {
            let both = villages_named(name);
            assert_eq!(both.len(), 2, "{name}");
            let err = village_named(name).unwrap_err();
            assert!(
                err.contains(&both[0].code.to_string()) && err.contains(&both[1].code.to_string()),
                "{err}"
            );
            let one = format!("{name}, {}", both[1].district_name);
            assert_eq!(village_named(&one).unwrap().code, both[1].code, "{one}");
        }
        let err = village_named("Kampung").unwrap_err();
        assert!(err.contains("Kampunganyar"), "{err}");
        assert!(village_named("Atlantis").is_err());
    }

    #[test]
    fn parses_and_displays_codes() {
        let c = VillageCode::parse("35.10.15.2012").unwrap();
        assert_eq!(c.to_string(), "35.10.15.2012");
        // Every village's code reads back as itself.
        for v in villages() {
            assert_eq!(VillageCode::parse(&v.code.to_string()).unwrap(), v.code);
        }
        assert_eq!(
            VillageCode {
                district: 1,
                village: 1
            }
            .to_string(),
            "35.10.01.0001"
        );
        assert_eq!(format!("{c:>15}"), "  35.10.15.2012");
        assert_eq!(VillageCode::parse("3510152012").unwrap(), c);
        assert_eq!(village(c).unwrap().district_name, "Glagah");
        let bomo = village(VillageCode::parse("35.10.25.2005").unwrap()).unwrap();
        assert_eq!(bomo.name, "Bomo");
        assert_eq!(bomo.old_district, Some(13));
    }

    #[test]
    fn rejects_bad_codes_with_the_reason() {
        assert!(matches!(
            VillageCode::parse("35.10.15"),
            Err(VillageCodeError::Malformed(_))
        ));
        assert!(matches!(
            VillageCode::parse("35.1O.15.2012"),
            Err(VillageCodeError::Malformed(_))
        ));
        assert!(matches!(
            VillageCode::parse("35.09.15.2012"),
            Err(VillageCodeError::OutsideBanyuwangi(_))
        ));
        assert!(matches!(
            VillageCode::parse("35.10.15.2999"),
            Err(VillageCodeError::Unknown(_))
        ));
    }

    #[test]
    fn same_name_in_two_districts_has_two_codes() {
        let karangrejo: Vec<_> = villages()
            .iter()
            .filter(|v| v.name == "Karangrejo")
            .collect();
        assert_eq!(karangrejo.len(), 2);
        assert_ne!(karangrejo[0].code, karangrejo[1].code);
    }
}
