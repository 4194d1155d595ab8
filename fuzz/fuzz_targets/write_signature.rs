//! Write signatures as they travel with changes (`WriteSignature::decode`),
//! and the coverage check a node runs before applying changes
//! (`kampung_trust::uncovered`) over a change graph read from the input.
//!
//! Properties: no panic; decoding is bounded in memory; a decoded signature
//! re-encodes to itself; a signature over altered fields does not verify;
//! every change `uncovered` reports is one of the input's changes, and a change
//! covered by its own signer's signature is never reported.
#![no_main]

use kampung_fuzz::bounded;
use kampung_trust::{uncovered, ChangeRef, NodeKey, WriteSignature};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sig) = bounded("WriteSignature::decode", data, 0, || {
        WriteSignature::decode(data)
    }) {
        assert_eq!(WriteSignature::decode(&sig.encode()).ok(), Some(sig.clone()));
        if sig.verify_signature().is_ok() {
            let mut altered = sig.clone();
            altered.signed_ms = altered.signed_ms.wrapping_add(1);
            assert!(altered.verify_signature().is_err());
        }
    }

    // A small change graph: each change is 3 bytes (hash id, actor id, dep id);
    // a hash names one change, as in a real document (later duplicates dropped).
    let mut seen = std::collections::HashSet::new();
    let changes: Vec<([u8; 32], [u8; 32], Vec<[u8; 32]>)> = data
        .chunks_exact(3)
        .take(64)
        .filter(|c| seen.insert(c[0]))
        .map(|c| ([c[0]; 32], [c[1] % 4; 32], vec![[c[2]; 32]]))
        .collect();
    let refs: Vec<ChangeRef<'_>> = changes
        .iter()
        .map(|(hash, actor, deps)| ChangeRef {
            hash: *hash,
            actor,
            deps,
        })
        .collect();
    let signed: Vec<([u8; 32], NodeKey)> = changes
        .iter()
        .step_by(3)
        .map(|(hash, actor, _)| (*hash, NodeKey(*actor)))
        .collect();
    let missing = uncovered(&refs, &signed, |_, _| false);
    for h in &missing {
        assert!(changes.iter().any(|(c, _, _)| c == h));
        // A change signed by its own actor is covered.
        assert!(!signed
            .iter()
            .any(|(s, k)| s == h && changes.iter().any(|(c, a, _)| c == h && *a == k.0)));
    }
});
