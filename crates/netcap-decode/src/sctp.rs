//! Stream Control Transmission Protocol (RFC 9260), IP protocol 132.

use netcap_schema::{Sctp, SctpChunk};

use crate::util::{be16, be32, clamp, u8_at};
use crate::{need, DecodeError, PacketInfo};

/// Record type name used in errors.
const LAYER: &str = "SCTP";

/// Length of the common header.
pub const HEADER_LEN: usize = 12;

/// Most chunks decoded from one packet (each is at least 4 bytes).
pub const MAX_CHUNKS: usize = 4096;

/// Chunk types with decoded fields.
mod chunk {
    pub const DATA: u8 = 0;
    pub const INIT: u8 = 1;
    pub const INIT_ACK: u8 = 2;
    pub const SACK: u8 = 3;
    pub const SHUTDOWN: u8 = 7;
}

/// A zero-copy view of an SCTP packet whose common header is captured.
#[derive(Debug, Clone, Copy)]
pub struct SctpView<'a> {
    buf: &'a [u8],
}

/// One chunk: its header fields and its value (after the 4-byte header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// Chunk type.
    pub kind: u8,
    /// Chunk flags.
    pub flags: u8,
    /// Length field (header included, padding excluded).
    pub len: u16,
    /// Captured value bytes (may be fewer than the length says).
    pub value: &'a [u8],
}

impl<'a> SctpView<'a> {
    /// Wraps `buf`, checking that the 12-byte common header is present.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need(LAYER, buf, HEADER_LEN)?;
        Ok(Self { buf })
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(self.buf, 0)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.buf, 2)
    }

    /// Verification tag.
    pub fn verification_tag(&self) -> u32 {
        be32(self.buf, 4)
    }

    /// CRC32c checksum.
    pub fn checksum(&self) -> u32 {
        be32(self.buf, 8)
    }

    /// The chunks; stops at a length below 4 (unusable) and after a chunk
    /// cut short by the capture.
    pub fn chunks(&self) -> impl Iterator<Item = Chunk<'a>> {
        let mut rest = clamp(self.buf, HEADER_LEN, self.buf.len());
        std::iter::from_fn(move || {
            if rest.len() < 4 {
                return None;
            }
            let len = be16(rest, 2);
            let l = usize::from(len);
            if l < 4 {
                return None;
            }
            let c = Chunk {
                kind: u8_at(rest, 0),
                flags: u8_at(rest, 1),
                len,
                value: clamp(rest, 4, l),
            };
            // Chunks are padded to a multiple of 4 bytes.
            let padded = l.saturating_add(3) & !3;
            rest = clamp(rest, padded, rest.len());
            Some(c)
        })
        .take(MAX_CHUNKS)
    }
}

/// Builds the record form of one chunk.
pub fn chunk_record(c: &Chunk<'_>) -> SctpChunk {
    let v = c.value;
    let mut r = SctpChunk {
        r#type: i32::from(c.kind),
        flags: i32::from(c.flags),
        length: i32::from(c.len),
        ..Default::default()
    };
    match c.kind {
        chunk::DATA => {
            r.tsn = be32(v, 0);
            r.stream_id = i32::from(be16(v, 4));
            r.stream_sequence = i32::from(be16(v, 6));
            r.payload_protocol = be32(v, 8);
            r.payload_length = i32::from(c.len.saturating_sub(16));
        }
        chunk::INIT | chunk::INIT_ACK => {
            r.initiate_tag = be32(v, 0);
            r.advertised_receiver_window = be32(v, 4);
            r.outbound_streams = i32::from(be16(v, 8));
            r.inbound_streams = i32::from(be16(v, 10));
            r.initial_tsn = be32(v, 12);
        }
        chunk::SACK => {
            r.cumulative_tsn_ack = be32(v, 0);
            r.advertised_receiver_window = be32(v, 4);
            r.num_gap_blocks = i32::from(be16(v, 8));
            r.num_duplicate_ts_ns = i32::from(be16(v, 10));
        }
        chunk::SHUTDOWN => r.cumulative_tsn_ack = be32(v, 0),
        _ => {}
    }
    r
}

