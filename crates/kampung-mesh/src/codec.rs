//! Request-response codec: a 4-byte big-endian length, then a postcard
//! message. The length is checked against the limit before anything is
//! allocated, so a peer cannot make us buffer more than one bounded message.
//! The framing lives in `kampung_sync::message` (no libp2p in it), where the
//! fuzz target `sync_frame` reaches it.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::{AsyncRead, AsyncWrite};
use kampung_sync::message::{self, read_frame, write_frame, Request, Response};
use kampung_sync::Limits;
use libp2p::StreamProtocol;

pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/kampung/sync/1");

/// Bytes of sync messages read and written (frames, length prefix included).
#[derive(Debug, Default)]
pub struct WireBytes {
    pub read: AtomicU64,
    pub written: AtomicU64,
}

/// A request as read from a peer: well-formed, or why not. A bad request is
/// handed to the event loop (rather than failing the stream, which libp2p
/// would swallow) so the peer can be counted and cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    Valid(Request),
    Invalid(String),
}

impl From<Request> for Inbound {
    fn from(r: Request) -> Self {
        Inbound::Valid(r)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Codec {
    limits: Limits,
    bytes: Arc<WireBytes>,
}

impl Codec {
    pub fn new(limits: Limits, bytes: Arc<WireBytes>) -> Self {
        Codec { limits, bytes }
    }

    fn read_bytes(&self, n: usize) {
        self.bytes.read.fetch_add(n as u64 + 4, Ordering::Relaxed);
    }

    fn wrote_bytes(&self, n: usize) {
        self.bytes
            .written
            .fetch_add(n as u64 + 4, Ordering::Relaxed);
    }
}

fn invalid(e: impl ToString) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

impl libp2p::request_response::Codec for Codec {
    type Protocol = StreamProtocol;
    type Request = Inbound;
    type Response = Response;

    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Inbound> {
        let bytes = match read_frame(io, self.limits.max_message).await {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return Ok(Inbound::Invalid(e.to_string()))
            }
            Err(e) => return Err(e),
        };
        self.read_bytes(bytes.len());
        Ok(match message::decode_request(&bytes, &self.limits) {
            Ok(r) => Inbound::Valid(r),
            Err(e) => Inbound::Invalid(e.to_string()),
        })
    }

    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Response> {
        let bytes = read_frame(io, self.limits.max_message).await?;
        self.read_bytes(bytes.len());
        message::decode_response(&bytes, &self.limits).map_err(invalid)
    }

    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Inbound,
    ) -> io::Result<()> {
        let Inbound::Valid(req) = req else {
            return Err(invalid("an invalid request is never sent"));
        };
        let bytes = message::encode(&req);
        self.wrote_bytes(bytes.len());
        write_frame(io, &bytes, self.limits.max_message).await
    }

    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Response,
    ) -> io::Result<()> {
        let bytes = message::encode(&res);
        self.wrote_bytes(bytes.len());
        write_frame(io, &bytes, self.limits.max_message).await
    }
}
