use proptest::prelude::*;
use time::macros::date;
use time::{Date, Month};

use super::*;
use crate::region::regions;

const YEAR: i32 = 2026;

fn err(s: &str) -> NikError {
    Nik::parse(s, YEAR).unwrap_err()
}

#[test]
fn decodes_a_real_shape() {
    let p = Nik::parse("35 10 15 52 03 85 0001", YEAR).unwrap();
    assert_eq!(p.nik().to_string(), "3510155203850001");
    assert_eq!(p.sex(), Sex::Female);
    assert_eq!(p.birth_date(), date!(1985 - 03 - 12));
    assert_eq!(p.serial(), 1);
    assert_eq!(p.issued_in().province_name, "Jawa Timur");
    assert_eq!(p.issued_in().district_name, Some("Glagah"));
    // dots and dashes are ignored too
    assert_eq!(
        Nik::parse("3510.15-520385.0001", YEAR).unwrap().nik(),
        p.nik()
    );
    // every white space alike: a tab, a line break, a no-break space
    // pasted from a spreadsheet
    assert_eq!(
        Nik::parse("3510\t155203\u{a0}85\n0001\r", YEAR)
            .unwrap()
            .nik(),
        p.nik()
    );
    // nothing but separators is an empty NIK; other marks are not digits
    assert_eq!(err(" \t.-"), NikError::Empty);
    assert!(matches!(
        err("351015/5203850001"),
        NikError::NotADigit {
            ch: '/',
            position: 7
        }
    ));
}

#[test]
fn each_rule_is_named() {
    assert_eq!(err(""), NikError::Empty);
    assert_eq!(err("  "), NikError::Empty);
    assert_eq!(err("351015520385001"), NikError::Length { found: 15 });
    assert_eq!(err("35101552038500011"), NikError::Length { found: 17 });
    assert_eq!(
        err("35101552O3850001"),
        NikError::NotADigit {
            ch: 'O',
            position: 9
        }
    );
    assert_eq!(
        err("9910155203850001"),
        NikError::UnknownProvince { code: 99 }
    );
    assert_eq!(
        err("3500155203850001"),
        NikError::RegencyOutOfRange { code: 0 }
    );
    assert_eq!(
        err("3570155203850001"),
        NikError::RegencyOutOfRange { code: 70 }
    );
    assert!(matches!(
        err("3540155203850001"),
        NikError::UnknownRegency {
            province: 35,
            regency: 40,
            ..
        }
    ));
    assert_eq!(err("3510153203850001"), NikError::BadDay { day: 32 });
    assert_eq!(err("3510150003850001"), NikError::BadDay { day: 0 });
    assert_eq!(err("3510157203850001"), NikError::BadDay { day: 72 });
    assert_eq!(err("3510151213850001"), NikError::BadMonth { month: 13 });
    assert_eq!(err("3510151200850001"), NikError::BadMonth { month: 0 });
    assert_eq!(
        err("3510153104850001"),
        NikError::ImpossibleDate {
            day: 31,
            month: 4,
            year: 1985
        }
    );
    assert_eq!(err("3510155203850000"), NikError::SerialZero);
}

#[test]
fn leap_day_depends_on_the_century_chosen() {
    // 29 Feb 1996 and 2000 exist; 29 Feb 1985 does not; women add 40.
    assert!(Nik::parse("3510152902960001", YEAR).is_ok());
    assert!(Nik::parse("3510156902000001", YEAR).is_ok());
    assert_eq!(
        err("3510152902850001"),
        NikError::ImpossibleDate {
            day: 29,
            month: 2,
            year: 1985
        }
    );
    // '00' is 2000 today (leap), but 1900 (not leap) for a parser living in 1999.
    assert!(matches!(
        Nik::parse("3510152902000001", 1999),
        Err(NikError::ImpossibleDate { year: 1900, .. })
    ));
    assert_eq!(full_year(26, 2026), 2026);
    assert_eq!(full_year(27, 2026), 1927);
}

#[test]
fn unknown_district_is_a_warning_not_an_error() {
    let p = Nik::parse("3510995203850001", YEAR).unwrap();
    assert_eq!(
        p.warnings(),
        &[NikWarning::UnknownDistrict {
            regency: 3510,
            district: 99
        }]
    );
    // Blimbingsari villages carry their old Rogojampi (13) code: a known district, no warning.
    assert!(Nik::parse("3510135203850001", YEAR)
        .unwrap()
        .warnings()
        .is_empty());
    // Outside Banyuwangi districts are not known: no warning either way.
    assert!(Nik::parse("5101995203850001", YEAR)
        .unwrap()
        .warnings()
        .is_empty());
}

#[test]
fn registry_disagreement_is_reported_separately() {
    let p = Nik::parse("3510155203850001", YEAR).unwrap();
    assert!(p
        .check_against(date!(1985 - 03 - 12), Sex::Female)
        .is_empty());
    let w = p.check_against(date!(1985 - 03 - 13), Sex::Male);
    assert_eq!(w.len(), 2);
}

fn regency_strategy() -> impl Strategy<Value = u16> {
    let mut codes: Vec<u16> = regions().regency_codes().collect();
    codes.sort_unstable();
    proptest::sample::select(codes)
}

