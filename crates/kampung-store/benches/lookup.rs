//! The lookup hot path: a checkpoint's verdict from the derived index, for a
//! resident, a non-resident and an invalid NIK, and the NIK parse alone.
//!
//! One village of 8,000 in memory, so the index is cache-warm: these are the
//! best-case figures. `kampung-bench open` times single lookups against the
//! whole regency's index (1.7 M NIKs, cache misses included).
//!
//! Run with `cargo bench -p kampung-store --bench lookup`.

// Setup failing is how a benchmark fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use kampung_core::{Nik, Status, VillageCode};
use kampung_store::storage::MemoryStorage;
use kampung_store::Registry;

const THIS_YEAR: i32 = kampung_gen::THIS_YEAR;

fn lookup(c: &mut Criterion) {
    let village = VillageCode::parse("35.10.15.2012").unwrap();
    let people = kampung_gen::village_residents(village, 8_000, 1);
    let mut reg = Registry::open(
        MemoryStorage::new(),
        automerge::ActorId::from(vec![1u8; 32]),
        THIS_YEAR,
    )
    .unwrap();
    reg.write(village, &people, 0, &mut |_| {}).unwrap();

    let resident = people
        .iter()
        .find(|r| r.status == Status::Active)
        .expect("an active resident")
        .nik
        .to_string();
    assert_eq!(reg.lookup(&resident).kind(), "resident");
    let all: Vec<String> = people.iter().map(|r| r.nik.to_string()).collect();
    // A woman born 1990-05-12, issued in Denpasar (Bali): not in the registry.
    let non_resident = "5171015205900001";
    assert_eq!(reg.lookup(non_resident).kind(), "non_resident");
    // Serial 0000 is never issued: rejected only after the date is checked.
    let invalid = "3510150203850000";
    assert_eq!(reg.lookup(invalid).kind(), "invalid");

    let mut g = c.benchmark_group("lookup");
    g.bench_function("resident", |b| b.iter(|| reg.lookup(black_box(&resident))));
    let mut i = 0usize;
    g.bench_function("resident_cycling_8000", |b| {
        b.iter(|| {
            i = (i + 1) % all.len();
            reg.lookup(black_box(&all[i]))
        })
    });
    g.bench_function("non_resident", |b| {
        b.iter(|| reg.lookup(black_box(non_resident)))
    });
    g.bench_function("invalid", |b| b.iter(|| reg.lookup(black_box(invalid))));
    g.finish();

    c.bench_function("nik_parse", |b| {
        b.iter(|| Nik::parse(black_box(&resident), THIS_YEAR))
    });
}

criterion_group!(benches, lookup);
criterion_main!(benches);
