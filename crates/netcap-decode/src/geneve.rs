//! Generic Network Virtualization Encapsulation (RFC 8926).

use netcap_schema::{Geneve, GeneveOption};

use crate::util::{be16, be32, clamp, u8_at};
use crate::{need, DecodeError, PacketInfo};

/// UDP port assigned to Geneve.
pub const UDP_PORT: u16 = 6081;
/// Length of the fixed header.
pub const HEADER_LEN: usize = 8;

/// A zero-copy view of a Geneve header captured with its options.
#[derive(Debug, Clone, Copy)]
pub struct GeneveView<'a> {
    buf: &'a [u8],
}

impl<'a> GeneveView<'a> {
    /// Wraps `buf`, checking that the header and its options are present.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need("Geneve", buf, HEADER_LEN)?;
        let view = Self { buf };
        need("Geneve", buf, view.header_len())?;
        Ok(view)
    }

    /// Version (2 bits).
    pub fn version(&self) -> u8 {
        u8_at(self.buf, 0) >> 6
    }

    /// Options length in bytes.
    pub fn options_len(&self) -> usize {
        usize::from(u8_at(self.buf, 0) & 0x3f) * 4
    }

    /// OAM flag.
    pub fn oam(&self) -> bool {
        u8_at(self.buf, 1) & 0x80 != 0
    }

    /// Critical options present flag.
    pub fn critical(&self) -> bool {
        u8_at(self.buf, 1) & 0x40 != 0
    }

    /// EtherType of the payload.
    pub fn protocol(&self) -> u16 {
        be16(self.buf, 2)
    }

    /// Virtual network identifier (24 bits).
    pub fn vni(&self) -> u32 {
        be32(self.buf, 4) >> 8
    }

    /// Header length with the options.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options_len()
    }

    /// The options, each class, type, flags, length and data. An option
    /// running past the option area ends the list (the area holds at most 63
    /// words, so the list is bounded).
    pub fn options(&self) -> Vec<GeneveOption> {
        let mut rest = clamp(self.buf, HEADER_LEN, self.header_len());
        let mut out = Vec::new();
        while rest.len() >= 4 {
            let len = usize::from(u8_at(rest, 3) & 0x1f) * 4;
            let Some(data) = rest.get(4..4 + len) else {
                break;
            };
            out.push(GeneveOption {
                class: i32::from(be16(rest, 0)),
                r#type: i32::from(u8_at(rest, 2)),
                flags: i32::from(u8_at(rest, 3) >> 5),
                length: i32::from(u8_at(rest, 3) & 0x1f) * 4,
                data: data.to_vec(),
            });
            rest = clamp(rest, 4 + len, rest.len());
        }
        out
    }

    /// Captured bytes after the header.
    pub fn payload(&self) -> &'a [u8] {
        clamp(self.buf, self.header_len(), self.buf.len())
    }
}

/// Builds the `Geneve` record of `view`.
pub fn record(view: &GeneveView<'_>, pkt: &PacketInfo<'_>) -> Geneve {
    Geneve {
        timestamp: pkt.ts_ns,
        version: i32::from(view.version()),
        options_length: i32::try_from(view.options_len()).unwrap_or(0),
        oam_packet: view.oam(),
        critical_option: view.critical(),
        protocol: i32::from(view.protocol()),
        vni: view.vni(),
        options: view.options(),
        packet_number: pkt.number,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_options() {
        let mut b = vec![0x03, 0xc0, 0x65, 0x58, 0, 0, 0x0a, 0];
        b.extend_from_slice(&[0x01, 0x02, 0x80, 0x21, 1, 2, 3, 4]);
        b.extend_from_slice(&[0, 3, 4, 0, 0xff, 0xff, 0xff, 0xff]);
        b.push(0xee);
        let v = GeneveView::new(&b).unwrap();
        let pkt = PacketInfo {
            number: 1,
            ts_ns: 2,
            link_type: 1,
            orig_len: 0,
            data: &b,
        };
        let r = record(&v, &pkt);
        assert_eq!(
            (r.version, r.options_length, r.oam_packet, r.critical_option),
            (0, 12, true, true)
        );
        assert_eq!((r.protocol, r.vni), (0x6558, 10));
        assert_eq!(r.options.len(), 2);
        let o = &r.options[0];
        assert_eq!(
            (o.class, o.r#type, o.flags, o.length, o.data.clone()),
            (0x0102, 0x80, 1, 4, vec![1, 2, 3, 4])
        );
        assert_eq!((r.options[1].length, r.options[1].data.len()), (0, 0));
        assert_eq!(v.payload(), &[0xff, 0xff, 0xff, 0xff, 0xee]);
        assert!(GeneveView::new(&b[..19]).is_err());
    }
}
