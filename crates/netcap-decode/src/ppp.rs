//! Point-to-Point Protocol framing (RFC 1661, HDLC-like framing of RFC 1662)
//! and PPP over Ethernet (RFC 2516).

use netcap_schema::{PpPoE, Ppp};

use crate::util::{be16, clamp, u8_at};
use crate::{need, DecodeError, PacketInfo};

/// PPP protocol number of IPv4.
pub const PPP_IPV4: u16 = 0x0021;
/// PPP protocol number of IPv6.
pub const PPP_IPV6: u16 = 0x0057;
/// PPP protocol number of MPLS unicast.
pub const PPP_MPLS_UNICAST: u16 = 0x0281;
/// PPP protocol number of MPLS multicast.
pub const PPP_MPLS_MULTICAST: u16 = 0x0283;

/// EtherType of PPPoE discovery.
pub const ETHERTYPE_PPPOE_DISCOVERY: u16 = 0x8863;
/// EtherType of PPPoE session.
pub const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
/// Length of the PPPoE header.
pub const PPPOE_HEADER_LEN: usize = 6;

/// A zero-copy view of a PPP header: optional address and control bytes
/// (0xff 0x03), then a protocol of one byte (compressed, odd) or two.
#[derive(Debug, Clone, Copy)]
pub struct PppView<'a> {
    buf: &'a [u8],
    hdlc: bool,
}

impl<'a> PppView<'a> {
    /// Wraps `buf`. `hdlc` says whether address and control are always
    /// present (PPP-in-HDLC link type); otherwise they are recognised by
    /// their values.
    pub fn new(buf: &'a [u8], hdlc: bool) -> Result<Self, DecodeError> {
        need("PPP", buf, 1)?;
        let hdlc = hdlc || (u8_at(buf, 0) == 0xff && u8_at(buf, 1) == 0x03);
        let view = Self { buf, hdlc };
        need("PPP", buf, view.header_len())?;
        Ok(view)
    }

    /// Offset of the protocol field.
    fn proto_at(&self) -> usize {
        if self.hdlc {
            2
        } else {
            0
        }
    }

    /// Whether the protocol field is compressed to one byte (its low bit set).
    fn compressed(&self) -> bool {
        u8_at(self.buf, self.proto_at()) & 1 == 1
    }

    /// Address byte, 0 without HDLC framing.
    pub fn address(&self) -> u8 {
        if self.hdlc {
            u8_at(self.buf, 0)
        } else {
            0
        }
    }

    /// Control byte, 0 without HDLC framing.
    pub fn control(&self) -> u8 {
        if self.hdlc {
            u8_at(self.buf, 1)
        } else {
            0
        }
    }

    /// Protocol of the payload.
    pub fn protocol(&self) -> u16 {
        if self.compressed() {
            u16::from(u8_at(self.buf, self.proto_at()))
        } else {
            be16(self.buf, self.proto_at())
        }
    }

    /// Header length.
    pub fn header_len(&self) -> usize {
        self.proto_at() + if self.compressed() { 1 } else { 2 }
    }

    /// Captured bytes after the header.
    pub fn payload(&self) -> &'a [u8] {
        clamp(self.buf, self.header_len(), self.buf.len())
    }
}

/// Builds the `PPP` record of `view`.
pub fn ppp_record(view: &PppView<'_>, pkt: &PacketInfo<'_>) -> Ppp {
    Ppp {
        timestamp: pkt.ts_ns,
        address: i32::from(view.address()),
        control: i32::from(view.control()),
        protocol: i32::from(view.protocol()),
        packet_number: pkt.number,
        ..Default::default()
    }
}

/// A zero-copy view of a PPPoE header.
#[derive(Debug, Clone, Copy)]
pub struct PppoeView<'a> {
    buf: &'a [u8],
}

impl<'a> PppoeView<'a> {
    /// Wraps `buf`, checking that the 6-byte header is present.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need("PPPoE", buf, PPPOE_HEADER_LEN)?;
        Ok(Self { buf })
    }

    /// Version (4 bits).
    pub fn version(&self) -> u8 {
        u8_at(self.buf, 0) >> 4
    }

    /// Type (4 bits).
    pub fn kind(&self) -> u8 {
        u8_at(self.buf, 0) & 0x0f
    }

    /// Code (0 in session frames).
    pub fn code(&self) -> u8 {
        u8_at(self.buf, 1)
    }

    /// Session identifier.
    pub fn session_id(&self) -> u16 {
        be16(self.buf, 2)
    }

    /// Payload length.
    pub fn len(&self) -> u16 {
        be16(self.buf, 4)
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Captured payload up to the length field (which drops Ethernet padding).
    pub fn payload(&self) -> &'a [u8] {
        clamp(
            self.buf,
            PPPOE_HEADER_LEN,
            PPPOE_HEADER_LEN + usize::from(self.len()),
        )
    }
}

/// Builds the `PPPoE` record of `view`.
pub fn pppoe_record(view: &PppoeView<'_>, pkt: &PacketInfo<'_>) -> PpPoE {
    PpPoE {
        timestamp: pkt.ts_ns,
        version: i32::from(view.version()),
        r#type: i32::from(view.kind()),
        code: i32::from(view.code()),
        session_id: i32::from(view.session_id()),
        length: i32::from(view.len()),
        packet_number: pkt.number,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(b: &[u8]) -> PacketInfo<'_> {
        PacketInfo {
            number: 1,
            ts_ns: 2,
            link_type: 9,
            orig_len: 0,
            data: b,
        }
    }

    #[test]
    fn framings() {
        let hdlc = [0xff, 0x03, 0x00, 0x21, 0x45];
        let v = PppView::new(&hdlc, false).unwrap();
        let r = ppp_record(&v, &pkt(&hdlc));
        assert_eq!((r.address, r.control, r.protocol), (0xff, 3, 0x21));
        assert_eq!(v.payload(), &[0x45]);
        let bare = [0x00, 0x57, 0x60];
        let v = PppView::new(&bare, false).unwrap();
        assert_eq!(
            (v.address(), v.protocol(), v.payload()),
            (0, 0x57, &[0x60][..])
        );
        let compressed = [0x21, 0x45];
        let v = PppView::new(&compressed, false).unwrap();
        assert_eq!((v.protocol(), v.header_len()), (0x21, 1));
        // HDLC link type: address and control are there whatever their value.
        let cisco = [0x0f, 0x00, 0x02, 0x81, 0];
        let v = PppView::new(&cisco, true).unwrap();
        assert_eq!((v.address(), v.protocol()), (0x0f, 0x0281));
        assert!(PppView::new(&hdlc[..3], false).is_err());
        assert!(PppView::new(&[], false).is_err());
    }

    #[test]
    fn pppoe_session() {
        let b = [0x11, 0x00, 0x12, 0x34, 0x00, 0x03, 0xc0, 0x21, 9, 0, 0];
        let v = PppoeView::new(&b).unwrap();
        let r = pppoe_record(&v, &pkt(&b));
        assert_eq!(
            (r.version, r.r#type, r.code, r.session_id, r.length),
            (1, 1, 0, 0x1234, 3)
        );
        assert_eq!(v.payload(), &[0xc0, 0x21, 9]);
        assert!(!v.is_empty());
        assert!(PppoeView::new(&b[..5]).is_err());
    }
}
