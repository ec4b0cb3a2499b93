//! MySQL packets over a byte stream: framing, sequence ids and the 16 MiB split come from
//! `mysql_common`'s codec; this file only moves bytes.

use std::io;
use std::task::Context;

use bytes::BytesMut;
use mysql_common::proto::codec::PacketCodec;
use mysql_common::proto::codec::error::PacketCodecError;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// A byte stream the wire client can run over: a TCP or TLS stream natively, a
/// `worker::Socket` in a Worker.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Stream for T {}

/// A byte stream the wire client can run over: a TCP or TLS stream natively, a
/// `worker::Socket` in a Worker.
#[cfg(target_arch = "wasm32")]
pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin {}
#[cfg(target_arch = "wasm32")]
impl<T: AsyncRead + AsyncWrite + Unpin> Stream for T {}

/// Reads and writes whole packets.
pub(crate) struct PacketIo<S> {
    stream: S,
    codec: PacketCodec,
    read_buf: BytesMut,
    write_buf: BytesMut,
}

impl<S: Stream> PacketIo<S> {
    pub(crate) fn new(stream: S, max_packet: usize) -> Self {
        let mut codec = PacketCodec::default();
        codec.max_allowed_packet = max_packet;
        PacketIo {
            stream,
            codec,
            read_buf: BytesMut::with_capacity(8 * 1024),
            write_buf: BytesMut::with_capacity(8 * 1024),
        }
    }

    /// Takes the stream out, with the codec state, for a TLS upgrade.
    ///
    /// The server sends nothing between our SSLRequest and the TLS handshake, so no bytes can
    /// be left in the read buffer; if some are, the peer is not speaking MySQL.
    pub(crate) fn into_parts(self) -> io::Result<(S, PacketCodec)> {
        unreachable_if_buffered(&self.read_buf)?;
        Ok((self.stream, self.codec))
    }

    /// Rebuilds packet I/O over an upgraded stream, continuing the sequence.
    pub(crate) fn from_parts(stream: S, codec: PacketCodec) -> Self {
        PacketIo {
            stream,
            codec,
            read_buf: BytesMut::with_capacity(8 * 1024),
            write_buf: BytesMut::with_capacity(8 * 1024),
        }
    }

    /// Starts a new command: the next packet written has sequence id 0.
    pub(crate) fn reset_sequence(&mut self) {
        self.codec.reset_seq_id();
    }

    /// Writes one packet (split into 16 MiB chunks when larger) and flushes.
    pub(crate) async fn write(&mut self, payload: &[u8]) -> io::Result<()> {
        self.write_buf.clear();
        let mut src = payload;
        self.codec
            .encode(&mut src, &mut self.write_buf)
            .map_err(codec_error)?;
        self.stream.write_all(&self.write_buf).await?;
        self.stream.flush().await?;
        // Keep a large value's buffer from living as long as the connection.
        if self.write_buf.capacity() > 1 << 20 {
            self.write_buf = BytesMut::with_capacity(8 * 1024);
        }
        Ok(())
    }

    /// Reads one packet (joining 16 MiB chunks).
    pub(crate) async fn read(&mut self) -> io::Result<Vec<u8>> {
        let mut packet = Vec::new();
        loop {
            if self
                .codec
                .decode(&mut self.read_buf, &mut packet)
                .map_err(codec_error)?
            {
                return Ok(packet);
            }
            self.read_buf.reserve(8 * 1024);
            if self.stream.read_buf(&mut self.read_buf).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Whether the peer has closed the stream or sent something unasked (an idle connection
    /// the server timed out), found without waiting: a live idle stream has nothing to read.
    pub(crate) fn is_broken_now(&mut self) -> bool {
        if !self.read_buf.is_empty() {
            return true;
        }
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut byte = [0u8; 1];
        let mut buf = ReadBuf::new(&mut byte);
        // Pending means nothing arrived; anything else (data, end of stream, an error) means
        // the connection cannot be trusted with a command.
        std::pin::Pin::new(&mut self.stream)
            .poll_read(&mut cx, &mut buf)
            .is_ready()
    }

    /// Shuts the stream down, ignoring errors (the peer may be gone already).
    pub(crate) async fn shutdown(&mut self) {
        let _ = self.stream.shutdown().await;
    }
}

fn unreachable_if_buffered(buf: &BytesMut) -> io::Result<()> {
    if buf.is_empty() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the server sent data before the TLS handshake",
        ))
    }
}

fn codec_error(e: PacketCodecError) -> io::Error {
    match e {
        PacketCodecError::Io(io) => io,
        PacketCodecError::PacketTooLarge => io::Error::new(
            io::ErrorKind::InvalidInput,
            "packet larger than max-allowed-packet",
        ),
        PacketCodecError::PacketsOutOfSync => {
            io::Error::new(io::ErrorKind::InvalidData, "packets out of sync")
        }
        PacketCodecError::BadCompressedPacketHeader => {
            io::Error::new(io::ErrorKind::InvalidData, "bad compressed packet header")
        }
    }
}
