//! User Datagram Protocol (RFC 768).

use netcap_schema::Udp;

use crate::util::{be16, clamp, entropy_if, size_i32};
use crate::{need, DecodeError, DecodeOptions, PacketInfo};

/// Record type name used in errors.
const LAYER: &str = "UDP";

/// Length of the header.
pub const HEADER_LEN: usize = 8;

/// A zero-copy view of a UDP datagram whose header is captured.
#[derive(Debug, Clone, Copy)]
pub struct UdpView<'a> {
    buf: &'a [u8],
}

impl<'a> UdpView<'a> {
    /// Wraps `buf`, checking that the 8-byte header is present.
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

    /// Length field (header included).
    pub fn len(&self) -> u16 {
        be16(self.buf, 4)
    }

    /// Whether the Length field says the datagram has no payload.
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= HEADER_LEN
    }

    /// Checksum.
    pub fn checksum(&self) -> u16 {
        be16(self.buf, 6)
    }

    /// Header length (8).
    pub fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Captured payload up to the Length field; a Length below 8 (0 in
    /// jumbograms and offloaded captures) cannot bound it, so then the rest of
    /// the capture.
    pub fn payload(&self) -> &'a [u8] {
        let len = usize::from(self.len());
        let end = if len >= HEADER_LEN {
            len
        } else {
            self.buf.len()
        };
        clamp(self.buf, HEADER_LEN, end)
    }

    /// Payload length: from the Length field when usable, else as captured.
    pub fn payload_size(&self) -> usize {
        let len = usize::from(self.len());
        if len >= HEADER_LEN {
            len - HEADER_LEN
        } else {
            self.payload().len()
        }
    }
}

/// Builds the `UDP` record of `view`.
pub fn record(view: &UdpView<'_>, pkt: &PacketInfo<'_>, opts: &DecodeOptions) -> Udp {
    Udp {
        timestamp: pkt.ts_ns,
        src_port: i32::from(view.src_port()),
        dst_port: i32::from(view.dst_port()),
        length: i32::from(view.len()),
        checksum: i32::from(view.checksum()),
        payload_entropy: entropy_if(opts, view.payload()),
        payload_size: size_i32(view.payload_size()),
        packet_number: pkt.number,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DNS: [u8; 14] = [
        0xd4, 0x31, 0x00, 0x35, 0x00, 12, 0x8a, 0x9b, 1, 2, 3, 4, 0xee, 0xee,
    ];

    fn pkt(b: &[u8]) -> PacketInfo<'_> {
        PacketInfo {
            number: 3,
            ts_ns: 4,
            link_type: 1,
            orig_len: 0,
            data: b,
        }
    }

    #[test]
    fn header_and_bounded_payload() {
        let v = UdpView::new(&DNS).unwrap();
        let r = record(
            &v,
            &pkt(&DNS),
            &DecodeOptions {
                entropy: true,
                ..DecodeOptions::default()
            },
        );
        assert_eq!(
            (r.src_port, r.dst_port, r.length, r.checksum),
            (0xd431, 53, 12, 0x8a9b)
        );
        assert_eq!(r.payload_size, 4);
        assert!((r.payload_entropy - 2.0).abs() < 1e-12);
        assert_eq!((r.timestamp, r.packet_number), (4, 3));
        assert_eq!(v.payload(), &[1, 2, 3, 4]);
        assert!(!v.is_empty());
    }

    #[test]
    fn odd_lengths() {
        let mut b = DNS;
        b[5] = 0; // jumbogram / offload
        let v = UdpView::new(&b).unwrap();
        assert_eq!((v.payload().len(), v.payload_size()), (6, 6));
        b[5] = 3; // impossible length
        assert_eq!(UdpView::new(&b).unwrap().payload_size(), 6);
        b[4] = 0x10; // longer than captured
        let v = UdpView::new(&b).unwrap();
        assert_eq!((v.payload().len(), v.payload_size()), (6, 0x1003 - 8));
        b[4] = 0;
        b[5] = 8;
        let v = UdpView::new(&b).unwrap();
        assert!(v.is_empty());
        assert_eq!((v.payload().len(), v.payload_size()), (0, 0));
    }

    #[test]
    fn truncated() {
        for n in 0..8 {
            assert_eq!(
                UdpView::new(&DNS[..n]).unwrap_err(),
                DecodeError::Truncated {
                    layer: "UDP",
                    need: 8,
                    have: n
                }
            );
        }
    }
}
