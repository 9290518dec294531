//! Transmission Control Protocol (RFC 9293), header and options.

use netcap_schema::Tcp;

use crate::util::{be16, be32, clamp, entropy_if, fill_tlv_options, size_i32, u8_at};
use crate::{need, DecodeError, DecodeOptions, PacketInfo};

/// Record type name used in errors.
const LAYER: &str = "TCP";

/// Length of a header without options.
pub const MIN_HEADER_LEN: usize = 20;

/// A zero-copy view of a TCP segment whose header (options included) is
/// captured and whose data offset is at least 5.
#[derive(Debug, Clone, Copy)]
pub struct TcpView<'a> {
    buf: &'a [u8],
}

impl<'a> TcpView<'a> {
    /// Wraps `buf`: fixed header captured else `Truncated`, data offset >= 5
    /// else `Invalid`, options captured else `Truncated`.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need(LAYER, buf, MIN_HEADER_LEN)?;
        let view = Self { buf };
        if view.data_offset() < 5 {
            return Err(DecodeError::Invalid {
                layer: LAYER,
                field: "DataOffset",
            });
        }
        need(LAYER, buf, view.header_len())?;
        Ok(view)
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(self.buf, 0)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.buf, 2)
    }

    /// Sequence number.
    pub fn seq(&self) -> u32 {
        be32(self.buf, 4)
    }

    /// Acknowledgment number.
    pub fn ack_num(&self) -> u32 {
        be32(self.buf, 8)
    }

    /// Header length in 32-bit words.
    pub fn data_offset(&self) -> u8 {
        u8_at(self.buf, 12) >> 4
    }

    /// Header length in bytes.
    pub fn header_len(&self) -> usize {
        usize::from(self.data_offset()) * 4
    }

    /// Flag byte (CWR ECE URG ACK PSH RST SYN FIN, high to low).
    fn flag_byte(&self) -> u8 {
        u8_at(self.buf, 13)
    }

    /// The nine flags: FIN 0x001 ... CWR 0x080 (the flag byte), NS 0x100.
    pub fn flags(&self) -> u16 {
        u16::from(self.flag_byte()) | (u16::from(u8_at(self.buf, 12) & 1) << 8)
    }

    /// FIN flag.
    pub fn fin(&self) -> bool {
        self.flag_byte() & 0x01 != 0
    }

    /// SYN flag.
    pub fn syn(&self) -> bool {
        self.flag_byte() & 0x02 != 0
    }

    /// RST flag.
    pub fn rst(&self) -> bool {
        self.flag_byte() & 0x04 != 0
    }

    /// PSH flag.
    pub fn psh(&self) -> bool {
        self.flag_byte() & 0x08 != 0
    }

    /// ACK flag.
    pub fn ack(&self) -> bool {
        self.flag_byte() & 0x10 != 0
    }

    /// URG flag.
    pub fn urg(&self) -> bool {
        self.flag_byte() & 0x20 != 0
    }

    /// ECE flag.
    pub fn ece(&self) -> bool {
        self.flag_byte() & 0x40 != 0
    }

    /// CWR flag.
    pub fn cwr(&self) -> bool {
        self.flag_byte() & 0x80 != 0
    }

    /// NS (ECN nonce, RFC 3540, now historic; the low bit of byte 12).
    pub fn ns(&self) -> bool {
        u8_at(self.buf, 12) & 0x01 != 0
    }

    /// Window size.
    pub fn window(&self) -> u16 {
        be16(self.buf, 14)
    }

    /// Checksum.
    pub fn checksum(&self) -> u16 {
        be16(self.buf, 16)
    }

    /// Urgent pointer.
    pub fn urgent(&self) -> u16 {
        be16(self.buf, 18)
    }

    /// The options area of the header.
    pub fn options(&self) -> &'a [u8] {
        clamp(self.buf, MIN_HEADER_LEN, self.header_len())
    }

    /// Captured segment data.
    pub fn payload(&self) -> &'a [u8] {
        clamp(self.buf, self.header_len(), self.buf.len())
    }
}

/// Builds the `TCP` record of `view`; `ip_payload_size` is the segment length
/// on the wire as the IP layer computed it, so a snap length does not shrink
/// `PayloadSize`.
pub fn record(
    view: &TcpView<'_>,
    ip_payload_size: usize,
    pkt: &PacketInfo<'_>,
    opts: &DecodeOptions,
) -> Tcp {
    let mut rec = Tcp::default();
    fill_record(&mut rec, view, ip_payload_size, pkt, opts);
    rec
}

