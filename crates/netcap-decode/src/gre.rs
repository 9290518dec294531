//! Generic Routing Encapsulation (RFC 2784, RFC 2890 keys and sequence numbers,
//! RFC 1701 routing, RFC 2637 enhanced GRE of PPTP with acknowledgements).

use netcap_schema::Gre;

use crate::util::{be16, be32, clamp, u8_at};
use crate::{need, DecodeError, PacketInfo};

/// Record type name used in errors.
const LAYER: &str = "GRE";

/// Most source route entries walked in a routing field.
pub const MAX_SRES: usize = 32;

const FLAG_CHECKSUM: u16 = 0x8000;
const FLAG_ROUTING: u16 = 0x4000;
const FLAG_KEY: u16 = 0x2000;
const FLAG_SEQ: u16 = 0x1000;
const FLAG_STRICT: u16 = 0x0800;
const FLAG_ACK: u16 = 0x0080;

/// A zero-copy view of a GRE header that is captured whole.
#[derive(Debug, Clone, Copy)]
pub struct GreView<'a> {
    buf: &'a [u8],
    /// Header length including optional fields and the routing list.
    len: usize,
}

impl<'a> GreView<'a> {
    /// Wraps `buf`, checking that every field the flags announce is present.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need(LAYER, buf, 4)?;
        let fv = be16(buf, 0);
        let mut len = 4usize;
        if fv & (FLAG_CHECKSUM | FLAG_ROUTING) != 0 {
            len += 4;
        }
        if fv & FLAG_KEY != 0 {
            len += 4;
        }
        if fv & FLAG_SEQ != 0 {
            len += 4;
        }
        if fv & 0x7 == 1 && fv & FLAG_ACK != 0 {
            len += 4;
        }
        need(LAYER, buf, len)?;
        if fv & FLAG_ROUTING != 0 {
            // Source route entries until the null entry (family 0, length 0).
            let mut sres = 0usize;
            loop {
                need(LAYER, buf, len + 4)?;
                let family = be16(buf, len);
                let sre_len = usize::from(u8_at(buf, len + 3));
                len += 4 + sre_len;
                if family == 0 && sre_len == 0 {
                    break;
                }
                sres += 1;
                if sres > MAX_SRES {
                    return Err(DecodeError::Invalid {
                        layer: LAYER,
                        field: "Routing",
                    });
                }
            }
            need(LAYER, buf, len)?;
        }
        Ok(Self { buf, len })
    }

    /// Flags and version word.
    pub fn flags_and_version(&self) -> u16 {
        be16(self.buf, 0)
    }

    fn flag(&self, f: u16) -> bool {
        self.flags_and_version() & f != 0
    }

    /// Version (0 GRE, 1 enhanced GRE of PPTP).
    pub fn version(&self) -> u16 {
        self.flags_and_version() & 0x7
    }

    /// EtherType of the payload.
    pub fn protocol(&self) -> u16 {
        be16(self.buf, 2)
    }

    /// Byte offset of the field after the checksum/offset word.
    fn after_checksum(&self) -> usize {
        if self.flag(FLAG_CHECKSUM | FLAG_ROUTING) {
            8
        } else {
            4
        }
    }

    /// Offset of the key field.
    fn after_key(&self) -> usize {
        self.after_checksum() + if self.flag(FLAG_KEY) { 4 } else { 0 }
    }

    /// Offset of the acknowledgement field.
    fn after_seq(&self) -> usize {
        self.after_key() + if self.flag(FLAG_SEQ) { 4 } else { 0 }
    }

    /// Checksum (0 when absent).
    pub fn checksum(&self) -> u16 {
        if self.flag(FLAG_CHECKSUM | FLAG_ROUTING) {
            be16(self.buf, 4)
        } else {
            0
        }
    }

    /// Routing offset (0 when absent).
    pub fn offset(&self) -> u16 {
        if self.flag(FLAG_CHECKSUM | FLAG_ROUTING) {
            be16(self.buf, 6)
        } else {
            0
        }
    }

    /// Key (PPTP: payload length and call id), 0 when absent.
    pub fn key(&self) -> u32 {
        if self.flag(FLAG_KEY) {
            be32(self.buf, self.after_checksum())
        } else {
            0
        }
    }

    /// Sequence number, 0 when absent.
    pub fn seq(&self) -> u32 {
        if self.flag(FLAG_SEQ) {
            be32(self.buf, self.after_key())
        } else {
            0
        }
    }

    /// Acknowledgement number (version 1), 0 when absent.
    pub fn ack(&self) -> u32 {
        if self.version() == 1 && self.flag(FLAG_ACK) {
            be32(self.buf, self.after_seq())
        } else {
            0
        }
    }

    /// Header length.
    pub fn header_len(&self) -> usize {
        self.len
    }

    /// Captured bytes after the header.
    pub fn payload(&self) -> &'a [u8] {
        clamp(self.buf, self.len, self.buf.len())
    }
}

