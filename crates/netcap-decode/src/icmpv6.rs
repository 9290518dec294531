//! Internet Control Message Protocol for IPv6 (RFC 4443).
//!
//! Only the common header is recorded; message bodies (neighbor discovery,
//! MLD, quoted packets of errors) are left undecoded.

use netcap_schema::IcmPv6;

use crate::util::{be16, clamp, u8_at};
use crate::{need, DecodeError, PacketInfo};

/// Record type name used in errors.
const LAYER: &str = "ICMPv6";

/// Length of the common header (type, code, checksum).
pub const HEADER_LEN: usize = 4;

/// A zero-copy view of an ICMPv6 message whose common header is captured.
#[derive(Debug, Clone, Copy)]
pub struct Icmpv6View<'a> {
    buf: &'a [u8],
}

impl<'a> Icmpv6View<'a> {
    /// Wraps `buf`, checking that the 4-byte common header is present.
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

    /// Header length (4).
    pub fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Message body after the common header.
    pub fn payload(&self) -> &'a [u8] {
        clamp(self.buf, HEADER_LEN, self.buf.len())
    }
}

/// Builds the `ICMPv6` record of `view`.
pub fn record(view: &Icmpv6View<'_>, pkt: &PacketInfo<'_>) -> IcmPv6 {
    IcmPv6 {
        timestamp: pkt.ts_ns,
        type_code: (i32::from(view.msg_type()) << 8) | i32::from(view.code()),
        checksum: i32::from(view.checksum()),
        packet_number: pkt.number,
        r#type: i32::from(view.msg_type()),
        code: i32::from(view.code()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbor_solicitation() {
        let b = [135, 0, 0x12, 0x34, 0, 0, 0, 0];
        let v = Icmpv6View::new(&b).unwrap();
        let pkt = PacketInfo {
            number: 8,
            ts_ns: 1,
            link_type: 1,
            orig_len: 0,
            data: &b,
        };
        let r = record(&v, &pkt);
        assert_eq!(
            (r.r#type, r.code, r.type_code, r.checksum),
            (135, 0, 0x8700, 0x1234)
        );
        assert_eq!((r.timestamp, r.packet_number), (1, 8));
        assert_eq!(v.payload(), &[0, 0, 0, 0]);
        let b = [1, 4, 0xff, 0xff];
        let r = record(&Icmpv6View::new(&b).unwrap(), &pkt);
        assert_eq!((r.type_code, r.checksum), (0x0104, 0xffff));
    }

    #[test]
    fn truncated() {
        for n in 0..4 {
            assert_eq!(
                Icmpv6View::new(&[0u8; 3][..n]).unwrap_err(),
                DecodeError::Truncated {
                    layer: "ICMPv6",
                    need: 4,
                    have: n
                }
            );
        }
    }
}
