//! The verdict a border checkpoint gives about a KTP, and what follows from it.
//!
//! [`Verdict::decide`] says what the registry knows; [`CheckVerdict::decide`]
//! adds what a checkpoint also needs: an open isolation case (send the person
//! back to it), the regency's [`Policy`] (barred regions, isolation days) and
//! how old our copy of the village's document is. It stays pure: the caller
//! looks up the registry, the open case and the freshness, and passes them in.
//!
//! Residency comes from the registry only, never from the NIK prefix: a
//! registered active resident holding a Bali NIK is a resident, and a 3510 NIK
//! with no active record is not.
//!
//! Precedence, first match wins:
//! 1. **invalid**: a NIK that breaks a rule says nothing else reliably;
//! 2. **deceased**: the record says the holder died, so the card should not be
//!    in use: an alert outranks everything else (an open case is still shown);
//! 3. **resident under isolation**: anyone, resident or not, with an open case;
//! 4. **resident**: an active record;
//! 5. **barred**: not an active resident (moved out, or no record) and the NIK
//!    was issued in a region the policy bars;
//! 6. **moved out**: the record says so; now a non-resident, so the policy's
//!    isolation applies;
//! 7. **non-resident**: no record at all.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime, UtcOffset};

use crate::banyuwangi::VillageCode;
use crate::nik::{IssuedIn, NikError, NikWarning, ParsedNik};
use crate::policy::{Policy, Region};
use crate::verdict::{RegistryView, Verdict};

/// Banyuwangi's local time (WIB, UTC+7): the calendar day of a follow-up or of
/// a case's opening is a day in Banyuwangi, whatever the node's clock zone.
pub const WIB: UtcOffset = time::macros::offset!(+7);

/// The calendar day in Banyuwangi of a unix time in milliseconds; `None` if the
/// time is outside what `time` can represent.
pub fn local_date(unix_ms: i64) -> Option<Date> {
    let nanos = i128::from(unix_ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .map(|t| t.to_offset(WIB).date())
}

/// Who took a person in after a family pick-up, as written on the signed
/// isolation pledge.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Pledge {
    /// Full name of the family member who signed.
    pub picked_up_by: String,
    /// Relation to the person (e.g. "father", "sister").
    pub relation: String,
    pub phone: String,
}

/// Where a person under isolation is held. Exhaustive on purpose: a new kind
/// of place must be handled by every store and view that matches on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Place {
    /// The regency's facility, GOR Tawangalun.
    Gor,
    /// A village's isolation house.
    VillageHouse { village: VillageCode },
    /// Self-isolation at home.
    Home { address: String },
    /// Picked up by family who signed an isolation pledge.
    FamilyPickup { pledge: Pledge },
}

impl Place {
    /// Stable machine name of the kind of place.
    pub fn kind(&self) -> &'static str {
        match self {
            Place::Gor => "gor",
            Place::VillageHouse { .. } => "village_house",
            Place::Home { .. } => "home",
            Place::FamilyPickup { .. } => "family_pickup",
        }
    }
}

/// An isolation case open for the NIK being checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenCase {
    /// 16 lowercase hex digits.
    pub case_id: String,
    /// Where the person is placed now.
    pub place: Place,
}

/// What a checkpoint answers about a KTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CheckVerdict {
    /// An active record in one of the villages.
    Resident {
        village: VillageCode,
        village_name: &'static str,
        district_name: &'static str,
        full_name: String,
        /// How old our copy of that village's document is; `None` if we never
        /// heard from the village's node.
        copy_age_ms: Option<u64>,
        warnings: Vec<NikWarning>,
    },
    /// An open isolation case, whether the person is a resident or not: send
    /// them back to the case's place.
    ResidentUnderIsolation {
        case_id: String,
        place: Place,
        /// From the registry, if the person has a record.
        full_name: Option<String>,
        /// The village of an active record, if any.
        village: Option<VillageCode>,
    },
    /// The record says the person moved away: now a non-resident.
    MovedOut {
        village: VillageCode,
        village_name: &'static str,
        full_name: String,
        destination: String,
        copy_age_ms: Option<u64>,
        /// What the policy requires of a non-resident (0: nothing).
        isolation_days: u32,
    },
    /// The record says the person died: their KTP at a border is an alert.
    Deceased {
        village: VillageCode,
        village_name: &'static str,
        full_name: String,
        copy_age_ms: Option<u64>,
        /// A case opened on this NIK, shown so nothing is hidden.
        open_case: Option<OpenCase>,
    },
    /// Not in the registry: where the NIK was issued and what the policy requires.
    NonResident {
        issued_in: IssuedIn,
        /// Days of isolation the policy requires (0: nothing required).
        isolation_days: u32,
        warnings: Vec<NikWarning>,
    },
    /// Not an active resident, and the NIK was issued in a region the policy
    /// bars: turn back.
    Barred {
        issued_in: IssuedIn,
        region: Region,
        region_name: &'static str,
    },
    /// The NIK breaks a rule.
    Invalid { error: NikError, reason: String },
}

