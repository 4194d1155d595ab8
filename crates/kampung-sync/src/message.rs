//! Wire messages, encoded with postcard and checked against [`Limits`] on the
//! way in: a peer's message is refused, not trusted, if it breaks a bound.
//! On a stream each message is one frame ([`read_frame`], [`write_frame`]).

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use serde::{Deserialize, Serialize};

use crate::Limits;

/// An Automerge change hash.
pub type Hash = [u8; 32];

/// A document and its heads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocHeads {
    pub doc: String,
    pub heads: Vec<Hash>,
}

/// Deserialise a list, refusing it as soon as it has more than `MAX`
/// elements. The counts in [`Limits`] are checked after decoding; this bound
/// comes first, so a message of many tiny elements (one byte on the wire,
/// 24 bytes or more in memory) cannot make us allocate far more than its size.
fn bounded<'de, D, T, const MAX: usize>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Bounded<T, const MAX: usize>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>, const MAX: usize> serde::de::Visitor<'de> for Bounded<T, MAX> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a list of at most {MAX} elements")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX).min(1024));
            while let Some(item) = seq.next_element()? {
                if out.len() == MAX {
                    return Err(serde::de::Error::custom(format!(
                        "a list of more than {MAX} elements"
                    )));
                }
                out.push(item);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(Bounded::<T, MAX>(std::marker::PhantomData))
}

/// Most changes in one message (a page of 1 MB holds far fewer).
const MAX_CHANGES: usize = 65_536;
/// Most write signatures or statements in one message.
const MAX_BLOBS: usize = 8_192;
/// Most documents in one page of heads.
const MAX_DOCS: usize = 4_096;

/// The version of this protocol (the messages below and what they mean).
/// Nodes of different versions refuse each other at the hello, naming both
/// versions, rather than failing on messages they cannot read.
///
/// Architecture invariant: `Request::Hello` and `Response::Hello` keep their
/// place in their enums (the fifth variant) and [`Hello`] keeps `wire` and
/// `software` as its first fields, in every version, so that any two
/// versions can always tell each other which one they speak.
///
/// Version 2: a resident's record is one value (record format 2,
/// `kampung_store::doc::record`). A node of version 1 reads such a record as
/// no record at all, and would call a resident a non-resident; so the two
/// do not exchange anything. A mesh is upgraded node by node; until both
/// ends of a link are upgraded the link carries nothing, and each side's
/// status names the other's version (`kampung status`, "refused").
///
/// Version 3: read scopes (`kampung_core::ReadScope`). Crossing logs are
/// offered and served only to checkpoints and auditors, never gossiped, and
/// a request for one from any other node is its fault. A node of version 2
/// gossips them and asks for them, so it would be cut off as faulty: the
/// two refuse each other at the hello instead, naming both versions.
///
/// Version 4: a crossing is one value (crossing format 2,
/// `kampung_store::crossing::value`). A node of version 3 reads a log
/// holding one as malformed: its checkpoint's list, the auditor's search and
/// the replay of that log would fail. Only checkpoints and auditors hold
/// crossing logs, but every node speaks one protocol: they refuse each
/// other at the hello, naming both versions.
///
/// Version 5: verdict cards (`k/`, every member) and details (`v/`, the
/// village, its detail holders and auditors). A node of version 4 derives
/// its index from `v/` documents and knows no `k/` document: a checkpoint
/// of version 5 would never send it a village's details, and it would
/// treat `k/` names as unknown documents. They refuse each other at the
/// hello; an upgraded node keeps answering from the index it had until
/// the villages' cards arrive (`kampung_store`'s `registry/details.rs`).
pub const WIRE_VERSION: u32 = 5;

/// Longest software description accepted in a hello.
pub const MAX_SOFTWARE: usize = 128;

/// What two nodes show each other first, both ways (see [`WIRE_VERSION`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The wire protocol version the sender speaks.
    pub wire: u32,
    /// The sender's software and version, for operators (`kampung 0.1.0 (abc1234)`).
    pub software: String,
    /// The sender's membership certificate (encoded); empty on a mesh
    /// without a root (development only).
    pub certificate: Vec<u8>,
}

