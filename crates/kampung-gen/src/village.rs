//! The residents of one village, household by household.
//!
//! A household is drawn first (who lives together, their birth dates), then
//! every member gets a NIK, a name and a status, and the household a family
//! card and an address inside the village.
//!
//! NIKs and family cards are unique across the regency by construction,
//! although every village is generated on its own: see [`crate::serial`].
//! In the rare case that a village has used every serial of a NIK prefix
//! (place of issue, birth date, sex), the person's birth day moves to the
//! next day of the same year with a free serial.

use std::collections::HashMap;
use std::sync::LazyLock;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use time::Date;

use kampung_core::banyuwangi::{self, Village, VillageKind};
use kampung_core::nik::{self, Nik};
use kampung_core::region::regions;
use kampung_core::{Address, Resident, Sex, Status, VillageCode};

use crate::dates::{
    day_between, from_julian, jan_first, julian, AGE_YEAR, FIRST_CARD, FIRST_DEATH, LAST_DAY,
    SPLIT_YEAR, THIS_YEAR,
};
use crate::household::{Composer, Role};
use crate::names;
use crate::serial::Band;

/// Regency codes to draw from, sorted so that the draw does not depend on
/// the order of a `HashMap`.
struct Pools {
    /// Jawa Timur (35) except Banyuwangi.
    east_java: Vec<u16>,
    /// Outside Jawa Timur and Bali.
    elsewhere: Vec<u16>,
    /// Bali (51).
    bali: Vec<u16>,
    /// Bali regencies people from Banyuwangi mostly come from.
    bali_near: Vec<u16>,
    /// Where people who moved out went: the common destinations first.
    common_destinations: Vec<&'static str>,
    destinations: Vec<&'static str>,
}

