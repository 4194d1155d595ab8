//! Request-response codec: a 4-byte big-endian length, then a postcard
//! message. The length is checked against the limit before anything is
//! allocated, so a peer cannot make us buffer more than one bounded message.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use kampung_sync::message::{self, Request, Response};
use kampung_sync::Limits;
use libp2p::StreamProtocol;

pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/kampung/sync/1");

/// Bytes of sync messages read and written (frames, length prefix included).
#[derive(Debug, Default)]
pub struct WireBytes {
    pub read: AtomicU64,
    pub written: AtomicU64,
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

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T, max: usize) -> io::Result<Vec<u8>> {
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

async fn write_frame<T: AsyncWrite + Unpin + Send>(
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

fn invalid(e: impl ToString) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

impl libp2p::request_response::Codec for Codec {
    type Protocol = StreamProtocol;
    type Request = Request;
    type Response = Response;

    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Request> {
        let bytes = read_frame(io, self.limits.max_message).await?;
        self.read_bytes(bytes.len());
        message::decode_request(&bytes, &self.limits).map_err(invalid)
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
        req: Request,
    ) -> io::Result<()> {
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
