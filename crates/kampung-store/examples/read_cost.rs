//! How long it takes to read a whole village document back (index rebuild cost).
//! `cargo run --release -p kampung-store --example read_cost`
use std::time::Instant;

use kampung_core::VillageCode;
use kampung_store::doc::VillageDoc;

fn main() {
    let village = VillageCode::parse("35.10.15.2012").unwrap_or_else(|e| panic!("{e}"));
    let people = kampung_gen::village_residents(village, 8000, 1);
    let mut doc = VillageDoc::genesis(village);
    let actor = automerge::ActorId::from(vec![1u8; 32]);
    let t = Instant::now();
    for r in &people {
        doc.upsert(&actor, r, 1).unwrap_or_else(|e| panic!("{e}"));
    }
    println!(
        "upsert 8000: {:?} ({:?}/resident)",
        t.elapsed(),
        t.elapsed() / 8000
    );
    let t = Instant::now();
    let bytes = doc.save();
    println!("save: {:?}, {} bytes", t.elapsed(), bytes.len());
    let t = Instant::now();
    let doc = VillageDoc::load(village, Some(&bytes), []).unwrap_or_else(|e| panic!("{e}"));
    println!("load: {:?}", t.elapsed());
    let t = Instant::now();
    let n = doc.residents().filter(|r| r.is_ok()).count();
    println!("residents(): {n} in {:?}", t.elapsed());
    let t = Instant::now();
    let touched = doc.touched_since(&[]).unwrap_or_else(|e| panic!("{e}"));
    println!("touched_since([]): {} in {:?}", touched.len(), t.elapsed());
    let t = Instant::now();
    for nik in touched {
        let _ = doc.get(nik);
    }
    println!("get each: {:?}", t.elapsed());
}
