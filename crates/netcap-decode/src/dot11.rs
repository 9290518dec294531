//! IEEE 802.11 MAC headers and the radiotap capture header in front of them.

use netcap_schema::{Dot11, Dot11HtControl, Dot11Qos, RadioTap};

use crate::util::{array_at, clamp, colon_hex, u8_at};
use crate::{need, DecodeError, PacketInfo};

/// Frame type: management.
pub const TYPE_MGMT: u8 = 0;
/// Frame type: control.
pub const TYPE_CTRL: u8 = 1;
/// Frame type: data.
pub const TYPE_DATA: u8 = 2;

/// Frame control flag: to the distribution system.
pub const FLAG_TO_DS: u8 = 0x01;
/// Frame control flag: from the distribution system.
pub const FLAG_FROM_DS: u8 = 0x02;
/// Frame control flag: the body is encrypted.
pub const FLAG_PROTECTED: u8 = 0x40;
/// Frame control flag: +HTC (an HT control field is present) / order.
pub const FLAG_ORDER: u8 = 0x80;

/// Radiotap flag: the frame ends with a frame check sequence.
pub const RADIOTAP_FLAG_FCS: u8 = 0x10;
/// Most radiotap presence words followed.
pub const MAX_PRESENT_WORDS: usize = 16;

fn le16(buf: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(array_at::<2>(buf, off))
}

fn le32(buf: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(array_at::<4>(buf, off))
}

/// A zero-copy view of a radiotap header that is captured whole.
#[derive(Debug, Clone, Copy)]
pub struct RadioTapView<'a> {
    buf: &'a [u8],
}

/// The radiotap fields Netcap records (those of the first presence word up to
/// the antenna, the ones every capture tool writes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RadioTapFields {
    /// Flags byte.
    pub flags: u8,
    /// Data rate in 500 kb/s.
    pub rate: u8,
    /// Channel frequency in MHz.
    pub channel_freq: u16,
    /// Channel flags.
    pub channel_flags: u16,
    /// Antenna signal in dBm.
    pub antenna_signal: i8,
    /// Antenna noise in dBm.
    pub antenna_noise: i8,
    /// Antenna index.
    pub antenna: u8,
}

impl<'a> RadioTapView<'a> {
    /// Wraps `buf`, checking that the whole header (its length field) is captured.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need("RadioTap", buf, 8)?;
        let view = Self { buf };
        if view.len() < 8 {
            return Err(DecodeError::Invalid {
                layer: "RadioTap",
                field: "Length",
            });
        }
        need("RadioTap", buf, view.len())?;
        Ok(view)
    }

    /// Header revision.
    pub fn version(&self) -> u8 {
        u8_at(self.buf, 0)
    }

    /// Header length.
    pub fn len(&self) -> usize {
        usize::from(le16(self.buf, 2))
    }

    /// Whether the header is empty (never, once constructed).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// First presence word.
    pub fn present(&self) -> u32 {
        le32(self.buf, 4)
    }

    /// Reads the fields of the first presence word up to the antenna. Fields
    /// are aligned to their size from the start of the header and follow the
    /// last presence word.
    pub fn fields(&self) -> RadioTapFields {
        let hdr = clamp(self.buf, 0, self.len());
        let mut off = 4usize;
        let mut words = 0usize;
        // Each presence word with bit 31 set is followed by another.
        while le32(hdr, off) & 0x8000_0000 != 0 && words < MAX_PRESENT_WORDS {
            off += 4;
            words += 1;
        }
        off += 4;
        let present = self.present();
        let mut f = RadioTapFields::default();
        // (bit, alignment, size) of the fields before and including antenna.
        const LAYOUT: [(u32, usize, usize); 12] = [
            (0, 8, 8),
            (1, 1, 1),
            (2, 1, 1),
            (3, 2, 4),
            (4, 1, 2),
            (5, 1, 1),
            (6, 1, 1),
            (7, 2, 2),
            (8, 2, 2),
            (9, 2, 2),
            (10, 1, 1),
            (11, 1, 1),
        ];
        for (bit, align, size) in LAYOUT {
            if present & (1 << bit) == 0 {
                continue;
            }
            off = off.next_multiple_of(align);
            if off + size > hdr.len() {
                break;
            }
            match bit {
                1 => f.flags = u8_at(hdr, off),
                2 => f.rate = u8_at(hdr, off),
                3 => {
                    f.channel_freq = le16(hdr, off);
                    f.channel_flags = le16(hdr, off + 2);
                }
                5 => f.antenna_signal = i8::from_le_bytes([u8_at(hdr, off)]),
                6 => f.antenna_noise = i8::from_le_bytes([u8_at(hdr, off)]),
                11 => f.antenna = u8_at(hdr, off),
                _ => {}
            }
            off += size;
        }
        f
    }

    /// The 802.11 frame after the header.
    pub fn payload(&self) -> &'a [u8] {
        clamp(self.buf, self.len(), self.buf.len())
    }
}