/// [`record`] into `rec`, reusing the memory of its options.
pub fn fill_record(
    rec: &mut Tcp,
    view: &TcpView<'_>,
    ip_payload_size: usize,
    pkt: &PacketInfo<'_>,
    opts: &DecodeOptions,
) {
    let mut options = std::mem::take(&mut rec.options);
    let mut padding = std::mem::take(&mut rec.padding);
    fill_tlv_options(&mut options, &mut padding, view.options());
    *rec = Tcp {
        timestamp: pkt.ts_ns,
        src_port: i32::from(view.src_port()),
        dst_port: i32::from(view.dst_port()),
        seq_num: view.seq(),
        ack_num: view.ack_num(),
        data_offset: i32::from(view.data_offset()),
        fin: view.fin(),
        syn: view.syn(),
        rst: view.rst(),
        psh: view.psh(),
        ack: view.ack(),
        urg: view.urg(),
        ece: view.ece(),
        cwr: view.cwr(),
        ns: view.ns(),
        window: i32::from(view.window()),
        checksum: i32::from(view.checksum()),
        urgent: i32::from(view.urgent()),
        padding,
        options,
        payload_entropy: entropy_if(opts, view.payload()),
        payload_size: size_i32(ip_payload_size.saturating_sub(view.header_len())),
        packet_number: pkt.number,
        ..Default::default()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SYN with MSS, SACK permitted, timestamps, NOP, window scale; NS and CWR set.
    const SYN: [u8; 44] = [
        0xc0, 0x01, 0x00, 0x50, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0, //
        0xb1, 0x82, 0xfa, 0xf0, 0xab, 0xcd, 0x00, 0x00, // doff 11, NS, CWR|SYN
        2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7, // options
        0, 0, 0, 0, // EOL + padding
    ];

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
    fn syn_with_options() {
        let v = TcpView::new(&SYN).unwrap();
        let r = record(&v, 44, &pkt(&SYN), &DecodeOptions::default());
        assert_eq!(
            (r.src_port, r.dst_port, r.seq_num, r.ack_num),
            (0xc001, 80, 0x1122_3344, 0)
        );
        assert_eq!(r.data_offset, 11);
        assert!(r.syn && r.cwr && r.ns);
        assert!(!(r.fin || r.rst || r.psh || r.ack || r.urg || r.ece));
        assert_eq!((r.window, r.checksum, r.urgent), (0xfaf0, 0xabcd, 0));
        let o: Vec<_> = r
            .options
            .iter()
            .map(|o| (o.option_type, o.option_length, o.option_data.clone()))
            .collect();
        assert_eq!(
            o,
            vec![
                (2, 4, vec![0x05, 0xb4]),
                (4, 2, vec![]),
                (8, 10, vec![0, 0, 0, 1, 0, 0, 0, 0]),
                (1, 1, vec![]),
                (3, 3, vec![7]),
                (0, 1, vec![]),
            ]
        );
        assert_eq!(r.padding, vec![0, 0, 0]);
        assert_eq!(r.payload_size, 0);
        assert_eq!((r.timestamp, r.packet_number), (2, 1));
    }

    #[test]
    fn payload_and_flags() {
        let mut b = vec![
            0, 80, 0xc0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0x50, 0x7d, 0, 1, 0, 0, 0, 9,
        ];
        b.extend_from_slice(b"hello");
        let v = TcpView::new(&b).unwrap();
        // The segment was 1000 bytes on the wire; 5 were captured.
        let r = record(
            &v,
            1020,
            &pkt(&b),
            &DecodeOptions {
                entropy: true,
                ..DecodeOptions::default()
            },
        );
        assert!(r.fin && r.rst && r.psh && r.ack && r.urg && r.ece);
        assert!(!(r.syn || r.cwr || r.ns));
        assert_eq!((r.urgent, r.payload_size), (9, 1000));
        assert!((r.payload_entropy - crate::entropy::shannon(b"hello")).abs() < 1e-12);
        assert!(r.options.is_empty() && r.padding.is_empty());
        // An IP payload size below the header saturates.
        assert_eq!(
            record(&v, 3, &pkt(&b), &DecodeOptions::default()).payload_size,
            0
        );
    }

    #[test]
    fn odd_option_lengths() {
        let mut b = SYN;
        b[20..24].copy_from_slice(&[1, 8, 1, 0]); // NOP, then kind 8 with length 1
        let r = record(
            &TcpView::new(&b).unwrap(),
            44,
            &pkt(&b),
            &DecodeOptions::default(),
        );
        assert_eq!(r.options.len(), 1);
        assert_eq!(r.padding.len(), 23);
        assert_eq!(r.padding[..3], [8, 1, 0]);
        b[20..24].copy_from_slice(&[5, 40, 0, 0]); // SACK running past the header
        let r = record(
            &TcpView::new(&b).unwrap(),
            44,
            &pkt(&b),
            &DecodeOptions::default(),
        );
        assert!(r.options.is_empty());
        assert_eq!(r.padding.len(), 24);
    }

    #[test]
    fn errors_and_truncations() {
        for n in 0..44 {
            let need = if n < 20 { 20 } else { 44 };
            assert_eq!(
                TcpView::new(&SYN[..n]).unwrap_err(),
                DecodeError::Truncated {
                    layer: "TCP",
                    need,
                    have: n
                }
            );
        }
        let mut b = SYN;
        b[12] = 0x40;
        assert_eq!(
            TcpView::new(&b).unwrap_err(),
            DecodeError::Invalid {
                layer: "TCP",
                field: "DataOffset"
            }
        );
    }
}
