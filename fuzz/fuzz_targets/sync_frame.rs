//! A sync request or response as a peer's stream delivers it to the mesh's
//! request-response codec: a 4-byte big-endian length, then a postcard
//! message. `kampung_mesh::codec::Codec::read_request` is exactly
//! `read_frame` then `decode_request` (likewise for responses); both live in
//! `kampung_sync::message`, so no libp2p stream (nor libp2p) is needed: the
//! frame is read from the fuzz input in a `Cursor`.
//!
//! Properties: no panic; a frame buffer never beyond `max_message`, and
//! nothing else beyond the input's size; whatever is accepted is framed
//! again by `write_frame` and read back as the same message.
#![no_main]

use futures::executor::block_on;
use futures::io::Cursor;
use kampung_fuzz::bounded;
use kampung_sync::message::{
    decode_request, decode_response, encode, read_frame, write_frame, WireError,
};
use kampung_sync::Limits;
use libfuzzer_sys::fuzz_target;
use serde::Serialize;

/// What the codec does with a stream: one frame, then the message in it.
fn read<T>(
    data: &[u8],
    limits: &Limits,
    decode: fn(&[u8], &Limits) -> Result<T, WireError>,
) -> Option<T> {
    let bytes = block_on(read_frame(&mut Cursor::new(data), limits.max_message)).ok()?;
    assert!(bytes.len() <= limits.max_message);
    decode(&bytes, limits).ok()
}

fn round_trip<T: Serialize + PartialEq + std::fmt::Debug>(
    msg: T,
    limits: &Limits,
    decode: fn(&[u8], &Limits) -> Result<T, WireError>,
) {
    let mut out = Cursor::new(Vec::new());
    block_on(write_frame(&mut out, &encode(&msg), limits.max_message))
        .expect("an accepted message is framed again");
    let again = read(&out.into_inner(), limits, decode).expect("a framed message reads back");
    assert_eq!(again, msg);
}

fuzz_target!(|data: &[u8]| {
    // A smaller limit than the default keeps runs fast; the checks are the same.
    let limits = Limits {
        max_message: 64 << 10,
        ..Limits::default()
    };
    let frame = limits.max_message;

    let request = bounded("read_frame + decode_request", data, frame, || {
        read(data, &limits, decode_request)
    });
    if let Some(req) = request {
        round_trip(req, &limits, decode_request);
    }

    let response = bounded("read_frame + decode_response", data, frame, || {
        read(data, &limits, decode_response)
    });
    if let Some(res) = response {
        round_trip(res, &limits, decode_response);
    }
});
