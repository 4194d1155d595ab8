use std::collections::{BTreeMap, BTreeSet};

use kampung_core::banyuwangi::{self, villages, VillageKind};
use kampung_core::region::regions;
use kampung_core::{Nik, Resident, Sex, Status, VillageCode};

use super::*;
use crate::names;
use crate::serial::Band;

fn code(s: &str) -> VillageCode {
    VillageCode::parse(s).unwrap()
}

fn size_of(sizes: &[(VillageCode, usize)], c: VillageCode) -> usize {
    sizes.iter().find(|(v, _)| *v == c).unwrap().1
}

const BOMO: &str = "35.10.25.2005";
const KEDUNGREJO: &str = "35.10.05.2002";
const KEPATIHAN: &str = "35.10.16.1008";
const GLAGAH: &str = "35.10.15.2012";

fn age(r: &Resident) -> i32 {
    2025 - r.birth_date.year()
}

#[test]
fn every_resident_is_valid_and_its_nik_agrees_with_the_record() {
    for c in [BOMO, KEDUNGREJO, KEPATIHAN, GLAGAH, "35.10.25.2009"] {
        let village = code(c);
        let people = village_residents(village, 4_000, 3);
        assert_eq!(people.len(), 4_000);
        for r in &people {
            let warnings = r
                .validate(2026)
                .unwrap_or_else(|e| panic!("{} in {c}: {e}", r.nik));
            assert!(warnings.is_empty(), "{}: {warnings:?}", r.nik);
            let parsed = Nik::parse(&r.nik.to_string(), 2026).unwrap();
            assert_eq!(parsed.sex(), r.sex, "{}", r.nik);
            assert_eq!(parsed.birth_date(), r.birth_date, "{}", r.nik);
            assert!(
                r.birth_date >= FIRST_BIRTH && r.birth_date <= LAST_DAY,
                "{}",
                r.birth_date
            );
            assert_eq!(r.village, village);
            assert_eq!(r.updated_at_ms, 0);
            let issued = parsed.issued_in();
            let band = Band::of(
                banyuwangi::village(village).unwrap(),
                issued.regency_code,
                issued.district_code,
            );
            assert_eq!(
                (parsed.serial() - 1) % band.modulus,
                band.slot,
                "serial of {} outside the village's class",
                r.nik
            );
        }
    }
}

#[test]
fn the_same_inputs_give_the_same_residents_and_other_seeds_others() {
    let v = code(GLAGAH);
    let a = village_residents(v, 2_000, 11);
    assert_eq!(a, village_residents(v, 2_000, 11));
    let b = village_residents(v, 2_000, 12);
    assert_ne!(a, b);
    let shared = a.iter().zip(&b).filter(|(x, y)| x.nik == y.nik).count();
    assert!(shared < 20, "seeds 11 and 12 share {shared} NIKs in place");
    // Another village with the same seed is another population too.
    let other = village_residents(code(BOMO), 2_000, 11);
    assert!(a.iter().zip(&other).all(|(x, y)| x.nik != y.nik));
    assert_eq!(regency_sizes(5), regency_sizes(5));
    assert_ne!(regency_sizes(5), regency_sizes(6));
}

#[test]
fn unknown_village_gives_no_one() {
    assert!(village_residents(
        VillageCode {
            district: 15,
            village: 2999
        },
        10,
        1
    )
    .is_empty());
    assert!(village_residents(code(GLAGAH), 0, 1).is_empty());
    assert_eq!(village_residents(code(GLAGAH), 1, 1).len(), 1);
}

