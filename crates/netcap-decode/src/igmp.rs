//! Internet Group Management Protocol, versions 1 (RFC 1112), 2 (RFC 2236)
//! and 3 (RFC 3376).

use netcap_schema::{IgmPv3GroupRecord, Igmp};

use crate::util::{array_at, be16, clamp, ipv4_text, u8_at};
use crate::{need, DecodeError, PacketInfo};

/// Record type name used in errors.
const LAYER: &str = "IGMP";

/// Length of the v1/v2 message and of the fixed part of every version.
pub const HEADER_LEN: usize = 8;

/// Membership query (all versions).
pub const MEMBERSHIP_QUERY: u8 = 0x11;
/// IGMPv3 membership report.
pub const V3_MEMBERSHIP_REPORT: u8 = 0x22;
/// IGMPv1 membership report.
pub const V1_MEMBERSHIP_REPORT: u8 = 0x12;

/// Most group records decoded (each is at least 8 bytes, so a 64 KiB
/// message holds fewer).
pub const MAX_GROUP_RECORDS: usize = 8192;

/// A zero-copy view of an IGMP message.
#[derive(Debug, Clone, Copy)]
pub struct IgmpView<'a> {
    buf: &'a [u8],
    wire_len: usize,
}

/// Decodes an IGMPv3 "code" (max response code, QQIC): values from 128 on are
/// a floating-point form (RFC 3376 §4.1.1).
pub fn decode_code(code: u8) -> u32 {
    if code < 128 {
        u32::from(code)
    } else {
        let mant = u32::from(code & 0x0f) | 0x10;
        let exp = u32::from((code >> 4) & 0x07);
        mant << (exp + 3)
    }
}

impl<'a> IgmpView<'a> {
    /// Wraps `buf`, the IP payload; `wire_len` is its length on the wire
    /// (which tells the query versions apart).
    pub fn new(buf: &'a [u8], wire_len: usize) -> Result<Self, DecodeError> {
        need(LAYER, buf, HEADER_LEN)?;
        Ok(Self { buf, wire_len })
    }

    /// Message type.
    pub fn msg_type(&self) -> u8 {
        u8_at(self.buf, 0)
    }

    /// Max response time / code byte.
    pub fn max_resp_code(&self) -> u8 {
        u8_at(self.buf, 1)
    }

    /// Checksum.
    pub fn checksum(&self) -> u16 {
        be16(self.buf, 2)
    }

    /// Protocol version, as RFC 3376 §7.1 tells them apart: a query of 8
    /// bytes is v1 when its max response code is 0, else v2; a longer query
    /// is v3. Reports and leaves have their own types.
    pub fn version(&self) -> u8 {
        match self.msg_type() {
            MEMBERSHIP_QUERY if self.wire_len >= 12 => 3,
            MEMBERSHIP_QUERY if self.max_resp_code() == 0 => 1,
            MEMBERSHIP_QUERY => 2,
            V1_MEMBERSHIP_REPORT => 1,
            V3_MEMBERSHIP_REPORT => 3,
            _ => 2,
        }
    }
}

/// Reads up to `count` IPv4 addresses from `buf`.
fn addresses(buf: &[u8], count: usize) -> Vec<String> {
    buf.chunks_exact(4)
        .take(count)
        .map(|c| ipv4_text(array_at::<4>(c, 0)))
        .collect()
}