impl Hello {
    /// Why a node speaking `ours` (as `our_software`) cannot talk to the
    /// sender of this hello, or `None` if it can.
    pub fn incompatible(&self, ours: u32, our_software: &str) -> Option<String> {
        (self.wire != ours).then(|| {
            format!(
                "the peer speaks wire protocol {} ({}), this node speaks wire protocol {ours} ({our_software}): upgrade the older of the two",
                self.wire, self.software
            )
        })
    }
}

fn check_hello(h: &Hello) -> Result<(), WireError> {
    if h.software.len() > MAX_SOFTWARE {
        return Err(WireError::OutOfBounds(format!(
            "a software description of {} bytes",
            h.software.len()
        )));
    }
    check_blobs("certificates", std::slice::from_ref(&h.certificate), 1)
}

/// What one peer asks another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// The digest over all documents.
    Digest,
    /// A page of (document, heads), documents after `after` in order.
    Heads { after: Option<String>, limit: u16 },
    /// The changes of `doc` that a node with heads `have` lacks.
    Changes { doc: String, have: Vec<Hash> },
    /// A page of the whole stored document.
    Document { doc: String, offset: u64 },
    /// The first message on a connection: "this is my wire protocol version,
    /// my software and my certificate". Nothing else is answered until both
    /// sides have shown a valid certificate and speak the same version.
    Hello(Hello),
    /// The root-signed statements the peer holds, unless its roster digest equals ours.
    Roster { digest: Hash },
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    Digest {
        digest: Hash,
        docs: u32,
    },
    Heads {
        #[serde(deserialize_with = "bounded::<_, _, MAX_DOCS>")]
        docs: Vec<DocHeads>,
        more: bool,
    },
    Changes {
        doc: String,
        #[serde(deserialize_with = "bounded::<_, _, MAX_CHANGES>")]
        changes: Vec<Vec<u8>>,
        /// Write signatures covering `changes`.
        #[serde(deserialize_with = "bounded::<_, _, MAX_BLOBS>")]
        signatures: Vec<Vec<u8>>,
        more: bool,
    },
    Document {
        doc: String,
        total: u64,
        offset: u64,
        bytes: Vec<u8>,
        /// Every write signature of the document (on the page at offset 0).
        #[serde(deserialize_with = "bounded::<_, _, MAX_BLOBS>")]
        signatures: Vec<Vec<u8>>,
    },
    Hello(Hello),
    Roster {
        #[serde(deserialize_with = "bounded::<_, _, MAX_BLOBS>")]
        statements: Vec<Vec<u8>>,
        /// The answering node's clock when it answered (unix ms): how the
        /// asker measures how far its own clock is from its peers'.
        now_ms: i64,
    },
    /// The request was refused (unknown document, malformed, busy).
    Refused {
        reason: String,
    },
}

/// Gossiped when a document changes, and periodically by each owner as a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announce {
    pub doc: String,
    pub heads: Vec<Hash>,
    /// The new changes, when small enough to carry inline.
    #[serde(deserialize_with = "bounded::<_, _, MAX_CHANGES>")]
    pub changes: Vec<Vec<u8>>,
    /// Write signatures covering `changes`.
    #[serde(deserialize_with = "bounded::<_, _, MAX_BLOBS>")]
    pub signatures: Vec<Vec<u8>>,
    /// The sender owns (writes) this document.
    pub from_owner: bool,
}

/// Why bytes from a peer were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    #[error("message of {size} bytes exceeds the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("message breaks a bound: {0}")]
    OutOfBounds(String),
}

pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    postcard::to_stdvec(msg).unwrap_or_default()
}

fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8], limits: &Limits) -> Result<T, WireError> {
    if bytes.len() > limits.max_message {
        return Err(WireError::TooLarge {
            size: bytes.len(),
            limit: limits.max_message,
        });
    }
    postcard::from_bytes(bytes).map_err(|e| WireError::Malformed(e.to_string()))
}

