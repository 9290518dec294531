//! Address Resolution Protocol (RFC 826) for any hardware/protocol pair.

use std::net::{Ipv4Addr, Ipv6Addr};

use netcap_schema::Arp;

use crate::util::{be16, clamp, colon_hex, u8_at};
use crate::{need, DecodeError, PacketInfo};

/// Record type name used in errors.
const LAYER: &str = "ARP";

/// Fixed part: hardware type, protocol type, both sizes, operation.
pub const FIXED_LEN: usize = 8;

/// A zero-copy view of an ARP packet whose addresses are known to be captured.
#[derive(Debug, Clone, Copy)]
pub struct ArpView<'a> {
    buf: &'a [u8],
}

impl<'a> ArpView<'a> {
    /// Wraps `buf`, checking the fixed part and the four addresses it announces.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need(LAYER, buf, FIXED_LEN)?;
        let view = Self { buf };
        need(LAYER, buf, view.header_len())?;
        Ok(view)
    }

    /// Hardware type (1 Ethernet).
    pub fn hardware_type(&self) -> u16 {
        be16(self.buf, 0)
    }

    /// Protocol type (an EtherType, 0x0800 IPv4).
    pub fn protocol_type(&self) -> u16 {
        be16(self.buf, 2)
    }

    /// Hardware address size in bytes.
    pub fn hardware_len(&self) -> u8 {
        u8_at(self.buf, 4)
    }

    /// Protocol address size in bytes.
    pub fn protocol_len(&self) -> u8 {
        u8_at(self.buf, 5)
    }

    /// Operation (1 request, 2 reply, ...).
    pub fn operation(&self) -> u16 {
        be16(self.buf, 6)
    }

    /// Length of the packet: fixed part plus two of each address.
    pub fn header_len(&self) -> usize {
        let h = usize::from(self.hardware_len());
        let p = usize::from(self.protocol_len());
        FIXED_LEN + 2 * h + 2 * p
    }

    /// Sender hardware address.
    pub fn sender_hw(&self) -> &'a [u8] {
        let start = FIXED_LEN;
        clamp(self.buf, start, start + usize::from(self.hardware_len()))
    }

    /// Sender protocol address.
    pub fn sender_proto(&self) -> &'a [u8] {
        let start = FIXED_LEN + usize::from(self.hardware_len());
        clamp(self.buf, start, start + usize::from(self.protocol_len()))
    }

    /// Target hardware address.
    pub fn target_hw(&self) -> &'a [u8] {
        let start = FIXED_LEN + usize::from(self.hardware_len()) + usize::from(self.protocol_len());
        clamp(self.buf, start, start + usize::from(self.hardware_len()))
    }

    /// Target protocol address.
    pub fn target_proto(&self) -> &'a [u8] {
        let start =
            FIXED_LEN + 2 * usize::from(self.hardware_len()) + usize::from(self.protocol_len());
        clamp(self.buf, start, start + usize::from(self.protocol_len()))
    }

    /// Bytes after the packet (Ethernet padding, usually).
    pub fn payload(&self) -> &'a [u8] {
        clamp(self.buf, self.header_len(), self.buf.len())
    }

    /// Text of a protocol address: IP notation where the size says which IP,
    /// hex otherwise.
    fn proto_text(&self, addr: &[u8]) -> String {
        if self.protocol_type() == 0x0800 {
            if let Ok(a) = <[u8; 4]>::try_from(addr) {
                return Ipv4Addr::from(a).to_string();
            }
        }
        if let Ok(a) = <[u8; 16]>::try_from(addr) {
            return Ipv6Addr::from(a).to_string();
        }
        colon_hex(addr)
    }
}

