//! Virtual eXtensible Local Area Network (RFC 7348), with the group based
//! policy extension (draft-smith-vxlan-group-policy). Carries Ethernet frames.

use netcap_schema::Vxlan;

use crate::util::{be16, be32, clamp};
use crate::{need, DecodeError, PacketInfo};

/// UDP port assigned to VXLAN.
pub const UDP_PORT: u16 = 4789;
/// Length of the header.
pub const HEADER_LEN: usize = 8;

/// A zero-copy view of a VXLAN header.
#[derive(Debug, Clone, Copy)]
pub struct VxlanView<'a> {
    buf: &'a [u8],
}

impl<'a> VxlanView<'a> {
    /// Wraps `buf`, checking that the 8-byte header is present.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need("VXLAN", buf, HEADER_LEN)?;
        Ok(Self { buf })
    }

    /// The 16 flag bits.
    pub fn flags(&self) -> u16 {
        be16(self.buf, 0)
    }

    /// Group policy identifier.
    pub fn group_policy_id(&self) -> u16 {
        be16(self.buf, 2)
    }

    /// VXLAN network identifier (24 bits).
    pub fn vni(&self) -> u32 {
        be32(self.buf, 4) >> 8
    }

    /// The encapsulated Ethernet frame.
    pub fn payload(&self) -> &'a [u8] {
        clamp(self.buf, HEADER_LEN, self.buf.len())
    }
}

/// Builds the `VXLAN` record of `view`.
pub fn record(view: &VxlanView<'_>, pkt: &PacketInfo<'_>) -> Vxlan {
    let f = view.flags();
    Vxlan {
        timestamp: pkt.ts_ns,
        valid_id_flag: f & 0x0800 != 0,
        vni: view.vni(),
        gbp_extension: f & 0x8000 != 0,
        gbp_dont_learn: f & 0x0040 != 0,
        gbp_applied: f & 0x0008 != 0,
        gbp_group_policy_id: i32::from(view.group_policy_id()),
        packet_number: pkt.number,
        flags: i32::from(f),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        let b = [0x88, 0x40, 0x12, 0x34, 0x00, 0x01, 0x02, 0x00, 0xee];
        let v = VxlanView::new(&b).unwrap();
        let pkt = PacketInfo {
            number: 1,
            ts_ns: 2,
            link_type: 1,
            orig_len: 0,
            data: &b,
        };
        let r = record(&v, &pkt);
        assert!(r.valid_id_flag && r.gbp_extension && r.gbp_dont_learn && !r.gbp_applied);
        assert_eq!(
            (r.vni, r.gbp_group_policy_id, r.flags),
            (0x102, 0x1234, 0x8840)
        );
        assert_eq!(v.payload(), &[0xee]);
        assert!(VxlanView::new(&b[..7]).is_err());
    }
}