#[test]
fn regency_sizes_match_banyuwangi() {
    for seed in [0, 1, 2, 42, u64::MAX] {
        let sizes = regency_sizes(seed);
        assert_eq!(sizes.len(), 217);
        let codes: Vec<VillageCode> = sizes.iter().map(|(c, _)| *c).collect();
        let expected: Vec<VillageCode> = villages().iter().map(|v| v.code).collect();
        assert_eq!(codes, expected, "sizes come in village order");
        let total: usize = sizes.iter().map(|(_, n)| n).sum();
        assert!(total.abs_diff(1_700_000) <= 34_000, "total {total}");
        let max = sizes.iter().map(|(_, n)| *n).max().unwrap();
        let min = sizes.iter().map(|(_, n)| *n).min().unwrap();
        assert!((27_000..=31_000).contains(&max), "largest {max}");
        assert!(min >= 300, "smallest {min}");
        assert_eq!(size_of(&sizes, code(KEDUNGREJO)), max);
        let mean = total / 217;
        assert!((7_000..=9_000).contains(&mean), "mean {mean}");

        let median = |kind: VillageKind| {
            let mut v: Vec<usize> = sizes
                .iter()
                .filter(|(c, _)| banyuwangi::village(*c).unwrap().kind == kind)
                .map(|(_, n)| *n)
                .collect();
            v.sort_unstable();
            v[v.len() / 2]
        };
        assert!(
            median(VillageKind::Kelurahan) > median(VillageKind::Desa),
            "seed {seed}: kelurahan {} desa {}",
            median(VillageKind::Kelurahan),
            median(VillageKind::Desa)
        );
    }
}

/// All villages of Rogojampi (13), Kabat (14) and Blimbingsari (25) at their
/// full size, plus the largest village: the Blimbingsari villages issue NIKs
/// under Rogojampi's and Kabat's codes, so this is where a collision between
/// villages would show.
#[test]
fn niks_and_family_cards_are_unique_across_villages_of_shared_districts() {
    let seed = 1;
    let sizes = regency_sizes(seed);
    let chosen: Vec<(VillageCode, usize)> = sizes
        .iter()
        .copied()
        .filter(|(c, _)| matches!(c.district, 13 | 14 | 25) || *c == code(KEDUNGREJO))
        .collect();
    assert!(chosen.len() >= 30);
    let mut niks = Vec::new();
    let mut card_village: BTreeMap<String, VillageCode> = BTreeMap::new();
    for (c, n) in &chosen {
        let people = village_residents(*c, *n, seed);
        assert_eq!(people.len(), *n);
        niks.extend(people.iter().map(|r| r.nik.as_u64()));
        for r in &people {
            assert_eq!(
                &r.family_card[..6],
                format!("3510{:02}", card_district(r)),
                "{}",
                r.family_card
            );
            let owner = card_village.entry(r.family_card.clone()).or_insert(*c);
            assert_eq!(
                owner, c,
                "family card {} issued in two villages",
                r.family_card
            );
        }
    }
    let total = niks.len();
    niks.sort_unstable();
    niks.dedup();
    assert_eq!(niks.len(), total, "duplicate NIKs across villages");
}

/// The district a family card is issued under: the village's, or for
/// Blimbingsari's villages before the split, the old one.
fn card_district(r: &Resident) -> u8 {
    let v = banyuwangi::village(r.village).unwrap();
    let year = 2000 + r.family_card[10..12].parse::<i32>().unwrap();
    match v.old_district {
        Some(old) if year < SPLIT_YEAR => old,
        _ => v.code.district,
    }
}

/// The whole regency: every NIK and every family card unique among 1.7
/// million residents. Villages are generated on all cores; the order of the
/// numbers does not matter since they are sorted.
#[test]
fn niks_are_unique_across_the_whole_regency() {
    let sizes = regency_sizes(1);
    let threads = std::thread::available_parallelism()
        .map_or(4, |n| n.get())
        .min(16);
    let chunks: Vec<&[(VillageCode, usize)]> =
        sizes.chunks(sizes.len().div_ceil(threads)).collect();
    let (mut niks, mut cards): (Vec<u64>, Vec<u64>) = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                s.spawn(move || {
                    let (mut niks, mut cards) = (Vec::new(), Vec::new());
                    for (c, n) in chunk.iter() {
                        let people = village_residents(*c, *n, 1);
                        assert_eq!(people.len(), *n);
                        let mut last_card = "";
                        for r in &people {
                            niks.push(r.nik.as_u64());
                            // Households are contiguous: one card per household.
                            if r.family_card != last_card {
                                cards.push(r.family_card.parse::<u64>().unwrap());
                                last_card = &r.family_card;
                            }
                        }
                    }
                    (niks, cards)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).fold(
            (Vec::new(), Vec::new()),
            |mut acc, (n, c)| {
                acc.0.extend(n);
                acc.1.extend(c);
                acc
            },
        )
    });
    assert_eq!(niks.len(), sizes.iter().map(|(_, n)| n).sum::<usize>());
    assert!(cards.len() > 400_000, "{} households", cards.len());
    for (what, v) in [("NIK", &mut niks), ("family card", &mut cards)] {
        let total = v.len();
        v.sort_unstable();
        v.dedup();
        assert_eq!(v.len(), total, "duplicate {what}s in the regency");
    }
}

