//! Ethernet Configuration Testing Protocol (the "loopback" protocol of
//! Ethernet v2.0, EtherType 0x9000). Unlike most protocols its integers are
//! little-endian.

use netcap_schema::{EthernetCtp, EthernetCtpReply};

use crate::util::clamp;
use crate::{need, DecodeError, Outcome, PacketInfo, RecordSink};

/// EtherType of the configuration testing protocol.
pub const ETHERTYPE_CTP: u16 = 0x9000;

/// Function code of a reply message.
pub const FUNCTION_REPLY: u16 = 1;

/// Little-endian u16 at `off`, or 0 when out of range.
fn le16(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(crate::util::array_at::<2>(b, off))
}

/// A zero-copy view of a configuration testing message whose skip count is captured.
#[derive(Debug, Clone, Copy)]
pub struct CtpView<'a> {
    buf: &'a [u8],
}

impl<'a> CtpView<'a> {
    /// Wraps `buf`, checking that the 2-byte skip count is present.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need("EthernetCTP", buf, 2)?;
        Ok(Self { buf })
    }

    /// Skip count: bytes from after this field to the function to perform.
    pub fn skip_count(&self) -> u16 {
        le16(self.buf, 0)
    }

    /// The current function and its bytes (function code first), if captured.
    pub fn current(&self) -> Option<&'a [u8]> {
        let at = 2usize.checked_add(usize::from(self.skip_count()))?;
        let rest = self.buf.get(at..)?;
        (rest.len() >= 2).then_some(rest)
    }
}

/// Decodes a configuration testing message: the `EthernetCTP` record, and
/// an `EthernetCTPReply` record when the current function is a reply.
/// A forward function carries the next hop's address; it gets no record.
pub fn decode<S: RecordSink>(data: &[u8], pkt: &PacketInfo<'_>, sink: &mut S) -> Outcome {
    let view = match CtpView::new(data) {
        Ok(v) => v,
        Err(e) => return Outcome::Error(e),
    };
    sink.emit(&EthernetCtp {
        timestamp: pkt.ts_ns,
        skip_count: i32::from(view.skip_count()),
        packet_number: pkt.number,
        ..Default::default()
    });
    let Some(f) = view.current() else {
        return Outcome::Error(DecodeError::Truncated {
            layer: "EthernetCTP",
            need: 4usize.saturating_add(usize::from(view.skip_count())),
            have: data.len(),
        });
    };
    let function = le16(f, 0);
    if function == FUNCTION_REPLY {
        if let Err(e) = need("EthernetCTPReply", f, 4) {
            return Outcome::Error(e);
        }
        sink.emit(&EthernetCtpReply {
            timestamp: pkt.ts_ns,
            function: i32::from(function),
            receipt_number: i32::from(le16(f, 2)),
            data: clamp(f, 4, f.len()).to_vec(),
            packet_number: pkt.number,
            ..Default::default()
        });
    }
    Outcome::Decoded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::l3test::{pkt, Sink};

    #[test]
    fn forward_then_reply() {
        // Skip count 8: a forward function (2) to 02:00:00:00:00:01 was done;
        // the current function is a reply with receipt number 0x0102.
        let b = [8, 0, 2, 0, 2, 0, 0, 0, 0, 1, 1, 0, 0x02, 0x01, b'h', b'i'];
        let mut s = Sink::default();
        assert_eq!(decode(&b, &pkt(&b), &mut s), Outcome::Decoded);
        assert_eq!(s.first::<EthernetCtp>().skip_count, 8);
        let r = s.first::<EthernetCtpReply>();
        assert_eq!((r.function, r.receipt_number), (1, 0x0102));
        assert_eq!(r.data, b"hi");
        // Current function is a forward: no reply record.
        let b = [0, 0, 2, 0, 2, 0, 0, 0, 0, 1];
        let mut s = Sink::default();
        assert_eq!(decode(&b, &pkt(&b), &mut s), Outcome::Decoded);
        assert_eq!(s.names(), ["EthernetCTP"]);
        // Skip count past the end.
        let mut s = Sink::default();
        assert!(matches!(
            decode(&[0xff, 0xff, 1, 0], &pkt(&[]), &mut s),
            Outcome::Error(_)
        ));
        assert!(CtpView::new(&[1]).is_err());
    }
}
