//! Javanese and Osing names, and how a name is put together.
//!
//! Naming in Banyuwangi follows the generations: people born before the
//! 1960s mostly carry one Javanese or Osing name (Slamet, Sumiati, Sanusi,
//! Juwariyah), often with a Muslim first word (Moh. Sanusi, Siti Aminah);
//! younger people mostly carry two or three words, with birth-order words
//! (Eko, Dwi, Tri) and suffixes that work like a family name (Santoso,
//! Lestari). The lists are `&'static` so a name costs one `String`.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use kampung_core::Sex;

/// Older Javanese male names.
#[rustfmt::skip]
pub const MALE_TRADITIONAL: &[&str] = &[
    "Slamet", "Suparman", "Sugeng", "Sutrisno", "Mulyono", "Paiman", "Sukardi", "Sumardi",
    "Bambang", "Joko", "Hadi", "Teguh", "Supriyadi", "Sunarto", "Suwarno", "Sukirman", "Kasiman",
    "Parto", "Rasimin", "Marsudi", "Paijo", "Ngadimin", "Karsono", "Sudarmo", "Tumiran", "Ponidi",
    "Wagiman", "Kusnadi", "Sutikno", "Darmaji", "Marwoto", "Basuki", "Sugito", "Tukimin", "Haryono",
    "Sarji", "Suyitno", "Sumarno", "Legiman", "Katimin",
];

/// Male names with an Osing (Banyuwangi) flavour.
pub const MALE_OSING: &[&str] = &[
    "Sanusi", "Misnadi", "Sahuri", "Busaini", "Hasnan", "Juhari", "Aspari", "Misrawi", "Sahlan",
    "Ruslan", "Samsul", "Sukri", "Mustajab", "Saleh", "Hamim",
];

/// Male names given since the 1970s.
pub const MALE_MODERN: &[&str] = &[
    "Agus", "Eko", "Wahyu", "Budi", "Hendra", "Arif", "Rudi", "Andi", "Dedi", "Heri", "Imam",
    "Fajar", "Rizki", "Dimas", "Yoga", "Bayu", "Aditya", "Rendi", "Fahmi", "Ilham", "Reza",
    "Rangga", "Galih", "Danang", "Yudi", "Anton", "Taufik", "Irfan", "Farhan", "Alif", "Naufal",
    "Zidan", "Arya", "Satria", "Bima", "Raka", "Dafa", "Gilang", "Bagus", "Angga",
];

/// Muslim male names, of every generation.
pub const MALE_MUSLIM: &[&str] = &[
    "Imron", "Kholil", "Mahfud", "Zainal", "Abdullah", "Hasan", "Ali", "Yusuf", "Syaiful",
    "Ridwan", "Lukman", "Hamzah",
];

/// First words that precede a male name (Muhammad Rizki, Moh. Sanusi).
pub const MALE_PREFIX: &[&str] = &["Muhammad", "Moh.", "Ahmad", "Achmad", "Nur"];

/// Older Javanese female names.
#[rustfmt::skip]
pub const FEMALE_TRADITIONAL: &[&str] = &[
    "Endang", "Sulastri", "Tutik", "Sumiati", "Ninik", "Sumarni", "Tukiyem", "Painem", "Sukarti",
    "Suminah", "Wagiyem", "Juminten", "Paini", "Kasmini", "Sutinah", "Rukmini", "Ngatini", "Satemi",
    "Tumini", "Sriatun", "Partini", "Marsini", "Katini", "Suwarni", "Poniyem", "Sumirah", "Rusmini",
    "Kastini", "Suprihatin", "Kartini", "Murtini", "Legiyem", "Sutini", "Waginah", "Sainem",
];

/// Female names with an Osing (Banyuwangi) flavour.
#[rustfmt::skip]
pub const FEMALE_OSING: &[&str] = &[
    "Supiyah", "Juwariyah", "Musiyah", "Sunariyah", "Misnah", "Sulikah", "Muntamah", "Asmirah",
    "Sahriyah", "Mistiyah", "Hasanah", "Rohimah",
];