/// Builds the `RadioTap` record of `view`.
pub fn radiotap_record(view: &RadioTapView<'_>, pkt: &PacketInfo<'_>) -> RadioTap {
    let f = view.fields();
    RadioTap {
        timestamp: pkt.ts_ns,
        version: i32::from(view.version()),
        length: i32::from(le16(view.buf, 2)),
        present: view.present(),
        flags: i32::from(f.flags),
        rate: i32::from(f.rate),
        channel_frequency: i32::from(f.channel_freq),
        channel_flags: i32::from(f.channel_flags),
        dbm_antenna_signal: i32::from(f.antenna_signal),
        dbm_antenna_noise: i32::from(f.antenna_noise),
        antenna: i32::from(f.antenna),
        packet_number: pkt.number,
        ..Default::default()
    }
}

/// A zero-copy view of an 802.11 frame whose MAC header is captured.
#[derive(Debug, Clone, Copy)]
pub struct Dot11View<'a> {
    buf: &'a [u8],
    /// Whether the last 4 bytes are the frame check sequence.
    fcs: bool,
}

impl<'a> Dot11View<'a> {
    /// Wraps `buf`, checking that the header its frame control announces is
    /// present (and the FCS when `fcs`).
    pub fn new(buf: &'a [u8], fcs: bool) -> Result<Self, DecodeError> {
        need("Dot11", buf, 2)?;
        let view = Self { buf, fcs };
        need("Dot11", buf, view.header_len() + if fcs { 4 } else { 0 })?;
        Ok(view)
    }

    /// Protocol version.
    pub fn version(&self) -> u8 {
        u8_at(self.buf, 0) & 0x3
    }

    /// Frame type (0 management, 1 control, 2 data, 3 extension).
    pub fn frame_type(&self) -> u8 {
        (u8_at(self.buf, 0) >> 2) & 0x3
    }

    /// Frame subtype.
    pub fn subtype(&self) -> u8 {
        u8_at(self.buf, 0) >> 4
    }

    /// Flags byte of the frame control.
    pub fn flags(&self) -> u8 {
        u8_at(self.buf, 1)
    }

    /// Duration / ID.
    pub fn duration(&self) -> u16 {
        le16(self.buf, 2)
    }

    /// Whether this is a data frame with a QoS control field.
    fn is_qos_data(&self) -> bool {
        self.frame_type() == TYPE_DATA && self.subtype() & 0x8 != 0
    }

    /// Number of addresses in the header.
    pub fn address_count(&self) -> usize {
        match self.frame_type() {
            TYPE_MGMT => 3,
            TYPE_CTRL => match self.subtype() {
                // CTS, ACK and the control wrapper name only the receiver.
                7 | 12 | 13 => 1,
                _ => 2,
            },
            TYPE_DATA => {
                if self.flags() & (FLAG_TO_DS | FLAG_FROM_DS) == FLAG_TO_DS | FLAG_FROM_DS {
                    4
                } else {
                    3
                }
            }
            _ => 0,
        }
    }

    /// Whether the header has a sequence control field.
    fn has_seq(&self) -> bool {
        matches!(self.frame_type(), TYPE_MGMT | TYPE_DATA)
    }

    /// Offset of the QoS control field, if any.
    fn qos_at(&self) -> Option<usize> {
        self.is_qos_data()
            .then(|| if self.address_count() == 4 { 30 } else { 24 })
    }

    /// Offset of the HT control field, if any.
    fn htc_at(&self) -> Option<usize> {
        // The control wrapper always carries a frame control and an HT control.
        if self.frame_type() == TYPE_CTRL && self.subtype() == 7 {
            return Some(12);
        }
        if self.flags() & FLAG_ORDER == 0 {
            return None;
        }
        match self.frame_type() {
            TYPE_MGMT => Some(24),
            TYPE_DATA => self.qos_at().map(|q| q + 2),
            _ => None,
        }
    }

