//! All 38 provinces and 514 regencies/cities of Indonesia, for decoding where a
//! NIK was issued. The table is `data/indonesia_regions.csv`, embedded at build time.
//!
//! A NIK keeps the code it was issued under for life, also after its region
//! was split: the codes of 2019 (`data/indonesia_regencies_permendagri72_2019.csv`,
//! Permendagri 72/2019) that no longer exist (Papua's and Papua Barat's
//! regencies renumbered in the 2022 split) decode too, to the place then and
//! what it is now.

use std::collections::HashMap;
use std::sync::LazyLock;

const REGIONS_CSV: &str = include_str!("../data/indonesia_regions.csv");
const REGENCIES_2019_CSV: &str = include_str!("../data/indonesia_regencies_permendagri72_2019.csv");

/// Province code (`PP`) and regency code (`PPKK` as one number, e.g. 3510).
#[derive(Debug)]
pub struct Regions {
    provinces: HashMap<u8, &'static str>,
    regencies: HashMap<u16, &'static str>,
    /// Codes of 2019 that no longer exist: where a NIK was issued then and
    /// what that place is now ("Kabupaten Merauke (91.01 until 2022; now
    /// 93.01, Papua Selatan)").
    former: HashMap<u16, String>,
}

static REGIONS: LazyLock<Regions> = LazyLock::new(|| {
    let mut r = Regions::parse(REGIONS_CSV);
    r.former = r.former_codes(REGENCIES_2019_CSV);
    r
});

/// The embedded table.
pub fn regions() -> &'static Regions {
    &REGIONS
}

impl Regions {
    fn parse(csv: &'static str) -> Self {
        let mut provinces = HashMap::new();
        let mut regencies = HashMap::new();
        for line in csv.lines().skip(1) {
            let Some((code, name)) = line.split_once(',') else {
                continue;
            };
            match code.split_once('.') {
                None => {
                    if let Ok(p) = code.parse::<u8>() {
                        provinces.insert(p, name);
                    }
                }
                Some((p, k)) => {
                    if let (Ok(p), Ok(k)) = (p.parse::<u16>(), k.parse::<u16>()) {
                        regencies.insert(p * 100 + k, name);
                    }
                }
            }
        }
        Regions {
            provinces,
            regencies,
            former: HashMap::new(),
        }
    }

    /// The 2019 codes (`"91.01","Merauke","Kabupaten"`) missing from today's
    /// table, each named with the regency of the same name today.
    fn former_codes(&self, csv_2019: &str) -> HashMap<u16, String> {
        let mut former = HashMap::new();
        for line in csv_2019.lines().skip(1) {
            let fields: Vec<&str> = line.split(',').map(|f| f.trim_matches('"')).collect();
            let [code, name, kind] = fields.as_slice() else {
                continue;
            };
            let Some(old) = four(code) else { continue };
            if self.regencies.contains_key(&old) {
                continue;
            }
            let then = format!("{kind} {name}");
            let now = self
                .regencies
                .iter()
                .filter(|(_, n)| n.eq_ignore_ascii_case(&then))
                .map(|(c, _)| *c)
                .min();
            let text = match now {
                Some(new) => format!(
                    "{then} ({code} until 2022; now {:02}.{:02}, {})",
                    new / 100,
                    new % 100,
                    self.province((new / 100) as u8).unwrap_or("?")
                ),
                None => format!("{then} ({code}, a code no longer in use)"),
            };
            former.insert(old, text);
        }
        former
    }

    /// Name of a province (`51` -> "Bali").
    pub fn province(&self, code: u8) -> Option<&'static str> {
        self.provinces.get(&code).copied()
    }

    /// Name of a regency or city by its four-digit code (`3510` -> "Kabupaten
    /// Banyuwangi"); a code no longer in use names the place then and now
    /// (`9101` -> "Kabupaten Merauke (91.01 until 2022; now 93.01, Papua Selatan)").
    pub fn regency(&'static self, code: u16) -> Option<&'static str> {
        self.regencies
            .get(&code)
            .copied()
            .or_else(|| self.former.get(&code).map(String::as_str))
    }

    /// Codes a NIK may carry that are no longer in use (issued before a split).
    pub fn former_count(&self) -> usize {
        self.former.len()
    }

    pub fn province_count(&self) -> usize {
        self.provinces.len()
    }

    pub fn regency_count(&self) -> usize {
        self.regencies.len()
    }

    /// All regency codes (`PPKK`), for generators and tests.
    pub fn regency_codes(&self) -> impl Iterator<Item = u16> + '_ {
        self.regencies.keys().copied()
    }
}

/// `"91.01"` as 9101.
fn four(code: &str) -> Option<u16> {
    let (p, k) = code.split_once('.')?;
    Some(p.parse::<u16>().ok()? * 100 + k.parse::<u16>().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_is_complete() {
        let r = regions();
        assert_eq!(r.province_count(), 38);
        assert_eq!(r.regency_count(), 514);
        assert_eq!(r.province(35), Some("Jawa Timur"));
        assert_eq!(r.province(51), Some("Bali"));
        assert_eq!(r.regency(3510), Some("Kabupaten Banyuwangi"));
        assert_eq!(r.regency(5101), Some("Kabupaten Jembrana"));
        assert_eq!(r.province(99), None);
    }

    /// KTPs issued in Papua before the 2022 split carry codes that no longer
    /// exist: they decode to the place then and what it is now.
    #[test]
    fn codes_before_the_papua_split_decode_to_then_and_now() {
        let r = regions();
        assert_eq!(r.former_count(), 26);
        assert_eq!(
            r.regency(9101),
            Some("Kabupaten Merauke (91.01 until 2022; now 93.01, Papua Selatan)")
        );
        assert_eq!(
            r.regency(9271),
            Some("Kota Sorong (92.71 until 2022; now 96.71, Papua Barat Daya)")
        );
        // Still in use: the current name, unchanged.
        assert_eq!(r.regency(9103), Some("Kabupaten Jayapura"));
        assert_eq!(r.regency(9129), None);
    }
}