/// Builds the `GRE` record of `view`.
pub fn record(view: &GreView<'_>, pkt: &PacketInfo<'_>) -> Gre {
    let fv = view.flags_and_version();
    Gre {
        timestamp: pkt.ts_ns,
        checksum_present: fv & FLAG_CHECKSUM != 0,
        routing_present: fv & FLAG_ROUTING != 0,
        key_present: fv & FLAG_KEY != 0,
        seq_present: fv & FLAG_SEQ != 0,
        strict_source_route: fv & FLAG_STRICT != 0,
        ack_present: fv & FLAG_ACK != 0,
        recursion_control: i32::from((fv >> 8) & 0x7),
        flags: i32::from((fv >> 3) & 0x1f),
        version: i32::from(view.version()),
        protocol: i32::from(view.protocol()),
        checksum: i32::from(view.checksum()),
        offset: i32::from(view.offset()),
        key: view.key(),
        seq: view.seq(),
        ack: view.ack(),
        packet_number: pkt.number,
        flags_and_version: i32::from(fv),
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
            link_type: 1,
            orig_len: 0,
            data: b,
        }
    }

    #[test]
    fn plain() {
        let b = [0, 0, 0x08, 0x00, 0x45];
        let v = GreView::new(&b).unwrap();
        assert_eq!((v.header_len(), v.payload()), (4, &[0x45][..]));
        let r = record(&v, &pkt(&b));
        assert_eq!((r.protocol, r.version, r.key, r.checksum), (0x800, 0, 0, 0));
        assert!(!r.key_present);
    }

    #[test]
    fn checksum_key_sequence() {
        let b = [
            0xb0, 0x00, 0x86, 0xdd, 0xaa, 0xbb, 0, 0, 0, 0, 0, 42, 0, 0, 1, 0, 0x60,
        ];
        let v = GreView::new(&b).unwrap();
        let r = record(&v, &pkt(&b));
        assert!(r.checksum_present && r.key_present && r.seq_present);
        assert_eq!((r.checksum, r.key, r.seq, r.ack), (0xaabb, 42, 256, 0));
        assert_eq!(v.payload(), &[0x60]);
        for n in 0..16 {
            assert!(GreView::new(&b[..n]).is_err(), "{n}");
        }
    }

    #[test]
    fn pptp_enhanced() {
        // Version 1, key (length 0x10, call id 7), sequence, acknowledgement.
        let b = [
            0x30, 0x81, 0x88, 0x0b, 0, 0x10, 0, 7, 0, 0, 0, 3, 0, 0, 0, 2, 0xff,
        ];
        let r = record(&GreView::new(&b).unwrap(), &pkt(&b));
        assert_eq!(
            (r.version, r.protocol, r.key, r.seq, r.ack, r.ack_present),
            (1, 0x880b, 0x0010_0007, 3, 2, true)
        );
        assert_eq!(r.flags_and_version, 0x3081);
    }

    #[test]
    fn routing_entries() {
        // Routing bit, one SRE of 4 bytes, then the null SRE.
        let mut b = vec![0x40, 0, 0x08, 0, 0, 0, 0, 0];
        b.extend_from_slice(&[0, 1, 0, 4, 1, 2, 3, 4, 0, 0, 0, 0, 0x45]);
        let v = GreView::new(&b).unwrap();
        assert_eq!(v.header_len(), 20);
        assert!(GreView::new(&b[..19]).is_err());
        // Endless SREs are cut off.
        let mut b = vec![0x40, 0, 0x08, 0, 0, 0, 0, 0];
        for _ in 0..40 {
            b.extend_from_slice(&[0, 1, 0, 0]);
        }
        assert!(matches!(
            GreView::new(&b),
            Err(DecodeError::Invalid {
                field: "Routing",
                ..
            })
        ));
    }
}
