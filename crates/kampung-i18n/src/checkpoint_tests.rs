use std::time::Duration;

use time::macros::date;

// The checkpoint verdict, decided by `kampung_core` and read in English as
// the crossing log and the API record it.

use kampung_core::checkpoint::{local_date, CheckVerdict, OpenCase, Place, Pledge};
use kampung_core::nik::{NikError, ParsedNik};
use kampung_core::policy::{Policy, Region};
use kampung_core::resident::StatusKind;
use kampung_core::verdict::RegistryView;
use kampung_core::{Nik, Sex, VillageCode};

use crate::{explain, Lang};

const YEAR: i32 = 2026;
/// Issued in Kabupaten Jembrana, Bali (51.01).
const BALI: &str = "5101015203850007";
/// Issued in Glagah, Banyuwangi (35.10.15).
const LOCAL: &str = "3510155203850001";
/// Issued in Kabupaten Jember (35.09).
const JEMBER: &str = "3509015203850002";
/// Issued in Kabupaten Lumajang (35.08).
const LUMAJANG: &str = "3508015203850003";

fn parse(nik: &str) -> Result<ParsedNik, NikError> {
    Nik::parse(nik, YEAR)
}

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

fn bali_barred() -> Policy {
    Policy {
        version: 3,
        barred: vec![Region::Province(51)],
        isolation_days: 14,
        ..Default::default()
    }
}

fn case(place: Place) -> OpenCase {
    OpenCase {
        case_id: "00c0ffee00c0ffee".to_string(),
        place,
    }
}

#[test]
fn resident_says_which_village_and_how_fresh() {
    let v = CheckVerdict::decide(
        parse(LOCAL),
        Some(view("35.10.15.2012", StatusKind::Active)),
        None,
        &bali_barred(),
        Some(Duration::from_secs(180)),
    );
    match &v {
        CheckVerdict::Resident {
            village_name,
            district_name,
            copy_age_ms,
            warnings,
            ..
        } => {
            assert_eq!(*village_name, "Kampunganyar");
            assert_eq!(*district_name, "Glagah");
            assert_eq!(*copy_age_ms, Some(180_000));
            assert!(warnings.is_empty());
        }
        other => panic!("expected resident, got {other:?}"),
    }
    assert_eq!(v.kind(), "resident");
    assert!(!v.is_alert());
    let line = explain(Lang::En, &v);
    assert!(line.contains("Kampunganyar (35.10.15.2012)"), "{line}");
    assert!(line.contains("is 3 min old"), "{line}");
    // Never heard from the village's node: say so rather than pretend.
    let v = CheckVerdict::decide(
        parse(LOCAL),
        Some(view("35.10.15.2012", StatusKind::Active)),
        None,
        &bali_barred(),
        None,
    );
    assert!(
        explain(Lang::En, &v).contains("never heard"),
        "{}",
        explain(Lang::En, &v)
    );
}

#[test]
fn bali_nik_of_a_registered_resident_is_resident_not_barred() {
    let v = CheckVerdict::decide(
        parse(BALI),
        Some(view("35.10.21.2003", StatusKind::Active)),
        None,
        &bali_barred(),
        Some(Duration::ZERO),
    );
    assert_eq!(v.kind(), "resident", "{v:?}");
    assert!(explain(Lang::En, &v).contains("Ketapang"));
}

#[test]
fn banyuwangi_nik_without_an_active_record_is_not_a_resident() {
    let policy = bali_barred();
    // No record at all: a non-resident, though the NIK was issued in Banyuwangi.
    match CheckVerdict::decide(parse(LOCAL), None, None, &policy, None) {
        CheckVerdict::NonResident {
            issued_in,
            isolation_days,
            ..
        } => {
            assert_eq!(issued_in.regency_code, 3510);
            assert_eq!(isolation_days, 14);
        }
        other => panic!("expected non-resident, got {other:?}"),
    }
    // The record says the holder moved out: moved out, and the policy applies.
    let v = CheckVerdict::decide(
        parse(LOCAL),
        Some(view("35.10.15.2012", StatusKind::MovedOut)),
        None,
        &policy,
        Some(Duration::from_secs(7200)),
    );
    match &v {
        CheckVerdict::MovedOut {
            destination,
            isolation_days,
            copy_age_ms,
            ..
        } => {
            assert_eq!(destination, "Kota Surabaya");
            assert_eq!(*isolation_days, 14);
            assert_eq!(*copy_age_ms, Some(7_200_000));
        }
        other => panic!("expected moved out, got {other:?}"),
    }
    let line = explain(Lang::En, &v);
    assert!(line.starts_with("MOVED OUT"), "{line}");
    assert!(line.contains("isolate 14 days"), "{line}");
}