impl CheckVerdict {
    /// Decide at a checkpoint. See the module docs for the precedence.
    ///
    /// `registry` is the derived index's view of the NIK, `open_case` the
    /// isolation case open for it, `copy_age` how old our copy of the
    /// record's village document is (`None`: never heard from its node).
    pub fn decide(
        parsed: Result<ParsedNik, NikError>,
        registry: Option<RegistryView<'_>>,
        open_case: Option<OpenCase>,
        policy: &Policy,
        copy_age: Option<Duration>,
    ) -> CheckVerdict {
        let parsed = match parsed {
            Ok(p) => p,
            Err(error) => {
                return CheckVerdict::Invalid {
                    reason: error.to_string(),
                    error,
                }
            }
        };
        let issued_in = parsed.issued_in().clone();
        let copy_age_ms = copy_age.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let barred = policy.barring(issued_in.province_code, issued_in.regency_code);
        let isolation_days = policy.isolation_days;
        match (Verdict::decide(Ok(parsed), registry), open_case, barred) {
            (Verdict::Invalid { error, reason }, _, _) => CheckVerdict::Invalid { error, reason },
            (
                Verdict::Deceased {
                    village,
                    village_name,
                    full_name,
                },
                open_case,
                _,
            ) => CheckVerdict::Deceased {
                village,
                village_name,
                full_name,
                copy_age_ms,
                open_case,
            },
            (base, Some(case), _) => {
                let (full_name, village) = match base {
                    Verdict::Resident {
                        village, full_name, ..
                    } => (Some(full_name), Some(village)),
                    Verdict::MovedOut { full_name, .. } => (Some(full_name), None),
                    _ => (None, None),
                };
                CheckVerdict::ResidentUnderIsolation {
                    case_id: case.case_id,
                    place: case.place,
                    full_name,
                    village,
                }
            }
            (
                Verdict::Resident {
                    village,
                    village_name,
                    district_name,
                    full_name,
                    warnings,
                },
                None,
                _,
            ) => CheckVerdict::Resident {
                village,
                village_name,
                district_name,
                full_name,
                copy_age_ms,
                warnings,
            },
            // Moved out or never registered: no longer an active resident.
            (_, None, Some(region)) => CheckVerdict::Barred {
                region_name: region.name().unwrap_or("(unknown region)"),
                region,
                issued_in,
            },
            (
                Verdict::MovedOut {
                    village,
                    village_name,
                    full_name,
                    destination,
                },
                None,
                None,
            ) => CheckVerdict::MovedOut {
                village,
                village_name,
                full_name,
                destination,
                copy_age_ms,
                isolation_days,
            },
            (
                Verdict::NonResident {
                    issued_in,
                    warnings,
                },
                None,
                None,
            ) => CheckVerdict::NonResident {
                issued_in,
                isolation_days,
                warnings,
            },
        }
    }

    /// Stable machine name of the verdict kind (logs, metrics, the crossing log).
    pub fn kind(&self) -> &'static str {
        match self {
            CheckVerdict::Resident { .. } => "resident",
            CheckVerdict::ResidentUnderIsolation { .. } => "resident_under_isolation",
            CheckVerdict::MovedOut { .. } => "moved_out",
            CheckVerdict::Deceased { .. } => "deceased",
            CheckVerdict::NonResident { .. } => "non_resident",
            CheckVerdict::Barred { .. } => "barred",
            CheckVerdict::Invalid { .. } => "invalid",
        }
    }

    /// A verdict the officer must escalate, not just act on.
    pub fn is_alert(&self) -> bool {
        matches!(self, CheckVerdict::Deceased { .. })
    }
}

/// Where a NIK was issued, for a person: `Kabupaten Jember, Jawa Timur (35.09)`.
pub fn origin(issued_in: &IssuedIn) -> String {
    format!(
        "{}, {} ({:02}.{:02})",
        issued_in.regency_name,
        issued_in.province_name,
        issued_in.regency_code / 100,
        issued_in.regency_code % 100
    )
}
