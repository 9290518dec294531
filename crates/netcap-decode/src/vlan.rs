//! IEEE 802.1Q / 802.1ad VLAN tags.
//!
//! The tag protocol identifier (TPID) is the EtherType that precedes the tag, so
//! the view covers the 4 bytes after it: tag control information and the
//! EtherType of what follows.

use netcap_schema::Dot1Q;

use crate::util::{be16, clamp};
use crate::{need, DecodeError, PacketInfo};

/// Record type name used in errors.
const LAYER: &str = "Dot1Q";

/// Length of a tag after its TPID.
pub const HEADER_LEN: usize = 4;

/// A zero-copy view of one VLAN tag (TCI and inner EtherType).
#[derive(Debug, Clone, Copy)]
pub struct VlanView<'a> {
    buf: &'a [u8],
}

impl<'a> VlanView<'a> {
    /// Wraps `buf`, checking that the 4 tag bytes are present.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need(LAYER, buf, HEADER_LEN)?;
        Ok(Self { buf })
    }

    /// Tag control information.
    pub fn tci(&self) -> u16 {
        be16(self.buf, 0)
    }

    /// Priority code point (3 bits).
    pub fn priority(&self) -> u8 {
        // The shift leaves 3 bits, which always fit.
        u8::try_from(self.tci() >> 13).unwrap_or(0)
    }

    /// Drop eligible indicator (formerly CFI).
    pub fn drop_eligible(&self) -> bool {
        self.tci() & 0x1000 != 0
    }

    /// VLAN identifier (12 bits).
    pub fn vlan_id(&self) -> u16 {
        self.tci() & 0x0fff
    }

    /// EtherType of the data after the tag (possibly another tag).
    pub fn ether_type(&self) -> u16 {
        be16(self.buf, 2)
    }

    /// Header length (always 4).
    pub fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Captured bytes after the tag.
    pub fn payload(&self) -> &'a [u8] {
        clamp(self.buf, HEADER_LEN, self.buf.len())
    }
}

/// Builds the `Dot1Q` record of a tag announced by `tpid`.
pub fn record(view: &VlanView<'_>, tpid: u16, pkt: &PacketInfo<'_>) -> Dot1Q {
    Dot1Q {
        timestamp: pkt.ts_ns,
        priority: i32::from(view.priority()),
        drop_eligible: view.drop_eligible(),
        vlan_identifier: i32::from(view.vlan_id()),
        r#type: i32::from(view.ether_type()),
        packet_number: pkt.number,
        tag_protocol: i32::from(tpid),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_tci() {
        // PCP 5, DEI 1, VID 0xabc, then IPv6.
        let b = [0xba, 0xbc, 0x86, 0xdd, 0x60];
        let v = VlanView::new(&b).unwrap();
        let pkt = PacketInfo {
            number: 9,
            ts_ns: 5,
            link_type: 1,
            orig_len: 5,
            data: &b,
        };
        let r = record(&v, 0x88a8, &pkt);
        assert_eq!(r.priority, 5);
        assert!(r.drop_eligible);
        assert_eq!(r.vlan_identifier, 0xabc);
        assert_eq!(r.r#type, 0x86dd);
        assert_eq!(r.tag_protocol, 0x88a8);
        assert_eq!((r.timestamp, r.packet_number), (5, 9));
        assert_eq!(v.payload(), &[0x60]);
    }

    #[test]
    fn zero_tci_and_truncation() {
        let b = [0x00, 0x00, 0x08, 0x00];
        let v = VlanView::new(&b).unwrap();
        assert_eq!(
            (v.priority(), v.drop_eligible(), v.vlan_id()),
            (0, false, 0)
        );
        assert!(v.payload().is_empty());
        for n in 0..4 {
            assert_eq!(
                VlanView::new(&b[..n]).unwrap_err(),
                DecodeError::Truncated {
                    layer: "Dot1Q",
                    need: 4,
                    have: n
                }
            );
        }
    }
}
