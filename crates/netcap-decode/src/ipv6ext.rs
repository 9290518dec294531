//! Records of single IPv6 extension headers: fragment (RFC 8200 §4.5) and
//! hop-by-hop options. The chain itself is walked by [`crate::ipv6`].

use netcap_schema::IPv6Fragment;

use crate::ipv6::{ExtHeaderView, EXT_FRAGMENT};
use crate::util::{be16, be32, u8_at};
use crate::PacketInfo;

/// Builds the `IPv6Fragment` record of a fragment header, or `None` for
/// another kind of extension header.
pub fn fragment_record(h: &ExtHeaderView<'_>, pkt: &PacketInfo<'_>) -> Option<IPv6Fragment> {
    if h.kind() != EXT_FRAGMENT {
        return None;
    }
    // Next header, reserved byte, offset and flags, identification.
    let d = h.raw();
    let word = be16(d, 2);
    Some(IPv6Fragment {
        timestamp: pkt.ts_ns,
        next_header: i32::from(h.next_header()),
        reserved1: i32::from(u8_at(d, 1)),
        fragment_offset: i32::from(word >> 3),
        reserved2: i32::from((word >> 1) & 0x3),
        more_fragments: word & 1 != 0,
        identification: be32(d, 4),
        packet_number: pkt.number,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragment_fields() {
        let b = [17, 0x5a, 0x01, 0x0f, 0xde, 0xad, 0xbe, 0xef];
        let h = ExtHeaderView::new(EXT_FRAGMENT, &b).unwrap();
        let pkt = PacketInfo {
            number: 4,
            ts_ns: 5,
            link_type: 1,
            orig_len: 0,
            data: &b,
        };
        let r = fragment_record(&h, &pkt).unwrap();
        assert_eq!(
            (
                r.next_header,
                r.reserved1,
                r.fragment_offset,
                r.reserved2,
                r.more_fragments,
                r.identification
            ),
            (17, 0x5a, 0x21, 3, true, 0xdead_beef)
        );
        assert_eq!((r.timestamp, r.packet_number), (5, 4));
        let other = ExtHeaderView::new(60, &[17, 0, 0, 0, 0, 0, 0, 0]).unwrap();
        assert!(fragment_record(&other, &pkt).is_none());
    }
}
