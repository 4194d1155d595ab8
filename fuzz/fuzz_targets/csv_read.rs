//! The clerk's CSV file (`kampung_csv::read`) over arbitrary bytes: any
//! delimiter, BOM, quoting, encoding, number of columns.
//!
//! Properties: no panic; every row that was accepted is exported
//! (`kampung_csv::write`) and imported again as the same resident.
#![no_main]

use libfuzzer_sys::fuzz_target;

const THIS_YEAR: i32 = 2026;

fuzz_target!(|data: &[u8]| {
    let Ok(report) = kampung_csv::read(data, THIS_YEAR) else {
        return;
    };
    for e in &report.errors {
        let _ = e.to_string();
    }
    if report.rows.is_empty() {
        return;
    }
    let residents: Vec<_> = report.rows.iter().map(|r| r.resident.clone()).collect();
    let mut exported = Vec::new();
    kampung_csv::write(&mut exported, &residents).expect("writing to memory succeeds");
    let again = kampung_csv::read(exported.as_slice(), THIS_YEAR).expect("an export reads");
    assert_eq!(again.errors, [], "an export of accepted rows has errors");
    let reread: Vec<_> = again.rows.into_iter().map(|r| r.resident).collect();
    assert_eq!(reread, residents);
});