/// Builds the `SCTP` record of `view`.
pub fn record(view: &SctpView<'_>, pkt: &PacketInfo<'_>) -> Sctp {
    Sctp {
        timestamp: pkt.ts_ns,
        src_port: i32::from(view.src_port()),
        dst_port: i32::from(view.dst_port()),
        verification_tag: view.verification_tag(),
        checksum: view.checksum(),
        packet_number: pkt.number,
        chunks: view.chunks().map(|c| chunk_record(&c)).collect(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::l3test::{decode_file, pkt};

    #[test]
    fn header_and_chunks() {
        let mut b = vec![0x84, 0xc1, 0x1a, 0x30, 0, 0, 0, 0, 0x25, 0x9e, 0xf4, 0x3f];
        // INIT
        b.extend_from_slice(&[1, 0, 0, 20, 0x94, 0xd0, 0x21, 0x98, 0, 1, 0, 0]);
        b.extend_from_slice(&[0, 10, 0, 11, 0, 0, 0, 5]);
        // DATA with 3 bytes of payload, padded
        b.extend_from_slice(&[0, 3, 0, 19, 0, 0, 0, 9, 0, 2, 0, 7, 0, 0, 0, 3]);
        b.extend_from_slice(&[b'a', b'b', b'c', 0]);
        // SACK
        b.extend_from_slice(&[3, 0, 0, 16, 0, 0, 0, 9, 0, 1, 0, 0, 0, 1, 0, 2]);
        // bad length: stops
        b.extend_from_slice(&[9, 0, 0, 2]);
        let v = SctpView::new(&b).unwrap();
        let r = record(&v, &pkt(&b));
        assert_eq!((r.src_port, r.dst_port), (33985, 6704));
        assert_eq!((r.verification_tag, r.checksum), (0, 0x259e_f43f));
        let kinds: Vec<_> = r.chunks.iter().map(|c| (c.r#type, c.length)).collect();
        assert_eq!(kinds, [(1, 20), (0, 19), (3, 16)]);
        let i = &r.chunks[0];
        assert_eq!(
            (
                i.initiate_tag,
                i.advertised_receiver_window,
                i.outbound_streams
            ),
            (0x94d0_2198, 65536, 10)
        );
        assert_eq!((i.inbound_streams, i.initial_tsn), (11, 5));
        let d = &r.chunks[1];
        assert_eq!(
            (d.flags, d.tsn, d.stream_id, d.stream_sequence),
            (3, 9, 2, 7)
        );
        assert_eq!((d.payload_protocol, d.payload_length), (3, 3));
        let s = &r.chunks[2];
        assert_eq!(
            (
                s.cumulative_tsn_ack,
                s.num_gap_blocks,
                s.num_duplicate_ts_ns
            ),
            (9, 1, 2)
        );
        assert!(SctpView::new(&b[..11]).is_err());
    }

    #[test]
    fn capture() {
        // tshark frame 1: 33985 → 6704, tag 0, checksum 0x259ef43f, INIT
        // (length 36) with initiate tag 0x94d02198; frame 3: DATA, length 232.
        let f = decode_file("sctp-forces-sll.pcap");
        let r = f[0].1.first::<Sctp>();
        assert_eq!(
            (r.src_port, r.dst_port, r.checksum),
            (33985, 6704, 0x259e_f43f)
        );
        assert_eq!(
            (
                r.chunks[0].r#type,
                r.chunks[0].length,
                r.chunks[0].initiate_tag
            ),
            (1, 36, 0x94d0_2198)
        );
        let r = f[2].1.first::<Sctp>();
        assert_eq!((r.chunks[0].r#type, r.chunks[0].length), (10, 232));
    }
}
