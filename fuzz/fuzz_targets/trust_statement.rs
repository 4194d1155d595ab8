//! Root-signed statements (certificates, revocations, policies) as they
//! arrive from a peer (`Signed::decode`, postcard) or from an administrator's
//! file (`Signed::from_file_text`, JSON), then verified against a root and
//! added to a roster, as a node does.
//!
//! Properties: no panic; decoding is bounded in memory; nothing that was not
//! signed by the root is added to the roster; what decodes re-encodes to the
//! same statement.
#![no_main]

use std::sync::LazyLock;

use kampung_fuzz::bounded;
use kampung_trust::{NodeKey, Roster, Signed};
use libfuzzer_sys::fuzz_target;

/// A fixed root: inputs almost never carry its signature, so the interesting
/// part is that every forged statement is refused without panicking.
static ROOT: LazyLock<NodeKey> = LazyLock::new(|| {
    let key = libp2p_identity::Keypair::ed25519_from_bytes([7u8; 32]).expect("a valid seed");
    NodeKey::from_public(&key.public()).expect("an ed25519 key")
});

fn check(signed: Signed) {
    assert_eq!(Signed::decode(&signed.encode()).ok(), Some(signed.clone()));
    let mut roster = Roster::new(*ROOT);
    let verified = signed.verify(&ROOT).is_ok();
    let added = roster.add(signed).unwrap_or(false);
    assert_eq!(verified, added, "a statement is added exactly when it verifies");
}

fuzz_target!(|data: &[u8]| {
    if let Ok(signed) = bounded("Signed::decode", data, 0, || Signed::decode(data)) {
        check(signed);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(signed) = bounded("Signed::from_file_text", data, 0, || {
            Signed::from_file_text(text)
        }) {
            check(signed);
        }
    }
});