    /// Header length.
    pub fn header_len(&self) -> usize {
        if let Some(h) = self.htc_at() {
            return h + 4;
        }
        if let Some(q) = self.qos_at() {
            return q + 2;
        }
        match (self.frame_type(), self.address_count()) {
            (TYPE_MGMT | TYPE_DATA, 4) => 30,
            (TYPE_MGMT | TYPE_DATA, _) => 24,
            (TYPE_CTRL, 1) => 10,
            (TYPE_CTRL, _) => 16,
            _ => 4,
        }
    }

    /// Address `i` (0-based) as text, empty when the header has fewer.
    pub fn address(&self, i: usize) -> String {
        if i >= self.address_count() {
            return String::new();
        }
        let off = match i {
            0 => 4,
            1 => 10,
            2 => 16,
            _ => 24,
        };
        colon_hex(clamp(self.buf, off, off + 6))
    }

    /// Sequence control (0 when absent).
    pub fn sequence_control(&self) -> u16 {
        if self.has_seq() {
            le16(self.buf, 22)
        } else {
            0
        }
    }

    /// QoS control field, if present.
    pub fn qos(&self) -> Option<u16> {
        self.qos_at().map(|q| le16(self.buf, q))
    }

    /// HT control field, if present.
    pub fn ht_control(&self) -> Option<u32> {
        self.htc_at().map(|h| le32(self.buf, h))
    }

    /// Frame check sequence, 0 when the capture has none.
    pub fn fcs(&self) -> u32 {
        if self.fcs {
            le32(self.buf, self.buf.len().saturating_sub(4))
        } else {
            0
        }
    }

    /// The frame body (without FCS).
    pub fn body(&self) -> &'a [u8] {
        let end = if self.fcs {
            self.buf.len().saturating_sub(4)
        } else {
            self.buf.len()
        };
        clamp(self.buf, self.header_len(), end)
    }

    /// The body of a data frame that starts with an LLC header: not
    /// encrypted, not a null function (no body), not an A-MSDU.
    pub fn llc_body(&self) -> Option<&'a [u8]> {
        let plain_data = self.frame_type() == TYPE_DATA
            && self.flags() & FLAG_PROTECTED == 0
            && self.subtype() & 0x4 == 0
            && self.qos().is_none_or(|q| q & 0x80 == 0);
        plain_data.then(|| self.body())
    }
}

