//! Open Shortest Path First, version 2 (RFC 2328) and 3 (RFC 5340), IP
//! protocol 89. The version byte chooses the record type.

use netcap_schema::{OspFv2, OspFv3, OspfDbDesc, OspfHello, OspflsaHeader};

use crate::util::{array_at, be16, be32, clamp, ipv4_text, u8_at};
use crate::{need, DecodeError, Outcome, PacketInfo, RecordSink};

/// Length of the OSPFv2 header.
pub const V2_HEADER_LEN: usize = 24;
/// Length of the OSPFv3 header.
pub const V3_HEADER_LEN: usize = 16;
/// Length of an LSA header (both versions).
pub const LSA_HEADER_LEN: usize = 20;

/// Most LSA headers or requests decoded from one packet.
pub const MAX_LSAS: usize = 4096;

/// Packet types.
mod kind {
    pub const HELLO: u8 = 1;
    pub const DB_DESC: u8 = 2;
    pub const LS_REQUEST: u8 = 3;
    pub const LS_UPDATE: u8 = 4;
    pub const LS_ACK: u8 = 5;
}

/// A zero-copy view of an OSPF packet (either version) whose header is captured.
#[derive(Debug, Clone, Copy)]
pub struct OspfView<'a> {
    buf: &'a [u8],
}

impl<'a> OspfView<'a> {
    /// Wraps `buf`, checking the version (2 or 3) and that its header is present.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        match u8_at(buf, 0) {
            2 => need("OSPFv2", buf, V2_HEADER_LEN)?,
            3 => need("OSPFv3", buf, V3_HEADER_LEN)?,
            _ => {
                need("OSPFv2", buf, 1)?;
                return Err(DecodeError::Invalid {
                    layer: "OSPFv2",
                    field: "version",
                });
            }
        }
        Ok(Self { buf })
    }

    /// Version (2 or 3).
    pub fn version(&self) -> u8 {
        u8_at(self.buf, 0)
    }

    /// Packet type.
    pub fn packet_type(&self) -> u8 {
        u8_at(self.buf, 1)
    }

    /// Packet length (header included, authentication trailer excluded).
    pub fn packet_len(&self) -> u16 {
        be16(self.buf, 2)
    }

    fn header_len(&self) -> usize {
        if self.version() == 2 {
            V2_HEADER_LEN
        } else {
            V3_HEADER_LEN
        }
    }

    /// Packet body: after the header, up to the packet length (so an
    /// authentication trailer is not taken for LSAs).
    pub fn body(&self) -> &'a [u8] {
        clamp(self.buf, self.header_len(), usize::from(self.packet_len()))
    }
}

fn lsa_header(v2: bool, b: &[u8]) -> OspflsaHeader {
    OspflsaHeader {
        ls_age: i32::from(be16(b, 0)),
        ls_type: if v2 {
            i32::from(u8_at(b, 3))
        } else {
            i32::from(be16(b, 2))
        },
        options: if v2 { i32::from(u8_at(b, 2)) } else { 0 },
        link_state_id: ipv4_text(array_at::<4>(b, 4)),
        adv_router: ipv4_text(array_at::<4>(b, 8)),
        ls_seq_number: be32(b, 12),
        ls_checksum: i32::from(be16(b, 16)),
        length: i32::from(be16(b, 18)),
    }
}

/// Decoded body parts of one packet.
#[derive(Default)]
struct Body {
    hello: Option<OspfHello>,
    db_desc: Option<OspfDbDesc>,
    lsas: Vec<OspflsaHeader>,
    num_lsas: i32,
}

fn headers(v2: bool, b: &[u8]) -> Vec<OspflsaHeader> {
    b.chunks_exact(LSA_HEADER_LEN)
        .take(MAX_LSAS)
        .map(|c| lsa_header(v2, c))
        .collect()
}