/// Female names given since the 1970s.
#[rustfmt::skip]
pub const FEMALE_MODERN: &[&str] = &[
    "Wahyuni", "Ratna", "Lestari", "Yuli", "Dewi", "Indah", "Rina", "Novi", "Fitri", "Ayu", "Putri",
    "Nabila", "Anisa", "Dinda", "Intan", "Rahma", "Erna", "Yuni", "Wulan", "Diah", "Retno", "Evi",
    "Anik", "Yeni", "Santi", "Vina", "Aulia", "Salsabila", "Zahra", "Nadia", "Alya", "Keysha",
    "Citra", "Mega", "Nanda", "Della",
];

/// Muslim female names, of every generation.
#[rustfmt::skip]
pub const FEMALE_MUSLIM: &[&str] = &[
    "Fatimah", "Aminah", "Khotimah", "Aisyah", "Zainab", "Maimunah", "Rofiah", "Halimah",
    "Mutmainah", "Nurul", "Khusnul", "Umi",
];

/// First words that precede a female name (Siti Fatimah, Sri Wahyuni, Dwi Lestari).
pub const FEMALE_PREFIX: &[&str] = &["Siti", "Sri", "Nur", "Dwi", "Tri"];

/// Second names of men; a father may pass his to his sons like a family name.
#[rustfmt::skip]
pub const MALE_SECOND: &[&str] = &[
    "Santoso", "Wibowo", "Setiawan", "Susanto", "Purnomo", "Hidayat", "Prasetyo", "Saputra",
    "Nugroho", "Kurniawan", "Pratama", "Firmansyah", "Hermawan", "Gunawan", "Wijaya", "Hariyanto",
    "Wahyudi", "Suryadi", "Siswanto", "Effendi", "Ramadhan", "Maulana", "Hakim", "Rohman", "Fauzi",
    "Mustofa", "Anwar", "Sholeh", "Basori", "Hidayatullah",
];

/// Second names of women.
#[rustfmt::skip]
pub const FEMALE_SECOND: &[&str] = &[
    "Rahayu", "Ningsih", "Wati", "Handayani", "Susanti", "Puspitasari", "Anggraini", "Wulandari",
    "Rahmawati", "Utami", "Safitri", "Kurniasari", "Purwanti", "Yuliana", "Fitriani", "Hidayah",
    "Khasanah", "Maghfiroh", "Rohmah", "Nuraini", "Setyowati", "Sulistyowati", "Mardiyah",
    "Rahmadani", "Oktaviani", "Permatasari", "Ramadhani", "Azzahra", "Lestari", "Yuliani",
];

fn pick(rng: &mut ChaCha8Rng, list: &'static [&'static str]) -> &'static str {
    list[rng.random_range(0..list.len())]
}

/// A second name for a man, to be shared by his sons.
pub fn family_name(rng: &mut ChaCha8Rng) -> &'static str {
    pick(rng, MALE_SECOND)
}

/// A full name of one to three words for a person born in `birth_year`.
/// `family`, when given, becomes the last word (a father's second name
/// carried by his sons).
pub fn full_name(
    rng: &mut ChaCha8Rng,
    sex: Sex,
    birth_year: i32,
    family: Option<&'static str>,
) -> String {
    // Generation: 0 born before 1965, 1 before 1990, 2 since.
    let generation = match birth_year {
        ..1965 => 0usize,
        1965..1990 => 1,
        _ => 2,
    };
    let (traditional, osing, modern, muslim, prefixes, seconds) = match sex {
        Sex::Male => (
            MALE_TRADITIONAL,
            MALE_OSING,
            MALE_MODERN,
            MALE_MUSLIM,
            MALE_PREFIX,
            MALE_SECOND,
        ),
        Sex::Female => (
            FEMALE_TRADITIONAL,
            FEMALE_OSING,
            FEMALE_MODERN,
            FEMALE_MUSLIM,
            FEMALE_PREFIX,
            FEMALE_SECOND,
        ),
    };
    // Percent weights of (traditional, osing, modern), the rest Muslim names.
    let weights: [u32; 3] = [[62, 22, 6], [28, 14, 46], [6, 6, 74]][generation];
    let roll = rng.random_range(0..100u32);
    let first = if roll < weights[0] {
        pick(rng, traditional)
    } else if roll < weights[0] + weights[1] {
        pick(rng, osing)
    } else if roll < weights[0] + weights[1] + weights[2] {
        pick(rng, modern)
    } else {
        pick(rng, muslim)
    };
    // Percent of one-word and two-word names; the rest have three words.
    let [one, two] = [[70, 28], [35, 55], [12, 58]][generation];
    let roll = rng.random_range(0..100u32);
    let words = if roll < one {
        1
    } else if roll < one + two {
        2
    } else {
        3
    };
    let words = if family.is_some() {
        words.max(2)
    } else {
        words
    };
    let mut name = String::with_capacity(32);
    let with_prefix =
        words == 3 || (words == 2 && family.is_none() && rng.random_range(0..100u32) < 30);
    if with_prefix {
        // Birth-order prefixes (Dwi, Tri) belong to the younger generations.
        let prefix = loop {
            let p = pick(rng, prefixes);
            if generation == 0 && matches!(p, "Dwi" | "Tri") {
                continue;
            }
            break p;
        };
        if prefix != first {
            name.push_str(prefix);
            name.push(' ');
        }
    }
    name.push_str(first);
    let needs_last = match words {
        1 => false,
        2 => !with_prefix,
        _ => true,
    };
    if needs_last {
        let last = match family {
            Some(f) => f,
            None => loop {
                let s = pick(rng, seconds);
                if s != first {
                    break s;
                }
            },
        };
        name.push(' ');
        name.push_str(last);
    }
    name
}