fn date_strategy() -> impl Strategy<Value = Date> {
    // 1927..=2026 is the century window that parses back unambiguously in 2026.
    (1927i32..=2026, 1u8..=12, 1u8..=31).prop_filter_map("date exists", |(y, m, d)| {
        Date::from_calendar_date(y, Month::try_from(m).ok()?, d).ok()
    })
}

fn sex_strategy() -> impl Strategy<Value = Sex> {
    prop_oneof![Just(Sex::Male), Just(Sex::Female)]
}

/// A rule-by-rule reference of which rule a 16-digit string breaks first,
/// written as plainly as possible to check the parser against.
fn first_broken_rule(s: &str) -> Option<&'static str> {
    let n = |a: usize, b: usize| s[a..b].parse::<u32>().unwrap();
    let (pp, kk, dd, mm, yy, ss) = (n(0, 2), n(2, 4), n(6, 8), n(8, 10), n(10, 12), n(12, 16));
    if regions().province(pp as u8).is_none() {
        return Some("province");
    }
    if kk == 0 || kk == 70 {
        return Some("regency_range");
    }
    if regions().regency((pp * 100 + kk) as u16).is_none() {
        return Some("regency");
    }
    let day = match dd {
        1..=31 => dd,
        41..=71 => dd - 40,
        _ => return Some("day"),
    };
    if !(1..=12).contains(&mm) {
        return Some("month");
    }
    let year = if 2000 + yy as i32 <= YEAR {
        2000 + yy as i32
    } else {
        1900 + yy as i32
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if day > days_in_month[mm as usize - 1] {
        return Some("date");
    }
    if ss == 0 {
        return Some("serial");
    }
    None
}

fn rule_of(e: &NikError) -> &'static str {
    match e {
        NikError::UnknownProvince { .. } => "province",
        NikError::RegencyOutOfRange { .. } => "regency_range",
        NikError::UnknownRegency { .. } => "regency",
        NikError::BadDay { .. } => "day",
        NikError::BadMonth { .. } => "month",
        NikError::ImpossibleDate { .. } => "date",
        NikError::SerialZero => "serial",
        NikError::Empty | NikError::NotADigit { .. } | NikError::Length { .. } => "shape",
    }
}

proptest! {
    #[test]
    fn every_valid_nik_parses_back_to_its_parts(
        regency in regency_strategy(),
        district in 1u8..=99,
        birth in date_strategy(),
        sex in sex_strategy(),
        serial in 1u16..=9999,
    ) {
        let s = compose(regency, district, birth, sex, serial);
        let p = Nik::parse(&s, YEAR).unwrap();
        prop_assert_eq!(p.nik().to_string(), s);
        prop_assert_eq!(p.issued_in().regency_code, regency);
        prop_assert_eq!(p.issued_in().province_code as u16, regency / 100);
        prop_assert_eq!(p.issued_in().district_code, district);
        prop_assert_eq!(p.birth_date(), birth);
        prop_assert_eq!(p.sex(), sex);
        prop_assert_eq!(p.serial(), serial);
        prop_assert_eq!(Nik::from_u64(p.nik().as_u64()), Some(p.nik()));
    }

    #[test]
    fn every_single_digit_corruption_is_judged_by_the_rule_it_breaks(
        regency in regency_strategy(),
        district in 1u8..=99,
        birth in date_strategy(),
        sex in sex_strategy(),
        serial in 1u16..=9999,
        position in 0usize..16,
        digit in 0u8..10,
    ) {
        let mut bytes = compose(regency, district, birth, sex, serial).into_bytes();
        prop_assume!(bytes[position] != b'0' + digit);
        bytes[position] = b'0' + digit;
        let s = String::from_utf8(bytes).unwrap();
        match (first_broken_rule(&s), Nik::parse(&s, YEAR)) {
            (None, Ok(p)) => prop_assert_eq!(p.nik().to_string(), s),
            (Some(rule), Err(e)) => prop_assert_eq!(rule, rule_of(&e), "{} -> {}", s, e),
            (expected, got) => prop_assert!(false, "{}: model says {:?}, parser says {:?}", s, expected, got),
        }
    }

    #[test]
    fn parser_never_panics_on_any_text(s in "\\PC{0,40}") {
        let _ = Nik::parse(&s, YEAR);
    }
}

/// KTPs issued in Papua before the 2022 split (91.01 Merauke, 92.71 Kota
/// Sorong) are still carried: valid, decoded to where they were issued.
#[test]
fn niks_issued_under_codes_retired_in_2022_are_valid() {
    let p = Nik::parse("9101014203900001", YEAR).unwrap();
    assert_eq!(p.issued_in().province_name, "Papua");
    assert!(
        p.issued_in().regency_name.contains("Merauke")
            && p.issued_in().regency_name.contains("now 93.01"),
        "{}",
        p.issued_in().regency_name
    );
    let sorong = Nik::parse("9271011203900002", YEAR).unwrap();
    assert!(sorong.issued_in().regency_name.starts_with("Kota Sorong"));
    // A code that never existed stays invalid.
    assert!(matches!(
        err("9129011203900002"),
        NikError::UnknownRegency { .. }
    ));
}
