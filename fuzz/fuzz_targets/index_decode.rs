//! The persisted index of one village (`kampung_store::index::decode`), as
//! read back from the data directory at start-up.
//!
//! The CRC32 at the end turns away almost every random input before any
//! decoding, so each input is tried twice: as it is, and as a body sealed
//! with its correct checksum (the seeds are bodies), which is what a
//! damaged-but-checksummed or hand-edited file would look like.
//!
//! Properties: no panic; what decodes re-encodes to the same heads and
//! entries; every decoded entry can be viewed (as a lookup would) without
//! panicking, whatever its village ordinal.
#![no_main]

use kampung_fuzz::bounded;
use kampung_store::index;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bounded("index::decode", data, 0, || index::decode(data));

    let mut sealed = data.to_vec();
    sealed.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    let decoded = bounded("index::decode", &sealed, 0, || index::decode(&sealed));
    if let Ok((heads, entries)) = decoded {
        for (_, entry) in &entries {
            let _ = entry.view();
        }
        let again = index::decode(&index::encode(&heads, entries.clone()))
            .expect("an index that decoded re-encodes");
        assert_eq!(again, (heads, entries));
    }
});