#[test]
fn non_resident_says_where_issued_and_what_the_policy_requires() {
    let v = CheckVerdict::decide(parse(LUMAJANG), None, None, &bali_barred(), None);
    match &v {
        CheckVerdict::NonResident {
            issued_in,
            isolation_days,
            ..
        } => {
            assert_eq!(issued_in.province_name, "Jawa Timur");
            assert_eq!(issued_in.regency_name, "Kabupaten Lumajang");
            assert_eq!(*isolation_days, 14);
        }
        other => panic!("expected non-resident, got {other:?}"),
    }
    assert_eq!(
        explain(Lang::En, &v),
        "NOT A RESIDENT: not in the Banyuwangi registry; the NIK was issued in Kabupaten Lumajang, Jawa Timur (35.08). Policy: isolate 14 days (GOR, village house or home)."
    );
    let relaxed = Policy {
        isolation_days: 0,
        ..bali_barred()
    };
    let v = CheckVerdict::decide(parse(LUMAJANG), None, None, &relaxed, None);
    assert!(matches!(
        v,
        CheckVerdict::NonResident {
            isolation_days: 0,
            ..
        }
    ));
    assert!(explain(Lang::En, &v).contains("no isolation required"));
}

#[test]
fn bali_nik_of_a_non_resident_is_barred() {
    let policy = bali_barred();
    let v = CheckVerdict::decide(parse(BALI), None, None, &policy, None);
    match &v {
        CheckVerdict::Barred {
            region,
            region_name,
            issued_in,
        } => {
            assert_eq!(*region, Region::Province(51));
            assert_eq!(*region_name, "Bali");
            assert_eq!(issued_in.regency_name, "Kabupaten Jembrana");
        }
        other => panic!("expected barred, got {other:?}"),
    }
    assert!(
        explain(Lang::En, &v).ends_with("Turn back."),
        "{}",
        explain(Lang::En, &v)
    );
    // Someone who moved out is no longer an active resident: barred too.
    let v = CheckVerdict::decide(
        parse(BALI),
        Some(view("35.10.21.2003", StatusKind::MovedOut)),
        None,
        &policy,
        None,
    );
    assert_eq!(v.kind(), "barred");
    // The same NIK without a policy barring Bali is a plain non-resident.
    let v = CheckVerdict::decide(parse(BALI), None, None, &Policy::default(), None);
    assert_eq!(v.kind(), "non_resident");
}

#[test]
fn barred_by_regency_leaves_the_rest_of_the_province_alone() {
    let policy = Policy {
        version: 4,
        barred: vec![Region::Regency(3509)],
        isolation_days: 14,
        ..Default::default()
    };
    let v = CheckVerdict::decide(parse(JEMBER), None, None, &policy, None);
    assert!(
        matches!(
            v,
            CheckVerdict::Barred {
                region: Region::Regency(3509),
                region_name: "Kabupaten Jember",
                ..
            }
        ),
        "{v:?}"
    );
    assert!(explain(Lang::En, &v).contains("Kabupaten Jember (35.09)"));
    // Lumajang is in the same province and is not barred.
    assert_eq!(
        CheckVerdict::decide(parse(LUMAJANG), None, None, &policy, None).kind(),
        "non_resident"
    );
    // A registered resident holding a Jember NIK is a resident.
    let v = CheckVerdict::decide(
        parse(JEMBER),
        Some(view("35.10.15.2012", StatusKind::Active)),
        None,
        &policy,
        None,
    );
    assert_eq!(v.kind(), "resident");
}