fn body(view: &OspfView<'_>) -> Body {
    let v2 = view.version() == 2;
    let b = view.body();
    let ip = |off: usize| ipv4_text(array_at::<4>(b, off));
    let mut out = Body::default();
    match view.packet_type() {
        kind::HELLO => {
            let neighbors = |from: usize| {
                clamp(b, from, b.len())
                    .chunks_exact(4)
                    .take(MAX_LSAS)
                    .map(|c| ipv4_text(array_at::<4>(c, 0)))
                    .collect()
            };
            out.hello = Some(if v2 {
                OspfHello {
                    network_mask: ip(0),
                    hello_interval: i32::from(be16(b, 4)),
                    options: u32::from(u8_at(b, 6)),
                    rtr_priority: i32::from(u8_at(b, 7)),
                    router_dead_interval: be32(b, 8),
                    designated_router: ip(12),
                    backup_designated_router: ip(16),
                    neighbors: neighbors(20),
                    ..Default::default()
                }
            } else {
                OspfHello {
                    interface_id: be32(b, 0),
                    rtr_priority: i32::from(u8_at(b, 4)),
                    options: be32(b, 4) & 0x00ff_ffff,
                    hello_interval: i32::from(be16(b, 8)),
                    router_dead_interval: u32::from(be16(b, 10)),
                    designated_router: ip(12),
                    backup_designated_router: ip(16),
                    neighbors: neighbors(20),
                    ..Default::default()
                }
            });
        }
        kind::DB_DESC => {
            out.db_desc = Some(if v2 {
                OspfDbDesc {
                    interface_mtu: i32::from(be16(b, 0)),
                    options: u32::from(u8_at(b, 2)),
                    flags: i32::from(u8_at(b, 3)),
                    dd_seq_number: be32(b, 4),
                }
            } else {
                OspfDbDesc {
                    options: be32(b, 0) & 0x00ff_ffff,
                    interface_mtu: i32::from(be16(b, 4)),
                    flags: i32::from(u8_at(b, 7)),
                    dd_seq_number: be32(b, 8),
                }
            });
            out.lsas = headers(v2, clamp(b, if v2 { 8 } else { 12 }, b.len()));
            out.num_lsas = i32::try_from(out.lsas.len()).unwrap_or(i32::MAX);
        }
        kind::LS_REQUEST => {
            // Requests name an LSA by type, ID and advertising router.
            out.lsas = b
                .chunks_exact(12)
                .take(MAX_LSAS)
                .map(|c| OspflsaHeader {
                    ls_type: if v2 {
                        i32::try_from(be32(c, 0)).unwrap_or(0)
                    } else {
                        i32::from(be16(c, 2))
                    },
                    link_state_id: ipv4_text(array_at::<4>(c, 4)),
                    adv_router: ipv4_text(array_at::<4>(c, 8)),
                    ..Default::default()
                })
                .collect();
            out.num_lsas = i32::try_from(out.lsas.len()).unwrap_or(i32::MAX);
        }
        kind::LS_UPDATE => {
            let count = be32(b, 0);
            out.num_lsas = i32::try_from(count).unwrap_or(i32::MAX);
            let mut rest = clamp(b, 4, b.len());
            let max = usize::try_from(count).unwrap_or(usize::MAX).min(MAX_LSAS);
            while out.lsas.len() < max && rest.len() >= LSA_HEADER_LEN {
                let h = lsa_header(v2, rest);
                // An LSA's length covers its header; a smaller one is
                // unusable and would not advance.
                let len = usize::try_from(h.length).unwrap_or(0);
                out.lsas.push(h);
                if len < LSA_HEADER_LEN {
                    break;
                }
                rest = clamp(rest, len, rest.len());
            }
        }
        kind::LS_ACK => {
            out.lsas = headers(v2, b);
            out.num_lsas = i32::try_from(out.lsas.len()).unwrap_or(i32::MAX);
        }
        _ => {}
    }
    out
}

/// Builds the `OSPFv2` record of a version 2 `view`.
pub fn record_v2(view: &OspfView<'_>, pkt: &PacketInfo<'_>) -> OspFv2 {
    let h = view.buf;
    let b = body(view);
    OspFv2 {
        timestamp: pkt.ts_ns,
        version: i32::from(view.version()),
        r#type: i32::from(view.packet_type()),
        packet_length: i32::from(view.packet_len()),
        router_id: ipv4_text(array_at::<4>(h, 4)),
        area_id: ipv4_text(array_at::<4>(h, 8)),
        checksum: i32::from(be16(h, 12)),
        au_type: i32::from(be16(h, 14)),
        authentication: u64::from_be_bytes(array_at::<8>(h, 16)),
        packet_number: pkt.number,
        hello: b.hello,
        db_desc: b.db_desc,
        ls_as: b.lsas,
        num_ls_as: b.num_lsas,
        ..Default::default()
    }
}

