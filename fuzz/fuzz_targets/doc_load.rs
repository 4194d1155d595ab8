//! Automerge bytes from a peer or the data directory, through the store's own
//! entry points:
//! - a whole document from a peer (`Response::Document` pages), as
//!   `kampung_store::prepare_document` loads, verifies and reads it;
//! - an incremental chunk as stored on disk, on top of the genesis change
//!   (`VillageDoc::load` with no snapshot);
//! - the same merged into a replica that holds a record of its own
//!   (`apply_prepared` when we already wrote to the village);
//! - one change from a peer (`Response::Changes`, inline in an `Announce`),
//!   parsed and applied to the genesis document as `apply_remote` does.
//!
//! Properties: no panic escapes the store (automerge 0.12 panics on some
//! malformed input; the store turns that into an error, see
//! `kampung_store::doc`); a document that loads can have every record read.
#![no_main]

use std::sync::OnceLock;

use automerge::ActorId;
use kampung_core::{Address, Nik, Resident, Sex, Status, VillageCode};
use kampung_store::doc::VillageDoc;
use kampung_store::{prepare_document, AcceptAll, DocId};
use libfuzzer_sys::fuzz_target;

/// A replica with one record written locally (not by the seeds' actor).
fn ours(village: VillageCode) -> Option<VillageDoc> {
    static OURS: OnceLock<Option<VillageDoc>> = OnceLock::new();
    OURS.get_or_init(|| {
        let resident = Resident {
            nik: Nik::parse("3510155203850001", 2026).ok()?.nik(),
            full_name: "Sri Wahyuni".into(),
            sex: Sex::Female,
            birth_date: time::macros::date!(1985 - 03 - 12),
            family_card: "3510150101100001".into(),
            address: Address {
                dusun: "Krajan".into(),
                rt: 1,
                rw: 2,
            },
            village,
            status: Status::Active,
            updated_at_ms: 0,
        };
        let mut doc = VillageDoc::genesis(village);
        doc.upsert(&ActorId::from(vec![1u8; 32]), &resident, 0)
            .ok()?;
        Some(doc)
    })
    .clone()
}

fuzz_target!(init: kampung_fuzz::let_product_code_catch_panics(), |data: &[u8]| {
    let Ok(village) = VillageCode::parse("35.10.15.2012") else {
        return;
    };
    let id = DocId::village(village);

    let _ = prepare_document(&id, data.to_vec(), &[], &AcceptAll);

    if let Ok(doc) = VillageDoc::load(village, None, [data]) {
        let _ = doc.residents().count();
    }

    if let Some(mut doc) = ours(village) {
        if doc.load_incremental(data).is_ok() {
            let _ = doc.residents().count();
        }
    }

    if let Ok(change) = automerge::Change::try_from(data) {
        let mut doc = VillageDoc::genesis(village);
        if doc.apply_changes(vec![change]).is_ok() {
            let _ = doc.residents().count();
        }
    }
});
