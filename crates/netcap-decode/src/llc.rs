//! IEEE 802.2 Logical Link Control and the SNAP extension (RFC 1042).
//!
//! 802.3 frames (an Ethernet length instead of an EtherType) and 802.11 data
//! frames carry an LLC header; with both SAPs 0xAA a SNAP header follows whose
//! protocol identifier is an EtherType when the organisation code is zero.

use netcap_schema::{Llc, Snap};

use crate::util::{array_at, be16, clamp, u8_at};
use crate::{need, DecodeError, PacketInfo};

/// SAP of SNAP.
pub const SAP_SNAP: u8 = 0xaa;
/// Length of a SNAP header.
pub const SNAP_LEN: usize = 5;

/// A zero-copy view of an LLC header whose control field is captured.
#[derive(Debug, Clone, Copy)]
pub struct LlcView<'a> {
    buf: &'a [u8],
}

impl<'a> LlcView<'a> {
    /// Wraps `buf`: 3 bytes for U frames, 4 for I and S frames.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need("LLC", buf, 3)?;
        let view = Self { buf };
        need("LLC", buf, view.header_len())?;
        Ok(view)
    }

    /// The DSAP byte (address and I/G bit).
    pub fn dsap_byte(&self) -> u8 {
        u8_at(self.buf, 0)
    }

    /// The SSAP byte (address and C/R bit).
    pub fn ssap_byte(&self) -> u8 {
        u8_at(self.buf, 1)
    }

    /// Whether the control field is one byte (an unnumbered frame).
    fn is_unnumbered(&self) -> bool {
        u8_at(self.buf, 2) & 0x03 == 0x03
    }

    /// Control field: one byte for U frames, else two bytes, big-endian
    /// (the way tshark shows `llc.control`).
    pub fn control(&self) -> u16 {
        if self.is_unnumbered() {
            u16::from(u8_at(self.buf, 2))
        } else {
            be16(self.buf, 2)
        }
    }

    /// Header length (3 or 4).
    pub fn header_len(&self) -> usize {
        if self.is_unnumbered() {
            3
        } else {
            4
        }
    }

    /// Whether a SNAP header follows (both SAPs 0xAA, a UI frame).
    pub fn has_snap(&self) -> bool {
        self.dsap_byte() == SAP_SNAP && self.ssap_byte() == SAP_SNAP && self.header_len() == 3
    }

    /// Captured bytes after the header.
    pub fn payload(&self) -> &'a [u8] {
        clamp(self.buf, self.header_len(), self.buf.len())
    }
}

/// Builds the `LLC` record of `view`.
pub fn llc_record(view: &LlcView<'_>, pkt: &PacketInfo<'_>) -> Llc {
    Llc {
        timestamp: pkt.ts_ns,
        dsap: i32::from(view.dsap_byte() & 0xfe),
        ig: view.dsap_byte() & 1 != 0,
        ssap: i32::from(view.ssap_byte() & 0xfe),
        cr: view.ssap_byte() & 1 != 0,
        control: i32::from(view.control()),
        packet_number: pkt.number,
        ..Default::default()
    }
}

/// A zero-copy view of a SNAP header.
#[derive(Debug, Clone, Copy)]
pub struct SnapView<'a> {
    buf: &'a [u8],
}

impl<'a> SnapView<'a> {
    /// Wraps `buf`, checking that the 5-byte header is present.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need("SNAP", buf, SNAP_LEN)?;
        Ok(Self { buf })
    }

    /// Organisationally unique identifier.
    pub fn oui(&self) -> [u8; 3] {
        array_at::<3>(self.buf, 0)
    }

    /// The OUI as a number (tshark's `llc.oui`).
    pub fn oui_u32(&self) -> u32 {
        let [a, b, c] = self.oui();
        u32::from_be_bytes([0, a, b, c])
    }

    /// Protocol identifier.
    pub fn protocol(&self) -> u16 {
        be16(self.buf, 3)
    }

    /// The EtherType of the payload when the protocol identifier is one:
    /// OUI 00-00-00 (RFC 1042) or 00-00-F8 (802.1H bridge tunnel).
    pub fn ether_type(&self) -> Option<u16> {
        matches!(self.oui_u32(), 0 | 0xf8).then(|| self.protocol())
    }

    /// Captured bytes after the header.
    pub fn payload(&self) -> &'a [u8] {
        clamp(self.buf, SNAP_LEN, self.buf.len())
    }
}

/// Builds the `SNAP` record of `view`.
pub fn snap_record(view: &SnapView<'_>, pkt: &PacketInfo<'_>) -> Snap {
    Snap {
        timestamp: pkt.ts_ns,
        organizational_code: view.oui().to_vec(),
        r#type: i32::from(view.protocol()),
        packet_number: pkt.number,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(b: &[u8]) -> PacketInfo<'_> {
        PacketInfo {
            number: 9,
            ts_ns: 8,
            link_type: 1,
            orig_len: 0,
            data: b,
        }
    }

    #[test]
    fn stp_unnumbered() {
        let b = [0x42, 0x43, 0x03, 0, 0];
        let v = LlcView::new(&b).unwrap();
        let r = llc_record(&v, &pkt(&b));
        assert_eq!(
            (r.dsap, r.ig, r.ssap, r.cr, r.control),
            (0x42, false, 0x42, true, 3)
        );
        assert_eq!((r.timestamp, r.packet_number), (8, 9));
        assert!(!v.has_snap());
        assert_eq!(v.payload(), &[0, 0]);
    }

    #[test]
    fn information_frame_has_two_control_bytes() {
        let b = [0x01, 0x00, 0x0a, 0x0b, 7];
        let v = LlcView::new(&b).unwrap();
        assert_eq!((v.control(), v.header_len()), (0x0a0b, 4));
        let r = llc_record(&v, &pkt(&b));
        assert_eq!((r.dsap, r.ig), (0, true));
        assert_eq!(v.payload(), &[7]);
        assert_eq!(
            LlcView::new(&b[..3]).unwrap_err(),
            DecodeError::Truncated {
                layer: "LLC",
                need: 4,
                have: 3
            }
        );
        assert!(LlcView::new(&b[..2]).is_err());
    }

    #[test]
    fn snap_rfc1042_and_cisco() {
        let b = [0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00, 0x45];
        let v = LlcView::new(&b).unwrap();
        assert!(v.has_snap());
        let s = SnapView::new(v.payload()).unwrap();
        assert_eq!(s.ether_type(), Some(0x0800));
        assert_eq!(s.payload(), &[0x45]);
        let r = snap_record(&s, &pkt(&b));
        assert_eq!((r.organizational_code, r.r#type), (vec![0, 0, 0], 0x0800));
        let cdp = [0, 0, 0x0c, 0x20, 0x00];
        let s = SnapView::new(&cdp).unwrap();
        assert_eq!(
            (s.oui_u32(), s.protocol(), s.ether_type()),
            (12, 0x2000, None)
        );
        assert!(SnapView::new(&cdp[..4]).is_err());
    }
}
