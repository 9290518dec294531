//! Internet Protocol version 4 (RFC 791).

use std::net::Ipv4Addr;

use netcap_schema::IPv4;

use crate::util::{
    array_at, be16, clamp, entropy_if, fill_tlv_options, ipv4_text_into, size_i32, u8_at,
};
use crate::{need, DecodeError, DecodeOptions, PacketInfo};

/// Record type name used in errors.
const LAYER: &str = "IPv4";

/// Length of a header without options.
pub const MIN_HEADER_LEN: usize = 20;

/// Flag bit: more fragments follow.
pub const FLAG_MORE_FRAGMENTS: u8 = 0b001;
/// Flag bit: don't fragment.
pub const FLAG_DONT_FRAGMENT: u8 = 0b010;

/// A zero-copy view of an IPv4 packet whose header (options included) is
/// captured and whose version, header length and total length are consistent.
#[derive(Debug, Clone, Copy)]
pub struct Ipv4View<'a> {
    buf: &'a [u8],
}

impl<'a> Ipv4View<'a> {
    /// Wraps `buf`: version 4, IHL >= 5 and Total Length covering the header
    /// (or 0, which segmentation offload leaves in captures) else `Invalid`;
    /// header not fully captured else `Truncated`.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        // Look at the first byte before demanding 20: a non-IPv4 packet should be
        // reported as such, not as a short IPv4 header.
        need(LAYER, buf, 1)?;
        let view = Self { buf };
        if view.version() != 4 {
            return Err(DecodeError::Invalid {
                layer: LAYER,
                field: "Version",
            });
        }
        if view.ihl() < 5 {
            return Err(DecodeError::Invalid {
                layer: LAYER,
                field: "IHL",
            });
        }
        need(LAYER, buf, view.header_len())?;
        let total = usize::from(view.total_len());
        if total != 0 && total < view.header_len() {
            return Err(DecodeError::Invalid {
                layer: LAYER,
                field: "Length",
            });
        }
        Ok(view)
    }

    /// IP version (4).
    pub fn version(&self) -> u8 {
        u8_at(self.buf, 0) >> 4
    }

    /// Header length in 32-bit words.
    pub fn ihl(&self) -> u8 {
        u8_at(self.buf, 0) & 0x0f
    }

    /// Header length in bytes.
    pub fn header_len(&self) -> usize {
        usize::from(self.ihl()) * 4
    }

    /// Type of service byte (DSCP and ECN).
    pub fn tos(&self) -> u8 {
        u8_at(self.buf, 1)
    }

    /// Total Length field.
    pub fn total_len(&self) -> u16 {
        be16(self.buf, 2)
    }

    /// Identification.
    pub fn ident(&self) -> u16 {
        be16(self.buf, 4)
    }

    /// The three flag bits (reserved, DF, MF).
    pub fn flags(&self) -> u8 {
        u8_at(self.buf, 6) >> 5
    }

    /// Fragment offset in units of 8 bytes.
    pub fn frag_offset(&self) -> u16 {
        be16(self.buf, 6) & 0x1fff
    }

    /// Whether this is a fragment other than the first: its data continues an
    /// upper-layer packet whose header is elsewhere.
    pub fn is_later_fragment(&self) -> bool {
        self.frag_offset() != 0
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        u8_at(self.buf, 8)
    }

    /// Protocol of the payload.
    pub fn protocol(&self) -> u8 {
        u8_at(self.buf, 9)
    }

    /// Header checksum.
    pub fn checksum(&self) -> u16 {
        be16(self.buf, 10)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(array_at::<4>(self.buf, 12))
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(array_at::<4>(self.buf, 16))
    }

    /// The options area of the header.
    pub fn options(&self) -> &'a [u8] {
        clamp(self.buf, MIN_HEADER_LEN, self.header_len())
    }

    /// Captured payload: from the header end to Total Length (which drops
    /// Ethernet padding) or to the end of the capture if that comes first.
    /// With Total Length 0 (offloaded segments) the rest of the capture.
    pub fn payload(&self) -> &'a [u8] {
        let end = match self.total_len() {
            0 => self.buf.len(),
            t => usize::from(t),
        };
        clamp(self.buf, self.header_len(), end)
    }

    /// Payload length on the wire: Total Length minus the header, or the
    /// captured payload length when Total Length is 0.
    pub fn payload_size(&self) -> usize {
        match self.total_len() {
            0 => self.payload().len(),
            t => usize::from(t).saturating_sub(self.header_len()),
        }
    }
}

/// Builds the `IPv4` record of `view`.
pub fn record(view: &Ipv4View<'_>, pkt: &PacketInfo<'_>, opts: &DecodeOptions) -> IPv4 {
    let mut rec = IPv4::default();
    fill_record(&mut rec, view, pkt, opts);
    rec
}

