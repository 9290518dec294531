//! Link Layer Discovery Protocol (IEEE 802.1AB), EtherType 0x88cc.
//!
//! Two records per frame, as in the original Netcap: `LinkLayerDiscovery`
//! with the mandatory TLVs and every other TLV raw, and
//! `LinkLayerDiscoveryInfo` with the optional TLVs decoded.

use netcap_schema::{
    LinkLayerDiscovery, LinkLayerDiscoveryInfo, LinkLayerDiscoveryValue, LldpChassisId,
    LldpMgmtAddress, LldpOrgSpecificTlv, LldpPortId, LldpSysCapabilities,
};

use crate::util::{array_at, be16, be32, clamp, colon_hex, ipv4_text, u8_at};
use crate::{DecodeError, Outcome, PacketInfo, RecordSink};

/// Record type name used in errors.
const LAYER: &str = "LinkLayerDiscovery";

/// EtherType of LLDP.
pub const ETHERTYPE_LLDP: u16 = 0x88cc;

/// Most TLVs decoded from one frame (each takes at least 2 bytes).
pub const MAX_TLVS: usize = 4096;

/// TLV types.
mod tlv {
    pub const END: u8 = 0;
    pub const CHASSIS_ID: u8 = 1;
    pub const PORT_ID: u8 = 2;
    pub const TTL: u8 = 3;
    pub const PORT_DESCRIPTION: u8 = 4;
    pub const SYS_NAME: u8 = 5;
    pub const SYS_DESCRIPTION: u8 = 6;
    pub const SYS_CAPABILITIES: u8 = 7;
    pub const MGMT_ADDRESS: u8 = 8;
    pub const ORG_SPECIFIC: u8 = 127;
}

/// One TLV of an LLDP data unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// TLV type (7 bits).
    pub kind: u8,
    /// Length field (9 bits).
    pub len: u16,
    /// Value bytes (`len` of them).
    pub value: &'a [u8],
}

/// A zero-copy view of an LLDP data unit whose TLVs are well-formed up to the
/// end TLV (or the end of the captured bytes).
#[derive(Debug, Clone, Copy)]
pub struct LldpView<'a> {
    buf: &'a [u8],
}

/// Splits the next TLV off `rest`.
fn next_tlv<'a>(rest: &mut &'a [u8]) -> Option<Result<Tlv<'a>, DecodeError>> {
    if rest.is_empty() {
        return None;
    }
    if rest.len() < 2 {
        return Some(Err(DecodeError::Truncated {
            layer: LAYER,
            need: 2,
            have: rest.len(),
        }));
    }
    let head = be16(rest, 0);
    let kind = u8::try_from(head >> 9).unwrap_or(0);
    let len = head & 0x01ff;
    let end = 2 + usize::from(len);
    let Some(value) = rest.get(2..end) else {
        return Some(Err(DecodeError::Truncated {
            layer: LAYER,
            need: end,
            have: rest.len(),
        }));
    };
    *rest = clamp(rest, end, rest.len());
    Some(Ok(Tlv { kind, len, value }))
}

impl<'a> LldpView<'a> {
    /// Wraps `buf`, checking that every TLV fits and that the data unit
    /// starts with chassis ID, port ID and TTL.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let v = Self { buf };
        let mut kinds = Vec::with_capacity(3);
        let mut rest = buf;
        for t in std::iter::from_fn(|| next_tlv(&mut rest)).take(MAX_TLVS) {
            let t = t?;
            if t.kind == tlv::END {
                break;
            }
            if kinds.len() < 3 {
                kinds.push(t.kind);
            }
        }
        if kinds != [tlv::CHASSIS_ID, tlv::PORT_ID, tlv::TTL] {
            return Err(DecodeError::Invalid {
                layer: LAYER,
                field: "mandatory TLVs",
            });
        }
        Ok(v)
    }

    /// The TLVs before the end TLV.
    pub fn tlvs(&self) -> impl Iterator<Item = Tlv<'a>> {
        let mut rest = self.buf;
        std::iter::from_fn(move || next_tlv(&mut rest))
            .map_while(Result::ok)
            .take_while(|t| t.kind != tlv::END)
            .take(MAX_TLVS)
    }
}