#[test]
fn an_open_case_sends_anyone_back_to_its_place() {
    let policy = bali_barred();
    let gor = case(Place::Gor);
    // A non-resident.
    let v = CheckVerdict::decide(parse(LUMAJANG), None, Some(gor.clone()), &policy, None);
    assert_eq!(v.kind(), "resident_under_isolation");
    assert_eq!(
        explain(Lang::En, &v),
        "UNDER ISOLATION: this person has open isolation case 00c0ffee00c0ffee, placed at GOR Tawangalun. Send back there."
    );
    // A resident isolating at home.
    let home = case(Place::Home {
        address: "Dusun Krajan RT 1 RW 2, Kampunganyar".into(),
    });
    let v = CheckVerdict::decide(
        parse(LOCAL),
        Some(view("35.10.15.2012", StatusKind::Active)),
        Some(home),
        &policy,
        None,
    );
    match &v {
        CheckVerdict::ResidentUnderIsolation {
            full_name,
            village,
            place,
            ..
        } => {
            assert_eq!(full_name.as_deref(), Some("Sri Wahyuni"));
            assert_eq!(*village, Some(VillageCode::parse("35.10.15.2012").unwrap()));
            assert_eq!(place.kind(), "home");
        }
        other => panic!("expected under isolation, got {other:?}"),
    }
    assert!(explain(Lang::En, &v).contains("home isolation at Dusun Krajan"));
    // A person from a barred region already in a case: send back, not turn back.
    let v = CheckVerdict::decide(parse(BALI), None, Some(gor), &policy, None);
    assert_eq!(v.kind(), "resident_under_isolation");
}

#[test]
fn deceased_is_an_alert_and_shows_an_open_case() {
    let v = CheckVerdict::decide(
        parse(LOCAL),
        Some(view("35.10.15.2012", StatusKind::Deceased)),
        None,
        &bali_barred(),
        Some(Duration::from_secs(5)),
    );
    assert_eq!(v.kind(), "deceased");
    assert!(v.is_alert());
    assert!(
        explain(Lang::En, &v).starts_with("ALERT, DECEASED"),
        "{}",
        explain(Lang::En, &v)
    );
    let house = case(Place::VillageHouse {
        village: VillageCode::parse("35.10.15.2012").unwrap(),
    });
    let v = CheckVerdict::decide(
        parse(BALI),
        Some(view("35.10.15.2012", StatusKind::Deceased)),
        Some(house.clone()),
        &bali_barred(),
        None,
    );
    assert!(
        matches!(&v, CheckVerdict::Deceased { open_case: Some(c), .. } if *c == house),
        "{v:?}"
    );
    assert!(explain(Lang::En, &v).contains("isolation house of Kampunganyar (35.10.15.2012)"));
}

#[test]
fn invalid_names_the_rule_broken() {
    let v = CheckVerdict::decide(
        parse("3510153203850001"),
        Some(view("35.10.15.2012", StatusKind::Active)),
        Some(case(Place::Gor)),
        &bali_barred(),
        None,
    );
    assert!(
        matches!(
            v,
            CheckVerdict::Invalid {
                error: NikError::BadDay { day: 32 },
                ..
            }
        ),
        "{v:?}"
    );
    assert_eq!(
        explain(Lang::En, &v),
        "INVALID NIK: birth day 32 (digits 7-8) is neither 01-31 (men) nor 41-71 (women, day + 40)."
    );
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["verdict"], "invalid");
    assert_eq!(json["error"]["rule"], "bad_day");
}

#[test]
fn serialises_tagged_and_snake_case() {
    let pledge = Pledge {
        picked_up_by: "Slamet Riyadi".into(),
        relation: "father".into(),
        phone: "081234567890".into(),
    };
    let v = CheckVerdict::decide(
        parse(LUMAJANG),
        None,
        Some(case(Place::FamilyPickup { pledge })),
        &bali_barred(),
        None,
    );
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["verdict"], "resident_under_isolation");
    assert_eq!(json["case_id"], "00c0ffee00c0ffee");
    assert_eq!(json["place"]["kind"], "family_pickup");
    assert_eq!(json["place"]["pledge"]["relation"], "father");
    let place: Place = serde_json::from_value(json["place"].clone()).unwrap();
    assert_eq!(place.kind(), "family_pickup");
    let v = CheckVerdict::decide(parse(BALI), None, None, &bali_barred(), None);
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["verdict"], "barred");
    assert_eq!(json["region"], "51");
    assert_eq!(json["issued_in"]["regency_code"], 5101);
}

#[test]
fn local_date_is_banyuwangi_time() {
    // 2020-04-01 17:00 UTC is midnight of 2 April in Banyuwangi.
    let ms = 1_585_760_400_000;
    assert_eq!(local_date(ms), Some(date!(2020 - 04 - 02)));
    assert_eq!(local_date(ms - 1), Some(date!(2020 - 04 - 01)));
    assert_eq!(local_date(i64::MAX), None);
}
