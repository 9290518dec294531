//! MPLS label stack entries (RFC 3032).

use netcap_schema::Mpls;

use crate::util::{be32, clamp};
use crate::{need, DecodeError, PacketInfo};

/// Length of one label stack entry.
pub const ENTRY_LEN: usize = 4;
/// Most labels decoded in one stack; a deeper stack is reported unknown.
pub const MAX_LABELS: usize = 16;

/// A zero-copy view of one label stack entry.
#[derive(Debug, Clone, Copy)]
pub struct MplsView<'a> {
    buf: &'a [u8],
}

impl<'a> MplsView<'a> {
    /// Wraps `buf`, checking that the 4-byte entry is present.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need("MPLS", buf, ENTRY_LEN)?;
        Ok(Self { buf })
    }

    fn word(&self) -> u32 {
        be32(self.buf, 0)
    }

    /// Label (20 bits).
    pub fn label(&self) -> u32 {
        self.word() >> 12
    }

    /// Traffic class, formerly EXP (3 bits).
    pub fn traffic_class(&self) -> u8 {
        u8::try_from((self.word() >> 9) & 0x7).unwrap_or(0)
    }

    /// Bottom of stack flag.
    pub fn bottom(&self) -> bool {
        self.word() & 0x100 != 0
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        u8::try_from(self.word() & 0xff).unwrap_or(0)
    }

    /// Captured bytes after the entry.
    pub fn payload(&self) -> &'a [u8] {
        clamp(self.buf, ENTRY_LEN, self.buf.len())
    }
}

/// Builds the `MPLS` record of `view`.
pub fn record(view: &MplsView<'_>, pkt: &PacketInfo<'_>) -> Mpls {
    Mpls {
        timestamp: pkt.ts_ns,
        mpls_label: view.label(),
        traffic_class: i32::from(view.traffic_class()),
        stack_bottom: view.bottom(),
        ttl: i32::from(view.ttl()),
        packet_number: pkt.number,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry() {
        let b = [0x00, 0x01, 0x2b, 0xfe, 0x45];
        let v = MplsView::new(&b).unwrap();
        let pkt = PacketInfo {
            number: 1,
            ts_ns: 2,
            link_type: 9,
            orig_len: 0,
            data: &b,
        };
        let r = record(&v, &pkt);
        assert_eq!(
            (r.mpls_label, r.traffic_class, r.stack_bottom, r.ttl),
            (18, 5, true, 254)
        );
        assert_eq!(v.payload(), &[0x45]);
        assert!(MplsView::new(&b[..3]).is_err());
    }
}
