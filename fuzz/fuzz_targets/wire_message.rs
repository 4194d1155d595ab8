//! Sync protocol messages from a peer (request-response payloads and gossiped
//! announcements): `kampung_sync::message::decode_*` with the default
//! `Limits`. Every input is tried as all three kinds of message.
//!
//! Properties: no panic; memory bounded by the input, not by lengths it
//! declares; whatever is accepted re-encodes to the same message.
#![no_main]

use kampung_fuzz::bounded;
use kampung_sync::message::{decode_announce, decode_request, decode_response, encode};
use kampung_sync::Limits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();

    let request = bounded("decode_request", data, 0, || decode_request(data, &limits));
    if let Ok(r) = request {
        assert_eq!(decode_request(&encode(&r), &limits), Ok(r));
    }

    let response = bounded("decode_response", data, 0, || {
        decode_response(data, &limits)
    });
    if let Ok(r) = response {
        assert_eq!(decode_response(&encode(&r), &limits), Ok(r));
    }

    let announce = bounded("decode_announce", data, 0, || {
        decode_announce(data, &limits)
    });
    if let Ok(a) = announce {
        assert_eq!(decode_announce(&encode(&a), &limits), Ok(a));
    }
});