#[test]
fn households_share_a_card_and_an_address_and_have_plausible_ages() {
    let village = code(KEDUNGREJO);
    let people = village_residents(village, 20_000, 9);
    let mut households: BTreeMap<&str, Vec<&Resident>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for r in &people {
        if order.last() != Some(&r.family_card.as_str()) {
            order.push(&r.family_card);
        }
        households.entry(&r.family_card).or_default().push(r);
    }
    assert_eq!(
        order.len(),
        households.len(),
        "a household's members are contiguous"
    );
    let mut sizes = [0usize; 8];
    let mut dusun = BTreeSet::new();
    for (card, members) in &households {
        assert!(
            (1..=7).contains(&members.len()),
            "{card}: {} members",
            members.len()
        );
        sizes[members.len()] += 1;
        assert!(card.starts_with("351005"), "{card}");
        let (dd, mm, yy) = (&card[6..8], &card[8..10], &card[10..12]);
        let date = format!("20{yy}-{mm}-{dd}");
        assert!(
            ("2008-01-01"..="2025-12-31").contains(&date.as_str()),
            "{card}"
        );
        let youngest = members.iter().map(|r| r.birth_date).max().unwrap();
        assert!(
            date >= youngest.to_string(),
            "card {card} issued before {youngest}"
        );
        let head = members[0];
        assert!((20..=98).contains(&age(head)), "head aged {}", age(head));
        for m in members.iter() {
            assert_eq!(m.address, head.address);
            assert!((1..=30).contains(&m.address.rt));
            assert!((1..=10).contains(&m.address.rw));
            dusun.insert(m.address.dusun.clone());
        }
        // Every child lives with someone old enough to be a parent.
        for child in members.iter().filter(|m| age(m) < 17) {
            assert!(
                members.iter().any(|p| age(p) - age(child) >= 19),
                "{card}: a child of {} without a parent",
                age(child)
            );
        }
    }
    assert!((3..=8).contains(&dusun.len()), "{dusun:?}");
    let average = people.len() as f64 / households.len() as f64;
    assert!(
        (3.0..=4.2).contains(&average),
        "average household {average}"
    );
    assert!(sizes[1] > 0 && sizes[4] > 0 && sizes[6] > 0, "{sizes:?}");
}

#[test]
fn some_niks_come_from_elsewhere_and_from_bali() {
    let people = village_residents(code(KEDUNGREJO), 29_000, 4);
    let n = people.len() as f64;
    let share = |f: &dyn Fn(&u64) -> bool| {
        people
            .iter()
            .map(|r| r.nik.as_u64())
            .filter(|x| f(x))
            .count() as f64
            / n
    };
    let regency = |nik: &u64| nik / 1_000_000_000_000;
    let own = share(&|x| x / 10_000_000_000 == 351_005);
    let outside = share(&|x| regency(x) != 3510);
    let bali = share(&|x| regency(x) / 100 == 51);
    assert!((0.92..=0.97).contains(&own), "own district {own}");
    assert!(
        (0.03..=0.08).contains(&outside),
        "outside Banyuwangi {outside}"
    );
    assert!((0.005..=0.02).contains(&bali), "Bali {bali}");
    // Every place of issue is a real regency.
    for r in &people {
        assert!(regions().regency(regency(&r.nik.as_u64()) as u16).is_some());
    }
}