/// Builds the `IGMP` record of `view`.
pub fn record(view: &IgmpView<'_>, pkt: &PacketInfo<'_>) -> Igmp {
    let b = view.buf;
    let version = view.version();
    let mut r = Igmp {
        timestamp: pkt.ts_ns,
        r#type: i32::from(view.msg_type()),
        checksum: i32::from(view.checksum()),
        version: i32::from(version),
        packet_number: pkt.number,
        ..Default::default()
    };
    match (view.msg_type(), version) {
        (V3_MEMBERSHIP_REPORT, _) => {
            let count = be16(b, 6);
            r.number_of_group_records = i32::from(count);
            let mut rest = clamp(b, 8, b.len());
            for _ in 0..usize::from(count).min(MAX_GROUP_RECORDS) {
                if rest.len() < 8 {
                    break;
                }
                let nsrc = be16(rest, 2);
                let aux = u8_at(rest, 1);
                r.group_records.push(IgmPv3GroupRecord {
                    r#type: i32::from(u8_at(rest, 0)),
                    aux_data_len: i32::from(aux),
                    number_of_sources: i32::from(nsrc),
                    multicast_address: ipv4_text(array_at::<4>(rest, 4)),
                    source_addresses: addresses(clamp(rest, 8, rest.len()), usize::from(nsrc)),
                });
                let len = 8 + 4 * (usize::from(nsrc) + usize::from(aux));
                rest = clamp(rest, len, rest.len());
            }
        }
        (MEMBERSHIP_QUERY, 3) => {
            r.max_response_time = i32::try_from(decode_code(view.max_resp_code())).unwrap_or(0);
            r.group_address = ipv4_text(array_at::<4>(b, 4));
            let flags = u8_at(b, 8);
            r.supress_router_processing = flags & 0x08 != 0;
            r.robustness_value = i32::from(flags & 0x07);
            r.interval_time = i32::try_from(decode_code(u8_at(b, 9))).unwrap_or(0);
            let nsrc = be16(b, 10);
            r.number_of_sources = i32::from(nsrc);
            r.source_addresses = addresses(clamp(b, 12, b.len()), usize::from(nsrc));
        }
        _ => {
            r.max_response_time = i32::from(view.max_resp_code());
            r.group_address = ipv4_text(array_at::<4>(b, 4));
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(b: &[u8]) -> Igmp {
        let pkt = PacketInfo {
            number: 2,
            ts_ns: 3,
            link_type: 1,
            orig_len: 0,
            data: b,
        };
        record(&IgmpView::new(b, b.len()).unwrap(), &pkt)
    }

    #[test]
    fn query_versions() {
        let v2 = [0x11, 100, 0xee, 0x9b, 0, 0, 0, 0];
        let r = rec(&v2);
        assert_eq!(
            (r.version, r.r#type, r.max_response_time, r.checksum),
            (2, 0x11, 100, 0xee9b)
        );
        assert_eq!(r.group_address, "0.0.0.0");
        assert_eq!(rec(&[0x11, 0, 0, 0, 224, 0, 0, 1]).version, 1);
        let v3 = [
            0x11, 0x8a, 0, 0, 239, 1, 2, 3, 0x0a, 125, 0, 2, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        let r = rec(&v3);
        assert_eq!(r.version, 3);
        assert_eq!(r.max_response_time, (0x1a << 3));
        assert!(r.supress_router_processing);
        assert_eq!((r.robustness_value, r.interval_time), (2, 125));
        assert_eq!(r.source_addresses, ["10.0.0.1", "10.0.0.2"]);
        assert_eq!(decode_code(0xff), 0x1f << 10);
    }

    #[test]
    fn v3_report() {
        let b = [
            0x22, 0, 0xfb, 0x01, 0, 0, 0, 3, // 3 records claimed
            4, 0, 0, 1, 224, 0, 0, 252, 192, 168, 1, 1, // one source
            2, 1, 0, 0, 239, 255, 255, 250, 0xaa, 0xbb, 0xcc, 0xdd, // aux data
            3, 0, 0, 9, 224, 0, // truncated record
        ];
        let r = rec(&b);
        assert_eq!((r.version, r.number_of_group_records), (3, 3));
        assert_eq!(r.group_records.len(), 2);
        let g = &r.group_records[0];
        assert_eq!(
            (g.r#type, g.number_of_sources, g.multicast_address.as_str()),
            (4, 1, "224.0.0.252")
        );
        assert_eq!(g.source_addresses, ["192.168.1.1"]);
        assert_eq!(r.group_records[1].aux_data_len, 1);
        assert_eq!(r.group_records[1].multicast_address, "239.255.255.250");
    }

    #[test]
    fn v1_v2_reports_and_truncation() {
        assert_eq!(rec(&[0x12, 0, 0, 0, 224, 0, 0, 9]).version, 1);
        let r = rec(&[0x16, 0, 0, 0, 224, 0, 0, 9]);
        assert_eq!((r.version, r.group_address.as_str()), (2, "224.0.0.9"));
        assert!(IgmpView::new(&[0x11; 7], 7).is_err());
    }
}

#[cfg(test)]
mod capture_tests {
    use crate::l3test::decode_file;
    use netcap_schema::Igmp;

    #[test]
    fn v3_reports_capture() {
        // tshark: frame 10 is a v3 report with 3 records of type 4, frame 1 one record of type 2.
        let f = decode_file("mixed-lan-ftp-dhcp-dns-ipv6.pcap");
        let r = f[9].1.first::<Igmp>();
        assert_eq!((r.version, r.r#type, r.checksum), (3, 0x22, 0x2007));
        let g: Vec<_> = r
            .group_records
            .iter()
            .map(|g| (g.r#type, g.multicast_address.as_str()))
            .collect();
        assert_eq!(
            g,
            [
                (4, "224.0.0.252"),
                (4, "239.255.255.250"),
                (4, "224.0.0.253")
            ]
        );
        let r = f[0].1.first::<Igmp>();
        assert_eq!(
            (r.number_of_group_records, r.group_records[0].r#type),
            (1, 2)
        );
    }
}
