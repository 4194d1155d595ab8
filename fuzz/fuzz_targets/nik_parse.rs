//! The NIK parser (`kampung_core::Nik::parse`) over any text a person could
//! type or a scanner could read.
//!
//! Properties: no panic; a NIK that parses re-parses from its `to_string()`
//! to the same value (number, birth date, sex, region, warnings); its number
//! round-trips through `as_u64`/`from_u64`; every error and warning displays.
#![no_main]

use kampung_core::Nik;
use libfuzzer_sys::fuzz_target;

const THIS_YEAR: i32 = 2026;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    match Nik::parse(&input, THIS_YEAR) {
        Ok(parsed) => {
            let nik = parsed.nik();
            let text = nik.to_string();
            assert_eq!(text.len(), 16, "{text:?} is not 16 digits");
            let again = Nik::parse(&text, THIS_YEAR).expect("a parsed NIK re-parses");
            assert_eq!(again, parsed);
            assert_eq!(Nik::from_u64(nik.as_u64()), Some(nik));
            for w in parsed.warnings() {
                let _ = w.to_string();
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
