//! Ethernet II / IEEE 802.3 frames (link type 1).

use netcap_schema::Ethernet;

use crate::util::{array_at, be16, clamp, colon_hex_into, entropy_if, size_i32};
use crate::{need, DecodeError, DecodeOptions, PacketInfo};

/// Record type name used in errors.
const LAYER: &str = "Ethernet";

/// Length of the Ethernet header (destination, source, EtherType).
pub const HEADER_LEN: usize = 14;

/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// Reverse ARP (RFC 903): the ARP message format with operations 3 and 4.
pub const ETHERTYPE_RARP: u16 = 0x8035;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// TPID of an IEEE 802.1Q customer VLAN tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// TPID of an IEEE 802.1ad service VLAN tag (QinQ).
pub const ETHERTYPE_QINQ: u16 = 0x88a8;
/// Pre-standard QinQ TPID still used by some switches.
pub const ETHERTYPE_QINQ_OLD: u16 = 0x9100;

/// A zero-copy view of an Ethernet frame whose header is known to be captured.
#[derive(Debug, Clone, Copy)]
pub struct EthernetView<'a> {
    buf: &'a [u8],
}

impl<'a> EthernetView<'a> {
    /// Wraps `buf`, checking that the 14-byte header is present.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need(LAYER, buf, HEADER_LEN)?;
        Ok(Self { buf })
    }

    /// Destination MAC address.
    pub fn dst(&self) -> [u8; 6] {
        array_at(self.buf, 0)
    }

    /// Source MAC address.
    pub fn src(&self) -> [u8; 6] {
        array_at(self.buf, 6)
    }

    /// EtherType, or the 802.3 length when below 0x0600.
    pub fn ether_type(&self) -> u16 {
        be16(self.buf, 12)
    }

    /// Header length (always 14).
    pub fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Captured bytes after the header.
    pub fn payload(&self) -> &'a [u8] {
        clamp(self.buf, HEADER_LEN, self.buf.len())
    }
}

/// Builds the `Ethernet` record of `view`, a frame of `pkt`.
///
/// `PayloadSize` is the wire length minus the header, so a snap length does not
/// shrink it; it includes any trailer or padding like tshark's `eth` payload.
pub fn record(view: &EthernetView<'_>, pkt: &PacketInfo<'_>, opts: &DecodeOptions) -> Ethernet {
    let mut rec = Ethernet::default();
    fill_record(&mut rec, view, pkt, opts);
    rec
}

/// [`record`] into `rec`, reusing the memory of its strings.
pub fn fill_record(
    rec: &mut Ethernet,
    view: &EthernetView<'_>,
    pkt: &PacketInfo<'_>,
    opts: &DecodeOptions,
) {
    let wire = usize::try_from(pkt.orig_len).unwrap_or(usize::MAX);
    let mut src_mac = std::mem::take(&mut rec.src_mac);
    let mut dst_mac = std::mem::take(&mut rec.dst_mac);
    colon_hex_into(&mut src_mac, &view.src());
    colon_hex_into(&mut dst_mac, &view.dst());
    *rec = Ethernet {
        timestamp: pkt.ts_ns,
        src_mac,
        dst_mac,
        ethernet_type: i32::from(view.ether_type()),
        payload_entropy: entropy_if(opts, view.payload()),
        payload_size: size_i32(wire.saturating_sub(HEADER_LEN)),
        packet_number: pkt.number,
        ..Default::default()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: [u8; 16] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // dst
        0x00, 0x1b, 0x21, 0x3c, 0x9d, 0xf8, // src
        0x08, 0x06, // ARP
        0xab, 0xab,
    ];

    #[test]
    fn decodes_header() {
        let v = EthernetView::new(&FRAME).unwrap();
        let pkt = PacketInfo {
            number: 3,
            ts_ns: 42,
            link_type: 1,
            orig_len: 60,
            data: &FRAME,
        };
        let r = record(
            &v,
            &pkt,
            &DecodeOptions {
                entropy: true,
                ..DecodeOptions::default()
            },
        );
        assert_eq!(r.dst_mac, "ff:ff:ff:ff:ff:ff");
        assert_eq!(r.src_mac, "00:1b:21:3c:9d:f8");
        assert_eq!(r.ethernet_type, 0x0806);
        assert_eq!(r.payload_size, 46);
        assert_eq!(r.payload_entropy, 0.0); // two equal bytes
        assert_eq!(r.timestamp, 42);
        assert_eq!(r.packet_number, 3);
        assert_eq!(v.payload(), &[0xab, 0xab]);
        assert_eq!(v.header_len(), 14);
    }

    #[test]
    fn truncated() {
        for n in 0..HEADER_LEN {
            assert_eq!(
                EthernetView::new(&FRAME[..n]).unwrap_err(),
                DecodeError::Truncated {
                    layer: "Ethernet",
                    need: 14,
                    have: n
                }
            );
        }
        let v = EthernetView::new(&FRAME[..14]).unwrap();
        assert!(v.payload().is_empty());
        // orig_len smaller than the header (broken capture) saturates to 0.
        let pkt = PacketInfo {
            number: 1,
            ts_ns: 0,
            link_type: 1,
            orig_len: 3,
            data: &FRAME,
        };
        assert_eq!(record(&v, &pkt, &DecodeOptions::default()).payload_size, 0);
    }
}
