//! Network Time Protocol packets (RFC 5905).

use netcap_schema::Ntp;

use crate::util::{be32, u8_at};
use crate::{need, DecodeError, PacketInfo};

/// Record type name used in errors.
const LAYER: &str = "NTP";

/// Length of the header of modes 1 to 5.
pub const HEADER_LEN: usize = 48;

/// Shortest NTP message (a control message header, mode 6).
const MIN_LEN: usize = 12;

/// A zero-copy view of an NTP message.
#[derive(Debug, Clone, Copy)]
pub struct NtpView<'a> {
    buf: &'a [u8],
}

impl<'a> NtpView<'a> {
    /// Wraps `buf`, checking the version (1–4) and mode (not 0), and for the
    /// time-exchange modes 1–5 that the 48-byte header is present.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need(LAYER, buf, MIN_LEN)?;
        let v = Self { buf };
        if !(1..=4).contains(&v.version()) {
            return Err(DecodeError::Invalid {
                layer: LAYER,
                field: "Version",
            });
        }
        if v.mode() == 0 {
            return Err(DecodeError::Invalid {
                layer: LAYER,
                field: "Mode",
            });
        }
        if v.is_time_message() {
            need(LAYER, buf, HEADER_LEN)?;
        }
        Ok(v)
    }

    /// Leap indicator (2 bits).
    pub fn leap(&self) -> u8 {
        u8_at(self.buf, 0) >> 6
    }

    /// Version (3 bits).
    pub fn version(&self) -> u8 {
        (u8_at(self.buf, 0) >> 3) & 7
    }

    /// Mode (3 bits).
    pub fn mode(&self) -> u8 {
        u8_at(self.buf, 0) & 7
    }

    /// Whether this is a time-exchange message (modes 1–5) with the 48-byte
    /// header; control (6) and private (7) messages are laid out otherwise.
    pub fn is_time_message(&self) -> bool {
        (1..=5).contains(&self.mode())
    }

    /// A 32.32 timestamp at `off`.
    fn ts(&self, off: usize) -> u64 {
        u64::from(be32(self.buf, off)) << 32 | u64::from(be32(self.buf, off.saturating_add(4)))
    }
}

/// Builds the `NTP` record of a time-exchange message.
pub fn record(view: &NtpView<'_>, pkt: &PacketInfo<'_>) -> Ntp {
    let b = view.buf;
    Ntp {
        timestamp: pkt.ts_ns,
        leap_indicator: i32::from(view.leap()),
        version: i32::from(view.version()),
        mode: i32::from(view.mode()),
        stratum: i32::from(u8_at(b, 1)),
        // Poll and precision are signed log2 seconds.
        poll: i32::from(u8_at(b, 2) as i8),
        precision: i32::from(u8_at(b, 3) as i8),
        root_delay: be32(b, 4),
        root_dispersion: be32(b, 8),
        reference_id: be32(b, 12),
        reference_timestamp: view.ts(16),
        origin_timestamp: view.ts(24),
        receive_timestamp: view.ts(32),
        transmit_timestamp: view.ts(40),
        extension_bytes: b.get(HEADER_LEN..).unwrap_or_default().to_vec(),
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
            link_type: 1,
            orig_len: 0,
            data: b,
        }
    }

    #[test]
    fn server_reply() {
        let mut b = vec![0x24, 2, 6, 0xe9]; // LI 0, v4, server; stratum 2, poll 6, precision -23
        b.extend_from_slice(&[0, 0, 0x01, 0x80, 0, 0, 0x02, 0x00, 192, 0, 2, 1]);
        for i in 1..=8u8 {
            b.extend_from_slice(&[0xe0 + i, 0, 0, i]);
        }
        b.extend_from_slice(&[0, 0, 0, 7]); // key ID
        let v = NtpView::new(&b).unwrap();
        let r = record(&v, &pkt(&b));
        assert_eq!(
            (r.leap_indicator, r.version, r.mode, r.stratum),
            (0, 4, 4, 2)
        );
        assert_eq!((r.poll, r.precision), (6, -23));
        assert_eq!(
            (r.root_delay, r.root_dispersion, r.reference_id),
            (0x180, 0x200, 0xc000_0201)
        );
        assert_eq!(r.reference_timestamp, 0xe100_0001_e200_0002);
        assert_eq!(r.transmit_timestamp, 0xe700_0007_e800_0008);
        assert_eq!(r.extension_bytes, [0, 0, 0, 7]);
        assert_eq!((r.timestamp, r.packet_number), (2, 1));
    }

    #[test]
    fn checks() {
        let mut b = [0u8; 48];
        b[0] = 0x23; // v4 client
        assert!(NtpView::new(&b).is_ok());
        assert!(NtpView::new(&b[..47]).is_err());
        b[0] = 0x26; // control: 12 bytes are enough, but it is not a time message
        let v = NtpView::new(&b[..12]).unwrap();
        assert!(!v.is_time_message());
        b[0] = 0x20; // mode 0
        assert!(NtpView::new(&b).is_err());
        b[0] = 0x03; // version 0
        assert!(NtpView::new(&b).is_err());
    }
}
