//! What a node answers about a NIK. Residency comes from the registry only,
//! never from the NIK prefix: a Banyuwangi resident may carry a Bali NIK, and a
//! 3510 NIK may belong to someone who moved away.

use serde::Serialize;

use crate::banyuwangi::{self, VillageCode};
use crate::nik::{IssuedIn, NikError, NikWarning, ParsedNik};
use crate::resident::StatusKind;

/// What the registry (the derived index) says about a NIK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryView<'a> {
    pub village: VillageCode,
    pub status: StatusKind,
    pub full_name: &'a str,
    pub moved_to: Option<&'a str>,
    pub birth_date: time::Date,
    pub sex: crate::Sex,
}

/// The answer about one NIK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verdict {
    /// An active record in one of the villages.
    Resident {
        village: VillageCode,
        village_name: &'static str,
        district_name: &'static str,
        full_name: String,
        warnings: Vec<NikWarning>,
    },
    /// The record says the person moved away.
    MovedOut {
        village: VillageCode,
        village_name: &'static str,
        full_name: String,
        destination: String,
    },
    /// The record says the person died: their KTP at a border is an alert.
    Deceased {
        village: VillageCode,
        village_name: &'static str,
        full_name: String,
    },
    /// Not in the registry; where the NIK was issued.
    NonResident {
        issued_in: IssuedIn,
        warnings: Vec<NikWarning>,
    },
    /// The NIK breaks a rule.
    Invalid { error: NikError, reason: String },
}

impl Verdict {
    /// Decide from a parsed NIK and what the registry holds for it.
    pub fn decide(
        parsed: Result<ParsedNik, NikError>,
        registry: Option<RegistryView<'_>>,
    ) -> Verdict {
        let parsed = match parsed {
            Ok(p) => p,
            Err(error) => {
                return Verdict::Invalid {
                    reason: error.to_string(),
                    error,
                }
            }
        };
        let Some(entry) = registry else {
            return Verdict::NonResident {
                issued_in: parsed.issued_in().clone(),
                warnings: parsed.warnings().to_vec(),
            };
        };
        let village = banyuwangi::village(entry.village);
        let village_name = village.map_or("(unknown village)", |v| v.name);
        match entry.status {
            StatusKind::Active => {
                let mut warnings = parsed.warnings().to_vec();
                warnings.extend(parsed.check_against(entry.birth_date, entry.sex));
                Verdict::Resident {
                    village: entry.village,
                    village_name,
                    district_name: village.map_or("", |v| v.district_name),
                    full_name: entry.full_name.to_string(),
                    warnings,
                }
            }
            StatusKind::MovedOut => Verdict::MovedOut {
                village: entry.village,
                village_name,
                full_name: entry.full_name.to_string(),
                destination: entry.moved_to.unwrap_or_default().to_string(),
            },
            StatusKind::Deceased => Verdict::Deceased {
                village: entry.village,
                village_name,
                full_name: entry.full_name.to_string(),
            },
        }
    }

    /// Short machine name of the verdict kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Verdict::Resident { .. } => "resident",
            Verdict::MovedOut { .. } => "moved_out",
            Verdict::Deceased { .. } => "deceased",
            Verdict::NonResident { .. } => "non_resident",
            Verdict::Invalid { .. } => "invalid",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Nik, Sex};
    use time::macros::date;

    fn view(village: &str, status: StatusKind) -> RegistryView<'static> {
        RegistryView {
            village: VillageCode::parse(village).unwrap(),
            status,
            full_name: "Sri Wahyuni",
            moved_to: Some("Kota Surabaya"),
            birth_date: date!(1985 - 03 - 12),
            sex: Sex::Female,
        }
    }

    #[test]
    fn residency_comes_from_the_registry_not_the_prefix() {
        // A Bali-issued NIK (51.01 Jembrana) of a registered Banyuwangi resident.
        let bali = Nik::parse("5101015203850007", 2026);
        let v = Verdict::decide(
            bali.clone(),
            Some(view("35.10.21.2003", StatusKind::Active)),
        );
        assert_eq!(v.kind(), "resident");
        // The same NIK with no record is a non-resident issued in Bali.
        match Verdict::decide(bali, None) {
            Verdict::NonResident { issued_in, .. } => assert_eq!(issued_in.province_name, "Bali"),
            other => panic!("expected non-resident, got {other:?}"),
        }
        // A 3510 NIK whose holder moved out is not a resident.
        let local = Nik::parse("3510155203850001", 2026);
        let v = Verdict::decide(local, Some(view("35.10.15.2012", StatusKind::MovedOut)));
        assert!(
            matches!(v, Verdict::MovedOut { ref destination, .. } if destination == "Kota Surabaya")
        );
    }

    #[test]
    fn registry_disagreement_is_a_warning() {
        let nik = Nik::parse("3510151203850001", 2026); // male, 1985-03-12
        match Verdict::decide(nik, Some(view("35.10.15.2012", StatusKind::Active))) {
            Verdict::Resident { warnings, .. } => {
                assert!(warnings
                    .iter()
                    .any(|w| matches!(w, NikWarning::SexDiffers { .. })))
            }
            other => panic!("expected resident, got {other:?}"),
        }
    }

    #[test]
    fn deceased_is_an_alert_and_invalid_names_the_rule() {
        let v = Verdict::decide(
            Nik::parse("3510155203850001", 2026),
            Some(view("35.10.15.2012", StatusKind::Deceased)),
        );
        assert_eq!(v.kind(), "deceased");
        let v = Verdict::decide(Nik::parse("3510153203850001", 2026), None);
        assert!(matches!(
            v,
            Verdict::Invalid {
                error: NikError::BadDay { day: 32 },
                ..
            }
        ));
    }
}
