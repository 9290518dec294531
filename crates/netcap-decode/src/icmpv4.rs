//! Internet Control Message Protocol for IPv4 (RFC 792).
//!
//! Error messages quote the start of the offending packet; that quote is not
//! decoded, so its addresses never show up as records of this packet.

use netcap_schema::IcmPv4;

use crate::util::{be16, clamp, u8_at};
use crate::{need, DecodeError, PacketInfo};

/// Record type name used in errors.
const LAYER: &str = "ICMPv4";

/// Length of the header (type, code, checksum and the 4-byte rest of header).
pub const HEADER_LEN: usize = 8;

/// A zero-copy view of an ICMPv4 message whose 8-byte header is captured.
#[derive(Debug, Clone, Copy)]
pub struct Icmpv4View<'a> {
    buf: &'a [u8],
}

impl<'a> Icmpv4View<'a> {
    /// Wraps `buf`, checking that the 8-byte header is present.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need(LAYER, buf, HEADER_LEN)?;
        Ok(Self { buf })
    }

    /// Message type.
    pub fn msg_type(&self) -> u8 {
        u8_at(self.buf, 0)
    }

    /// Message code.
    pub fn code(&self) -> u8 {
        u8_at(self.buf, 1)
    }

    /// Checksum.
    pub fn checksum(&self) -> u16 {
        be16(self.buf, 2)
    }

    /// Whether bytes 4..8 are an identifier and a sequence number: echo
    /// (0, 8), timestamp (13, 14), information (15, 16) and address mask
    /// (17, 18) requests and replies.
    pub fn has_id_seq(&self) -> bool {
        matches!(self.msg_type(), 0 | 8 | 13..=18)
    }

    /// Identifier, for the types that carry one, else 0.
    pub fn ident(&self) -> u16 {
        if self.has_id_seq() {
            be16(self.buf, 4)
        } else {
            0
        }
    }

    /// Sequence number, for the types that carry one, else 0.
    pub fn seq(&self) -> u16 {
        if self.has_id_seq() {
            be16(self.buf, 6)
        } else {
            0
        }
    }

    /// Header length (8).
    pub fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Bytes after the header (echo data, or the quoted packet of an error).
    pub fn payload(&self) -> &'a [u8] {
        clamp(self.buf, HEADER_LEN, self.buf.len())
    }
}

/// Builds the `ICMPv4` record of `view`.
pub fn record(view: &Icmpv4View<'_>, pkt: &PacketInfo<'_>) -> IcmPv4 {
    IcmPv4 {
        timestamp: pkt.ts_ns,
        type_code: (i32::from(view.msg_type()) << 8) | i32::from(view.code()),
        checksum: i32::from(view.checksum()),
        id: i32::from(view.ident()),
        seq: i32::from(view.seq()),
        packet_number: pkt.number,
        r#type: i32::from(view.msg_type()),
        code: i32::from(view.code()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(b: &[u8]) -> PacketInfo<'_> {
        PacketInfo {
            number: 5,
            ts_ns: 6,
            link_type: 1,
            orig_len: 0,
            data: b,
        }
    }

    #[test]
    fn echo_request() {
        let b = [8, 0, 0xf7, 0xff, 0x12, 0x34, 0x00, 0x07, b'a', b'b'];
        let v = Icmpv4View::new(&b).unwrap();
        let r = record(&v, &pkt(&b));
        assert_eq!((r.r#type, r.code, r.type_code), (8, 0, 0x0800));
        assert_eq!((r.checksum, r.id, r.seq), (0xf7ff, 0x1234, 7));
        assert_eq!((r.timestamp, r.packet_number), (6, 5));
        assert_eq!(v.payload(), b"ab");
    }

    #[test]
    fn error_message_has_no_id() {
        // Port unreachable quoting an IPv4 header.
        let mut b = vec![3, 3, 0xab, 0xcd, 0x11, 0x22, 0x33, 0x44];
        b.extend_from_slice(&[0x45, 0, 0, 28]);
        let r = record(&Icmpv4View::new(&b).unwrap(), &pkt(&b));
        assert_eq!((r.r#type, r.code, r.type_code), (3, 3, 0x0303));
        assert_eq!((r.id, r.seq), (0, 0));
        for t in [13u8, 14, 15, 16, 17, 18] {
            let b = [t, 0, 0, 0, 0, 9, 0, 10];
            let r = record(&Icmpv4View::new(&b).unwrap(), &pkt(&b));
            assert_eq!((r.id, r.seq), (9, 10), "type {t}");
        }
        let b = [11, 1, 0, 0, 0, 9, 0, 10];
        let r = record(&Icmpv4View::new(&b).unwrap(), &pkt(&b));
        assert_eq!((r.type_code, r.id, r.seq), (0x0b01, 0, 0));
    }

    #[test]
    fn truncated() {
        let b = [0u8; 8];
        for n in 0..8 {
            assert_eq!(
                Icmpv4View::new(&b[..n]).unwrap_err(),
                DecodeError::Truncated {
                    layer: "ICMPv4",
                    need: 8,
                    have: n
                }
            );
        }
    }
}