/// Text of a text TLV (invalid UTF-8 replaced).
fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Address text of an IANA address family number and address bytes.
fn family_address(family: u8, addr: &[u8]) -> String {
    match (family, addr.len()) {
        (1, 4) => ipv4_text(array_at::<4>(addr, 0)),
        (2, 16) => std::net::Ipv6Addr::from(array_at::<16>(addr, 0)).to_string(),
        _ => colon_hex(addr),
    }
}

/// Chassis or port ID text: MAC, network address, or the bytes as text.
fn id_text(subtype: u8, mac_subtype: u8, addr_subtype: u8, id: &[u8]) -> String {
    if subtype == mac_subtype {
        colon_hex(id)
    } else if subtype == addr_subtype {
        family_address(u8_at(id, 0), clamp(id, 1, id.len()))
    } else {
        text(id)
    }
}

/// Dotted-decimal text of a BER-encoded object identifier, as tshark shows it.
pub(crate) fn oid_text(b: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    for &byte in b {
        acc = acc
            .saturating_mul(128)
            .saturating_add(u64::from(byte & 0x7f));
        if byte & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (acc / 40).min(2);
                arcs.push(first);
                arcs.push(acc.saturating_sub(first * 40));
            } else {
                arcs.push(acc);
            }
            acc = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

fn value_record(t: &Tlv<'_>) -> LinkLayerDiscoveryValue {
    LinkLayerDiscoveryValue {
        r#type: i32::from(t.kind),
        length: i32::from(t.len),
        value: t.value.to_vec(),
    }
}

/// Builds the `LinkLayerDiscovery` record of `view`.
pub fn record(view: &LldpView<'_>, pkt: &PacketInfo<'_>) -> LinkLayerDiscovery {
    let mut r = LinkLayerDiscovery {
        timestamp: pkt.ts_ns,
        packet_number: pkt.number,
        ..Default::default()
    };
    for t in view.tlvs() {
        let sub = u8_at(t.value, 0);
        let id = clamp(t.value, 1, t.value.len());
        match t.kind {
            tlv::CHASSIS_ID => {
                r.chassis_id = Some(LldpChassisId {
                    subtype: i32::from(sub),
                    id: id_text(sub, 4, 5, id),
                });
            }
            tlv::PORT_ID => {
                r.port_id = Some(LldpPortId {
                    subtype: i32::from(sub),
                    id: id_text(sub, 3, 4, id),
                });
            }
            tlv::TTL => r.ttl = i32::from(be16(t.value, 0)),
            _ => r.values.push(value_record(&t)),
        }
    }
    r
}

/// Builds the `LinkLayerDiscoveryInfo` record of `view`.
pub fn info_record(view: &LldpView<'_>, pkt: &PacketInfo<'_>) -> LinkLayerDiscoveryInfo {
    let mut r = LinkLayerDiscoveryInfo {
        timestamp: pkt.ts_ns,
        packet_number: pkt.number,
        ..Default::default()
    };
    for t in view.tlvs() {
        let v = t.value;
        match t.kind {
            tlv::CHASSIS_ID | tlv::PORT_ID | tlv::TTL => {}
            tlv::PORT_DESCRIPTION => r.port_description = text(v),
            tlv::SYS_NAME => r.sys_name = text(v),
            tlv::SYS_DESCRIPTION => r.sys_description = text(v),
            tlv::SYS_CAPABILITIES => {
                r.sys_capabilities = Some(LldpSysCapabilities {
                    system_cap: i32::from(be16(v, 0)),
                    enabled_cap: i32::from(be16(v, 2)),
                });
            }
            tlv::MGMT_ADDRESS if r.mgmt_address.is_none() => {
                // Address string length counts the subtype byte.
                let alen = usize::from(u8_at(v, 0));
                let addr = clamp(v, 2, 1 + alen);
                let after = clamp(v, 1 + alen, v.len());
                let olen = usize::from(u8_at(after, 5));
                r.mgmt_address = Some(LldpMgmtAddress {
                    subtype: i32::from(u8_at(v, 1)),
                    address: family_address(u8_at(v, 1), addr),
                    interface_subtype: i32::from(u8_at(after, 0)),
                    interface_number: be32(after, 1),
                    oid: oid_text(clamp(after, 6, 6 + olen)),
                });
            }
            tlv::ORG_SPECIFIC => r.org_tl_vs.push(LldpOrgSpecificTlv {
                oui: u32::from_be_bytes([0, u8_at(v, 0), u8_at(v, 1), u8_at(v, 2)]),
                sub_type: i32::from(u8_at(v, 3)),
                info: clamp(v, 4, v.len()).to_vec(),
            }),
            _ => r.unknown.push(value_record(&t)),
        }
    }
    r
}

/// The two-byte header of a TLV of `kind` with `len` value bytes (for building data units).
pub fn tlv_header(kind: u8, len: usize) -> [u8; 2] {
    let len = u16::try_from(len.min(0x1ff)).unwrap_or(0x1ff);
    (u16::from(kind & 0x7f) << 9 | len).to_be_bytes()
}

/// Decodes an LLDP data unit and emits both its records.
pub fn decode<S: RecordSink>(data: &[u8], pkt: &PacketInfo<'_>, sink: &mut S) -> Outcome {
    match LldpView::new(data) {
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

    fn put(b: &mut Vec<u8>, kind: u8, v: &[u8]) {
        b.extend_from_slice(&tlv_header(kind, v.len()));
        b.extend_from_slice(v);
    }

    fn sample() -> Vec<u8> {
        let mut b = Vec::new();
        put(&mut b, 1, &[4, 0, 0x19, 0x2f, 0xa7, 0xb2, 0x8d]);
        put(&mut b, 2, &[5, b'e', b't', b'h', b'0']);
        put(&mut b, 3, &[0, 120]);
        put(&mut b, 5, b"sw1");
        put(&mut b, 7, &[0, 0x14, 0, 0x04]);
        put(
            &mut b,
            8,
            &[5, 1, 10, 0, 0, 1, 2, 0, 0, 0, 7, 3, 0x2b, 6, 1],
        );
        put(&mut b, 127, &[0, 0x80, 0xc2, 1, 0, 1]);
        put(&mut b, 9, &[1]);
        put(&mut b, 0, &[]);
        b.extend_from_slice(&[0xff, 0xff]); // after the end: ignored
        b
    }

    #[test]
    fn both_records() {
        let b = sample();
        let v = LldpView::new(&b).unwrap();
        let r = record(&v, &pkt(&b));
        let c = r.chassis_id.unwrap();
        assert_eq!((c.subtype, c.id.as_str()), (4, "00:19:2f:a7:b2:8d"));
        let p = r.port_id.unwrap();
        assert_eq!((p.subtype, p.id.as_str(), r.ttl), (5, "eth0", 120));
        let kinds: Vec<_> = r.values.iter().map(|v| v.r#type).collect();
        assert_eq!(kinds, [5, 7, 8, 127, 9]);
        let i = info_record(&v, &pkt(&b));
        assert_eq!(i.sys_name, "sw1");
        let caps = i.sys_capabilities.unwrap();
        assert_eq!((caps.system_cap, caps.enabled_cap), (0x14, 4));
        let m = i.mgmt_address.unwrap();
        assert_eq!(
            (
                m.subtype,
                m.address.as_str(),
                m.interface_subtype,
                m.interface_number,
                m.oid.as_str()
            ),
            (1, "10.0.0.1", 2, 7, "1.3.6.1")
        );
        assert_eq!((i.org_tl_vs[0].oui, i.org_tl_vs[0].sub_type), (0x0080c2, 1));
        assert_eq!(i.unknown[0].r#type, 9);
    }

    #[test]
    fn malformed() {
        let b = sample();
        // TLV cut short.
        assert!(LldpView::new(&b[..12]).is_err());
        // Missing mandatory TLVs.
        let mut x = Vec::new();
        put(&mut x, 5, b"sw1");
        assert!(LldpView::new(&x).is_err());
        assert!(LldpView::new(&[]).is_err());
        assert_eq!(oid_text(&[0x2b, 6, 1, 4, 1, 0x82, 0x37]), "1.3.6.1.4.1.311");
    }

    #[test]
    fn capture() {
        // tshark: frame 4 is MA/00:18:ba:98:68:8f LA/Fa0/13 120 SysN=S1.cisco.com.
        let f = decode_file("lldp-cdp.pcap");
        let (_, s) = &f[3];
        let r = s.first::<LinkLayerDiscovery>();
        assert_eq!(r.chassis_id.unwrap().id, "00:18:ba:98:68:8f");
        assert_eq!((r.port_id.unwrap().id.as_str(), r.ttl), ("Fa0/13", 120));
        let i = s.first::<LinkLayerDiscoveryInfo>();
        assert_eq!(i.sys_name, "S1.cisco.com");
        assert!(i.sys_description.starts_with("Cisco IOS Software, C3560"));
    }
}