const MAX_DOC_ID: usize = 64;

fn check_doc(doc: &str) -> Result<(), WireError> {
    if doc.is_empty() || doc.len() > MAX_DOC_ID {
        return Err(WireError::OutOfBounds(format!(
            "document id of {} bytes",
            doc.len()
        )));
    }
    Ok(())
}

/// Most bytes of one write signature or certificate blob.
const MAX_BLOB: usize = 4096;

fn check_blobs(what: &str, blobs: &[Vec<u8>], max: usize) -> Result<(), WireError> {
    if blobs.len() > max {
        return Err(WireError::OutOfBounds(format!(
            "{} {what} (at most {max})",
            blobs.len()
        )));
    }
    if let Some(b) = blobs.iter().find(|b| b.len() > MAX_BLOB) {
        return Err(WireError::OutOfBounds(format!(
            "one of the {what} is {} bytes (at most {MAX_BLOB})",
            b.len()
        )));
    }
    Ok(())
}

fn check_heads(heads: &[Hash], limits: &Limits) -> Result<(), WireError> {
    if heads.len() > limits.max_heads {
        return Err(WireError::OutOfBounds(format!(
            "{} heads (at most {})",
            heads.len(),
            limits.max_heads
        )));
    }
    Ok(())
}

pub fn decode_request(bytes: &[u8], limits: &Limits) -> Result<Request, WireError> {
    let req: Request = decode(bytes, limits)?;
    match &req {
        Request::Digest => {}
        Request::Heads { after, .. } => {
            if let Some(a) = after {
                check_doc(a)?;
            }
        }
        Request::Changes { doc, have } => {
            check_doc(doc)?;
            check_heads(have, limits)?;
        }
        Request::Document { doc, .. } => check_doc(doc)?,
        Request::Hello(hello) => check_hello(hello)?,
        Request::Roster { .. } => {}
    }
    Ok(req)
}

pub fn decode_response(bytes: &[u8], limits: &Limits) -> Result<Response, WireError> {
    let resp: Response = decode(bytes, limits)?;
    match &resp {
        Response::Heads { docs, .. } => {
            if docs.len() > usize::from(limits.heads_page) {
                return Err(WireError::OutOfBounds(format!(
                    "{} documents in a heads page",
                    docs.len()
                )));
            }
            for d in docs {
                check_doc(&d.doc)?;
                check_heads(&d.heads, limits)?;
            }
        }
        Response::Changes {
            doc, signatures, ..
        } => {
            check_doc(doc)?;
            check_blobs("write signatures", signatures, limits.max_signatures)?;
        }
        Response::Document {
            doc,
            total,
            signatures,
            ..
        } => {
            check_doc(doc)?;
            check_blobs("write signatures", signatures, limits.max_signatures)?;
            if *total as usize > limits.max_document {
                return Err(WireError::OutOfBounds(format!("document of {total} bytes")));
            }
        }
        Response::Hello(hello) => check_hello(hello)?,
        Response::Roster { statements, .. } => {
            check_blobs("statements", statements, limits.max_statements)?
        }
        Response::Digest { .. } | Response::Refused { .. } => {}
    }
    Ok(resp)
}

pub fn decode_announce(bytes: &[u8], limits: &Limits) -> Result<Announce, WireError> {
    let a: Announce = decode(bytes, limits)?;
    check_doc(&a.doc)?;
    check_heads(&a.heads, limits)?;
    check_blobs("write signatures", &a.signatures, limits.max_signatures)?;
    let inline: usize = a.changes.iter().map(Vec::len).sum();
    if inline > limits.max_inline {
        return Err(WireError::OutOfBounds(format!(
            "{inline} bytes of inline changes"
        )));
    }
    Ok(a)
}

/// Read one frame: a 4-byte big-endian length, then that many bytes. The
/// length is checked against `max` before anything is allocated, so a peer
/// cannot make us buffer more than one bounded message. Transport-agnostic
/// (the mesh's request-response codec uses it), so it is fuzzed without libp2p.
pub async fn read_frame<T: AsyncRead + Unpin>(io: &mut T, max: usize) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("message of {len} bytes exceeds the limit of {max}"),
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