/// Builds the `ARP` record of `view`.
///
/// Hardware addresses are colon hex in every case (for 6 bytes that is MAC
/// notation), so one rule covers Ethernet and other hardware types.
pub fn record(view: &ArpView<'_>, pkt: &PacketInfo<'_>) -> Arp {
    Arp {
        timestamp: pkt.ts_ns,
        addr_type: i32::from(view.hardware_type()),
        protocol: i32::from(view.protocol_type()),
        hw_address_size: i32::from(view.hardware_len()),
        prot_address_size: i32::from(view.protocol_len()),
        operation: i32::from(view.operation()),
        src_hw_address: colon_hex(view.sender_hw()),
        src_prot_address: view.proto_text(view.sender_proto()),
        dst_hw_address: colon_hex(view.target_hw()),
        dst_prot_address: view.proto_text(view.target_proto()),
        packet_number: pkt.number,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, // Ethernet/IPv4 request
        0x00, 0x1b, 0x21, 0x3c, 0x9d, 0xf8, 192, 168, 1, 10, // sender
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 192, 168, 1, 1, // target
    ];

    fn pkt(b: &[u8]) -> PacketInfo<'_> {
        PacketInfo {
            number: 1,
            ts_ns: 7,
            link_type: 1,
            orig_len: 60,
            data: b,
        }
    }

    #[test]
    fn ethernet_ipv4_request() {
        let v = ArpView::new(&REQUEST).unwrap();
        let r = record(&v, &pkt(&REQUEST));
        assert_eq!(
            (
                r.addr_type,
                r.protocol,
                r.hw_address_size,
                r.prot_address_size
            ),
            (1, 0x800, 6, 4)
        );
        assert_eq!(r.operation, 1);
        assert_eq!(r.src_hw_address, "00:1b:21:3c:9d:f8");
        assert_eq!(r.src_prot_address, "192.168.1.10");
        assert_eq!(r.dst_hw_address, "00:00:00:00:00:00");
        assert_eq!(r.dst_prot_address, "192.168.1.1");
        assert_eq!((r.timestamp, r.packet_number), (7, 1));
        assert!(v.payload().is_empty());
    }

    #[test]
    fn odd_sizes() {
        // 2-byte hardware addresses, 16-byte protocol addresses, 3-byte ones.
        let mut b = vec![0x00, 0x06, 0x86, 0xdd, 2, 16, 0x00, 0x02];
        b.extend_from_slice(&[0xaa, 0xbb]);
        b.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        b.extend_from_slice(&[0xcc, 0xdd]);
        b.extend_from_slice(&"fe80::1".parse::<Ipv6Addr>().unwrap().octets());
        let r = record(&ArpView::new(&b).unwrap(), &pkt(&b));
        assert_eq!(r.src_hw_address, "aa:bb");
        assert_eq!(r.src_prot_address, "::1");
        assert_eq!(r.dst_hw_address, "cc:dd");
        assert_eq!(r.dst_prot_address, "fe80::1");

        let b = [0, 1, 0x12, 0x34, 0, 3, 0, 2, 1, 2, 3, 0xa, 0xb, 0xc];
        let r = record(&ArpView::new(&b).unwrap(), &pkt(&b));
        assert_eq!(
            (r.src_hw_address.as_str(), r.src_prot_address.as_str()),
            ("", "01:02:03")
        );
        assert_eq!(r.dst_prot_address, "0a:0b:0c");
        // 4-byte protocol addresses of a non-IPv4 protocol stay hex.
        let b = [0, 1, 0x12, 0x34, 0, 4, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8];
        let r = record(&ArpView::new(&b).unwrap(), &pkt(&b));
        assert_eq!(r.src_prot_address, "01:02:03:04");
    }

    #[test]
    fn every_truncation_is_an_error() {
        for n in 0..REQUEST.len() {
            let need = if n < 8 { 8 } else { 28 };
            assert_eq!(
                ArpView::new(&REQUEST[..n]).unwrap_err(),
                DecodeError::Truncated {
                    layer: "ARP",
                    need,
                    have: n
                }
            );
        }
        // Maximum sizes do not overflow.
        let mut b = vec![0, 1, 8, 0, 255, 255, 0, 1];
        assert_eq!(
            ArpView::new(&b).unwrap_err(),
            DecodeError::Truncated {
                layer: "ARP",
                need: 8 + 2 * 255 + 2 * 255,
                have: 8
            }
        );
        b.resize(8 + 4 * 255, 0x11);
        let r = record(&ArpView::new(&b).unwrap(), &pkt(&b));
        assert_eq!(r.src_prot_address.len(), 255 * 3 - 1);
    }
}