/// [`record`] into `rec`, reusing the memory of its strings and options.
pub fn fill_record(
    rec: &mut IPv4,
    view: &Ipv4View<'_>,
    pkt: &PacketInfo<'_>,
    opts: &DecodeOptions,
) {
    let mut src_ip = std::mem::take(&mut rec.src_ip);
    let mut dst_ip = std::mem::take(&mut rec.dst_ip);
    let mut options = std::mem::take(&mut rec.options);
    let mut padding = std::mem::take(&mut rec.padding);
    ipv4_text_into(&mut src_ip, view.src_addr().octets());
    ipv4_text_into(&mut dst_ip, view.dst_addr().octets());
    fill_tlv_options(&mut options, &mut padding, view.options());
    *rec = IPv4 {
        timestamp: pkt.ts_ns,
        version: i32::from(view.version()),
        ihl: i32::from(view.ihl()),
        tos: i32::from(view.tos()),
        length: i32::from(view.total_len()),
        id: i32::from(view.ident()),
        flags: i32::from(view.flags()),
        frag_offset: i32::from(view.frag_offset()),
        ttl: i32::from(view.ttl()),
        protocol: i32::from(view.protocol()),
        checksum: i32::from(view.checksum()),
        src_ip,
        dst_ip,
        padding,
        options,
        payload_entropy: entropy_if(opts, view.payload()),
        payload_size: size_i32(view.payload_size()),
        packet_number: pkt.number,
        ..Default::default()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 24-byte header with a Router Alert option, 4 payload bytes, 2 bytes of
    /// Ethernet padding after Total Length.
    const PKT: [u8; 30] = [
        0x46,
        0xb8,
        0x00,
        28,
        0x12,
        0x34,
        0x20 | 0x01,
        0x02,
        64,
        17,
        0xbe,
        0xef, // MF, offset 0x102
        10,
        0,
        0,
        1,
        192,
        168,
        0,
        255, // addresses
        148,
        4,
        0,
        0, // router alert
        1,
        2,
        3,
        4, // payload
        0xee,
        0xee, // padding beyond Total Length
    ];

    fn pkt(b: &[u8]) -> PacketInfo<'_> {
        PacketInfo {
            number: 2,
            ts_ns: 99,
            link_type: 228,
            orig_len: 30,
            data: b,
        }
    }

    #[test]
    fn header_fields() {
        let v = Ipv4View::new(&PKT).unwrap();
        let r = record(
            &v,
            &pkt(&PKT),
            &DecodeOptions {
                entropy: true,
                ..DecodeOptions::default()
            },
        );
        assert_eq!(
            (r.version, r.ihl, r.tos, r.length, r.id),
            (4, 6, 0xb8, 28, 0x1234)
        );
        assert_eq!((r.flags, r.frag_offset), (1, 0x102));
        assert_eq!((r.ttl, r.protocol, r.checksum), (64, 17, 0xbeef));
        assert_eq!(
            (r.src_ip.as_str(), r.dst_ip.as_str()),
            ("10.0.0.1", "192.168.0.255")
        );
        assert_eq!(r.options.len(), 1);
        assert_eq!(
            (r.options[0].option_type, r.options[0].option_length),
            (148, 4)
        );
        assert_eq!(r.options[0].option_data, vec![0, 0]);
        assert!(r.padding.is_empty());
        assert_eq!(r.payload_size, 4);
        assert!((r.payload_entropy - 2.0).abs() < 1e-12);
        assert_eq!((r.timestamp, r.packet_number), (99, 2));
        assert_eq!(v.payload(), &[1, 2, 3, 4]);
        assert!(v.is_later_fragment());
    }

    #[test]
    fn eol_then_padding_and_nop() {
        let mut b = PKT;
        b[0] = 0x47; // IHL 7
        b[3] = 28;
        b[20..28].copy_from_slice(&[1, 0, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
        let r = record(
            &Ipv4View::new(&b).unwrap(),
            &pkt(&b),
            &DecodeOptions::default(),
        );
        assert_eq!(r.options.len(), 2);
        assert_eq!(
            (r.options[0].option_type, r.options[0].option_length),
            (1, 1)
        );
        assert_eq!(
            (r.options[1].option_type, r.options[1].option_length),
            (0, 1)
        );
        assert_eq!(r.padding, vec![0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
        assert_eq!(r.payload_size, 0);
        assert_eq!(r.payload_entropy, 0.0);
    }

    #[test]
    fn bad_option_length_is_padding() {
        let mut b = PKT;
        b[20..24].copy_from_slice(&[7, 9, 4, 0]); // record route longer than the header
        let r = record(
            &Ipv4View::new(&b).unwrap(),
            &pkt(&b),
            &DecodeOptions::default(),
        );
        assert!(r.options.is_empty());
        assert_eq!(r.padding, vec![7, 9, 4, 0]);
    }

    #[test]
    fn invalid_fields() {
        let mut b = PKT;
        b[0] = 0x65;
        assert_eq!(
            Ipv4View::new(&b).unwrap_err(),
            DecodeError::Invalid {
                layer: "IPv4",
                field: "Version"
            }
        );
        b[0] = 0x44;
        assert_eq!(
            Ipv4View::new(&b).unwrap_err(),
            DecodeError::Invalid {
                layer: "IPv4",
                field: "IHL"
            }
        );
        b[0] = 0x46;
        b[3] = 23;
        assert_eq!(
            Ipv4View::new(&b).unwrap_err(),
            DecodeError::Invalid {
                layer: "IPv4",
                field: "Length"
            }
        );
    }

    #[test]
    fn total_length_zero_and_snap() {
        let mut b = PKT;
        b[3] = 0;
        let v = Ipv4View::new(&b).unwrap();
        assert_eq!(v.payload().len(), 6);
        assert_eq!(v.payload_size(), 6);
        // Total Length beyond the capture: payload is what was captured, size
        // is from the header.
        let mut b = PKT;
        b[2] = 0x05;
        let v = Ipv4View::new(&b).unwrap();
        assert_eq!(v.payload().len(), 6);
        assert_eq!(v.payload_size(), 0x51c - 24);
    }

    #[test]
    fn every_truncation() {
        for n in 0..24 {
            let need = if n == 0 { 1 } else { 24 };
            assert_eq!(
                Ipv4View::new(&PKT[..n]).unwrap_err(),
                DecodeError::Truncated {
                    layer: "IPv4",
                    need,
                    have: n
                }
            );
        }
        for n in 24..=PKT.len() {
            let v = Ipv4View::new(&PKT[..n]).unwrap();
            assert_eq!(v.payload().len(), (n - 24).min(4));
            assert_eq!(v.payload_size(), 4);
        }
    }
}