/// Builds the `Dot11` record of `view`.
pub fn record(view: &Dot11View<'_>, pkt: &PacketInfo<'_>) -> Dot11 {
    let seq = view.sequence_control();
    Dot11 {
        timestamp: pkt.ts_ns,
        r#type: i32::from(view.frame_type()) << 4 | i32::from(view.subtype()),
        proto: i32::from(view.version()),
        flags: i32::from(view.flags()),
        duration_id: i32::from(view.duration()),
        address1: view.address(0),
        address2: view.address(1),
        address3: view.address(2),
        address4: view.address(3),
        sequence_number: i32::from(seq >> 4),
        fragment_number: i32::from(seq & 0xf),
        checksum: view.fcs(),
        qos: view.qos().map(|q| Dot11Qos {
            tid: i32::from(q & 0xf),
            eosp: q & 0x10 != 0,
            ack_policy: i32::from((q >> 5) & 0x3),
            txop: i32::from(q >> 8),
        }),
        ht_control: view.ht_control().map(|h| Dot11HtControl {
            raw: h,
            vht: h & 1 != 0,
            ac_constraint: h & (1 << 30) != 0,
            rdg_more_ppdu: h & (1 << 31) != 0,
        }),
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
            link_type: 105,
            orig_len: 0,
            data: b,
        }
    }

    /// A QoS data frame to the DS with +HTC, an LLC/SNAP body and an FCS.
    fn qos_data() -> Vec<u8> {
        let mut b = vec![0x88, 0x81, 0x2c, 0x00];
        b.extend_from_slice(&[1, 1, 1, 1, 1, 1]);
        b.extend_from_slice(&[2, 2, 2, 2, 2, 2]);
        b.extend_from_slice(&[3, 3, 3, 3, 3, 3]);
        b.extend_from_slice(&[0x35, 0x12]); // seq 0x123, frag 5
        b.extend_from_slice(&[0x36, 0x04]); // TID 6, EOSP, TXOP 4
        b.extend_from_slice(&[0x01, 0, 0, 0xc0]); // HT control
        b.extend_from_slice(&[0xaa, 0xaa, 3, 0, 0, 0, 0x08, 0x00]);
        b.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        b
    }

    #[test]
    fn qos_data_frame() {
        let b = qos_data();
        let v = Dot11View::new(&b, true).unwrap();
        assert_eq!(v.header_len(), 30);
        let r = record(&v, &pkt(&b));
        assert_eq!(
            (r.r#type, r.proto, r.flags, r.duration_id),
            (0x28, 0, 0x81, 44)
        );
        assert_eq!(
            (
                r.address1.as_str(),
                r.address3.as_str(),
                r.address4.as_str()
            ),
            ("01:01:01:01:01:01", "03:03:03:03:03:03", "")
        );
        assert_eq!((r.sequence_number, r.fragment_number), (0x123, 5));
        assert_eq!(r.checksum, 0xefbe_adde);
        let q = r.qos.unwrap();
        assert_eq!((q.tid, q.eosp, q.ack_policy, q.txop), (6, true, 1, 4));
        let h = r.ht_control.unwrap();
        assert!(h.vht && h.ac_constraint && h.rdg_more_ppdu);
        assert_eq!(v.llc_body().unwrap().len(), 8);
        // Protected: no body to decode.
        let mut p = b.clone();
        p[1] |= FLAG_PROTECTED;
        assert!(Dot11View::new(&p, true).unwrap().llc_body().is_none());
        // Every cut inside the header (and FCS) is an error.
        for n in 0..34 {
            assert!(Dot11View::new(&b[..n], true).is_err(), "{n}");
        }
    }

    #[test]
    fn control_and_management() {
        let ack = [0xd4, 0x00, 0, 0, 9, 9, 9, 9, 9, 9];
        let v = Dot11View::new(&ack, false).unwrap();
        let r = record(&v, &pkt(&ack));
        assert_eq!(
            (r.r#type, r.address1.as_str(), r.address2.as_str()),
            (0x1d, "09:09:09:09:09:09", "")
        );
        assert!(v.llc_body().is_none());
        let mut beacon = vec![0x80, 0, 0, 0];
        beacon.extend_from_slice(&[0xff; 6]);
        beacon.extend_from_slice(&[4; 12]);
        beacon.extend_from_slice(&[0x10, 0x00, 1, 2]);
        let v = Dot11View::new(&beacon, false).unwrap();
        let r = record(&v, &pkt(&beacon));
        assert_eq!((r.r#type, r.sequence_number, r.qos), (8, 1, None));
        assert_eq!(v.body(), &[1, 2]);
        // Control wrapper: receiver, carried frame control, HT control.
        let wrapper = [0x74, 0, 0, 0, 5, 5, 5, 5, 5, 5, 0xd4, 0, 0x01, 0, 0, 0x80];
        let v = Dot11View::new(&wrapper, false).unwrap();
        assert_eq!(v.header_len(), 16);
        let h = record(&v, &pkt(&wrapper)).ht_control.unwrap();
        assert_eq!((h.raw, h.vht, h.rdg_more_ppdu), (0x8000_0001, true, true));
        assert!(Dot11View::new(&wrapper[..15], false).is_err());
    }

    #[test]
    fn radiotap_fields_and_alignment() {
        // Two presence words (bit 31 in the first), TSFT, flags, rate, channel,
        // antenna signal, antenna.
        let present: u32 = 1 | 1 << 1 | 1 << 2 | 1 << 3 | 1 << 5 | 1 << 11 | 1 << 31;
        let mut b = vec![0, 0, 0, 0];
        b.extend_from_slice(&present.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&[0; 4]); // align TSFT to 8 (offset 12 -> 16)
        b.extend_from_slice(&[7; 8]); // TSFT
        b.extend_from_slice(&[0x10, 2]); // flags, rate
        b.extend_from_slice(&2437u16.to_le_bytes());
        b.extend_from_slice(&0x00a0u16.to_le_bytes());
        b.extend_from_slice(&[0xc4, 1]); // -60 dBm, antenna 1
        let len = u16::try_from(b.len()).unwrap();
        b[2..4].copy_from_slice(&len.to_le_bytes());
        b.push(0xd4);
        let v = RadioTapView::new(&b).unwrap();
        let r = radiotap_record(&v, &pkt(&b));
        assert_eq!(
            (r.length, r.present, r.flags, r.rate),
            (i32::from(len), present, 0x10, 2)
        );
        assert_eq!(
            (
                r.channel_frequency,
                r.channel_flags,
                r.dbm_antenna_signal,
                r.antenna
            ),
            (2437, 0xa0, -60, 1)
        );
        assert_eq!(v.payload(), &[0xd4]);
        assert!(RadioTapView::new(&b[..usize::from(len) - 1]).is_err());
        let mut bad = b.clone();
        bad[2] = 4;
        bad[3] = 0;
        assert!(RadioTapView::new(&bad).is_err());
    }
}
