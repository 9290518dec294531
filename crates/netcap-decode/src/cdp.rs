//! Cisco Discovery Protocol, carried in 802.3 frames after LLC/SNAP with
//! OUI 00:00:0c and protocol ID 0x2000 (normally to 01:00:0c:cc:cc:cc).
//!
//! Two records per frame, as in the original Netcap: `CiscoDiscovery` with
//! the header and the raw TLVs, and `CiscoDiscoveryInfo` with them decoded.

use netcap_schema::{CiscoDiscovery, CiscoDiscoveryInfo, CiscoDiscoveryValue};

use crate::util::{array_at, be16, be32, clamp, colon_hex, ipv4_text, u8_at};
use crate::{need, DecodeError, Outcome, PacketInfo, RecordSink};

/// Record type name used in errors.
const LAYER: &str = "CiscoDiscovery";

/// Length of the header (version, TTL, checksum).
pub const HEADER_LEN: usize = 4;

/// LLC (DSAP, SSAP, control = SNAP UI) + SNAP (OUI 00:00:0c, PID 0x2000).
pub const LLC_SNAP_CDP: [u8; 8] = [0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x20, 0x00];

/// Most TLVs decoded from one frame (each takes at least 4 bytes).
pub const MAX_TLVS: usize = 4096;

/// Most addresses decoded from one address TLV.
pub const MAX_ADDRESSES: usize = 256;

/// The CDP data unit in an 802.3 payload that starts with the LLC/SNAP
/// header of CDP, if it does. The SNAP decoder calls [`CdpView::new`]
/// directly on the bytes after OUI 00:00:0c / PID 0x2000.
pub fn in_llc_snap(payload: &[u8]) -> Option<&[u8]> {
    payload.strip_prefix(&LLC_SNAP_CDP[..])
}

/// One CDP TLV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// TLV type.
    pub kind: u16,
    /// Length field (the 4-byte TLV header included).
    pub len: u16,
    /// Value bytes.
    pub value: &'a [u8],
}

/// A zero-copy view of a CDP data unit.
#[derive(Debug, Clone, Copy)]
pub struct CdpView<'a> {
    buf: &'a [u8],
}

impl<'a> CdpView<'a> {
    /// Wraps `buf`, checking that the header is present and every TLV fits.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need(LAYER, buf, HEADER_LEN)?;
        let mut rest = clamp(buf, HEADER_LEN, buf.len());
        let mut n = 0usize;
        while !rest.is_empty() && n < MAX_TLVS {
            need(LAYER, rest, 4)?;
            let len = usize::from(be16(rest, 2));
            if len < 4 {
                return Err(DecodeError::Invalid {
                    layer: LAYER,
                    field: "TLV length",
                });
            }
            need(LAYER, rest, len)?;
            rest = clamp(rest, len, rest.len());
            n += 1;
        }
        Ok(Self { buf })
    }

    /// Protocol version.
    pub fn version(&self) -> u8 {
        u8_at(self.buf, 0)
    }

    /// Hold time in seconds.
    pub fn ttl(&self) -> u8 {
        u8_at(self.buf, 1)
    }

    /// Checksum.
    pub fn checksum(&self) -> u16 {
        be16(self.buf, 2)
    }

    /// The TLVs in order.
    pub fn tlvs(&self) -> impl Iterator<Item = Tlv<'a>> {
        let mut rest = clamp(self.buf, HEADER_LEN, self.buf.len());
        std::iter::from_fn(move || {
            let len = be16(rest, 2);
            let value = rest.get(4..usize::from(len))?;
            let kind = be16(rest, 0);
            rest = clamp(rest, usize::from(len), rest.len());
            Some(Tlv { kind, len, value })
        })
        .take(MAX_TLVS)
    }
}

fn value_record(t: &Tlv<'_>) -> CiscoDiscoveryValue {
    CiscoDiscoveryValue {
        r#type: i32::from(t.kind),
        length: i32::from(t.len),
        value: t.value.to_vec(),
    }
}

/// Builds the `CiscoDiscovery` record of `view`.
pub fn record(view: &CdpView<'_>, pkt: &PacketInfo<'_>) -> CiscoDiscovery {
    CiscoDiscovery {
        timestamp: pkt.ts_ns,
        version: i32::from(view.version()),
        ttl: i32::from(view.ttl()),
        checksum: i32::from(view.checksum()),
        values: view.tlvs().map(|t| value_record(&t)).collect(),
        packet_number: pkt.number,
        ..Default::default()
    }
}

/// Addresses of an address TLV (types 2 and 0x16): count, then protocol
/// type, protocol length, protocol, address length, address.
fn addresses(v: &[u8]) -> Vec<String> {
    let count = usize::try_from(be32(v, 0)).unwrap_or(0);
    let mut rest = clamp(v, 4, v.len());
    let mut out = Vec::new();
    for _ in 0..count.min(MAX_ADDRESSES) {
        let plen = usize::from(u8_at(rest, 1));
        let proto = clamp(rest, 2, 2 + plen);
        let alen = usize::from(be16(rest, 2 + plen));
        let start = 4 + plen;
        let Some(addr) = rest.get(start..start + alen) else {
            break;
        };
        out.push(match (proto, alen) {
            ([0xcc], 4) => ipv4_text(array_at::<4>(addr, 0)),
            (_, 16) => std::net::Ipv6Addr::from(array_at::<16>(addr, 0)).to_string(),
            _ => colon_hex(addr),
        });
        rest = clamp(rest, start + alen, rest.len());
    }
    out
}