/// Javanese hamlet (dusun) names; `Krajan` is the old centre of most villages.
#[rustfmt::skip]
pub const DUSUN: &[&str] = &[
    "Krajan", "Sumberagung", "Kebonrejo", "Sukorejo", "Tegalrejo", "Kedungrejo", "Karanganyar",
    "Sidomulyo", "Sumbersari", "Sidorejo", "Karangrejo", "Sumberwaru", "Purwodadi", "Wonorejo",
    "Rejosari", "Kaliputih", "Tambakrejo", "Sumberbaru", "Kalibendo", "Gumuk", "Kampunganyar",
    "Cungking", "Papring", "Sukosari", "Darungan", "Kopen", "Tegalsari", "Sumberwangi",
    "Kampungbaru", "Kebondalem", "Sukomaju", "Pancoran", "Rowosari", "Wringinanom", "Karangsari",
    "Sawahan", "Ngadirejo", "Margomulyo", "Sidodadi", "Kepundungan", "Krajan Kidul", "Krajan Lor",
    "Gumukrejo", "Sumberejo",
];

// Tests may unwrap: a panic is how they fail.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn lists_are_large_and_free_of_duplicates() {
        let male: Vec<&str> = [MALE_TRADITIONAL, MALE_OSING, MALE_MODERN, MALE_MUSLIM].concat();
        let female: Vec<&str> = [
            FEMALE_TRADITIONAL,
            FEMALE_OSING,
            FEMALE_MODERN,
            FEMALE_MUSLIM,
        ]
        .concat();
        assert!(male.len() >= 60 && female.len() >= 60);
        for list in [
            &male,
            &female,
            &MALE_SECOND.to_vec(),
            &FEMALE_SECOND.to_vec(),
            &DUSUN.to_vec(),
        ] {
            let mut sorted = list.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), list.len(), "duplicate entry in a list");
        }
        let both: Vec<&&str> = male.iter().filter(|n| female.contains(n)).collect();
        assert!(
            both.is_empty(),
            "in both the male and the female list: {both:?}"
        );
    }

    #[test]
    fn names_have_one_to_three_words_and_follow_the_family() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut counts = [0usize; 4];
        for i in 0..5_000 {
            let sex = if i % 2 == 0 { Sex::Male } else { Sex::Female };
            let year = 1930 + (i % 95);
            let name = full_name(&mut rng, sex, year, None);
            let words = name.split(' ').count();
            assert!((1..=3).contains(&words), "{name}");
            counts[words] += 1;
            let with_family = full_name(&mut rng, Sex::Male, year, Some("Santoso"));
            assert!(with_family.ends_with(" Santoso"), "{with_family}");
            assert!(with_family.split(' ').count() <= 3, "{with_family}");
        }
        assert!(
            counts[1] > 500 && counts[2] > 500 && counts[3] > 200,
            "{counts:?}"
        );
    }
}