#[test]
fn blimbingsari_villages_keep_the_old_district_code_before_the_split() {
    for (c, old) in [(BOMO, 13u64), ("35.10.25.2009", 14)] {
        let people = village_residents(code(c), 5_000, 2);
        let local: Vec<&Resident> = people
            .iter()
            .filter(|r| r.nik.as_u64() / 1_000_000_000_000 == 3510)
            .collect();
        let district = |r: &Resident| r.nik.as_u64() / 10_000_000_000 % 100;
        let (before, after): (Vec<&Resident>, Vec<&Resident>) =
            local.iter().partition(|r| r.birth_date.year() < SPLIT_YEAR);
        assert!(before.len() > 1_000 && after.len() > 300);
        assert!(before.iter().all(|r| district(r) == old), "{c}");
        assert!(after.iter().all(|r| district(r) == 25), "{c}");
    }
}

#[test]
fn statuses_sexes_and_names_look_like_a_village() {
    let people = village_residents(code(KEPATIHAN), 30_000, 8);
    let n = people.len() as f64;
    let moved = people
        .iter()
        .filter(|r| matches!(r.status, Status::MovedOut { .. }))
        .count() as f64
        / n;
    let dead = people
        .iter()
        .filter(|r| matches!(r.status, Status::Deceased { .. }))
        .count() as f64
        / n;
    assert!((0.005..=0.02).contains(&moved), "moved out {moved}");
    assert!((0.002..=0.01).contains(&dead), "deceased {dead}");
    let destinations: BTreeSet<&str> = (regions().regency_codes())
        .filter_map(|c| regions().regency(c))
        .map(str::trim)
        .collect();
    for r in &people {
        match &r.status {
            Status::MovedOut { destination, .. } => assert!(
                destination.as_str() != "Kabupaten Banyuwangi"
                    && destinations.contains(destination.as_str()),
                "{destination}"
            ),
            Status::Deceased { date } => {
                let date = date.unwrap();
                assert!(
                    date >= r.birth_date && date <= LAST_DAY,
                    "died {date}, born {}",
                    r.birth_date
                );
            }
            Status::Active => {}
        }
    }
    let women = people.iter().filter(|r| r.sex == Sex::Female).count() as f64 / n;
    assert!((0.46..=0.54).contains(&women), "women {women}");
    let female_words: BTreeSet<&str> = [
        names::FEMALE_TRADITIONAL,
        names::FEMALE_OSING,
        names::FEMALE_MODERN,
        names::FEMALE_MUSLIM,
        names::FEMALE_SECOND,
        &["Siti", "Sri", "Dwi", "Tri"],
    ]
    .concat()
    .into_iter()
    .collect();
    let male_words: BTreeSet<&str> = [
        names::MALE_TRADITIONAL,
        names::MALE_OSING,
        names::MALE_MODERN,
        names::MALE_MUSLIM,
        names::MALE_SECOND,
        &["Muhammad", "Moh.", "Ahmad", "Achmad"],
    ]
    .concat()
    .into_iter()
    .collect();
    let mut distinct = BTreeSet::new();
    for r in &people {
        let words: Vec<&str> = r.full_name.split(' ').collect();
        assert!((1..=3).contains(&words.len()), "{}", r.full_name);
        let wrong = if r.sex == Sex::Male {
            &female_words
        } else {
            &male_words
        };
        assert!(
            !words.iter().any(|w| wrong.contains(w)),
            "{} is {:?}",
            r.full_name,
            r.sex
        );
        distinct.insert(r.full_name.as_str());
    }
    assert!(
        distinct.len() > 2_000,
        "only {} distinct names",
        distinct.len()
    );
    assert!(
        people
            .iter()
            .all(|r| r.address.dusun.starts_with("Lingkungan ")),
        "a kelurahan has lingkungan"
    );
}