/// Builds the `OSPFv3` record of a version 3 `view`.
pub fn record_v3(view: &OspfView<'_>, pkt: &PacketInfo<'_>) -> OspFv3 {
    let h = view.buf;
    let b = body(view);
    OspFv3 {
        timestamp: pkt.ts_ns,
        version: i32::from(view.version()),
        r#type: i32::from(view.packet_type()),
        packet_length: i32::from(view.packet_len()),
        router_id: ipv4_text(array_at::<4>(h, 4)),
        area_id: ipv4_text(array_at::<4>(h, 8)),
        checksum: i32::from(be16(h, 12)),
        instance: i32::from(u8_at(h, 14)),
        packet_number: pkt.number,
        hello: b.hello,
        db_desc: b.db_desc,
        ls_as: b.lsas,
        num_ls_as: b.num_lsas,
        ..Default::default()
    }
}

/// Decodes an OSPF packet and emits the record of its version.
pub fn decode<S: RecordSink>(data: &[u8], pkt: &PacketInfo<'_>, sink: &mut S) -> Outcome {
    match OspfView::new(data) {
        Ok(v) if v.version() == 2 => sink.emit(&record_v2(&v, pkt)),
        Ok(v) => sink.emit(&record_v3(&v, pkt)),
        Err(e) => return Outcome::Error(e),
    }
    Outcome::Decoded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::l3test::{pkt, Sink};

    /// An OSPFv2 header of `kind` around `body`, with cryptographic
    /// authentication and a 16-byte trailer after the packet length.
    fn v2(kind: u8, body: &[u8]) -> Vec<u8> {
        let len = u16::try_from(24 + body.len()).unwrap();
        let mut b = vec![2, kind, 0, 0, 192, 168, 255, 15, 0, 0, 0, 0, 0, 0, 0, 2];
        b[2..4].copy_from_slice(&len.to_be_bytes());
        b.extend_from_slice(&[0, 0, 1, 16, 0, 0, 0, 9]);
        b.extend_from_slice(body);
        b.extend_from_slice(&[0xee; 16]);
        b
    }

    fn lsa(age: u16, kind: u8, len: u16) -> Vec<u8> {
        let mut h = age.to_be_bytes().to_vec();
        h.extend_from_slice(&[
            0x22, kind, 10, 0, 0, 1, 10, 0, 0, 2, 0x80, 0, 0, 1, 0xab, 0xcd,
        ]);
        h.extend_from_slice(&len.to_be_bytes());
        h
    }

    #[test]
    fn hello_v2() {
        let mut body = vec![255, 255, 255, 0, 0, 10, 0x12, 1, 0, 0, 0, 40];
        body.extend_from_slice(&[192, 168, 121, 4, 192, 168, 121, 5, 10, 0, 0, 11]);
        let b = v2(1, &body);
        let r = record_v2(&OspfView::new(&b).unwrap(), &pkt(&b));
        assert_eq!(
            (r.version, r.r#type, r.packet_length, r.au_type),
            (2, 1, 48, 2)
        );
        assert_eq!(
            (r.router_id.as_str(), r.area_id.as_str()),
            ("192.168.255.15", "0.0.0.0")
        );
        assert_eq!(r.authentication, 0x0000_0110_0000_0009);
        let h = r.hello.unwrap();
        assert_eq!(
            (
                h.network_mask.as_str(),
                h.hello_interval,
                h.options,
                h.rtr_priority
            ),
            ("255.255.255.0", 10, 0x12, 1)
        );
        assert_eq!(h.router_dead_interval, 40);
        assert_eq!(h.designated_router, "192.168.121.4");
        // The authentication trailer is not a neighbor.
        assert_eq!(h.neighbors, ["10.0.0.11"]);
    }

    #[test]
    fn update_and_ack_v2() {
        let mut body = 2u32.to_be_bytes().to_vec();
        body.extend(lsa(1, 1, 24));
        body.extend_from_slice(&[0; 4]);
        body.extend(lsa(2, 5, 36));
        body.extend_from_slice(&[0; 16]);
        let b = v2(4, &body);
        let r = record_v2(&OspfView::new(&b).unwrap(), &pkt(&b));
        assert_eq!(r.num_ls_as, 2);
        let got: Vec<_> = r
            .ls_as
            .iter()
            .map(|l| (l.ls_age, l.ls_type, l.length))
            .collect();
        assert_eq!(got, [(1, 1, 24), (2, 5, 36)]);
        let l = &r.ls_as[0];
        assert_eq!(
            (l.options, l.link_state_id.as_str(), l.adv_router.as_str()),
            (0x22, "10.0.0.1", "10.0.0.2")
        );
        assert_eq!((l.ls_seq_number, l.ls_checksum), (0x8000_0001, 0xabcd));
        // An LSA length below its header ends the list.
        let mut body = 5u32.to_be_bytes().to_vec();
        body.extend(lsa(1, 1, 3));
        body.extend(lsa(1, 1, 20));
        let b = v2(4, &body);
        assert_eq!(
            record_v2(&OspfView::new(&b).unwrap(), &pkt(&b)).ls_as.len(),
            1
        );
        // LS acknowledgment: headers only.
        let mut body = lsa(7, 2, 32);
        body.extend(lsa(8, 3, 28));
        let b = v2(5, &body);
        let r = record_v2(&OspfView::new(&b).unwrap(), &pkt(&b));
        assert_eq!((r.ls_as.len(), r.num_ls_as, r.ls_as[1].ls_age), (2, 2, 8));
    }

    #[test]
    fn v3_and_errors() {
        // OSPFv3 hello: instance 0, interface 5, priority 1, options 0x13.
        let mut b = vec![3, 1, 0, 36, 1, 1, 1, 1, 0, 0, 0, 0, 0xfb, 0x86, 0, 0];
        b.extend_from_slice(&[0, 0, 0, 5, 1, 0, 0, 0x13, 0, 10, 0, 40]);
        b.extend_from_slice(&[1, 1, 1, 1, 0, 0, 0, 0]);
        let mut s = Sink::default();
        assert_eq!(decode(&b, &pkt(&b), &mut s), Outcome::Decoded);
        let r = s.first::<OspFv3>();
        assert_eq!(
            (r.version, r.checksum, r.router_id.as_str()),
            (3, 0xfb86, "1.1.1.1")
        );
        let h = r.hello.unwrap();
        assert_eq!(
            (h.interface_id, h.rtr_priority, h.options, h.hello_interval),
            (5, 1, 0x13, 10)
        );
        assert_eq!(
            (h.router_dead_interval, h.designated_router.as_str()),
            (40, "1.1.1.1")
        );
        assert!(h.neighbors.is_empty());
        assert!(OspfView::new(&b[..15]).is_err());
        assert!(OspfView::new(&[4, 1, 0, 0]).is_err());
        assert!(OspfView::new(&[]).is_err());
    }

    #[test]
    fn capture() {
        // tshark frame 9: LS update from 192.168.255.14 with 10 LSAs, the
        // first of age 374 and type 1; frame 7: LS request with 10 entries.
        let f = read_pcapng_ospf();
        let r = &f[8];
        assert_eq!((r.r#type, r.packet_length, r.num_ls_as), (4, 432, 10));
        assert_eq!(r.ls_as.len(), 10);
        assert_eq!((r.ls_as[0].ls_age, r.ls_as[0].ls_type), (374, 1));
        assert_eq!((f[6].r#type, f[6].ls_as.len()), (3, 10));
        assert_eq!(f[0].hello.as_ref().unwrap().neighbors.len(), 2);
    }

    /// The OSPFv2 records of ospfv2.pcapng (one little-endian section, Ethernet;
    /// the shared test reader only reads legacy pcap).
    fn read_pcapng_ospf() -> Vec<OspFv2> {
        let path = format!(
            "{}/../../testdata/pcaps/ospfv2.pcapng",
            env!("CARGO_MANIFEST_DIR")
        );
        let b = std::fs::read(path).unwrap();
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        let mut out = Vec::new();
        let mut off = 0;
        while off + 12 <= b.len() {
            let (kind, len) = (u32_at(off), u32_at(off + 4) as usize);
            if kind == 6 {
                let cap = u32_at(off + 20) as usize;
                let data = &b[off + 28..off + 28 + cap];
                let mut s = Sink::default();
                let p = PacketInfo {
                    number: 0,
                    ts_ns: 0,
                    link_type: 1,
                    orig_len: 0,
                    data,
                };
                crate::decode_packet(&p, &crate::DecodeOptions::default(), &mut s);
                out.push(s.first::<OspFv2>());
            }
            off += len;
        }
        out
    }
}
