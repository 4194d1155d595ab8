//! A deterministic synthetic population of Banyuwangi, for demos, tests and
//! benchmarks.
//!
//! The real registry cannot leave the village offices, so everything that
//! needs residents (the demo, the multi-node tests, the benchmarks at the
//! regency's real scale of 1.7 million people in 217 villages) draws them
//! from here. The output looks like a village registry: households sharing a
//! family card and an address (dusun, RT, RW), Javanese and Osing names that
//! follow the generations, realistic ages, and NIKs that are valid, agree
//! with the birth date and sex, and are unique across the whole regency.
//! About 5% of NIKs were issued outside Banyuwangi (people who moved in),
//! about 1% in Bali, and Blimbingsari's villages keep the Rogojampi or Kabat
//! district code for people born before the 2011 split: residency comes from
//! the registry, never from the NIK.
//!
//! Everything is a pure function of its arguments: the same seed gives the
//! same population, byte for byte, on every machine.
//!
//! ```
//! use kampung_core::{banyuwangi, Status};
//! use kampung_gen::{regency_sizes, village_residents};
//!
//! let sizes = regency_sizes(1);
//! assert_eq!(sizes.len(), 217);
//! let total: usize = sizes.iter().map(|(_, n)| n).sum();
//! assert!((1_666_000..=1_734_000).contains(&total));
//!
//! // Bomo, a Blimbingsari village that used to belong to Rogojampi.
//! let bomo = "35.10.25.2005".parse().unwrap();
//! let people = village_residents(bomo, 500, 1);
//! assert_eq!(people.len(), 500);
//! for r in &people {
//!     assert!(r.validate(2026).is_ok());
//!     assert_eq!(r.village, bomo);
//! }
//! // The same inputs give the same residents.
//! assert_eq!(people, village_residents(bomo, 500, 1));
//! // Most are active, and households share a family card.
//! assert!(people.iter().filter(|r| r.status == Status::Active).count() > 450);
//! assert!(people.windows(2).any(|w| w[0].family_card == w[1].family_card));
//! assert_eq!(banyuwangi::village(bomo).unwrap().name, "Bomo");
//! ```

mod dates;
mod household;
pub mod names;
mod serial;
mod sizes;
mod village;

pub use dates::{FIRST_BIRTH, LAST_DAY, SPLIT_YEAR, THIS_YEAR};
pub use sizes::{MIN_VILLAGE, REGENCY_POPULATION};
pub use village::village_seed;

use kampung_core::{banyuwangi, Resident, VillageCode};

/// Number of residents of each of the 217 villages for a regency-wide
/// population, in [`banyuwangi::villages`] order.
///
/// Deterministic in `seed`. The sizes sum to about 1.7 million
/// (1,700,000 ± 12,000), about 7,800 per village on average; the largest
/// village (Kedungrejo, Muncar) has 28,000 to 30,000 people, every other
/// village between [`MIN_VILLAGE`] and 26,000; kelurahan (urban wards) tend
/// to be larger than desa.
pub fn regency_sizes(seed: u64) -> Vec<(VillageCode, usize)> {
    sizes::regency_sizes(seed)
}

/// `n` residents of one village, deterministic in `(village, n, seed)`.
///
/// Every NIK parses with [`kampung_core::Nik::parse`] (century pivot
/// [`THIS_YEAR`]) and agrees with the record's sex and birth date, and no
/// two residents of any villages generated with the same seed share a NIK or
/// a family card. Returns an empty list for a code that is not one of the
/// 217 villages.
pub fn village_residents(village: VillageCode, n: usize, seed: u64) -> Vec<Resident> {
    let Some(v) = banyuwangi::village(village) else {
        return Vec::new();
    };
    village::VillageGen::new(v, n, seed).residents(n)
}

/// The whole regency, village by village, with the sizes of
/// [`regency_sizes`]: about 1.7 million residents, generated lazily.
pub fn regency_residents(seed: u64) -> impl Iterator<Item = (VillageCode, Vec<Resident>)> {
    regency_sizes(seed)
        .into_iter()
        .map(move |(code, n)| (code, village_residents(code, n, seed)))
}

// Tests may unwrap: a panic is how they fail.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
