//! Virtual Router Redundancy Protocol version 2 (RFC 3768), IP protocol 112.

use netcap_schema::VrrPv2;

use crate::util::{array_at, be16, clamp, ipv4_text, u8_at};
use crate::{need, DecodeError, PacketInfo};

/// Record type name used in errors.
const LAYER: &str = "VRRPv2";

/// Length of the fixed header (before the addresses).
pub const HEADER_LEN: usize = 8;

/// A zero-copy view of a VRRPv2 advertisement whose fixed header is captured.
#[derive(Debug, Clone, Copy)]
pub struct VrrpView<'a> {
    buf: &'a [u8],
}

impl<'a> VrrpView<'a> {
    /// Wraps `buf`, checking that the 8-byte header is present.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need(LAYER, buf, HEADER_LEN)?;
        Ok(Self { buf })
    }

    /// Version (high nibble of the first byte).
    pub fn version(&self) -> u8 {
        u8_at(self.buf, 0) >> 4
    }

    /// Packet type (low nibble; 1 = advertisement).
    pub fn packet_type(&self) -> u8 {
        u8_at(self.buf, 0) & 0x0f
    }

    /// Number of IPv4 addresses that follow the header.
    pub fn count_ip_addr(&self) -> u8 {
        u8_at(self.buf, 3)
    }

    /// The captured addresses, at most `count_ip_addr` of them.
    pub fn addresses(&self) -> impl Iterator<Item = [u8; 4]> + 'a {
        clamp(self.buf, HEADER_LEN, self.buf.len())
            .chunks_exact(4)
            .take(usize::from(self.count_ip_addr()))
            .map(|c| array_at::<4>(c, 0))
    }
}

/// Builds the `VRRPv2` record of `view`.
pub fn record(view: &VrrpView<'_>, pkt: &PacketInfo<'_>) -> VrrPv2 {
    let b = view.buf;
    VrrPv2 {
        timestamp: pkt.ts_ns,
        version: i32::from(view.version()),
        r#type: i32::from(view.packet_type()),
        virtual_rtr_id: i32::from(u8_at(b, 1)),
        priority: i32::from(u8_at(b, 2)),
        count_ip_addr: i32::from(view.count_ip_addr()),
        auth_type: i32::from(u8_at(b, 4)),
        adver_int: i32::from(u8_at(b, 5)),
        checksum: i32::from(be16(b, 6)),
        ip_addresses: view.addresses().map(ipv4_text).collect(),
        packet_number: pkt.number,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::l3test::pkt;

    #[test]
    fn advertisement() {
        let b = [
            0x21, 7, 100, 2, 0, 1, 0xba, 0x52, 192, 168, 0, 1, 192, 168, 0, 2, 0, 0, 0, 0, 0, 0, 0,
            0,
        ];
        let r = record(&VrrpView::new(&b).unwrap(), &pkt(&b));
        assert_eq!(
            (r.version, r.r#type, r.virtual_rtr_id, r.priority),
            (2, 1, 7, 100)
        );
        assert_eq!(
            (r.count_ip_addr, r.auth_type, r.adver_int, r.checksum),
            (2, 0, 1, 0xba52)
        );
        assert_eq!(r.ip_addresses, ["192.168.0.1", "192.168.0.2"]);
        // More addresses announced than captured.
        let r = record(&VrrpView::new(&b[..12]).unwrap(), &pkt(&b));
        assert_eq!(r.ip_addresses, ["192.168.0.1"]);
        assert!(VrrpView::new(&b[..7]).is_err());
    }
}