/// Text of a text TLV (invalid UTF-8 replaced).
fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Builds the `CiscoDiscoveryInfo` record of `view`.
pub fn info_record(view: &CdpView<'_>, pkt: &PacketInfo<'_>) -> CiscoDiscoveryInfo {
    let mut r = CiscoDiscoveryInfo {
        timestamp: pkt.ts_ns,
        packet_number: pkt.number,
        ..Default::default()
    };
    for t in view.tlvs() {
        let v = t.value;
        match t.kind {
            0x01 => r.device_id = text(v),
            0x02 => r.addresses = addresses(v),
            0x03 => r.port_id = text(v),
            0x04 => r.capabilities = be32(v, 0),
            0x05 => r.version = text(v),
            0x06 => r.platform = text(v),
            0x07 => {
                r.ip_prefixes = v
                    .chunks_exact(5)
                    .map(|c| format!("{}/{}", ipv4_text(array_at::<4>(c, 0)), u8_at(c, 4)))
                    .collect();
            }
            0x09 => r.vtp_domain = text(v),
            0x0a => r.native_vlan = i32::from(be16(v, 0)),
            0x0b => r.full_duplex = u8_at(v, 0) == 1,
            0x10 => r.power_consumption = i32::from(be16(v, 0)),
            0x11 => r.mtu = be32(v, 0),
            0x14 => r.sys_name = text(v),
            0x15 => r.sys_oid = v.to_vec(),
            0x16 => r.mgmt_addresses = addresses(v),
            // A type byte, then the location text.
            0x17 => r.location = text(clamp(v, 1, v.len())),
            _ => r.unknown.push(value_record(&t)),
        }
    }
    r
}

/// Decodes a CDP data unit (the bytes after LLC/SNAP) and emits both its records.
pub fn decode<S: RecordSink>(data: &[u8], pkt: &PacketInfo<'_>, sink: &mut S) -> Outcome {
    match CdpView::new(data) {
        Ok(v) => {
            sink.emit(&record(&v, pkt));
            sink.emit(&info_record(&v, pkt));
            Outcome::Decoded
        }
        Err(e) => Outcome::Error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::l3test::{decode_file, pkt};

    fn put(b: &mut Vec<u8>, kind: u16, v: &[u8]) {
        b.extend_from_slice(&kind.to_be_bytes());
        b.extend_from_slice(&u16::try_from(v.len() + 4).unwrap().to_be_bytes());
        b.extend_from_slice(v);
    }

    #[test]
    fn header_and_tlvs() {
        let mut b = vec![2, 180, 0x0b, 0xea];
        put(&mut b, 1, b"S1");
        put(&mut b, 2, &[0, 0, 0, 1, 1, 1, 0xcc, 0, 4, 10, 0, 0, 1]);
        put(&mut b, 4, &[0, 0, 0, 0x28]);
        put(&mut b, 0x0a, &[0, 1]);
        put(&mut b, 0x0b, &[1]);
        put(&mut b, 0x07, &[10, 1, 0, 0, 24]);
        put(&mut b, 0x99, &[7]);
        let v = CdpView::new(&b).unwrap();
        let r = record(&v, &pkt(&b));
        assert_eq!((r.version, r.ttl, r.checksum), (2, 180, 0x0bea));
        assert_eq!(r.values.len(), 7);
        assert_eq!((r.values[0].r#type, r.values[0].length), (1, 6));
        let i = info_record(&v, &pkt(&b));
        assert_eq!(i.device_id, "S1");
        assert_eq!(i.addresses, ["10.0.0.1"]);
        assert_eq!(
            (i.capabilities, i.native_vlan, i.full_duplex),
            (0x28, 1, true)
        );
        assert_eq!(i.ip_prefixes, ["10.1.0.0/24"]);
        assert_eq!(i.unknown[0].r#type, 0x99);
        // Broken TLV lengths.
        let mut x = b.clone();
        x[6] = 0;
        x[7] = 2;
        assert!(CdpView::new(&x).is_err());
        assert!(CdpView::new(&b[..b.len() - 1]).is_err());
        assert!(CdpView::new(&b[..3]).is_err());
        // Address count larger than the TLV.
        assert!(addresses(&[0xff, 0xff, 0xff, 0xff, 1, 1]).is_empty());
    }

    #[test]
    fn llc_snap_detection() {
        let mut p = LLC_SNAP_CDP.to_vec();
        p.extend_from_slice(&[2, 180, 0, 0]);
        assert_eq!(in_llc_snap(&p), Some(&[2u8, 180, 0, 0][..]));
        p[7] = 1; // another SNAP PID
        assert!(in_llc_snap(&p).is_none());
    }

    #[test]
    fn capture() {
        // tshark: frame 1 Device ID S1, Port ID FastEthernet0/13, TTL 180,
        // checksum 0x0bea, platform "cisco WS-C3560-24TS", native VLAN 1, full duplex.
        let f = decode_file("lldp-cdp.pcap");
        let (o, s) = &f[0];
        assert_eq!(*o, crate::Outcome::Decoded);
        assert_eq!(
            s.names(),
            [
                "Ethernet",
                "LLC",
                "SNAP",
                "CiscoDiscovery",
                "CiscoDiscoveryInfo"
            ]
        );
        let r = s.first::<CiscoDiscovery>();
        assert_eq!((r.version, r.ttl, r.checksum), (2, 180, 0x0bea));
        let i = s.first::<CiscoDiscoveryInfo>();
        assert_eq!(
            (
                i.device_id.as_str(),
                i.port_id.as_str(),
                i.platform.as_str()
            ),
            ("S1", "FastEthernet0/13", "cisco WS-C3560-24TS")
        );
        assert_eq!(
            (i.capabilities, i.native_vlan, i.full_duplex),
            (0x28, 1, true)
        );
        assert_eq!(i.addresses, ["0.0.0.0"]);
    }
}
