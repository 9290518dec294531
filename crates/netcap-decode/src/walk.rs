//! The layer walk: link → VLAN tags → network → transport.
//!
//! Each step wraps the next bytes in its protocol's view, emits the record and
//! chooses the next decoder from the protocol field. A failing layer ends the
//! walk with an error, after the records of the outer layers were emitted.

use crate::ethernet::{
    EthernetView, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_QINQ, ETHERTYPE_QINQ_OLD, ETHERTYPE_VLAN,
};
use crate::link::{classify, LinkNext};
use crate::{arp, ethernet, icmpv4, icmpv6, ipv4, ipv6, tcp, udp, vlan};
use crate::{DecodeOptions, Outcome, PacketInfo, RecordSink, UnknownLayer};

/// Most VLAN tags decoded in one frame; a further tag is reported unknown.
pub const MAX_VLAN_TAGS: usize = 8;

/// Most IP headers (tunnels included) decoded in one packet.
pub const MAX_IP_DEPTH: usize = 8;

/// IP protocol numbers the walk dispatches on.
mod proto {
    pub const ICMPV4: u8 = 1;
    pub const IPV4: u8 = 4;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const IPV6: u8 = 41;
    pub const ICMPV6: u8 = 58;
    pub const NO_NEXT_HEADER: u8 = 59;
}

/// Decodes one packet, emitting its records into `sink` outer layer first.
pub fn decode_packet<S: RecordSink>(pkt: &PacketInfo<'_>, opts: &DecodeOptions, sink: &mut S) -> Outcome {
    let mut walker = Walker { pkt, opts, sink };
    match classify(pkt.link_type, pkt.data) {
        Ok(LinkNext::Ethernet(frame)) => walker.ethernet(frame),
        Ok(LinkNext::Network { ether_type, payload }) => walker.ether_type(ether_type, payload),
        // A family that is not IP has no EtherType; report the family number
        // there, since that is the protocol identifier the frame carries.
        Ok(LinkNext::UnknownFamily(f)) => {
            Outcome::Unknown(UnknownLayer::EtherType(u16::try_from(f).unwrap_or(u16::MAX)))
        }
        Ok(LinkNext::Unsupported) => Outcome::Unknown(UnknownLayer::LinkType(pkt.link_type)),
        Err(e) => Outcome::Error(e),
    }
}

/// State of one packet's walk.
struct Walker<'w, 'p, S> {
    pkt: &'w PacketInfo<'p>,
    opts: &'w DecodeOptions,
    sink: &'w mut S,
}

/// Turns a view constructor's result into the view or the walk's end.
macro_rules! view_or_return {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return Outcome::Error(e),
        }
    };
}

impl<S: RecordSink> Walker<'_, '_, S> {
    fn ethernet(&mut self, frame: &[u8]) -> Outcome {
        let view = view_or_return!(EthernetView::new(frame));
        self.sink.emit(&ethernet::record(&view, self.pkt, self.opts));
        self.ether_type(view.ether_type(), view.payload())
    }

    /// Decodes `data` announced by `ether_type`, first peeling VLAN tags.
    fn ether_type(&mut self, mut ether_type: u16, mut data: &[u8]) -> Outcome {
        let mut tags = 0usize;
        loop {
            match ether_type {
                ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => {
                    if tags >= MAX_VLAN_TAGS {
                        return Outcome::Unknown(UnknownLayer::EtherType(ether_type));
                    }
                    let view = view_or_return!(vlan::VlanView::new(data));
                    self.sink.emit(&vlan::record(&view, ether_type, self.pkt));
                    tags += 1;
                    ether_type = view.ether_type();
                    data = view.payload();
                }
                ETHERTYPE_ARP => {
                    let view = view_or_return!(arp::ArpView::new(data));
                    self.sink.emit(&arp::record(&view, self.pkt));
                    return Outcome::Decoded;
                }
                ETHERTYPE_IPV4 => return self.ipv4(data, 0),
                ETHERTYPE_IPV6 => return self.ipv6(data, 0),
                other => return Outcome::Unknown(UnknownLayer::EtherType(other)),
            }
        }
    }

    /// Decodes an IPv4 packet that is the `depth`-th IP header (0 = outermost).
    fn ipv4(&mut self, data: &[u8], depth: usize) -> Outcome {
        let view = view_or_return!(ipv4::Ipv4View::new(data));
        self.sink.emit(&ipv4::record(&view, self.pkt, self.opts));
        if view.is_later_fragment() {
            // The transport header is in the first fragment; these bytes are
            // the middle of its payload.
            return Outcome::Decoded;
        }
        self.ip_payload(view.protocol(), view.payload(), view.payload_size(), depth + 1)
    }

    /// Decodes an IPv6 packet that is the `depth`-th IP header (0 = outermost).
    fn ipv6(&mut self, data: &[u8], depth: usize) -> Outcome {
        let view = view_or_return!(ipv6::Ipv6View::new(data));
        let ext = view_or_return!(view.extensions());
        self.sink.emit(&ipv6::record(&view, &ext, self.pkt, self.opts));
        if ext.later_fragment {
            return Outcome::Decoded;
        }
        self.ip_payload(ext.upper_protocol, ext.payload, ext.payload_size, depth + 1)
    }

