//! Writes the seed corpora in `fuzz/seeds/<target>/` from real inputs: a
//! village CSV as `kampung gen` writes it, NIKs of generated residents, a
//! village document with its changes, its persisted index, and encoded sync
//! messages and frames. Deterministic: the same code writes the same files.
//!
//! Run by `scripts/fuzz --seeds` (a rare step, when a format changes; the
//! seeds are committed and small).

use std::fs;
use std::path::{Path, PathBuf};

use automerge::ActorId;
use kampung_core::{Status, VillageCode};
use kampung_store::doc::VillageDoc;
use kampung_store::index::{self, Entry};
use kampung_sync::message::{encode, Announce, DocHeads, Hello, Request, Response, WIRE_VERSION};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) -> Result<()> {
    let dir = dir.join(target);
    fs::create_dir_all(&dir)?;
    fs::write(dir.join(name), bytes)?;
    Ok(())
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

fn main() -> Result<()> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("seeds");
    // The targets whose seeds this program writes (the others' seeds,
    // trust_statement and write_signature, are kept as they are).
    for target in [
        "csv_read",
        "doc_load",
        "index_decode",
        "nik_parse",
        "sync_frame",
        "wire_message",
    ] {
        let old = dir.join(target);
        if old.exists() {
            fs::remove_dir_all(&old)?;
        }
    }
    let village = VillageCode::parse("35.10.15.2012")?;
    let people = kampung_gen::village_residents(village, 12, 1);

    // CSV: what `kampung gen --village 35.10.15.2012 --residents 12` writes,
    // and the same as Excel saves it in an Indonesian locale (BOM, `;`).
    let mut csv = Vec::new();
    kampung_csv::write(&mut csv, &people)?;
    write(&dir, "csv_read", "gen.csv", &csv)?;
    let text = String::from_utf8(csv.clone())?;
    let mut excel = b"\xEF\xBB\xBF".to_vec();
    excel.extend_from_slice(text.replace(',', ";").replace('\n', "\r\n").as_bytes());
    write(&dir, "csv_read", "excel.csv", &excel)?;
    let mut moved = people[..3].to_vec();
    moved[0].status = Status::MovedOut {
        destination: "Jember".into(),
        date: Some(time::macros::date!(2025 - 03 - 01)),
    };
    moved[1].status = Status::Deceased {
        date: Some(time::macros::date!(2024 - 02 - 29)),
    };
    let mut statuses = Vec::new();
    kampung_csv::write(&mut statuses, &moved)?;
    write(&dir, "csv_read", "statuses.csv", &statuses)?;

    // NIKs as people type them.
    for (i, r) in people.iter().take(4).enumerate() {
        let nik = r.nik.to_string();
        write(&dir, "nik_parse", &format!("plain-{i}"), nik.as_bytes())?;
    }
    let nik = people[0].nik.to_string();
    let dotted = format!(
        "{}.{}.{}.{}-{}",
        &nik[..2],
        &nik[2..4],
        &nik[4..6],
        &nik[6..12],
        &nik[12..]
    );
    write(&dir, "nik_parse", "dotted", dotted.as_bytes())?;
    write(&dir, "nik_parse", "other-regency", b"3201014506900002")?;

    // The village document: whole, as an incremental chunk, change by change.
    let actor = ActorId::from(vec![7u8; 32]);
    let mut doc = VillageDoc::genesis(village);
    let genesis_heads = doc.heads();
    for r in &people[..4] {
        doc.upsert(&actor, r, 1_700_000_000_000)?;
    }
    let whole = doc.save();
    write(&dir, "doc_load", "document", &whole)?;
    write(&dir, "doc_load", "chunk", &doc.save_after(&genesis_heads))?;
    let changes = doc.automerge().get_changes(&genesis_heads);
    let raw: Vec<Vec<u8>> = changes.iter().map(|c| c.raw_bytes().to_vec()).collect();
    for (i, c) in raw.iter().take(2).enumerate() {
        write(&dir, "doc_load", &format!("change-{i}"), c)?;
    }

    // The persisted index of that document; the target appends the checksum.
    let entries: Vec<(u64, Entry)> = people[..4]
        .iter()
        .filter_map(|r| Some((r.nik.as_u64(), Entry::from_resident(r)?)))
        .collect();
    let sealed = index::encode(&doc.heads(), entries);
    write(&dir, "index_decode", "body", &sealed[..sealed.len() - 4])?;

    // Sync messages about that document.
    let heads: Vec<[u8; 32]> = doc.heads().iter().map(|h| h.0).collect();
    let doc_id = format!("v/{village}");
    let requests = [
        Request::Digest,
        Request::Heads {
            after: Some(doc_id.clone()),
            limit: 256,
        },
        Request::Changes {
            doc: doc_id.clone(),
            have: heads.clone(),
        },
        Request::Document {
            doc: doc_id.clone(),
            offset: 0,
        },
        Request::Hello(Hello {
            wire: WIRE_VERSION,
            software: "kampung 0.1.0 (abc1234)".into(),
            certificate: vec![1; 96],
        }),
        Request::Roster { digest: [3; 32] },
    ];
    // Signature and certificate blobs are opaque to these decoders (their own
    // decoders are kampung-trust's); only their sizes are checked here.
    let signatures = vec![vec![5u8; 100]];
    let responses = [
        Response::Digest {
            digest: [9; 32],
            docs: 217,
        },
        Response::Heads {
            docs: vec![DocHeads {
                doc: doc_id.clone(),
                heads: heads.clone(),
            }],
            more: true,
        },
        Response::Changes {
            doc: doc_id.clone(),
            changes: raw[..2].to_vec(),
            signatures: signatures.clone(),
            more: false,
        },
        Response::Document {
            doc: doc_id.clone(),
            total: whole.len() as u64,
            offset: 0,
            bytes: whole[..whole.len().min(512)].to_vec(),
            signatures: signatures.clone(),
        },
        Response::Hello(Hello {
            wire: WIRE_VERSION,
            software: "kampung 0.1.0 (abc1234)".into(),
            certificate: vec![1; 96],
        }),
        Response::Roster {
            statements: vec![vec![2; 64]; 2],
            now_ms: 1_764_547_200_000,
        },
        Response::Refused {
            reason: "busy".into(),
        },
    ];
    let announce = Announce {
        doc: doc_id,
        heads,
        changes: raw[..1].to_vec(),
        signatures,
        from_owner: true,
    };
    for (i, r) in requests.iter().enumerate() {
        write(&dir, "wire_message", &format!("request-{i}"), &encode(r))?;
        write(
            &dir,
            "sync_frame",
            &format!("request-{i}"),
            &frame(&encode(r)),
        )?;
    }
    for (i, r) in responses.iter().enumerate() {
        write(&dir, "wire_message", &format!("response-{i}"), &encode(r))?;
        write(
            &dir,
            "sync_frame",
            &format!("response-{i}"),
            &frame(&encode(r)),
        )?;
    }
    write(&dir, "wire_message", "announce", &encode(&announce))?;

    println!("wrote seeds to {}", dir.display());
    Ok(())
}