/// Write one frame as [`read_frame`] reads it, then close the stream.
pub async fn write_frame<T: AsyncWrite + Unpin>(
    io: &mut T,
    bytes: &[u8],
    max: usize,
) -> io::Result<()> {
    if bytes.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "message of {} bytes exceeds the limit of {max}",
                bytes.len()
            ),
        ));
    }
    io.write_all(&(bytes.len() as u32).to_be_bytes()).await?;
    io.write_all(bytes).await?;
    io.close().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bounds() {
        let limits = Limits::default();
        let req = Request::Changes {
            doc: "v/35.10.15.2012".into(),
            have: vec![[7; 32]],
        };
        assert_eq!(decode_request(&encode(&req), &limits).unwrap(), req);
        let too_many = Request::Changes {
            doc: "v/x".into(),
            have: vec![[0; 32]; limits.max_heads + 1],
        };
        assert!(matches!(
            decode_request(&encode(&too_many), &limits),
            Err(WireError::OutOfBounds(_))
        ));
        assert!(matches!(
            decode_request(&[0xff, 0xff, 0xff], &limits),
            Err(WireError::Malformed(_))
        ));
        let big = vec![0u8; limits.max_message + 1];
        assert!(matches!(
            decode_request(&big, &limits),
            Err(WireError::TooLarge { .. })
        ));
        // Many empty elements (1 byte each on the wire) are refused by count
        // while decoding, before they cost 24 bytes each in memory.
        let flood = Response::Changes {
            doc: "v/x".into(),
            changes: vec![Vec::new(); MAX_CHANGES + 1],
            signatures: vec![],
            more: false,
        };
        assert!(matches!(
            decode_response(&encode(&flood), &limits),
            Err(WireError::Malformed(_))
        ));
        let at_bound = Response::Changes {
            doc: "v/x".into(),
            changes: vec![Vec::new(); MAX_CHANGES],
            signatures: vec![],
            more: false,
        };
        assert!(decode_response(&encode(&at_bound), &limits).is_ok());
        let a = Announce {
            doc: "v/x".into(),
            heads: vec![],
            changes: vec![vec![0; limits.max_inline + 1]],
            signatures: vec![],
            from_owner: true,
        };
        assert!(decode_announce(&encode(&a), &limits).is_err());
    }

    #[test]
    fn a_hello_names_both_versions_and_is_bounded() {
        let limits = Limits::default();
        let hello = Hello {
            wire: WIRE_VERSION + 1,
            software: "kampung 0.2.0 (def5678)".into(),
            certificate: vec![1; 96],
        };
        let req = Request::Hello(hello.clone());
        assert_eq!(decode_request(&encode(&req), &limits).unwrap(), req);
        let why = hello
            .incompatible(WIRE_VERSION, "kampung 0.1.0 (abc1234)")
            .expect("another version is incompatible");
        assert!(
            why.contains(&format!("wire protocol {}", WIRE_VERSION + 1)),
            "{why}"
        );
        assert!(
            why.contains(&format!("wire protocol {WIRE_VERSION}")),
            "{why}"
        );
        assert!(
            why.contains("kampung 0.2.0") && why.contains("kampung 0.1.0"),
            "{why}"
        );
        let same = Hello {
            wire: WIRE_VERSION,
            ..hello.clone()
        };
        assert_eq!(same.incompatible(WIRE_VERSION, "x"), None);
        // The version leads the encoding (after the variant), where every
        // later version will look for it.
        let bytes = encode(&Request::Hello(same));
        assert_eq!(bytes[0], 4, "Hello is the fifth request");
        assert_eq!(
            u32::from(bytes[1]),
            WIRE_VERSION,
            "the wire version comes first"
        );
        let long = Response::Hello(Hello {
            software: "x".repeat(MAX_SOFTWARE + 1),
            ..hello
        });
        assert!(matches!(
            decode_response(&encode(&long), &limits),
            Err(WireError::OutOfBounds(_))
        ));
    }
}