    /// Decodes the payload of an IP packet. `wire_len` is its length on the
    /// wire; `depth` the number of IP headers already decoded.
    fn ip_payload(&mut self, protocol: u8, data: &[u8], wire_len: usize, depth: usize) -> Outcome {
        match protocol {
            proto::TCP => {
                let view = view_or_return!(tcp::TcpView::new(data));
                self.sink.emit(&tcp::record(&view, wire_len, self.pkt, self.opts));
                Outcome::Decoded
            }
            proto::UDP => {
                let view = view_or_return!(udp::UdpView::new(data));
                self.sink.emit(&udp::record(&view, self.pkt, self.opts));
                Outcome::Decoded
            }
            proto::ICMPV4 => {
                let view = view_or_return!(icmpv4::Icmpv4View::new(data));
                self.sink.emit(&icmpv4::record(&view, self.pkt));
                Outcome::Decoded
            }
            proto::ICMPV6 => {
                let view = view_or_return!(icmpv6::Icmpv6View::new(data));
                self.sink.emit(&icmpv6::record(&view, self.pkt));
                Outcome::Decoded
            }
            proto::IPV4 if depth < MAX_IP_DEPTH => self.ipv4(data, depth),
            proto::IPV6 if depth < MAX_IP_DEPTH => self.ipv6(data, depth),
            proto::NO_NEXT_HEADER => Outcome::Decoded,
            other => Outcome::Unknown(UnknownLayer::IpProtocol(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DecodeError;
    use netcap_schema::{Arp, Dot1Q, Ethernet, IcmPv4, IcmPv6, Record, Tcp, Udp, IPv4, IPv6};

    /// Collects records as (type name, protobuf bytes), in emission order.
    #[derive(Default)]
    struct Collect(Vec<(&'static str, Vec<u8>)>);

    impl RecordSink for Collect {
        fn emit<R: Record>(&mut self, rec: &R) {
            self.0.push((R::NAME, rec.encode_to_vec()));
        }
    }

    impl Collect {
        fn names(&self) -> Vec<&'static str> {
            self.0.iter().map(|(n, _)| *n).collect()
        }

        fn all<R: Record>(&self) -> Vec<R> {
            self.0.iter().filter(|(n, _)| *n == R::NAME).map(|(_, b)| R::decode(b.as_slice()).unwrap()).collect()
        }

        fn one<R: Record>(&self) -> R {
            let mut v = self.all::<R>();
            assert_eq!(v.len(), 1, "{}", R::NAME);
            v.remove(0)
        }
    }

    /// One packet of a capture file.
    struct Frame {
        ts_ns: i64,
        orig_len: u32,
        data: Vec<u8>,
    }

    /// Reads a legacy pcap file (either byte order, micro- or nanosecond).
    fn read_pcap(name: &str) -> (u32, Vec<Frame>) {
        let path = if name.starts_with('/') {
            name.to_owned()
        } else {
            format!("{}/../../testdata/pcaps/{name}", env!("CARGO_MANIFEST_DIR"))
        };
        let b = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let magic = [b[0], b[1], b[2], b[3]];
        let (le, nanos) = match magic {
            [0xd4, 0xc3, 0xb2, 0xa1] => (true, false),
            [0x4d, 0x3c, 0xb2, 0xa1] => (true, true),
            [0xa1, 0xb2, 0xc3, 0xd4] => (false, false),
            [0xa1, 0xb2, 0x3c, 0x4d] => (false, true),
            m => panic!("not a pcap file: {m:x?}"),
        };
        let u32_at = |off: usize| {
            let a: [u8; 4] = b[off..off + 4].try_into().unwrap();
            if le {
                u32::from_le_bytes(a)
            } else {
                u32::from_be_bytes(a)
            }
        };
        let link_type = u32_at(20) & 0x0fff_ffff;
        let mut frames = Vec::new();
        let mut off = 24;
        while off + 16 <= b.len() {
            let (sec, frac, incl, orig) = (u32_at(off), u32_at(off + 4), u32_at(off + 8), u32_at(off + 12));
            let start = off + 16;
            let end = start + incl as usize;
            let frac_ns = if nanos { i64::from(frac) } else { i64::from(frac) * 1000 };
            frames.push(Frame { ts_ns: i64::from(sec) * 1_000_000_000 + frac_ns, orig_len: orig, data: b[start..end].to_vec() });
            off = end;
        }
        (link_type, frames)
    }

    fn decode(link_type: u32, number: u64, f: &Frame, entropy: bool) -> (Outcome, Collect) {
        let pkt = PacketInfo { number, ts_ns: f.ts_ns, link_type, orig_len: f.orig_len, data: &f.data };
        let mut sink = Collect::default();
        let out = decode_packet(&pkt, &DecodeOptions { entropy }, &mut sink);
        (out, sink)
    }

    /// Decodes every packet of a capture; index 0 is frame 1.
    fn decode_file(name: &str) -> Vec<(Outcome, Collect)> {
        let (lt, frames) = read_pcap(name);
        frames.iter().enumerate().map(|(i, f)| decode(lt, i as u64 + 1, f, false)).collect()
    }

    /// Prints the decoded fields of a capture as TSV for comparison with
    /// `tshark -T fields` (see `tshark_fields.py`):
    /// `NETCAP_DUMP=/path/file.pcap cargo test -p netcap-decode dump -- --ignored --nocapture`.
    #[test]
    #[ignore = "manual comparison with tshark"]
    fn dump() {
        let Ok(name) = std::env::var("NETCAP_DUMP") else { return };
        fn j<T: ToString>(v: impl IntoIterator<Item = T>) -> String {
            v.into_iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",")
        }
        for (i, (out, c)) in decode_file(&name).iter().enumerate() {
            let eth = c.all::<Ethernet>();
            let vl = c.all::<Dot1Q>();
            let v4 = c.all::<IPv4>();
            let v6 = c.all::<IPv6>();
            let tcp = c.all::<Tcp>();
            let udp = c.all::<Udp>();
            let i4 = c.all::<IcmPv4>();
            let i6 = c.all::<IcmPv6>();
            let arp = c.all::<Arp>();
            let tcp_flags = |t: &Tcp| {
                [t.fin, t.syn, t.rst, t.psh, t.ack, t.urg, t.ece, t.cwr, t.ns]
                    .iter()
                    .enumerate()
                    .map(|(b, &f)| u32::from(f) << b)
                    .sum::<u32>()
            };
            let cols = [
                (i + 1).to_string(),
                j(eth.iter().map(|e| e.src_mac.clone())),
                j(eth.iter().map(|e| e.dst_mac.clone())),
                j(eth.iter().map(|e| e.ethernet_type)),
                j(vl.iter().map(|v| v.vlan_identifier)),
                j(vl.iter().map(|v| v.priority)),
                j(vl.iter().map(|v| u8::from(v.drop_eligible))),
                j(vl.iter().map(|v| v.r#type)),
                j(v4.iter().map(|r| r.src_ip.clone())),
                j(v4.iter().map(|r| r.dst_ip.clone())),
                j(v4.iter().map(|r| r.ihl * 4)),
                j(v4.iter().map(|r| r.tos)),
                j(v4.iter().map(|r| r.length)),
                j(v4.iter().map(|r| r.id)),
                j(v4.iter().map(|r| r.flags)),
                j(v4.iter().map(|r| r.frag_offset)),
                j(v4.iter().map(|r| r.ttl)),
                j(v4.iter().map(|r| r.protocol)),
                j(v4.iter().map(|r| r.checksum)),
                j(v4.iter().flat_map(|r| r.options.iter().map(|o| o.option_type))),
                j(v6.iter().map(|r| r.src_ip.clone())),
                j(v6.iter().map(|r| r.dst_ip.clone())),
                j(v6.iter().map(|r| r.traffic_class)),
                j(v6.iter().map(|r| r.flow_label)),
                j(v6.iter().map(|r| r.length)),
                j(v6.iter().map(|r| r.next_header)),
                j(v6.iter().map(|r| r.hop_limit)),
                j(tcp.iter().map(|t| t.src_port)),
                j(tcp.iter().map(|t| t.dst_port)),
                j(tcp.iter().map(|t| t.seq_num)),
                j(tcp.iter().map(|t| t.ack_num)),
                j(tcp.iter().map(|t| t.data_offset * 4)),
                j(tcp.iter().map(tcp_flags)),
                j(tcp.iter().map(|t| t.window)),
                j(tcp.iter().map(|t| t.checksum)),
                j(tcp.iter().map(|t| t.urgent)),
                j(tcp.iter().map(|t| t.payload_size)),
                j(tcp.iter().flat_map(|t| t.options.iter().map(|o| o.option_type))),
                j(udp.iter().map(|u| u.src_port)),
                j(udp.iter().map(|u| u.dst_port)),
                j(udp.iter().map(|u| u.length)),
                j(udp.iter().map(|u| u.checksum)),
                j(i4.iter().map(|r| r.r#type)),
                j(i4.iter().map(|r| r.code)),
                j(i4.iter().map(|r| r.checksum)),
                j(i6.iter().map(|r| r.r#type)),
                j(i6.iter().map(|r| r.code)),
                j(i6.iter().map(|r| r.checksum)),
                j(arp.iter().map(|a| a.operation)),
                j(arp.iter().map(|a| a.src_hw_address.clone())),
                j(arp.iter().map(|a| a.src_prot_address.clone())),
                j(arp.iter().map(|a| a.dst_hw_address.clone())),
                j(arp.iter().map(|a| a.dst_prot_address.clone())),
                format!("{out:?}"),
            ];
            println!("{}", cols.join("\t"));
        }
    }
}