static POOLS: LazyLock<Pools> = LazyLock::new(|| {
    let mut codes: Vec<u16> = regions().regency_codes().collect();
    codes.sort_unstable();
    let name = |c: u16| regions().regency(c).map(str::trim);
    Pools {
        east_java: codes
            .iter()
            .copied()
            .filter(|c| c / 100 == 35 && *c != banyuwangi::REGENCY_CODE)
            .collect(),
        elsewhere: codes
            .iter()
            .copied()
            .filter(|c| c / 100 != 35 && c / 100 != 51)
            .collect(),
        bali: codes.iter().copied().filter(|c| c / 100 == 51).collect(),
        bali_near: [5101, 5103, 5171, 5108]
            .into_iter()
            .filter(|c| codes.contains(c))
            .collect(),
        common_destinations: [3578, 5171, 5103, 3509, 3573, 3512, 3511, 3515, 3174, 3175]
            .into_iter()
            .filter_map(name)
            .collect(),
        destinations: codes
            .iter()
            .copied()
            .filter(|c| *c != banyuwangi::REGENCY_CODE)
            .filter_map(name)
            .collect(),
    }
});

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T], fallback: T) -> T {
    if items.is_empty() {
        return fallback;
    }
    items[rng.random_range(0..items.len())]
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The per-village RNG seed: the caller's seed mixed with a hash of the code.
pub fn village_seed(code: VillageCode, seed: u64) -> u64 {
    seed ^ splitmix((u64::from(code.district) << 16) | u64::from(code.village))
}

/// Dusun, RW and RT of a village.
struct Layout {
    dusun: Vec<String>,
    /// Index into `dusun` of each RW (RW `i + 1`).
    rw_dusun: Vec<usize>,
    rt_per_rw: u16,
}

impl Layout {
    fn new(rng: &mut ChaCha8Rng, village: &Village, n: usize) -> Layout {
        let count = (3 + n / 6_000 + rng.random_range(0..=2usize)).min(8);
        let mut chosen: Vec<&'static str> = Vec::with_capacity(count);
        if rng.random_range(0..10u32) < 8 {
            chosen.push("Krajan");
        }
        while chosen.len() < count {
            let d = pick(rng, names::DUSUN, "Krajan");
            if !chosen.contains(&d) {
                chosen.push(d);
            }
        }
        // Kelurahan are divided into lingkungan rather than dusun.
        let dusun = chosen
            .iter()
            .map(|d| match village.kind {
                VillageKind::Kelurahan => format!("Lingkungan {d}"),
                VillageKind::Desa => (*d).to_string(),
            })
            .collect();
        let rws = (count + n / 4_000 + rng.random_range(0..=1usize)).min(10);
        let mut per_dusun = vec![1usize; count];
        for _ in count..rws {
            per_dusun[rng.random_range(0..count)] += 1;
        }
        let rw_dusun = per_dusun
            .iter()
            .enumerate()
            .flat_map(|(d, &k)| std::iter::repeat_n(d, k))
            .collect();
        let rt_per_rw = (n / (rws * 120) + 1).clamp(2, 30) as u16;
        Layout {
            dusun,
            rw_dusun,
            rt_per_rw,
        }
    }

    fn address(&self, rng: &mut ChaCha8Rng) -> Address {
        let rw = rng.random_range(0..self.rw_dusun.len());
        let dusun = self.rw_dusun[rw];
        Address {
            dusun: self.dusun[dusun].clone(),
            rt: rng.random_range(1..=self.rt_per_rw),
            rw: rw as u16 + 1,
        }
    }
}

/// Generator state for one village.
pub struct VillageGen {
    rng: ChaCha8Rng,
    village: &'static Village,
    layout: Layout,
    /// Serials taken per 12-digit NIK prefix (bit `k` for the `k`-th of the band).
    nik_used: HashMap<u64, u64>,
    /// Serials taken per family card issue date (Julian day).
    card_used: HashMap<i32, u64>,
    /// Bands under the village's own district, its pre-split district (for
    /// Blimbingsari) and any regency other than Banyuwangi.
    band_own: Band,
    band_old: Band,
    band_elsewhere: Band,
}

impl VillageGen {
    pub fn new(village: &'static Village, n: usize, seed: u64) -> VillageGen {
        let mut rng = ChaCha8Rng::seed_from_u64(village_seed(village.code, seed));
        let layout = Layout::new(&mut rng, village, n);
        VillageGen {
            rng,
            village,
            layout,
            nik_used: HashMap::with_capacity(n),
            card_used: HashMap::with_capacity(n / 3 + 1),
            band_own: Band::of(village, banyuwangi::REGENCY_CODE, village.code.district),
            band_old: Band::of(
                village,
                banyuwangi::REGENCY_CODE,
                village.old_district.unwrap_or(village.code.district),
            ),
            band_elsewhere: Band::of(village, 0, 0),
        }
    }

    /// `n` residents.
    pub fn residents(mut self, n: usize) -> Vec<Resident> {
        let mut out = Vec::with_capacity(n);
        // Every household adds at least one person in practice; the bound only
        // guarantees termination.
        let mut attempts = 0usize;
        while out.len() < n && attempts < 4 * n + 100 {
            attempts += 1;
            self.household(n - out.len(), &mut out);
        }
        out
    }

    /// The district code in a NIK issued by this village for someone born in
    /// `year`: Blimbingsari's villages issued under Rogojampi or Kabat before the split.
    fn own_district(&self, year: i32) -> u8 {
        match self.village.old_district {
            Some(old) if year < SPLIT_YEAR => old,
            _ => self.village.code.district,
        }
    }

    /// Where a NIK was issued: mostly here; a few percent elsewhere in Java or
    /// Indonesia (people who moved in), about 1% in Bali.
    fn place_of_issue(&mut self, birth: Date) -> (u16, u8) {
        let adult = AGE_YEAR - birth.year() >= 17;
        let (bali, other) = if adult { (130, 520) } else { (35, 140) };
        let roll = self.rng.random_range(0..10_000u32);
        if roll < bali {
            let pools = &*POOLS;
            let regency = if self.rng.random_range(0..10u32) < 7 {
                pick(&mut self.rng, &pools.bali_near, 5101)
            } else {
                pick(&mut self.rng, &pools.bali, 5101)
            };
            (regency, self.rng.random_range(1..=9))
        } else if roll < bali + other {
            let pools = &*POOLS;
            let regency = if self.rng.random_range(0..10u32) < 6 {
                pick(&mut self.rng, &pools.east_java, 3509)
            } else {
                pick(&mut self.rng, &pools.elsewhere, 3578)
            };
            (regency, self.rng.random_range(1..=20))
        } else {
            (banyuwangi::REGENCY_CODE, self.own_district(birth.year()))
        }
    }

    /// The band for numbers issued under `regency` and `district`.
    fn band(&self, regency: u16, district: u8) -> Band {
        if regency != banyuwangi::REGENCY_CODE {
            self.band_elsewhere
        } else if district == self.village.code.district {
            self.band_own
        } else {
            self.band_old
        }
    }

    /// Where to start looking for a free serial: real serials count up from
    /// 0001 per prefix, so start low, but not always at the same place.
    fn serial_start(&mut self, regency: u16) -> u32 {
        let spread = if regency == banyuwangi::REGENCY_CODE {
            8
        } else {
            2
        };
        self.rng.random_range(0..spread)
    }

    /// A NIK for someone of `sex` born on `birth`, unique in the regency (see
    /// [`crate::serial`]). Moves `birth` to another day of the same year if
    /// the village has used every serial of that day.
    fn nik(&mut self, sex: Sex, birth: &mut Date) -> Option<Nik> {
        let (regency, district) = self.place_of_issue(*birth);
        let band = self.band(regency, district);
        let start_k = self.serial_start(regency);
        let year = birth.year();
        let start = jan_first(year);
        let days = i32::from(time::util::days_in_year(year));
        let offset = julian(*birth) - start;
        for shift in 0..days {
            let day = from_julian(start + (offset + shift).rem_euclid(days));
            let day_field = u64::from(day.day()) + if sex == Sex::Female { 40 } else { 0 };
            let prefix = ((u64::from(regency) * 100 + u64::from(district)) * 100 + day_field)
                * 10_000
                + u64::from(u8::from(day.month())) * 100
                + day.year().rem_euclid(100) as u64;
            let used = self.nik_used.entry(prefix).or_insert(0);
            let Some(serial) = band.take(used, start_k) else {
                continue;
            };
            let text = nik::compose(regency, district, day, sex, serial);
            let parsed = Nik::parse(&text, THIS_YEAR).ok()?;
            *birth = day;
            return Some(parsed.nik());
        }
        None
    }

    /// A family card number: `3510DD`, the issue date `DDMMYY` (on or after
    /// the youngest member's birth, from 2008 on) and a serial from the
    /// village's band for that date.
    fn family_card(&mut self, youngest: Date) -> Option<String> {
        let to = julian(LAST_DAY);
        let mut from = julian(youngest.max(FIRST_CARD));
        let start_k = self.serial_start(banyuwangi::REGENCY_CODE);
        let mut first = from + self.rng.random_range(0..(to - from + 1).max(1));
        // Search the days after the youngest birth, then (never needed in
        // practice) any day since the first card.
        for _ in 0..2 {
            let span = (to - from + 1).max(1);
            for shift in 0..span {
                let jd = from + (first - from + shift) % span;
                let issued = from_julian(jd);
                let district = self.own_district(issued.year());
                let band = self.band(banyuwangi::REGENCY_CODE, district);
                let used = self.card_used.entry(jd).or_insert(0);
                if let Some(serial) = band.take(used, start_k) {
                    return Some(format!(
                        "{}{:02}{:02}{:02}{:02}{:04}",
                        banyuwangi::REGENCY_CODE,
                        district,
                        issued.day(),
                        u8::from(issued.month()),
                        issued.year().rem_euclid(100),
                        serial
                    ));
                }
            }
            from = julian(FIRST_CARD);
            first = from;
        }
        // 64 cards a day for 18 years are taken: the village has more than
        // 400,000 households, far beyond any real one.
        None
    }

    fn status(&mut self, birth: Date) -> Status {
        let age = AGE_YEAR - birth.year();
        let moved = if (18..=45).contains(&age) { 190 } else { 40 };
        let died = match age {
            70.. => 600,
            55..70 => 120,
            _ => 15,
        };
        let roll = self.rng.random_range(0..10_000u32);
        if roll < moved {
            let pools = &*POOLS;
            let destination = if self.rng.random_range(0..10u32) < 6 {
                pick(&mut self.rng, &pools.common_destinations, "Kota Surabaya")
            } else {
                pick(&mut self.rng, &pools.destinations, "Kota Surabaya")
            };
            // (no day of moving: drawing one would change every person
            // generated after it for a given seed)
            Status::MovedOut {
                destination: destination.to_string(),
                date: None,
            }
        } else if roll < moved + died {
            let date = day_between(&mut self.rng, birth.max(FIRST_DEATH), LAST_DAY);
            Status::Deceased { date: Some(date) }
        } else {
            Status::Active
        }
    }

    /// One household, at most `room` people, appended to `out`.
    fn household(&mut self, room: usize, out: &mut Vec<Resident>) {
        let mut members = Composer { rng: &mut self.rng }.members();
        members.truncate(room);
        let niks: Vec<Option<Nik>> = members
            .iter_mut()
            .map(|m| {
                let mut birth = m.birth;
                let nik = self.nik(m.sex, &mut birth);
                m.birth = birth;
                nik
            })
            .collect();
        let Some(youngest) = members.iter().map(|m| m.birth).max() else {
            return;
        };
        let Some(card) = self.family_card(youngest) else {
            return;
        };
        let address = self.layout.address(&mut self.rng);
        let family = match members.first() {
            Some(head)
                if head.sex == Sex::Male
                    && head.birth.year() >= 1955
                    && self.rng.random_range(0..100u32) < 30 =>
            {
                Some(names::family_name(&mut self.rng))
            }
            _ => None,
        };
        for (m, nik) in members.iter().zip(niks) {
            let Some(nik) = nik else { continue };
            let carries_family = match m.role {
                Role::Head => true,
                Role::Child => m.sex == Sex::Male,
                Role::Spouse | Role::Elder | Role::Single => false,
            };
            let full_name = names::full_name(
                &mut self.rng,
                m.sex,
                m.birth.year(),
                family.filter(|_| carries_family && m.sex == Sex::Male),
            );
            let status = self.status(m.birth);
            out.push(Resident {
                nik,
                full_name,
                sex: m.sex,
                birth_date: m.birth,
                family_card: card.clone(),
                address: address.clone(),
                village: self.village.code,
                status,
                updated_at_ms: 0,
            });
        }
    }
}
