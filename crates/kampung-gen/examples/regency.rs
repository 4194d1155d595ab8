//! Generate the whole regency and print how long it took and what it looks like.
//!
//! ```text
//! cargo run --release -p kampung-gen --example regency [seed]
//! ```

use std::time::Instant;

use kampung_core::Status;
use kampung_gen::regency_residents;

fn main() {
    let seed = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1u64);
    let started = Instant::now();
    let (mut people, mut households, mut outside, mut bali, mut moved, mut dead, mut women) =
        (0usize, 0, 0, 0, 0, 0, 0);
    for (_, residents) in regency_residents(seed) {
        let mut last_card = "";
        for r in &residents {
            people += 1;
            if r.family_card != last_card {
                households += 1;
                last_card = &r.family_card;
            }
            let regency = r.nik.as_u64() / 1_000_000_000_000;
            outside += usize::from(regency != 3510);
            bali += usize::from(regency / 100 == 51);
            moved += usize::from(matches!(r.status, Status::MovedOut { .. }));
            dead += usize::from(matches!(r.status, Status::Deceased { .. }));
            women += usize::from(r.sex == kampung_core::Sex::Female);
        }
    }
    let elapsed = started.elapsed();
    let pct = |k: usize| 100.0 * k as f64 / people as f64;
    println!(
        "seed {seed}: {people} residents in {households} households generated in {elapsed:.2?}"
    );
    println!(
        "  {:.2} per household; women {:.1}%; NIK issued outside Banyuwangi {:.2}% (Bali {:.2}%); moved out {:.2}%; deceased {:.2}%",
        people as f64 / households as f64,
        pct(women),
        pct(outside),
        pct(bali),
        pct(moved),
        pct(dead)
    );
}
